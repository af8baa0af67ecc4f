"""Planted bugs in our rate limiters: each a subclass with one real-world slip.

Every variant changes behaviour a user could observe; the rate-limit machine must catch each one
(``properties/test_zoo.py``). Numbers refer to ../shared/notes/bug-classes.md.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Generator
from typing import Any

from resilience import GCRA, FixedWindow, KeyedLimiter, SlidingWindowCounter, SlidingWindowLog
from resilience import TokenBucket as _TokenBucket
from resilience.errors import RateLimited
from resilience.ratelimit.decision import Decision, admit, reject
from resilience.validation import duration_ns

__all__ = ["RATELIMIT_MUTANTS"]


class CostAboveLimitClamped(_TokenBucket):
    """11: a cost above the capacity is silently clamped to it and admitted (limits #151)."""

    def _clamp(self, cost: Any) -> Any:
        ok = type(cost) is int and cost > self.capacity
        return self.capacity if ok else cost

    def try_acquire(self, cost: int = 1) -> Decision:
        return super().try_acquire(self._clamp(cost))

    def _check_cost(self, cost: object) -> int:
        return super()._check_cost(self._clamp(cost))


class RefillNotCapped(_TokenBucket):
    """Refill not capped at capacity: a long idle spell banks an unbounded burst."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        full, self._full = self._full, 10**30
        try:
            return super()._decide(state, now_ns, cost, commit)
        finally:
            self._full = full


class BucketFloatArithmetic(_TokenBucket):
    """14: tokens and time as floats (seconds), the way most hand-written buckets do it."""

    def _new_state(self, now_ns: int) -> Any:
        return [float(self.capacity), now_ns / 1e9]

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        rate = float(self.refill_rate) * 1e9  # tokens per second
        now = now_ns / 1e9
        tokens = min(float(self.capacity), state[0] + (now - state[1]) * rate)
        if tokens >= cost:
            left = tokens - cost
            decision = admit(math.floor(left))
        else:
            left = tokens
            decision = reject(math.floor(tokens), math.ceil((cost - tokens) / rate * 1e9))
        if commit:
            state[0], state[1] = left, now
        return decision

    def _is_fresh(self, state: Any, now_ns: int) -> bool:
        return False


class RetryAfterRoundedDown(_TokenBucket):
    """retry_after rounded down instead of up: waiting it out can be a nanosecond short."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        level = self._level(state, now_ns)
        decision = super()._decide(state, now_ns, cost, commit)
        if decision.admitted:
            return decision
        return reject(decision.remaining, (cost * self._p - level) // self._n)


class AcquireDeadlineInclusive(_TokenBucket):
    """`>=` instead of `>`: acquire gives up when admission would come exactly at the deadline."""

    def _waits(self, key: object, cost: int, timeout: object) -> Generator[int, None, Decision]:
        cost = self._check_cost(cost)
        timeout_ns = None if timeout is None else duration_ns("timeout", timeout)
        deadline = None if timeout_ns is None else self._now() + timeout_ns
        while True:
            decision, decided_at = self._take(key, cost)
            if decision.admitted:
                return decision
            wait = decision.retry_after_ns
            if deadline is not None and decided_at + wait >= deadline:
                raise RateLimited(self._name, retry_after_ns=wait, cost=cost, key=key)
            yield wait


class DeadlineResetEachLoop(_TokenBucket):
    """The timeout restarts after every sleep, so a waiter that keeps losing the race to other
    callers waits past its deadline."""

    def _waits(self, key: object, cost: int, timeout: object) -> Generator[int, None, Decision]:
        cost = self._check_cost(cost)
        timeout_ns = None if timeout is None else duration_ns("timeout", timeout)
        while True:
            decision, _ = self._take(key, cost)
            if decision.admitted:
                return decision
            wait = decision.retry_after_ns
            if timeout_ns is not None and wait > timeout_ns:
                raise RateLimited(self._name, retry_after_ns=wait, cost=cost, key=key)
            yield wait


class DeadlineOnlyFirstLoop(_TokenBucket):
    """The deadline is checked before the first sleep only: after that, the waiter waits on."""

    def _waits(self, key: object, cost: int, timeout: object) -> Generator[int, None, Decision]:
        cost = self._check_cost(cost)
        timeout_ns = None if timeout is None else duration_ns("timeout", timeout)
        deadline = None if timeout_ns is None else self._now() + timeout_ns
        first = True
        while True:
            decision, decided_at = self._take(key, cost)
            if decision.admitted:
                return decision
            wait = decision.retry_after_ns
            if first and deadline is not None and decided_at + wait > deadline:
                raise RateLimited(self._name, retry_after_ns=wait, cost=cost, key=key)
            first = False
            yield wait


class GcraToleranceExclusive(GCRA):
    """`<` instead of `<=`: the last unit of every burst is refused."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        tolerance, self._tolerance = self._tolerance, self._tolerance - 1
        try:
            return super()._decide(state, now_ns, cost, commit)
        finally:
            self._tolerance = tolerance


class RejectionsCountInFixedWindow(FixedWindow):
    """Rejected requests are counted in the window (INCR before the check), so a client that
    keeps retrying locks itself out for the whole window."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        decision = super()._decide(state, now_ns, cost, commit)
        if commit and not decision.admitted:
            index = now_ns // self.window_ns
            if state.index != index:
                state.index, state.count = index, 0
            state.count = min(self.limit, state.count + cost)
        return decision


class _OriginWindow:
    __slots__ = ("count", "index", "origin")

    def __init__(self) -> None:
        self.index, self.count, self.origin = -1, 0, None


class FixedWindowFromFirstRequest(FixedWindow):
    """Windows aligned to a key's first request instead of the clock's zero: evicting an idle
    key shifts its windows."""

    def _new_state(self, now_ns: int) -> Any:
        return _OriginWindow()

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        origin = state.origin if state.origin is not None else now_ns % self.window_ns
        if commit:
            state.origin = origin
        return super()._decide(state, now_ns - origin, cost, commit)

    def _is_fresh(self, state: Any, now_ns: int) -> bool:
        origin = state.origin if state.origin is not None else 0
        return super()._is_fresh(state, now_ns - origin)


class LogBoundaryInclusive(SlidingWindowLog):
    """13: an entry still counts at exactly e + W (`<` where `<=` belongs when ageing out)."""

    def _age(self, log: Any, now_ns: int) -> None:
        horizon = now_ns - self.window_ns
        if log.head < len(log.times) and log.times[log.head] < horizon:
            head = bisect_left(log.times, horizon, log.head)
            log.aged = log.totals[head - 1]
            log.head = head


class LogRetryFromNewest(SlidingWindowLog):
    """12: retry_after computed from the newest entry instead of the oldest (limits #200)."""

    def _decide(self, log: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        decision = super()._decide(log, now_ns, cost, commit)
        if decision.admitted:
            return decision
        return reject(decision.remaining, log.times[-1] + self.window_ns - now_ns)


class LogCompactionKeepsTotals(SlidingWindowLog):
    """Compaction trims the instants but not the running totals (two lists kept in step by
    hand, one forgotten)."""

    def _age(self, log: Any, now_ns: int) -> None:
        horizon = now_ns - self.window_ns
        times, head = log.times, log.head
        if head < len(times) and times[head] <= horizon:
            head = bisect_left(times, horizon + 1, head)
            log.aged = log.totals[head - 1]
            log.head = head
            if head >= self._compact_at and 2 * head >= len(times):
                del times[:head]
                log.head = 0


class LogCheckConsumes(SlidingWindowLog):
    """13: ``check`` records the request it was only asked about (test() and hit() confused)."""

    def _decide(self, log: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        return super()._decide(log, now_ns, cost, True)


class CounterWeightInverted(SlidingWindowCounter):
    """The previous window weighted by elapsed / W instead of (W - elapsed) / W."""

    def _decide(self, counts: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        w = self.window_ns
        index, elapsed = divmod(now_ns, w)
        return super()._decide(counts, index * w + (w - 1 - elapsed), cost, commit)


class CounterFloatTime(SlidingWindowCounter):
    """14: the weight computed from float seconds, as limits does (time.time() floats)."""

    def _decide(self, counts: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        w = self.window_ns
        index = now_ns // w
        previous, current = self._rolled(counts, index)
        window_s = w / 1e9
        elapsed_s = now_ns / 1e9 - index * window_s
        estimate = previous * (window_s - elapsed_s) / window_s + current
        if estimate + cost <= self.limit:
            if commit:
                counts.index, counts.previous, counts.current = index, previous, current + cost
            return admit(math.floor(self.limit - estimate - cost))
        exact = super()._decide(counts, now_ns, cost, False)
        return reject(math.floor(self.limit - estimate), exact.retry_after_ns)


class EvictsThrottledKey(KeyedLimiter[Any]):
    """The least recently used key is evicted whether or not it is fresh (an LRU cache used as
    the store): a throttled tenant gets a fresh budget."""

    def _evict_some_locked(self, now: int) -> None:
        if len(self._states) > 1:
            oldest = next(iter(self._states))
            self._evict_locked(oldest, now)


class KeysTruncated(KeyedLimiter[Any]):
    """String keys cut to 7 characters (a fixed-width key column): "tenant-a" and "tenant-b"
    share one budget."""

    @staticmethod
    def _cut(key: object) -> object:
        return key[:7] if isinstance(key, str) else key

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        return super()._take(self._cut(key), cost)

    def check(self, key: object, cost: int = 1) -> Decision:
        return super().check(self._cut(key), cost)


# --------------------------------------------------------------------- more token bucket / GCRA


class RejectionDrainsBucket(_TokenBucket):
    """A refused request empties the bucket (the level is reset instead of kept): a client that
    asks for too much at once loses the tokens it had saved."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        decision = super()._decide(state, now_ns, cost, commit)
        if commit and not decision[0]:
            state.level = 0
        return decision


class RemainingRoundedUp(_TokenBucket):
    """``remaining`` rounds a partial token up: it promises one more unit than is there."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        decision = super()._decide(state, now_ns, cost, commit)
        if decision[0] and state.level % self._p and commit:
            return admit(decision[1] + 1)
        return decision


class GcraIdleBanksCredit(GCRA):
    """The backlog is not clamped at zero: idle time banks credit, so a burst after a quiet
    spell exceeds ``burst`` (the GCRA form of an uncapped refill)."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        backlog = state.backlog - (now_ns - state.at_ns) * self._n
        need = cost * self._p
        free = self._tolerance - backlog
        if need <= free:
            if commit:
                state.backlog, state.at_ns = backlog + need, now_ns
            return admit((free - need) // self._p)
        return reject(free // self._p, -((free - need) // self._n))


class GcraRetryAfterWholeCost(GCRA):
    """``retry_after`` is the time to earn the whole cost, ignoring the units already free: a
    client told to wait that long waits too long."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        decision = super()._decide(state, now_ns, cost, commit)
        if decision[0]:
            return decision
        return reject(decision[1], -(-(cost * self._p) // self._n))


class StatusRatePerNanosecond(GCRA):
    """``status()`` reports the rate per nanosecond under the name ``rate_per_s`` (a unit slip a
    dashboard shows as a limiter that admits nothing)."""

    def _config(self) -> dict[str, Any]:
        return {"rate_per_s": float(self.rate), "burst": self.burst}


class StatusTokensTruncated(_TokenBucket):
    """``status()`` shows whole tokens only (``//`` for ``/``): a bucket refilling towards its
    next token looks stuck."""

    def _describe(self, state: Any, now_ns: int) -> dict[str, Any]:
        return {"tokens": self._level(state, now_ns) // self._p}


# --------------------------------------------------------------------- more windows


class FixedWindowLimitExclusive(FixedWindow):
    """`<` for `<=`: a window admits ``limit - 1`` units, never its last one."""

    def _decide(self, state: Any, now_ns: int, cost: int, commit: bool) -> Decision:
        index = now_ns // self.window_ns
        used = state.count if state.index == index else 0
        if used + cost < self.limit:
            return super()._decide(state, now_ns, cost, commit)
        return reject(self.limit - used, (index + 1) * self.window_ns - now_ns)


class CounterStaleAfterGap(SlidingWindowCounter):
    """After a gap of two windows or more, the old count still weighs as the previous window's
    (only the one-window roll is written): a client returning after a pause is throttled for
    traffic long gone."""

    def _rolled(self, counts: Any, index: int) -> tuple[int, int]:
        if counts.index == index:
            return counts.previous, counts.current
        if counts.index is not None and counts.index >= 0 and counts.index < index:
            return counts.current, 0
        return 0, 0


# --------------------------------------------------------------------- more keyed limiter


class SharedStateAcrossKeys(KeyedLimiter[Any]):
    """Every key gets the same state object (one mutable default shared by all): one tenant
    spends every tenant's budget."""

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        states = self._states
        if key not in states and states:
            states[key] = next(iter(states.values()))  # the state of the first key held
        return super()._take(key, cost)


class EvictionNotCounted(KeyedLimiter[Any]):
    """An eviction drops the key but forgets the ``evicted`` counter (statistics not updated,
    class 23)."""

    def _evict_locked(self, key: object, now: int) -> None:
        super()._evict_locked(key, now)
        self._evicted -= 1


class EvictionNotAnnounced(KeyedLimiter[Any]):
    """An eviction is counted but ``KeyEvicted`` is never sent: a listener mirroring the keys
    keeps ghosts."""

    def _evict_locked(self, key: object, now: int) -> None:
        del self._states[key]
        self._evicted += 1


class SweepDropsThrottledKeys(KeyedLimiter[Any]):
    """``sweep()`` drops every key, fresh or not: a throttled tenant comes back with a full
    budget after housekeeping."""

    def sweep(self) -> int:
        try:
            with self._lock:
                now = self._now()
                keys = list(self._states)
                for key in keys:
                    self._evict_locked(key, now)
                return len(keys)
        finally:
            self._deliver()


class EvictsWhenDisabled(KeyedLimiter[Any]):
    """``evict_idle=False`` is ignored: keys are still evicted after decisions (a flag read
    nowhere)."""

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        self.evict_idle = True
        return super()._take(key, cost)


class KeyedCostIgnored(KeyedLimiter[Any]):
    """The keyed limiter charges one unit whatever the cost (the cost argument dropped on the
    way to the per-key state)."""

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        return super()._take(key, 1)


class KeyedCheckConsumes(KeyedLimiter[Any]):
    """The keyed ``check`` decides with commit on (test() and hit() confused, per key)."""

    def check(self, key: object, cost: int = 1) -> Decision:
        return self._take(key, self._check_cost(cost))[0]


class KeyedRejectionCountedAsAdmission(KeyedLimiter[Any]):
    """The keyed limiter's counters record a rejection as an admission (a branch copied from
    the admitted case)."""

    def _count(self, key: object, cost: int, decision: Decision, now: int) -> None:
        if not decision[0]:
            self._admitted += 1
            self._admitted_cost += cost
            if self._listeners.active:
                self._queue_event(key, cost, decision, now)
            return
        super()._count(key, cost, decision, now)


#: name -> (algorithm, the variant class: an algorithm subclass or a KeyedLimiter subclass)
RATELIMIT_MUTANTS: dict[str, tuple[str, type[Any]]] = {
    cls.__name__: (algorithm, cls)
    for algorithm, cls in [
        ("token_bucket", CostAboveLimitClamped),
        ("token_bucket", RefillNotCapped),
        ("token_bucket", BucketFloatArithmetic),
        ("token_bucket", RetryAfterRoundedDown),
        ("token_bucket", AcquireDeadlineInclusive),
        ("gcra", GcraToleranceExclusive),
        ("fixed_window", RejectionsCountInFixedWindow),
        ("fixed_window", FixedWindowFromFirstRequest),
        ("sliding_log", LogBoundaryInclusive),
        ("sliding_log", LogRetryFromNewest),
        ("sliding_log", LogCheckConsumes),
        ("sliding_log", LogCompactionKeepsTotals),
        ("sliding_counter", CounterWeightInverted),
        ("sliding_counter", CounterFloatTime),
        ("token_bucket", EvictsThrottledKey),
        ("sliding_log", KeysTruncated),
        ("token_bucket", RejectionDrainsBucket),
        ("token_bucket", RemainingRoundedUp),
        ("gcra", GcraIdleBanksCredit),
        ("gcra", GcraRetryAfterWholeCost),
        ("gcra", StatusRatePerNanosecond),
        ("token_bucket", StatusTokensTruncated),
        ("fixed_window", FixedWindowLimitExclusive),
        ("sliding_counter", CounterStaleAfterGap),
        ("gcra", SharedStateAcrossKeys),
        ("fixed_window", EvictionNotCounted),
        ("sliding_counter", EvictionNotAnnounced),
        ("token_bucket", SweepDropsThrottledKeys),
        ("sliding_log", EvictsWhenDisabled),
        ("gcra", KeyedCostIgnored),
        ("token_bucket", KeyedCheckConsumes),
        ("fixed_window", KeyedRejectionCountedAsAdmission),
    ]
}
