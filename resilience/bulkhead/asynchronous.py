"""``AsyncBulkhead``: the asyncio driver of the bulkhead core (the same plan, awaited)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar, overload

from resilience.bulkhead.base import DEFAULT, BulkheadBase, PermitBase, checked_fn
from resilience.bulkhead.core import BulkheadCore, Plan
from resilience.waiting import FutureWaker, wait_async

__all__ = ["AsyncBulkhead", "AsyncBulkheadPermit"]

P = ParamSpec("P")
T = TypeVar("T")


async def run(core: BulkheadCore, plan: int | Plan) -> int:
    """Carry out an acquisition plan on the running loop: its token, or the error it raises.
    Cancellation while waiting is thrown into the plan, which gives the place or the grant back
    and re-raises it. Nothing is awaited once the plan has admitted the caller, so a permit is
    never acquired without being owned."""
    if isinstance(plan, int):  # admitted at once: nothing to wait for
        core.deliver()
        return plan
    try:
        effect = next(plan)
        while True:
            waker = effect.waiter.waker
            assert isinstance(waker, FutureWaker)  # this driver made it
            try:
                await wait_async(core.clock, waker, effect.deadline_ns)
            except BaseException as error:
                effect = plan.throw(error)
            else:
                effect = plan.send(None)
    except StopIteration as done:
        token: int = done.value
        return token
    finally:
        core.deliver()


class AsyncBulkheadPermit(PermitBase):
    """``async with bulkhead.permit():``; see ``BulkheadPermit``. Exit awaits nothing before the
    permit is released, so cancellation cannot strand it."""

    __slots__ = ()

    async def __aenter__(self) -> AsyncBulkheadPermit:
        self._token = await run(self._core, self._plan(FutureWaker))
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> Literal[False]:
        self._release()
        return False


class AsyncBulkhead(BulkheadBase):
    """``Bulkhead`` for asyncio: the same semantics and core; a waiting task sleeps on the loop
    (through the clock's ``asleep`` for a clock other than the system clock)."""

    def permit(self, max_wait: object = DEFAULT) -> AsyncBulkheadPermit:
        """A single-use async context manager holding one permit for its block; ``max_wait``
        overrides the bulkhead's for this entry."""
        return AsyncBulkheadPermit(self._core, self._max_wait_ns(max_wait))

    @overload
    async def call_async(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T: ...

    @overload
    async def call_async(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...

    async def call_async(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> Any:
        """``fn(*args, **kwargs)`` (awaited if it returns an awaitable) holding a permit, waiting
        up to the bulkhead's ``max_wait``; the permit is released however ``fn`` ends,
        cancellation at any await included."""
        checked_fn(fn, allow_async=True)
        core = self._core
        token = await run(core, core.acquire(core.config.max_wait_ns, FutureWaker))
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result
        finally:
            core.release(token)
