"""Named breakers, shared by name, with no global state that outlives a test.

Unlike ``circuitbreaker.CircuitBreakerMonitor`` (one class-level dict, same-name breakers silently
overwrite each other, ``all_closed()`` is True while half-open), a ``BreakerRegistry`` is an object:
create one per application (or use ``resilience.breakers``), ``clear()`` it in test fixtures.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import fields
from typing import Any

from resilience.breaker.breaker import BreakerState, CircuitBreaker
from resilience.breaker.config import BreakerConfig
from resilience.errors import ConfigError

__all__ = ["BreakerRegistry"]

# Not behaviour: the name is the key, and a clock (a fresh SystemClock() each time) has no equality.
_IDENTITY_FIELDS = frozenset({"name", "clock"})


class BreakerRegistry:
    """A thread-safe map of names to breakers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}

    def register(self, breaker: CircuitBreaker) -> CircuitBreaker:
        """Add ``breaker`` under its name; another breaker of the same name is a ``ConfigError``."""
        name = breaker.name
        if not name:
            raise ConfigError("name", name, "a registered breaker needs a non-empty name")
        with self._lock:
            existing = self._breakers.setdefault(name, breaker)
        if existing is not breaker:
            raise ConfigError("name", name, "another breaker is already registered under it")
        return breaker

    def get_or_create(self, name: str, **config: Any) -> CircuitBreaker:
        """The breaker called ``name``, created with ``config`` the first time.

        Asking again with a *different* configuration is a ``ConfigError`` rather than a silent
        return of a breaker configured otherwise.
        """
        candidate = CircuitBreaker(name=name, **config)
        with self._lock:
            existing = self._breakers.setdefault(name, candidate)
        if existing is not candidate:
            differing = [
                field.name.removesuffix("_ns")  # as the argument is called: recovery_timeout
                for field in fields(BreakerConfig)
                if field.name not in _IDENTITY_FIELDS
                and getattr(existing.config, field.name) != getattr(candidate.config, field.name)
            ]
            if differing:
                raise ConfigError(
                    "name", name, f"already registered with a different {', '.join(differing)}"
                )
        return existing

    def get(self, name: str) -> CircuitBreaker | None:
        with self._lock:
            return self._breakers.get(name)

    def __iter__(self) -> Iterator[CircuitBreaker]:
        with self._lock:
            return iter(list(self._breakers.values()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._breakers)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._breakers

    def all_closed(self) -> bool:
        """True only when every breaker is CLOSED (half-open is not closed)."""
        return all(breaker.state is BreakerState.CLOSED for breaker in self)

    def not_closed(self) -> list[CircuitBreaker]:
        """The breakers that are OPEN or HALF_OPEN."""
        return [breaker for breaker in self if breaker.state is not BreakerState.CLOSED]

    def clear(self) -> None:
        with self._lock:
            self._breakers.clear()
