"""The messages a retry policy's user reads, word for word, in one place: why a construction was
refused (each ``ConfigError``'s rule), why a decoration was refused (the ``TypeError``), and the
policy's repr. A change of wording is an edit of these tables."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from resilience import ConfigError, RetryPolicy
from tests.refusals import assert_refused

SECONDS_RULE = "must be a finite number of seconds >= 0 (or a timedelta)"
NOT_AN_OBJECT = object()


@pytest.mark.parametrize(
    ("kwargs", "field", "rule"),
    [
        pytest.param({"max_attempts": 0}, "max_attempts", "must be an integer >= 1", id="0"),
        pytest.param({"max_attempts": True}, "max_attempts", "must be an integer >= 1", id="bool"),
        pytest.param(
            {"max_attempts": None},
            "max_attempts",
            "set max_attempts, deadline or both: otherwise retries never stop",
            id="no limit",
        ),
        pytest.param(
            {"deadline": 0},
            "deadline",
            "must be a positive number of seconds (or None)",
            id="deadline 0",
        ),
        pytest.param({"deadline": -1}, "deadline", SECONDS_RULE, id="deadline -1"),
        pytest.param({"deadline": math.inf}, "deadline", SECONDS_RULE, id="deadline inf"),
        pytest.param(
            {"base_delay": 1.5e-7},
            "base_delay",
            "must be a whole number of microseconds",
            id="base_delay 150 ns",
        ),
        pytest.param({"base_delay": -0.1}, "base_delay", SECONDS_RULE, id="base_delay -0.1"),
        pytest.param(
            {"base_delay": 0.2, "max_delay": 0.1},
            "max_delay",
            "must be >= base_delay (0.2)",
            id="max_delay < base_delay",
        ),
        pytest.param(
            {"retry_on": ()},
            "retry_on",
            "must be an exception class or a non-empty tuple of them",
            id="retry_on ()",
        ),
        pytest.param(
            {"retry_if": 3},
            "retry_if",
            "must be callable (it gets tenacity's RetryCallState) or None",
            id="retry_if 3",
        ),
        pytest.param({"reraise": 1}, "reraise", "must be True or False", id="reraise 1"),
        pytest.param(
            {"random": random},
            "random",
            "must be a random.Random instance or None",
            id="the random module",
        ),
        pytest.param(
            {"clock": NOT_AN_OBJECT},
            "clock",
            "must be a Clock instance (monotonic_ns, monotonic, sleep)",
            id="clock",
        ),
        pytest.param({"name": 3}, "name", "must be a string", id="name 3"),
    ],
)
def test_refusal_messages(kwargs: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(ConfigError) as raised:
        RetryPolicy(**kwargs)
    assert_refused(raised.value, field, kwargs.get(field))
    assert raised.value.rule == rule


@pytest.mark.parametrize(
    ("decorated", "message"),
    [
        pytest.param(3, "RetryPolicy decorates a callable, not 3", id="int"),
        pytest.param("fetch", "RetryPolicy decorates a callable, not 'fetch'", id="str"),
        pytest.param(None, "RetryPolicy decorates a callable, not None", id="None"),
    ],
)
def test_decorating_a_non_callable_says_what_it_got(decorated: object, message: str) -> None:
    with pytest.raises(TypeError) as raised:
        RetryPolicy()(decorated)  # type: ignore[arg-type]
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        pytest.param(
            {},
            "RetryPolicy(name='retry', max_attempts=3, deadline_ns=None, "
            "base_delay_us=100000, max_delay_us=10000000)",
            id="defaults",
        ),
        pytest.param(
            {
                "name": "fetch",
                "max_attempts": 4,
                "deadline": 2.0,
                "base_delay": 0.1,
                "max_delay": 1.0,
            },
            "RetryPolicy(name='fetch', max_attempts=4, deadline_ns=2000000000, "
            "base_delay_us=100000, max_delay_us=1000000)",
            id="all set",
        ),
        pytest.param(
            {"max_attempts": None, "deadline": 0.5},
            "RetryPolicy(name='retry', max_attempts=None, deadline_ns=500000000, "
            "base_delay_us=100000, max_delay_us=10000000)",
            id="deadline only",
        ),
    ],
)
def test_repr(kwargs: dict[str, Any], text: str) -> None:
    assert repr(RetryPolicy(**kwargs)) == text
