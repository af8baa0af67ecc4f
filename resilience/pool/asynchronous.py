"""``AsyncResourcePool``: the asyncio driver of the pool core (the same plans, awaited)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from resilience.pool.base import DEFAULT, PoolBase
from resilience.pool.core import LEASED, Call, Entry, Plan, PoolCore, Wait
from resilience.waiting import FutureWaker, wait_async

__all__ = ["AsyncLease", "AsyncResourcePool"]

R = TypeVar("R")


async def _wait(core: PoolCore, wait: Wait) -> None:
    """Until the waiter is granted something or its deadline (on the pool's clock) passes.
    With the system clock the loop's timer measures the deadline; with any other clock, the
    clock's own ``asleep`` does (a frozen clock advances its time)."""
    waker = wait.waiter.waker
    assert isinstance(waker, FutureWaker)  # this driver made it
    await wait_async(core.clock, waker, wait.deadline_ns)


async def run(core: PoolCore, plan: Plan) -> Any:
    """Carry out a plan's effects on the running loop (awaiting callbacks that return
    awaitables); cancellation is thrown into the plan, which cleans up and re-raises it."""
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
                    if inspect.isawaitable(value):
                        value = await value
                else:
                    await _wait(core, effect)  # type: ignore[arg-type]
            except BaseException as raised:
                error = raised
    finally:
        error = None
        core.deliver()


class AsyncLease(Generic[R]):
    """``async with pool.lease() as resource:``; see ``Lease``."""

    __slots__ = ("_entry", "_lease", "_pool", "_resource", "_timeout")

    def __init__(self, pool: AsyncResourcePool[R], timeout: object) -> None:
        self._pool = pool
        self._timeout = timeout
        self._entry: Entry | None = None  # the pool's entry, if lent by the fast path
        self._resource: Any = None  # the resource, if lent by the checkout plan
        self._lease = -1

    async def __aenter__(self) -> R:
        if self._lease >= 0:
            raise RuntimeError("this lease is already in use; call pool.lease() for another")
        pool = self._pool
        # As Lease.__enter__ (without awaiting anything, so nothing can cancel it midway): only
        # the default timeout may skip _checkout, which validates a given one first.
        if pool._plain and self._timeout is DEFAULT:
            core = pool._core
            lent = core.lend_idle()
            if lent is not None:
                self._entry, self._lease = lent
                core.deliver()
                return lent[0].resource  # type: ignore[return-value]
        self._resource, self._lease = await pool._checkout(self._timeout)
        return self._resource  # type: ignore[no-any-return]

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        pool, entry = self._pool, self._entry
        core = pool._core
        if entry is None or not pool._fast_return:  # lent by the plan, or a pool with reset
            resource = self._resource if entry is None else entry.resource
            self._entry = self._resource = None
            await run(core, core.checkin(resource, self._lease))
            return
        self._entry = None
        # As Lease.__exit__: the entry is ours, but it must still be lent under our lease
        # number, or our lease has ended already (nothing to do).
        doomed = None
        with core.lock:
            if entry.where == LEASED and entry.lease == self._lease:
                doomed = core.return_entry(entry)
        if doomed:
            await run(core, core.destroy(doomed))  # delivers the events too
        else:
            core.deliver()


class AsyncResourcePool(PoolBase, Generic[R]):
    """``ResourcePool`` for asyncio: the same semantics and core; ``factory``, ``validate``,
    ``reset`` and ``destroy`` may be plain or async callables. Cancelling a task anywhere in a
    checkout, a lease's entry or its exit leaks nothing (see the README)."""

    _async = True

    def __init__(
        self,
        factory: Callable[[], Any],
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

    def lease(self, timeout: object = DEFAULT) -> AsyncLease[R]:
        """An async context manager lending one resource for the block."""
        return AsyncLease(self, timeout)

    async def checkout(self, timeout: object = DEFAULT) -> R:
        """Borrow a resource (see ``ResourcePool.checkout``)."""
        return (await self._checkout(timeout))[0]  # type: ignore[no-any-return]

    async def _checkout(self, timeout: object) -> tuple[Any, int]:
        core = self._core
        return await run(core, core.checkout(self._timeout_ns(timeout), FutureWaker))  # type: ignore[no-any-return]

    async def checkin(self, resource: R) -> None:
        """Give back a resource from ``checkout``: ``PoolError`` if it is not lent out now."""
        await run(self._core, self._core.checkin(resource))

    async def invalidate(self, resource: R) -> None:
        """Destroy a lent resource instead of giving it back; its slot is free again."""
        await run(self._core, self._core.invalidate(resource))

    async def close(self) -> None:
        """See ``ResourcePool.close``."""
        await run(self._core, self._core.close())

    async def __aenter__(self) -> AsyncResourcePool[R]:
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.close()
