"""Every bad configuration raises ConfigError naming the full dotted path of what is wrong."""

from __future__ import annotations

import math
from typing import Any

import pytest

from resilience import ConfigError, build_pipeline, load_config
from tests.ids import stable_id


def op(**sections: Any) -> dict[str, Any]:
    """A configuration with one operation, ``search``, made of ``sections``."""
    return {"operations": {"search": sections}}


TB = {"algorithm": "token_bucket", "limit": 5, "per": 1}

# (configuration, the field of the error)
SHAPE = [
    ([], "config"),
    ({"operation": {}}, "operation"),
    ({"operations": []}, "operations"),
    ({"operations": {"search": 3}}, "operations.search"),
    ({"operations": {"a.b": {}}}, "operations.a.b"),
    ({"operations": {"": {}}}, "operations."),
    ({"defaults": "balanced"}, "defaults"),
    (op(retries={}), "operations.search.retries"),
    (op(fallback="cached"), "operations.search.fallback"),
    (op(retry=True), "operations.search.retry"),
    (op(retry=[1]), "operations.search.retry"),
    (op(retry={"max_atempts": 3}), "operations.search.retry.max_atempts"),
    ({"defaults": {"breaker": {"threshold": 3}}}, "defaults.breaker.threshold"),
    (op(retry={1: 3}), "operations.search.retry"),
    (op(preset="fast"), "operations.search.preset"),
    (op(preset=True), "operations.search.preset"),
    ({"defaults": {"preset": "Balanced"}}, "defaults.preset"),
    (op(order="retry"), "operations.search.order"),
    (op(order=[1]), "operations.search.order"),
]

TYPES = [
    (op(retry={"max_attempts": True}), "operations.search.retry.max_attempts"),
    (op(retry={"max_attempts": 2.0}), "operations.search.retry.max_attempts"),
    (op(retry={"base_delay": "0.1"}), "operations.search.retry.base_delay"),
    (op(retry={"base_delay": None}), "operations.search.retry.base_delay"),
    (op(retry={"retry_on": "ValueError"}), "operations.search.retry.retry_on"),
    (op(retry={"retry_on": [ValueError]}), "operations.search.retry.retry_on"),
    (op(breaker={"recovery_timeout": "30"}), "operations.search.breaker.recovery_timeout"),
    (op(breaker={"failure_threshold": False}), "operations.search.breaker.failure_threshold"),
    (op(bulkhead={"max_concurrent": 2.5}), "operations.search.bulkhead.max_concurrent"),
    (op(pool={"size": 1, "lifo": "yes"}), "operations.search.pool.lifo"),
    (op(pool={"size": 1, "lifo": 1}), "operations.search.pool.lifo"),
    (op(rate_limit={**TB, "per": [1]}), "operations.search.rate_limit.per"),
    (op(rate_limit={**TB, "algorithm": "leaky_bucket"}), "operations.search.rate_limit.algorithm"),
    (op(rate_limit={**TB, "algorithm": 1}), "operations.search.rate_limit.algorithm"),
]

NAMES = [
    (op(retry={"retry_on": ["Nope"]}), "operations.search.retry.retry_on"),
    (op(retry={"retry_on": ["os.error"]}), "operations.search.retry.retry_on"),
    (op(retry={"retry_on": []}), "operations.search.retry.retry_on"),
    (
        op(breaker={"expected_exception": ["KeyboardInterrupt"]}),
        "operations.search.breaker.expected_exception",
    ),
    (op(breaker={"expected_exception": []}), "operations.search.breaker.expected_exception"),
]

