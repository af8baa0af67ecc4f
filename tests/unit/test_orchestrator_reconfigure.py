"""reconfigure: validated first, atomic for new calls, keeps unchanged components, closes a
replaced pool only after its last call; metrics stay cumulative."""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import pytest

from resilience import ConfigError, Pipeline, Resilience, RetryPolicy
from resilience.errors import CircuitOpenError, PoolClosed, RateLimited

NO_SLEEP = {"base_delay": 0, "max_delay": 0}
BREAKER = {"failure_threshold": 1, "recovery_timeout": 60}


def parts(r: Resilience, name: str) -> dict[str, Any]:
    return {layer.name: layer.component for layer in r.pipeline(name).layers}


def fail() -> None:
    raise OSError("down")


def test_changing_retry_keeps_the_open_breaker() -> None:
    """The breaker's section did not change: the same instance, still open."""
    r = Resilience({"operations": {"s": {"retry": {"max_attempts": 1}, "breaker": BREAKER}}})
    before = parts(r, "s")
    with pytest.raises(OSError):
        r.execute("s", fail)
    r.reconfigure("s", {"retry": {"max_attempts": 3, **NO_SLEEP}, "breaker": BREAKER})
    after = parts(r, "s")
    assert after["breaker"] is before["breaker"]
    assert after["retry"] is not before["retry"]
    assert after["retry"].config.max_attempts == 3
    with pytest.raises(CircuitOpenError):
        r.execute("s", lambda: "rejected")


def test_changing_the_breaker_replaces_only_the_breaker() -> None:
    """A changed section gets a fresh component; the others are kept."""
    r = Resilience({"operations": {"s": {"preset": "balanced"}}})
    before = parts(r, "s")
    r.reconfigure("s", {"preset": "balanced", "breaker": {"failure_threshold": 9}})
    after = parts(r, "s")
    assert after["breaker"] is not before["breaker"]
    assert after["breaker"].config.failure_threshold == 9
    assert after["retry"] is before["retry"]
    assert after["bulkhead"] is before["bulkhead"]


def test_an_unchanged_limiter_keeps_its_tokens() -> None:
    """Changing cost or wait keeps the limiter; changing its limit replaces it."""
    limit = {"algorithm": "fixed_window", "limit": 2, "per": 3600}
    r = Resilience({"operations": {"s": {"rate_limit": limit}}})
    limiter = parts(r, "s")["rate_limit"]
    r.execute("s", lambda: 1)
    r.reconfigure("s", {"rate_limit": {**limit, "cost": 1, "wait": 0}})
    assert parts(r, "s")["rate_limit"] is limiter
    r.execute("s", lambda: 2)
    with pytest.raises(RateLimited):
        r.execute("s", lambda: 3)
    r.reconfigure("s", {"rate_limit": {**limit, "limit": 3}})
    assert parts(r, "s")["rate_limit"] is not limiter
    assert r.execute("s", lambda: 4) == 4


def test_a_bad_reconfiguration_changes_nothing() -> None:
    """Validated first: ConfigError at the full path, and the same pipeline stays current."""
    r = Resilience({"operations": {"s": {"retry": {"max_attempts": 2}}}})
    before = r.pipeline("s")
    with pytest.raises(ConfigError) as info:
        r.reconfigure("s", {"retry": {"max_attempts": 2}, "breaker": {"window_size": 0}})
    assert info.value.field == "operations.s.breaker.window_size"
    with pytest.raises(ConfigError) as info:
        r.reconfigure("s", {"retry": {"max_attempts": 2}, "pool": {"size": 1}})
    assert info.value.field == "operations.s.pool.factory"
    assert r.pipeline("s") is before


def test_calls_in_flight_finish_under_the_old_pipeline() -> None:
    """A call reads its pipeline once: a reconfiguration during it applies to the next call."""
    r = Resilience({"operations": {"s": {"retry": {"max_attempts": 3, **NO_SLEEP}}}})
    attempts: list[int] = []

    def flaky(reconfigure: bool) -> None:
        attempts.append(1)
        if reconfigure and len(attempts) == 1:
            r.reconfigure("s", {"retry": {"max_attempts": 1}})
        raise OSError

    with pytest.raises(OSError):
        r.execute("s", flaky, True)
    assert len(attempts) == 3  # the old policy's attempts
    attempts.clear()
    with pytest.raises(OSError):
        r.execute("s", flaky, False)
    assert len(attempts) == 1


