"""The bulkhead, in parallel: permits taken (at once or waiting on frozen time), released, and
whole ``bulkhead.call(fn)`` calls, from many threads, with time passing between and during them.

**Operations and results.** ``enter`` is ``permit(max_wait=0).__enter__()`` (never waits);
``wait`` is a permit that may wait ``max_wait_us`` of frozen time, recorded as ``wait(max_wait_us,
start_us)`` with the frozen time its thread read just before it began (a concrete lower bound on
the instant the bulkhead starts its deadline from); both answer "admitted" or "full". ``exit``
is the ``__exit__`` of the oldest permit the thread holds (its block ending normally or raising)
and answers what ``__exit__`` returned (``False``). ``bulkhead.call(fn)`` is two operations: the
admission ``call(max_wait_us, start_us)`` (the bulkhead's own ``max_wait``), answered "admitted"
as ``fn`` starts (or "full"), and the release ``call_end(fails)``, invoked as ``fn`` ends and
answered with what ``call`` returned ("done") or raised ("Boom"). ``status`` answers ``(in_flight,
admitted, rejected, finished)``.

**Model.** ``BulkheadModel`` (the sequential machine's), rebuilt at each step from the state
``(now_us, in_flight, admitted, rejected, finished)``. An admission is ``model.enter``: allowed
where the model has a permit free. A release is ``model.leave`` of any holder: which permit a
thread gives back does not matter to the count, and real-time order already puts the thread's
own admission before it. A refusal of a caller that may not wait is ``model.enter`` raising
``Full``; a refusal after waiting is ``model.arrive`` at ``start_us`` (the bulkhead is full *at
the linearization point*), queued with its deadline, then ``model.expire`` at the point's ``now``:
allowed only at/after the deadline (inclusive) with no permit free.

**Waiters, and why no queue.** Each acquisition is one atomic operation: a waiter that is served
linearizes when its permit is granted (the real bulkhead hands a released permit straight to the
first waiter, in the releaser's critical section, which lies within the waiter's call), one that
is refused linearizes when it gives up. The model's FIFO queue is therefore never used (its
waiting list stays empty): which of several waiters gets a freed permit is fairness, a property
of the order of grants, not of any single operation's result, so linearizability cannot express
it (the sequential machine checks it). What this spec does check about waiting: nobody is
admitted beyond ``max_concurrent``; nobody is refused while a permit is free (a newcomer refused
while a freed permit idles, a waiter timing out while one idles: a lost hand-off); nobody is
refused before its deadline; and the counters agree.

**The prefix** runs on the main thread alone, and what it holds stays out until the run ends
(only the holder gives a permit back). So it never takes the last free permit to hold (an
``enter`` or ``wait`` that would is skipped): the branches always have one to contend for, and
no prefix step can wait, since no other thread could free a permit or move time for it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.models.bulkhead import BulkheadModel, BulkheadSpec, Full
from properties.parallel.harness import ADVANCE, Actor
from properties.parallel.history import PENDING, Op
from resilience import Bulkhead, BulkheadFull
from resilience.bulkhead.core import BulkheadCore

__all__ = ["ADMITTED", "BULKHEAD", "FULL", "BulkheadCase", "BulkheadComponent", "ParallelSpec"]

ADMITTED, FULL = "admitted", "full"
WAIT_US = 1_000  # the unit of waiting: max_waits are 1 or 2 of these, advances half or one
ADMISSIONS = ("enter", "wait", "call")
RELEASES = ("exit", "call_end")

#: (now_us, in_flight, admitted, rejected, finished): every one a function of which calls are
#: linearized, so the checker's memo merges every order that reaches the same set.
State = tuple[int, int, int, int, int]


class Boom(Exception):
    """What a ``with`` block or a protected function raises when told to."""


@dataclass(frozen=True)
class BulkheadCase:
    max_concurrent: int
    max_wait_us: int  # the bulkhead's own max_wait (what ``call`` waits): 0 never waits


class ParallelSpec:
    """The bulkhead as atomic operations over ``BulkheadModel`` (see the module docstring)."""

    def __init__(self, case: BulkheadCase) -> None:
        self.case = case

    def initial(self) -> State:
        return (0, 0, 0, 0, 0)

    def partition(self, op: Op) -> Hashable | None:
        return None  # one set of permits: nothing is independent

    def _model(self, state: State) -> BulkheadModel:
        _, in_flight, admitted, rejected, finished = state
        model = BulkheadModel(BulkheadSpec(self.case.max_concurrent, 0, listen=False))
        model.holders = dict.fromkeys(range(in_flight), 0)
        model.next_number = in_flight
        model.counts.update(admitted=admitted, rejected=rejected, finished=finished)
        return model

    @staticmethod
    def _state(now: int, model: BulkheadModel) -> State:
        counts = model.counts
        return (now, model.in_flight, counts["admitted"], counts["rejected"], counts["finished"])

    def step(self, state: State, op: Op, result: object) -> State | None:
        now = state[0]
        if op.name == ADVANCE:
            (microseconds,) = op.args
            assert isinstance(microseconds, int)
            return (now + microseconds, *state[1:])
        model = self._model(state)
        now_ns = now * NS_PER_US
        if op.name in ADMISSIONS:
            max_wait_us, start_us = op.args if op.args else (0, now)
            assert isinstance(max_wait_us, int)
            assert isinstance(start_us, int)
            if result is PENDING:  # only a hung run leaves one, and that is reported unchecked
                result = FULL if model.full() else ADMITTED
            if not _admission(model, now_ns, max_wait_us, start_us, result):
                return None
        elif op.name in RELEASES:
            if not model.holders or result not in (PENDING, _released(op)):
                return None
            model.leave(now_ns, next(iter(model.holders)))
        elif op.name == "status":
            counts = model.counts
            seen = (model.in_flight, counts["admitted"], counts["rejected"], counts["finished"])
            if result is not PENDING and result != seen:
                return None
        else:
            raise ValueError(f"the bulkhead has no operation {op}")
        return self._state(now, model)


def _released(op: Op) -> object:
    """What a release answers: ``__exit__``'s ``False``, or what ``call`` returned or raised."""
    if op.name == "exit":
        return False
    return "Boom" if op.args[0] else "done"


