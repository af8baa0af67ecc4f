"""BreakerMachine: drives a breaker target and ``BreakerModel`` side by side under frozen time.

Every rule does the same thing to both and compares what each returned; after every step the
invariants compare state, failure count (and window), ``retry_after``, probes in flight, metrics
and the whole event sequence. ``breaker_machine(target)`` makes the machine for one target.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import NS_PER_US, FrozenTime
from properties.harness.trace import TracedMachine
from properties.models.breaker import BreakerModel, Outcome
from properties.strategies import BreakerCase, outcomes, time_steps_us
from properties.targets.breaker import (
    RESULT,
    BreakerTarget,
    CallResult,
    Driver,
    Held,
    exception_for,
)

__all__ = ["BREAKER_COVERAGE", "BreakerMachine", "breaker_machine"]

NAME = "machine-breaker"

BREAKER_COVERAGE = frozenset(
    {
        "closed->open (failure_threshold)",
        "closed->open (failure_rate)",
        "open->half_open (recovery_timeout)",
        "half_open->closed (success_threshold)",
        "half_open->open (probe_failed)",
        "closed->open (forced)",
        "half_open->open (forced)",
        "open->closed (reset)",
        "half_open->closed (reset)",
        "rejected while open",
        "rejected while half_open: every probe slot taken",
        "admitted at exactly opened_at + recovery_timeout",
        "rejected 1us before opened_at + recovery_timeout",
        "late outcome (admitted before a state change)",
        "ignored or cancelled probe while half_open",
        "cancelled call",
        "quiet success: closed, no failure pending, no listener",
    }
)


class BreakerMachine(TracedMachine):
    """Set ``target`` (and optionally ``coverage``) on a subclass: see ``breaker_machine``."""

    machine_id: ClassVar[str] = "breaker"

    target: ClassVar[BreakerTarget]
    coverage: ClassVar[CoverageTracker | None] = None

    held = Bundle("held")

    # Set by the `build` initialize rule, which Hypothesis runs before any rule or invariant.
    model: BreakerModel
    driver: Driver
    case: BreakerCase

    def __init__(self) -> None:
        super().__init__()
        self.open_calls: list[Held] = []
        # Last: nothing after the freeze starts can fail and leak it (teardown stops it).
        self.frozen = FrozenTime().start()

    def teardown(self) -> None:
        try:
            driver = getattr(self, "driver", None)
            if driver is not None:
                for held in self.open_calls:
                    driver.abandon(held)
        finally:
            self.frozen.stop()

    # ---------------------------------------------------------------- helpers

    def reach(self, label: str) -> None:
        if self.coverage is not None and label in self.coverage.targets:
            self.coverage.reach(label)

    def _report_transitions(self) -> None:
        for old, new, reason in self.model.transitions:
            if old != new:
                label = f"{old}->{new} ({reason})"
                self.reach(label)

    def _before_admission(self, now: int) -> None:
        due = self.model.due()
        if due is not None and now == due:
            self.reach("admitted at exactly opened_at + recovery_timeout")
        if due is not None and now == due - NS_PER_US:
            self.reach("rejected 1us before opened_at + recovery_timeout")

    def _check_rejection(self, result: CallResult, now: int, retry_after: float) -> None:
        assert result.kind == "rejected", (
            f"model rejects (state {self.model.state}, retry_after {retry_after}), "
            f"implementation {result}"
        )
        if self.model.state == "open":
            self.reach("rejected while open")
        else:
            self.reach("rejected while half_open: every probe slot taken")
        if result.retry_after is not None:
            assert result.retry_after == retry_after, (
                f"rejection retry_after {result.retry_after} != model {retry_after}"
            )

    def _check_outcome(self, result: CallResult, outcome: str, exc: BaseException | None) -> None:
        if outcome == Outcome.SUCCESS:
            assert result.kind == "returned", f"expected the call's result, got {result}"
            assert result.value is RESULT, f"expected the call's result, got {result}"
        else:
            assert result.kind == "raised", f"expected {exc!r} to propagate, got {result}"
            assert result.value is exc, f"expected {exc!r} to propagate unchanged, got {result}"

    def _quiet(self, state_before: str) -> bool:
        """Whether a success now meets the conditions of the implementation's lock-free path."""
        model = self.model
        return (
            state_before == "closed" and model.spec.rate is None and model.run == 0
            and not self.case.listen
        )  # fmt: skip

    def _after_outcome(self, outcome: str, late: bool, state_before: str, quiet: bool) -> None:
        if late:
            self.reach("late outcome (admitted before a state change)")
        freed_only = outcome in (Outcome.IGNORED, Outcome.CANCELLED)
        if freed_only and state_before == "half_open" and not late:
            self.reach("ignored or cancelled probe while half_open")
        if outcome == Outcome.CANCELLED:
            self.reach("cancelled call")
        if outcome == Outcome.SUCCESS and quiet and not late:
            self.reach("quiet success: closed, no failure pending, no listener")
        self._report_transitions()

    # ---------------------------------------------------------------- rules

    @initialize(data=st.data())
    def build(self, data: st.DataObject) -> None:
        self.case = data.draw(self.target.cases, label="case")
        self.model = BreakerModel(self.case.spec, NAME)
        self.driver = self.target.build(self.case, NAME)

    @rule(data=st.data(), outcome=outcomes)
    def call(self, data: st.DataObject, outcome: str) -> None:
        """A call that runs to completion at one instant, through one of the entry points."""
        self._one_call(self._draw_form(data), outcome)

    @rule(
        data=st.data(),
        outcome=st.sampled_from([Outcome.SUCCESS, Outcome.FAILURE]),
        count=st.integers(min_value=2, max_value=6),
    )
    def burst(self, data: st.DataObject, outcome: str, count: int) -> None:
        """An outage or a recovery: several calls in a row with the same outcome (how breakers
        really trip, and how half-open probes really succeed)."""
        for _ in range(count):
            self._one_call(self._draw_form(data), outcome)

    def _draw_form(self, data: st.DataObject) -> str:
        forms = self.target.sync_forms + self.target.async_forms
        return data.draw(st.sampled_from(forms), label="form")

    def _one_call(self, form: str, outcome: str) -> None:
        now = self.frozen.now_ns()
        state_before = self.model.state_at(now)
        self._before_admission(now)
        exc = exception_for(outcome)
        quiet = self._quiet(state_before)
        admitted, token = self.model.admit(now)
        result = self.driver.call(form, exc)
        if not admitted:
            self._check_rejection(result, now, token)
            self._report_transitions()
            return
        late = self.model.finish(int(token), outcome, now, exc)
        self._check_outcome(result, outcome, exc)
        self._after_outcome(outcome, late, state_before, quiet)

    @rule(target=held, data=st.data(), count=st.integers(min_value=1, max_value=3))
    def start_calls(self, data: st.DataObject, count: int) -> Any:
        """Calls admitted now that finish later (probes held open, slow requests), arriving
        together: each is admitted or rejected in turn."""
        started = [self._start_one(data.draw(st.sampled_from(self.target.held_forms), label="form"))
                   for _ in range(count)]  # fmt: skip
        return multiple(*(held for held in started if held is not None))

    def _start_one(self, form: str) -> Held | None:
        now = self.frozen.now_ns()
        self._before_admission(now)
        admitted, token = self.model.admit(now)
        started = self.driver.start(form)
        if not admitted:
            assert isinstance(started, CallResult), (
                f"implementation admitted a call the model rejects (state {self.model.state}, "
                f"{self.model.probes} probes in flight)"
            )
            self._check_rejection(started, now, token)
            self._report_transitions()
            return None
        assert not isinstance(started, CallResult), f"implementation rejected: {started}"
        self._report_transitions()
        held = Held(form, started, int(token))
        self.open_calls.append(held)
        return held

    @rule(held=consumes(held), outcome=outcomes)
    def finish_call(self, held: Held, outcome: str) -> None:
        now = self.frozen.now_ns()
        state_before = self.model.state_at(now)
        exc = exception_for(outcome)
        quiet = self._quiet(state_before)
        self.open_calls.remove(held)
        late = self.model.finish(held.epoch, outcome, now, exc)
        result = self.driver.finish(held, exc)
        self._check_outcome(result, outcome, exc)
        self._after_outcome(outcome, late, state_before, quiet)

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """Time passes, biased to the recovery boundary."""
        now = self.frozen.now_ns()
        boundaries = [self.model.spec.recovery_timeout_ns // NS_PER_US]
        due = self.model.due()
        if due is not None and due >= now:
            boundaries.append((due - now) // NS_PER_US)
        self.frozen.advance_us(data.draw(time_steps_us(*boundaries), label="advance_us"))

    @precondition(lambda self: self.model.due() is not None)
    @rule(offset_us=st.sampled_from([-1, 0, 1]))
    def advance_to_recovery(self, offset_us: int) -> None:
        """Jump to the recovery instant, or one microsecond either side of it."""
        due = self.model.due()
        assert due is not None
        step = (due - self.frozen.now_ns()) // NS_PER_US + offset_us
        if step >= 0:
            self.frozen.advance_us(step)

    @rule(data=st.data())
    def manual_control(self, data: st.DataObject) -> None:
        """``force_open()`` or ``reset()``: one rule, so manual actions do not crowd out calls."""
        # A forced-open breaker ignores time until reset: keep it the rarer of the two.
        actions = ["reset"] * 4
        if "force_open" in self.target.capabilities:
            actions.append("force_open")
        action = data.draw(st.sampled_from(actions), label="action")
        getattr(self.model, action)(self.frozen.now_ns())
        getattr(self.driver, action)()
        self._report_transitions()

    # ---------------------------------------------------------------- invariants

    @invariant()
    def state_agrees(self) -> None:
        now = self.frozen.now_ns()
        assert self.driver.state() == self.model.state_at(now)

    @invariant()
    def failure_count_agrees(self) -> None:
        assert self.driver.failure_count() == self.model.failure_count

    @invariant()
    def retry_after_agrees(self) -> None:
        assert self.driver.retry_after() == self.model.retry_after(self.frozen.now_ns())

    @invariant()
    def status_agrees(self) -> None:
        status = self.driver.status()
        if status is None:
            return
        model = self.model
        half_open = model.state == "half_open"
        assert status["probes_in_flight"] == model.probes
        assert status["probe_successes"] == (model.probe_successes if half_open else 0)
        assert status["forced_open"] == model.forced
        assert status["policy"] == ("consecutive" if model.spec.rate is None else "failure_rate")
        if model.spec.rate is not None:
            assert status["window"] == tuple(model.window)
        else:
            assert "window" not in status

    @invariant()
    def metrics_agree(self) -> None:
        metrics = self.driver.metrics()
        if metrics is not None:
            assert metrics == self.model.counters

    @invariant()
    def events_agree(self) -> None:
        events = self.driver.events()
        if events is not None:
            assert events == self.model.events


def breaker_machine(
    target: BreakerTarget, coverage: CoverageTracker | None = None
) -> type[BreakerMachine]:
    """The machine checking ``target`` (recording coverage into ``coverage`` if given)."""
    return type(
        f"BreakerMachine[{target.name}]",
        (BreakerMachine,),
        {"target": target, "coverage": coverage, "__module__": __name__},
    )