def test_a_replaced_pool_closes_after_its_last_call() -> None:
    """The old pool stays open while a call of its generation holds a resource."""
    counter = itertools.count()
    r = Resilience(
        {"operations": {"db": {"pool": {"size": 1}}}}, factories={"db": counter.__next__}
    )
    old = parts(r, "db")["pool"]
    seen: dict[str, bool] = {}

    def query(conn: int) -> int:
        r.reconfigure("db", {"pool": {"size": 2}})
        seen["open while in flight"] = not old.status()["closed"]
        return conn

    assert r.execute("db", query) == 0
    assert seen == {"open while in flight": True}
    assert old.status()["closed"]
    new = parts(r, "db")["pool"]
    assert new is not old
    assert not new.status()["closed"]
    assert r.execute("db", lambda conn: conn) == 1  # a fresh pool makes a fresh resource
    with pytest.raises(PoolClosed):
        old.checkout()


def test_a_pool_shared_by_generations_closes_after_the_oldest_call() -> None:
    """Kept by one reconfiguration, replaced by the next: closed when every user is done."""
    r = Resilience(
        {"operations": {"db": {"retry": {"max_attempts": 1}, "pool": {"size": 1}}}},
        factories={"db": object},
    )
    pool = parts(r, "db")["pool"]

    def query(conn: object) -> bool:
        r.reconfigure("db", {"retry": {"max_attempts": 2}, "pool": {"size": 1}})
        assert parts(r, "db")["pool"] is pool  # kept
        r.reconfigure("db", {"retry": {"max_attempts": 2}, "pool": {"size": 3}})
        assert parts(r, "db")["pool"] is not pool  # replaced, but this call still holds it
        return bool(pool.status()["closed"])

    assert r.execute("db", query) is False
    assert pool.status()["closed"]


def test_a_new_factory_replaces_the_pool() -> None:
    """Same settings, new callbacks: a new pool; the idle old one is closed at once."""
    r = Resilience({"operations": {"db": {"pool": {"size": 1}}}}, factories={"db": lambda: "a"})
    old = parts(r, "db")["pool"]
    r.reconfigure("db", {"pool": {"size": 1}})
    assert parts(r, "db")["pool"] is old  # same callbacks: kept
    r.reconfigure("db", {"pool": {"size": 1}}, factory=lambda: "b")
    assert old.status()["closed"]
    assert r.execute("db", lambda conn: conn) == "b"


def test_an_async_pool_closes_after_its_last_call() -> None:
    """The same for an AsyncResourcePool, with the call awaiting in between."""

    async def connect() -> str:
        return "conn"

    async def scenario() -> None:
        r = Resilience({"operations": {"db": {"pool": {"size": 1}}}}, factories={"db": connect})
        old = parts(r, "db")["pool"]
        release = asyncio.Event()

        async def query(conn: str) -> str:
            await release.wait()
            return conn

        call = asyncio.create_task(r.aexecute("db", query))
        await asyncio.sleep(0)
        r.reconfigure("db", {"pool": {"size": 2}})
        assert not old.status()["closed"]
        release.set()
        assert await call == "conn"
        assert old.status()["closed"]
        r.reconfigure("db", {"pool": {"size": 3}})  # nothing in flight: closed by a task
        await r.aclose()
        assert parts(r, "db")["pool"].status()["closed"]

    asyncio.run(scenario())


def test_reconfigure_to_and_from_a_hand_built_pipeline() -> None:
    """A Pipeline replaces the operation; settings afterwards build everything anew."""
    r = Resilience({"operations": {"s": {"retry": {"max_attempts": 1}}}})
    hand = Pipeline(retry=RetryPolicy(max_attempts=2, **NO_SLEEP))
    r.reconfigure("s", hand)
    assert r.pipeline("s") is hand
    r.reconfigure("s", {"retry": {"max_attempts": 1}})
    assert parts(r, "s")["retry"] is not hand.layers[0].component


