"""Token bucket: ``capacity`` tokens, refilled continuously at ``refill_rate``, starting full.

Exact arithmetic: with the rate reduced to ``n`` tokens every ``p`` ns, the level is kept in units
of ``1/p`` token, so a refill over ``dt`` ns adds exactly ``dt * n`` units and a token is ``p``
units. Nothing is ever rounded except ``retry_after_ns``, which is rounded *up* (waiting that long
is enough; one nanosecond less is not).
"""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.limiter import RateLimiter
from resilience.ratelimit.rate import units_per_ns
from resilience.validation import int_at_least

__all__ = ["TokenBucket"]


class _Bucket:
    __slots__ = ("level", "updated_ns")

    def __init__(self, level: int, updated_ns: int) -> None:
        self.level = level  # in units of 1/p token
        self.updated_ns = updated_ns


class TokenBucket(RateLimiter[_Bucket]):
    """At most ``capacity`` units at once (the burst), refilled at ``refill_rate`` per second
    (or a ``Rate``). Admitted cost over any interval [t1, t2] is at most
    ``capacity + refill_rate * (t2 - t1)``."""

    algorithm = "token_bucket"

    def __init__(
        self,
        capacity: int,
        refill_rate: object,
        *,
        name: str | None = None,
        clock: object = None,
    ) -> None:
        self.capacity = int_at_least("capacity", capacity, 1)
        self.refill_rate = units_per_ns("refill_rate", refill_rate)  # tokens per ns, exact
        self._n = self.refill_rate.numerator  # n tokens ...
        self._p = self.refill_rate.denominator  # ... every p ns
        self._full = self.capacity * self._p
        super().__init__(max_cost=self.capacity, name=name, clock=clock)

    def _new_state(self, now_ns: int) -> _Bucket:
        return _Bucket(self._full, now_ns)

    def _level(self, state: _Bucket, now_ns: int) -> int:
        level = state.level + (now_ns - state.updated_ns) * self._n
        return level if level < self._full else self._full

    def _decide(self, state: _Bucket, now_ns: int, cost: int, commit: bool) -> Decision:
        level = state.level + (now_ns - state.updated_ns) * self._n
        full = self._full
        if level > full:
            level = full  # a full bucket does not keep filling
        need = cost * self._p
        if level < need:
            if commit:
                state.level = level
                state.updated_ns = now_ns
            return reject(level // self._p, -((level - need) // self._n))
        level -= need
        if commit:
            state.level = level
            state.updated_ns = now_ns
        remaining = level // self._p
        return ADMITTED[remaining] if remaining < CACHED else admit(remaining)

    def _is_fresh(self, state: _Bucket, now_ns: int) -> bool:
        return self._level(state, now_ns) == self._full

    def _describe(self, state: _Bucket, now_ns: int) -> dict[str, Any]:
        return {"tokens": self._level(state, now_ns) / self._p}

    def _config(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "refill_rate_per_s": float(self.refill_rate * 10**9)}
