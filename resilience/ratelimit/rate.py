"""Rates as exact fractions: ``Rate(100, per=60)`` is 100 units per 60 seconds, exactly.

Inside, a rate is a reduced fraction ``units / ns`` (``numerator`` units every ``denominator``
nanoseconds), so every limiter computes with integers and never accumulates rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from resilience.clock import NS_PER_SECOND
from resilience.errors import ConfigError
from resilience.validation import MAX_DURATION_NS, duration_ns, exact_number, exact_seconds

__all__ = ["Rate", "positive_duration_ns", "units_per_ns"]


@dataclass(frozen=True, slots=True)
class Rate:
    """``amount`` units per ``per`` seconds (a number or a ``timedelta``); validated when used.

    ``Rate(100, per=60)`` is 100 per minute; ``Rate(1, per=0.1)`` is one every 100 ms.
    """

    amount: int | Fraction | float
    per: int | Fraction | float | timedelta = 1

    def __str__(self) -> str:
        per = self.per.total_seconds() if isinstance(self.per, timedelta) else self.per
        return f"{self.amount} per {per} s"


def units_per_ns(field: str, value: object) -> Fraction:
    """A positive rate (``Rate`` or units per second) as an exact fraction of units per ns.

    The time for one unit must be at most ``MAX_DURATION_NS``: a rate that slow is a mistake.
    """
    if isinstance(value, Rate):
        amount = exact_number(f"{field}.amount", value.amount, "must be a positive number")
        if amount <= 0:
            raise ConfigError(f"{field}.amount", value.amount, "must be a positive number")
        per = exact_seconds(f"{field}.per", value.per)  # exact: never rounded to a ns
        if per == 0:
            raise ConfigError(f"{field}.per", value.per, "must be a positive duration")
        rate = amount / (per * NS_PER_SECOND)
    else:
        rule = "must be a positive number of units per second, or a Rate(amount, per=seconds)"
        per_second = exact_number(field, value, rule)
        if per_second <= 0:
            raise ConfigError(field, value, rule)
        rate = per_second / NS_PER_SECOND
    if 1 / rate > MAX_DURATION_NS:
        raise ConfigError(field, value, f"one unit must come at least every {MAX_DURATION_NS} ns")
    return rate


def positive_duration_ns(field: str, value: object) -> int:
    """A duration in seconds (or ``timedelta``) that is at least one nanosecond."""
    ns = duration_ns(field, value)
    if ns == 0:
        raise ConfigError(field, value, "must be a positive duration (seconds or a timedelta)")
    return ns
