"""The breaker's entry points, events, metrics, status and fallbacks, by example."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Iterator

import pytest

from properties.harness.frozen import FrozenTime
from resilience import (
    BreakerState,
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Event,
    StateChanged,
)


class Boom(Exception):
    pass


def boom() -> None:
    raise Boom


def trip(breaker: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(Boom):
            breaker.call(boom)


def test_full_cycle_emits_events_in_order(frozen: FrozenTime) -> None:
    """CLOSED -> OPEN -> (time) -> HALF_OPEN -> CLOSED, each step an event with exact times."""
    breaker = CircuitBreaker(failure_threshold=2, recovery_timeout=5, name="db")
    events: list[Event] = []
    breaker.subscribe(events.append)
    t0 = frozen.now_ns()
    trip(breaker, 2)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(lambda: None)
    assert rejected.value.retry_after == 5.0
    assert str(rejected.value) == 'circuit "db" is open: retry after 5 s'
    frozen.advance_us(5_000_000)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state is BreakerState.CLOSED
    due = t0 + 5 * 10**9
    assert [type(e).__name__ for e in events] == [
        "CallFailed", "CallFailed", "StateChanged", "CallRejected", "StateChanged",
        "CallSucceeded", "StateChanged",
    ]  # fmt: skip
    changes = [e for e in events if isinstance(e, StateChanged)]
    assert [(c.old, c.new, c.reason, c.at_ns) for c in changes] == [
        ("closed", "open", "failure_threshold", t0),
        ("open", "half_open", "recovery_timeout", due),
        ("half_open", "closed", "success_threshold", due),
    ]
    assert all(e.source == "db" for e in events)
    assert isinstance(events[3], CallRejected)
    assert events[3].retry_after == 5.0


def test_raising_listener_is_logged_and_never_breaks_the_call(
    frozen: FrozenTime, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener's exception is logged on 'resilience.events'; the call's result stands."""
    breaker = CircuitBreaker(name="svc")

    def bad_listener(event: Event) -> None:
        raise RuntimeError("listener bug")

    seen: list[Event] = []
    breaker.subscribe(bad_listener)
    breaker.subscribe(seen.append)
    with caplog.at_level(logging.ERROR, logger="resilience.events"):
        assert breaker.call(lambda: 42) == 42
    assert len(seen) == 1  # the second listener still ran
    assert "listener bug" in caplog.text


def test_unsubscribe_stops_delivery(frozen: FrozenTime) -> None:
    """The function subscribe() returns removes the listener."""
    breaker = CircuitBreaker()
    seen: list[Event] = []
    unsubscribe = breaker.subscribe(seen.append)
    breaker.call(lambda: None)
    unsubscribe()
    breaker.call(lambda: None)
    assert len(seen) == 1


def test_late_outcome_is_reported_and_not_counted(frozen: FrozenTime) -> None:
    """A call admitted while closed that fails after the breaker opened is late: no second
    transition, no count (Polly #216)."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=10)
    events: list[Event] = []
    breaker.subscribe(events.append)

    def slow_failure() -> None:
        with breaker:  # admitted while closed ...
            trip(breaker)  # ... another call opens the breaker meanwhile
            raise Boom

    with pytest.raises(Boom):
        slow_failure()
    late = events[-1]
    assert isinstance(late, CallFailed)
    assert late.late
    assert sum(isinstance(e, StateChanged) for e in events) == 1
    assert breaker.metrics()["late_outcomes"] == 1


def test_ignored_and_cancelled_calls(frozen: FrozenTime) -> None:
    """Non-matching exceptions and BaseExceptions propagate and are counted as ignored."""
    breaker = CircuitBreaker(failure_threshold=1, expected_exception=Boom)
    events: list[Event] = []
    breaker.subscribe(events.append)
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["x"])

    async def cancelled() -> None:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(breaker.call_async(cancelled))
    assert breaker.state is BreakerState.CLOSED
    assert [type(e) for e in events] == [CallIgnored, CallIgnored]
    assert breaker.metrics()["calls_ignored"] == 2


def test_force_open_holds_until_reset(frozen: FrozenTime) -> None:
    """force_open() ignores the recovery timeout; reset() closes and clears the count."""
    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=1)
    trip(breaker, 2)
    breaker.force_open()
    frozen.advance_us(10**9)
    assert breaker.state is BreakerState.OPEN
    assert breaker.forced_open
    assert breaker.retry_after == math.inf
    with pytest.raises(CircuitOpenError, match="until reset"):
        breaker.call(lambda: None)
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_count == 0


def test_half_open_full_rejection_says_so(frozen: FrozenTime) -> None:
    """With every probe slot taken, rejections carry retry_after 0 and say why."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0)
    trip(breaker)
    with breaker, pytest.raises(CircuitOpenError, match="every probe slot") as info:
        breaker.call(lambda: None)
    assert info.value.retry_after == 0.0
    assert info.value.state == "half_open"


