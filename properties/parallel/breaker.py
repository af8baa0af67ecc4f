"""The circuit breaker, in parallel: calls from many threads while time passes, the breaker trips,
recovers and is reset, so calls straddle transitions and half-open probes race for their slots.

**A call is two operations.** Admission and the recording of its outcome are separate atomic
steps of the breaker (the user's function runs between them, outside the lock), so the history
records each call as ``enter(n)``, answered ``admitted`` or ``rejected(state, retry_after)``, and,
if admitted, ``exit(n, outcome)``, answered with the outcome that propagated. ``n`` numbers the
admission. Through ``call()``, the decorator and ``with breaker:`` the admission's answer is
recorded as the protected function starts (or at the rejection) and the exit is invoked as it
ends; a ``breaker.permit()`` is entered by one step and exited by a later step of its thread
(or, for permits the prefix left held, of whichever branch takes it: permits may end anywhere).
Steps: a call with an outcome (success, counted failure, ignored exception), a burst of counted
failures (``trip``: probes failing while others arrive), a held call started or finished,
``force_open``/``reset`` (rarely), observations of ``state`` and ``retry_after``, and time
passing, near the recovery timeout. Time passes concurrently with calls: that is how calls
straddle transitions.

**The model is ``BreakerModel``** (the sequential machine's): the state is the frozen instant, a
snapshot of the model (its counters and event log left out: nothing here observes them, and they
would make every state distinct), and the epoch each in-flight admission got, which ``finish``
needs to tell a late outcome. Epochs of half-open stays are kept only while a probe admitted in
them is in flight: no other call can consult them. ``state`` and ``retry_after`` are observed as
the model's ``state_at`` and ``retry_after`` at the operation's instant. Whether an outcome was
*late* is not observed directly (only metrics and events show it, and those are not states a
concurrent history can pin to one instant); it shows in what the breaker does next.

**Time passes between the breaker's locked sections, never inside one.** The breaker admits
calls while CLOSED without its lock (the README's promise: a healthy call never waits for it). A
locked section reads the clock, then publishes its decision; a lock-free admission in between
sees the phase from before a transition stamped at that reading. In real time that skew is no
longer than the section; under frozen time, an ``advance`` landing inside the section turns it
into a call admitted after the breaker's own ``opened_at`` (the failure read the clock at t, time
moved on, a call was admitted at t + 1 us, then the failure opened the breaker "at t"), which the
model, where a transition takes effect at its clock reading, cannot produce. So the driver names
the breaker's lock as the run's ``time_lock``: an ``advance`` waits for it. Races between
sections, or with a clock read outside the lock, are still found.

**Where the races are.** Most cases start with the breaker tripped (see ``ParallelCase``), have
one probe slot and a recovery timeout of 1 us, so a run goes through many half-open stays, each
entered by an ``advance`` that lands on the recovery instant while other threads call.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.models.breaker import BreakerModel, BreakerSpec, Outcome
from properties.parallel.checker import Deterministic
from properties.parallel.harness import ADVANCE, Actor
from properties.parallel.history import Op
from properties.strategies import BreakerCase
from properties.targets.breaker import EXPECTED, RESULT, Boom, exception_for, recovery_timeout
from resilience import CircuitBreaker, CircuitOpenError

__all__ = ["BREAKER", "BreakerComponent", "BreakerLinearSpec"]

ADMITTED = "admitted"
HALF = "half_open"
NAME = "parallel-breaker"
# Weights, and the order of each choice, steer generation to where the races are: Hypothesis
# draws the first option of each choice first (and shrinks toward it), so those come first.
#: How the breaker starts: tripped (mostly half-open by then), or closed.
STARTS = (HALF, "open", HALF, "closed")
#: Failures re-open a half-open breaker (the races around probes), successes close it.
WEIGHTED_OUTCOMES = (Outcome.FAILURE, Outcome.SUCCESS, Outcome.FAILURE, Outcome.SUCCESS,
                     Outcome.FAILURE, Outcome.IGNORED)  # fmt: skip
#: Mostly 1 us: one ``advance`` from open to half-open, so a run cycles through many half-open
#: stays. 0 (half-open at once) hides races whose sign is a breaker still open.
TIMEOUTS_US = (1, 0, 1, 1, 10, 1, 1_000)
#: The model without its counters and events: (state, epoch, opened_at, run, window, probes,
#: half-open epochs with a probe in flight, probe successes).
Snapshot = tuple[str, int, "int | None", int, tuple[bool, ...], int, frozenset[int], int]
#: (now ns since the start, the model, (admission number, epoch) of each call in flight).
State = tuple[int, Snapshot, tuple[tuple[int, int], ...]]


def _load(spec: BreakerSpec, snapshot: Snapshot) -> BreakerModel:
    model = BreakerModel(spec, NAME)
    (model.state, model.epoch, model.opened_at, model.run, window, model.probes, half_open,
     model.probe_successes) = snapshot  # fmt: skip
    model.window = list(window)
    model.half_open_epochs = set(half_open)
    return model


def _save(now: int, model: BreakerModel, flight: dict[int, int]) -> State:
    held = frozenset(model.half_open_epochs & set(flight.values()))
    snapshot = (model.state, model.epoch, model.opened_at, model.run, tuple(model.window),
                model.probes, held, model.probe_successes)  # fmt: skip
    return now, snapshot, tuple(sorted(flight.items()))


class BreakerLinearSpec(Deterministic[State]):
    """``BreakerModel`` as a sequential spec over enter/exit, manual controls, observations and
    time. Time starts at 0: the model's answers depend only on differences of instants."""

    def __init__(self, case: ParallelCase) -> None:
        self.case = case
        self.spec = case.spec

    def initial(self) -> State:
        model = BreakerModel(self.spec, NAME)
        if self.case.start == "closed":
            return _save(0, model, {})
        for _ in range(self.case.trip_calls):  # the last ones are rejected if it opened early
            admitted, epoch = model.admit(0)
            if admitted:
                model.finish(int(epoch), Outcome.FAILURE, 0)
        return _save(self.spec.recovery_timeout_ns if self.case.start == HALF else 0, model, {})

    def apply(self, state: State, op: Op) -> tuple[State, object]:
        now, snapshot, in_flight = state
        if op.name == ADVANCE:
            return (now + int(op.args[0]) * NS_PER_US, snapshot, in_flight), None  # type: ignore[call-overload]
        model = _load(self.spec, snapshot)
        flight = dict(in_flight)
        result: object = None
        if op.name == "enter":
            admitted, token = model.admit(now)
            if admitted:
                flight[int(op.args[0])] = int(token)  # type: ignore[call-overload]
                result = ADMITTED
            else:
                result = ("rejected", model.state, token)
        elif op.name == "exit":
            number, outcome = op.args
            epoch = flight.pop(number, None)  # type: ignore[call-overload]
            if epoch is None:
                return state, "exit of a call that is not in flight"
            model.finish(epoch, str(outcome), now)
            result = outcome
        elif op.name in ("force_open", "reset"):
            getattr(model, op.name)(now)
        elif op.name == "state":
            result = model.state_at(now)
        elif op.name == "retry_after":
            result = model.retry_after(now)
        else:
            raise ValueError(f"unknown operation {op}")
        return _save(now, model, flight), result