def _admission(
    model: BulkheadModel, now_ns: int, max_wait_us: int, start_us: int, result: object
) -> bool:
    """Whether the model can answer ``result`` to an admission here (updating it if so)."""
    if result == ADMITTED:
        if model.full():
            return False
        model.enter(now_ns)
        return True
    if result != FULL:
        return False  # anything else (an unexpected exception) the model never answers
    try:
        kind, number = model.arrive(start_us * NS_PER_US, max_wait_us * NS_PER_US)
    except Full:
        return True  # full, and it may not wait: refused at once
    if kind == "holds":
        return False  # a permit is free: the model admits it
    return number in model.expire(now_ns)  # refused only once its deadline has come


def _outcome(run: Callable[[], object]) -> object:
    """``run()``'s value, or what it raised, as a value."""
    try:
        return run()
    except BulkheadFull:
        return FULL
    except Boom:
        return "Boom"
    except Exception as error:  # recorded, and no model answers it
        return f"raised {type(error).__name__}: {error}"


def _seconds(us: int) -> Fraction:
    return Fraction(us, 1_000_000)


class _Driver:
    def __init__(self, bulkhead: Bulkhead, case: BulkheadCase, frozen: FrozenTime) -> None:
        self.bulkhead = bulkhead
        self.case = case
        self.frozen = frozen
        self.origin = frozen.now_ns()

    def _now_us(self) -> int:
        return (self.frozen.now_ns() - self.origin) // NS_PER_US

    def _leaves_none(self, actor: Actor) -> bool:
        """The main thread would hold the last free permit (see "The prefix" above)."""
        return actor.thread == 0 and self.bulkhead.status()["free"] < 2

    def perform(self, actor: Actor, step: Op) -> None:
        if step.name == "enter":
            if not self._leaves_none(actor):
                self._take(actor, step, 0)
        elif step.name == "wait":
            (max_wait_us,) = step.args
            assert isinstance(max_wait_us, int)
            if not self._leaves_none(actor):
                self._take(actor, Op("wait", (max_wait_us, self._now_us())), max_wait_us)
        elif step.name == "exit":
            if actor.held:
                permit = actor.held.pop(0)
                error = Boom("the block failed") if step.args[0] else None
                kind = None if error is None else type(error)
                actor.record(step, lambda: _outcome(lambda: permit.__exit__(kind, error, None)))
        elif step.name == "call":
            self._call(actor, bool(step.args[0]))  # it gives its permit back
        elif step.name == "status":
            actor.record(step, self._status)
        else:
            raise ValueError(f"the bulkhead has no step {step}")

    def _status(self) -> tuple[int, int, int, int]:
        status = self.bulkhead.status()
        return (status["in_flight"], status["admitted"], status["rejected"], status["finished"])

    def _take(self, actor: Actor, op: Op, max_wait_us: int) -> None:
        permit = self.bulkhead.permit(max_wait=_seconds(max_wait_us))

        def enter() -> str:
            permit.__enter__()
            actor.held.append(permit)
            return ADMITTED

        actor.record(op, lambda: _outcome(enter), blocking=max_wait_us > 0)

    def _call(self, actor: Actor, fails: bool) -> None:
        """``bulkhead.call(fn)``: the admission answers as ``fn`` starts; the release is
        invoked as ``fn`` ends and answers when ``call`` has returned."""
        recorder, max_wait_us = actor.recorder, self.case.max_wait_us
        admission = recorder.invoke(actor.thread, Op("call", (max_wait_us, self._now_us())))
        actor.current, actor.blocking = admission, max_wait_us > 0
        release = []

        def fn() -> str:
            recorder.respond(admission, ADMITTED)
            actor.current = recorder.invoke(actor.thread, Op("call_end", (fails,)))
            actor.blocking = False
            release.append(actor.current)
            if fails:
                raise Boom("the protected call failed")
            return "done"

        try:
            outcome = _outcome(lambda: self.bulkhead.call(fn))
        finally:
            actor.current, actor.blocking = None, False
        recorder.respond(release[0] if release else admission, outcome)

    def close(self, actors: Sequence[Actor]) -> None:
        for actor in actors:
            while actor.held:
                actor.held.pop().__exit__(None, None, None)


