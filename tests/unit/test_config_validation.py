"""Bad configuration raises ConfigError (a ValueError) naming the field, at construction."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from resilience import CircuitBreaker, ConfigError
from tests.ids import stable_id
from tests.refusals import assert_refused

BAD_COUNTS = [0, -1, -10, 1.0, 2.5, math.nan, math.inf, True, False, "5", b"5", [5], object()]
BAD_DURATIONS = [-1, -0.001, math.nan, math.inf, -math.inf, True, "30", [1], object(), 1j]
BAD_RATES = [0, -0.5, 1.01, 2, math.nan, math.inf, True, "0.5", object()]


@pytest.mark.parametrize("field", ["failure_threshold", "half_open_max_calls", "success_threshold"])
@pytest.mark.parametrize("value", BAD_COUNTS, ids=stable_id)
def test_bad_counts_are_rejected(field: str, value: object) -> None:
    """Counts must be ints >= 1: zero, negatives, floats, bools and strings all raise."""
    with pytest.raises(ConfigError, match=rf"^{field}=") as info:
        CircuitBreaker(**{field: value})  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.value is value
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=stable_id)
def test_bad_recovery_timeouts_are_rejected(value: object) -> None:
    """recovery_timeout must be a finite number of seconds >= 0 (or a timedelta)."""
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(recovery_timeout=value)  # type: ignore[arg-type]
    assert_refused(info.value, "recovery_timeout", value)


def test_negative_timedelta_is_rejected() -> None:
    """A negative timedelta is as invalid as a negative number."""
    with pytest.raises(ConfigError, match="recovery_timeout"):
        CircuitBreaker(recovery_timeout=timedelta(seconds=-1))


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (0, 0),
        (0.1, 100_000_000),
        (Fraction(1, 3), 333_333_333),
        (Decimal("2.5"), 2_500_000_000),
        (timedelta(milliseconds=1500), 1_500_000_000),
        (30, 30_000_000_000),
    ],
    ids=stable_id,
)
def test_good_recovery_timeouts_are_exact(value: object, ns: int) -> None:
    """Accepted spellings become exact integer nanoseconds (0.1 s is exactly 100 ms)."""
    assert CircuitBreaker(recovery_timeout=value).config.recovery_timeout_ns == ns  # type: ignore[arg-type]


@pytest.mark.parametrize("value", BAD_RATES, ids=stable_id)
def test_bad_failure_rates_are_rejected(value: object) -> None:
    """failure_rate_threshold must be in (0, 1]."""
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(failure_rate_threshold=value)  # type: ignore[arg-type]
    assert_refused(info.value, "failure_rate_threshold", value)


def test_rate_is_read_as_the_decimal_it_prints() -> None:
    """0.1 means exactly one in ten, not the binary float just above it."""
    assert CircuitBreaker(failure_rate_threshold=0.1).config.failure_rate_threshold == Fraction(
        1, 10
    )


@pytest.mark.parametrize(
    "spec",
    [
        "ValueError",
        b"x",
        42,
        None.__class__,
        (),
        (ValueError, "x"),
        [int],
        KeyboardInterrupt,
        object,
    ],
    ids=stable_id,
)
def test_bad_expected_exception_is_rejected(spec: object) -> None:
    """expected_exception: an Exception subclass, a non-empty tuple of them, or a predicate."""
    with pytest.raises(ConfigError, match=r"^expected_exception="):
        CircuitBreaker(expected_exception=spec)


@pytest.mark.parametrize(
    "spec", [ValueError, (ValueError, KeyError), [KeyError], lambda t, e: True], ids=stable_id
)
def test_good_expected_exception_specs(spec: object) -> None:
    """The three documented spellings are accepted."""
    CircuitBreaker(expected_exception=spec)


def test_policies_cannot_be_mixed() -> None:
    """A failure count and a failure rate together is ambiguous: choose one policy."""
    with pytest.raises(ConfigError, match=r"^failure_threshold=.*choose one"):
        CircuitBreaker(failure_threshold=3, failure_rate_threshold=0.5)


@pytest.mark.parametrize("field", ["window_size", "minimum_calls"])
def test_rate_options_need_a_rate(field: str) -> None:
    """window_size/minimum_calls without failure_rate_threshold would be silently unused."""
    with pytest.raises(ConfigError, match=rf"^{field}=.*failure_rate_threshold"):
        CircuitBreaker(**{field: 5})  # type: ignore[arg-type]


def test_minimum_calls_cannot_exceed_the_window() -> None:
    """A minimum larger than the window could never be met."""
    with pytest.raises(ConfigError, match=r"^minimum_calls=11"):
        CircuitBreaker(failure_rate_threshold=0.5, window_size=10, minimum_calls=11)


@pytest.mark.parametrize(("field", "value"), [("window_size", 0), ("minimum_calls", 0)])
def test_rate_window_counts_are_validated(field: str, value: int) -> None:
    """The window and minimum are counts >= 1."""
    with pytest.raises(ConfigError, match=rf"^{field}=0"):
        CircuitBreaker(failure_rate_threshold=0.5, **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", ""), ("name", 5), ("fallback_function", "not callable"), ("clock", object())],
)
def test_other_fields_are_validated(field: str, value: object) -> None:
    """Name, fallback and clock are checked too."""
    with pytest.raises(ConfigError, match=rf"^{field}="):
        CircuitBreaker(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("FAILURE_THRESHOLD", 0),
        ("FAILURE_THRESHOLD", None),
        ("RECOVERY_TIMEOUT", -1),
        ("RECOVERY_TIMEOUT", None),
        ("EXPECTED_EXCEPTION", "Exception"),
        ("EXPECTED_EXCEPTION", None),
        ("HALF_OPEN_MAX_CALLS", 0),
        ("SUCCESS_THRESHOLD", None),
        ("FALLBACK_FUNCTION", 3),
    ],
)
def test_bad_class_defaults_are_rejected(attr: str, value: object) -> None:
    """A subclass's class-level default is validated too, and the error names the attribute.

    (``None`` passed as an argument means "the class default", as in the base package; ``None``
    as the class default itself means nothing and is rejected.)"""
    klass = type("Configured", (CircuitBreaker,), {attr: value})
    with pytest.raises(ConfigError, match=rf"^{attr}="):
        klass()


def test_config_error_message_names_field_value_and_rule() -> None:
    """The message says which field, what value, and which rule it broke."""
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(failure_threshold=0)
    assert str(info.value) == "failure_threshold=0 is invalid: must be an integer >= 1"
    assert info.value.rule == "must be an integer >= 1"
