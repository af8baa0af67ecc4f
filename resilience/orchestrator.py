"""``Resilience``: named operations, each with its own pipeline (its own breaker, limiter,
bulkhead, retry policy and pool), configured from a file, reconfigured while running.

``reconfigure(name, ...)`` is validated first (a bad configuration changes nothing), then
switches atomically: each call reads its operation's pipeline once, when it starts, so calls
already running finish under the old pipeline and every later call runs under the new one.
Components whose settings did not change are kept, state and all (an open breaker stays open
when only the retry policy changes; an unchanged limiter keeps its tokens). A pool that is
replaced is closed once the last call still using it has finished (see ``generation.py``).

Every pipeline an operation has had is kept, for ``metrics()`` to add its counters up: a
reconfiguration is a change of configuration, not something to do per request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypeVar

from resilience.chain import Pipeline
from resilience.config.build import PoolCallbacks, build_operation, pool_callbacks
from resilience.config.load import load_config
from resilience.config.merge import Resolved, resolve
from resilience.config.parse import checked_operation_name, parse_operation, unknown_operation
from resilience.config.schema import OperationConfig, ResilienceConfig
from resilience.errors import ConfigError
from resilience.events import Listener
from resilience.generation import (
    Drained,
    Generation,
    Operation,
    PoolOwners,
    Subscription,
    cumulative_metrics,
    pools_of,
    unchanged_components,
)
from resilience.log import EVENT_LOGGER, EventLogger
from resilience.outcome import Outcome, checked_timeout, settle
from resilience.validation import checked_clock

__all__ = ["Resilience"]

T = TypeVar("T")

#: What ``add`` and ``reconfigure`` accept: an operation's settings (a mapping as in a file, or
#: an ``OperationConfig``), or a hand-built pipeline.
Definition = Mapping[str, Any] | OperationConfig | Pipeline


class Resilience:
    """Operations by name: ``execute(name, fn, *args, **kwargs)``, ``await aexecute(...)``,
    ``await run_all({name: fn, ...}, timeout=...)``, ``metrics()``.

    ``config``: a ``ResilienceConfig``, a mapping, or a ``.json``/``.toml`` path (``load_config``).
    ``factories``: ``{operation: factory or PoolCallbacks}`` for each operation with a pool.
    ``clock``: for every component. ``log_events``: ``True`` (the ``"resilience.events"``
    logger) or a ``logging.Logger``: every event of every pipeline, present and future, is
    logged by an ``EventLogger``.
    """

    def __init__(
        self,
        config: object = None,
        *,
        factories: Mapping[str, object] | None = None,
        clock: object = None,
        log_events: bool | logging.Logger = False,
    ) -> None:
        self._clock = checked_clock(clock)
        logger = _checked_log_events(log_events)
        if not isinstance(config, ResilienceConfig):
            config = load_config({} if config is None else config)
        self._defaults = config.defaults
        self._lock = threading.Lock()  # guards generations and in-flight counts: never a call
        self._changes = threading.Lock()  # serialises add, reconfigure and subscribe
        self._operations: dict[str, Operation] = {}
        self._owners = PoolOwners()
        self._subscriptions: list[Subscription] = []
        self._closing: set[asyncio.Task[None]] = set()
        resolved = {n: resolve(n, s, config.defaults) for n, s in config.operations.items()}
        callbacks = _checked_factories(factories, resolved)
        for name, operation in config.operations.items():
            self._install(Operation(), name, operation, callbacks.get(name))
        if logger is not None:
            self.subscribe(EventLogger(logger))

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike[str],
        *,
        factories: Mapping[str, object] | None = None,
        clock: object = None,
        log_events: bool | logging.Logger = False,
    ) -> Resilience:
        """``Resilience`` configured from a ``.json`` or ``.toml`` file (see ``load_config``)."""
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"from_file takes a path, not {path!r}")
        return cls(load_config(path), factories=factories, clock=clock, log_events=log_events)

    # ---------------------------------------------------------------- operations

    @property
    def names(self) -> tuple[str, ...]:
        """The operations' names, in the order they were added."""
        with self._lock:
            return tuple(self._operations)

    def pipeline(self, name: str) -> Pipeline:
        """The current pipeline of operation ``name`` (``KeyError`` if there is none)."""
        with self._lock:
            return self._operation(name).current.pipeline

    def add(self, name: str, definition: Definition, *, factory: object = None) -> None:
        """Add operation ``name``: a hand-built ``Pipeline``, or settings as in a file (merged
        with the defaults and presets; ``factory`` for its pool). ``ConfigError`` at
        ``operations.<name>`` if the name is taken (use ``reconfigure``)."""
        name = checked_operation_name(name)
        with self._changes:
            if name in self._operations:
                raise ConfigError(
                    f"operations.{name}", definition, "is already added: use reconfigure()"
                )
            callbacks = None if factory is None else pool_callbacks(factory)
            drained = self._install(Operation(), name, definition, callbacks, factory is not None)
        drained.run(self._closing)

    def reconfigure(self, name: str, definition: Definition, *, factory: object = None) -> None:
        """Replace operation ``name``'s settings (as a whole: defaults and presets still apply
        beneath them) or its pipeline; ``factory`` replaces its pool callbacks (``None``: keep
        them). Validated before anything changes; see the module docstring for what the running
        calls and the unchanged components see. ``KeyError`` for an unknown name (use ``add``).
        """
        with self._changes:
            with self._lock:
                operation = self._operation(name)
            callbacks = operation.callbacks if factory is None else pool_callbacks(factory)
            drained = self._install(operation, name, definition, callbacks, factory is not None)
        # Outside the lock: a listener of the closing pool's events may reconfigure again.
        drained.run(self._closing)

    def _operation(self, name: str) -> Operation:
        operation = self._operations.get(name)
        if operation is None:
            raise unknown_operation(name, self._operations)
        return operation

    def _install(
        self,
        operation: Operation,
        name: str,
        definition: object,
        callbacks: PoolCallbacks | None,
        factory_given: bool = False,
    ) -> Drained:
        """Build ``definition``'s pipeline (keeping what did not change) and make it current;
        returns what the old generation, if drained now, leaves to do. A factory given for an
        operation without a pool section is an error, never ignored."""
        if isinstance(definition, Pipeline):
            if factory_given:
                raise _unused_factory(name, callbacks)
            pipeline, section, resolved, fresh = definition, None, None, []
        else:
            if isinstance(definition, OperationConfig):
                section = definition
            else:
                section = parse_operation(f"operations.{name}", definition)
            resolved = resolve(name, section, self._defaults)
            if factory_given and resolved.operation.pool is None:
                raise _unused_factory(name, callbacks)
            keep = unchanged_components(operation, resolved, callbacks)
            pipeline = build_operation(resolved, callbacks=callbacks, clock=self._clock, keep=keep)
            fresh = [] if "pool" in keep else pools_of(pipeline)
        drained = Drained()
        with self._lock:
            for pool in fresh:
                self._owners.adopt(pool)
            generation = self._owners.start(pipeline)
        for subscription in self._subscriptions:
            subscription.attach(generation)  # before any call can run through it
        with self._lock:
            if operation.live:
                old = operation.current
                old.retired = True
                if old.in_flight == 0:
                    self._drain(operation, old, drained)
            operation.section, operation.resolved = section, resolved
            operation.callbacks = callbacks
            operation.live.append(generation)
            operation.history.append(pipeline)
            self._operations[name] = operation
        return drained

    def _drain(self, operation: Operation, generation: Generation, drained: Drained) -> None:
        operation.live.remove(generation)
        self._owners.drain(generation, drained)

    # ---------------------------------------------------------------- calls

    def _enter(self, name: str) -> tuple[Operation, Generation]:
        """Operation ``name`` and its current generation, counted in flight from now."""
        with self._lock:
            operation = self._operation(name)
            generation = operation.current
            generation.in_flight += 1
            return operation, generation

    def _leave(self, operation: Operation, generation: Generation) -> Drained | None:
        """A call of ``generation`` has finished: what is left to do if it was the last call of
        a retired generation."""
        with self._lock:
            generation.in_flight -= 1
            if not generation.retired or generation.in_flight:
                return None
            drained = Drained()
            self._drain(operation, generation, drained)
            return drained

    def execute(self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` through operation ``name``'s pipeline (``Pipeline.execute``).
        ``KeyError`` (listing the known names) for an unknown operation."""
        operation, generation = self._enter(name)
        try:
            return generation.pipeline.execute(fn, *args, **kwargs)
        finally:
            drained = self._leave(operation, generation)
            if drained is not None:
                drained.run(self._closing)

    async def aexecute(
        self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """``Pipeline.aexecute`` through operation ``name``'s pipeline."""
        operation, generation = self._enter(name)
        try:
            return await generation.pipeline.aexecute(fn, *args, **kwargs)
        finally:
            drained = self._leave(operation, generation)
            if drained is not None:
                await drained.arun()

    async def run_all(
        self, calls: Mapping[str, Callable[[], Any]], timeout: object = None
    ) -> dict[str, Outcome]:
        """Run ``aexecute(name, fn)`` for every ``name: fn`` of ``calls`` at once, and return
        ``{name: Outcome}`` once all have ended: each value or error comes back on its own, and
        none affects the others. One still running ``timeout`` seconds after the start (event
        loop time; ``None``: no limit) is cancelled and ends with a ``TimeoutError``; a plain
        function blocks the loop and cannot be cancelled. ``KeyError`` before anything starts
        if a name is unknown."""
        if not isinstance(calls, Mapping):
            raise TypeError(f"run_all takes a mapping of operation name to function, not {calls!r}")
        limit = checked_timeout(timeout)
        with self._lock:
            for name in calls:
                self._operation(name)
        ended = await asyncio.gather(
            *(settle(n, partial(self.aexecute, n, fn), limit) for n, fn in calls.items())
        )
        return {outcome.name: outcome for outcome in ended}

    # ---------------------------------------------------------------- observation

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event of every operation's pipeline and
        components, those added or reconfigured later included; returns the unsubscribe."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, not {listener!r}")
        subscription = Subscription(listener)
        with self._changes:
            with self._lock:
                live = [g for operation in self._operations.values() for g in operation.live]
            for generation in live:
                subscription.attach(generation)
            self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            with self._changes:
                if subscription in self._subscriptions:
                    self._subscriptions.remove(subscription)
                for undo in subscription.undo:
                    undo()

        return unsubscribe

    def metrics(self) -> dict[str, dict[str, dict[str, int]]]:
        """``{name: {"pipeline": {...}, "<layer>": {...}}}`` as ``Pipeline.metrics()``, but
        cumulative: the counters of every pipeline the operation has had since it was added,
        and of every component (each counted once, however many pipelines shared it), added
        up. A layer a reconfiguration removed keeps its final counts."""
        with self._lock:
            histories = {name: list(op.history) for name, op in self._operations.items()}
        return {name: cumulative_metrics(pipelines) for name, pipelines in histories.items()}

    def close(self) -> None:
        """Close every pool this orchestrator built (``PoolClosed`` for later leases)."""
        drained = Drained()
        with self._lock:
            drained.pools = self._owners.all()
        drained.run(self._closing)

    async def aclose(self) -> None:
        """``close`` from a coroutine: awaits each pool's closing, and any still under way."""
        drained = Drained()
        with self._lock:
            drained.pools = self._owners.all()
        await drained.arun()
        if self._closing:
            await asyncio.gather(*self._closing)

    def __repr__(self) -> str:
        return f"<Resilience operations={list(self.names)!r}>"


# -------------------------------------------------------------------- helpers


def _checked_log_events(value: object) -> logging.Logger | None:
    if value is True:
        return logging.getLogger(EVENT_LOGGER)
    if value is False:
        return None
    if isinstance(value, logging.Logger):
        return value
    raise ConfigError("log_events", value, "must be True, False or a logging.Logger")


def _unused_factory(name: str, callbacks: PoolCallbacks | None) -> ConfigError:
    factory = None if callbacks is None else callbacks.factory
    rule = "is given, but the operation has no pool section to use it"
    return ConfigError(f"operations.{name}.pool.factory", factory, rule)


def _checked_factories(
    factories: object, resolved: Mapping[str, Resolved]
) -> dict[str, PoolCallbacks]:
    """Each factory's callbacks, for an operation that has a pool (else it would be ignored)."""
    if factories is None:
        return {}
    if not isinstance(factories, Mapping):
        raise ConfigError("factories", factories, "must map operation names to pool factories")
    callbacks = {}
    for name, factory in factories.items():
        if name not in resolved:
            known = ", ".join(resolved) or "none"
            raise ConfigError(
                f"factories.{name}", factory, f"names no operation (operations: {known})"
            )
        if resolved[name].operation.pool is None:
            raise ConfigError(f"factories.{name}", factory, "is for an operation with no pool")
        callbacks[name] = pool_callbacks(factory)
    return callbacks