RANGES = [
    (op(retry={"max_attempts": 0}), "operations.search.retry.max_attempts"),
    (op(retry={"max_attempts": None}), "operations.search.retry.max_attempts"),  # never stops
    (op(retry={"deadline": 0}), "operations.search.retry.deadline"),
    (op(retry={"deadline": math.nan}), "operations.search.retry.deadline"),
    (op(retry={"base_delay": -1}), "operations.search.retry.base_delay"),
    (op(retry={"base_delay": 1e-7}), "operations.search.retry.base_delay"),
    (op(retry={"base_delay": 2, "max_delay": 1}), "operations.search.retry.max_delay"),
    (op(breaker={"failure_threshold": 0}), "operations.search.breaker.failure_threshold"),
    (op(breaker={"recovery_timeout": -1}), "operations.search.breaker.recovery_timeout"),
    (op(breaker={"recovery_timeout": math.inf}), "operations.search.breaker.recovery_timeout"),
    (op(breaker={"half_open_max_calls": 0}), "operations.search.breaker.half_open_max_calls"),
    (op(breaker={"success_threshold": -2}), "operations.search.breaker.success_threshold"),
    (
        op(breaker={"failure_rate_threshold": 1.5}),
        "operations.search.breaker.failure_rate_threshold",
    ),
    (op(breaker={"window_size": 10}), "operations.search.breaker.window_size"),
    (
        op(breaker={"failure_rate_threshold": 0.5, "window_size": 10, "minimum_calls": 11}),
        "operations.search.breaker.minimum_calls",
    ),
    (
        op(breaker={"failure_rate_threshold": 0.5, "failure_threshold": 3}),
        "operations.search.breaker.failure_threshold",
    ),
    (op(bulkhead={"max_concurrent": 0}), "operations.search.bulkhead.max_concurrent"),
    (op(bulkhead={}), "operations.search.bulkhead.max_concurrent"),
    (op(bulkhead={"max_concurrent": 1, "max_wait": -1}), "operations.search.bulkhead.max_wait"),
    (op(pool={}), "operations.search.pool.size"),
    (op(pool={"size": 0}), "operations.search.pool.size"),
    (op(pool={"size": 1, "max_overflow": -1}), "operations.search.pool.max_overflow"),
    (op(pool={"size": 1, "timeout": -0.5}), "operations.search.pool.timeout"),
    (op(pool={"size": 1, "max_lifetime": 0}), "operations.search.pool.max_lifetime"),
    (op(pool={"size": 1, "max_idle": 0}), "operations.search.pool.max_idle"),
    (op(pool={"size": 1, "leak_threshold": 0}), "operations.search.pool.leak_threshold"),
    (op(rate_limit={"limit": 5, "per": 1}), "operations.search.rate_limit.algorithm"),
    (op(rate_limit={"algorithm": "gcra", "per": 1}), "operations.search.rate_limit.limit"),
    (op(rate_limit={"algorithm": "gcra", "limit": 1}), "operations.search.rate_limit.per"),
    (op(rate_limit={**TB, "limit": 0}), "operations.search.rate_limit.limit"),
    (op(rate_limit={**TB, "per": 0}), "operations.search.rate_limit.per"),
    (op(rate_limit={**TB, "per": 10**12}), "operations.search.rate_limit.per"),
    (op(rate_limit={**TB, "burst": 0}), "operations.search.rate_limit.burst"),
    (op(rate_limit={**TB, "algorithm": "gcra", "burst": -1}), "operations.search.rate_limit.burst"),
    (
        op(rate_limit={**TB, "algorithm": "fixed_window", "burst": 3}),
        "operations.search.rate_limit.burst",
    ),
    (
        op(rate_limit={**TB, "algorithm": "sliding_log", "limit": 0}),
        "operations.search.rate_limit.limit",
    ),
    (
        op(rate_limit={**TB, "algorithm": "sliding_counter", "per": 0}),
        "operations.search.rate_limit.per",
    ),
    (op(rate_limit={**TB, "cost": 0}), "operations.search.rate_limit.cost"),
    (op(rate_limit={**TB, "cost": 6}), "operations.search.rate_limit.cost"),
    (op(rate_limit={**TB, "wait": -1}), "operations.search.rate_limit.wait"),
    (op(preset="balanced", order=["retry", "breaker"]), "operations.search.order"),
    (op(retry={}, order=["retry", "pool"]), "operations.search.order"),
    (op(retry={}, order=["retry", "retry"]), "operations.search.order"),
]


