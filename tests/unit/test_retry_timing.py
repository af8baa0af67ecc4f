"""Retry timing, seen through a clock that records every call: each sleep is the drawn delay in
microseconds divided by exactly 10**6 (sync ``sleep`` or async ``asleep``); tenacity's state
reports the same sleeps; the clock is read only to time a deadline or to stamp events someone
hears; a retry whose delay ends exactly at the deadline is made; and ``give_up``, the hook the
planted-bug zoo overrides, gets the attempt, its error, the time since the call started and the
delay drawn."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import tenacity

from resilience import RateLimited, RetryPolicy


class RecordingClock:
    """A manual clock: reads are counted, sleeps recorded exactly as passed (and advance it by the
    nearest nanosecond), ``advance_ns`` stands for work an attempt does."""

    def __init__(self) -> None:
        self.now_ns = 10**12
        self.reads = 0
        self.slept: list[tuple[str, float]] = []

    def monotonic_ns(self) -> int:
        self.reads += 1
        return self.now_ns

    def monotonic(self) -> float:
        self.reads += 1
        return self.now_ns / 10**9

    def sleep(self, seconds: float) -> None:
        self.slept.append(("sleep", seconds))
        self.now_ns += round(seconds * 10**9)

    async def asleep(self, seconds: float) -> None:
        self.slept.append(("asleep", seconds))
        self.now_ns += round(seconds * 10**9)

    def advance_ns(self, nanoseconds: int) -> None:
        self.now_ns += nanoseconds


def limited(retry_after_ns: int) -> RateLimited:
    return RateLimited("upstream", retry_after_ns=retry_after_ns)


class Script:
    """Raises the given errors in turn (each attempt first doing ``work_ns`` of clock time), then
    returns ``"done"``."""

    def __init__(
        self, errors: Sequence[BaseException], clock: RecordingClock, work_ns: int = 0
    ) -> None:
        self.errors = list(errors)
        self.clock = clock
        self.work_ns = work_ns

    def __call__(self) -> str:
        self.clock.advance_ns(self.work_ns)
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def run(policy: RetryPolicy, fn: Script, form: str) -> Any:
    if form == "call":
        return policy.call(fn)

    async def afn() -> str:
        return fn()

    return asyncio.run(policy.call_async(afn))


# A RateLimited error's retry_after (ns) is the delay, rounded up to a whole microsecond; the
# sleep is that many microseconds / 10**6, the float Python's exact division gives.
SLEEP_CASES = [
    pytest.param([1_234_567_000], [1.234567], id="1.234567 s"),
    pytest.param([999_999_000, 1_000], [0.999999, 0.000001], id="0.999999 s, 1 us"),
    pytest.param([1], [0.000001], id="1 ns rounds up to 1 us"),
    pytest.param([0, 7_000_001], [0.0, 0.007001], id="0 us, 7.000001 ms up to 7.001 ms"),
]


@pytest.mark.parametrize("form", ["call", "call_async"])
@pytest.mark.parametrize(("retry_after_ns", "seconds"), SLEEP_CASES)
def test_each_sleep_is_the_delay_in_microseconds_over_a_million(
    form: str, retry_after_ns: list[int], seconds: list[float]
) -> None:
    clock = RecordingClock()
    policy = RetryPolicy(max_attempts=len(retry_after_ns) + 1, clock=clock)
    fn = Script([limited(ns) for ns in retry_after_ns], clock)
    assert run(policy, fn, form) == "done"
    how = "sleep" if form == "call" else "asleep"
    assert clock.slept == [(how, s) for s in seconds]
    assert policy.metrics()["slept_ns"] == sum(-(-ns // 1_000) * 1_000 for ns in retry_after_ns)


@pytest.mark.parametrize("form", ["call", "call_async"])
def test_tenacity_state_reports_the_sleeps_made(form: str) -> None:
    """``retry_if`` gets tenacity's ``RetryCallState``: before attempt k it has slept
    ``idle_for`` in all, the last sleep being ``upcoming_sleep``; after giving up at
    ``max_attempts`` no sleep is coming (no delay is drawn)."""
    clock = RecordingClock()
    seen: list[tuple[int, float, float]] = []
    states: list[tenacity.RetryCallState] = []

    def retry_if(state: tenacity.RetryCallState) -> bool:
        seen.append((state.attempt_number, state.idle_for, state.upcoming_sleep))
        states.append(state)
        return True

    policy = RetryPolicy(max_attempts=3, retry_if=retry_if, clock=clock)
    errors = [limited(250_000_000), limited(1_500_001_000), limited(9_000)]
    with pytest.raises(RateLimited) as raised:
        run(policy, Script(errors, clock), form)
    assert raised.value is errors[2]
    assert seen == [(1, 0.0, 0.0), (2, 0.25, 0.25), (3, 0.25 + 1.500001, 1.500001)]
    assert states[-1].upcoming_sleep == 0.0
    assert states[-1].idle_for == 0.25 + 1.500001


SCENARIOS: dict[str, tuple[list[BaseException], int, type[BaseException]]] = {
    # name: (the errors raised before "done", max_attempts, retry_on)
    "first attempt succeeds": ([], 3, Exception),
    "succeeds after retries": ([ConnectionError(1), ConnectionError(2)], 3, Exception),
    "gives up at max_attempts": ([ConnectionError(1), ConnectionError(2)], 2, Exception),
    "not retryable": ([ValueError(1)], 3, ConnectionError),
}


@pytest.mark.parametrize("form", ["call", "call_async"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_without_deadline_or_listener_the_clock_is_only_slept_on(form: str, scenario: str) -> None:
    """The clock's time is read only to measure a deadline or to stamp an event a listener
    hears: with neither, a call (retried or not, given up or not) never reads it."""
    errors, max_attempts, retry_on = SCENARIOS[scenario]
    clock = RecordingClock()
    policy = RetryPolicy(
        max_attempts=max_attempts, base_delay=0.001, max_delay=0.001, retry_on=retry_on, clock=clock
    )
    fn = Script(errors, clock)
    try:
        run(policy, fn, form)
    except (ConnectionError, ValueError):
        pass
    assert policy.metrics()["calls"] == 1
    assert clock.reads == 0
    assert len(clock.slept) == policy.metrics()["retries"]


@pytest.mark.parametrize("form", ["call", "call_async"])
@pytest.mark.parametrize(
    ("work_ns", "retry_after_ns", "retried"),
    [
        pytest.param(0, 2_000_000, True, id="the delay ends at the deadline"),
        pytest.param(0, 2_000_001, False, id="the delay passes it by 1 us"),
        pytest.param(500_000, 1_500_000, True, id="work plus delay end at the deadline"),
        pytest.param(500_001, 1_500_000, False, id="work plus delay pass it by 1 ns"),
    ],
)
def test_a_retry_may_start_exactly_at_the_deadline(
    form: str, work_ns: int, retry_after_ns: int, retried: bool
) -> None:
    """Only a delay that would *pass* the deadline (2 ms here) gives up."""
    clock = RecordingClock()
    policy = RetryPolicy(max_attempts=None, deadline=0.002, clock=clock)
    error = limited(retry_after_ns)
    fn = Script([error], clock, work_ns)
    if retried:
        assert run(policy, fn, form) == "done"
    else:
        with pytest.raises(RateLimited) as raised:
            run(policy, fn, form)
        assert raised.value is error
    metrics = policy.metrics()
    assert metrics["retries"] == int(retried)
    assert metrics["gave_up"] == int(not retried)


class GiveUpHeard(RetryPolicy):
    """A policy whose ``give_up`` hook records what it is asked."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked: list[tuple[int, BaseException, int, int]] = []

    def give_up(
        self, attempt: int, error: BaseException, elapsed_ns: int, delay_us: int
    ) -> str | None:
        self.asked.append((attempt, error, elapsed_ns, delay_us))
        return super().give_up(attempt, error, elapsed_ns, delay_us)


