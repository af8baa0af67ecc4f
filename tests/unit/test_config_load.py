"""load_config from dicts, JSON and TOML files; the tree it returns; what a section builds."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from resilience import (
    GCRA,
    Bulkhead,
    CircuitBreaker,
    ConfigError,
    FixedWindow,
    OperationConfig,
    PoolCallbacks,
    ResilienceConfig,
    ResourcePool,
    RetryPolicy,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
    build_pipeline,
    load_config,
)
from resilience.config import Section
from resilience.errors import RateLimited

TOML = """
[defaults]
preset = "conservative"

[operations.search.retry]
max_attempts = 4
retry_on = ["ConnectionError", "TimeoutError", "RateLimited"]

[operations.search.rate_limit]
algorithm = "gcra"
limit = 10
per = 2.5
burst = 4

[operations.health]
preset = false
retry = false
"""

DATA: dict[str, Any] = {
    "defaults": {"preset": "conservative"},
    "operations": {
        "search": {
            "retry": {
                "max_attempts": 4,
                "retry_on": ["ConnectionError", "TimeoutError", "RateLimited"],
            },
            "rate_limit": {"algorithm": "gcra", "limit": 10, "per": 2.5, "burst": 4},
        },
        "health": {"preset": False, "retry": False},
    },
}


def components(pipeline: Any) -> dict[str, Any]:
    return {layer.name: layer.component for layer in pipeline.layers}


@pytest.mark.parametrize("kind", ["dict", "json", "toml", "str path"])
def test_the_same_configuration_from_every_source(tmp_path: Path, kind: str) -> None:
    """A dict, a JSON file and a TOML file saying the same thing give equal trees."""
    source: object = DATA
    if kind == "json":
        source = tmp_path / "resilience.json"
        source.write_text(json.dumps(DATA))
    elif kind in ("toml", "str path"):
        source = tmp_path / "resilience.toml"
        source.write_text(TOML)
        if kind == "str path":
            source = str(source)
    config = load_config(source)
    assert config == load_config(DATA)
    search = config.operations["search"]
    assert search.retry == Section(
        {"max_attempts": 4, "retry_on": ("ConnectionError", "TimeoutError", "RateLimited")}
    )
    assert config.defaults.preset == "conservative"
    assert config.operations["health"] == OperationConfig(preset=False, retry=False)


def test_the_tree_is_immutable() -> None:
    """Neither the tree nor its sections can be changed after loading."""
    raw: dict[str, Any] = {"operations": {"search": {"retry": {"max_attempts": 2}}}}
    config = load_config(raw)
    raw["operations"]["search"]["retry"]["max_attempts"] = 9
    raw["operations"]["other"] = {}
    assert config.operations["search"].retry == {"max_attempts": 2}
    assert list(config.operations) == ["search"]
    with pytest.raises(TypeError):
        config.operations["other"] = OperationConfig()  # type: ignore[index]
    with pytest.raises(TypeError):
        config.operations["search"].retry["max_attempts"] = 3  # type: ignore[index]
    with pytest.raises(AttributeError):
        config.defaults = OperationConfig()  # type: ignore[misc]
    assert hash(config.operations["search"].retry) == hash(Section({"max_attempts": 2}))


def test_an_empty_configuration_is_valid() -> None:
    """No defaults and no operations is a valid (empty) configuration."""
    assert load_config({}) == ResilienceConfig()
    assert load_config({"defaults": {}, "operations": {}}) == ResilienceConfig()


def test_a_missing_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError at 'source' naming it."""
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="no such file") as info:
        load_config(path)
    assert info.value.field == "source"
    assert info.value.value == str(path)


@pytest.mark.parametrize("name", ["settings.yaml", "settings", "settings.json.bak"])
def test_an_unknown_suffix(tmp_path: Path, name: str) -> None:
    """Only .json and .toml files are read."""
    path = tmp_path / name
    path.write_text("{}")
    with pytest.raises(ConfigError, match=r"must be a \.json or \.toml file") as info:
        load_config(path)
    assert info.value.field == "source"