def _reports_what_was_written(reported: object, raw: object, field: str) -> bool:
    """Whether the error's value is the one at ``field`` in ``raw`` (a list may be shown as the
    tuple it stands for; NaN is NaN), or, for a bad key, the key itself. Where ``raw`` has no
    value at ``field`` (a missing key), there is nothing more to compare."""
    parent, value = None, raw
    for part in field.split("."):
        if not isinstance(value, dict):
            return True
        if part not in value:
            return reported in value if reported is not None else True
        parent, value = value, value[part]
    if isinstance(value, list):
        value = tuple(value)
        reported = tuple(reported) if isinstance(reported, list) else reported
    if isinstance(value, float) and math.isnan(value):
        return isinstance(reported, float) and math.isnan(reported)
    keys = [*(parent or {}), *(value if isinstance(value, dict) else {})]
    return bool(reported == value or reported in keys)


@pytest.mark.parametrize(("raw", "field"), SHAPE + TYPES + NAMES + RANGES, ids=stable_id)
def test_every_error_names_the_full_path(raw: object, field: str) -> None:
    """A bad shape, type, name or value is a ConfigError (a ValueError) at its full path."""
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.field == field, info.value
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{field}=")
    assert isinstance(info.value.rule, str)
    assert info.value.rule.strip(), "the rule says what is wrong"
    assert _reports_what_was_written(info.value.value, raw, field), info.value


def test_the_error_shows_the_value_as_written() -> None:
    """The error carries the value from the file, not the component's converted form."""
    with pytest.raises(ConfigError) as info:
        load_config(op(breaker={"expected_exception": ["KeyboardInterrupt"]}))
    assert info.value.value == ("KeyboardInterrupt",)
    with pytest.raises(ConfigError) as info:
        load_config(op(retry={"retry_on": ["ValueError", "Nope"]}))
    assert info.value.value == ["ValueError", "Nope"]
    assert "'Nope'" in info.value.rule


def test_a_bad_default_is_reported_where_it_is_written() -> None:
    """A default an operation inherits is reported at defaults.<path>, naming the operation."""
    raw = {"defaults": {"retry": {"max_attempts": 0}}, "operations": {"search": {}}}
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.field == "defaults.retry.max_attempts"
    assert "(inherited by operations.search)" in info.value.rule


def test_a_default_clashing_with_an_operation_names_both() -> None:
    """A cross-setting error names the setting where it is written, and who inherits it."""
    raw = {
        "defaults": {"retry": {"max_delay": 0.01}},
        "operations": {"search": {"retry": {"base_delay": 0.5}}},
    }
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.field == "defaults.retry.max_delay"
    assert info.value.value == 0.01
    assert "base_delay" in info.value.rule
    assert "operations.search" in info.value.rule


def test_a_default_order_that_does_not_fit_an_operation() -> None:
    """An order inherited from the defaults is reported at defaults.order."""
    raw = {"defaults": {"order": ["retry"]}, "operations": {"search": {"breaker": {}}}}
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert info.value.field == "defaults.order"


def test_a_preset_value_clashing_with_the_operation() -> None:
    """A preset's value is reported at the operation's path, saying it came from the preset."""
    with pytest.raises(ConfigError) as info:
        load_config(op(preset="balanced", retry={"base_delay": 60}))
    assert info.value.field == "operations.search.retry.max_delay"
    assert "(from preset balanced)" in info.value.rule


def test_a_pool_needs_a_factory_from_code() -> None:
    """A pool section validates without a factory, but building it needs one."""
    config = load_config(op(pool={"size": 2}))
    with pytest.raises(ConfigError) as info:
        build_pipeline(config, "search")
    assert info.value.field == "operations.search.pool.factory"
    with pytest.raises(ConfigError) as info:
        build_pipeline(config, "search", factories={"search": "not callable"})
    assert info.value.field == "operations.search.pool.factory"


def test_an_unknown_operation_is_a_key_error_listing_the_known() -> None:
    """build_pipeline for a name the configuration lacks raises KeyError with the names."""
    config = load_config({"operations": {"search": {}, "pay": {}}})
    with pytest.raises(KeyError, match="'search', 'pay'"):
        build_pipeline(config, "serach")
