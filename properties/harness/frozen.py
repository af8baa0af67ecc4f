"""Frozen time, one freeze per example (see ../shared/notes/frozen-time.md for why each line is so).

* The freeze starts inside the example (a machine's ``__init__``) and never wraps ``@given`` or the
  Hypothesis engine, whose deadline and shrink budget read the clock.
* It starts one day after the epoch: ``monotonic_ns()`` is then an exact integer number of
  microseconds, float seconds keep microsecond precision, and 0 is never a valid reading (so a
  "0 means unset" slip cannot hide).
* ``hypothesis`` is on the ignore list so freezegun does not rewrite Hypothesis' own time aliases
  (a GC callback firing inside ``stop()`` otherwise crashes), and stack inspection is switched off
  while frozen, so *every* caller, a thread's target included, sees frozen time. ``threading`` and
  ``queue`` keep their real clock: blocking waits must be computed from a component's clock.
* Time only moves forward, in whole microseconds (freezegun's resolution).
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime, timedelta
from fractions import Fraction
from types import TracebackType

import freezegun.api
from freezegun import freeze_time

from resilience.clock import SystemClock

__all__ = ["FREEZE_START", "NS_PER_US", "FrozenClock", "FrozenTime"]

FREEZE_START = datetime(1970, 1, 2)
NS_PER_US = 1_000


class FrozenTime:
    """Start, advance and stop one freeze. ``stop()`` is idempotent."""

    def __init__(self, start: datetime = FREEZE_START) -> None:
        self._start = start
        self._freezer: freeze_time | None = None  # type: ignore[valid-type]
        self._factory: freezegun.api.FrozenDateTimeFactory | None = None
        self._saved_inspection_limit: int | None = None
        #: Microseconds advanced so far (step traces report each step's share).
        self.advanced_us = 0

    @property
    def running(self) -> bool:
        return self._factory is not None

    def start(self) -> FrozenTime:
        if self._factory is not None:
            raise RuntimeError("this FrozenTime is already running")
        freezer = freeze_time(self._start, ignore=["hypothesis"])
        self._saved_inspection_limit = freezegun.api.call_stack_inspection_limit
        freezegun.api.call_stack_inspection_limit = 0
        try:
            factory = freezer.start()
        except BaseException:
            freezegun.api.call_stack_inspection_limit = self._saved_inspection_limit
            raise
        self._freezer, self._factory = freezer, factory
        return self

    def stop(self) -> None:
        if self._factory is None:
            return
        freezer, self._freezer, self._factory = self._freezer, None, None
        try:
            freezer.stop()  # type: ignore[attr-defined]
        finally:
            freezegun.api.call_stack_inspection_limit = self._saved_inspection_limit

    def now_ns(self) -> int:
        return time.monotonic_ns()

    def advance_us(self, microseconds: int) -> None:
        """Move time forward by a whole number of microseconds (0 allowed, backwards never)."""
        if self._factory is None:
            raise RuntimeError("time is not frozen")
        if isinstance(microseconds, bool) or not isinstance(microseconds, int) or microseconds < 0:
            raise ValueError(
                f"advance by a whole number of microseconds >= 0, not {microseconds!r}"
            )
        if microseconds:
            self._factory.tick(timedelta(microseconds=microseconds))
            self.advanced_us += microseconds

    def advance_ns(self, nanoseconds: int) -> None:
        """Move forward by ``nanoseconds``: a multiple of 1000 (never silently rounded)."""
        whole, rest = divmod(nanoseconds, NS_PER_US)
        if rest:
            raise ValueError(
                f"frozen time moves in whole microseconds; {nanoseconds} ns is not one"
            )
        self.advance_us(whole)

    def __enter__(self) -> FrozenTime:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()


class FrozenClock(SystemClock):
    """A clock for components that sleep: reads frozen time, and ``sleep()`` advances it.

    A float is read as the decimal it prints as (0.1 is exactly 100 ms, as in the library's
    validation) and rounded *up* to the next microsecond: after ``sleep(d)`` at least ``d`` passed.
    """

    __slots__ = ("frozen",)

    def __init__(self, frozen: FrozenTime) -> None:
        self.frozen = frozen

    def sleep(self, seconds: float) -> None:
        if not (seconds >= 0 and math.isfinite(seconds)):
            raise ValueError(f"cannot sleep for {seconds!r} seconds")
        self.frozen.advance_us(math.ceil(Fraction(repr(seconds)) * 1_000_000))

    async def asleep(self, seconds: float) -> None:
        """The asyncio form of ``sleep``: advances frozen time, then yields to the event loop once
        (``asyncio.sleep`` itself would wait for a real-time timer that frozen time never fires)."""
        self.sleep(seconds)
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return "FrozenClock()"