def test_malformed_json_names_the_line_and_column(tmp_path: Path) -> None:
    """A JSON syntax error reports the file, the parser's line and column and its message."""
    path = tmp_path / "bad.json"
    path.write_text('{\n  "operations": {\n    "search": {,}\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"malformed JSON at line 3, column 16") as info:
        load_config(path)
    assert info.value.field == "source"
    assert str(path) in str(info.value)


def test_malformed_toml_names_the_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error reports the file and the parser's position."""
    path = tmp_path / "bad.toml"
    path.write_text("[operations.search]\nretry = { max_attempts = 3\n")
    with pytest.raises(ConfigError, match=r"malformed TOML: .*line 2") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported, not decoded with a guess."""
    path = tmp_path / "latin.toml"
    path.write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_a_toml_date_is_not_a_duration(tmp_path: Path) -> None:
    """TOML's own types (a time of day) are not seconds."""
    path = tmp_path / "time.toml"
    path.write_text("[operations.search.breaker]\nrecovery_timeout = 00:00:30\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.field == "operations.search.breaker.recovery_timeout"


def test_json_null_means_no_limit(tmp_path: Path) -> None:
    """null sets a nullable setting to "no limit", overriding a preset's value."""
    path = tmp_path / "null.json"
    raw = {"operations": {"s": {"preset": "balanced", "retry": {"max_attempts": None}}}}
    path.write_text(json.dumps(raw))
    retry = components(build_pipeline(load_config(path), "s"))["retry"]
    assert retry.config.max_attempts is None
    assert retry.config.deadline_ns == 10 * 10**9


@pytest.mark.parametrize(
    ("algorithm", "cls", "state"),
    [
        ("token_bucket", TokenBucket, {"capacity": 3, "refill_rate": Fraction(1, 10**9)}),
        ("gcra", GCRA, {"burst": 3, "rate": Fraction(1, 10**9)}),
        ("fixed_window", FixedWindow, {"limit": 3, "window_ns": 3 * 10**9}),
        ("sliding_log", SlidingWindowLog, {"limit": 3, "window_ns": 3 * 10**9}),
        ("sliding_counter", SlidingWindowCounter, {"limit": 3, "window_ns": 3 * 10**9}),
    ],
)
def test_limit_per_seconds_for_every_algorithm(
    algorithm: str, cls: type, state: dict[str, Any]
) -> None:
    """limit units per `per` seconds: a window of `per`, or that refill rate with bursts of
    `limit` units."""
    raw = {"operations": {"s": {"rate_limit": {"algorithm": algorithm, "limit": 3, "per": 3}}}}
    limiter = components(build_pipeline(load_config(raw), "s"))["rate_limit"]
    assert type(limiter) is cls
    assert limiter.name == "s.rate_limit"
    assert {key: getattr(limiter, key) for key in state} == state


def test_burst_sets_the_bucket_capacity_apart_from_the_rate() -> None:
    """burst is the capacity; limit/per stays the refill rate."""
    section = {"algorithm": "token_bucket", "limit": 10, "per": 2.5, "burst": 4}
    config = load_config({"operations": {"s": {"rate_limit": section}}})
    limiter = components(build_pipeline(config, "s"))["rate_limit"]
    assert limiter.capacity == 4
    assert limiter.refill_rate == Fraction(4, 10**9)


def test_cost_and_wait_reach_the_pipeline() -> None:
    """cost is charged per call; wait 0 (the default) refuses at once."""
    section = {"algorithm": "fixed_window", "limit": 4, "per": 60, "cost": 2}
    pipeline = build_pipeline(load_config({"operations": {"s": {"rate_limit": section}}}), "s")
    assert pipeline.execute(lambda: 1) == 1
    assert pipeline.execute(lambda: 2) == 2
    with pytest.raises(RateLimited):
        pipeline.execute(lambda: 3)
    assert pipeline.metrics()["rate_limit"]["admitted_cost"] == 4


def test_every_section_builds_its_component_named_after_the_operation() -> None:
    """Each section builds its component, named <operation>.<section>, in the default order."""
    raw = {
        "operations": {
            "pay": {
                "rate_limit": {"algorithm": "token_bucket", "limit": 5, "per": 1},
                "bulkhead": {"max_concurrent": 2},
                "retry": {"max_attempts": 1},
                "breaker": {"failure_threshold": 2, "expected_exception": ["OSError"]},
                "pool": {"size": 1, "lifo": False, "timeout": None},
            }
        }
    }
    hooks = PoolCallbacks(factory=lambda: "conn", reset=lambda conn: None)
    pipeline = build_pipeline(load_config(raw), "pay", factories={"pay": hooks})
    built = components(pipeline)
    assert pipeline.order == ("rate_limit", "bulkhead", "retry", "breaker", "pool")
    assert {name: type(c) for name, c in built.items()} == {
        "rate_limit": TokenBucket,
        "bulkhead": Bulkhead,
        "retry": RetryPolicy,
        "breaker": CircuitBreaker,
        "pool": ResourcePool,
    }
    assert {name: c.name for name, c in built.items()} == {name: f"pay.{name}" for name in built}
    assert built["breaker"].config.expected_exception == (OSError,)
    assert built["pool"].config.reset is hooks.reset
    assert pipeline.execute(lambda conn: conn.upper()) == "CONN"


def test_an_async_callback_makes_an_async_pool() -> None:
    """A coroutine-function factory gives an AsyncResourcePool (aexecute only)."""

    async def connect() -> str:
        return "conn"

    raw = {"operations": {"s": {"pool": {"size": 1}}}}
    pipeline = build_pipeline(load_config(raw), "s", factories={"s": connect})
    assert type(components(pipeline)["pool"]).__name__ == "AsyncResourcePool"
    with pytest.raises(TypeError, match="only aexecute"):
        pipeline.execute(lambda conn: conn)
