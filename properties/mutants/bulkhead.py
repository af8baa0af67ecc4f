"""Planted bugs in the bulkhead, each a small variant standing for a real slip (see
../shared/notes/bug-classes.md items 17, 20, 21). ``BULKHEAD_MUTANTS`` maps a name to
(asynchronous target?, bulkhead class); a core variant is plugged in through ``_core_class``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resilience import (
    AsyncBulkhead,
    Bulkhead,
    BulkheadAdmitted,
    BulkheadPermit,
    BulkheadReleased,
)
from resilience.bulkhead.asynchronous import run as run_async
from resilience.bulkhead.base import DEFAULT
from resilience.bulkhead.core import BulkheadCore, Waiter
from resilience.bulkhead.sync import run
from resilience.waiting import FutureWaker, ThreadWaker

__all__ = ["BULKHEAD_MUTANTS"]


# ---------------------------------------------------------------- slips in the decision core


class AdmitsOneTooMany(BulkheadCore):
    """``<=`` for ``<``: a permit looks free when all ``max_concurrent`` are out, so one caller
    too many is admitted (the off-by-one every hand-written semaphore risks)."""

    def _has_free(self) -> bool:
        return self.in_flight <= self.max_concurrent


class CancelledWaiterKeepsPermit(BulkheadCore):
    """A waiter cancelled after a permit was granted to it drops the grant instead of passing it
    on (class 17: the permit is lost with the task)."""

    def abandon(self, waiter: Waiter) -> None:
        with self.lock:
            if waiter.admitted_ns is None:
                self.waiters.remove(waiter)
                self.abandoned += 1


class GrantWithoutWakeUp(BulkheadCore):
    """The grant is recorded, but the waiter is never woken (class 20: a missed notify; the
    waiter sleeps until its deadline, or forever)."""

    def _grant(self, waiter: Waiter, now: int) -> None:
        waiter.admitted_ns = now
        self.admitted += 1
        self._emit(BulkheadAdmitted(self.config.name, now, now - waiter.started_ns))


class CountedOnlyWhenListened(BulkheadCore):
    """The release's counter moved under the "anyone listening?" test that guards building its
    event: with nobody subscribed, ``finished`` never moves (class 23: statistics not updated)."""

    def _release(self, token: int) -> None:
        now = self.now()
        if self.listeners.active:
            self.finished += 1
            self._emit(BulkheadReleased(self.config.name, now, now - token))
        self._free_permit(now)


class Barging(BulkheadCore):
    """A semaphore on a condition variable: release frees the permit and merely wakes the first
    waiter, who must then take it, and a newcomer only asks whether a permit is free. One
    arriving in between takes the permit first (class 20: notify instead of hand-off; a waiter
    can starve)."""

    def _free_for_newcomer(self) -> bool:
        return self._has_free()

    def _free_permit(self, now: int) -> None:
        self.in_flight -= 1
        if self.waiters:
            self.waiters[0].waker.wake()

    def _claim(self, waiter: Waiter) -> int | None:
        if waiter.admitted_ns is not None:
            return waiter.admitted_ns
        if self._has_free():
            self.waiters.remove(waiter)
            return self._admit(self.now(), waiter.started_ns)
        # Overtaken: wait again, on a fresh waker (the old one has fired).
        waiter.waker = FutureWaker() if isinstance(waiter.waker, FutureWaker) else ThreadWaker()
        return None


class TimedOutWaiterStaysQueued(BulkheadCore):
    """A waiter that times out raises ``BulkheadFull`` but is never taken out of the queue: the
    next released permit is granted to nobody (class 21: a permit leaked)."""

    def _timed_out(self, waiter: Waiter) -> None:
        pass


# ---------------------------------------------------------------- slips in the drivers


class ReleaseSkippedOnError(Bulkhead):
    """``call`` releases the permit after ``fn`` returns, without ``try/finally``: a raising
    ``fn`` keeps its permit for ever (class 21)."""

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        core = self._core
        token = run(core, core.acquire(core.config.max_wait_ns, ThreadWaker))
        result = fn(*args, **kwargs)
        core.release(token)
        return result


class _UnguardedPermit(BulkheadPermit):
    __slots__ = ("_last",)  # the token of its last entry, kept after exit

    def __enter__(self) -> BulkheadPermit:
        entered = super().__enter__()
        self._last = self._token
        return entered

    def __exit__(self, *_exc: object) -> Any:
        last = getattr(self, "_last", None)
        self._token = None
        if last is not None:
            self._core.release(last)
        return False


class ExitReleasesTwice(Bulkhead):
    """A permit's exit does not check that it is held: exiting it twice releases twice, and
    exiting one that was never entered passes silently (class 21: released twice)."""

    def permit(self, max_wait: object = DEFAULT) -> BulkheadPermit:
        return _UnguardedPermit(self._core, self._max_wait_ns(max_wait))


class CancellationLeaksPermit(AsyncBulkhead):
    """``call_async`` releases in ``except Exception`` and after success: a cancellation (a
    ``BaseException``) inside ``fn`` skips the release (class 17)."""

    async def call_async(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        core = self._core
        token = await run_async(core, core.acquire(core.config.max_wait_ns, FutureWaker))
        try:
            result = fn(*args, **kwargs)
            if hasattr(result, "__await__"):
                result = await result
        except Exception:
            core.release(token)
            raise
        core.release(token)
        return result


def _core(base: type, core: type[BulkheadCore]) -> type:
    return type(f"{base.__name__}_{core.__name__}", (base,), {"_core_class": core})


BULKHEAD_MUTANTS: dict[str, tuple[bool, type]] = {
    "AdmitsOneTooMany": (False, _core(Bulkhead, AdmitsOneTooMany)),
    "CountedOnlyWhenListened": (False, _core(Bulkhead, CountedOnlyWhenListened)),
    "ReleaseSkippedOnError": (False, ReleaseSkippedOnError),
    "ExitReleasesTwice": (False, ExitReleasesTwice),
    **{core.__name__: (True, _core(AsyncBulkhead, core)) for core in (
        CancelledWaiterKeepsPermit, GrantWithoutWakeUp, Barging, TimedOutWaiterStaysQueued)},
    "CancellationLeaksPermit": (True, CancellationLeaksPermit),
}  # fmt: skip
