"""BreakerModel: the circuit breaker's semantics as plain Python (DESIGN.md, "Circuit breaker").

Independent of the implementation: no imports from ``resilience``. Time is integer nanoseconds.

* CLOSED: a success clears the consecutive-failure run (or is recorded in the rate window); a
  counted failure extends it; reaching the threshold (or the failure rate, with at least
  ``minimum_calls`` recorded) opens the circuit.
* OPEN: calls are rejected with ``retry_after`` = time left. At ``opened_at + recovery_timeout``
  (inclusive) the breaker is HALF_OPEN; the transition is recorded (and its event, stamped with that
  instant, emitted) by the next operation on the breaker. ``force_open`` opens with no timeout.
* HALF_OPEN: at most ``half_open_max_calls`` probes in flight, others rejected (retry_after 0).
  A probe admitted in an earlier half-open stay that has not finished still takes a slot;
  a counted failure re-opens; ``success_threshold`` successes close; an ignored exception (and any
  non-Exception, such as cancellation) only frees its slot.
* Every change of phase (transition, force_open, reset) starts a new epoch; a call that finishes in
  a later epoch than the one that admitted it is *late*: it is counted in the metrics and emits its
  outcome event, but changes no state.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

__all__ = ["BreakerModel", "BreakerSpec", "Outcome"]

NS = 1_000_000_000

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class Outcome:
    SUCCESS = "success"
    FAILURE = "failure"  # an exception that matches expected_exception
    IGNORED = "ignored"  # an exception that does not
    CANCELLED = "cancelled"  # a BaseException such as cancellation: never a failure


@dataclass(frozen=True)
class BreakerSpec:
    """A breaker configuration. ``rate`` set means the failure-rate policy is used."""

    failure_threshold: int
    recovery_timeout_ns: int
    half_open_max_calls: int = 1
    success_threshold: int = 1
    rate: Fraction | None = None
    window_size: int = 1
    minimum_calls: int = 1


class BreakerModel:
    def __init__(self, spec: BreakerSpec, source: str) -> None:
        self.spec = spec
        self.source = source
        self.state = CLOSED
        self.epoch = 0
        self.opened_at: int | None = None  # None while forced open
        self.run = 0  # consecutive counted failures (consecutive policy)
        self.window: list[bool] = []  # recorded outcomes, True = failure (rate policy)
        self.probes = 0  # unfinished probes admitted in any half-open stay
        self.half_open_epochs: set[int] = set()
        self.probe_successes = 0
        self.counters = dict.fromkeys(
            ("calls_succeeded", "calls_failed", "calls_ignored", "calls_rejected",
             "late_outcomes", "state_changes"), 0)  # fmt: skip
        self.events: list[tuple[object, ...]] = []
        # The transitions made by the last operation, for coverage reporting.
        self.transitions: list[tuple[str, str, str]] = []

    # ---------------------------------------------------------------- observations

    def due(self) -> int | None:
        """When the current OPEN stay ends (None if not open, or forced open)."""
        if self.state != OPEN or self.opened_at is None:
            return None
        return self.opened_at + self.spec.recovery_timeout_ns

    def state_at(self, now: int) -> str:
        due = self.due()
        if due is not None and now >= due:
            return HALF_OPEN
        return self.state

    def retry_after(self, now: int) -> float:
        if self.state_at(now) != OPEN:
            return 0.0
        due = self.due()
        return float("inf") if due is None else (due - now) / NS

    @property
    def failure_count(self) -> int:
        return self.run if self.spec.rate is None else sum(self.window)

    @property
    def forced(self) -> bool:
        return self.state == OPEN and self.opened_at is None

    # ---------------------------------------------------------------- transitions

    def _move(self, state: str, at: int, reason: str) -> None:
        old = self.state
        self.state = state
        self.epoch += 1
        self.probe_successes = 0
        self.opened_at = at if state == OPEN and reason != "forced" else None
        if state == CLOSED:
            self.run = 0
            self.window = []
        if old != state:
            self.counters["state_changes"] += 1
            self.events.append(("StateChanged", at, old, state, reason))
        self.transitions.append((old, state, reason))

    def _catch_up(self, now: int) -> None:
        due = self.due()
        if due is not None and now >= due:
            self._move(HALF_OPEN, due, "recovery_timeout")

    # ---------------------------------------------------------------- operations

    def admit(self, now: int) -> tuple[bool, int | float]:
        """(True, epoch) if a call is admitted, else (False, retry_after seconds)."""
        self.transitions = []
        if self.state == CLOSED:
            return True, self.epoch
        self._catch_up(now)
        if self.state == HALF_OPEN and self.probes < self.spec.half_open_max_calls:
            self.probes += 1
            self.half_open_epochs.add(self.epoch)
            return True, self.epoch
        retry_after = self.retry_after(now)
        self.counters["calls_rejected"] += 1
        self.events.append(("CallRejected", now, self.state, retry_after))
        return False, retry_after

    def finish(self, epoch: int, outcome: str, now: int, error: object = None) -> bool:
        """Record how an admitted call ended. Returns whether it was late."""
        self.transitions = []
        self._catch_up(now)
        late = epoch != self.epoch
        if epoch in self.half_open_epochs:
            self.probes -= 1
        name = {
            Outcome.SUCCESS: "calls_succeeded",
            Outcome.FAILURE: "calls_failed",
        }.get(outcome, "calls_ignored")
        self.counters[name] += 1
        if late:
            self.counters["late_outcomes"] += 1
        if outcome == Outcome.SUCCESS:
            self.events.append(("CallSucceeded", now, late))
        else:
            kind = "CallFailed" if outcome == Outcome.FAILURE else "CallIgnored"
            self.events.append((kind, now, error, late))
        if not late:
            if self.state == CLOSED:
                self._closed_outcome(outcome, now)
            elif self.state == HALF_OPEN:
                self._probe_outcome(outcome, now)
        return late

    def _closed_outcome(self, outcome: str, now: int) -> None:
        if outcome not in (Outcome.SUCCESS, Outcome.FAILURE):
            return  # ignored: the count is not reset, nothing is recorded
        failed = outcome == Outcome.FAILURE
        spec = self.spec
        if spec.rate is None:
            self.run = self.run + 1 if failed else 0
            if self.run >= spec.failure_threshold:
                self._move(OPEN, now, "failure_threshold")
            return
        self.window = [*self.window, failed][-spec.window_size :]
        recorded = len(self.window)
        if recorded >= spec.minimum_calls and Fraction(sum(self.window), recorded) >= spec.rate:
            self._move(OPEN, now, "failure_rate")

    def _probe_outcome(self, outcome: str, now: int) -> None:
        if outcome == Outcome.SUCCESS:
            self.probe_successes += 1
            if self.probe_successes >= self.spec.success_threshold:
                self._move(CLOSED, now, "success_threshold")
        elif outcome == Outcome.FAILURE:
            self._move(OPEN, now, "probe_failed")

    def force_open(self, now: int) -> None:
        self.transitions = []
        self._catch_up(now)
        if not self.forced:
            self._move(OPEN, now, "forced")

    def reset(self, now: int) -> None:
        self.transitions = []
        self._catch_up(now)
        self._move(CLOSED, now, "reset")
