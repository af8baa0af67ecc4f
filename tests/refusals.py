"""One check for every refusal of bad input: a ``ConfigError`` naming the field, carrying the
value exactly as given, and saying what is wrong (a rule), its message built from the three."""

from __future__ import annotations

import math

from resilience import ConfigError

__all__ = ["assert_refused"]


def assert_refused(error: BaseException, field: str, value: object) -> None:
    assert isinstance(error, ConfigError), f"{type(error).__name__}: {error}"
    assert error.field == field
    same_nan = isinstance(value, float) and math.isnan(value) and isinstance(error.value, float)
    assert error.value is value or (same_nan and math.isnan(error.value)), (error.value, value)  # type: ignore[arg-type]
    assert isinstance(error.rule, str)
    assert error.rule.strip(), "the rule says what is wrong"
    assert str(error) == f"{field}={error.value!r} is invalid: {error.rule}"