class BulkheadComponent:
    """A sync ``Bulkhead`` of 1 or 2 permits (so branches contend for the last one)."""

    name = "bulkhead"

    def __init__(self, bulkhead: type[Bulkhead] = Bulkhead) -> None:
        self.bulkhead = bulkhead

    def with_classes(
        self, bulkhead: type[Bulkhead] | None = None, core: type[BulkheadCore] | None = None
    ) -> BulkheadComponent:
        """The same component over a variant (a planted bug): a ``Bulkhead`` subclass, or a
        decision core plugged into it."""
        chosen = bulkhead or self.bulkhead
        if core is not None:
            chosen = type(f"{chosen.__name__}_{core.__name__}", (chosen,), {"_core_class": core})
        return BulkheadComponent(chosen)

    def spec(self, case: BulkheadCase) -> ParallelSpec:
        return ParallelSpec(case)

    def cases(self) -> st.SearchStrategy[BulkheadCase]:
        return st.builds(
            BulkheadCase,
            max_concurrent=st.integers(1, 2),
            max_wait_us=st.sampled_from([0, WAIT_US]),
        )

    def steps(self, case: BulkheadCase) -> st.SearchStrategy[Op]:
        enter = st.just(Op("enter"))
        wait = st.builds(lambda n: Op("wait", (n * WAIT_US,)), st.integers(1, 2))
        leave = st.builds(lambda raises: Op("exit", (raises,)), st.booleans())
        call = st.builds(lambda fails: Op("call", (fails,)), st.booleans())
        status = st.just(Op("status"))
        advance = st.builds(lambda us: Op(ADVANCE, (us,)), st.sampled_from([WAIT_US // 2, WAIT_US]))
        # Taking and giving back dominate, so the last permit is contended.
        return st.one_of(enter, enter, wait, wait, leave, leave, leave, call, status, advance)

    def build(self, case: BulkheadCase, frozen: FrozenTime) -> _Driver:
        bulkhead = self.bulkhead(
            case.max_concurrent,
            max_wait=_seconds(case.max_wait_us),
            name="bulkhead",
            clock=FrozenClock(frozen),
        )
        return _Driver(bulkhead, case, frozen)

    def expire_us(self, case: BulkheadCase) -> int:
        return 2 * WAIT_US  # the longest max_wait

    def describe(self, state: Any) -> str:
        now, in_flight, admitted, rejected, finished = state
        return (
            f"t={now} us; in_flight={in_flight}; admitted={admitted} rejected={rejected} "
            f"finished={finished}"
        )


BULKHEAD = BulkheadComponent()
