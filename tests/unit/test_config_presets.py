"""Presets, and the precedence preset < defaults < operation, setting by setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from resilience import PRESETS, build_pipeline, load_config, presets_table
from resilience.config import OperationConfig, Section, resolve
from resilience.config.fields import FIELDS

# Settings a preset leaves out on purpose: the breaker's other failure policy.
RATE_POLICY = {"failure_rate_threshold", "window_size", "minimum_calls"}


def resolved(raw: dict[str, Any], name: str = "search") -> OperationConfig:
    config = load_config(raw)
    return resolve(name, config.operations[name], config.defaults).operation


def test_three_presets_each_a_full_set() -> None:
    """Each preset sets every retry, breaker and bulkhead setting, and nothing else."""
    assert list(PRESETS) == ["conservative", "balanced", "aggressive"]
    for preset in PRESETS.values():
        assert set(preset) == {"retry", "breaker", "bulkhead"}
        for section, settings in preset.items():
            assert set(settings) == set(FIELDS[section]) - RATE_POLICY


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds(name: str) -> None:
    """A preset alone is a valid operation: retry, breaker and bulkhead, in the default order."""
    config = load_config({"operations": {"op": {"preset": name}}})
    pipeline = build_pipeline(config, "op")
    assert pipeline.order == ("bulkhead", "retry", "breaker")
    assert pipeline.execute(lambda: "ok") == "ok"


def test_presets_go_from_cautious_to_aggressive() -> None:
    """More attempts, shorter back-off, more tolerance, shorter recovery, bigger bulkhead."""
    c, b, a = (PRESETS[n] for n in ("conservative", "balanced", "aggressive"))

    def rising(section: str, key: str) -> bool:
        return c[section][key] < b[section][key] < a[section][key]  # type: ignore[operator]

    def falling(section: str, key: str) -> bool:
        return c[section][key] > b[section][key] > a[section][key]  # type: ignore[operator]

    assert rising("retry", "max_attempts")
    assert falling("retry", "base_delay")
    assert rising("breaker", "failure_threshold")
    assert falling("breaker", "recovery_timeout")
    assert rising("bulkhead", "max_concurrent")


def test_presets_are_read_only() -> None:
    """PRESETS is plain, read-only data."""
    with pytest.raises(TypeError):
        PRESETS["balanced"]["retry"]["max_attempts"] = 9  # type: ignore[index]
    with pytest.raises(TypeError):
        PRESETS["custom"] = {}  # type: ignore[index]


def test_the_table_shows_every_setting_of_every_preset() -> None:
    """presets_table() has a row per setting and each preset's value in it."""
    table = presets_table()
    lines = table.splitlines()
    assert lines[0] == "| Setting | `conservative` | `balanced` | `aggressive` |"
    rows = {line.split(" | ")[0].strip("| `"): line for line in lines[2:]}
    assert len(rows) == sum(len(s) for s in PRESETS["balanced"].values())
    assert rows["retry.max_attempts"] == "| `retry.max_attempts` | 2 | 3 | 5 |"
    assert rows["breaker.recovery_timeout"] == (
        "| `breaker.recovery_timeout` | 60.0 s | 30.0 s | 10.0 s |"
    )
    assert "`Exception`" in rows["retry.retry_on"]


def test_preset_then_defaults_then_operation() -> None:
    """Each setting comes from the highest layer that gives it."""
    raw = {
        "defaults": {"preset": "balanced", "retry": {"max_attempts": 4, "base_delay": 0.2}},
        "operations": {"search": {"retry": {"max_attempts": 6}}},
    }
    config = load_config(raw)
    result = resolve("search", config.operations["search"], config.defaults)
    retry = result.operation.retry
    assert retry == {
        **PRESETS["balanced"]["retry"],
        "base_delay": 0.2,
        "max_attempts": 6,
    }
    assert result.sources["retry.max_attempts"] == "operation"
    assert result.sources["retry.base_delay"] == "defaults"
    assert result.sources["retry.max_delay"] == "preset balanced"


def test_the_operations_preset_replaces_the_defaults() -> None:
    """An operation's preset replaces the defaults' preset; false means none at all."""
    raw = {
        "defaults": {"preset": "balanced"},
        "operations": {"search": {"preset": "aggressive"}, "health": {"preset": False}},
    }
    assert resolved(raw).bulkhead == PRESETS["aggressive"]["bulkhead"]
    assert resolved(raw, "health") == OperationConfig()


def test_a_default_section_gives_every_operation_its_own_component() -> None:
    """A section in the defaults gives each operation one, built separately."""
    limit = {"algorithm": "token_bucket", "limit": 5, "per": 1}
    config = load_config({"defaults": {"rate_limit": limit}, "operations": {"a": {}, "b": {}}})
    a, b = (build_pipeline(config, n).layers[0].component for n in ("a", "b"))
    assert a is not b
    assert (a.name, b.name) == ("a.rate_limit", "b.rate_limit")


def test_false_removes_a_section_and_what_lies_beneath() -> None:
    """false drops the section from the layers below; a higher layer may start it afresh."""
    raw = {
        "defaults": {"preset": "balanced", "bulkhead": False, "retry": False},
        "operations": {"search": {"retry": {"max_attempts": 2}}},
    }
    result = resolved(raw)
    assert result.bulkhead is None
    assert result.retry == Section({"max_attempts": 2})
    assert result.breaker == PRESETS["balanced"]["breaker"]


def test_order_comes_from_the_operation_else_the_defaults() -> None:
    """order is taken whole, never merged."""
    raw = {
        "defaults": {"preset": "balanced", "order": ["retry", "breaker", "bulkhead"]},
        "operations": {"a": {}, "b": {"order": ["breaker", "retry", "bulkhead"]}},
    }
    assert resolved(raw, "a").order == ("retry", "breaker", "bulkhead")
    assert resolved(raw, "b").order == ("breaker", "retry", "bulkhead")
    config = load_config(raw)
    assert build_pipeline(config, "a").order == ("retry", "breaker", "bulkhead")


def test_choosing_the_failure_rate_drops_the_presets_threshold() -> None:
    """A failure-rate setting above a preset's failure_threshold replaces that policy."""
    raw = {
        "operations": {
            "search": {
                "preset": "balanced",
                "breaker": {"failure_rate_threshold": 0.5, "window_size": 20},
            }
        }
    }
    breaker = resolved(raw).breaker
    assert breaker is not None
    assert "failure_threshold" not in breaker
    built = build_pipeline(load_config(raw), "search").layers[-1].component
    assert built.config.failure_threshold is None
    assert built.config.window_size == 20
    assert built.config.recovery_timeout == 30.0  # the rest of the preset stays


def test_a_threshold_above_a_default_failure_rate_drops_the_rate() -> None:
    """And the other way round: the highest layer's policy wins, with all its settings."""
    raw = {
        "defaults": {"breaker": {"failure_rate_threshold": 0.5, "minimum_calls": 5}},
        "operations": {"search": {"breaker": {"failure_threshold": 3}}},
    }
    assert resolved(raw).breaker == {"failure_threshold": 3}


def test_the_readme_shows_the_presets_as_they_are() -> None:
    """The README's presets table is presets_table()'s output: the two cannot drift apart."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert presets_table().strip() in readme
