"""The bookkeeping behind ``Resilience.reconfigure``: generations, pool owners, subscriptions.

A *generation* is one pipeline of one operation, with the number of calls running through it.
A call reads its operation's current generation once, when it starts, and finishes in it;
``reconfigure`` makes a new generation current and *retires* the old one, which is *drained*
once its last call has finished (at once if none was running).

A pool the orchestrator built is closed when the last generation that uses it is drained: a
pool kept by a reconfiguration stays open, and a replaced one closes after the old generation's
last call has given its resource back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from resilience.chain import Pipeline
from resilience.config.build import PoolCallbacks, limiter_settings
from resilience.config.merge import Resolved
from resilience.config.schema import SECTIONS, OperationConfig, Section
from resilience.events import Event, FallbackUsed, Listener
from resilience.pool import AsyncResourcePool, ResourcePool

__all__ = [
    "Drained",
    "Generation",
    "Operation",
    "PoolOwners",
    "Subscription",
    "cumulative_metrics",
    "pools_of",
    "unchanged_components",
]

Pool = ResourcePool[Any] | AsyncResourcePool[Any]


def pools_of(pipeline: Pipeline) -> list[Any]:
    """The pool of ``pipeline``, if it has one (as a list)."""
    return [layer.component for layer in pipeline.layers if layer.name == "pool"]


class Generation:
    """One pipeline of an operation; ``in_flight`` calls run through it. Its ``undo`` functions
    unsubscribe listeners that only this generation needs (run when it is drained)."""

    __slots__ = ("in_flight", "pipeline", "pools", "retired", "undo")

    def __init__(self, pipeline: Pipeline, pools: list[Any]) -> None:
        self.pipeline = pipeline
        self.pools = pools  # the pools of PoolOwners this generation uses
        self.in_flight = 0
        self.retired = False
        self.undo: list[Callable[[], None]] = []


class Operation:
    """A named operation: its settings as written (``section``; ``None`` for a hand-built
    pipeline), as resolved, its pool callbacks, its live generations (``live[-1]`` is current;
    the others are retired with calls still running) and every pipeline it ever had (for
    cumulative metrics)."""

    __slots__ = ("callbacks", "history", "live", "resolved", "section")

    def __init__(self) -> None:
        self.section: OperationConfig | None = None
        self.resolved: Resolved | None = None
        self.callbacks: PoolCallbacks | None = None
        self.live: list[Generation] = []
        self.history: list[Pipeline] = []

    @property
    def current(self) -> Generation:
        return self.live[-1]


class Drained:
    """What a drained generation leaves to do outside the orchestrator's lock: pools to close
    (their ``destroy`` callbacks are user code) and listeners to unsubscribe."""

    __slots__ = ("pools", "undo")

    def __init__(self) -> None:
        self.pools: list[Pool] = []
        self.undo: list[Callable[[], None]] = []

    def run(self, tasks: set[asyncio.Task[None]]) -> None:
        """Do it from synchronous code. An ``AsyncResourcePool`` is closed by a task on the
        running loop (kept in ``tasks`` until done), or by ``asyncio.run`` if there is none."""
        for undo in self.undo:
            undo()
        for pool in self.pools:
            if isinstance(pool, ResourcePool):
                pool.close()
                continue
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(pool.close())
                continue
            task = loop.create_task(pool.close())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def arun(self) -> None:
        """Do it from a coroutine, awaiting each async pool's ``close``."""
        for undo in self.undo:
            undo()
        for pool in self.pools:
            if isinstance(pool, ResourcePool):
                pool.close()
            else:
                await pool.close()


