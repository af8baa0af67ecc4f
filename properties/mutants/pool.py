"""Planted bugs in the pool's decision core, each a small variant standing for a real slip
(see ../shared/notes/bug-classes.md items 17-21). ``POOL_MUTANTS`` maps a name to
(asynchronous target?, pool class); the core variant is plugged in through ``_core_class``."""

from __future__ import annotations

from collections import deque
from typing import Any

from resilience import AsyncResourcePool, ResourcePool
from resilience.pool.core import IDLE, Entry, PoolCore, Waiter

__all__ = ["POOL_MUTANTS"]


class DoubleCheckinAccepted(PoolCore):
    """Check-in of an idle resource is taken as a normal return (class 21: released twice)."""

    def leased_entry(self, resource: object) -> Entry:
        entry = self.owned.get(id(resource))
        if entry is not None and entry.resource is resource and entry.where == IDLE:
            self.idle.remove(entry)
            entry.where = "leased"
            return entry
        return super().leased_entry(resource)


class OverflowKeptIdle(PoolCore):
    """Returned overflow resources are kept idle: the pool never shrinks back to ``size``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.size = self.config.capacity


class FactoryFailureLeaksSlot(PoolCore):
    """A raising factory keeps its reserved slot (class 21: a permit never released)."""

    def _create(self, started: int) -> Any:
        try:
            return (yield from super()._create(started))
        except Exception:
            with self.lock:
                self.creating += 1
            raise


class ExpiredHandedOut(PoolCore):
    """Idle resources past ``max_lifetime`` / ``max_idle`` are lent anyway."""

    def _expired(self, entry: Entry, now: int) -> str | None:
        return None


class LifoFifoSwapped(PoolCore):
    """The idle order is the opposite of the one configured."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lifo = not self.lifo


class CancelledCreateKeepsSlot(PoolCore):
    """A checkout cancelled while its factory runs keeps the slot (class 17: cancelled between
    "acquired" and "owned")."""

    def _create(self, started: int) -> Any:
        try:
            return (yield from super()._create(started))
        except BaseException as error:
            if not isinstance(error, Exception):
                with self.lock:
                    self.creating += 1
            raise


class CancelledValidationLosesResource(PoolCore):
    """A checkout cancelled mid-validation forgets to put the resource back (class 18: a lost
    connection)."""

    def _release(self, step: Any, granted: bool) -> Any:
        if isinstance(step, Entry):
            return
            yield  # a generator, like the original
        yield from super()._release(step, granted)


class CancelledWaiterKeepsSlot(PoolCore):
    """A waiter cancelled after something was granted to it drops the grant instead of passing it
    on (class 17: the returned connection, or the reserved slot, is lost with the task)."""

    def _abandon(self, waiter: Waiter) -> Any:
        with self.lock:
            if waiter.grant is None:
                self.waiters.remove(waiter)
        return
        yield  # a generator, like the original


class GrantWithoutWakeUp(PoolCore):
    """A grant is recorded for the first waiter, but the waiter is never woken (class 19: the
    notify is missed; the waiter sleeps until its deadline, here forever)."""

    def _grant(self, grant: Any) -> None:
        self.waiters.popleft().grant = grant


class ReturnIgnoresWaiters(PoolCore):
    """A returned resource goes back to the idle list while someone waits (class 19: the
    check-in neither hands it over nor wakes anyone)."""

    def _place(self, entry: Entry, now: int, doomed: list[Entry]) -> None:
        waiters, self.waiters = self.waiters, deque()
        try:
            super()._place(entry, now, doomed)
        finally:
            self.waiters = waiters


class QuietReturnKeepsOverflow(PoolCore):
    """The fast return's quiet branch (nobody listening, nobody waiting, open) forgets the
    overflow test: an overflow resource is kept idle, but only when nobody listens (a fast path
    that drifted from the plan it mirrors)."""

    def return_entry(self, entry: Entry) -> list[Entry] | None:
        if self.listeners.active or self.closed or self.waiters:
            return super().return_entry(entry)
        self.checked_in += 1
        entry.where = IDLE
        self.idle.append(entry)
        return None


def _sync(core: type[PoolCore]) -> type:
    return type(f"ResourcePool_{core.__name__}", (ResourcePool,), {"_core_class": core})


def _async(core: type[PoolCore]) -> type:
    return type(f"AsyncResourcePool_{core.__name__}", (AsyncResourcePool,), {"_core_class": core})


POOL_MUTANTS: dict[str, tuple[bool, type]] = {
    **{core.__name__: (False, _sync(core)) for core in (
        DoubleCheckinAccepted, OverflowKeptIdle, FactoryFailureLeaksSlot, ExpiredHandedOut,
        LifoFifoSwapped, QuietReturnKeepsOverflow)},
    **{core.__name__: (True, _async(core)) for core in (
        CancelledCreateKeepsSlot, CancelledValidationLosesResource, CancelledWaiterKeepsSlot,
        GrantWithoutWakeUp, ReturnIgnoresWaiters)},
}  # fmt: skip
