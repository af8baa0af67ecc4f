"""The exception hierarchy: everything we raise derives from ``ResilienceError``."""

from __future__ import annotations

import math
from typing import Any

from circuitbreaker import CircuitBreakerError

__all__ = ["CircuitOpenError", "ConfigError", "ResilienceError"]


class ResilienceError(Exception):
    """Root of every error this library raises on its own account."""


class ConfigError(ResilienceError, ValueError):
    """Invalid configuration, raised at construction, naming the field, the value and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}={value!r} is invalid: {rule}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.value, self.rule))


class CircuitOpenError(ResilienceError, CircuitBreakerError):
    """A call was rejected because the circuit is open (or half-open with every probe slot taken).

    ``retry_after`` is the number of seconds until the breaker will admit a probe: positive while
    open, ``0.0`` when half-open and full (a slot frees as soon as a probe finishes), ``math.inf``
    when the breaker was forced open and stays so until ``reset()``.
    """

    def __init__(self, breaker: Any, *, state: str, retry_after: float) -> None:
        # The base class keeps a reference to the breaker and formats its message lazily from the
        # breaker's *current* state; ours is a snapshot taken when the call was rejected.
        super().__init__(breaker)
        self.breaker_name: str = str(breaker)
        self.state = state
        self.retry_after = retry_after
        if math.isinf(retry_after):
            when = "until reset()"
        elif retry_after > 0:
            when = f"retry after {retry_after:.6g} s"
        else:
            when = "every probe slot is taken"
        self._message = f'circuit "{self.breaker_name}" is {state}: {when}'

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles without the breaker (which holds locks): the snapshot is what travels.
        return (_rebuild_open_error, (self.breaker_name, self.state, self.retry_after))


def _rebuild_open_error(name: str, state: str, retry_after: float) -> CircuitOpenError:
    return CircuitOpenError(name, state=state, retry_after=retry_after)
