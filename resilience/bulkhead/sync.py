"""``Bulkhead``: the thread-blocking driver of the bulkhead core."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Literal, ParamSpec, TypeVar

from resilience.bulkhead.base import DEFAULT, BulkheadBase, PermitBase, checked_fn
from resilience.bulkhead.core import BulkheadCore, Plan
from resilience.waiting import ThreadWaker, wait_blocking

__all__ = ["Bulkhead", "BulkheadPermit"]

P = ParamSpec("P")
T = TypeVar("T")


def run(core: BulkheadCore, plan: int | Plan) -> int:
    """Carry out an acquisition plan in this thread: its token, or the error it raises. An
    interruption while waiting (``KeyboardInterrupt``...) is thrown into the plan, which gives
    the place or the grant back and re-raises it."""
    if isinstance(plan, int):  # admitted at once: nothing to wait for
        core.deliver()
        return plan
    try:
        effect = next(plan)
        while True:
            waker = effect.waiter.waker
            assert isinstance(waker, ThreadWaker)  # this driver made it
            try:
                wait_blocking(core.clock, waker, effect.deadline_ns)
            except BaseException as error:
                effect = plan.throw(error)
            else:
                effect = plan.send(None)
    except StopIteration as done:
        token: int = done.value
        return token
    finally:
        core.deliver()


class BulkheadPermit(PermitBase):
    """``with bulkhead.permit():`` holds one permit for the block. A permit is entered once:
    entering it again (while held, after exit, or after a refusal) raises ``RuntimeError``, and
    so does exiting one that is not held, so a permit can never be released twice."""

    __slots__ = ()

    def __enter__(self) -> BulkheadPermit:
        self._token = run(self._core, self._plan(ThreadWaker))
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> Literal[False]:
        self._release()
        return False


class Bulkhead(BulkheadBase):
    """At most ``max_concurrent`` calls at once, across threads; callers beyond that wait up to
    ``max_wait`` seconds (default 0: never; ``None``: as long as it takes), first come first
    served, then get ``BulkheadFull``. See the README's "Bulkhead" section."""

    def permit(self, max_wait: object = DEFAULT) -> BulkheadPermit:
        """A single-use context manager holding one permit for its block; ``max_wait`` overrides
        the bulkhead's for this entry."""
        return BulkheadPermit(self._core, self._max_wait_ns(max_wait))

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` holding a permit (waiting up to the bulkhead's ``max_wait``);
        the permit is released however ``fn`` ends."""
        checked_fn(fn, allow_async=False)
        core = self._core
        token = run(core, core.acquire(core.config.max_wait_ns, ThreadWaker))
        try:
            return fn(*args, **kwargs)
        finally:
            core.release(token)
