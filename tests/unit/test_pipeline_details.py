"""Pipeline details mutation testing found unchecked: an instance with an async ``__call__`` is
refused by ``execute``; ``FallbackUsed`` carries the instant of the fallback, read from the
pipeline's own clock; unsubscribing from a pipeline stops its own events too; a fallback's
awaitable refused by ``execute``; a raising listener logged with the pipeline's name; callables
whose attributes cannot be read; the layers' own defaults."""

from __future__ import annotations

import inspect
import logging
import types
from collections.abc import Generator
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    AsyncResourcePool,
    Bulkhead,
    CircuitBreaker,
    Event,
    FallbackUsed,
    Pipeline,
    RetryPolicy,
    TokenBucket,
)
from resilience.chain.layers import RateLimitLayer


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


def test_execute_refuses_a_non_callable_that_carries_a_code_attribute() -> None:
    """Only a function's ``__code__`` is trusted: any object may carry one (mutation testing
    found ``execute`` running such an object through every layer, where ``aexecute`` refused
    it)."""
    impostor = types.SimpleNamespace(__code__=(lambda: 0).__code__)
    pipeline = Pipeline(breaker=CircuitBreaker(), fallback=lambda error: "fallback")
    with pytest.raises(TypeError, match="must be callable"):
        pipeline.execute(impostor)
    assert pipeline.metrics()["pipeline"]["calls"] == 0


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


class ShiftedClock(FrozenClock):
    """Frozen time read one hour ahead: under freezegun the system clock is frozen too, so only
    a clock that differs from it shows which one a component reads."""

    SHIFT_NS = 3_600 * 10**9

    def monotonic_ns(self) -> int:
        return super().monotonic_ns() + self.SHIFT_NS

    def monotonic(self) -> float:
        return self.monotonic_ns() / 10**9


def test_fallback_used_is_stamped_with_the_pipelines_own_clock() -> None:
    with FrozenTime() as frozen:
        clock = ShiftedClock(frozen)
        pipeline = Pipeline(fallback=lambda error: "cached", clock=clock)
        events: list[Event] = []
        pipeline.subscribe(events.append)
        assert pipeline.execute(_fail) == "cached"
        (used,) = events
        assert isinstance(used, FallbackUsed)
        assert used.at_ns == clock.monotonic_ns()


class AwaitableWithoutClose:
    """An awaitable that is not a coroutine: nothing to close."""

    def __await__(self) -> Generator[Any, None, str]:
        yield from ()
        return "later"


async def _later() -> str:
    return "later"


@pytest.mark.parametrize("kind", ["coroutine", "awaitable"])
def test_execute_refuses_a_fallbacks_awaitable_closing_it_and_reporting_the_failure(
    kind: str,
) -> None:
    """The fallback answered with something only aexecute can await: execute raises TypeError
    (never the awaitable's missing close), closes a coroutine so it never warns, and reports
    a failed fallback for the call's own error."""
    answers: list[Any] = []

    def fallback(_error: Exception) -> Any:
        answers.append(_later() if kind == "coroutine" else AwaitableWithoutClose())
        return answers[-1]

    pipeline = Pipeline(fallback=fallback)
    events: list[Event] = []
    pipeline.subscribe(events.append)
    error = ConnectionError("down")

    def fail() -> None:
        raise error

    with pytest.raises(TypeError, match="only aexecute can await it") as caught:
        pipeline.execute(fail)
    assert caught.value.__cause__ is error
    if kind == "coroutine":
        assert inspect.getcoroutinestate(answers[0]) == inspect.CORO_CLOSED
    (used,) = events
    assert isinstance(used, FallbackUsed)
    assert used.error is error
    assert used.failed is True
    counts = pipeline.metrics()["pipeline"]
    assert (counts["failed"], counts["fell_back"], counts["fallback_failed"]) == (1, 0, 1)


def test_a_listener_that_raises_is_logged_naming_the_pipeline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def listener(event: Event) -> None:
        raise RuntimeError("listener bug")

    pipeline = Pipeline(fallback=lambda error: "cached", name="api")
    pipeline.subscribe(listener)
    with caplog.at_level(logging.ERROR, logger="resilience.events"):
        assert pipeline.execute(_fail) == "cached"
    (record,) = caplog.records
    assert record.getMessage().startswith(f"listener {listener!r} of <Pipeline 'api' bare> raised")


class HidesItsAttributes:
    """A callable proxy whose attributes cannot be read (``__call__`` included), only called."""

    def __getattribute__(self, name: str) -> Any:
        raise AttributeError(name)

    def __call__(self, *args: Any) -> tuple[Any, ...]:
        return ("called", *args)


def test_any_callable_runs_even_if_its_attributes_cannot_be_read() -> None:
    """Whether an operation or a fallback is async is read from its code or its ``__call__``;
    one that has neither readable is a plain callable, run like any other."""
    operation = HidesItsAttributes()
    assert Pipeline().execute(operation, 1) == ("called", 1)
    pipeline = Pipeline(breaker=CircuitBreaker(), fallback=HidesItsAttributes())
    answer = pipeline.execute(_fail)
    assert answer[0] == "called"
    assert isinstance(answer[1], ConnectionError)


def test_a_layers_own_defaults_are_the_pipelines() -> None:
    """A rate-limit layer built without a cost or a wait charges 1 unit and never waits (as a
    Pipeline given neither); only an AsyncResourcePool's layer is not ready for execute."""
    layer = RateLimitLayer(TokenBucket(1, 1))
    assert layer.cost == 1
    assert layer.wait == 0
    assert layer.wait_ns == 0
    pipeline = Pipeline(
        bulkhead=Bulkhead(1),
        retry=RetryPolicy(),
        breaker=CircuitBreaker(),
        pool=AsyncResourcePool(lambda: 1, size=1),
    )
    assert [layer.sync_ready for layer in pipeline.layers] == [True, True, True, False]
    assert pipeline.layers[-1].sync_ready is False
