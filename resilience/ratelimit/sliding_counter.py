"""Sliding window counter: the fixed window's memory with most of the sliding log's smoothness.

It keeps the counts of the current aligned window and the previous one, and estimates the load of
the rolling window ending now as ``previous * (W - elapsed) / W + current``. A request is admitted
iff that estimate plus its cost is at most ``limit``, compared exactly in integers (scaled by W).

Guarantees: the estimate never exceeds ``limit``; the true admitted cost in any window of length W
is at most ``2 * limit`` (it overlaps at most two aligned windows, each holding at most
``limit``). Without traffic the estimate only falls, so ``retry_after`` is exact.
"""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.window import WindowLimiter

__all__ = ["SlidingWindowCounter"]


class _Counts:
    __slots__ = ("current", "index", "previous")

    def __init__(self) -> None:
        self.index = -2  # the aligned window `current` belongs to
        self.previous = 0  # cost admitted in window index - 1
        self.current = 0  # cost admitted in window index


class SlidingWindowCounter(WindowLimiter[_Counts]):
    """``limit`` units per rolling ``window``, estimated from two aligned windows."""

    algorithm = "sliding_counter"

    def _new_state(self, now_ns: int) -> _Counts:
        return _Counts()

    def _rolled(self, counts: _Counts, index: int) -> tuple[int, int]:
        """(previous, current) as seen from aligned window ``index``."""
        if counts.index == index:
            return counts.previous, counts.current
        if counts.index == index - 1:
            return counts.current, 0
        return 0, 0

    def _decide(self, counts: _Counts, now_ns: int, cost: int, commit: bool) -> Decision:
        w = self.window_ns
        index, elapsed = divmod(now_ns, w)
        previous, current = self._rolled(counts, index)
        # The estimate scaled by W: exact integers, no division, no float.
        load = previous * (w - elapsed) + current * w
        capacity = self.limit * w
        if load + cost * w <= capacity:
            if commit:
                counts.index, counts.previous, counts.current = index, previous, current + cost
            remaining = (capacity - load) // w - cost
            return ADMITTED[remaining] if remaining < CACHED else admit(remaining)
        return reject((capacity - load) // w, self._wait(previous, current, elapsed, cost))

    def _wait(self, previous: int, current: int, elapsed: int, cost: int) -> int:
        """The exact wait until ``cost`` fits, given a rejection now. Two cases:

        * ``current + cost <= limit``: the previous window's weight must fall until
          ``previous * (W - e) <= (limit - current - cost) * W``, later in this window
          (or, at worst, at its end, where the rule is the same);
        * otherwise: only in the next window, where this window's count becomes the
          decaying ``previous`` and ``current`` starts from 0.
        """
        w = self.window_ns
        if current + cost <= self.limit:
            # previous > 0 here, or the request would have been admitted.
            return w - ((self.limit - current - cost) * w) // previous - elapsed
        return (w - elapsed) + w - ((self.limit - cost) * w) // current

    def _is_fresh(self, counts: _Counts, now_ns: int) -> bool:
        return self._rolled(counts, now_ns // self.window_ns) == (0, 0)

    def _describe(self, counts: _Counts, now_ns: int) -> dict[str, Any]:
        index, elapsed = divmod(now_ns, self.window_ns)
        previous, current = self._rolled(counts, index)
        estimate = (previous * (self.window_ns - elapsed) + current * self.window_ns) / (
            self.window_ns
        )
        return {"previous": previous, "current": current, "estimate": estimate}
