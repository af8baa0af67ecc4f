"""``Resilience`` end to end, on the real libraries underneath: each preset's retry, breaker and
bulkhead settings visible in behaviour (attempt counts until the breaker opens, back-off bounds,
the deadline, recovery, half-open probes, the bulkhead's limit and queueing time), under frozen
time; ``reconfigure`` while calls are held in flight on other threads (``threading.Event``, no
sleeps); and ``run_all`` isolating a failing, a slow and a healthy operation."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    BulkheadFull,
    CircuitOpenError,
    Event,
    PoolClosed,
    Resilience,
    RetryGaveUp,
    RetryScheduled,
    StateChanged,
)

NS_PER_US = 1_000
JOIN = 5.0  # seconds; only ever reached when something is broken


def component(r: Resilience, name: str, layer: str) -> Any:
    (found,) = [x.component for x in r.pipeline(name).layers if x.name == layer]
    return found


class Down(OSError):
    """The dependency failed (every preset retries and counts any Exception)."""


# ---------------------------------------------------------------- presets, end to end

# What each preset's numbers (README's table) make a dependency that is down see.
PRESETS: dict[str, dict[str, Any]] = {
    "conservative": {
        # 2 attempts per call, the breaker trips on the 3rd failure: call 2's first attempt
        # trips it, and its second attempt (after one back-off) is rejected.
        "until_open": [("Down", 2), ("CircuitOpenError", 1)],
        "retry": (2, 500_000, 4_000_000),  # max_attempts, base and max delay (us)
        "deadline_attempts": 1,  # attempts of 5.000001 s each within the 5 s deadline
        "recovery_s": 60,
        "half_open_max_calls": 1,
        "success_threshold": 2,
        "max_concurrent": 5,
        "max_wait_us": 0,
    },
    "balanced": {
        "until_open": [("Down", 3), ("CircuitOpenError", 2)],
        "retry": (3, 100_000, 2_000_000),
        "deadline_attempts": 2,  # within 10 s
        "recovery_s": 30,
        "half_open_max_calls": 1,
        "success_threshold": 1,
        "max_concurrent": 10,
        "max_wait_us": 100_000,
    },
    "aggressive": {
        # 5 attempts per call, threshold 10: call 2's last attempt trips it; call 3 is rejected.
        "until_open": [("Down", 5), ("Down", 5)],
        "retry": (5, 50_000, 1_000_000),
        "deadline_attempts": 3,  # within 15 s
        "recovery_s": 10,
        "half_open_max_calls": 3,
        "success_threshold": 1,
        "max_concurrent": 50,
        "max_wait_us": 1_000_000,
    },
}


class Dependency:
    """Down until told otherwise; counts its calls."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.down:
            raise Down(f"call {self.calls}")
        return "ok"


def outcome(r: Resilience, name: str, fn: Callable[[], Any]) -> str:
    try:
        return str(r.execute(name, fn))
    except Exception as error:
        return type(error).__name__


@pytest.mark.parametrize("preset", list(PRESETS))
def test_a_presets_retry_and_breaker_settings_show_in_behaviour(preset: str) -> None:
    """An operation with nothing but ``preset``, a dependency that is down: the operation calls
    per logical call until the breaker opens follow from max_attempts and failure_threshold
    (conservative 2 then 1, balanced 3 then 2, aggressive 5 then 5); the next call makes no
    operation call; every back-off is within the preset's jitter bound (base_delay * 2**(k-1),
    capped at max_delay); the breaker is still open 1 us before recovery_timeout and half-open
    at it; success_threshold probes close it."""
    with FrozenTime() as frozen:
        expected = PRESETS[preset]
        r = Resilience({"operations": {"dep": {"preset": preset}}}, clock=FrozenClock(frozen))
        events: list[Event] = []
        r.subscribe(events.append)
        dependency = Dependency()
        seen = []
        for _ in expected["until_open"]:
            before = dependency.calls
            seen.append((outcome(r, "dep", dependency), dependency.calls - before))
        assert seen == expected["until_open"]
        assert outcome(r, "dep", dependency) == "CircuitOpenError"
        assert dependency.calls == sum(calls for _, calls in seen)  # nothing ran

        max_attempts, base_us, cap_us = expected["retry"]
        scheduled = [e for e in events if isinstance(e, RetryScheduled)]
        assert scheduled
        for event in scheduled:
            assert event.attempt < max_attempts
            bound_us = min(cap_us, base_us << (event.attempt - 1))
            assert 0 <= event.delay_ns <= bound_us * NS_PER_US, event
        (opened,) = [e for e in events if isinstance(e, StateChanged)]
        assert (opened.old, opened.new, opened.reason) == ("closed", "open", "failure_threshold")

        breaker = component(r, "dep", "breaker")
        due_ns = opened.at_ns + expected["recovery_s"] * 1_000_000_000
        frozen.advance_ns(due_ns - NS_PER_US - frozen.now_ns())
        assert breaker.state == "open"
        assert outcome(r, "dep", dependency) == "CircuitOpenError"
        frozen.advance_us(1)
        assert breaker.state == "half_open"
        dependency.down = False
        for probe in range(expected["success_threshold"]):
            assert breaker.state == "half_open", probe
            assert outcome(r, "dep", dependency) == "ok"
        assert breaker.state == "closed"
        transitions = [(e.old, e.new) for e in events if isinstance(e, StateChanged)]
        assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


