"""Planted concurrency bugs in the rate limiters: each a subclass with one real-world race.

Killed by the parallel checker (``properties/test_parallel.py``), not by the sequential machines:
run one call at a time, each variant behaves exactly like the real limiter.
"""

from __future__ import annotations

from typing import Any

from properties.parallel.ratelimit import KEYED, TOKEN_BUCKET
from resilience import KeyedLimiter, TokenBucket
from resilience.ratelimit.decision import Decision
from resilience.ratelimit.token_bucket import _Bucket

__all__ = ["RACES"]


class UnlockedTokenDecrement(TokenBucket):
    """The token decrement is a read-modify-write outside the lock: the bucket is read and decided
    on a copy, and only the write-back is locked, so two callers can spend the same token (a lost
    update, bug class 10's shape)."""

    concurrency = True

    def try_acquire(self, cost: int = 1) -> Decision:
        cost = self._check_cost(cost)
        state = self._state
        copy = _Bucket(state.level, state.updated_ns)
        decision = self._decide(copy, self._now(), cost, True)
        with self._lock:
            self._state = copy
            self._count(None, cost, decision, copy.updated_ns)
        self._deliver()
        return decision


class KeyCreatedOutsideLock(KeyedLimiter[Any]):
    """A new key's state is looked up and created before the lock is taken (get-or-create split
    from the decision), so two first callers of one key each get a fresh full bucket and the key
    admits twice its capacity."""

    concurrency = True

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        states = self._states
        state = states.get(key)
        if state is None:
            state = self.template._new_state(self._now())
            states[key] = state
        try:
            with self._lock:
                now = self._now()
                if key in states:
                    states.move_to_end(key)
                decision = self.template._decide(state, now, cost, True)
                self._count(key, cost, decision, now)
                if self.evict_idle:
                    self._evict_some_locked(now)
            return decision, now
        finally:
            self._deliver()


RACES = {
    "UnlockedTokenDecrement": TOKEN_BUCKET.with_classes(bucket=UnlockedTokenDecrement),
    "KeyCreatedOutsideLock": KEYED.with_classes(keyed=KeyCreatedOutsideLock),
}