def test_failure_rate_policy(frozen: FrozenTime) -> None:
    """Open when, among at least minimum_calls of the last window_size, the rate is reached."""
    breaker = CircuitBreaker(failure_rate_threshold=0.5, window_size=4, minimum_calls=4)
    breaker.call(lambda: None)
    trip(breaker)
    breaker.call(lambda: None)
    assert breaker.state is BreakerState.CLOSED  # 3 recorded < minimum_calls
    trip(breaker)  # 2 of 4 = 50%
    assert breaker.state is BreakerState.OPEN
    assert breaker.status()["window"] == (False, True, False, True)


def test_status_and_repr_show_the_counters(frozen: FrozenTime) -> None:
    """status() is plain data; repr shows the essentials."""
    breaker = CircuitBreaker(failure_threshold=2, name="cache")
    trip(breaker)
    breaker.call(lambda: None)
    status = breaker.status()
    assert status["name"] == "cache"
    assert status["state"] == "closed"
    assert status["calls_failed"] == 1
    assert status["calls_succeeded"] == 1
    assert status["policy"] == "consecutive"
    assert repr(breaker).startswith("<CircuitBreaker 'cache' state=closed failures=0")


def test_sync_and_async_fallbacks(frozen: FrozenTime) -> None:
    """A fallback (sync or async) stands in for an async function; a sync one for a sync one."""
    sync_breaker = CircuitBreaker(failure_threshold=1, fallback_function=lambda x: f"fb {x}")
    trip(sync_breaker)

    @sync_breaker
    def sync_fn(x: int) -> str:
        return "real"

    @sync_breaker
    async def async_fn(x: int) -> str:
        return "real"

    async def async_fallback(x: int) -> str:
        return f"afb {x}"

    async_breaker = CircuitBreaker(failure_threshold=1, fallback_function=async_fallback)
    trip(async_breaker)
    assert sync_fn(1) == "fb 1"
    assert asyncio.run(async_fn(2)) == "fb 2"  # the base package fails here (awaits a str)
    assert asyncio.run(async_breaker.call_async(async_fn, 3)) == "afb 3"


def test_async_fallback_cannot_serve_a_sync_function() -> None:
    """Decorating a sync function with an async fallback is refused at decoration time."""

    async def async_fallback() -> None:
        return None

    breaker = CircuitBreaker(fallback_function=async_fallback)
    with pytest.raises(ConfigError, match="fallback_function"):
        breaker(lambda: None)


def test_generators_are_protected(frozen: FrozenTime) -> None:
    """A decorated generator is admitted on first next(); its failure counts when raised."""
    breaker = CircuitBreaker(failure_threshold=1)

    @breaker
    def numbers(fail: bool) -> Iterator[int]:
        yield 1
        if fail:
            raise Boom

    assert list(numbers(False)) == [1]
    with pytest.raises(Boom):
        list(numbers(True))
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        next(numbers(False))


def test_async_generators_are_protected(frozen: FrozenTime) -> None:
    """Async generators likewise."""
    breaker = CircuitBreaker(failure_threshold=1)

    @breaker
    async def numbers() -> AsyncIterator[int]:
        yield 1
        raise Boom

    async def consume() -> list[int]:
        return [n async for n in numbers()]

    with pytest.raises(Boom):
        asyncio.run(consume())
    assert breaker.state is BreakerState.OPEN


def test_with_blocks_nest_and_interleave_across_tasks(frozen: FrozenTime) -> None:
    """`with breaker:` keeps each entry's admission per task, so interleaved tasks finish right."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0, half_open_max_calls=2)
    trip(breaker)  # half-open at once: two probe slots
    events: list[Event] = []
    breaker.subscribe(events.append)

    async def probe(delay: int, fail: bool) -> None:
        with breaker:
            for _ in range(delay):
                await asyncio.sleep(0)
            if fail:
                raise Boom

    async def both() -> None:
        results = await asyncio.gather(probe(3, False), probe(1, True), return_exceptions=True)
        assert isinstance(results[1], Boom)

    asyncio.run(both())
    outcomes = [(type(e).__name__, getattr(e, "late", None)) for e in events]
    assert outcomes == [
        ("StateChanged", None),  # open -> half_open, recorded by the first entry
        ("CallFailed", False),
        ("StateChanged", None),  # half_open -> open
        ("StateChanged", None),  # open -> half_open again at once (recovery_timeout=0)
        ("CallSucceeded", True),  # the other probe finished late: it counts for nothing
    ]


def test_exit_without_enter_is_an_error() -> None:
    """A stray __exit__ is a programming error, reported as such."""
    with pytest.raises(RuntimeError, match="without a matching __enter__"):
        CircuitBreaker().__exit__(None, None, None)


def test_events_are_immutable() -> None:
    """Event records cannot be altered by a listener."""
    event = CallSucceeded("b", 1, False)
    with pytest.raises(AttributeError):
        event.late = True  # type: ignore[misc]
    assert event.at == 1e-9