class PoolOwners:
    """The pools the orchestrator built, each with the number of live generations using it.
    Call every method under the orchestrator's lock."""

    __slots__ = ("_users",)

    def __init__(self) -> None:
        self._users: dict[int, list[Any]] = {}  # id(pool) -> [pool, live generations using it]

    def adopt(self, pool: Pool) -> None:
        """A pool the orchestrator has just built (no generation uses it yet)."""
        self._users.setdefault(id(pool), [pool, 0])

    def start(self, pipeline: Pipeline) -> Generation:
        """A generation for ``pipeline``, counted as a user of every adopted pool it uses (a
        hand-built pipeline may reuse one)."""
        pools = [pool for pool in pools_of(pipeline) if id(pool) in self._users]
        for pool in pools:
            self._users[id(pool)][1] += 1
        return Generation(pipeline, pools)

    def drain(self, generation: Generation, drained: Drained) -> None:
        """``generation`` is retired and has no call left: release its pools (those no other
        live generation uses are to be closed) and its listeners."""
        for pool in generation.pools:
            entry = self._users[id(pool)]
            entry[1] -= 1
            if entry[1] == 0:
                del self._users[id(pool)]
                drained.pools.append(pool)
        drained.undo += generation.undo
        generation.undo = []

    def all(self) -> list[Pool]:
        return [entry[0] for entry in self._users.values()]


class Subscription:
    """One listener of the orchestrator, subscribed once to every component of every pipeline
    (a component kept across a reconfiguration is not subscribed twice) and to each pipeline's
    own ``FallbackUsed`` events."""

    __slots__ = ("_components", "listener", "undo")

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self._components: dict[int, object] = {}  # id -> component (kept alive: ids stay unique)
        self.undo: list[Callable[[], None]] = []

    def attach(self, generation: Generation) -> None:
        for layer in generation.pipeline.layers:
            component = layer.component
            if id(component) not in self._components:
                self._components[id(component)] = component
                self.undo.append(component.subscribe(self.listener))
        listener = self.listener

        # Pipeline.subscribe reaches the components too; they never emit FallbackUsed, and a
        # fresh function per generation keeps each one's unsubscribe apart from the others'.
        def fallbacks(event: Event) -> None:
            if isinstance(event, FallbackUsed):
                listener(event)

        undo = generation.pipeline.subscribe(fallbacks)
        generation.undo.append(undo)
        self.undo.append(undo)


def unchanged_components(
    operation: Operation, resolved: Resolved, callbacks: PoolCallbacks | None
) -> dict[str, Any]:
    """The current components of ``operation`` whose settings ``resolved`` leaves as they are
    (section -> component), to be kept with their state; none if its current pipeline was
    built by hand. A limiter is kept when only ``cost`` or ``wait`` change (they belong to the
    pipeline); a pool only if its callbacks are the same too."""
    if operation.resolved is None:
        return {}
    before: OperationConfig = operation.resolved.operation
    after = resolved.operation
    current = {layer.name: layer.component for layer in operation.current.pipeline.layers}
    keep = {}
    for section in SECTIONS:
        old, new = before.section(section), after.section(section)
        if not isinstance(old, Section) or not isinstance(new, Section):
            continue
        if section == "rate_limit":
            same = limiter_settings(old) == limiter_settings(new)
        else:
            same = old == new and (section != "pool" or callbacks == operation.callbacks)
        if same and section in current:
            keep[section] = current[section]
    return keep


def cumulative_metrics(pipelines: list[Pipeline]) -> dict[str, dict[str, int]]:
    """``Pipeline.metrics()`` added up over ``pipelines``: each pipeline's own counters, and
    each component's once, however many of the pipelines share it."""
    totals: dict[str, dict[str, int]] = {}

    def add(layer: str, counts: Mapping[str, int]) -> None:
        total = totals.setdefault(layer, {})
        for key, count in counts.items():
            total[key] = total.get(key, 0) + count

    seen: set[int] = set()
    for pipeline in pipelines:
        add("pipeline", pipeline.metrics()["pipeline"])
        for layer in pipeline.layers:
            if id(layer.component) not in seen:
                seen.add(id(layer.component))
                add(layer.name, layer.component.metrics())
    return totals
