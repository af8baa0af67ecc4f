"""``EventLogger``: a listener that writes every event it receives to stdlib ``logging``.

One line per event: ``<source> <EventType> field=value ...`` (every field but ``source`` and
``at_ns``), with the event itself as ``record.event`` (``extra={"event": event}``) for handlers
that want the structure. Levels, by event type (a subclass takes its base's level):

* WARNING: ``StateChanged`` (a breaker opened, half-opened or closed);
* INFO: something was refused, failed or gave up: ``CallFailed``, ``CallRejected``,
  ``RequestRejected``, ``BulkheadRejected``, ``CheckoutTimedOut``, ``CreateFailed``,
  ``DestroyFailed``, ``LeaseLeaked``, ``RetryScheduled``, ``RetryGaveUp``, ``FallbackUsed``;
* DEBUG: everything else (admissions, successes, checkouts and check-ins, each attempt...).

``levels`` overrides any of them. The line is formatted only if the logger is enabled for its
level, so a quiet logger costs a dictionary lookup per event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import fields
from types import MappingProxyType

from resilience.events import (
    BulkheadRejected,
    CallFailed,
    CallRejected,
    CheckoutTimedOut,
    CreateFailed,
    DestroyFailed,
    Event,
    FallbackUsed,
    LeaseLeaked,
    RequestRejected,
    RetryGaveUp,
    RetryScheduled,
    StateChanged,
)

__all__ = ["DEFAULT_LEVELS", "EVENT_LOGGER", "EventLogger"]

#: The logger ``Resilience(log_events=True)`` writes to.
EVENT_LOGGER = "resilience.events"

_TROUBLE = (
    CallFailed,
    CallRejected,
    RequestRejected,
    BulkheadRejected,
    CheckoutTimedOut,
    CreateFailed,
    DestroyFailed,
    LeaseLeaked,
    RetryScheduled,
    RetryGaveUp,
    FallbackUsed,
)

#: Each event type's level (types not listed: ``logging.DEBUG``).
DEFAULT_LEVELS: Mapping[type[Event], int] = MappingProxyType(
    {StateChanged: logging.WARNING, **dict.fromkeys(_TROUBLE, logging.INFO)}
)


class EventLogger:
    """``listener(event)`` that logs ``event`` to ``logger`` (default: the
    ``"resilience.events"`` logger) at its level (see the module docstring)."""

    __slots__ = ("_levels", "logger")

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        levels: Mapping[type[Event], int] | None = None,
    ) -> None:
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger or None, not {logger!r}")
        self.logger = logging.getLogger(EVENT_LOGGER) if logger is None else logger
        self._levels = {**DEFAULT_LEVELS, **(levels or {})}

    def level(self, kind: type[Event]) -> int:
        """The level events of type ``kind`` are logged at."""
        for cls in kind.__mro__:
            level = self._levels.get(cls)
            if level is not None:
                return level
        return logging.DEBUG

    def __call__(self, event: Event) -> None:
        level = self.level(type(event))
        if not self.logger.isEnabledFor(level):
            return
        details = " ".join(
            f"{f.name}={getattr(event, f.name)!r}"
            for f in fields(event)
            if f.name not in ("source", "at_ns")
        )
        self.logger.log(
            level, "%s %s %s", event.source, type(event).__name__, details, extra={"event": event}
        )

    def __repr__(self) -> str:
        return f"EventLogger({self.logger.name!r})"
