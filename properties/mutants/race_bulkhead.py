"""Planted concurrency bugs in the bulkhead's decision core: each passes the sequential machine
(one thread never lands in the gap between two critical sections) and is caught by the parallel
test (``properties/parallel/bulkhead.py``). ``RACES`` maps a variant's name to the parallel
component over it."""

from __future__ import annotations

from collections.abc import Callable

from properties.parallel.bulkhead import BULKHEAD, BulkheadComponent
from resilience.bulkhead.core import BulkheadCore, Plan
from resilience.events import BulkheadReleased
from resilience.waiting import Waker

__all__ = ["RACES", "ReleaseChecksQueueUnlocked", "SplitAdmissionCheck"]


class SplitAdmissionCheck(BulkheadCore):
    """The "is a permit free?" check and taking the permit are two critical sections: two
    callers can both see the last permit free, and both take it (``max_concurrent`` exceeded)."""

    concurrency = True

    def acquire(self, max_wait_ns: int | None, new_waker: Callable[[], Waker]) -> int | Plan:
        with self.lock:
            free = self._free_for_newcomer()
        if free:
            with self.lock:
                now = self.now()
                return self._admit(now, now)
        return self._acquire(max_wait_ns, new_waker)


class ReleaseChecksQueueUnlocked(BulkheadCore):
    """A release's fast path asks "does anyone wait?" before taking the lock: a caller that
    queues in between is never handed the permit, which is marked free instead (a lost
    hand-off: the waiter times out, and newcomers are refused, while a permit idles)."""

    concurrency = True

    def release(self, token: int) -> None:
        if self.waiters:
            with self.lock:
                self._release(token)
        else:  # nobody to hand the permit to: just free it
            with self.lock:
                now = self.now()
                self.finished += 1
                if self.listeners.active:
                    self._emit(BulkheadReleased(self.config.name, now, now - token))
                self.in_flight -= 1
        self.deliver()


RACES: dict[str, BulkheadComponent] = {
    core.__name__: BULKHEAD.with_classes(core=core)
    for core in (SplitAdmissionCheck, ReleaseChecksQueueUnlocked)
}
