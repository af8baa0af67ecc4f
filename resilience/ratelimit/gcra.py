"""GCRA, the generic cell rate algorithm: the token bucket kept as one number.

Instead of a level, the state is the theoretical arrival time ``tat``: when the bucket would be full
again. With the rate reduced to ``n`` units every ``p`` ns, time is kept in units of ``1/n`` ns, so
one unit's emission interval is exactly ``p`` and the burst tolerance is ``burst * p``. A request
of ``cost`` is admitted iff ``max(tat, now) + cost * p - now <= burst * p``: exactly the token
bucket's rule with capacity ``burst``, so both make identical decisions (a property checks it).
"""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.limiter import RateLimiter
from resilience.ratelimit.rate import units_per_ns
from resilience.validation import int_at_least

__all__ = ["GCRA"]


class _Arrival:
    __slots__ = ("tat",)

    def __init__(self, tat: int) -> None:
        self.tat = tat  # in units of 1/n ns


class GCRA(RateLimiter[_Arrival]):
    """``rate`` units per second (or a ``Rate``), bursts of up to ``burst`` units; the same
    guarantee and the same decisions as ``TokenBucket(capacity=burst, refill_rate=rate)``."""

    algorithm = "gcra"

    def __init__(
        self, rate: object, burst: int, *, name: str | None = None, clock: object = None
    ) -> None:
        self.rate = units_per_ns("rate", rate)
        self.burst = int_at_least("burst", burst, 1)
        self._n = self.rate.numerator
        self._p = self.rate.denominator
        self._tolerance = self.burst * self._p
        super().__init__(max_cost=self.burst, name=name, clock=clock)

    def _new_state(self, now_ns: int) -> _Arrival:
        return _Arrival(now_ns * self._n)  # full now, whatever the clock's zero

    def _decide(self, state: _Arrival, now_ns: int, cost: int, commit: bool) -> Decision:
        # Work with the backlog ``tat - now`` (small) rather than the instants themselves (large
        # integers, slower in CPython): only the first and last lines touch an instant.
        n = self._n
        now = now_ns * n
        backlog = state.tat - now
        if backlog < 0:
            backlog = 0  # idle: the bucket is full
        need = cost * self._p
        tolerance = self._tolerance
        if backlog + need <= tolerance:
            backlog += need
            if commit:
                state.tat = now + backlog
            remaining = (tolerance - backlog) // self._p
            return ADMITTED[remaining] if remaining < CACHED else admit(remaining)
        return reject((tolerance - backlog) // self._p, -((tolerance - backlog - need) // n))

    def _is_fresh(self, state: _Arrival, now_ns: int) -> bool:
        return state.tat <= now_ns * self._n

    def _describe(self, state: _Arrival, now_ns: int) -> dict[str, Any]:
        now = now_ns * self._n
        return {"full_in_ns": -((now - max(state.tat, now)) // self._n)}

    def _config(self) -> dict[str, Any]:
        return {"rate_per_s": float(self.rate * 10**9), "burst": self.burst}
