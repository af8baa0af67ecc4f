"""The bulkhead's decision core, shared by ``Bulkhead`` and ``AsyncBulkhead``.

All state lives here, behind one ``threading.Lock`` that is never held while user code runs (the
protected call, a listener). Acquiring a permit is a *plan*: a generator that makes every
decision under the lock and yields a ``Wait`` when the caller must wait for a grant; the sync
driver blocks, the async driver awaits, and both throw an interruption (cancellation included)
back in, so giving the place or the grant back is written once. A plan returns its *token*: the
instant it was admitted, which ``release`` takes back.

Accounting, always (checked by the bulkhead machine after every step): ``in_flight <=
max_concurrent`` and ``admitted == finished + in_flight``; ``free`` is not kept, ``status()``
reports ``max_concurrent - in_flight``. ``in_flight`` counts every permit out, including one
granted to a waiter that has not run yet.

Waiters queue in arrival order. A released permit goes straight to the first waiter (a *grant*),
recorded under the lock before the waiter is woken: a newcomer never overtakes a waiter, and a
wake-up cannot be missed. Hence, after every locked section, someone waits only while every permit
is out. A grant is the waiter's admission (it is counted, and announced, then). A waiter whose
deadline passes leaves the queue (``BulkheadFull``) unless it was granted a permit first; one that
is cancelled before its grant leaves the queue (``abandoned``); one cancelled after its grant,
before it could run, gives the permit back at once (counted as finished), which passes it on.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from resilience.bulkhead.config import BulkheadConfig
from resilience.clock import NS_PER_SECOND, Clock
from resilience.errors import BulkheadFull
from resilience.events import (
    BulkheadAdmitted,
    BulkheadRejected,
    BulkheadReleased,
    Event,
    Listeners,
)
from resilience.waiting import Waker

__all__ = ["BulkheadCore", "Plan", "Wait", "Waiter"]

_COUNTERS = ("admitted", "rejected", "finished", "abandoned")


class Waiter:
    """A caller queued for a permit. ``admitted_ns`` is its grant: the instant a released permit
    was given to it (``None`` while it waits)."""

    __slots__ = ("admitted_ns", "started_ns", "waker")

    def __init__(self, waker: Waker, started_ns: int) -> None:
        self.waker = waker
        self.started_ns = started_ns
        self.admitted_ns: int | None = None


class Wait:
    """Effect: block until ``waiter`` has a grant or the clock reaches ``deadline_ns``."""

    __slots__ = ("deadline_ns", "waiter")

    def __init__(self, waiter: Waiter, deadline_ns: int | None) -> None:
        self.waiter = waiter
        self.deadline_ns = deadline_ns


#: An acquisition: yields ``Wait`` effects, returns the token (the admission instant, in ns).
Plan = Generator[Wait, None, int]


class BulkheadCore:
    """State, decisions and the acquisition plan. Nothing here blocks or awaits."""

    def __init__(self, config: BulkheadConfig, clock: Clock, owner: object) -> None:
        self.config = config
        self.clock = clock
        self.now = clock.monotonic_ns
        self.max_concurrent = config.max_concurrent
        self.lock = threading.Lock()
        self.listeners = Listeners(owner)
        self.in_flight = 0  # permits out: held, or granted to a waiter that has not run yet
        self.waiters: deque[Waiter] = deque()
        self.admitted = self.rejected = self.finished = self.abandoned = 0

    # ---------------------------------------------------------------- decisions (locked)

    def _emit(self, event: Event) -> None:
        if self.listeners.active:
            self.listeners.enqueue((event,))

    def _has_free(self) -> bool:
        """A permit is free: strictly fewer than ``max_concurrent`` are out (``<``: at equality
        every permit is taken)."""
        return self.in_flight < self.max_concurrent

    def _free_for_newcomer(self) -> bool:
        """A caller arriving now may take a permit: one is free and nobody waits. (A permit is
        never free while someone waits, since a released one goes straight to the first waiter;
        "nobody waits" is tested too, so a newcomer could not take a permit a waiter is owed
        even if it were.)"""
        return not self.waiters and self._has_free()

    def _admit(self, now: int, started: int) -> int:
        """Take a free permit for a caller that arrived at ``started``; returns its token."""
        self.in_flight += 1
        self.admitted += 1
        if self.listeners.active:  # build events only for someone
            self._emit(BulkheadAdmitted(self.config.name, now, now - started))
        return now

    def _reject(self, now: int, started: int, max_wait_ns: int) -> BulkheadFull:
        self.rejected += 1
        if self.listeners.active:
            self._emit(BulkheadRejected(self.config.name, now, now - started))
        return BulkheadFull(
            self.config.name,
            max_concurrent=self.max_concurrent,
            max_wait=max_wait_ns / NS_PER_SECOND,
        )

    def _free_permit(self, now: int) -> None:
        """A permit came back: it goes to the first waiter, who is admitted now and stays in
        flight (the grant is recorded before the wake-up), else it is free."""
        if self.waiters:
            self._grant(self.waiters.popleft(), now)
        else:
            self.in_flight -= 1

    def _grant(self, waiter: Waiter, now: int) -> None:
        """Admit ``waiter`` with a permit that came back (in_flight is unchanged), then wake it:
        the grant is recorded first, so the waiter finds it whenever it looks."""
        waiter.admitted_ns = now
        self.admitted += 1
        if self.listeners.active:
            self._emit(BulkheadAdmitted(self.config.name, now, now - waiter.started_ns))
        waiter.waker.wake()

    def _claim(self, waiter: Waiter) -> int | None:
        """A woken waiter's token, if it was granted a permit."""
        return waiter.admitted_ns

    def _timed_out(self, waiter: Waiter) -> None:
        """A waiter's deadline passed with no grant: it leaves the queue."""
        self.waiters.remove(waiter)

    # ---------------------------------------------------------------- operations

    def acquire(self, max_wait_ns: int | None, new_waker: Callable[[], Waker]) -> int | Plan:
        """A permit now (its token) if one is free and nobody waits, decided in one locked
        section with no generator to drive (the common case); else the plan that waits for a
        grant (see ``_acquire``)."""
        with self.lock:
            if self._free_for_newcomer():
                now = self.now()
                return self._admit(now, now)
        return self._acquire(max_wait_ns, new_waker)

    def _acquire(self, max_wait_ns: int | None, new_waker: Callable[[], Waker]) -> Plan:
        """A permit now if one is free and nobody waits (decided again: the state may have
        changed since ``acquire`` looked); else wait for a grant until ``max_wait_ns`` has
        passed on the bulkhead's clock (``None``: no limit; ``0``: never wait), then
        ``BulkheadFull``."""
        with self.lock:
            started = self.now()
            if self._free_for_newcomer():
                return self._admit(started, started)
            if max_wait_ns == 0:
                raise self._reject(started, started, 0)
            waiter = Waiter(new_waker(), started)
            self.waiters.append(waiter)
        deadline = None if max_wait_ns is None else started + max_wait_ns
        while True:
            try:
                yield Wait(waiter, deadline)
            except BaseException:
                self.abandon(waiter)
                raise
            with self.lock:
                # A grant wins over a deadline that passed meanwhile: the permit is ours.
                token = self._claim(waiter)
                if token is not None:
                    return token
                now = self.now()
                if deadline is not None and now >= deadline:  # inclusive: the limit is reached
                    self._timed_out(waiter)
                    raise self._reject(now, started, deadline - started)

    def abandon(self, waiter: Waiter) -> None:
        """A waiter is interrupted (cancelled): it leaves the queue, or, if it was granted a
        permit, gives it back at once (admitted and finished without running), passing it on."""
        with self.lock:
            if waiter.admitted_ns is None:
                self.waiters.remove(waiter)
                self.abandoned += 1
            else:
                self._release(waiter.admitted_ns)

    def release(self, token: int) -> None:
        """Give back the permit admitted at ``token``, then deliver the events (outside the
        lock)."""
        with self.lock:
            self._release(token)
        self.deliver()

    def _release(self, token: int) -> None:
        now = self.now()
        self.finished += 1
        if self.listeners.active:
            self._emit(BulkheadReleased(self.config.name, now, now - token))
        self._free_permit(now)

    def deliver(self) -> None:
        """Deliver queued events (outside the lock)."""
        if self.listeners._pending:
            self.listeners.deliver()

    # ---------------------------------------------------------------- observation

    def _counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTERS}

    def status(self) -> dict[str, Any]:
        with self.lock:
            config = self.config
            return {
                "name": config.name,
                "max_concurrent": self.max_concurrent,
                "max_wait": config.max_wait,
                "in_flight": self.in_flight,
                "free": self.max_concurrent - self.in_flight,
                "waiting": len(self.waiters),
                **self._counts(),
            }

    def metrics(self) -> dict[str, int]:
        with self.lock:
            return self._counts()

    def describe(self) -> str:
        s = self.status()
        return (
            f"max_concurrent={s['max_concurrent']} in_flight={s['in_flight']} "
            f"waiting={s['waiting']} admitted={s['admitted']} rejected={s['rejected']} "
            f"finished={s['finished']}"
        )
