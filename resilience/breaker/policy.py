"""Failure policies: what a CLOSED breaker counts, and when it trips.

A policy is a small mutable tracker owned by one breaker and only touched under its lock.
``record_success``/``record_failure`` return True when the breaker must open.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

__all__ = ["ConsecutiveFailures", "FailurePolicy", "FailureRate"]


class FailurePolicy:
    """Interface shared by the policies.

    ``quiet_success`` is True while a success would change nothing; the breaker then records a
    success without taking its lock (the hot path of a healthy dependency).
    """

    __slots__ = ("quiet_success",)

    def __init__(self) -> None:
        self.quiet_success = False

    @property
    def failure_count(self) -> int:
        raise NotImplementedError

    def record_success(self) -> bool:
        raise NotImplementedError

    def record_failure(self) -> bool:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def window(self) -> tuple[bool, ...] | None:
        """The recorded outcomes oldest first (True = failure), or None if the policy keeps none."""
        return None


class ConsecutiveFailures(FailurePolicy):
    """Open after ``threshold`` counted failures in a row; a success resets the run."""

    __slots__ = ("_failures", "threshold")

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold
        self._failures = 0
        self.quiet_success = True

    @property
    def failure_count(self) -> int:
        return self._failures

    def record_success(self) -> bool:
        self._failures = 0
        self.quiet_success = True
        return False

    def record_failure(self) -> bool:
        self._failures += 1
        self.quiet_success = False
        return self._failures >= self.threshold

    def clear(self) -> None:
        self._failures = 0
        self.quiet_success = True


class FailureRate(FailurePolicy):
    """Open when, over the last ``window_size`` calls, at least ``minimum_calls`` were recorded and
    the share of failures reaches ``rate`` (exact integer comparison: no float rounding)."""

    __slots__ = ("_failures", "_outcomes", "_rate_den", "_rate_num", "minimum_calls", "window_size")

    def __init__(self, rate: Fraction, window_size: int, minimum_calls: int) -> None:
        super().__init__()  # every success is recorded in the window: never quiet
        self._rate_num, self._rate_den = rate.numerator, rate.denominator
        self.window_size = window_size
        self.minimum_calls = minimum_calls
        self._outcomes: deque[bool] = deque()
        self._failures = 0

    @property
    def failure_count(self) -> int:
        return self._failures

    def _record(self, failed: bool) -> bool:
        outcomes = self._outcomes
        if len(outcomes) == self.window_size:
            self._failures -= outcomes.popleft()
        outcomes.append(failed)
        self._failures += failed
        recorded = len(outcomes)
        # failures / recorded >= num / den, cross-multiplied to stay in integers.
        return (
            recorded >= self.minimum_calls
            and self._failures * self._rate_den >= self._rate_num * recorded
        )

    def record_success(self) -> bool:
        # A success can trip the breaker too: it may bring the window up to minimum_calls while
        # the failure share is already at the threshold (the same rule resilience4j applies).
        return self._record(False)

    def record_failure(self) -> bool:
        return self._record(True)

    def clear(self) -> None:
        self._outcomes.clear()
        self._failures = 0

    def window(self) -> tuple[bool, ...]:
        return tuple(self._outcomes)