def describe(state: State) -> str:
    now, (phase, epoch, opened_at, run, window, probes, _, successes), in_flight = state
    parts = [f"t={now} ns", f"{phase} (epoch {epoch})"]
    if opened_at is not None:
        parts.append(f"opened at {opened_at}")
    elif phase == "open":
        parts.append("forced")
    parts.append(f"failures {run}" if not window else f"window {list(map(int, window))}")
    if probes or phase == "half_open":
        parts.append(f"{probes} probe(s) in flight, {successes} succeeded")
    flight = ", ".join(f"#{n}@epoch {e}" for n, e in in_flight)
    return "; ".join(parts) + (f"; in flight: {flight}" if flight else "")


class _Driver:
    """One breaker of one run. ``call`` steps go through ``call()``, the decorator or ``with``;
    ``start``/``finish`` hold a ``permit()`` across steps (see ``_oldest`` for which one a
    ``finish`` ends)."""

    def __init__(self, breaker: CircuitBreaker, case: ParallelCase) -> None:
        self.breaker = breaker
        self.case = case
        # Time passes between the breaker's locked sections, never inside one (module docstring).
        self.time_lock = breaker._lock
        self.numbers = itertools.count(1)  # next() is atomic under the GIL
        self.prefix: Actor | None = None  # the main thread, once it has run a step

        def run(body: Callable[[], object]) -> object:
            return body()

        self.decorated = breaker(run)

    def perform(self, actor: Actor, step: Op) -> None:
        if actor.thread == 0:
            self.prefix = actor
        if step.name == "call":
            form, outcome = step.args
            self._call(actor, str(form), str(outcome))
        elif step.name == "trip":  # a burst: enough counted failures to trip, at least three
            for _ in range(max(self.case.trip_calls, 3)):
                self._call(actor, "call", Outcome.FAILURE)
        elif step.name == "start":
            self._start(actor)
        elif step.name == "finish":
            held = self._oldest(actor)
            if held is not None:
                self._finish(actor, *held, str(step.args[0]))
        elif step.name in ("force_open", "reset"):
            actor.record(step, getattr(self.breaker, step.name))
        elif step.name == "state":
            actor.record(step, lambda: self.breaker.state.value)
        elif step.name == "retry_after":
            actor.record(step, lambda: self.breaker.retry_after)
        else:
            raise ValueError(f"unknown step {step}")

    def _call(self, actor: Actor, form: str, outcome: str) -> None:
        """One call, recorded as its admission and its exit from inside the protected function."""
        recorder, thread = actor.recorder, actor.thread
        number = next(self.numbers)
        enter = recorder.invoke(thread, Op("enter", (number,)))
        exits = []
        error = exception_for(outcome)

        def body() -> object:
            recorder.respond(enter, ADMITTED)
            exits.append(recorder.invoke(thread, Op("exit", (number, outcome))))
            if error is not None:
                raise error
            return RESULT

        try:
            if form == "call":
                seen: object = self.breaker.call(body)
            elif form == "decorator":
                seen = self.decorated(body)
            else:
                with self.breaker:
                    seen = body()
        except BaseException as raised:  # the call's own exception, or a rejection
            seen = raised
        if not exits:
            recorder.respond(enter, _rejection(seen))
            return
        expected = RESULT if error is None else error
        recorder.respond(exits[0], outcome if seen is expected else f"unexpected {seen!r}")

    def _oldest(self, actor: Actor) -> tuple[int, Any] | None:
        """The oldest call this thread holds; if none, the oldest the prefix left held (a call
        handed over to a worker: permits may end in any thread). Branches race for those:
        ``list.pop`` is atomic, and the loser finishes nothing."""
        for held in (actor.held, self.prefix.held if self.prefix else []):
            try:
                return held.pop(0)  # type: ignore[no-any-return]
            except IndexError:
                continue
        return None

    def _start(self, actor: Actor) -> None:
        number = next(self.numbers)

        def enter() -> object:
            permit = self.breaker.permit()
            try:
                permit.__enter__()
            except CircuitOpenError as rejected:
                return _rejection(rejected)
            actor.held.append((number, permit))
            return ADMITTED

        actor.record(Op("enter", (number,)), enter)

    def _finish(self, actor: Actor, number: int, permit: Any, outcome: str) -> None:
        error = exception_for(outcome)

        def exit_() -> object:
            suppressed = permit.__exit__(type(error) if error else None, error, None)
            return f"unexpected: suppressed {error!r}" if suppressed else outcome

        actor.record(Op("exit", (number, outcome)), exit_)

    def close(self, actors: Sequence[Actor]) -> None:
        for actor in actors:
            for _, permit in actor.held:
                permit.__exit__(GeneratorExit, GeneratorExit(), None)
            actor.held.clear()