def test_metrics_are_cumulative_across_reconfigurations() -> None:
    """Old and new pipelines add up; a kept breaker counts once; a removed layer stays."""
    r = Resilience({"operations": {"s": {"retry": {"max_attempts": 1}, "breaker": {}}}})
    r.execute("s", lambda: 1)
    r.execute("s", lambda: 2)
    r.reconfigure("s", {"retry": {"max_attempts": 2}, "breaker": {}})
    r.execute("s", lambda: 3)
    r.reconfigure("s", {"retry": {"max_attempts": 2}})
    r.execute("s", lambda: 4)
    metrics = r.metrics()["s"]
    assert metrics["pipeline"]["calls"] == metrics["pipeline"]["succeeded"] == 4
    assert metrics["retry"]["calls"] == 4
    assert metrics["breaker"]["calls_succeeded"] == 3
    assert r.pipeline("s").metrics()["pipeline"]["calls"] == 1


def test_a_listener_may_reconfigure_while_a_pool_closes() -> None:
    """Closing a replaced pool happens outside the orchestrator's locks (no deadlock)."""
    r = Resilience(
        {"operations": {"db": {"pool": {"size": 1}}, "s": {"retry": {"max_attempts": 1}}}},
        factories={"db": object},
    )
    r.execute("db", lambda conn: conn)  # one idle resource, destroyed when the pool closes

    def on_event(event: object) -> None:
        if type(event).__name__ == "ResourceDestroyed":
            r.reconfigure("s", {"retry": {"max_attempts": 2}})

    r.subscribe(on_event)
    worker = threading.Thread(target=r.reconfigure, args=("db", {"pool": {"size": 2}}), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert parts(r, "s")["retry"].config.max_attempts == 2


def test_a_replaced_pool_waits_for_every_call_in_flight() -> None:
    """Two calls of one generation in flight (one inside the other): the replaced pool stays
    open until the second of them ends, not the first (every call is counted in flight)."""
    r = Resilience(
        {"operations": {"db": {"pool": {"size": 2}}}},
        factories={"db": itertools.count().__next__},
    )
    old = parts(r, "db")["pool"]
    seen: dict[str, bool] = {}

    def inner(conn: int) -> int:
        r.reconfigure("db", {"pool": {"size": 3}})
        return conn

    def outer(conn: int) -> int:
        r.execute("db", inner)
        seen["open after the inner call"] = not old.status()["closed"]
        return conn

    assert r.execute("db", outer) == 0
    assert seen == {"open after the inner call": True}
    assert old.status()["closed"]


@pytest.mark.parametrize("section", ["rate_limit", "bulkhead", "retry", "breaker"])
def test_a_reconfiguration_may_add_a_section_and_take_it_away(section: str) -> None:
    """A section the old settings lacked gets a fresh component (the others are kept); taking
    it away again removes its layer."""
    settings = {
        "rate_limit": {"algorithm": "fixed_window", "limit": 5, "per": 60},
        "bulkhead": {"max_concurrent": 2},
        "retry": {"max_attempts": 2, **NO_SLEEP},
        "breaker": BREAKER,
    }
    base = {"retry": {"max_attempts": 3, **NO_SLEEP}} if section != "retry" else {"breaker": {}}
    r = Resilience({"operations": {"s": base}})
    (kept,) = parts(r, "s").values()
    r.reconfigure("s", {**base, section: settings[section]})
    added = parts(r, "s")
    assert set(added) == {*base, section}
    assert added[next(iter(base))] is kept
    assert r.execute("s", lambda: "through the new layer") == "through the new layer"
    counted = {"rate_limit": "admitted", "bulkhead": "admitted", "retry": "calls"}
    assert added[section].metrics()[counted.get(section, "calls_succeeded")] == 1
    r.reconfigure("s", base)
    assert set(parts(r, "s")) == set(base)
    assert parts(r, "s")[next(iter(base))] is kept
