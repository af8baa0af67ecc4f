"""Planted bugs in the retry policy, each a small subclass standing for a real slip (see
../shared/notes/bug-classes.md items 22-23). ``RETRY_MUTANTS`` maps a name to the class."""

from __future__ import annotations

import random
from typing import Any

from resilience import CircuitOpenError, RateLimited, RetryPolicy
from resilience.retry.config import NS_PER_US

__all__ = ["RETRY_MUTANTS"]


class CircuitOpenRetried(RetryPolicy):
    """An open circuit is retried like any listed error (hammering a breaker that said no)."""

    def retryable(self, error: BaseException, state: Any) -> bool:
        if isinstance(error, CircuitOpenError) and isinstance(error, self.config.retry_on):
            return True
        return super().retryable(error, state)


class RateLimitedPastDeadline(RetryPolicy):
    """A rate limit's ``retry_after`` is waited out even when it passes the deadline."""

    def give_up(
        self, attempt: int, error: BaseException, elapsed_ns: int, delay_us: int
    ) -> str | None:
        reason = super().give_up(attempt, error, elapsed_ns, delay_us)
        return None if reason == "deadline" and isinstance(error, RateLimited) else reason


class UncappedBackoff(RetryPolicy):
    """The exponential bound ignores ``max_delay`` (a "cap" that only documents intent)."""

    def delay_us(self, error: BaseException, attempt: int) -> int:
        if isinstance(error, RateLimited):
            return super().delay_us(error, attempt)
        return self.random.randint(0, self.config.base_delay_us << (attempt - 1))


class OneAttemptTooMany(RetryPolicy):
    """``max_attempts`` counts retries, not attempts (off by one)."""

    def give_up(
        self, attempt: int, error: BaseException, elapsed_ns: int, delay_us: int
    ) -> str | None:
        config = self.config
        if config.max_attempts is not None and attempt > config.max_attempts:  # was >=
            return "max_attempts"
        if (
            config.deadline_ns is not None
            and elapsed_ns + delay_us * NS_PER_US > config.deadline_ns
        ):
            return "deadline"
        return None


class GlobalRandomJitter(RetryPolicy):
    """Jitter comes from the global ``random`` module, not the injected source."""

    def delay_us(self, error: BaseException, attempt: int) -> int:
        if isinstance(error, RateLimited):
            return super().delay_us(error, attempt)
        bound = min(self.config.max_delay_us, self.config.base_delay_us << (attempt - 1))
        return random.randint(0, bound)


class DeadlineIgnoresNextDelay(RetryPolicy):
    """The deadline is checked against the time spent so far, not the sleep about to start."""

    def give_up(
        self, attempt: int, error: BaseException, elapsed_ns: int, delay_us: int
    ) -> str | None:
        return super().give_up(attempt, error, elapsed_ns, 0)


class LastErrorWrapped(RetryPolicy):
    """Giving up raises tenacity's ``RetryError`` instead of the last exception."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "reraise": False})


class RetryAfterIgnored(RetryPolicy):
    """A rate limit refusal is retried after the jittered back-off, not its ``retry_after``."""

    def delay_us(self, error: BaseException, attempt: int) -> int:
        bound = min(self.config.max_delay_us, self.config.base_delay_us << (attempt - 1))
        return self.random.randint(0, bound)


class PredicateIgnored(RetryPolicy):
    """``retry_if`` is never consulted: every listed error is retried."""

    def retryable(self, error: BaseException, state: Any) -> bool:
        config = self.config
        return (
            isinstance(error, Exception)
            and not isinstance(error, CircuitOpenError)
            and isinstance(error, config.retry_on)
        )


class FatalRetried(RetryPolicy):
    """``retry_on`` is ignored: any exception is retried (a bad request, again and again)."""

    def retryable(self, error: BaseException, state: Any) -> bool:
        if isinstance(error, Exception) and not isinstance(error, CircuitOpenError):
            return self.config.retry_if is None or bool(self.config.retry_if(state))
        return False


RETRY_MUTANTS: dict[str, type[RetryPolicy]] = {
    cls.__name__: cls
    for cls in (
        CircuitOpenRetried, RateLimitedPastDeadline, UncappedBackoff, OneAttemptTooMany,
        GlobalRandomJitter, DeadlineIgnoresNextDelay, LastErrorWrapped, RetryAfterIgnored,
        PredicateIgnored, FatalRetried,
    )
}  # fmt: skip