@pytest.mark.parametrize("preset", list(PRESETS))
def test_a_presets_deadline_shows_in_behaviour(preset: str) -> None:
    """Attempts that each take 5.000001 s (frozen time): the preset's retry deadline (5, 10,
    15 s) ends the call after 1, 2 and 3 attempts, before max_attempts (2, 3, 5), and the
    policy says it gave up on the deadline."""
    with FrozenTime() as frozen:
        r = Resilience({"operations": {"dep": {"preset": preset}}}, clock=FrozenClock(frozen))
        events: list[Event] = []
        r.subscribe(events.append)
        calls = [0]

        def slow_failure() -> None:
            calls[0] += 1
            frozen.advance_us(5_000_001)
            raise Down

        with pytest.raises(Down):
            r.execute("dep", slow_failure)
        assert calls[0] == PRESETS[preset]["deadline_attempts"]
        (gave_up,) = [e for e in events if isinstance(e, RetryGaveUp)]
        assert (gave_up.attempts, gave_up.reason) == (calls[0], "deadline")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_a_presets_bulkhead_and_half_open_limits_show_in_behaviour(preset: str) -> None:
    """With ``aexecute`` tasks held inside the operation: max_concurrent of them get in
    (5, 10, 50) and the next waits exactly the preset's max_wait on the frozen clock (0,
    0.1 s, 1 s) before BulkheadFull. Then, with the breaker half-open, half_open_max_calls
    probes (1, 1, 3) are let through at once and one more is rejected."""
    with FrozenTime() as frozen:
        expected = PRESETS[preset]
        r = Resilience({"operations": {"dep": {"preset": preset}}}, clock=FrozenClock(frozen))
        limit = expected["max_concurrent"]

        async def main() -> None:
            gate = asyncio.Event()
            inside = [0]

            async def held() -> str:
                inside[0] += 1
                await gate.wait()
                return "ok"

            async def settle(n: int) -> None:
                for _ in range(10 * n + 10):
                    await asyncio.sleep(0)

            tasks = [asyncio.create_task(r.aexecute("dep", held)) for _ in range(limit)]
            await settle(limit)
            assert inside[0] == limit
            started = frozen.now_ns()
            with pytest.raises(BulkheadFull):
                await r.aexecute("dep", held)
            assert frozen.now_ns() - started == expected["max_wait_us"] * NS_PER_US
            assert inside[0] == limit
            gate.set()
            assert await asyncio.gather(*tasks) == ["ok"] * limit

            # Trip the breaker with failing calls, wait out its recovery, and hold probes inside.
            breaker = component(r, "dep", "breaker")
            for _ in expected["until_open"]:
                with pytest.raises((Down, CircuitOpenError)):
                    await r.aexecute("dep", Dependency())
            assert breaker.state == "open"
            frozen.advance_us(expected["recovery_s"] * 1_000_000)
            assert breaker.state == "half_open"
            gate.clear()
            inside[0] = 0
            probes = expected["half_open_max_calls"]
            tasks = [asyncio.create_task(r.aexecute("dep", held)) for _ in range(probes)]
            await settle(probes)
            assert inside[0] == probes
            with pytest.raises(CircuitOpenError) as info:
                await r.aexecute("dep", held)
            assert info.value.state == "half_open"
            gate.set()
            assert await asyncio.gather(*tasks) == ["ok"] * probes

        asyncio.run(main())
        status = component(r, "dep", "bulkhead").status()
        assert (status["in_flight"], status["waiting"]) == (0, 0)
        assert status["max_concurrent"] == limit


