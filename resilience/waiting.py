"""Waiting for a grant, measured on a component's clock: the wakers, and the blocking and async
waits that the pool's and the bulkhead's drivers share.

A waiter is woken by ``Waker.wake()``, called under the component's lock right after its grant
was recorded, so a wake-up is never missed; a waiter that returns early (a deadline reached, a
spurious wake-up) re-reads its grant under the lock. Deadlines are on the component's clock:
with the system clock a thread waits with the real timeout and a task with the loop's timer;
with any other clock (a frozen one in tests) a thread re-reads the clock every ``POLL_SECONDS``
of real time and a task sleeps through the clock's ``asleep`` (a frozen clock advances its time).
"""

from __future__ import annotations

import asyncio
import threading

from resilience.clock import NS_PER_SECOND, Clock, SystemClock, sleep_async

__all__ = ["POLL_SECONDS", "FutureWaker", "ThreadWaker", "Waker", "wait_async", "wait_blocking"]

#: While waiting on a clock other than the system clock, re-read it at least this often in real
#: seconds: thread waits cannot be told about another clock's progress.
POLL_SECONDS = 0.01


class Waker:
    """How a driver is woken when its waiter receives a grant (``wake`` is thread-safe)."""

    __slots__ = ()

    def wake(self) -> None:
        raise NotImplementedError


class ThreadWaker(Waker):
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = threading.Event()

    def wake(self) -> None:
        self.event.set()


class FutureWaker(Waker):
    """Resolves a future on the waiting task's loop; safe to call from any thread."""

    __slots__ = ("future", "loop")

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[None] = self.loop.create_future()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self._resolve)

    def _resolve(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


def wait_blocking(clock: Clock, waker: ThreadWaker, deadline_ns: int | None) -> None:
    """Block until woken or until ``clock`` reaches ``deadline_ns`` (``None``: no deadline).
    Returning early is harmless: the caller re-decides under its lock."""
    seconds = None
    if deadline_ns is not None:
        remaining = deadline_ns - clock.monotonic_ns()
        if remaining <= 0:
            return
        seconds = remaining / NS_PER_SECOND
    if type(clock) is not SystemClock:
        seconds = POLL_SECONDS if seconds is None else min(seconds, POLL_SECONDS)
    waker.event.wait(seconds)


async def wait_async(clock: Clock, waker: FutureWaker, deadline_ns: int | None) -> None:
    """Until woken or until ``clock`` reaches ``deadline_ns`` (``None``: no deadline); see
    ``wait_blocking``. Cancellation propagates; the caller gives its place (or grant) back."""
    future = waker.future
    if deadline_ns is None:
        await asyncio.shield(future)
        return
    remaining = deadline_ns - clock.monotonic_ns()
    if remaining <= 0:
        return
    if type(clock) is SystemClock:
        await asyncio.wait((future,), timeout=remaining / NS_PER_SECOND)
        return
    sleeper = asyncio.ensure_future(sleep_async(clock, remaining / NS_PER_SECOND))
    try:
        await asyncio.wait((future, sleeper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