def _raise(error: BaseException) -> None:
    raise error


def _rejection(seen: object) -> object:
    if isinstance(seen, CircuitOpenError):
        return ("rejected", seen.state, seen.retry_after)
    return f"unexpected {seen!r}"


@dataclass(frozen=True)
class ParallelCase:
    """A configuration, and the state the breaker starts in: ``closed``; ``open`` (tripped by
    counted failures at time 0); ``half_open`` (tripped, then ``recovery_timeout`` later). The
    trip is set up before the history starts and modelled the same way by the spec's initial
    state, so most programs start where the races are: around a half-open breaker."""

    breaker: BreakerCase
    start: str

    @property
    def spec(self) -> BreakerSpec:
        return self.breaker.spec

    @property
    def trip_calls(self) -> int:
        """Counted failures in a row that open a closed breaker of this configuration."""
        spec = self.spec
        return spec.failure_threshold if spec.rate is None else spec.window_size


@st.composite
def parallel_cases(draw: st.DrawFn) -> ParallelCase:
    """Configurations where the races matter: mostly one probe slot, a recovery timeout short
    enough (mostly 1 us) that a tripped breaker is half-open again after one ``advance``, and
    mostly a tripped breaker to start with."""
    timeout_us = draw(st.sampled_from(TIMEOUTS_US), label="recovery_timeout_us")
    half_open = draw(st.sampled_from([1, 1, 1, 2]), label="half_open_max_calls")
    successes = draw(st.integers(1, 2), label="success_threshold")
    if draw(st.integers(0, 3), label="rate policy") == 3:
        window = draw(st.integers(1, 3))
        spec = BreakerSpec(
            failure_threshold=0,
            recovery_timeout_ns=timeout_us * NS_PER_US,
            half_open_max_calls=half_open,
            success_threshold=successes,
            rate=draw(st.sampled_from([Fraction(1, 3), Fraction(1, 2), Fraction(1)])),
            window_size=window,
            minimum_calls=draw(st.integers(1, window)),
        )
    else:
        spec = BreakerSpec(
            failure_threshold=draw(st.integers(1, 3)),
            recovery_timeout_ns=timeout_us * NS_PER_US,
            half_open_max_calls=half_open,
            success_threshold=successes,
        )
    forms = ["float", "fraction", "timedelta"] + (["int"] if timeout_us == 0 else [])
    case = BreakerCase(
        spec=spec,
        timeout_form=draw(st.sampled_from(forms)),
        expected_form=draw(st.sampled_from(("class", "tuple", "predicate"))),
        listen=draw(st.booleans(), label="listen"),
    )
    return ParallelCase(case, draw(st.sampled_from(STARTS), label="start"))


