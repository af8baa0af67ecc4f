"""Time, read through one seam so tests can freeze and advance it.

Every component takes ``clock=`` (default ``SystemClock()``) and never calls ``time`` itself.
Durations are measured with ``monotonic_ns()`` so accounting is exact integer arithmetic.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["NS_PER_SECOND", "Clock", "SystemClock", "sleep_async"]

NS_PER_SECOND = 1_000_000_000


@runtime_checkable
class Clock(Protocol):
    """What a component needs from time: a monotonic reading and a way to wait."""

    def monotonic_ns(self) -> int:
        """Monotonic time in integer nanoseconds."""
        ...

    def monotonic(self) -> float:
        """Monotonic time in seconds (for display; do arithmetic on ``monotonic_ns``)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block the caller for ``seconds``."""
        ...


class SystemClock:
    """The real clock. ``time.monotonic_ns`` is looked up at *call* time: freezegun controls it."""

    __slots__ = ()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


async def sleep_async(clock: Clock, seconds: float) -> None:
    """Wait without blocking the event loop: the clock's ``asleep`` if it has one (a frozen clock
    advances its time), else ``asyncio.sleep``."""
    asleep = getattr(clock, "asleep", None)
    if asleep is None:
        await asyncio.sleep(seconds)
    else:
        await asleep(seconds)
