"""``wait_blocking``: how long a blocked thread sleeps, and on which clock. With the system clock it
sleeps for the real time left to its deadline (without one, until it is woken): a thread blocked
in a pool or a bulkhead costs nothing while it waits. With any other clock (a frozen one, or any
subclass of ``SystemClock``) real time says nothing about the clock, so it re-reads it at least
every ``POLL_SECONDS`` of real time, and never sleeps past a nearer deadline. Once the deadline is
reached it does not block at all.

The thread's event records the timeouts it is asked to wait for and returns at once instead of
sleeping: nothing here waits in real time."""

from __future__ import annotations

import threading

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience.clock import Clock, SystemClock
from resilience.waiting import POLL_SECONDS, ThreadWaker, wait_blocking

MS = 1_000_000  # ns
S = 1_000_000_000  # ns


class RecordingEvent(threading.Event):
    """An event whose ``wait`` records its timeout and returns at once, as if it had run out."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.timeouts.append(timeout)
        return self.is_set()


def clock_named(name: str, frozen: FrozenTime) -> Clock:
    return SystemClock() if name == "system" else FrozenClock(frozen)


def asked(clock: Clock, left_ns: int | None) -> list[float | None]:
    """The timeouts one ``wait_blocking`` call asks the thread's event for, with a deadline
    ``left_ns`` from now on ``clock`` (``None``: no deadline)."""
    waker = ThreadWaker()
    event = RecordingEvent()
    waker.event = event
    deadline = None if left_ns is None else clock.monotonic_ns() + left_ns
    wait_blocking(clock, waker, deadline)
    return event.timeouts


# clock, time left to the deadline (ns; None: no deadline), the timeouts the event is asked for
SLEEPS = [
    ("system", None, [None]),  # until woken
    ("system", 5 * S, [5.0]),  # the real time left, in one sleep
    ("system", 30 * MS, [0.03]),
    ("frozen", None, [POLL_SECONDS]),  # re-read the clock every poll
    ("frozen", 5 * S, [POLL_SECONDS]),
    ("frozen", 1 * MS, [0.001]),  # a deadline nearer than a poll: no later than it
]


@pytest.mark.parametrize(("clock_name", "left_ns", "timeouts"), SLEEPS)
def test_a_thread_sleeps_for_the_time_left_on_the_system_clock_and_polls_any_other(
    frozen: FrozenTime, clock_name: str, left_ns: int | None, timeouts: list[float | None]
) -> None:
    """On the system clock a blocked thread sleeps once for the whole time left (no deadline: no
    timeout); on another clock it sleeps at most POLL_SECONDS, and at most the time left."""
    assert asked(clock_named(clock_name, frozen), left_ns) == timeouts


@pytest.mark.parametrize("clock_name", ["system", "frozen"])
@pytest.mark.parametrize("left_ns", [0, -1, -5 * S])
def test_a_reached_deadline_does_not_block(
    frozen: FrozenTime, clock_name: str, left_ns: int
) -> None:
    """A deadline reached exactly or passed already: the thread does not sleep at all."""
    timeouts = asked(clock_named(clock_name, frozen), left_ns)
    assert all(timeout == 0 for timeout in timeouts), timeouts
