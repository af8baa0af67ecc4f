"""Configuration details mutation testing found unchecked: where ``resolve`` says each value
came from, and the preset it keeps; a ``Section``'s hash and ``OperationConfig.section``'s error;
which pool callbacks are async; a tree built in code validated by ``load_config``; the pipeline's
name and the clock ``build_pipeline`` hands every component."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from resilience import (
    AsyncResourcePool,
    ConfigError,
    Event,
    ResourcePool,
    build_pipeline,
    load_config,
)
from resilience.config import OperationConfig, PoolCallbacks, ResilienceConfig, Section, resolve
from tests.ids import stable_id

# ---------------------------------------------------------------- resolve


def test_sources_name_every_merged_value_and_only_those() -> None:
    """``sources`` has one entry per value of the merged operation (and ``order`` when given),
    naming its layer; a value dropped by the rival breaker policy leaves no entry behind. The
    merged operation keeps the preset it used."""
    raw = {
        "defaults": {"preset": "balanced", "bulkhead": {"max_wait": 0.5}},
        "operations": {
            "search": {
                "order": ["breaker", "retry", "bulkhead"],
                "breaker": {"failure_rate_threshold": 0.5, "window_size": 10},
            }
        },
    }
    config = load_config(raw)
    result = resolve("search", config.operations["search"], config.defaults)
    preset = "preset balanced"
    assert result.operation.preset == "balanced"
    assert result.operation.order == ("breaker", "retry", "bulkhead")
    assert dict(result.sources) == {
        "order": "operation",
        "retry.max_attempts": preset,
        "retry.deadline": preset,
        "retry.base_delay": preset,
        "retry.max_delay": preset,
        "retry.retry_on": preset,
        "breaker.recovery_timeout": preset,
        "breaker.half_open_max_calls": preset,
        "breaker.success_threshold": preset,
        "breaker.expected_exception": preset,
        "breaker.failure_rate_threshold": "operation",
        "breaker.window_size": "operation",
        "bulkhead.max_concurrent": preset,
        "bulkhead.max_wait": "defaults",
    }
    merged = {
        f"{name}.{key}"
        for name in ("retry", "breaker", "bulkhead")
        for key in result.operation.section(name) or {}
    }
    assert set(result.sources) - {"order"} == merged


# ---------------------------------------------------------------- the tree


def test_sections_with_different_settings_hash_apart() -> None:
    """A Section is hashed by its settings (equal sections hash equal, others apart), so sets
    and dicts of sections stay fast."""
    sections = [Section({"max_attempts": n}) for n in range(1, 33)]
    assert len({hash(section) for section in sections}) == len(sections)
    assert hash(Section({"max_attempts": 3})) == hash(Section({"max_attempts": 3}))


def test_a_section_that_does_not_exist_is_a_key_error_naming_it() -> None:
    """``OperationConfig.section`` takes the name of a section only."""
    with pytest.raises(KeyError) as info:
        OperationConfig().section("retries")
    assert info.value.args == ("retries",)


# ---------------------------------------------------------------- pool callbacks


def _sync(*_: object) -> int:
    return 1


async def _coroutine(*_: object) -> int:
    return 1


async def _async_generator(*_: object) -> AsyncIterator[int]:
    yield 1


class _SyncCallable:
    def __call__(self, *_: object) -> int:
        return 1


class _AsyncCallable:
    async def __call__(self, *_: object) -> int:
        return 1


CALLBACKS: list[tuple[Callable[..., Any], bool]] = [
    (_sync, False),
    (_SyncCallable(), False),
    (_coroutine, True),
    (_async_generator, True),
    (_AsyncCallable(), True),
]


@pytest.mark.parametrize("hook", ["factory", "validate", "reset", "destroy"])
@pytest.mark.parametrize(("callback", "asynchronous"), CALLBACKS, ids=stable_id)
def test_any_async_callback_makes_an_async_pool(
    hook: str, callback: Callable[..., Any], asynchronous: bool
) -> None:
    """A coroutine function, an async generator function or an instance with an async
    ``__call__``, given as any of the callbacks, makes the pool an AsyncResourcePool (what a
    ResourcePool refuses as async); sync callbacks make a ResourcePool."""
    callbacks = PoolCallbacks(**{"factory": _sync, hook: callback})
    config = load_config({"operations": {"s": {"pool": {"size": 1}}}})
    pipeline = build_pipeline(config, "s", factories={"s": callbacks})
    (layer,) = pipeline.layers
    assert callbacks.asynchronous is asynchronous
    assert type(layer.component) is (AsyncResourcePool if asynchronous else ResourcePool)


# ---------------------------------------------------------------- building


def test_a_tree_built_in_code_is_validated_and_returned() -> None:
    """load_config(ResilienceConfig) checks the tree by building it, and returns it as is."""
    tree = ResilienceConfig(operations={"search": OperationConfig(retry=Section({}))})
    assert load_config(tree) is tree


def test_a_pipeline_is_named_after_its_operation() -> None:
    """build_pipeline's pipeline is named after the operation, like its components."""
    pipeline = build_pipeline(load_config({"operations": {"search": {"retry": {}}}}), "search")
    assert pipeline.name == "search"
    assert repr(pipeline) == "<Pipeline 'search' retry>"


class _StoppedClock:
    """A clock stopped at an instant no system clock reads (``sleep`` moves it on)."""

    def __init__(self) -> None:
        self.now_ns = 7 * 10**9 + 123

    def monotonic_ns(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.now_ns / 10**9

    def sleep(self, seconds: float) -> None:
        self.now_ns += round(seconds * 10**9)


def _failing() -> Any:
    raise ConnectionError("down")


def test_build_pipeline_gives_every_component_the_clock_given() -> None:
    """``clock=`` reaches the components (their events carry its reading); a clock that is
    not a Clock is refused at ``clock``."""
    raw = {"operations": {"search": {"breaker": {"failure_threshold": 1}}}}
    config = load_config(raw)
    clock = _StoppedClock()
    pipeline = build_pipeline(config, "search", clock=clock)
    events: list[Event] = []
    pipeline.subscribe(events.append)
    with pytest.raises(ConnectionError):
        pipeline.execute(_failing)
    assert events
    assert {event.at_ns for event in events} == {clock.now_ns}
    with pytest.raises(ConfigError) as info:
        build_pipeline(config, "search", clock="system")
    assert info.value.field == "clock"
    assert info.value.value == "system"
