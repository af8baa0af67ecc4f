"""Validation of configuration values at the boundary: exact, typed, and loud.

Every check raises ``ConfigError`` naming the field, the value and the rule. Nothing is coerced
silently: ``True`` is not the integer 1, ``"5"`` is not 5, and 0 is never replaced by a default.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

from resilience.clock import NS_PER_SECOND, Clock, SystemClock
from resilience.errors import ConfigError

__all__ = [
    "MAX_DURATION_NS",
    "checked_clock",
    "checked_name",
    "duration_ns",
    "exact_number",
    "exact_seconds",
    "int_at_least",
    "unit_fraction",
]


def int_at_least(field: str, value: object, minimum: int) -> int:
    """An ``int`` (never a ``bool``) that is at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(field, value, f"must be an integer >= {minimum}")
    if value < minimum:
        raise ConfigError(field, value, f"must be an integer >= {minimum}")
    return value


def exact_number(field: str, value: object, rule: str) -> Fraction:
    """``value`` as an exact fraction; a float is read as the decimal it prints as (0.1 is 1/10)."""
    if isinstance(value, bool):
        raise ConfigError(field, value, rule)
    if isinstance(value, Decimal):
        if not value.is_finite():  # also catches signalling NaN, which math.isfinite rejects loudly
            raise ConfigError(field, value, rule)
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(field, value, rule)
        return Fraction(repr(value))
    if isinstance(value, int | Fraction):
        return Fraction(value)
    raise ConfigError(field, value, rule)  # other numbers: convert to float or Fraction first


#: The longest duration accepted (about 31.7 years): far beyond any sensible timeout, and small
#: enough that every derived float and datetime stays representable.
MAX_DURATION_NS = 10**18


def exact_seconds(field: str, value: object) -> Fraction:
    """A duration in seconds (number or ``timedelta``), >= 0 and at most ``MAX_DURATION_NS``,
    as an exact fraction of seconds (not rounded to a nanosecond)."""
    rule = "must be a finite number of seconds >= 0 (or a timedelta)"
    if isinstance(value, timedelta):
        whole = value.days * 86_400 + value.seconds
        seconds = whole + Fraction(value.microseconds, 10**6)
    else:
        seconds = exact_number(field, value, rule)
    if seconds < 0:
        raise ConfigError(field, value, rule)
    if seconds * NS_PER_SECOND > MAX_DURATION_NS:
        raise ConfigError(field, value, f"must be at most {MAX_DURATION_NS // NS_PER_SECOND} s")
    return seconds


def duration_ns(field: str, value: object) -> int:
    """A duration in seconds (number or ``timedelta``), 0 to ~31.7 years, as integer nanoseconds.

    Sub-nanosecond remainders are rounded to the nearest nanosecond; a positive duration that
    would round to 0 is an error rather than a silent "no wait at all".
    """
    seconds = exact_seconds(field, value)
    ns = round(seconds * NS_PER_SECOND)
    if ns == 0 and seconds > 0:
        raise ConfigError(field, value, "must be 0 or at least one nanosecond")
    return ns


def unit_fraction(field: str, value: object) -> Fraction:
    """A rate in (0, 1] as an exact ``Fraction`` (so 0.1 means exactly one in ten)."""
    rule = "must be a number in (0, 1]"
    rate = exact_number(field, value, rule)
    if not 0 < rate <= 1:
        raise ConfigError(field, value, rule)
    return rate


def checked_clock(clock: object) -> Clock:
    if clock is None:
        return SystemClock()
    if isinstance(clock, type) or not isinstance(clock, Clock):
        raise ConfigError(
            "clock", clock, "must be a Clock instance (monotonic_ns, monotonic, sleep)"
        )
    return clock


def checked_name(name: object, default: str) -> str:
    if name is None:
        return default
    if not isinstance(name, str):
        raise ConfigError("name", name, "must be a string")
    return name
