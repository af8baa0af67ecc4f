"""aexecute, run_all (failure isolation and time limits), subscriptions and event logging."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from resilience import (
    CallSucceeded,
    CircuitBreaker,
    ConfigError,
    Event,
    EventLogger,
    FallbackUsed,
    Outcome,
    Pipeline,
    Resilience,
    StateChanged,
)
from resilience.events import BulkheadAdmitted, RequestRejected
from tests.ids import stable_id
from tests.refusals import assert_refused

BREAKER = {"breaker": {"failure_threshold": 1, "recovery_timeout": 60}}
THREE = {"operations": {"fail": BREAKER, "slow": BREAKER, "ok": BREAKER}}


def test_aexecute_runs_coroutines_and_plain_functions() -> None:
    """aexecute awaits a coroutine function's result, and runs a plain one."""

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def scenario() -> tuple[int, int]:
        r = Resilience(THREE)
        return await r.aexecute("ok", double, 21), await r.aexecute("ok", lambda: 7)

    assert asyncio.run(scenario()) == (42, 7)


def test_run_all_isolates_a_failure_and_a_timeout() -> None:
    """Every result or error comes back; the slow one alone is cancelled with TimeoutError."""

    async def fail() -> None:
        raise ValueError("boom")

    async def slow() -> str:
        await asyncio.sleep(1)  # real time: cancelled after 0.05 s
        return "late"

    async def ok() -> str:
        return "fine"

    async def scenario() -> tuple[Resilience, dict[str, Outcome], float]:
        r = Resilience(THREE)
        start = time.monotonic()
        outcomes = await r.run_all({"fail": fail, "slow": slow, "ok": ok}, timeout=0.05)
        return r, outcomes, time.monotonic() - start

    r, outcomes, elapsed = asyncio.run(scenario())
    assert elapsed < 0.5
    assert list(outcomes) == ["fail", "slow", "ok"]
    assert outcomes["ok"] == Outcome("ok", value="fine")
    assert outcomes["ok"].ok
    assert outcomes["ok"].result() == "fine"
    assert not outcomes["fail"].ok
    with pytest.raises(ValueError, match="boom"):
        outcomes["fail"].result()
    late = outcomes["slow"].error
    assert isinstance(late, TimeoutError)
    assert "'slow' did not finish within 0.05 s" in str(late)
    assert isinstance(late.__cause__, asyncio.CancelledError)
    metrics = r.metrics()
    assert metrics["slow"]["pipeline"]["interrupted"] == 1
    assert metrics["fail"]["breaker"]["calls_failed"] == 1
    assert metrics["ok"]["breaker"]["calls_succeeded"] == 1
    breakers = [r.pipeline(name).layers[0].component.state for name in ("fail", "slow", "ok")]
    assert breakers == ["open", "closed", "closed"]  # cancellation is not a failure


def test_run_all_keeps_an_operations_own_timeout_error() -> None:
    """A TimeoutError the operation raises itself is its error, not the time limit's."""
    own = TimeoutError("upstream timed out")

    def raises() -> None:
        raise own

    outcomes = asyncio.run(Resilience(THREE).run_all({"ok": raises}, timeout=5))
    assert outcomes["ok"].error is own


@pytest.mark.parametrize(
    "timeout",
    [0, -1, 1e-400, float("nan"), float("inf"), True, "1", Decimal("1e400"), Fraction(1, 10**400)],
    ids=stable_id,
)
def test_run_all_validates_its_timeout(timeout: object) -> None:
    """timeout is a positive number of seconds or None: a huge or a tiny exact number that
    becomes inf or 0.0 as a float is refused too."""
    with pytest.raises(ConfigError) as info:
        asyncio.run(Resilience(THREE).run_all({"ok": lambda: 1}, timeout=timeout))
    assert_refused(info.value, "timeout", timeout)


def test_run_all_checks_every_name_before_starting() -> None:
    """An unknown name is a KeyError, and nothing ran."""
    ran: list[str] = []
    with pytest.raises(KeyError, match="'nope'"):
        asyncio.run(Resilience(THREE).run_all({"ok": lambda: ran.append("ok"), "nope": print}))
    assert ran == []


