"""The orchestrator's refusals, word for word: every message a user of ``Resilience`` reads when
constructing, adding, reconfiguring, running or subscribing goes wrong is in one of the two
tables below (a change of wording means editing them)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from resilience import ConfigError, Pipeline, PoolCallbacks, Resilience
from tests.refusals import assert_refused

# ``int`` is the factory throughout: a callable whose repr carries no address.
RAW = {"operations": {"db": {"pool": {"size": 1}}, "search": {"retry": {"max_attempts": 1}}}}
TAKEN = {"retry": {"max_attempts": 2}}
NOT_A_MAPPING = ["db"]
UNUSED = "is given, but the operation has no pool section to use it"


def _built() -> Resilience:
    return Resilience(RAW, factories={"db": int})


# (what is done, the field, the value as given, the message)
REFUSALS: list[Any] = [
    pytest.param(
        lambda: Resilience(log_events="yes"),  # type: ignore[arg-type]
        "log_events",
        "yes",
        "log_events='yes' is invalid: must be True, False or a logging.Logger",
        id="log_events is neither a flag nor a logger",
    ),
    pytest.param(
        lambda: Resilience(RAW, factories=NOT_A_MAPPING),  # type: ignore[arg-type]
        "factories",
        NOT_A_MAPPING,
        "factories=['db'] is invalid: must map operation names to pool factories",
        id="factories is not a mapping",
    ),
    pytest.param(
        lambda: Resilience(RAW, factories={"dB": int}),
        "factories.dB",
        int,
        "factories.dB=<class 'int'> is invalid: names no operation (operations: db, search)",
        id="a factory for an unknown operation",
    ),
    pytest.param(
        lambda: Resilience(factories={"db": int}),
        "factories.db",
        int,
        "factories.db=<class 'int'> is invalid: names no operation (operations: none)",
        id="a factory when there are no operations",
    ),
    pytest.param(
        lambda: Resilience(RAW, factories={"db": int, "search": int}),
        "factories.search",
        int,
        "factories.search=<class 'int'> is invalid: is for an operation with no pool",
        id="a factory for an operation without a pool",
    ),
    pytest.param(
        lambda: _built().add("search", TAKEN),
        "operations.search",
        TAKEN,
        "operations.search={'retry': {'max_attempts': 2}} is invalid: "
        "is already added: use reconfigure()",
        id="add a name already taken",
    ),
    pytest.param(
        lambda: _built().add("cache", {"pool": {"size": 1}}),
        "operations.cache.pool.factory",
        None,
        "operations.cache.pool.factory=None is invalid: "
        "a pool needs a factory, and a factory is code: pass factories={name: callable}",
        id="add a pool without a factory",
    ),
    pytest.param(
        lambda: _built().add("cache", {"retry": {}}, factory=int),
        "operations.cache.pool.factory",
        int,
        f"operations.cache.pool.factory=<class 'int'> is invalid: {UNUSED}",
        id="add settings without a pool, with a factory",
    ),
    pytest.param(
        lambda: _built().add("cache", Pipeline(), factory=PoolCallbacks(factory=int)),
        "operations.cache.pool.factory",
        int,
        f"operations.cache.pool.factory=<class 'int'> is invalid: {UNUSED}",
        id="add a pipeline, with a factory",
    ),
    pytest.param(
        lambda: _built().reconfigure("search", {"retry": {}}, factory=int),
        "operations.search.pool.factory",
        int,
        f"operations.search.pool.factory=<class 'int'> is invalid: {UNUSED}",
        id="reconfigure to settings without a pool, with a factory",
    ),
    pytest.param(
        lambda: _built().reconfigure("db", Pipeline(), factory=PoolCallbacks(factory=int)),
        "operations.db.pool.factory",
        int,
        f"operations.db.pool.factory=<class 'int'> is invalid: {UNUSED}",
        id="reconfigure to a pipeline, with a factory",
    ),
]


@pytest.mark.parametrize(("act", "field", "value", "message"), REFUSALS)
def test_every_configuration_refusal_says_what_and_why(
    act: Callable[[], object], field: str, value: object, message: str
) -> None:
    """A ``ConfigError`` naming the field, carrying the value as given (for a factory: the
    factory itself, also out of a ``PoolCallbacks``), and this exact message."""
    with pytest.raises(ConfigError) as info:
        act()
    assert_refused(info.value, field, value)
    assert str(info.value) == message


def test_a_refused_factory_changes_nothing() -> None:
    """After an unusable factory, the operation keeps its pipeline and ``add`` added nothing."""
    r = _built()
    before = r.pipeline("search")
    with pytest.raises(ConfigError):
        r.reconfigure("search", {"retry": {"max_attempts": 3}}, factory=int)
    with pytest.raises(ConfigError):
        r.add("cache", {"retry": {}}, factory=int)
    assert r.pipeline("search") is before
    assert r.names == ("db", "search")


def _run_all_of_a_list() -> object:
    return asyncio.run(_built().run_all(["db"]))  # type: ignore[arg-type]


WRONG_TYPES: list[Any] = [
    pytest.param(
        lambda: Resilience.from_file({"operations": {}}),  # type: ignore[arg-type]
        "from_file takes a path, not {'operations': {}}",
        id="from_file without a path",
    ),
    pytest.param(
        _run_all_of_a_list,
        "run_all takes a mapping of operation name to function, not ['db']",
        id="run_all without a mapping",
    ),
    pytest.param(
        lambda: _built().subscribe(42),  # type: ignore[arg-type]
        "listener must be callable, not 42",
        id="subscribe without a callable",
    ),
]


@pytest.mark.parametrize(("act", "message"), WRONG_TYPES)
def test_every_argument_of_the_wrong_type_is_named(act: Callable[[], object], message: str) -> None:
    """A ``TypeError`` that shows what was given instead."""
    with pytest.raises(TypeError) as info:
        act()
    assert str(info.value) == message
