"""The pool's decision core, shared by ``ResourcePool`` and ``AsyncResourcePool``.

All state lives here, behind one ``threading.Lock`` that is never held while user code runs.
Each operation is a *plan*: a generator that makes every decision under the lock and yields the
effects a driver must carry out in between (call the factory, ``validate``, ``reset`` or
``destroy``; wait for a grant). The sync driver calls and blocks; the async driver awaits. Both
send the outcome back in (or throw the exception, cancellation included), so the bookkeeping after
an effect is written once. Between an effect's outcome and the bookkeeping there is no await and
no user code: a resource is never acquired without being owned (bug class 17).

Accounting, always (checked by the pool machine after every step):
``created - destroyed == idle + in_use``, ``in_use <= size + max_overflow``, ``idle <= size``.
``in_use`` counts every resource out of the idle list: lent out, or being validated, reset or
handed to a waiter. A factory call in flight holds a slot (``creating``) but is not a resource yet.

Waiters queue in arrival order. Whatever frees up while anyone waits goes straight to the first
waiter (a *grant*): a returned resource, or a permit to create one in a freed slot. So a newcomer
never overtakes a waiter, and a waiter cannot miss a wake-up: the grant is recorded under the lock
before the waiter is woken, and a waiter that times out, is cancelled or fails passes its grant on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from resilience.clock import NS_PER_SECOND, Clock, SystemClock
from resilience.errors import PoolClosed, PoolError, PoolTimeout
from resilience.events import (
    CheckoutTimedOut,
    CreateFailed,
    DestroyFailed,
    Event,
    LeaseLeaked,
    Listeners,
    ResourceCheckedIn,
    ResourceCheckedOut,
    ResourceCreated,
    ResourceDestroyed,
)
from resilience.pool.config import PoolConfig
from resilience.waiting import Waker  # shared with the bulkhead (and importable from here)

__all__ = ["CREATE", "Call", "Entry", "PoolCore", "Wait", "Waiter", "Waker"]

log = logging.getLogger("resilience.pool")

# Where an entry is.
IDLE, OUT, LEASED, RETURNING, GONE = "idle", "out", "leased", "returning", "gone"


class Entry:
    """One resource the pool owns, with its timestamps and lease number."""

    __slots__ = ("created_ns", "lease", "leased_ns", "resource", "returned_ns", "where")

    def __init__(self, resource: object, now: int) -> None:
        self.resource = resource
        self.created_ns = now
        self.returned_ns = now  # when it last became idle (or was created)
        self.leased_ns = now
        self.lease = 0  # incremented by every checkout: a Lease ends only its own lease
        self.where = OUT


class _Create:
    def __repr__(self) -> str:
        return "CREATE"


class _Closed:
    def __repr__(self) -> str:
        return "CLOSED"


CREATE = _Create()  # a grant: a slot is reserved for you; call the factory
CLOSED = _Closed()  # a grant: the pool closed while you waited


class Waiter:
    __slots__ = ("grant", "waker")

    def __init__(self, waker: Waker) -> None:
        self.waker = waker
        self.grant: Entry | _Create | _Closed | None = None


class Call:
    """Effect: call ``fn(*args)`` (awaiting the result in the async driver) and send it back."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., Any], *args: object) -> None:
        self.fn = fn
        self.args = args


class Wait:
    """Effect: block until ``waiter`` has a grant or the clock reaches ``deadline_ns``."""

    __slots__ = ("deadline_ns", "waiter")

    def __init__(self, waiter: Waiter, deadline_ns: int | None) -> None:
        self.waiter = waiter
        self.deadline_ns = deadline_ns


Effect = Call | Wait
Plan = Generator[Effect, Any, Any]

_COUNTERS = (
    "created",
    "destroyed",
    "checked_out",
    "checked_in",
    "timeouts",
    "invalidated",
    "leaked",
    "expired",
    "failed_validations",
    "failed_resets",
    "failed_creates",
    "failed_destroys",
)


