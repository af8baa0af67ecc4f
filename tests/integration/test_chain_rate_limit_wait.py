"""A pipeline that waits for its rate limit (``rate_limit_wait``) and charges more than one unit
per call (``rate_limit_cost``), sync and async: mutation testing found this path never run."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import Pipeline, RateLimited, TokenBucket

S = 10**9


def _pair(first: int, *, second: int) -> tuple[int, int]:
    return (first, second)


async def _apair(first: int, *, second: int) -> tuple[int, int]:
    return (first, second)


def _run(pipeline: Pipeline, asynchronous: bool, *args: Any, **kwargs: Any) -> Any:
    if asynchronous:
        return asyncio.run(pipeline.aexecute(_apair, *args, **kwargs))
    return pipeline.execute(_pair, *args, **kwargs)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["execute", "aexecute"])
def test_a_call_waits_for_its_units_up_to_the_limit(asynchronous: bool) -> None:
    """2 tokens, refilled at 1 a second, 2 per call: the first call goes at once, the second
    waits exactly 2 s for its units and then runs with its arguments; a third, allowed to wait
    only 1.5 s, is refused at once with the wait it would have needed, and charges nothing."""
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        bucket = TokenBucket(2, 1, clock=clock)
        patient = Pipeline(rate_limiter=bucket, rate_limit_cost=2, rate_limit_wait=5, clock=clock)
        start = clock.monotonic_ns()
        assert _run(patient, asynchronous, 1, second=2) == (1, 2)
        assert clock.monotonic_ns() == start
        assert _run(patient, asynchronous, 3, second=4) == (3, 4)
        assert clock.monotonic_ns() - start == 2 * S
        hasty = Pipeline(rate_limiter=bucket, rate_limit_cost=2, rate_limit_wait=1.5, clock=clock)
        with pytest.raises(RateLimited) as refused:
            _run(hasty, asynchronous, 5, second=6)
        assert refused.value.cost == 2
        assert refused.value.retry_after_ns == 2 * S
        assert clock.monotonic_ns() - start == 2 * S  # refused without waiting
    assert bucket.metrics() == {  # the waiting call was refused once before it slept
        "admitted": 2,
        "admitted_cost": 4,
        "rejected": 2,
        "rejected_cost": 4,
    }
    assert patient.metrics()["pipeline"]["succeeded"] == 2
    assert hasty.metrics()["pipeline"]["rate_limited"] == 1


@pytest.mark.parametrize("asynchronous", [False, True], ids=["execute", "aexecute"])
def test_a_call_not_allowed_to_wait_is_refused_with_the_limiters_name_and_its_cost(
    asynchronous: bool,
) -> None:
    """The default wait, 0: a call the limiter cannot admit now is refused at once, and the
    refusal names the limiter and the units the call asked for."""
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        bucket = TokenBucket(3, 1, name="api", clock=clock)
        pipeline = Pipeline(rate_limiter=bucket, rate_limit_cost=2, clock=clock)
        start = clock.monotonic_ns()
        assert _run(pipeline, asynchronous, 1, second=2) == (1, 2)
        with pytest.raises(RateLimited) as refused:
            _run(pipeline, asynchronous, 3, second=4)
        assert clock.monotonic_ns() == start
    assert refused.value.limiter == "api"
    assert refused.value.cost == 2
    assert refused.value.retry_after_ns == S
    assert bucket.metrics() == {
        "admitted": 1,
        "admitted_cost": 2,
        "rejected": 1,
        "rejected_cost": 2,
    }


@pytest.mark.parametrize("asynchronous", [False, True], ids=["execute", "aexecute"])
@pytest.mark.parametrize(
    ("wait", "waited_ns"),
    [(None, 1_000 * S), (1e-9, 1_000)],
    ids=["no-limit", "one-nanosecond"],
)
def test_a_call_allowed_to_wait_waits_however_short_or_long(
    wait: object, waited_ns: int, asynchronous: bool
) -> None:
    """``rate_limit_wait=None`` waits as long as it takes (here 1000 s for a unit refilled every
    1000 s); a wait of one nanosecond is a wait, not "refuse at once": a unit one nanosecond
    away is waited for (the frozen clock sleeps a whole microsecond)."""
    per_second = Fraction(1, 1_000) if wait is None else 10**9
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        bucket = TokenBucket(1, per_second, clock=clock)
        pipeline = Pipeline(rate_limiter=bucket, rate_limit_wait=wait, clock=clock)
        start = clock.monotonic_ns()
        assert _run(pipeline, asynchronous, 1, second=2) == (1, 2)
        assert _run(pipeline, asynchronous, 3, second=4) == (3, 4)
        assert clock.monotonic_ns() - start == waited_ns
    assert bucket.metrics()["admitted"] == 2
