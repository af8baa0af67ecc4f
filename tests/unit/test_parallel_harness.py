"""The parallel harness with toy components: what a run records, how it ends waits on frozen
time, how it reports a thread that hangs, and how a failing program is made to reproduce."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

from properties.harness.frozen import FrozenTime
from properties.parallel import harness, property
from properties.parallel.checker import Deterministic
from properties.parallel.harness import ADVANCE, Actor, Program, execute, explore
from properties.parallel.history import Op


class CounterSpec(Deterministic[int]):
    def initial(self) -> int:
        return 0

    def apply(self, state: int, op: Op) -> tuple[int, object]:
        if op.name == "add":
            return state + 1, state + 1
        return state, None  # advance, wait: no state


class Counter:
    """A locked counter (correct), an unlocked read-then-write one (``racy``), or one that
    answers one too many (``wrong``)."""

    def __init__(self, racy: bool, wrong: bool = False) -> None:
        self.value = 0
        self.racy = racy
        self.wrong = wrong
        self.lock = threading.Lock()

    def add(self) -> int:
        if self.wrong:
            with self.lock:
                self.value += 1
                return self.value + 1
        if self.racy:
            seen = self.value
            time.sleep(0)  # a switch point between the read and the write
            self.value = seen + 1
            return self.value
        with self.lock:
            self.value += 1
            return self.value


class CounterDriver:
    def __init__(
        self, frozen: FrozenTime, racy: bool, wrong: bool, release: threading.Event
    ) -> None:
        self.counter = Counter(racy, wrong)
        self.frozen = frozen
        self.release = release

    def perform(self, actor: Actor, step: Op) -> None:
        if step.name == "add":
            actor.record(step, self.counter.add)
        elif step.name == "wait":  # until frozen time passes a deadline 1 s ahead
            deadline = self.frozen.now_ns() + 1_000_000_000

            def wait() -> object:
                while self.frozen.now_ns() < deadline:
                    time.sleep(0.001)  # real time, polling like resilience.waiting
                return None

            actor.record(step, wait, blocking=True)
        elif step.name == "hang":
            actor.record(step, lambda: self.release.wait(), blocking=True)
        elif step.name == "stall":  # stuck in a call that does not wait (a deadlock, a loop)
            actor.record(step, lambda: self.release.wait())

    def close(self, actors: Sequence[Actor]) -> None:
        pass


class CounterComponent:
    name = "counter"

    def __init__(self, racy: bool = False, wrong: bool = False) -> None:
        self.racy = racy
        self.wrong = wrong
        self.built = 0
        self.release = threading.Event()

    def spec(self, case: Hashable) -> CounterSpec:
        return CounterSpec()

    def cases(self) -> st.SearchStrategy[Any]:
        return st.just(None)

    def steps(self, case: Hashable) -> st.SearchStrategy[Op]:
        return st.just(Op("add"))

    def build(self, case: Hashable, frozen: FrozenTime) -> CounterDriver:
        self.built += 1
        return CounterDriver(frozen, self.racy, self.wrong, self.release)

    def expire_us(self, case: Hashable) -> int:
        return 2_000_000

    def describe(self, state: Any) -> str:
        return repr(state)


def program(*branches: tuple[str, ...], prefix: tuple[str, ...] = ()) -> Program:
    return Program(
        None,
        tuple(Op(name) for name in prefix),
        tuple(tuple(Op(name) for name in branch) for branch in branches),
    )


def test_a_run_records_the_prefix_on_the_main_thread_and_each_branch_on_its_own() -> None:
    run = execute(program(("add", "add"), ("add",), prefix=("add",)), CounterComponent())
    assert next(call.thread for call in run.calls) == 0
    assert sorted(call.thread for call in run.calls) == [0, 1, 1, 2]
    positions = [p for call in run.calls for p in (call.invoke, call.response)]
    assert len(set(positions)) == len(positions) == 8
    assert all(call.response is not None and call.invoke < call.response for call in run.calls)
    assert sorted(call.result for call in run.calls) == [1, 2, 3, 4]  # type: ignore[type-var]
    assert not run.expired
    assert not run.hung


def test_when_every_running_thread_waits_time_moves_past_the_deadlines() -> None:
    run = execute(program(("wait",), ("add", "wait")), CounterComponent())
    advances = [call for call in run.calls if call.op.name == ADVANCE]
    assert run.expired
    assert not run.hung
    assert [call.thread for call in advances] == [0]
    assert advances[0].op.args == (2_000_000,)
    waits = [call for call in run.calls if call.op.name == "wait"]
    assert all(call.response is not None and call.response > advances[0].invoke for call in waits)


def test_a_thread_still_blocked_after_time_moved_on_is_reported_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(harness, "HANG_SECONDS", 0.05)
    component = CounterComponent()
    try:
        found = explore(program(("hang",), ("add",)), component, runs=1)
    finally:
        component.release.set()  # let the daemon thread finish
    assert found.failure is not None
    assert found.failure.startswith("threads [1] never finished")
    assert "hang() -> PENDING" in found.failure


def test_a_run_where_nothing_happens_for_too_long_is_reported_hung(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread stuck in a call that is not a wait: time moving on cannot help, and nothing is
    recorded any more; the run is reported hung rather than waited on for ever."""
    monkeypatch.setattr(harness, "STALL_SECONDS", 0.05)
    component = CounterComponent()
    try:
        found = explore(program(("stall",), ("add",)), component, runs=1)
    finally:
        component.release.set()
    assert found.failure is not None
    assert found.failure.startswith("threads [1] never finished")
    assert "stall() -> PENDING" in found.failure


def test_a_race_is_reported_with_its_timeline() -> None:
    component = CounterComponent(racy=True)
    found = explore(program(*[("add",) * 5] * 4), component, runs=50)
    assert found.failure is not None, "50 runs of 4 racing threads never lost an update"
    assert "counter history: not linearizable" in found.failure
    assert "longest linearizable prefix" in found.failure


def test_a_program_that_failed_runs_sticky_times_as_often_afterwards() -> None:
    component = CounterComponent(wrong=True)
    check_program = property.linearizable(component, runs=2)
    failing = program(("add",), ("add",))
    with pytest.raises(AssertionError, match="not linearizable"):
        check_program(failing)
    assert component.built == 1  # the first failing run ends the check
    component.wrong = False
    check_program(failing)  # passes now, after runs * STICKY executions
    assert component.built - 1 == 2 * property.STICKY
    before = component.built
    check_program(program(("add",), ("add", "add")))  # a program that never failed: runs only
    assert component.built - before == 2