class PoolCore:
    """State, decisions and plans. Drivers call the plans; nothing here blocks or awaits."""

    def __init__(self, config: PoolConfig, clock: Clock, owner: object) -> None:
        self.config = config
        self.clock = clock
        self.now = clock.monotonic_ns
        # Hot paths read time.monotonic_ns directly for the system clock (looked up at call time,
        # so freezegun still controls it): the same reading, one frame less.
        self.system_clock = type(clock) is SystemClock
        self.lifo = config.lifo
        self.size = config.size
        self.lock = threading.Lock()
        self.listeners = Listeners(owner)
        self.pending = self.listeners._pending  # its queue (never replaced), for hot-path tests
        # Without overflow a pool never holds more than ``size`` resources: a return cannot be
        # overflow, and the hot paths skip counting.
        self.may_overflow = config.max_overflow > 0
        self.idle: deque[Entry] = deque()  # returned last on the right
        # id(resource) -> entry, for every resource the pool holds (idle or not): in use is
        # len(owned) - len(idle), and lending or returning an idle resource touches no dict.
        self.owned: dict[int, Entry] = {}
        self.creating = 0  # factory calls in flight, each holding a slot
        self.waiters: deque[Waiter] = deque()
        self.unreported: dict[Entry, None] = {}  # leases not yet reported as leaked, oldest first
        self.closed = False
        self.created = self.destroyed = self.checked_out = self.checked_in = 0
        self.timeouts = self.invalidated = self.leaked = self.expired = 0
        self.failed_validations = self.failed_resets = self.failed_creates = 0
        self.failed_destroys = 0

    # ---------------------------------------------------------------- small helpers (locked)

    def _emit(self, event: Event) -> None:
        if self.listeners.active:
            self.listeners.enqueue((event,))

    def _free_slots(self) -> int:
        return self.config.capacity - len(self.owned) - self.creating

    def _expired(self, entry: Entry, now: int) -> str | None:
        """Why ``entry`` may no longer be lent: past its lifetime, or idle for too long. Both are
        strict: a resource exactly ``max_lifetime`` old may still be lent."""
        config = self.config
        if config.max_lifetime_ns is not None and now - entry.created_ns > config.max_lifetime_ns:
            return "max_lifetime"
        if config.max_idle_ns is not None and now - entry.returned_ns > config.max_idle_ns:
            return "max_idle"
        return None

    def _drop(self, entry: Entry, now: int, reason: str, error: BaseException | None) -> Entry:
        """Forget ``entry`` (out of the idle list already, or in ``out``); the caller then yields
        from ``destroy`` outside the lock. Returns it for that purpose."""
        del self.owned[id(entry.resource)]
        entry.where = GONE
        self.unreported.pop(entry, None)
        self.destroyed += 1
        if reason in ("max_lifetime", "max_idle"):
            self.expired += 1
        self._emit(ResourceDestroyed(self.config.name, now, entry.resource, reason, error))
        return entry

    def _take_idle(self) -> Entry:
        entry = self.idle.pop() if self.lifo else self.idle.popleft()
        entry.where = OUT
        return entry

    def _restore_idle(self, entry: Entry) -> None:
        """Put back an idle entry a cancelled checkout took, where it was, timestamps unchanged."""
        entry.where = IDLE
        if self.lifo:
            self.idle.append(entry)
        else:
            self.idle.appendleft(entry)

    def _place(self, entry: Entry, now: int, doomed: list[Entry]) -> None:
        """A resource (in ``out``) is free again: to the first waiter, to the idle list, or
        destroyed. There are four cases, in this order:

        * the pool is closed, or the resource is past its lifetime: destroy it;
        * someone waits: hand it over as it is (it stays in use);
        * the pool holds more than ``size`` resources: it is overflow, destroy it;
        * otherwise it becomes idle (the newest: LIFO lends it next, FIFO last).
        """
        config = self.config
        if self.closed:
            doomed.append(self._drop(entry, now, "closed", None))
        elif config.max_lifetime_ns is not None and now - entry.created_ns > config.max_lifetime_ns:
            doomed.append(self._drop(entry, now, "max_lifetime", None))
        elif self.waiters:
            entry.where = OUT
            entry.returned_ns = now
            self._grant(entry)
        elif len(self.owned) > self.size:
            doomed.append(self._drop(entry, now, "overflow", None))
        else:
            entry.where = IDLE
            entry.returned_ns = now
            self.idle.append(entry)
        self._dispatch()

    def _grant(self, grant: Entry | _Create | _Closed) -> None:
        waiter = self.waiters.popleft()
        waiter.grant = grant
        waiter.waker.wake()

    def _dispatch(self) -> None:
        """Give whatever is free to the waiters, first come first served. Keeps the invariant
        "someone waits => nothing is idle and no slot is free" after every locked section."""
        while self.waiters:
            if self.closed:
                self._grant(CLOSED)
            elif self.idle:
                self._grant(self._take_idle())
            elif self._free_slots() > 0:
                self.creating += 1
                self._grant(CREATE)
            else:
                return

    def _lend(self, entry: Entry, now: int, started: int) -> tuple[Any, int]:
        """Lend ``entry``: returns the resource and its lease number."""
        entry.where = LEASED
        entry.lease += 1
        entry.leased_ns = now
        self.checked_out += 1
        if self.config.leak_threshold_ns is not None:
            self.unreported[entry] = None
        self._emit(ResourceCheckedOut(self.config.name, now, entry.resource, now - started))
        return entry.resource, entry.lease

    def scan_leaks(self, now: int) -> None:
        """Report every lease held longer than ``leak_threshold`` that is not reported yet."""
        threshold = self.config.leak_threshold_ns
        unreported = self.unreported
        while unreported:
            oldest = next(iter(unreported))
            held = now - oldest.leased_ns
            if held <= threshold:  # type: ignore[operator]
                return
            del unreported[oldest]
            self.leaked += 1
            self._emit(LeaseLeaked(self.config.name, now, oldest.resource, held))

    def leased_entry(self, resource: object) -> Entry:
        """The entry of a resource that is lent out now, or ``PoolError`` saying why not."""
        entry = self.owned.get(id(resource))
        if entry is not None and entry.resource is resource and entry.where == LEASED:
            return entry
        if entry is not None and entry.resource is resource and entry.where == IDLE:
            why = "it is idle in the pool (double check-in)"
        elif entry is not None and entry.resource is resource and entry.where == RETURNING:
            why = "it is being returned already (double check-in)"
        elif entry is not None and entry.resource is resource:
            why = "it is not lent out (a checkout is still vetting it)"
        else:
            why = "the pool did not lend it, or it was invalidated or destroyed"
        raise PoolError(f'cannot check {resource!r} in to pool "{self.config.name}": {why}')

    # ---------------------------------------------------------------- the common case, in one go

    @property
    def plain(self) -> bool:
        """No ``validate``, expiry or leak threshold: lending an idle resource needs no checks."""
        config = self.config
        return (
            config.validate is None
            and config.max_lifetime_ns is None
            and config.max_idle_ns is None
            and config.leak_threshold_ns is None
        )

    def lend_idle(self) -> tuple[Entry, int] | None:
        """The first step of the checkout plan when it cannot wait, call or destroy anything: in
        a plain pool (see ``plain``) with an idle resource, lend it (returns its entry and the
        lease number). Otherwise ``None``: run the plan. (With an idle resource nobody waits, so
        nobody is overtaken.) Written out flat: this is the hot path of every checkout.
        ``Lease.__enter__`` carries a copy of this body (one call less per lease): keep the two
        alike."""
        lock = self.lock
        lock.acquire()
        try:
            idle = self.idle
            if not idle or self.closed:
                return None
            entry = idle.pop() if self.lifo else idle.popleft()
            now = time.monotonic_ns() if self.system_clock else self.now()
            entry.where = LEASED
            lease = entry.lease = entry.lease + 1
            entry.leased_ns = now
            self.checked_out += 1
            if self.listeners.active:
                self._emit(ResourceCheckedOut(self.config.name, now, entry.resource, 0))
            return entry, lease
        finally:
            lock.release()

    def return_lent(self, resource: object, lease: int | None) -> list[Entry] | None:
        """The whole checkin plan in a plain pool without ``reset``: returns the entries the
        caller must still destroy (``destroy``), or ``None`` if there are none. With ``lease``,
        only that lease is ended, as in the plan."""
        lock = self.lock
        lock.acquire()
        try:
            entry = self.owned.get(id(resource))
            if entry is None or entry.where != LEASED or entry.resource is not resource:
                if lease is not None:
                    return None  # this lease ended already: nothing to do
                self.leased_entry(resource)  # raises PoolError, saying why
            assert entry is not None
            if lease is not None and entry.lease != lease:
                return None
            return self.return_entry(entry)
        finally:
            lock.release()

    def return_entry(self, entry: Entry) -> list[Entry] | None:
        """(Locked.) Take back ``entry``, leased now, without ``reset``: ``_place`` it (returns
        the entries to destroy) or, in the common case, make it idle again (returns ``None``).
        ``Lease.__exit__`` carries a copy of this body (one call less per lease): keep the two
        alike."""
        self.checked_in += 1
        listening = self.listeners.active
        if (
            listening
            or self.closed
            or self.waiters
            or (self.may_overflow and len(self.owned) > self.size)
        ):
            doomed: list[Entry] = []
            now = self.now()
            if listening:
                held = now - entry.leased_ns
                self._emit(ResourceCheckedIn(self.config.name, now, entry.resource, held))
            self._place(entry, now, doomed)
            return doomed
        # _place's last case (back to the idle list) without its checks, all false here, and
        # without its timestamp: a plain pool has no max_idle to read it.
        entry.where = IDLE
        self.idle.append(entry)
        return None

    # ---------------------------------------------------------------- effects with bookkeeping

    def destroy(self, entries: list[Entry]) -> Plan:
        """Call ``destroy`` on entries already forgotten (counted as destroyed). A failure is
        logged and reported as ``DestroyFailed``, never raised: the resource is gone either way.
        Cancellation (or any ``BaseException``) is reported the same way, the remaining entries
        are still destroyed, and then it propagates."""
        destroy = self.config.destroy
        if destroy is None:
            return
        interrupted: BaseException | None = None
        for entry in entries:
            try:
                yield Call(destroy, entry.resource)
            except BaseException as error:
                if not isinstance(error, Exception):
                    interrupted = interrupted or error
                log.warning('pool "%s": destroy(%r) raised', self.config.name, entry.resource,
                            exc_info=True)  # fmt: skip
                with self.lock:
                    self.failed_destroys += 1
                    self._emit(DestroyFailed(self.config.name, self.now(), entry.resource, error))
        if interrupted is not None:
            raise interrupted

    def deliver(self) -> None:
        if self.pending:
            self.listeners.deliver()

    # ---------------------------------------------------------------- plans

    def checkout(
        self, timeout_ns: int | None, new_waker: Callable[[], Waker]
    ) -> Generator[Effect, Any, Any]:
        """Lend a resource (returns it and its lease number): a valid idle one, else a new one
        in a free slot, else wait for one until ``timeout_ns`` has passed on the pool's clock
        (then ``PoolTimeout``)."""
        with self.lock:
            started = self.now()
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(started)
        deadline = None if timeout_ns is None else started + timeout_ns
        waiter: Waiter | None = None
        while True:
            doomed: list[Entry] = []
            refused: PoolError | None = None
            with self.lock:
                now = self.now()
                previous = waiter
                try:
                    step, waiter = self._next_step(
                        waiter, deadline, started, now, doomed, new_waker
                    )
                except PoolError as error:  # closed or timed out: still destroy what we dropped
                    refused = error
            if refused is not None:
                yield from self.destroy(doomed)
                raise refused
            granted = previous is not None and previous.grant is step
            try:
                yield from self.destroy(doomed)
            except BaseException:  # interrupted: give back what this step reserved
                yield from self._release(step, granted)
                raise
            if step is CREATE:
                return (yield from self._create(started))
            if isinstance(step, Entry):
                lent = yield from self._vet(step, started, granted)
                if lent is not None:
                    return lent
                continue
            # Wait for a grant (or the deadline); the next step reads what happened.
            try:
                yield Wait(step, deadline)  # type: ignore[arg-type]
            except BaseException:
                yield from self._release(step, granted)
                raise

    def _release(self, step: Entry | _Create | Waiter, granted: bool) -> Plan:
        """An interrupted checkout gives back what its step reserved, as if it had never come:
        a waiter leaves the queue (passing on any grant), a reserved slot is freed, an entry
        taken from the idle list goes back where it was (a granted one is placed afresh)."""
        if isinstance(step, Waiter):
            yield from self._abandon(step)
            return
        doomed: list[Entry] = []
        with self.lock:
            if step is CREATE:
                self.creating -= 1
                self._dispatch()
            elif granted or self.closed:
                self._place(step, self.now(), doomed)  # type: ignore[arg-type]
            else:
                self._restore_idle(step)  # type: ignore[arg-type]
                self._dispatch()
        yield from self.destroy(doomed)

    def _next_step(
        self,
        waiter: Waiter | None,
        deadline: int | None,
        started: int,
        now: int,
        doomed: list[Entry],
        new_waker: Callable[[], Waker],
    ) -> tuple[Entry | _Create | Waiter, Waiter | None]:
        """The checkout's next move, decided under the lock: an entry to vet, ``CREATE`` (a slot
        is reserved), or a waiter to wait on; raises ``PoolClosed`` or ``PoolTimeout``."""
        if waiter is not None:
            grant = waiter.grant
            if grant is None:  # woken by the deadline (or a spurious wake-up)
                if self.closed:
                    self.waiters.remove(waiter)
                    raise self._closed_error()
                if deadline is not None and now >= deadline:
                    self.waiters.remove(waiter)
                    raise self._timeout(started, now, deadline)
                return waiter, waiter
            if grant is CLOSED:
                raise self._closed_error()
            if grant is CREATE:
                return CREATE, None
            assert isinstance(grant, Entry)
            reason = self._expired(grant, now)
            if reason is None:
                return grant, None
            doomed.append(self._drop(grant, now, reason, None))
            # Its slot is free now, and still ours: go on below (no waiter is ahead of us).
        if self.closed:
            raise self._closed_error()
        while self.idle:
            entry = self._take_idle()
            reason = self._expired(entry, now)
            if reason is None:
                return entry, None
            doomed.append(self._drop(entry, now, reason, None))
        if self._free_slots() > 0:
            self.creating += 1
            return CREATE, None
        if deadline is not None and now >= deadline:
            raise self._timeout(started, now, deadline)
        waiter = Waiter(new_waker())
        self.waiters.append(waiter)
        return waiter, waiter

    def _closed_error(self) -> PoolClosed:
        return PoolClosed(f'pool "{self.config.name}" is closed')

    def _timeout(self, started: int, now: int, deadline: int) -> PoolTimeout:
        self.timeouts += 1
        self._emit(CheckoutTimedOut(self.config.name, now, now - started))
        config = self.config
        return PoolTimeout(
            config.name,
            size=config.size,
            max_overflow=config.max_overflow,
            timeout=(deadline - started) / NS_PER_SECOND,
        )

    def _abandon(self, waiter: Waiter) -> Plan:
        """A waiter leaves (cancelled, or interrupted) and passes on whatever it was granted."""
        doomed: list[Entry] = []
        with self.lock:
            grant = waiter.grant
            if grant is None:
                self.waiters.remove(waiter)
            elif grant is CREATE:
                self.creating -= 1
                self._dispatch()
            elif isinstance(grant, Entry):
                self._place(grant, self.now(), doomed)
        yield from self.destroy(doomed)

    def _vet(
        self, entry: Entry, started: int, granted: bool
    ) -> Generator[Effect, Any, tuple[Any, int] | None]:
        """Validate a candidate (out of the idle list, or ``granted`` to us while we waited);
        lend it or destroy it."""
        validate = self.config.validate
        error: BaseException | None = None
        valid = True
        if validate is not None:
            try:
                valid = bool((yield Call(validate, entry.resource)))
            except Exception as raised:
                valid, error = False, raised
            except BaseException:  # cancelled mid-validation: as if this checkout never took it
                yield from self._release(entry, granted)
                raise
        doomed = []
        with self.lock:
            now = self.now()
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

    def _create(self, started: int) -> Generator[Effect, Any, Any]:
        """Call the factory in the slot reserved for us; lend what it makes."""
        try:
            resource = yield Call(self.config.factory)
        except BaseException as error:
            with self.lock:
                self.creating -= 1
                if isinstance(error, Exception):
                    self.failed_creates += 1
                    self._emit(CreateFailed(self.config.name, self.now(), error))
                self._dispatch()
            raise
        doomed: list[Entry] = []
        with self.lock:
            self.creating -= 1
            now = self.now()
            known = self.owned.get(id(resource))
            if known is not None and known.resource is resource:
                self._dispatch()
                duplicate = PoolError(
                    f'pool "{self.config.name}": the factory returned {resource!r}, '
                    "which the pool already holds"
                )
                self.failed_creates += 1
                self._emit(CreateFailed(self.config.name, now, duplicate))
                raise duplicate
            entry = Entry(resource, now)
            self.owned[id(resource)] = entry
            self.created += 1
            self._emit(ResourceCreated(self.config.name, now, resource))
            if not self.closed:
                return self._lend(entry, now, started)
            doomed.append(self._drop(entry, now, "closed", None))
        yield from self.destroy(doomed)
        raise self._closed_error()

    def checkin(self, resource: object, lease: int | None = None) -> Plan:
        """Take a lent resource back: ``reset`` it, then hand it to a waiter, keep it idle or
        destroy it (see ``_place``). With ``lease``, only that lease is ended (a ``Lease`` exiting
        after its resource was invalidated or checked in by hand does nothing)."""
        with self.lock:
            now = self.now()
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(now)
            if lease is not None:
                entry = self.owned.get(id(resource))
                if entry is None or entry.where != LEASED or entry.lease != lease:
                    return
            entry = self.leased_entry(resource)
            entry.where = RETURNING
            self.unreported.pop(entry, None)
            self.checked_in += 1
            self._emit(ResourceCheckedIn(self.config.name, now, resource, now - entry.leased_ns))
        reset = self.config.reset
        failure: BaseException | None = None
        interrupted: BaseException | None = None
        if reset is not None:
            try:
                yield Call(reset, resource)
            except Exception as error:
                failure = error
                log.warning(
                    'pool "%s": reset(%r) raised', self.config.name, resource, exc_info=True
                )
            except BaseException as error:  # cancelled mid-reset: the resource is in doubt
                failure = interrupted = error
        doomed: list[Entry] = []
        with self.lock:
            now = self.now()
            if failure is not None:
                self.failed_resets += 1
                doomed.append(self._drop(entry, now, "reset failed", failure))
                self._dispatch()
            else:
                self._place(entry, now, doomed)
        yield from self.destroy(doomed)
        if interrupted is not None:
            raise interrupted

    def invalidate(self, resource: object) -> Plan:
        """Destroy a lent resource instead of returning it; its slot is free again."""
        with self.lock:
            now = self.now()
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(now)
            entry = self.leased_entry(resource)
            self.invalidated += 1
            doomed = [self._drop(entry, now, "invalidated", None)]
            self._dispatch()
        yield from self.destroy(doomed)

    def close(self) -> Plan:
        """Destroy idle resources now, lent ones when they come back; fail every waiter and
        every later checkout with ``PoolClosed``. Idempotent."""
        with self.lock:
            now = self.now()
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(now)
            self.closed = True
            doomed = [self._drop(entry, now, "closed", None) for entry in self.idle]
            self.idle.clear()
            self._dispatch()
        yield from self.destroy(doomed)

    def check_leaks(self) -> None:
        with self.lock:
            if self.config.leak_threshold_ns is not None:
                self.scan_leaks(self.now())

    # ---------------------------------------------------------------- observation

    def status(self) -> dict[str, Any]:
        with self.lock:
            config = self.config
            return {
                "name": config.name,
                "size": config.size,
                "max_overflow": config.max_overflow,
                "idle": len(self.idle),
                "in_use": len(self.owned) - len(self.idle),
                "creating": self.creating,
                "waiting": len(self.waiters),
                "closed": self.closed,
                **self._counts(),
            }

    def _counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNTERS}

    def metrics(self) -> dict[str, int]:
        with self.lock:
            return self._counts()

    def describe(self) -> str:
        s = self.status()
        return (
            f"size={s['size']} max_overflow={s['max_overflow']} idle={s['idle']} "
            f"in_use={s['in_use']} creating={s['creating']} waiting={s['waiting']} "
            f"created={s['created']} "
            f"destroyed={s['destroyed']}" + (" closed" if s["closed"] else "")
        )
