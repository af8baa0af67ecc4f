"""The failure policies (``resilience.breaker.ConsecutiveFailures`` and ``FailureRate``) step by
step: what each record returns (True: the breaker must open), the failures counted, and
``quiet_success``, exactly True while a success would change nothing (the breaker then records
it without its lock) and exactly False otherwise."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest

from resilience.breaker import ConsecutiveFailures, FailureRate
from resilience.breaker.policy import FailurePolicy

#: One step: the method called (None: just look), what it returns, then quiet_success and
#: failure_count after it.
Step = tuple[str | None, bool | None, bool, int]


def consecutive() -> FailurePolicy:
    return ConsecutiveFailures(2)


def rate() -> FailurePolicy:
    return FailureRate(Fraction(1, 2), 2, 2)


@pytest.mark.parametrize(
    ("make", "steps"),
    [
        pytest.param(
            consecutive,
            [
                (None, None, True, 0),  # fresh: nothing pending
                ("record_success", False, True, 0),
                ("record_failure", False, False, 1),  # a failure is pending
                ("record_success", False, True, 0),  # the run is broken: nothing pending again
                ("record_failure", False, False, 1),
                ("record_failure", True, False, 2),  # the threshold: open
                ("clear", None, True, 0),
            ],
            id="consecutive failures",
        ),
        pytest.param(
            rate,
            [
                (None, None, False, 0),  # every success is recorded in the window
                ("record_success", False, False, 0),
                ("record_failure", True, False, 1),  # 1 of 2 reaches 1/2: open
                ("clear", None, False, 0),
                ("record_failure", False, False, 1),  # below minimum_calls
                ("record_success", True, False, 1),  # a success can trip it too
            ],
            id="failure rate",
        ),
    ],
)
def test_each_step_of_a_policy(make: Callable[[], FailurePolicy], steps: list[Step]) -> None:
    policy = make()
    for method, returned, quiet, failures in steps:
        if method is not None:
            assert getattr(policy, method)() is returned, method
        assert policy.quiet_success is quiet, method
        assert policy.failure_count == failures, method
