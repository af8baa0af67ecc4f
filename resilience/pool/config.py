"""A pool's validated, immutable configuration (checked once, at construction; errors name the
field)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resilience.errors import ConfigError
from resilience.validation import duration_ns, int_at_least

__all__ = ["PoolConfig"]


def _callback(field: str, value: object, *, required: bool, allow_async: bool) -> Any:
    if value is None and not required:
        return None
    if not callable(value):
        raise ConfigError(field, value, "must be callable" + ("" if required else " or None"))
    call = getattr(value, "__call__", None)  # noqa: B004 - an instance with async __call__
    if not allow_async and any(
        inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (value, call)
    ):
        raise ConfigError(
            field, value, "is an async function: use AsyncResourcePool for async callbacks"
        )
    return value


def _optional_duration(field: str, value: object, *, positive: bool) -> int | None:
    if value is None:
        return None
    ns = duration_ns(field, value)
    if positive and ns == 0:
        raise ConfigError(field, value, "must be a positive number of seconds (or None)")
    return ns


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Everything that decides a pool's behaviour. Durations are integer nanoseconds; ``None``
    means "no limit" (``timeout_ns=None``: wait as long as it takes)."""

    factory: Callable[[], Any]
    size: int
    max_overflow: int
    timeout_ns: int | None
    lifo: bool
    validate: Callable[[Any], Any] | None
    reset: Callable[[Any], Any] | None
    destroy: Callable[[Any], Any] | None
    max_lifetime_ns: int | None
    max_idle_ns: int | None
    leak_threshold_ns: int | None
    name: str

    @classmethod
    def build(
        cls,
        factory: object,
        *,
        size: object,
        max_overflow: object,
        timeout: object,
        lifo: object,
        validate: object,
        reset: object,
        destroy: object,
        max_lifetime: object,
        max_idle: object,
        leak_threshold: object,
        name: object,
        allow_async: bool,
    ) -> PoolConfig:
        if not isinstance(lifo, bool):
            raise ConfigError("lifo", lifo, "must be True (LIFO) or False (FIFO)")
        if not isinstance(name, str):
            raise ConfigError("name", name, "must be a string")
        return cls(
            factory=_callback("factory", factory, required=True, allow_async=allow_async),
            size=int_at_least("size", size, 1),
            max_overflow=int_at_least("max_overflow", max_overflow, 0),
            timeout_ns=_optional_duration("timeout", timeout, positive=False),
            lifo=lifo,
            validate=_callback("validate", validate, required=False, allow_async=allow_async),
            reset=_callback("reset", reset, required=False, allow_async=allow_async),
            destroy=_callback("destroy", destroy, required=False, allow_async=allow_async),
            max_lifetime_ns=_optional_duration("max_lifetime", max_lifetime, positive=True),
            max_idle_ns=_optional_duration("max_idle", max_idle, positive=True),
            leak_threshold_ns=_optional_duration("leak_threshold", leak_threshold, positive=True),
            name=name,
        )

    @property
    def capacity(self) -> int:
        """The most resources that can exist at once: ``size + max_overflow``."""
        return self.size + self.max_overflow