# ---------------------------------------------------------------- reconfigure in flight


def test_reconfigure_while_calls_are_in_flight_on_other_threads() -> None:
    """Operation "db" (3 attempts, a breaker, a pool of 2). Thread A's call is held inside its
    first attempt (a threading.Event); the retry policy and the pool are reconfigured (1
    attempt, a pool of 1); thread B's call, started after, is held in turn, and the policy is
    reconfigured again (2 attempts). Released, A finishes under the first policy (3 attempts,
    all on the first pool's resource) and B under the second (1 attempt, on the second pool's);
    a call made now runs under the third (2 attempts). The unchanged breaker is kept through
    every generation and counts every attempt; the first pool stays open until A has given its
    resource back, then closes; the metrics add every generation up."""
    fixed = {
        "breaker": {"failure_threshold": 100, "recovery_timeout": 60},
    }
    made = itertools.count()
    r = Resilience(
        {
            "operations": {
                "db": {
                    "retry": {"max_attempts": 3, "base_delay": 0, "max_delay": 0},
                    "pool": {"size": 2},
                    **fixed,
                }
            }
        },
        factories={"db": lambda: f"conn{next(made)}"},
    )
    breaker = component(r, "db", "breaker")
    first_pool = component(r, "db", "pool")
    attempts: dict[str, list[str]] = {"A": [], "B": [], "C": []}
    entered = {who: threading.Event() for who in attempts}
    hold = {who: threading.Event() for who in attempts}

    def operation(conn: str, who: str) -> str:
        attempts[who].append(conn)
        if len(attempts[who]) == 1:
            entered[who].set()
            assert hold[who].wait(JOIN)
        raise Down(who)

    def call(who: str) -> tuple[threading.Thread, list[BaseException]]:
        ended: list[BaseException] = []

        def run() -> None:
            try:
                r.execute("db", operation, who)
            except BaseException as error:
                ended.append(error)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, ended

    try:
        thread_a, ended_a = call("A")
        assert entered["A"].wait(JOIN)
        r.reconfigure(
            "db",
            {"retry": {"max_attempts": 1, "base_delay": 0}, "pool": {"size": 1}, **fixed},
        )
        second_pool = component(r, "db", "pool")
        assert second_pool is not first_pool
        assert component(r, "db", "breaker") is breaker  # unchanged: kept, state and all
        thread_b, ended_b = call("B")
        assert entered["B"].wait(JOIN)
        r.reconfigure(
            "db",
            {"retry": {"max_attempts": 2, "base_delay": 0}, "pool": {"size": 1}, **fixed},
        )
        assert component(r, "db", "pool") is second_pool  # unchanged this time
        assert not first_pool.status()["closed"]  # A still holds its resource
        hold["A"].set()
        hold["B"].set()
        thread_a.join(JOIN)
        thread_b.join(JOIN)
        assert not thread_a.is_alive()
        assert not thread_b.is_alive()
    finally:
        for event in hold.values():
            event.set()

    assert [type(e) for e in ended_a] == [Down]
    assert [type(e) for e in ended_b] == [Down]
    assert attempts["A"] == ["conn0"] * 3  # the first policy and the first pool
    assert attempts["B"] == ["conn1"]  # the second policy and the second pool
    assert first_pool.status()["closed"]  # its last call is done: closed
    with pytest.raises(PoolClosed):
        first_pool.checkout()
    assert not second_pool.status()["closed"]

    hold["C"].set()
    with pytest.raises(Down):
        r.execute("db", operation, "C")
    assert attempts["C"] == ["conn1", "conn1"]  # the third policy: 2 attempts

    assert breaker.metrics()["calls_failed"] == 3 + 1 + 2
    metrics = r.metrics()["db"]
    assert metrics["pipeline"]["calls"] == 3
    assert metrics["pipeline"]["failed"] == 3
    assert metrics["retry"]["calls"] == 3
    assert metrics["retry"]["attempts"] == 6
    assert metrics["breaker"]["calls_failed"] == 6  # one breaker, counted once
    assert metrics["pool"]["checked_out"] == metrics["pool"]["checked_in"] == 6
    assert metrics["pool"]["created"] == 2  # conn0 in the first pool, conn1 in the second