@pytest.mark.parametrize("form", ["call", "call_async"])
@pytest.mark.parametrize("deadline", [None, 10.0])
def test_give_up_is_asked_with_the_attempt_its_error_the_time_and_the_delay(
    form: str, deadline: float | None
) -> None:
    """After each retryable failure: its attempt number, the very error it raised, the time
    since the call started (0 when the policy has no deadline: it does not time the call) and
    the delay drawn for the next attempt (0 after the last allowed one: none is drawn)."""
    clock = RecordingClock()
    policy = GiveUpHeard(max_attempts=3, deadline=deadline, clock=clock)
    errors = [limited(1_000_000), limited(2_000_000), limited(4_000_000)]
    with pytest.raises(RateLimited):
        run(policy, Script(errors, clock, work_ns=100_000), form)
    # Each attempt works 0.1 ms; the sleeps are 1 ms, then 2 ms.
    elapsed = [100_000, 1_200_000, 3_300_000] if deadline is not None else [0, 0, 0]
    assert policy.asked == [
        (1, errors[0], elapsed[0], 1_000),
        (2, errors[1], elapsed[1], 2_000),
        (3, errors[2], elapsed[2], 0),
    ]


@pytest.mark.parametrize("max_attempts", [62, 63, 64, 70])
def test_a_zero_base_delay_never_sleeps_however_many_attempts(max_attempts: int) -> None:
    """The bound is ``min(max_delay, base_delay * 2**(attempt-1))``: 0 for a zero base, also past
    the 62nd attempt, where the shift stops growing (mutation testing found the cap dropped
    there, and sleeps of up to ``max_delay`` after attempt 63)."""
    clock = RecordingClock()
    policy = RetryPolicy(
        max_attempts=max_attempts, base_delay=0, max_delay=1.0, clock=clock, reraise=True
    )
    script = Script([ValueError(n) for n in range(max_attempts)], clock)
    with pytest.raises(ValueError):
        policy.call(script)
    assert len(clock.slept) == max_attempts - 1
    assert {seconds for _, seconds in clock.slept} == {0.0}
