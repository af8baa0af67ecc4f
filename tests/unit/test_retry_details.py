"""Retry details mutation testing found unchecked: every attempt gets the call's positional and
keyword arguments (decorated, ``call`` and ``call_async``); a first-attempt success, heard by a
listener, is published as attempt 1 at the clock's instant."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import RetryAttempted, RetryPolicy


class FlakyOnce:
    """Fails its first call, then answers with the arguments it got."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, first: int, *, second: int) -> tuple[int, int]:
        self.calls.append((first, second))
        if len(self.calls) == 1:
            raise ConnectionError("once")
        return (first, second)


@pytest.mark.parametrize("form", ["decorated", "call", "decorated async", "call_async"])
def test_every_attempt_gets_the_arguments(form: str) -> None:
    policy = RetryPolicy(max_attempts=2, base_delay=0, max_delay=0)
    flaky = FlakyOnce()

    async def aflaky(first: int, *, second: int) -> tuple[int, int]:
        return flaky(first, second=second)

    if form == "decorated":
        result = policy(flaky)(1, second=2)
    elif form == "call":
        result = policy.call(flaky, 1, second=2)
    elif form == "decorated async":
        result = asyncio.run(policy(aflaky)(1, second=2))
    else:
        result = asyncio.run(policy.call_async(aflaky, 1, second=2))
    assert result == (1, 2)
    assert flaky.calls == [(1, 2), (1, 2)]


def test_a_first_attempt_success_is_published_as_attempt_one() -> None:
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        policy = RetryPolicy(clock=clock, name="lookup")
        events: list[Any] = []
        policy.subscribe(events.append)
        frozen.advance_us(123)
        assert policy.call(lambda: "ok") == "ok"
        assert events == [RetryAttempted("lookup", clock.monotonic_ns(), 1, None)]
