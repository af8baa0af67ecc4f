"""Sliding log: at most ``limit`` units in every window ``(t - W, t]``, exactly.

The log keeps each admission's time with a running total (prefix sums), oldest first. Appending is
O(1); expired entries are skipped by moving a head index and compacted in bulk, so every operation
is amortised O(1) however many entries are live, and ``retry_after`` is a binary search over the
running totals: the wait until enough of the *oldest* entries have aged out.

Boundary: an entry admitted at ``e`` counts at every ``t`` with ``e > t - W``, i.e. until
``t = e + W`` exclusive. At exactly ``e + W`` it has aged out (``check`` and ``try_acquire`` agree
there: both use this one rule).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.window import WindowLimiter

__all__ = ["SlidingWindowLog"]


class _Log:
    __slots__ = ("aged", "head", "times", "totals")

    def __init__(self) -> None:
        self.times: list[int] = []  # admission instants, non-decreasing (one entry per instant)
        self.totals: list[int] = []  # totals[i]: cost admitted up to and including entry i
        self.head = 0  # entries before head have aged out
        self.aged = 0  # total cost of the aged-out entries


class SlidingWindowLog(WindowLimiter[_Log]):
    """``limit`` units in every rolling ``window``: the exact guarantee, at the price of one log
    entry per admission instant (at most ``limit`` live entries)."""

    algorithm = "sliding_log"
    #: Aged-out entries tolerated before compaction is considered (tests lower it to reach it).
    _compact_at = 64

    def _new_state(self, now_ns: int) -> _Log:
        return _Log()

    def _age(self, log: _Log, now_ns: int) -> None:
        """Skip entries that have aged out by ``now_ns`` (unobservable: only live ones count)."""
        horizon = now_ns - self.window_ns
        times, head = log.times, log.head
        if head < len(times) and times[head] <= horizon:
            # Usually one entry ages out per decision: step over it; search only for more.
            head += 1
            if head < len(times) and times[head] <= horizon:
                head = bisect_left(times, horizon + 1, head)
            log.aged = log.totals[head - 1]
            log.head = head
            if head >= self._compact_at and 2 * head >= len(times):
                del times[:head]
                del log.totals[:head]
                log.head = 0

    def _live(self, log: _Log) -> int:
        return log.totals[-1] - log.aged if log.totals else 0

    def _decide(self, log: _Log, now_ns: int, cost: int, commit: bool) -> Decision:
        self._age(log, now_ns)
        live = self._live(log)
        if live + cost <= self.limit:
            if commit:
                total = live + log.aged + cost
                if log.times and log.times[-1] == now_ns:
                    log.totals[-1] = total
                else:
                    log.times.append(now_ns)
                    log.totals.append(total)
            remaining = self.limit - live - cost
            return ADMITTED[remaining] if remaining < CACHED else admit(remaining)
        # The oldest entries must age out until `excess` units have gone: the first entry whose
        # running total reaches aged + excess is the last one that has to go.
        excess = live + cost - self.limit
        last = bisect_left(log.totals, log.aged + excess, log.head)
        return reject(self.limit - live, log.times[last] + self.window_ns - now_ns)

    def _is_fresh(self, log: _Log, now_ns: int) -> bool:
        return not log.times or log.times[-1] <= now_ns - self.window_ns

    def _describe(self, log: _Log, now_ns: int) -> dict[str, Any]:
        self._age(log, now_ns)
        return {"used": self._live(log), "entries": len(log.times) - log.head}