def records(caplog: pytest.LogCaptureFixture, kind: type[Event]) -> list[logging.LogRecord]:
    return [r for r in caplog.records if isinstance(getattr(r, "event", None), kind)]


def test_log_events_logs_every_event(caplog: pytest.LogCaptureFixture) -> None:
    """One line per event; a state change at WARNING, a refusal at INFO, routine at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="resilience.events")
    limit = {"algorithm": "fixed_window", "limit": 1, "per": 3600}
    r = Resilience({"operations": {"s": {**BREAKER, "rate_limit": limit}}}, log_events=True)
    with pytest.raises(OSError):
        r.execute("s", _fail)
    with pytest.raises(Exception, match="rate limit"):
        r.execute("s", _fail)
    (opened,) = records(caplog, StateChanged)
    assert opened.levelno == logging.WARNING
    assert opened.name == "resilience.events"
    assert opened.getMessage() == (
        "s.breaker StateChanged old='closed' new='open' reason='failure_threshold'"
    )
    (refused,) = records(caplog, RequestRejected)
    assert refused.levelno == logging.INFO
    assert {r.levelno for r in records(caplog, CallSucceeded)} <= {logging.DEBUG}


def test_reconfigured_pipelines_log_each_event_once(caplog: pytest.LogCaptureFixture) -> None:
    """New components are logged; a kept one is not subscribed twice."""
    logger = logging.getLogger("test.resilience")
    caplog.set_level(logging.DEBUG, logger="test.resilience")
    r = Resilience({"operations": {"s": {"breaker": {}}}}, log_events=logger)
    r.reconfigure("s", {"breaker": {}, "bulkhead": {"max_concurrent": 1}})
    r.add("t", {"breaker": {}})
    r.execute("s", lambda: 1)
    r.execute("t", lambda: 1)
    sources = [r.event.source for r in records(caplog, CallSucceeded)]
    assert sources == ["s.breaker", "t.breaker"]
    assert len(records(caplog, BulkheadAdmitted)) == 1


def test_a_fallback_is_logged_at_info(caplog: pytest.LogCaptureFixture) -> None:
    """A hand-built pipeline's own FallbackUsed events are logged too."""
    caplog.set_level(logging.INFO, logger="resilience.events")
    r = Resilience(log_events=True)
    r.add("cache", Pipeline(breaker=CircuitBreaker(name="c"), fallback=lambda e: "stale"))
    assert r.execute("cache", _fail) == "stale"
    (used,) = records(caplog, FallbackUsed)
    assert used.levelno == logging.INFO
    assert not records(caplog, CallSucceeded)  # DEBUG: below the captured level


def test_subscribe_and_unsubscribe() -> None:
    """A listener sees every operation's events until it unsubscribes."""
    seen: list[Event] = []
    r = Resilience(THREE)
    unsubscribe = r.subscribe(seen.append)
    r.execute("ok", lambda: 1)
    r.reconfigure("ok", {"retry": {"max_attempts": 1}})
    r.execute("ok", lambda: 1)
    assert [type(e).__name__ for e in seen] == ["CallSucceeded", "RetryAttempted"]
    unsubscribe()
    r.execute("ok", lambda: 1)
    r.execute("fail", lambda: 1)
    assert len(seen) == 2
    with pytest.raises(TypeError):
        r.subscribe("print")  # type: ignore[arg-type]


def test_event_logger_levels_can_be_overridden() -> None:
    """levels= changes an event type's level; subclasses inherit their base's."""
    logger = EventLogger(levels={Event: logging.INFO})
    assert logger.level(CallSucceeded) == logging.INFO
    assert logger.level(StateChanged) == logging.WARNING
    assert EventLogger().level(CallSucceeded) == logging.DEBUG
    assert EventLogger().logger.name == "resilience.events"
    with pytest.raises(TypeError):
        EventLogger("resilience")  # type: ignore[arg-type]


def _fail(*_: Any) -> None:
    raise OSError("down")
