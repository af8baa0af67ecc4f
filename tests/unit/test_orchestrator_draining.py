"""Closing and draining: ``close()`` closes every pool the orchestrator built, sync or async,
from code with or without a running event loop; retired generations are drained one by one, each
when its own last call ends; and draining never trips up a ``subscribe`` running beside it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from resilience import Event, Pipeline, PoolCallbacks, Resilience, RetryPolicy


def parts(r: Resilience, name: str) -> dict[str, Any]:
    return {layer.name: layer.component for layer in r.pipeline(name).layers}


def closed(pool: Any) -> bool:
    return bool(pool.status()["closed"])


class Resources:
    """Factories that number their resources, sync and async, and note each one destroyed."""

    def __init__(self) -> None:
        self.made = 0
        self.destroyed: list[str] = []

    def factory(self, label: str) -> Callable[[], str]:
        def make() -> str:
            self.made += 1
            return f"{label}{self.made}"

        return make

    def afactory(self, label: str) -> Callable[[], Any]:
        make = self.factory(label)

        async def amake() -> str:
            return make()

        return amake

    def destroy(self, resource: str) -> None:
        self.destroyed.append(resource)


def _mixed(resources: Resources) -> Resilience:
    """Operations ``a`` and ``c`` with a ``ResourcePool``, ``b`` with an ``AsyncResourcePool``
    (its factory is a coroutine function), in that order."""
    return Resilience(
        {"operations": {name: {"pool": {"size": 1}} for name in ("a", "b", "c")}},
        factories={
            "a": PoolCallbacks(factory=resources.factory("a"), destroy=resources.destroy),
            "b": PoolCallbacks(factory=resources.afactory("b"), destroy=resources.destroy),
            "c": PoolCallbacks(factory=resources.factory("c"), destroy=resources.destroy),
        },
    )


def test_close_without_a_running_loop_closes_every_pool() -> None:
    """Sync and async pools alike, whatever their order: each is closed and destroys its
    idle resource (an async pool's closing is run to its end on a loop of its own)."""
    resources = Resources()
    r = _mixed(resources)
    assert r.execute("a", lambda conn: conn) == "a1"
    assert asyncio.run(r.aexecute("b", lambda conn: conn)) == "b2"
    assert r.execute("c", lambda conn: conn) == "c3"
    pools = [parts(r, name)["pool"] for name in ("a", "b", "c")]
    r.close()
    assert [closed(pool) for pool in pools] == [True, True, True]
    assert sorted(resources.destroyed) == ["a1", "b2", "c3"]


def test_pools_closed_from_sync_code_inside_a_running_loop_close_cleanly() -> None:
    """``reconfigure`` and ``close`` called from sync code while a loop runs (here: straight
    from a coroutine) close a sync pool at once and an async pool by a task on that loop;
    once those tasks are done, every pool is closed and the loop was told of no error."""

    async def scenario() -> tuple[list[bool], list[str], list[dict[str, Any]]]:
        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        resources = Resources()
        r = _mixed(resources)
        await r.aexecute("b", lambda conn: conn)
        replaced = parts(r, "b")["pool"]
        r.reconfigure("b", {"pool": {"size": 2}})  # idle: closed by a task
        pools = [replaced, *(parts(r, name)["pool"] for name in ("a", "b", "c"))]
        r.close()
        assert closed(pools[1])  # the sync pool of ``a``: closed at once
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
        return [closed(pool) for pool in pools], resources.destroyed, errors

    states, destroyed, errors = asyncio.run(scenario())
    assert states == [True, True, True, True]
    assert destroyed == ["b1"]
    assert errors == []


class NameThatActs(str):
    """A pipeline name whose repr runs ``action`` once: a deterministic stand-in for another
    thread acting while ``execute`` refuses a call (the refusal message shows the pipeline)."""

    action: Callable[[], None] | None = None

    def __repr__(self) -> str:
        action, self.action = self.action, None
        if action is not None:
            action()
        return str.__repr__(self)


def test_a_refused_call_that_was_the_last_of_its_generation_closes_its_async_pool() -> None:
    """``execute`` refuses a pipeline with an ``AsyncResourcePool``, but while it refuses, the
    operation is reconfigured: the refused call was the last of the old generation, whose pool
    no one else uses any more. The caller still gets the ``TypeError``, and the pool is closed by
    a task on the running loop."""

    async def connect() -> str:
        return "conn"

    async def scenario() -> tuple[bool, list[dict[str, Any]]]:
        errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
        r = Resilience({"operations": {"db": {"pool": {"size": 1}}}}, factories={"db": connect})
        pool = parts(r, "db")["pool"]
        name = NameThatActs("hand")
        r.add("hand", Pipeline(pool=pool, name=name))  # a second user of the built pool
        r.reconfigure("db", {"pool": {"size": 2}})  # ``hand`` is now its only user
        name.action = lambda: r.reconfigure("hand", Pipeline(name="replacement"))
        with pytest.raises(TypeError, match="so only aexecute can run it"):
            r.execute("hand", lambda conn: conn)
        await asyncio.gather(*(asyncio.all_tasks() - {asyncio.current_task()}))
        return closed(pool), errors

    closed_after, errors = asyncio.run(scenario())
    assert closed_after
    assert errors == []


@pytest.mark.parametrize("order", [("older", "newer"), ("newer", "older")], ids="-first".join)
def test_retired_generations_drain_each_when_its_own_last_call_ends(
    order: tuple[str, str],
) -> None:
    """Two reconfigurations while a call of each older generation is still running: each
    replaced pool closes when the last call of its own generation ends, in whichever order the
    calls end, and the current pool stays open."""

    async def hold(conn: str, gate: asyncio.Event) -> str:
        await gate.wait()
        return conn

    async def scenario() -> tuple[dict[str, str], list[tuple[bool, bool, bool]]]:
        r = Resilience(
            {"operations": {"db": {"pool": {"size": 1}}}},
            factories={"db": Resources().factory("r")},
        )
        gates = {"older": asyncio.Event(), "newer": asyncio.Event()}
        pools, calls = {}, {}
        for generation, size in (("older", 2), ("newer", 3)):
            pools[generation] = parts(r, "db")["pool"]
            calls[generation] = asyncio.create_task(r.aexecute("db", hold, gates[generation]))
            await asyncio.sleep(0)
            r.reconfigure("db", {"pool": {"size": size}})
        pools["current"] = parts(r, "db")["pool"]

        def states() -> tuple[bool, bool, bool]:
            return (closed(pools["older"]), closed(pools["newer"]), closed(pools["current"]))

        seen = [states()]
        results = {}
        for generation in order:
            gates[generation].set()
            results[generation] = await calls[generation]
            seen.append(states())
        return results, seen

    results, seen = asyncio.run(scenario())
    assert results == {"older": "r1", "newer": "r2"}
    first_closed = (True, False, False) if order[0] == "older" else (False, True, False)
    assert seen == [(False, False, False), first_closed, (True, True, False)]


class SubscribeHook(RetryPolicy):
    """A retry policy that runs ``action`` (once) when a listener subscribes to it: a
    deterministic stand-in for another thread acting while ``Resilience.subscribe`` is
    attaching a listener to one pipeline after another."""

    action: Callable[[], None] | None = None

    def subscribe(self, listener: Callable[[Any], object]) -> Callable[[], None]:
        action, self.action = self.action, None
        if action is not None:
            action()
        return super().subscribe(listener)


def test_subscribe_while_the_last_call_of_a_retired_generation_ends() -> None:
    """A call of a retired generation ends on another thread while ``subscribe`` is attaching
    the listener: ``subscribe`` still succeeds, and the listener hears every operation's events
    from then on."""
    hook = SubscribeHook(max_attempts=1)
    r = Resilience()
    r.add("first", Pipeline(retry=hook))  # attached to before ``db``
    r.add("db", {"pool": {"size": 1}}, factory=object)
    started, release = threading.Event(), threading.Event()

    def slow(conn: object) -> object:
        started.set()
        release.wait(5)
        return conn

    worker = threading.Thread(target=r.execute, args=("db", slow), daemon=True)
    worker.start()
    assert started.wait(5)
    old = parts(r, "db")["pool"]
    r.reconfigure("db", {"pool": {"size": 2}})  # the worker's generation is retired

    def end_the_call() -> None:
        release.set()
        worker.join(5)

    hook.action = end_the_call
    events: list[Event] = []
    unsubscribe = r.subscribe(events.append)
    assert not worker.is_alive()
    assert closed(old)
    r.execute("db", lambda conn: conn)
    r.execute("first", lambda: None)
    assert {type(event).__name__ for event in events} >= {"ResourceCreated", "RetryAttempted"}
    unsubscribe()
