"""``Listeners``, the event fan-out every component uses: subscribing (callables only, exact
message), unsubscribing one listener among several, delivery in order, a listener that raises
(logged with its traceback, naming the listener, the component and the event; the other listeners
still hear it), and a listener that makes its component emit again while it is being told (the
new events are delivered after it returns, in order, without deadlock)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from resilience import Event, ResourceCheckedIn, ResourceCheckedOut, ResourcePool
from resilience.events import Listeners

WAIT = 5.0  # real seconds; only ever reached when something is broken


def events(*at: int) -> list[Event]:
    return [Event("db", ns) for ns in at]


def told(listeners: Listeners, *batch: Event) -> None:
    listeners.enqueue(batch)
    listeners.deliver()


@pytest.mark.parametrize("listener", [1, "print", None])
def test_only_callables_can_subscribe(listener: object) -> None:
    """subscribe() refuses what it could not call, saying so exactly."""
    with pytest.raises(TypeError) as info:
        Listeners("db").subscribe(listener)  # type: ignore[arg-type]
    assert str(info.value) == f"listener must be callable, got {listener!r}"


def test_unsubscribing_one_listener_keeps_the_others() -> None:
    """Each subscribe returns its own unsubscribe: after it, that listener hears nothing and the
    others hear everything, in order; unsubscribing twice is harmless."""
    listeners = Listeners("db")
    first: list[Event] = []
    second: list[Event] = []
    stop_first = listeners.subscribe(first.append)
    listeners.subscribe(second.append)
    one, two, three = events(1, 2, 3)
    told(listeners, one)
    stop_first()
    stop_first()
    told(listeners, two, three)
    assert first == [one]
    assert second == [one, two, three]


def test_a_raising_listener_is_logged_and_the_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A listener that raises never breaks the component: its error is logged on
    "resilience.events" with its traceback, naming the listener, the component and the event,
    and the listeners after it still get the event."""
    failure = ValueError("listener bug")

    def broken(event: Event) -> None:
        raise failure

    listeners = Listeners("<pool db>")
    heard: list[Event] = []
    listeners.subscribe(broken)
    listeners.subscribe(heard.append)
    (event,) = events(1)
    with caplog.at_level(logging.DEBUG, logger="resilience.events"):
        told(listeners, event)
    assert heard == [event]
    (record,) = [r for r in caplog.records if r.name == "resilience.events"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == f"listener {broken!r} of <pool db> raised on {event!r}"
    assert record.exc_info is not None
    assert record.exc_info[1] is failure


def test_a_raising_pool_listener_is_logged_naming_the_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The component a raising listener belongs to is named in the log line by its repr."""

    def broken(event: Event) -> None:
        raise ValueError("listener bug")

    pool: ResourcePool[Any] = ResourcePool(object, size=1, name="db")
    heard: list[Event] = []
    pool.subscribe(broken)
    pool.subscribe(heard.append)
    with caplog.at_level(logging.DEBUG, logger="resilience.events"):
        pool.checkin(pool.checkout())
    lines = [r.getMessage() for r in caplog.records if r.name == "resilience.events"]
    assert lines == [f"listener {broken!r} of {pool!r} raised on {event!r}" for event in heard]
    assert len(lines) == 3  # created, checked out, checked in
    assert repr(pool).startswith("<ResourcePool 'db' ")


def test_a_listener_using_its_component_gets_the_new_events_after_it_returns() -> None:
    """A listener that checks a resource in when it hears it was checked out makes the pool emit
    while the listener is being told: nothing deadlocks, and every event reaches every listener
    once, in the order the pool emitted them."""
    pool: ResourcePool[Any] = ResourcePool(object, size=1)
    heard: list[type[Event]] = []

    def give_back(event: Event) -> None:
        heard.append(type(event))
        if isinstance(event, ResourceCheckedOut):
            pool.checkin(event.resource)

    pool.checkin(pool.checkout())  # make one, so the next checkout lends it from the idle list
    pool.subscribe(give_back)
    worker = threading.Thread(target=pool.checkout, daemon=True)
    worker.start()
    worker.join(WAIT)
    assert not worker.is_alive(), "deadlock: the listener's own events were waited for"
    assert heard == [ResourceCheckedOut, ResourceCheckedIn]
    assert pool.status()["idle"] == 1
