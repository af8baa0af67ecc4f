"""A bulkhead's validated, immutable configuration (checked once, at construction; errors name
the field)."""

from __future__ import annotations

from dataclasses import dataclass

from resilience.clock import NS_PER_SECOND
from resilience.validation import duration_ns, int_at_least

__all__ = ["BulkheadConfig", "max_wait_ns"]


def max_wait_ns(value: object) -> int | None:
    """``max_wait`` in seconds (int, float, ``Fraction``, ``Decimal`` or ``timedelta``) as
    integer nanoseconds; ``None`` (wait as long as it takes) stays ``None``. Negative, NaN,
    infinite, boolean and sub-nanosecond positive values raise ``ConfigError``."""
    return None if value is None else duration_ns("max_wait", value)


@dataclass(frozen=True, slots=True)
class BulkheadConfig:
    """Everything that decides a bulkhead's behaviour. ``max_wait_ns=None``: a caller waits as
    long as it takes for a permit; ``0``: it never waits."""

    max_concurrent: int
    max_wait_ns: int | None
    name: str

    @classmethod
    def build(cls, *, max_concurrent: object, max_wait: object, name: str) -> BulkheadConfig:
        return cls(
            max_concurrent=int_at_least("max_concurrent", max_concurrent, 1),
            max_wait_ns=max_wait_ns(max_wait),
            name=name,
        )

    @property
    def max_wait(self) -> float | None:
        """``max_wait_ns`` in seconds (``None``: no limit)."""
        return None if self.max_wait_ns is None else self.max_wait_ns / NS_PER_SECOND
