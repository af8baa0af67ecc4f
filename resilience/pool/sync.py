"""``ResourcePool``: the thread-blocking driver of the pool core."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from resilience.events import ResourceCheckedIn, ResourceCheckedOut
from resilience.pool.base import DEFAULT, PoolBase
from resilience.pool.core import IDLE, LEASED, Call, Entry, Plan, PoolCore, Wait
from resilience.waiting import ThreadWaker, wait_blocking

__all__ = ["Lease", "ResourcePool"]

R = TypeVar("R")

_new = object.__new__


def _wait(core: PoolCore, wait: Wait) -> None:
    """Block until the waiter is granted something or its deadline (on the pool's clock) passes;
    returning early is harmless (the plan re-decides)."""
    waker = wait.waiter.waker
    assert isinstance(waker, ThreadWaker)  # this driver made it
    wait_blocking(core.clock, waker, wait.deadline_ns)


def run(core: PoolCore, plan: Plan) -> Any:
    """Carry out a plan's effects in this thread; return its result or raise its error."""
    value: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                effect = plan.send(value) if error is None else plan.throw(error)
            except StopIteration as done:
                return done.value
            value = error = None
            core.deliver()
            try:
                if type(effect) is Call:
                    value = effect.fn(*effect.args)
                else:
                    _wait(core, effect)  # type: ignore[arg-type]
            except BaseException as raised:
                error = raised
    finally:
        error = None
        core.deliver()


class Lease(Generic[R]):
    """``with pool.lease() as resource:`` checks a resource out on entry and in on exit.

    Exit ends only this lease: if the resource was invalidated (``pool.invalidate(resource)``) or
    checked in by hand inside the block, exit does nothing. An exception in the block does not
    discard the resource (``reset`` still runs); invalidate it to discard it."""

    __slots__ = ("_entry", "_lease", "_pool", "_resource", "_timeout")

    def __init__(self, pool: ResourcePool[R], timeout: object) -> None:
        # ResourcePool.lease sets these without calling __init__: keep the two alike.
        self._pool = pool
        self._timeout = timeout
        self._entry: Entry | None = None  # the pool's entry, if lent by the fast path
        self._resource: Any = None  # the resource, if lent by the checkout plan
        self._lease = -1

    def __enter__(self) -> R:
        if self._lease >= 0:
            raise RuntimeError("this lease is already in use; call pool.lease() for another")
        pool = self._pool
        # Only the default timeout may skip _checkout, which validates a given one first.
        if pool._plain and self._timeout is DEFAULT:
            # The hot path of every lease: PoolCore.lend_idle, written out here to save a call
            # (keep the two alike). It keeps the entry, so exit needs no lookup.
            core = pool._core
            lock = core.lock
            lock.acquire()
            try:
                idle = core.idle
                if idle and not core.closed:
                    entry = idle.pop() if core.lifo else idle.popleft()
                    now = time.monotonic_ns() if core.system_clock else core.now()
                    entry.where = LEASED
                    self._lease = entry.lease = entry.lease + 1
                    entry.leased_ns = now
                    core.checked_out += 1
                    if core.listeners.active:
                        core._emit(ResourceCheckedOut(core.config.name, now, entry.resource, 0))
                    self._entry = entry
                else:
                    entry = None
            finally:
                lock.release()
            if entry is not None:
                if core.pending:
                    core.listeners.deliver()
                return entry.resource  # type: ignore[return-value]
        self._resource, self._lease = pool._checkout(self._timeout)
        return self._resource  # type: ignore[no-any-return]

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        pool, entry = self._pool, self._entry
        if entry is None or not pool._fast_return:  # lent by the plan, or a pool with reset
            resource = self._resource if entry is None else entry.resource
            self._entry = self._resource = None
            pool._checkin(resource, self._lease)
            return
        self._entry = None
        # The hot path of every lease: PoolCore.return_lent and return_entry, written out here
        # to save two calls (keep them alike). The entry is ours: no lookup, but it must still
        # be lent under our lease number, or our lease has ended already (nothing to do).
        core = pool._core
        doomed: list[Entry] | None = None
        lock = core.lock
        lock.acquire()
        try:
            if entry.where == LEASED and entry.lease == self._lease:
                core.checked_in += 1
                listening = core.listeners.active
                if (
                    listening
                    or core.closed
                    or core.waiters
                    or (core.may_overflow and len(core.owned) > core.size)
                ):
                    doomed = []
                    now = core.now()
                    if listening:
                        held = now - entry.leased_ns
                        core._emit(ResourceCheckedIn(core.config.name, now, entry.resource, held))
                    core._place(entry, now, doomed)
                else:  # _place's last case: see return_entry
                    entry.where = IDLE
                    core.idle.append(entry)
        finally:
            lock.release()
        if doomed:
            run(core, core.destroy(doomed))  # delivers the events too
        elif core.pending:
            core.listeners.deliver()


class ResourcePool(PoolBase, Generic[R]):
    """A pool of resources made by ``factory()``, lent to one thread at a time.

    See the README's "Resource pool" section for the semantics of every parameter."""

    _async = False

    def __init__(
        self,
        factory: Callable[[], R],
        *,
        size: int,
        max_overflow: int = 0,
        timeout: object = None,
        lifo: bool = True,
        validate: Callable[[R], object] | None = None,
        reset: Callable[[R], object] | None = None,
        destroy: Callable[[R], object] | None = None,
        max_lifetime: object = None,
        max_idle: object = None,
        leak_threshold: object = None,
        name: str | None = None,
        clock: object = None,
    ) -> None:
        self._setup(locals())

    def lease(self, timeout: object = DEFAULT) -> Lease[R]:
        """A context manager lending one resource for the ``with`` block (the normal way in)."""
        # Lease(self, timeout), written out: calling the class (and so __init__) would cost some
        # 30-40 ns more, on the hot path of every lease.
        lease: Lease[R] = _new(Lease)
        lease._pool = self
        lease._timeout = timeout
        lease._entry = lease._resource = None
        lease._lease = -1
        return lease

    def checkout(self, timeout: object = DEFAULT) -> R:
        """Borrow a resource; give it back with ``checkin`` (or ``invalidate``). ``timeout``:
        seconds to wait when none is free (default: the pool's; ``None``: no limit; ``0``: fail
        at once) before ``PoolTimeout``."""
        return self._checkout(timeout)[0]  # type: ignore[no-any-return]

    def _checkout(self, timeout: object) -> tuple[Any, int]:
        core = self._core
        timeout_ns = self._timeout_ns(timeout)
        if self._plain:
            lent = core.lend_idle()
            if lent is not None:
                core.deliver()
                return lent[0].resource, lent[1]
        return run(core, core.checkout(timeout_ns, ThreadWaker))  # type: ignore[no-any-return]

    def checkin(self, resource: R) -> None:
        """Give back a resource from ``checkout``: ``PoolError`` if it is not lent out now."""
        self._checkin(resource, None)

    def _checkin(self, resource: object, lease: int | None) -> None:
        core = self._core
        if not self._fast_return:
            run(core, core.checkin(resource, lease))
            return
        doomed = core.return_lent(resource, lease)
        if doomed:
            run(core, core.destroy(doomed))  # delivers the events too
        else:
            core.deliver()

    def invalidate(self, resource: R) -> None:
        """Destroy a lent resource instead of giving it back; its slot is free again."""
        run(self._core, self._core.invalidate(resource))

    def close(self) -> None:
        """Destroy idle resources now and lent ones when they come back; every waiting and later
        checkout raises ``PoolClosed``. Idempotent."""
        run(self._core, self._core.close())

    def __enter__(self) -> ResourcePool[R]:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.close()
