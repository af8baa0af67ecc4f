"""GCRA, the generic cell rate algorithm: the token bucket kept as a theoretical arrival time.

Instead of a level, GCRA tracks the theoretical arrival time ``tat``: when the bucket would be full
again. With the rate reduced to ``n`` units every ``p`` ns, time is kept in units of ``1/n`` ns, so
one unit's emission interval is exactly ``p`` and the burst tolerance is ``burst * p``. A request
of ``cost`` is admitted iff ``max(tat, now) + cost * p - now <= burst * p``: exactly the token
bucket's rule with capacity ``burst``, so both make identical decisions (a property checks it).

``tat`` is stored as the instant of the last admission plus the backlog ``tat - instant`` then
(``tat = at_ns * n + backlog``). The rule only ever needs ``tat - now``, the backlog, which is
small; storing it directly keeps the per-call arithmetic on small integers (CPython's large-int
operations allocate) with one subtraction of instants per call, as in the token bucket.
"""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.limiter import RateLimiter
from resilience.ratelimit.rate import units_per_ns
from resilience.validation import int_at_least

__all__ = ["GCRA"]


class _Arrival:
    __slots__ = ("at_ns", "backlog")

    def __init__(self, at_ns: int, backlog: int) -> None:
        self.at_ns = at_ns  # the instant of the last admission, ns
        self.backlog = backlog  # tat - at_ns then, in units of 1/n ns; never negative


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
        return _Arrival(now_ns, 0)  # full now, whatever the clock's zero

    def _backlog(self, state: _Arrival, now_ns: int) -> int:
        """``max(tat - now, 0)`` in units of 1/n ns: how far the bucket is from full."""
        backlog = state.backlog - (now_ns - state.at_ns) * self._n
        return backlog if backlog > 0 else 0

    def _decide(self, state: _Arrival, now_ns: int, cost: int, commit: bool) -> Decision:
        backlog = state.backlog - (now_ns - state.at_ns) * self._n
        if backlog < 0:
            backlog = 0  # idle: the bucket is full
        p = self._p
        need = cost * p
        free = self._tolerance - backlog
        if need <= free:
            if commit:
                state.backlog = backlog + need
                state.at_ns = now_ns
            remaining = (free - need) // p
            return ADMITTED[remaining] if remaining < CACHED else admit(remaining)
        return reject(free // p, -((free - need) // self._n))

    def _is_fresh(self, state: _Arrival, now_ns: int) -> bool:
        return self._backlog(state, now_ns) == 0

    def _describe(self, state: _Arrival, now_ns: int) -> dict[str, Any]:
        return {"full_in_ns": -(-self._backlog(state, now_ns) // self._n)}

    def _config(self) -> dict[str, Any]:
        return {"rate_per_s": float(self.rate * 10**9), "burst": self.burst}