@dataclass(frozen=True)
class BreakerComponent:
    """The parallel component over ``breaker`` (the real class, or a planted-bug variant)."""

    name: str = "breaker"
    breaker: type[CircuitBreaker] = CircuitBreaker

    def with_classes(self, breaker: type[CircuitBreaker]) -> BreakerComponent:
        """The same component over a variant (a planted bug)."""
        return BreakerComponent(self.name, breaker)

    def spec(self, case: ParallelCase) -> BreakerLinearSpec:
        return BreakerLinearSpec(case)

    def cases(self) -> st.SearchStrategy[ParallelCase]:
        return parallel_cases()

    def steps(self, case: ParallelCase) -> st.SearchStrategy[Op]:
        outcome = st.sampled_from(WEIGHTED_OUTCOMES)
        form = st.sampled_from(["call", "call", "decorator", "with"])
        call = st.builds(lambda f, o: Op("call", (f, o)), form, outcome)
        start = st.just(Op("start"))
        finish = st.builds(lambda o: Op("finish", (o,)), outcome)
        trip = st.just(Op("trip"))
        look = st.sampled_from([Op("state"), Op("retry_after")])
        manual = st.sampled_from([Op("reset"), Op("reset"), Op("force_open")])
        timeout_us = self.expire_us(case) - 1
        near = sorted({max(timeout_us, 1), timeout_us + 1, max(timeout_us - 1, 1), 1})
        advance = st.builds(lambda us: Op(ADVANCE, (us,)), st.sampled_from(near))
        return st.one_of(
            call, call, call, start, start, finish, finish, trip, trip, advance, advance,
            advance, look, manual,
        )  # fmt: skip

    def build(self, case: ParallelCase, frozen: FrozenTime) -> _Driver:
        spec = case.spec
        kwargs: dict[str, Any] = {
            "recovery_timeout": recovery_timeout(case.breaker),
            "expected_exception": EXPECTED[case.breaker.expected_form],
            "half_open_max_calls": spec.half_open_max_calls,
            "success_threshold": spec.success_threshold,
            "clock": FrozenClock(frozen),
        }
        if spec.rate is None:
            kwargs["failure_threshold"] = spec.failure_threshold
        else:
            kwargs.update(
                failure_rate_threshold=spec.rate,
                window_size=spec.window_size,
                minimum_calls=spec.minimum_calls,
            )
        breaker = self.breaker(name=NAME, **kwargs)
        if case.breaker.listen:
            breaker.subscribe(lambda event: None)  # the slower, event-building paths run
        if case.start != "closed":  # as the spec's initial state has it
            for _ in range(case.trip_calls):
                try:
                    breaker.call(_raise, Boom())
                except (Boom, CircuitOpenError):
                    pass
            if case.start == HALF:
                frozen.advance_us(spec.recovery_timeout_ns // NS_PER_US)
        return _Driver(breaker, case)

    def expire_us(self, case: ParallelCase) -> int:
        return case.spec.recovery_timeout_ns // NS_PER_US + 1  # nothing here waits

    def describe(self, state: State) -> str:
        return describe(state)


BREAKER = BreakerComponent()
