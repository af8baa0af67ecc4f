"""Pipeline details mutation testing found unchecked: an instance with an async ``__call__`` is
refused by ``execute``; ``FallbackUsed`` carries the instant of the fallback; unsubscribing
from a pipeline stops its own events too."""

from __future__ import annotations

from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import CircuitBreaker, Event, FallbackUsed, Pipeline


class AsyncCallable:
    async def __call__(self) -> int:
        return 1


def test_execute_refuses_an_instance_with_an_async_call() -> None:
    pipeline = Pipeline(breaker=CircuitBreaker())
    with pytest.raises(TypeError, match="is an async function: use aexecute"):
        pipeline.execute(AsyncCallable())
    assert pipeline.metrics()["pipeline"]["calls"] == 0


def _fail() -> Any:
    raise ConnectionError("down")


def test_fallback_used_is_stamped_with_the_clock_and_unsubscribe_stops_it() -> None:
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        pipeline = Pipeline(breaker=CircuitBreaker(), fallback=lambda error: "cached", clock=clock)
        events: list[Event] = []
        unsubscribe = pipeline.subscribe(events.append)
        frozen.advance_us(250)
        assert pipeline.execute(_fail) == "cached"
        (used,) = [e for e in events if isinstance(e, FallbackUsed)]
        assert used.at_ns == clock.monotonic_ns()
        unsubscribe()
        seen = len(events)
        assert pipeline.execute(_fail) == "cached"
        assert len(events) == seen, "a FallbackUsed reached a listener that unsubscribed"
