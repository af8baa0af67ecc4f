"""Build an operation's components and its ``Pipeline`` from its resolved configuration.

Ranges and combinations are checked by the components themselves, as they are built: a
component's ``ConfigError`` is re-raised with the full path of the setting it names, at the place
the value was written (``defaults.retry.max_delay`` for a default, with the operation that
inherited it in the message; ``operations.search.retry.max_delay`` for the operation's own value
or a preset's). Component names are ``<operation>.<section>`` (``search.breaker``); the pipeline
is named after the operation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from resilience.breaker import CircuitBreaker
from resilience.bulkhead import Bulkhead
from resilience.chain import Pipeline
from resilience.clock import Clock
from resilience.config.exception_names import exception_classes
from resilience.config.fields import REQUIRED
from resilience.config.merge import DEFAULTS, OPERATION, Resolved, resolve
from resilience.config.parse import unknown_operation
from resilience.config.schema import SECTIONS, ResilienceConfig, Section
from resilience.errors import ConfigError
from resilience.pool import AsyncResourcePool, ResourcePool
from resilience.ratelimit import (
    GCRA,
    FixedWindow,
    Rate,
    RateLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from resilience.retry import RetryPolicy
from resilience.validation import checked_clock

__all__ = [
    "PoolCallbacks",
    "build_operation",
    "build_pipeline",
    "limiter_settings",
    "pool_callbacks",
]


@dataclass(frozen=True, slots=True)
class PoolCallbacks:
    """The code side of a pool section: ``factory`` and the optional ``validate``, ``reset``
    and ``destroy``. If any of them is a coroutine function the pool is an
    ``AsyncResourcePool`` (only ``aexecute`` can use it), else a ``ResourcePool``."""

    factory: Callable[[], Any]
    validate: Callable[[Any], Any] | None = None
    reset: Callable[[Any], Any] | None = None
    destroy: Callable[[Any], Any] | None = None

    @property
    def asynchronous(self) -> bool:
        callbacks = (self.factory, self.validate, self.reset, self.destroy)
        return any(_is_async(c) for c in callbacks if c is not None)


def _is_async(fn: object) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
    return any(inspect.iscoroutinefunction(f) or inspect.isasyncgenfunction(f) for f in (fn, call))


def pool_callbacks(value: object) -> PoolCallbacks:
    """``factories={name: value}``'s value: a ``PoolCallbacks``, or the factory alone (checked
    by the pool, like any factory)."""
    if isinstance(value, PoolCallbacks):
        return value
    return PoolCallbacks(factory=value)  # type: ignore[arg-type]  # the pool checks it


# ---------------------------------------------------------------- one builder per section

_WINDOWS: Mapping[str, type[FixedWindow | SlidingWindowLog | SlidingWindowCounter]] = {
    "fixed_window": FixedWindow,
    "sliding_log": SlidingWindowLog,
    "sliding_counter": SlidingWindowCounter,
}


def limiter_settings(section: Section) -> dict[str, object]:
    """The settings that make the limiter itself (``cost`` and ``wait`` belong to the
    pipeline: changing them keeps the limiter and its state)."""
    return {k: v for k, v in section.items() if k not in ("cost", "wait")}


# The limiters' names for a rate's parts, and for the whole rate (too slow to be meant), as a
# file names them.
_RATE_FIELDS = {
    f"{rate}{part}": key
    for rate in ("refill_rate", "rate")
    for part, key in ((".amount", "limit"), (".per", "per"), ("", "per"))
}


def _rate_limiter(
    name: str, s: Mapping[str, Any], clock: Clock, _: PoolCallbacks | None
) -> RateLimiter[Any]:
    """``limit`` units per ``per`` seconds. Token bucket and GCRA: refilled at that rate, with
    bursts of up to ``burst`` units (default ``limit``); the windows: ``limit`` units per
    window of ``per`` seconds."""
    algorithm, limit, per, burst = s["algorithm"], s["limit"], s["per"], s.get("burst")
    capacity = "limit" if burst is None else "burst"
    fields = {**_RATE_FIELDS, "window": "per", "capacity": capacity, "burst": capacity}
    try:
        if algorithm == "token_bucket":
            return TokenBucket(s[capacity], Rate(limit, per), name=name, clock=clock)
        if algorithm == "gcra":
            return GCRA(Rate(limit, per), s[capacity], name=name, clock=clock)
        if burst is not None:
            raise ConfigError("burst", burst, f"applies to token_bucket and gcra, not {algorithm}")
        return _WINDOWS[algorithm](limit, per, name=name, clock=clock)
    except ConfigError as error:
        raise ConfigError(fields.get(error.field, error.field), error.value, error.rule) from None


def _bulkhead(name: str, s: Mapping[str, Any], clock: Clock, _: PoolCallbacks | None) -> Bulkhead:
    return Bulkhead(s["max_concurrent"], max_wait=s.get("max_wait", 0), name=name, clock=clock)


def _retry(name: str, s: Mapping[str, Any], clock: Clock, _: PoolCallbacks | None) -> RetryPolicy:
    settings: dict[str, Any] = dict(s)
    if "retry_on" in s:
        settings["retry_on"] = exception_classes("retry_on", s["retry_on"])
    return RetryPolicy(**settings, name=name, clock=clock)


def _breaker(
    name: str, s: Mapping[str, Any], clock: Clock, _: PoolCallbacks | None
) -> CircuitBreaker:
    settings: dict[str, Any] = dict(s)
    if "expected_exception" in s:
        names = s["expected_exception"]
        settings["expected_exception"] = exception_classes("expected_exception", names)
    return CircuitBreaker(**settings, name=name, clock=clock)


def _pool(
    name: str, s: Mapping[str, Any], clock: Clock, callbacks: PoolCallbacks | None
) -> ResourcePool[Any] | AsyncResourcePool[Any]:
    if callbacks is None:
        raise ConfigError(
            "factory",
            None,
            "a pool needs a factory, and a factory is code: pass factories={name: callable}",
        )
    cls = AsyncResourcePool if callbacks.asynchronous else ResourcePool
    return cls(
        callbacks.factory,
        validate=callbacks.validate,
        reset=callbacks.reset,
        destroy=callbacks.destroy,
        name=name,
        clock=clock,
        **dict(s),
    )


_BUILDERS: Mapping[str, Callable[[str, Mapping[str, Any], Clock, PoolCallbacks | None], object]] = {
    "rate_limit": _rate_limiter,
    "bulkhead": _bulkhead,
    "retry": _retry,
    "breaker": _breaker,
    "pool": _pool,
}

# Pipeline's names for settings, as the file names them.
_PIPELINE_FIELDS = {"rate_limit_cost": "rate_limit.cost", "rate_limit_wait": "rate_limit.wait"}


# ---------------------------------------------------------------- the pipeline


def build_operation(
    resolved: Resolved,
    *,
    callbacks: PoolCallbacks | None,
    clock: Clock,
    keep: Mapping[str, object] | None = None,
) -> Pipeline:
    """The pipeline of ``resolved``, with the components in ``keep`` (section -> component)
    used as they are and the others built anew; ``ConfigError`` with the full path if a
    setting is wrong."""
    keep = keep or {}
    name, operation = resolved.name, resolved.operation
    components: dict[str, object] = {}
    for section in SECTIONS:
        settings = operation.section(section)
        if settings is None:
            continue
        assert settings is not False  # resolve() turns a switched-off section into None
        if section in keep:
            components[section] = keep[section]
            continue
        with _located(resolved, section, settings):
            for key in REQUIRED.get(section, ()):
                if key not in settings:
                    raise ConfigError(key, None, "must be given: there is no default")
            build = _BUILDERS[section]
            components[section] = build(f"{name}.{section}", settings, clock, callbacks)
    limits = operation.rate_limit or Section()
    with _located(resolved, None, limits):
        return Pipeline(
            rate_limiter=components.get("rate_limit"),
            bulkhead=components.get("bulkhead"),
            retry=components.get("retry"),
            breaker=components.get("breaker"),
            pool=components.get("pool"),
            order=operation.order,
            rate_limit_cost=limits.get("cost", 1),
            rate_limit_wait=limits.get("wait", 0),
            name=name,
            clock=clock,
        )


@contextmanager
def _located(resolved: Resolved, section: str | None, settings: Section) -> Iterator[None]:
    """Re-raise a component's ``ConfigError`` with the full path of the setting it names."""
    try:
        yield
    except ConfigError as error:
        key = error.field if section is None else f"{section}.{error.field}"
        key = _PIPELINE_FIELDS.get(key, key)
        setting = key.rpartition(".")[2]
        value = settings.get(setting, error.value)
        source = resolved.sources.get(key, OPERATION)
        where, rule = f"operations.{resolved.name}.{key}", error.rule
        if source == DEFAULTS:
            where = f"defaults.{key}"
            rule += f" (inherited by operations.{resolved.name})"
        elif source != OPERATION:
            rule += f" (from {source})"
        raise ConfigError(where, value, rule) from error


def build_pipeline(
    config: ResilienceConfig,
    name: str,
    *,
    factories: Mapping[str, object] | None = None,
    clock: object = None,
) -> Pipeline:
    """The pipeline of operation ``name`` of ``config`` (presets and defaults merged in), with
    the pool callbacks ``factories.get(name)`` (a factory or a ``PoolCallbacks``) and ``clock``
    for every component. ``KeyError`` if ``config`` has no such operation."""
    if name not in config.operations:
        raise unknown_operation(name, config.operations)
    given = (factories or {}).get(name)
    return build_operation(
        resolve(name, config.operations[name], config.defaults),
        callbacks=None if given is None else pool_callbacks(given),
        clock=checked_clock(clock),
    )
