"""What a rate limiter answers: ``Decision(admitted, remaining, retry_after, retry_after_ns)``."""

from __future__ import annotations

from typing import NamedTuple

from resilience.clock import NS_PER_SECOND

__all__ = ["ADMITTED", "CACHED", "Decision", "admit", "reject"]


class Decision(NamedTuple):
    """One decision. Truthy exactly when admitted (``if limiter.try_acquire(): ...``).

    * ``remaining``: whole units a next request could take right now (after this one, if admitted).
    * ``retry_after_ns``: 0 when admitted; otherwise the exact wait after which this same request
      is admitted if nothing else is admitted meanwhile (one nanosecond less is not enough).
    * ``retry_after``: the same wait in seconds, for display and ``sleep``.
    """

    admitted: bool
    remaining: int
    retry_after: float
    retry_after_ns: int

    def __bool__(self) -> bool:
        return self.admitted


_new = tuple.__new__
# Admissions are the hot path: decisions are immutable, so the common ones are built once.
# Hot paths write ``ADMITTED[r] if r < CACHED else admit(r)``.
CACHED = 1024
ADMITTED = tuple(_new(Decision, (True, remaining, 0.0, 0)) for remaining in range(CACHED))


def admit(remaining: int) -> Decision:
    """An admission leaving ``remaining`` units."""
    if remaining < CACHED:
        return ADMITTED[remaining]
    return _new(Decision, (True, remaining, 0.0, 0))


def reject(remaining: int, retry_after_ns: int) -> Decision:
    """A rejection: ``remaining`` units are free now; the request fits after ``retry_after_ns``."""
    return _new(Decision, (False, remaining, retry_after_ns / NS_PER_SECOND, retry_after_ns))
