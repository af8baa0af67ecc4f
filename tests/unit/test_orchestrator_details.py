"""Orchestrator details mutation testing found unchecked: ``aexecute`` passes keyword arguments;
``from_file`` honours ``clock`` and ``log_events``; events are logged only when asked; a listener
that unsubscribed hears nothing more, an added operation included."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import Bulkhead, Event, Resilience
from resilience.config import PoolCallbacks

CONFIG = {"operations": {"search": {"retry": {"max_attempts": 2}}}}


def _pair(first: int, *, second: int) -> tuple[int, int]:
    return (first, second)


async def _apair(first: int, *, second: int) -> tuple[int, int]:
    return (first, second)


def test_execute_and_aexecute_pass_positional_and_keyword_arguments() -> None:
    resilience = Resilience(CONFIG)
    assert resilience.execute("search", _pair, 1, second=2) == (1, 2)
    assert asyncio.run(resilience.aexecute("search", _apair, 1, second=2)) == (1, 2)


def _failing() -> Any:
    raise ConnectionError("down")


class ShiftedClock(FrozenClock):
    """Frozen time read one hour ahead: a clock no component reads by accident (under freezegun
    the system clock is frozen too, so a component that ignored ``clock=`` would go unseen)."""

    SHIFT_NS = 3_600 * 10**9

    def monotonic_ns(self) -> int:
        return super().monotonic_ns() + self.SHIFT_NS

    def monotonic(self) -> float:
        return self.monotonic_ns() / 10**9


def test_from_file_uses_the_clock_and_the_logger_given(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "resilience.json"
    path.write_text(json.dumps(CONFIG))
    logger = logging.getLogger("test.orchestrator.details")
    with FrozenTime() as frozen, caplog.at_level(logging.DEBUG, logger=logger.name):
        clock = ShiftedClock(frozen)
        resilience = Resilience.from_file(path, clock=clock, log_events=logger)
        events: list[Event] = []
        resilience.subscribe(events.append)
        frozen.advance_us(1_500)
        start = clock.monotonic_ns()
        with pytest.raises(ConnectionError):
            resilience.execute("search", _failing)
        end = clock.monotonic_ns()
    assert events
    assert events[0].at_ns == start  # the clock given, not the system's
    assert all(start <= event.at_ns <= end for event in events)
    assert any(record.name == logger.name for record in caplog.records)


@pytest.mark.parametrize("source", ["mapping", "file"])
def test_events_are_not_logged_unless_asked(
    source: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``log_events`` is off by default, whether the configuration comes from a mapping or a
    file."""
    path = tmp_path / "resilience.json"
    path.write_text(json.dumps(CONFIG))
    with caplog.at_level(logging.DEBUG):
        resilience = Resilience.from_file(path) if source == "file" else Resilience(CONFIG)
        with pytest.raises(ConnectionError):
            resilience.execute("search", _failing)
    assert not [r for r in caplog.records if r.name.startswith("resilience.events")]


def test_an_unsubscribed_listener_hears_nothing_more() -> None:
    resilience = Resilience(CONFIG)
    events: list[Event] = []
    unsubscribe = resilience.subscribe(events.append)
    with pytest.raises(ConnectionError):
        resilience.execute("search", _failing)
    heard = len(events)
    assert heard > 0
    unsubscribe()
    resilience.add("lookup", {"retry": {"max_attempts": 2}})
    for name in ("search", "lookup"):
        with pytest.raises(ConnectionError):
            resilience.execute(name, _failing)
    assert len(events) == heard
    unsubscribe()  # a second call is harmless


def _bulkhead_of(resilience: Resilience, name: str) -> Bulkhead:
    pipeline = resilience.pipeline(name)
    (bulkhead,) = [layer.component for layer in pipeline.layers if layer.name == "bulkhead"]
    assert isinstance(bulkhead, Bulkhead)
    return bulkhead


def test_a_configured_bulkhead_never_waits_unless_told() -> None:
    """``max_wait`` left out means 0 (refuse at once), as for ``Bulkhead`` itself."""
    resilience = Resilience(
        {
            "operations": {
                "quick": {"bulkhead": {"max_concurrent": 2}},
                "patient": {"bulkhead": {"max_concurrent": 2, "max_wait": 0.25}},
            }
        }
    )
    assert _bulkhead_of(resilience, "quick").config.max_wait_ns == 0
    assert _bulkhead_of(resilience, "patient").config.max_wait_ns == 250_000_000


@pytest.mark.parametrize(
    "algorithm", ["token_bucket", "gcra", "fixed_window", "sliding_log", "sliding_counter"]
)
def test_every_component_built_from_a_config_reads_the_clock_given(algorithm: str) -> None:
    config = {
        "operations": {
            "everything": {
                "rate_limit": {"algorithm": algorithm, "limit": 5, "per": 1},
                "bulkhead": {"max_concurrent": 2},
                "retry": {"max_attempts": 2, "base_delay": 0, "max_delay": 0},
                "breaker": {"failure_threshold": 2, "recovery_timeout": 60},
                "pool": {"size": 1},
            }
        }
    }
    with FrozenTime() as frozen:
        clock = ShiftedClock(frozen)
        resilience = Resilience(config, factories={"everything": object}, clock=clock)
        events: list[Event] = []
        resilience.subscribe(events.append)
        with pytest.raises(ConnectionError):
            resilience.execute("everything", lambda resource: _failing())
        sources = {type(event).__name__: event.at_ns for event in events}
        shifted = clock.monotonic_ns()
    assert len(sources) >= 5, sources  # events of the limiter, bulkhead, retry, breaker, pool
    wrong = {kind: at for kind, at in sources.items() if at != shifted}
    assert not wrong, f"stamped by another clock than the one given: {wrong}"


def test_a_configured_pool_calls_every_callback_given() -> None:
    """``factories={name: PoolCallbacks(...)}``: the pool made from the file calls the factory,
    ``validate`` on checkout, ``reset`` on return, and ``destroy`` on close, on its resource."""
    calls: list[tuple[str, int]] = []
    made = iter(range(100))

    def factory() -> int:
        resource = next(made)
        calls.append(("factory", resource))
        return resource

    callbacks = PoolCallbacks(
        factory=factory,
        validate=lambda r: calls.append(("validate", r)) or True,
        reset=lambda r: calls.append(("reset", r)),
        destroy=lambda r: calls.append(("destroy", r)),
    )
    resilience = Resilience(
        {"operations": {"db": {"pool": {"size": 1}}}}, factories={"db": callbacks}
    )
    assert resilience.execute("db", lambda resource: resource) == 0
    assert resilience.execute("db", lambda resource: resource) == 0
    resilience.close()
    assert calls == [
        ("factory", 0),
        ("reset", 0),
        ("validate", 0),
        ("reset", 0),
        ("destroy", 0),
    ]
