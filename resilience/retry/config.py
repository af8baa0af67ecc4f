"""A retry policy's validated, immutable configuration (checked once, at construction; errors
name the field)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resilience.errors import ConfigError
from resilience.validation import duration_ns, int_at_least

__all__ = ["NS_PER_US", "RetryConfig"]

NS_PER_US = 1_000


def _whole_us(field: str, value: object) -> int:
    """A duration in seconds as whole microseconds (delays are drawn in microseconds: never
    silently rounded)."""
    ns = duration_ns(field, value)
    if ns % NS_PER_US:
        raise ConfigError(field, value, "must be a whole number of microseconds")
    return ns // NS_PER_US


def _exception_types(value: object) -> tuple[type[BaseException], ...]:
    types = value if isinstance(value, tuple) else (value,)
    if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        raise ConfigError(
            "retry_on", value, "must be an exception class or a non-empty tuple of them"
        )
    return types


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """Everything that decides a retry policy's behaviour. Delays are whole microseconds; the
    deadline is integer nanoseconds; ``None`` means "no limit"."""

    max_attempts: int | None
    deadline_ns: int | None
    base_delay_us: int
    max_delay_us: int
    retry_on: tuple[type[BaseException], ...]
    retry_if: Callable[[Any], object] | None
    reraise: bool
    name: str

    @classmethod
    def build(
        cls,
        *,
        max_attempts: object,
        deadline: object,
        base_delay: object,
        max_delay: object,
        retry_on: object,
        retry_if: object,
        reraise: object,
        name: str,
    ) -> RetryConfig:
        attempts = None if max_attempts is None else int_at_least("max_attempts", max_attempts, 1)
        deadline_ns = None if deadline is None else duration_ns("deadline", deadline)
        if deadline_ns == 0:
            raise ConfigError(
                "deadline", deadline, "must be a positive number of seconds (or None)"
            )
        if attempts is None and deadline_ns is None:
            raise ConfigError(
                "max_attempts",
                None,
                "set max_attempts, deadline or both: otherwise retries never stop",
            )
        base_us = _whole_us("base_delay", base_delay)
        cap_us = _whole_us("max_delay", max_delay)
        if cap_us < base_us:
            raise ConfigError("max_delay", max_delay, f"must be >= base_delay ({base_delay!r})")
        if retry_if is not None and not callable(retry_if):
            raise ConfigError(
                "retry_if", retry_if, "must be callable (it gets tenacity's RetryCallState) or None"
            )
        if not isinstance(reraise, bool):
            raise ConfigError("reraise", reraise, "must be True or False")
        return cls(
            attempts,
            deadline_ns,
            base_us,
            cap_us,
            _exception_types(retry_on),
            retry_if,
            reraise,
            name,
        )


def checked_random(value: object) -> random.Random:
    """The jitter source: a ``random.Random`` (never the global one, which Hypothesis reseeds)."""
    if value is None:
        return random.Random()
    if not isinstance(value, random.Random):
        raise ConfigError("random", value, "must be a random.Random instance or None")
    return value
