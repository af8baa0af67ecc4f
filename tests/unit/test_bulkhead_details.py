"""What mutation testing found unchecked in the bulkhead: the check that refuses an async function
on the sync bulkhead must not break on a callable whose attribute lookup refuses ``__call__``; an
interruption of a caller waiting for a permit (sync driver); a caller that may not wait."""

from __future__ import annotations

import pytest

from resilience import Bulkhead, BulkheadFull, BulkheadRejected, Event, SystemClock


class Sealed:
    """A callable whose attribute lookup refuses every name, as a strict proxy may: Python still
    calls it (through its type), but ``getattr(sealed, "__call__")`` raises AttributeError."""

    def __getattribute__(self, name: str) -> object:
        raise AttributeError(name)

    def __call__(self, value: int) -> int:
        return value * 2


def test_the_sync_bulkhead_runs_a_callable_that_hides_its_call_attribute() -> None:
    sealed = Sealed()
    assert callable(sealed)
    bulkhead = Bulkhead(1, name="sealed")
    assert bulkhead.call(sealed, 21) == 42
    assert bulkhead.metrics() == {"admitted": 1, "rejected": 0, "finished": 1, "abandoned": 0}


class InterruptingClock(SystemClock):
    """The system clock, except that the ``countdown``-th reading from now raises
    ``KeyboardInterrupt``, as a Ctrl-C arriving at that moment would."""

    __slots__ = ("countdown",)

    def __init__(self) -> None:
        self.countdown = 0

    def monotonic_ns(self) -> int:
        if self.countdown:
            self.countdown -= 1
            if not self.countdown:
                raise KeyboardInterrupt
        return super().monotonic_ns()


def test_an_interruption_while_waiting_for_a_permit_propagates_and_gives_the_place_back() -> None:
    """``KeyboardInterrupt`` while ``call`` waits for a permit reaches the caller as itself; the
    waiter leaves the queue (abandoned) and its function never runs."""
    clock = InterruptingClock()
    bulkhead = Bulkhead(1, max_wait=10, name="interrupted", clock=clock)
    ran: list[int] = []
    with bulkhead.permit():
        clock.countdown = 2  # the reading that queues the caller, then the one that times its wait
        with pytest.raises(KeyboardInterrupt):
            bulkhead.call(ran.append, 1)
        status = bulkhead.status()
    assert ran == []
    assert status["waiting"] == 0
    assert bulkhead.metrics() == {"admitted": 1, "rejected": 0, "finished": 1, "abandoned": 1}


class TickingClock(SystemClock):
    """A clock that moves one microsecond at every reading (so any extra reading shows)."""

    __slots__ = ("now_ns",)

    def __init__(self) -> None:
        self.now_ns = 10**12

    def monotonic_ns(self) -> int:
        self.now_ns += 1_000
        return self.now_ns


def test_a_caller_that_may_not_wait_is_refused_at_once() -> None:
    """With ``max_wait=0`` a caller finding every permit taken is refused at its arrival, without
    queueing: its ``BulkheadRejected`` says it waited 0 ns, on a clock that moves at every
    reading."""
    clock = TickingClock()
    bulkhead = Bulkhead(1, max_wait=0, name="no-wait", clock=clock)
    events: list[Event] = []
    bulkhead.subscribe(events.append)
    ran: list[int] = []
    with bulkhead.permit(), pytest.raises(BulkheadFull):
        bulkhead.call(ran.append, 1)
    rejected = [e for e in events if isinstance(e, BulkheadRejected)]
    assert [e.waited_ns for e in rejected] == [0]
    assert ran == []
    assert bulkhead.metrics() == {"admitted": 1, "rejected": 1, "finished": 1, "abandoned": 0}
