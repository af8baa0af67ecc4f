"""Retry details mutation testing found unchecked: every attempt gets the call's positional and
keyword arguments (decorated, ``call`` and ``call_async``); a first-attempt success, heard by a
listener, is published as attempt 1 at the clock's instant; every event of a retried call names
the policy, and giving up reports the last attempt's own error (even with ``reraise=False``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import tenacity

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import RateLimited, RetryAttempted, RetryGaveUp, RetryPolicy, RetryScheduled


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


@pytest.mark.parametrize("reraise", [True, False])
@pytest.mark.parametrize("form", ["call", "call_async"])
def test_every_event_of_a_given_up_call_names_the_policy(form: str, reraise: bool) -> None:
    """Each attempt, each scheduled retry and the giving up, in order, each carrying the policy's
    name, its clock's instant and the attempt's own error; with ``reraise=False`` the call raises
    tenacity's ``RetryError``, but ``RetryGaveUp`` still carries the last attempt's error."""
    errors = [
        RateLimited("upstream", retry_after_ns=1_000_000),
        RateLimited("upstream", retry_after_ns=2_000_000),
        RateLimited("upstream", retry_after_ns=4_000_000),
    ]
    remaining = list(errors)

    def fn() -> None:
        raise remaining.pop(0)

    async def afn() -> None:
        fn()

    def run_once() -> None:
        if form == "call":
            policy.call(fn)
        else:
            asyncio.run(policy.call_async(afn))

    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        policy = RetryPolicy(max_attempts=3, reraise=reraise, clock=clock, name="fetch")
        events: list[Any] = []
        policy.subscribe(events.append)
        t0 = clock.monotonic_ns()
        raised_type = RateLimited if reraise else tenacity.RetryError
        with pytest.raises(raised_type) as raised:
            run_once()
    if reraise:
        assert raised.value is errors[2]
    else:
        assert isinstance(raised.value, tenacity.RetryError)
        assert raised.value.last_attempt.exception() is errors[2]
    t1 = t0 + 1_000_000  # after the 1 ms sleep
    t2 = t1 + 2_000_000  # after the 2 ms sleep
    assert events == [
        RetryAttempted("fetch", t0, 1, errors[0]),
        RetryScheduled("fetch", t0, 1, 1_000_000, errors[0]),
        RetryAttempted("fetch", t1, 2, errors[1]),
        RetryScheduled("fetch", t1, 2, 2_000_000, errors[1]),
        RetryAttempted("fetch", t2, 3, errors[2]),
        RetryGaveUp("fetch", t2, 3, "max_attempts", errors[2]),
    ]
