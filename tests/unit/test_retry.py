"""RetryPolicy by example: configuration errors, the entry points, and what propagates."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
import tenacity

from resilience import ConfigError, RetryPolicy, RetryScheduled


def failing(times: int, error: type[Exception] = ConnectionError):
    calls = []

    def fn() -> int:
        calls.append(1)
        if len(calls) <= times:
            raise error(len(calls))
        return len(calls)

    return fn, calls


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"max_attempts": 2.0}, "max_attempts"),
        ({"max_attempts": None}, "max_attempts"),
        ({"deadline": 0}, "deadline"),
        ({"deadline": -1}, "deadline"),
        ({"deadline": math.nan}, "deadline"),
        ({"deadline": math.inf}, "deadline"),
        ({"base_delay": 1.5e-7}, "base_delay"),
        ({"base_delay": -0.1}, "base_delay"),
        ({"base_delay": 0.2, "max_delay": 0.1}, "max_delay"),
        ({"retry_on": ()}, "retry_on"),
        ({"retry_on": "ConnectionError"}, "retry_on"),
        ({"retry_on": (ConnectionError, 3)}, "retry_on"),
        ({"retry_if": 3}, "retry_if"),
        ({"reraise": 1}, "reraise"),
        ({"random": random}, "random"),
        ({"clock": object()}, "clock"),
        ({"name": 3}, "name"),
    ],
)
def test_bad_configuration_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_success_after_retries_returns_the_result_and_counts() -> None:
    fn, calls = failing(2)
    policy = RetryPolicy(max_attempts=3, base_delay=0, max_delay=0)
    assert policy.call(fn) == 3
    assert len(calls) == 3
    metrics = policy.metrics()
    assert (metrics["attempts"], metrics["retries"], metrics["successes"]) == (3, 2, 1)


def test_giving_up_raises_the_last_exception_itself() -> None:
    fn, calls = failing(5)
    policy = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
    with pytest.raises(ConnectionError) as raised:
        policy.call(fn)
    assert raised.value.args == (2,)
    assert len(calls) == 2


def test_reraise_false_gives_tenacity_retry_error() -> None:
    fn, _ = failing(5)
    policy = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0, reraise=False)
    with pytest.raises(tenacity.RetryError):
        policy.call(fn)


def test_errors_outside_retry_on_are_not_retried() -> None:
    fn, calls = failing(5, ValueError)
    policy = RetryPolicy(max_attempts=5, retry_on=ConnectionError, base_delay=0, max_delay=0)
    with pytest.raises(ValueError, match="1"):
        policy.call(fn)
    assert len(calls) == 1
    assert policy.metrics()["not_retried"] == 1


def test_decorator_and_async_forms() -> None:
    fn, calls = failing(1)
    policy = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
    assert policy(fn)() == 2

    async def coroutine_function(box: list[int]) -> int:
        box.append(1)
        if len(box) == 1:
            raise ConnectionError
        return len(box)

    decorated = policy(coroutine_function)
    assert asyncio.iscoroutinefunction(decorated)
    assert asyncio.run(decorated([])) == 2
    assert len(calls) == 2


def test_cancellation_is_never_retried() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=0, max_delay=0)
    attempts = []

    async def cancelled() -> None:
        attempts.append(1)
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(policy.call_async(cancelled))
    assert len(attempts) == 1


def test_events_carry_the_delay() -> None:
    fn, _ = failing(1)
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001, random=random.Random(3))
    events: list[object] = []
    policy.subscribe(events.append)
    policy.call(fn)
    scheduled = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(scheduled) == 1
    assert 0 <= scheduled[0].delay_ns <= 1_000_000
    assert scheduled[0].delay_ns % 1_000 == 0


def test_decorating_a_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        RetryPolicy()(3)  # type: ignore[arg-type]
