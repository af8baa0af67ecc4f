"""``ResourcePool``: the thread-blocking driver of the pool core."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

from resilience.clock import NS_PER_SECOND, SystemClock
from resilience.pool.base import DEFAULT, PoolBase
from resilience.pool.core import Call, Plan, PoolCore, Wait, Waker

__all__ = ["Lease", "ResourcePool"]

R = TypeVar("R")

#: While waiting on a clock other than the system clock (a frozen one in tests), re-read it at
#: least this often in real seconds: thread waits cannot be told about another clock's progress.
POLL_SECONDS = 0.01


class _ThreadWaker(Waker):
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def wake(self) -> None:
        self.event.set()


def _wait(core: PoolCore, wait: Wait) -> None:
    """Block until the waiter is granted something or its deadline (on the pool's clock) passes;
    returning early is harmless (the plan re-decides)."""
    event = wait.waiter.waker.event  # type: ignore[attr-defined]
    seconds = None
    if wait.deadline_ns is not None:
        remaining = wait.deadline_ns - core.now()
        if remaining <= 0:
            return
        seconds = remaining / NS_PER_SECOND
    if type(core.clock) is not SystemClock:
        seconds = POLL_SECONDS if seconds is None else min(seconds, POLL_SECONDS)
    event.wait(seconds)


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

    __slots__ = ("_lease", "_pool", "_resource", "_timeout")

    def __init__(self, pool: ResourcePool[R], timeout: object) -> None:
        self._pool = pool
        self._timeout = timeout
        self._resource: Any = None
        self._lease = -1

    def __enter__(self) -> R:
        if self._lease >= 0:
            raise RuntimeError("this lease is already in use; call pool.lease() for another")
        pool = self._pool
        # The hot path, one frame less: _checkout's fast case (which validates a given timeout
        # first, so only the default timeout may skip it).
        lent = pool._core.lend_idle() if pool._plain and self._timeout is DEFAULT else None
        if lent is None:
            lent = pool._checkout(self._timeout)
        elif pool._core.listeners._pending:
            pool._core.listeners.deliver()
        self._resource, self._lease = lent
        return self._resource  # type: ignore[no-any-return]

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        pool, resource = self._pool, self._resource
        self._resource = None
        if not pool._fast_return:
            pool._checkin(resource, self._lease)
            return
        core = pool._core  # the hot path, written out: _checkin's fast case, one frame less
        doomed = core.return_lent(resource, self._lease)
        if doomed or core.listeners._pending:
            pool._checkin_finish(doomed)  # type: ignore[arg-type]


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
        return Lease(self, timeout)

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
                return lent
        return run(core, core.checkout(timeout_ns, _ThreadWaker))  # type: ignore[no-any-return]

    def checkin(self, resource: R) -> None:
        """Give back a resource from ``checkout``: ``PoolError`` if it is not lent out now."""
        self._checkin(resource, None)

    def _checkin(self, resource: object, lease: int | None) -> None:
        core = self._core
        if not self._fast_return:
            run(core, core.checkin(resource, lease))
            return
        self._checkin_finish(core.return_lent(resource, lease))  # type: ignore[arg-type]

    def _checkin_finish(self, doomed: list[Any]) -> None:
        """After a fast return: destroy what it doomed (if anything), deliver events."""
        if doomed:
            run(self._core, self._core.destroy(doomed))
        else:
            self._core.deliver()

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
