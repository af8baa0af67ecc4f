"""The retry policy agrees with ``RetryModel`` on every generated configuration and script of
attempt outcomes, sync and async, under frozen time with real tenacity underneath.

One run checks, at once: attempts never exceed ``max_attempts``; the time slept never passes the
deadline; each back-off delay lies in ``[0, min(cap, base * 2**(k-1))]`` and equals the model's
draw from the same seeded ``Random`` (the jitter source is honoured); success on attempt k means
exactly k calls; a non-retryable error (or an open circuit, even when listed in ``retry_on``)
means no retry; the exception that propagates is the last one raised, itself; ``retry_if`` sees
tenacity's real ``RetryCallState`` with the attempt number and outcome; events and metrics equal
the model's.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import tenacity
from hypothesis import given
from hypothesis import strategies as st

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.models.retry import Attempt, RetryModel, RetrySpec
from properties.strategies import retry_scripts, retry_specs
from resilience import (
    CircuitBreaker,
    CircuitOpenError,
    RateLimited,
    RetryAttempted,
    RetryGaveUp,
    RetryPolicy,
    RetryScheduled,
)

__all__ = ["RetryCase", "check_retry", "retry_cases"]


@dataclass(frozen=True)
class RetryCase:
    spec: RetrySpec
    script: list[Attempt]
    asynchronous: bool
    policy_class: type = RetryPolicy


def retry_cases(policy_class: type = RetryPolicy) -> st.SearchStrategy[RetryCase]:
    return st.builds(
        RetryCase, retry_specs(), retry_scripts(), st.booleans(), st.just(policy_class)
    )


_BREAKER = CircuitBreaker(name="dependency")


def _error(step: Attempt, k: int) -> BaseException:
    if step.kind == "retryable":
        return ConnectionError(f"attempt {k}")
    if step.kind == "limited":
        return RateLimited("api", retry_after_ns=step.retry_after_ns)
    if step.kind == "open":
        return CircuitOpenError(_BREAKER, state="open", retry_after=1.0)
    return ValueError(f"attempt {k}")  # fatal: not in retry_on


def _kind(error: BaseException | None) -> str | None:
    kinds = {ConnectionError: "retryable", RateLimited: "limited", CircuitOpenError: "open"}
    return None if error is None else kinds.get(type(error), "fatal")


def check_retry(case: RetryCase) -> None:
    spec, script = case.spec, case.script
    expected = RetryModel(spec).run(script)
    errors = [_error(step, k) for k, step in enumerate(script, 1)]
    asked: list[tuple[int, str | None]] = []

    def retry_if(state: tenacity.RetryCallState) -> bool:
        assert isinstance(state, tenacity.RetryCallState), state
        assert state.outcome is not None, state
        assert state.outcome.failed, state
        k, error = state.attempt_number, state.outcome.exception()
        assert error is errors[k - 1], f"attempt {k}: the predicate sees {error!r}"
        asked.append((k, _kind(error)))
        return script[k - 1].predicate

    with FrozenTime() as frozen:
        policy = case.policy_class(
            max_attempts=spec.max_attempts,
            deadline=None if spec.deadline_us is None else Fraction(spec.deadline_us, 10**6),
            base_delay=Fraction(spec.base_delay_us, 10**6),
            max_delay=Fraction(spec.max_delay_us, 10**6),
            retry_on=(ConnectionError, RateLimited, CircuitOpenError),
            retry_if=retry_if,
            random=random.Random(spec.seed),
            clock=FrozenClock(frozen),
        )
        events: list[Any] = []
        policy.subscribe(events.append)
        start, calls = frozen.now_ns(), [0]

        def operation() -> int:
            k = calls[0]
            calls[0] += 1
            assert k < len(script), "called after the script's final success"
            frozen.advance_us(script[k].duration_us)
            if script[k].kind == "ok":
                return k + 1
            raise errors[k]

        async def async_operation() -> int:
            await asyncio.sleep(0)
            return operation()

        result: Any = None
        raised: BaseException | None = None
        try:
            if case.asynchronous:
                loop = asyncio.new_event_loop()
                try:
                    result = loop.run_until_complete(policy.call_async(async_operation))
                finally:
                    loop.close()
            else:
                result = policy.call(operation)
        except AssertionError:  # a check inside retry_if or the operation failed
            raise
        except Exception as error:  # compared with the model below
            raised = error
        elapsed_us = (frozen.now_ns() - start) // NS_PER_US

    # The laws, stated on their own (the model comparison below implies them, these say why).
    if spec.max_attempts is not None:
        assert calls[0] <= spec.max_attempts, f"{calls[0]} attempts; at most {spec.max_attempts}"
    delays = [e.delay_ns // NS_PER_US for e in events if isinstance(e, RetryScheduled)]
    if spec.deadline_us is not None:
        assert sum(delays) <= spec.deadline_us, (
            f"slept {sum(delays)} us; deadline {spec.deadline_us}"
        )
    for k, delay in enumerate(delays, 1):
        if script[k - 1].kind != "limited":
            bound = min(spec.max_delay_us, spec.base_delay_us * 2 ** (k - 1))
            assert 0 <= delay <= bound, f"delay {delay} us after attempt {k}; bound {bound}"
    # The model.
    assert calls[0] == expected.calls, f"{calls[0]} calls; model {expected.calls}"
    if expected.result_at is not None:
        assert raised is None, f"raised {raised!r}; model: success on attempt {expected.result_at}"
        assert result == expected.result_at, f"result {result}; model {expected.result_at}"
    else:
        assert expected.raised_at is not None
        last = errors[expected.raised_at - 1]
        assert raised is last, f"raised {raised!r}; model: {last!r} (attempt {expected.raised_at})"
    assert delays == expected.delays_us, f"delays {delays} us; model {expected.delays_us}"
    assert asked == expected.asked, f"predicate asked {asked}; model {expected.asked}"
    assert elapsed_us == expected.elapsed_us, f"{elapsed_us} us passed; model {expected.elapsed_us}"
    plain = [_plain(event, start) for event in events]
    assert plain == expected.events, f"events {plain}; model {expected.events}"
    metrics = policy.metrics()
    model_metrics = {
        "calls": 1,
        "attempts": expected.calls,
        "successes": int(expected.result_at is not None),
        "failures": int(expected.result_at is None),
        "retries": len(expected.delays_us),
        "gave_up": int(expected.reason in ("max_attempts", "deadline")),
        "not_retried": int(expected.reason == "not retryable"),
        "slept_ns": sum(expected.delays_us) * NS_PER_US,
    }
    assert metrics == model_metrics, f"metrics {metrics}; model {model_metrics}"


def _plain(event: Any, start: int) -> tuple[object, ...]:
    at, rest = divmod(event.at_ns - start, NS_PER_US)
    assert not rest, event
    if isinstance(event, RetryAttempted):
        return ("attempted", at, event.attempt, _kind(event.error))
    if isinstance(event, RetryScheduled):
        return ("scheduled", at, event.attempt, event.delay_ns, _kind(event.error))
    if isinstance(event, RetryGaveUp):
        return ("gave_up", at, event.attempts, event.reason, _kind(event.error))
    raise AssertionError(f"unexpected event {event!r}")


@given(retry_cases())
def test_retry_agrees_with_model(case: RetryCase) -> None:
    check_retry(case)
