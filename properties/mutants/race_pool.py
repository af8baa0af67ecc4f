"""Planted concurrency bugs in the pool's decision core: each a small variant with one real-world
race, plugged into ``ResourcePool`` through ``_core_class``.

Killed by the parallel checker (``properties/parallel/pool.py``), not by the sequential machine:
run one call at a time, each variant behaves exactly like the real pool (the sync pool machine
passes against every one). Two lose a wake-up (a waiter sleeps through its deadline while a
resource idles): ``WaitDecidedUnlocked``, ``StaleReturnDecision``; two lend a resource to two
threads: ``ValidatedBeforeTaken``, ``PeekedIdleCandidate``; one creates beyond capacity:
``SlotCheckedBeforeLock``.

How fast a race is caught depends on what lies inside its window. Under the GIL a thread loses
the processor at a blocking call (a contended lock, a callback doing I/O: the harness's factory,
``validate`` and ``reset`` yield) or when the OS preempts it, every millisecond or so on a busy
machine. A window holding such a point is hit in most runs of the right program; one of a few
bytecodes (``UnlockedQuietReturn``: "nobody waits" read just before the lock) needs the thread
preempted right there, so it is in ``SLOW_RACES``: for deep runs, not for a bounded budget.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from properties.parallel.harness import Component
from properties.parallel.pool import POOL
from resilience import ResourcePool
from resilience.events import ResourceCheckedOut
from resilience.pool.core import (
    IDLE,
    LEASED,
    OUT,
    Call,
    Entry,
    Plan,
    PoolCore,
    Waiter,
    Waker,
)

__all__ = ["RACES", "SLOW_RACES"]


class WaitDecidedUnlocked(PoolCore):
    """The checkout decides it must wait from a look at the pool taken before the lock (nothing
    idle, no slot free) and, under the lock, only joins the queue: a check-in that ran in between
    saw nobody waiting and made its resource idle, and the new waiter sleeps through its deadline
    with it idle (the test and the wait are not one atomic step)."""

    concurrency = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.looked = threading.local()  # the look, carried from the plan's start to its step

    def checkout(self, timeout_ns: int | None, new_waker: Callable[[], Waker]) -> Plan:
        exhausted = not self.idle and self._free_slots() <= 0  # looked at before the lock
        self.looked.must_wait = timeout_ns != 0 and exhausted
        return (yield from super().checkout(timeout_ns, new_waker))

    def _next_step(
        self,
        waiter: Waiter | None,
        deadline: int | None,
        started: int,
        now: int,
        doomed: list[Entry],
        new_waker: Callable[[], Waker],
    ) -> Any:
        if waiter is None and getattr(self.looked, "must_wait", False) and not self.closed:
            self.looked.must_wait = False
            waiter = Waiter(new_waker())
            self.waiters.append(waiter)
            return waiter, waiter
        return super()._next_step(waiter, deadline, started, now, doomed, new_waker)


class UnlockedQuietReturn(PoolCore):
    """The check-in's quiet path tests "nobody waits" before taking the lock (a racy read thought
    harmless, since it only picks the fast path, and made together with the clock reading, both
    kept out of the critical section): a checkout that starts waiting between the test and the
    lock is not handed the resource, which goes idle, and the waiter sleeps through its deadline
    with it idle (a lost wake-up)."""

    concurrency = True

    def return_lent(self, resource: object, lease: int | None) -> list[Entry] | None:
        if self.waiters:  # someone waits (looked at before the lock): the full path
            return super().return_lent(resource, lease)
        now = self.now()
        with self.lock:
            entry = self.owned.get(id(resource))
            if entry is None or entry.where != LEASED or entry.resource is not resource:
                if lease is not None:
                    return None  # this lease ended already
                self.leased_entry(resource)  # raises PoolError, saying why
            assert entry is not None
            if lease is not None and entry.lease != lease:
                return None
            if self.listeners.active or self.closed or len(self.owned) > self.size:
                return self.return_entry(entry)
            self.checked_in += 1
            entry.where = IDLE
            entry.returned_ns = now
            self.idle.append(entry)
            return None


class StaleReturnDecision(PoolCore):
    """The check-in decides whether anyone waits for the resource when it takes it back, then
    runs ``reset`` outside the lock and places the resource by that stale look: a checkout that
    began waiting during ``reset`` is not handed the resource, which goes idle, and the waiter
    sleeps through its deadline with it idle (a lost wake-up: a decision cached across an
    unlock)."""

    concurrency = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.look = threading.local()  # the look, carried from the plan's start to its end

    def checkin(self, resource: object, lease: int | None = None) -> Plan:
        self.look.taking = True
        try:
            return (yield from super().checkin(resource, lease))
        finally:
            self.look.taking = self.look.nobody_waited = False

    def leased_entry(self, resource: object) -> Entry:
        entry = super().leased_entry(resource)
        if getattr(self.look, "taking", False):  # the check-in takes it back: look now
            self.look.taking, self.look.nobody_waited = False, not self.waiters
        return entry

    def _place(self, entry: Entry, now: int, doomed: list[Entry]) -> None:
        if not getattr(self.look, "nobody_waited", False):
            super()._place(entry, now, doomed)
            return
        self.look.nobody_waited = False
        waiters, self.waiters = self.waiters, deque()  # nobody waited, as far as it knows
        try:
            super()._place(entry, now, doomed)
        finally:
            self.waiters = waiters


class ValidatedBeforeTaken(PoolCore):
    """The checkout validates the idle resource it will take before taking it (so a failed
    validation leaves the idle list as it was), then takes the end of the idle list under the
    lock, assuming it is still that resource: two checkouts that validated the same resource at
    once both lend it (a check-then-act split between "pick idle" and "mark lent")."""

    concurrency = True

    def _next_step(
        self,
        waiter: Waiter | None,
        deadline: int | None,
        started: int,
        now: int,
        doomed: list[Entry],
        new_waker: Callable[[], Waker],
    ) -> Any:
        if waiter is None and self.idle and not self.closed:
            candidate = self.idle[-1] if self.lifo else self.idle[0]
            if self._expired(candidate, now) is None:
                return candidate, None  # left idle while it is validated
        return super()._next_step(waiter, deadline, started, now, doomed, new_waker)

    def _vet(self, entry: Entry, started: int, granted: bool) -> Any:
        if granted or entry.where != IDLE:  # not one it picked from the idle list
            return (yield from super()._vet(entry, started, granted))
        validate = self.config.validate
        error: BaseException | None = None
        valid = True
        if validate is not None:
            try:
                valid = bool((yield Call(validate, entry.resource)))
            except Exception as raised:
                valid, error = False, raised
            # cancelled: it was never taken, nothing to give back
        doomed = []
        with self.lock:
            now = self.now()
            _ = self.idle.pop() if self.lifo else self.idle.popleft()  # taken to be ``entry``
            entry.where = OUT
            if self.closed:
                doomed.append(self._drop(entry, now, "closed", None))
            elif valid:
                return self._lend(entry, now, started)
            else:
                self.failed_validations += 1
                doomed.append(self._drop(entry, now, "invalid", error))
        yield from self.destroy(doomed)
        if self.closed:
            raise self._closed_error()
        return None


class PeekedIdleCandidate(PoolCore):
    """The fast checkout picks its candidate at the end of the idle list before taking the lock
    (a deque read is atomic), then pops the end under the lock without checking it is still that
    candidate: two checkouts that picked the same resource both lend it (and the other idle
    resource is lost), a check-then-act split between "pick idle" and "mark lent"."""

    concurrency = True

    def lend_idle(self) -> tuple[Entry, int] | None:
        idle = self.idle
        if not idle or self.closed:
            return None
        entry = idle[-1] if self.lifo else idle[0]  # the candidate, picked before the lock
        now = self.now()  # and the clock read there too, to keep the critical section short
        with self.lock:
            if not idle or self.closed:
                return None
            _ = idle.pop() if self.lifo else idle.popleft()  # taken to be the candidate
            entry.where = LEASED
            lease = entry.lease = entry.lease + 1
            entry.leased_ns = now
            self.checked_out += 1
            if self.listeners.active:
                self._emit(ResourceCheckedOut(self.config.name, now, entry.resource, 0))
            return entry, lease


class SlotCheckedBeforeLock(PoolCore):
    """The checkout looks for a free slot before taking the lock and, finding one, reserves it
    under the lock without looking again: two checkouts that saw the last free slot both create
    a resource, and the pool holds more than ``size + max_overflow`` (check-then-act on a
    counter)."""

    concurrency = True

    def checkout(self, timeout_ns: int | None, new_waker: Callable[[], Waker]) -> Plan:
        free = not self.idle and not self.waiters and self._free_slots() > 0  # looked unlocked
        if self.closed or not free:
            return (yield from super().checkout(timeout_ns, new_waker))
        with self.lock:
            started = self.now()
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(started)
            self.creating += 1
        return (yield from self._create(started))


def _pool(core: type[PoolCore]) -> type[ResourcePool[Any]]:
    """A ``ResourcePool`` over the variant core, carrying its flag and docstring."""
    attributes = {"_core_class": core, "concurrency": True, "__doc__": core.__doc__}
    return type(f"ResourcePool_{core.__name__}", (ResourcePool,), attributes)


RACES: dict[str, Component] = {
    core.__name__: POOL.with_classes(_pool(core))
    for core in (
        WaitDecidedUnlocked,
        StaleReturnDecision,
        ValidatedBeforeTaken,
        PeekedIdleCandidate,
        SlotCheckedBeforeLock,
    )
}

#: Caught, but slowly (median about 100 programs of 5 runs; see the module docstring).
SLOW_RACES: dict[str, Component] = {
    core.__name__: POOL.with_classes(_pool(core)) for core in (UnlockedQuietReturn,)
}
