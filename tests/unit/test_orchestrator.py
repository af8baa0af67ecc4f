"""Resilience: operations by name, each with its own pipeline; construction and its errors."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Pipeline,
    PoolCallbacks,
    Resilience,
    RetryPolicy,
)

TWO = {
    "operations": {
        "search": {"breaker": {"failure_threshold": 2, "recovery_timeout": 60}},
        "pay": {"breaker": {"failure_threshold": 2, "recovery_timeout": 60}},
    }
}


def fail() -> None:
    raise OSError("down")


def test_execute_runs_through_the_operations_own_pipeline() -> None:
    """execute(name, fn, *args, **kwargs) returns fn's result through that pipeline."""
    r = Resilience(TWO)
    assert r.names == ("search", "pay")
    assert r.execute("search", lambda a, b=0: a + b, 1, b=2) == 3
    assert r.pipeline("search").metrics()["breaker"]["calls_succeeded"] == 1
    assert r.pipeline("pay").metrics()["breaker"]["calls_succeeded"] == 0


def test_one_failing_dependency_never_opens_anothers_circuit() -> None:
    """Each operation has its own breaker."""
    r = Resilience(TWO)
    for _ in range(2):
        with pytest.raises(OSError):
            r.execute("search", fail)
    with pytest.raises(CircuitOpenError):
        r.execute("search", lambda: "never runs")
    assert r.execute("pay", lambda: "paid") == "paid"
    search, pay = (r.pipeline(n).layers[0].component for n in ("search", "pay"))
    assert (search.state, pay.state) == ("open", "closed")
    assert search.name == "search.breaker"


@pytest.mark.parametrize("call", ["execute", "pipeline", "reconfigure"])
def test_an_unknown_name_is_a_key_error_listing_the_known(call: str) -> None:
    """KeyError, naming the known operations; nothing is created."""
    r = Resilience(TWO)
    args: dict[str, tuple[Any, ...]] = {
        "execute": ("serach", lambda: 1),
        "pipeline": ("serach",),
        "reconfigure": ("serach", {}),
    }
    with pytest.raises(KeyError, match=r"'serach'.*'search', 'pay'"):
        getattr(r, call)(*args[call])
    assert r.names == ("search", "pay")


def test_no_configuration_means_no_operations() -> None:
    """Resilience() is empty until operations are added."""
    r = Resilience()
    assert r.names == ()
    assert r.metrics() == {}
    with pytest.raises(KeyError, match="known operations: none"):
        r.execute("x", lambda: 1)


def test_from_a_toml_file_with_a_pool_factory(tmp_path: Path) -> None:
    """from_file reads the file; the factory comes from code."""
    path = tmp_path / "resilience.toml"
    path.write_text('[operations.db]\npreset = "balanced"\npool = { size = 2 }\n')
    counter = itertools.count()
    r = Resilience.from_file(path, factories={"db": lambda: next(counter)})
    assert r.execute("db", lambda conn: f"conn {conn}") == "conn 0"
    assert r.pipeline("db").order == ("bulkhead", "retry", "breaker", "pool")
    with pytest.raises(TypeError):
        Resilience.from_file({"operations": {}})  # type: ignore[arg-type]


def test_a_pool_without_a_factory_fails_at_construction() -> None:
    """The factory is code: a pool section without one is an error at its path."""
    with pytest.raises(ConfigError) as info:
        Resilience({"operations": {"db": {"pool": {"size": 1}}}})
    assert info.value.field == "operations.db.pool.factory"


@pytest.mark.parametrize(
    ("factories", "field"),
    [
        ({"dB": lambda: 1}, "factories.dB"),
        ({"search": lambda: 1}, "factories.search"),
        ([lambda: 1], "factories"),
        ({"db": 42}, "operations.db.pool.factory"),
        ({"db": PoolCallbacks(factory=lambda: 1, reset="x")}, "operations.db.pool.reset"),
    ],
)
def test_factories_must_fit_the_operations(factories: object, field: str) -> None:
    """A factory for an unknown operation, or one without a pool, is never silently ignored."""
    raw = {"operations": {"db": {"pool": {"size": 1}}, "search": {}}}
    with pytest.raises(ConfigError) as info:
        Resilience(raw, factories=factories)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"log_events": "yes"}, "log_events"), ({"clock": object()}, "clock")],
)
def test_bad_arguments(kwargs: dict[str, Any], field: str) -> None:
    """Bad keyword arguments are ConfigErrors naming them."""
    with pytest.raises(ConfigError) as info:
        Resilience(**kwargs)
    assert info.value.field == field


def test_a_bad_configuration_names_its_path() -> None:
    """The configuration is validated with the full path of the bad setting."""
    with pytest.raises(ConfigError) as info:
        Resilience({"operations": {"search": {"retry": {"max_attempts": -1}}}})
    assert info.value.field == "operations.search.retry.max_attempts"


def test_add_a_hand_built_pipeline() -> None:
    """add() registers a Pipeline built in code, fallback and all."""
    r = Resilience(TWO)
    breaker = CircuitBreaker(failure_threshold=1, name="cache.breaker")
    pipeline = Pipeline(breaker=breaker, fallback=lambda error: "stale")
    r.add("cache", pipeline)
    assert r.pipeline("cache") is pipeline
    assert r.names == ("search", "pay", "cache")
    assert r.execute("cache", fail) == "stale"
    assert breaker.state == "open"


def test_add_settings_merged_with_the_defaults() -> None:
    """add() also takes settings as in a file, with the defaults beneath them."""
    r = Resilience({"defaults": {"retry": {"max_attempts": 1}}})
    r.add("db", {"pool": {"size": 1}}, factory=lambda: "conn")
    assert r.execute("db", lambda conn: conn) == "conn"
    assert isinstance(r.pipeline("db").layers[0].component, RetryPolicy)


@pytest.mark.parametrize(
    ("name", "definition", "kwargs", "field"),
    [
        ("search", Pipeline(), {}, "operations.search"),
        ("a b", Pipeline(), {}, "operations.a b"),
        (7, Pipeline(), {}, "operations"),
        ("new", {"retry": {"max_attempts": 0}}, {}, "operations.new.retry.max_attempts"),
        ("new", {"retry": {}}, {"factory": lambda: 1}, "operations.new.pool.factory"),
        ("new", Pipeline(), {"factory": lambda: 1}, "operations.new.pool.factory"),
        ("new", [1], {}, "operations.new"),
    ],
)
def test_add_errors(name: Any, definition: Any, kwargs: dict[str, Any], field: str) -> None:
    """A taken or bad name, bad settings, or an unusable factory: nothing is added."""
    r = Resilience(TWO)
    with pytest.raises(ConfigError) as info:
        r.add(name, definition, **kwargs)
    assert info.value.field == field
    assert r.names == ("search", "pay")


def test_repr_names_the_operations() -> None:
    """The repr lists the operations."""
    assert repr(Resilience(TWO)) == "<Resilience operations=['search', 'pay']>"
