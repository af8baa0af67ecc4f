"""``sleep_async``: an async wait on a component's clock goes through the clock's ``asleep`` when
it has one (a frozen clock advances its time), and through ``asyncio.sleep`` otherwise (a clock
that only has the ``Clock`` protocol's three methods). ``SystemClock`` reads ``time`` at call
time, so freezegun controls it."""

from __future__ import annotations

import asyncio

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience.clock import Clock, SystemClock, sleep_async


class PlainClock:
    """A Clock with only the protocol's methods (no ``asleep``), reading a fixed time."""

    def monotonic_ns(self) -> int:
        return 5_000_000_000

    def monotonic(self) -> float:
        return 5.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("an async wait must not block")


def test_a_clock_without_asleep_waits_with_asyncio_sleep() -> None:
    """A clock without asleep is a Clock all the same; sleep_async waits with asyncio.sleep (for
    0 s here), never with the clock's blocking sleep."""
    clock = PlainClock()
    assert isinstance(clock, Clock)
    assert asyncio.run(sleep_async(clock, 0)) is None


class SleepyClock(PlainClock):
    """A clock with asleep, which records what it is asked to sleep and returns at once."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    async def asleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_a_clock_with_asleep_is_slept_through_it() -> None:
    """A clock with asleep (the frozen clock's asleep advances frozen time) is asked to sleep the
    exact seconds given, and asyncio.sleep is not used."""
    clock = SleepyClock()
    asyncio.run(sleep_async(clock, 0.25))
    assert clock.slept == [0.25]
    with FrozenTime() as frozen:
        before = frozen.now_ns()
        asyncio.run(sleep_async(FrozenClock(frozen), 0.25))
        assert frozen.now_ns() - before == 250_000_000


def test_the_system_clock_reads_time_at_call_time() -> None:
    """SystemClock follows a freeze that starts after it was made, and its repr names it."""
    clock = SystemClock()
    with FrozenTime() as frozen:
        assert clock.monotonic_ns() == frozen.now_ns()
        frozen.advance_us(1)
        assert clock.monotonic_ns() == frozen.now_ns()
        assert clock.monotonic() == frozen.now_ns() / 1e9
    assert repr(clock) == "SystemClock()"