# ---------------------------------------------------------------- run_all


def test_run_all_isolates_a_failing_a_slow_and_a_healthy_operation() -> None:
    """Three operations, each with its own pipeline, run at once with a 0.05 s limit (real
    time): the failing one ends with its own error after its 3 attempts and trips its breaker;
    the slow one, held forever inside its operation with a pool lease and a bulkhead permit,
    is cancelled alone with a TimeoutError, returning both; the healthy one returns its value
    as soon as it is done, without waiting for the others. A second round: the failing one is
    rejected at once by its open breaker (0 operation calls), the slow one gets its permit and
    lease again (the first round gave them back) and times out again, the healthy one is
    still fine."""
    r = Resilience(
        {
            "operations": {
                "failing": {
                    "retry": {"max_attempts": 3, "base_delay": 0, "max_delay": 0},
                    "breaker": {"failure_threshold": 3, "recovery_timeout": 60},
                },
                "slow": {"bulkhead": {"max_concurrent": 1}, "pool": {"size": 1}},
                "healthy": {
                    "preset": "balanced",
                    "pool": {"size": 1},
                },
            }
        },
        factories={"slow": object, "healthy": lambda: "conn"},
    )
    calls = {"failing": 0, "slow": 0, "healthy": 0}
    finished_after: dict[str, float] = {}

    async def main() -> tuple[dict[str, Any], dict[str, Any], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def failing() -> None:
            calls["failing"] += 1
            await asyncio.sleep(0)
            raise ConnectionError("refused")

        async def slow(conn: object) -> None:
            calls["slow"] += 1
            await asyncio.Event().wait()  # until cancelled

        async def healthy(conn: str) -> str:
            calls["healthy"] += 1
            await asyncio.sleep(0)
            finished_after.setdefault("healthy", loop.time() - start)
            return f"fine via {conn}"

        fns = {"failing": failing, "slow": slow, "healthy": healthy}
        first = await r.run_all(fns, timeout=0.05)
        second = await r.run_all(fns, timeout=0.05)
        return first, second, loop.time() - start

    began = time.perf_counter()
    first, second, loop_elapsed = asyncio.run(main())
    assert time.perf_counter() - began < 0.5

    for outcomes in (first, second):
        assert list(outcomes) == ["failing", "slow", "healthy"]
        assert outcomes["healthy"].ok
        assert outcomes["healthy"].result() == "fine via conn"
        assert isinstance(outcomes["slow"].error, TimeoutError)
        assert "'slow' did not finish within 0.05 s" in str(outcomes["slow"].error)
    assert isinstance(first["failing"].error, ConnectionError)
    assert isinstance(second["failing"].error, CircuitOpenError)
    assert calls == {"failing": 3, "slow": 2, "healthy": 2}
    assert finished_after["healthy"] < 0.05  # not held back by the slow one
    assert 0.1 <= loop_elapsed < 0.5

    metrics = r.metrics()
    assert metrics["failing"]["breaker"]["calls_failed"] == 3
    assert metrics["failing"]["breaker"]["calls_rejected"] == 1
    assert metrics["failing"]["retry"]["attempts"] == 4
    assert metrics["failing"]["pipeline"]["circuit_open"] == 1
    assert metrics["slow"]["pipeline"]["interrupted"] == 2
    assert metrics["slow"]["pipeline"]["failed"] == 0
    assert metrics["slow"]["bulkhead"] == {
        "admitted": 2,
        "rejected": 0,
        "finished": 2,
        "abandoned": 0,
    }
    assert metrics["slow"]["pool"]["checked_out"] == metrics["slow"]["pool"]["checked_in"] == 2
    assert component(r, "slow", "pool").status()["in_use"] == 0
    assert metrics["healthy"]["pipeline"]["succeeded"] == 2
    assert metrics["healthy"]["breaker"]["calls_failed"] == 0
    assert component(r, "healthy", "breaker").state == "closed"
    assert component(r, "failing", "breaker").state == "open"
