"""The pool under test, behind one small driver for the sync and the async pool.

The driver owns the scripted callbacks: resources are ``Thing(n)`` numbered in creation order, and
each callback call is recorded, then does what ``script`` says for that callback (pop "fail" to
raise ``Scripted``, "no" for a validate that answers False). For the async pool the callbacks are
coroutines that yield to the loop once; ``cancel_at`` makes the n-th callback call of the next
operation cancel its own task right there, a real ``task.cancel()`` at a real await point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from resilience import AsyncResourcePool, ResourcePool
from resilience.clock import Clock
from resilience.events import Event

__all__ = ["POOL_TARGETS", "PoolDriver", "PoolTarget", "Scripted", "Thing", "pool_target"]


class Scripted(Exception):
    """The failure a scripted callback raises."""


@dataclass(eq=False)
class Thing:
    """A resource; identity is what the pool tracks, ``n`` is its creation number."""

    n: int


class PoolDriver:
    """Runs pool operations for the machine; ``asynchronous`` drives an ``AsyncResourcePool``
    on a private event loop, one ``run_until_complete`` per operation."""

    def __init__(self, target: PoolTarget, spec: Any, clock: Clock) -> None:
        self.asynchronous = target.asynchronous
        self.script: dict[str, str] = {}
        self.calls: list[tuple[str, int | None]] = []
        self.events: list[Event] = []
        self.made = 0
        self.cancel_at: int | None = None
        self._count = 0
        self.loop = asyncio.new_event_loop() if self.asynchronous else None
        make = self._async_callback if self.asynchronous else self._callback
        hooks = {
            name: make(name) if on else None
            for name, on in (
                ("validate", spec.validate),
                ("reset", spec.reset),
                ("destroy", spec.destroy),
            )
        }
        factory = make("factory")
        pool_class = target.pool_class
        self.pool: Any = pool_class(
            factory,
            size=spec.size,
            max_overflow=spec.max_overflow,
            timeout=0,
            lifo=spec.lifo,
            max_lifetime=_seconds(spec.max_lifetime_ns),
            max_idle=_seconds(spec.max_idle_ns),
            leak_threshold=_seconds(spec.leak_threshold_ns),
            name="pool",
            clock=clock,
            **hooks,
        )
        if spec.listen:
            self.pool.subscribe(self.events.append)

    def close_loop(self) -> None:
        if self.loop is not None:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:  # left by a failed step: end them quietly
                task.cancel()
            self._spin(lambda: all(task.done() for task in pending))
            self.loop.close()

    # ---------------------------------------------------------------- scripted callbacks

    def _record(self, name: str, thing: Thing | None) -> bool:
        """Record the call; True if this call is the one to cancel."""
        self.calls.append((name, None if thing is None else thing.n))
        index, self._count = self._count, self._count + 1
        return index == self.cancel_at

    def _outcome(self, name: str) -> str:
        outcome = self.script.pop(name, "ok")
        if outcome == "fail":
            raise Scripted(f"scripted {name} failure")
        return outcome

    def _work(self, name: str, thing: Thing | None) -> Any:
        """What a callback does once it runs: a new Thing (factory), True/False (validate),
        or nothing; raises when scripted to."""
        outcome = self._outcome(name)
        if name == "factory":
            thing, self.made = Thing(self.made), self.made + 1
            return thing
        return outcome != "no" if name == "validate" else None

    def _callback(self, name: str) -> Callable[..., Any]:
        """The sync callback: record the call, then do the work."""

        def callback(thing: Thing | None = None) -> Any:
            self._record(name, thing)
            return self._work(name, thing)

        return callback

    def _async_callback(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        """The async callback: record the call, yield to the loop once (cancelling its own task
        right there if this is the chosen call), then do the work."""

        async def callback(thing: Thing | None = None) -> Any:
            if self._record(name, thing):
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
            await asyncio.sleep(0)  # the await point
            return self._work(name, thing)

        return callback

    # ---------------------------------------------------------------- operations

    def run(self, operation: str, *args: Any, cancel_at: int | None = None) -> Any:
        """``operation`` on the pool; returns its result or raises its exception
        (``asyncio.CancelledError`` when cancelled)."""
        self.cancel_at, self._count = cancel_at, 0
        try:
            if self.loop is None:
                return getattr(self.pool, operation)(*args)
            return self.loop.run_until_complete(getattr(self.pool, operation)(*args))
        finally:
            self.cancel_at = None

    def lease_block(self, invalidate: bool) -> Any:
        """``with pool.lease() as r:`` (optionally invalidating r inside); returns r."""
        if self.loop is None:
            with self.pool.lease() as thing:
                if invalidate:
                    self.pool.invalidate(thing)
            return thing

        async def block() -> Any:
            async with self.pool.lease() as thing:
                if invalidate:
                    await self.pool.invalidate(thing)
            return thing

        self._count = 0
        return self.loop.run_until_complete(block())

    # ---------------------------------------------------------------- waiters (async pool)

    def start_waiter(self) -> asyncio.Task[Any]:
        """``pool.checkout(None)`` (no time limit) as a task, run until it waits (or ends)."""
        assert self.loop is not None
        core = self.pool._core
        waiting = len(core.waiters)
        task = self.loop.create_task(self.pool.checkout(None))
        self._spin(lambda: task.done() or len(core.waiters) > waiting)
        return task

    def release_then_cancel(self, operation: str, thing: Thing, cancel: list[Any]) -> None:
        """``operation`` ("checkin" or "invalidate") on ``thing``, then cancel the ``cancel``
        tasks at once: before any waiter granted something by the release has run again."""

        async def release() -> None:
            try:
                await getattr(self.pool, operation)(thing)
            finally:
                for task in cancel:
                    task.cancel()

        assert self.loop is not None
        self._count = 0
        self.loop.run_until_complete(release())

    def settle(self, tasks: list[Any], cancelled: list[Any]) -> None:
        """Run the loop until every cancelled task has ended and every other one has ended or
        waits with nothing granted. Bounded: a waiter granted something but never woken (a
        missed wake-up) stays pending, for the machine to see."""
        waiters = self.pool._core.waiters
        self._spin(
            lambda: (
                all(task.done() for task in cancelled)
                and sum(not task.done() for task in tasks) == len(waiters)
            )
        )

    def _spin(self, until: Callable[[], bool], rounds: int = 100) -> None:
        """Let the loop run, one ``sleep(0)`` at a time, until ``until()`` (or ``rounds``)."""
        assert self.loop is not None
        for _ in range(rounds):
            if until():
                return
            self.loop.run_until_complete(asyncio.sleep(0))

    def lent(self) -> set[int]:
        """The numbers of the resources lent out now (from the core's registry)."""
        core = self.pool._core
        return {e.resource.n for e in core.owned.values() if e.where == "leased"}

    def idle_order(self) -> list[int]:
        return [e.resource.n for e in self.pool._core.idle]


def _seconds(ns: int | None) -> object:
    return None if ns is None else Fraction(ns, 10**9)


@dataclass(frozen=True)
class PoolTarget:
    name: str
    pool_class: type
    asynchronous: bool

    def build(self, spec: Any, clock: Clock) -> PoolDriver:
        return PoolDriver(self, spec, clock)


def pool_target(asynchronous: bool, pool_class: type | None = None, name: str = "") -> PoolTarget:
    default = AsyncResourcePool if asynchronous else ResourcePool
    label = name or ("async" if asynchronous else "sync")
    return PoolTarget(label, pool_class or default, asynchronous)


POOL_TARGETS = {"sync": pool_target(False), "async": pool_target(True)}
