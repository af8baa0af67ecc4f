"""The shared checks of ``resilience.validation``: each refusal, word for word, is a
``ConfigError`` naming the field, carrying the value as given and saying the rule (every component
shows these texts to its users, so a change of wording is an edit of this table); each accepted
value comes back exact."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from resilience import Clock, ConfigError
from resilience.validation import (
    checked_clock,
    checked_name,
    duration_ns,
    exact_number,
    exact_seconds,
    int_at_least,
    unit_fraction,
)
from tests.refusals import assert_refused

SECONDS = "must be a finite number of seconds >= 0 (or a timedelta)"
RATE = "must be a number in (0, 1]"
CLOCK = "must be a Clock instance (monotonic_ns, monotonic, sleep)"
NEGATIVE = timedelta(seconds=-1)


def at_least_1(field: str, value: object) -> int:
    return int_at_least(field, value, 1)


def at_least_3(field: str, value: object) -> int:
    return int_at_least(field, value, 3)


def number(field: str, value: object) -> Fraction:
    return exact_number(field, value, "the rule")


def clock(_field: str, value: object) -> Clock:
    return checked_clock(value)


def name(_field: str, value: object) -> str:
    return checked_name(value, "default")


@pytest.mark.parametrize(
    ("check", "field", "value", "message"),
    [
        pytest.param(at_least_1, "n", 0, "n=0 is invalid: must be an integer >= 1"),
        pytest.param(
            at_least_1,
            "n",
            True,
            "n=True is invalid: must be an integer >= 1",
        ),
        pytest.param(
            at_least_3,
            "n",
            2.0,
            "n=2.0 is invalid: must be an integer >= 3",
        ),
        pytest.param(number, "x", True, "x=True is invalid: the rule"),
        pytest.param(
            number,
            "x",
            Decimal("NaN"),
            "x=Decimal('NaN') is invalid: the rule",
        ),
        pytest.param(number, "x", math.inf, "x=inf is invalid: the rule"),
        pytest.param(number, "x", "1", "x='1' is invalid: the rule"),
        pytest.param(exact_seconds, "t", -1, f"t=-1 is invalid: {SECONDS}"),
        pytest.param(exact_seconds, "t", "30", f"t='30' is invalid: {SECONDS}"),
        pytest.param(exact_seconds, "t", NEGATIVE, f"t={NEGATIVE!r} is invalid: {SECONDS}"),
        pytest.param(
            exact_seconds,
            "t",
            10**9 + 1,
            "t=1000000001 is invalid: must be at most 1000000000 s",
        ),
        pytest.param(duration_ns, "t", -0.5, f"t=-0.5 is invalid: {SECONDS}"),
        pytest.param(
            duration_ns,
            "t",
            Fraction(1, 10**10),
            "t=Fraction(1, 10000000000) is invalid: must be 0 or at least one nanosecond",
        ),
        pytest.param(unit_fraction, "r", 0, f"r=0 is invalid: {RATE}"),
        pytest.param(
            unit_fraction, "r", Fraction(11, 10), f"r=Fraction(11, 10) is invalid: {RATE}"
        ),
        pytest.param(unit_fraction, "r", "0.5", f"r='0.5' is invalid: {RATE}"),
        pytest.param(
            clock,
            "clock",
            "monotonic",
            f"clock='monotonic' is invalid: {CLOCK}",
        ),
        pytest.param(
            name,
            "name",
            3,
            "name=3 is invalid: must be a string",
        ),
    ],
)
def test_each_refusal_reads_exactly(
    check: Callable[[str, object], object], field: str, value: object, message: str
) -> None:
    """Each check refuses with a ConfigError carrying the field, the value as given and this
    exact text."""
    with pytest.raises(ConfigError) as info:
        check(field, value)
    assert_refused(info.value, field, value)
    assert str(info.value) == message


def at_least_0(field: str, value: object) -> int:
    return int_at_least(field, value, 0)


@pytest.mark.parametrize(
    ("check", "value", "result"),
    [
        pytest.param(at_least_1, 1, 1, id="the minimum itself"),
        pytest.param(at_least_0, 7, 7, id="above the minimum"),
        pytest.param(number, 3, Fraction(3), id="int"),
        pytest.param(number, Fraction(1, 3), Fraction(1, 3), id="Fraction"),
        pytest.param(number, 0.1, Fraction(1, 10), id="float as printed"),
        pytest.param(number, Decimal("2.5"), Fraction(5, 2), id="Decimal"),
        pytest.param(exact_seconds, 0, Fraction(0), id="zero seconds"),
        pytest.param(
            exact_seconds,
            timedelta(days=1, seconds=2, microseconds=3),
            86_402 + Fraction(3, 10**6),
            id="timedelta",
        ),
        pytest.param(exact_seconds, 10**9, Fraction(10**9), id="the longest duration"),
        pytest.param(duration_ns, 0, 0, id="0 ns"),
        pytest.param(duration_ns, Fraction(1, 10**9), 1, id="1 ns"),
        pytest.param(duration_ns, 1.5, 1_500_000_000, id="1.5 s"),
        pytest.param(duration_ns, Fraction(3, 2 * 10**9), 2, id="1.5 ns rounds to even"),
        pytest.param(unit_fraction, 1, Fraction(1), id="rate 1"),
        pytest.param(unit_fraction, 0.1, Fraction(1, 10), id="rate 0.1"),
    ],
)
def test_each_accepted_value_is_exact(
    check: Callable[[str, object], object], value: object, result: object
) -> None:
    """Accepted values come back exact (and of the exact type): nothing is rounded but a
    duration's sub-nanosecond remainder."""
    accepted = check("field", value)
    assert accepted == result
    assert type(accepted) is type(result)
