"""BulkheadMachine: drives a sync or async bulkhead next to ``BulkheadModel`` under frozen time.

Held permits, calls held open and waiting tasks are kept by number, the model's numbering: a
waiter that is served becomes a holder in whichever step grants it a permit, so they live in
dictionaries rather than ``Bundle``s. Steps: entries that may not wait (alone or in bursts),
exits (normal or with the block raising), whole calls (returning, raising, or, async, cancelled
at an await inside), misuse (a permit entered twice, exited without being held), and time
passing (biased to the waiters' deadlines). ``AsyncBulkheadMachine`` adds calls held open at an
await and real waiting tasks: waiters with and without a deadline, served in arrival order,
timing out at the exact instant, cancelled while queued or after their grant, and a newcomer
trying to overtake them. After every step: the accounting identities, every counter, who holds a
permit and who waits, and the exact sequence of events.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

import resilience
from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import NS_PER_US, FrozenTime
from properties.harness.trace import TracedMachine
from properties.models.bulkhead import BulkheadModel, BulkheadSpec, Full
from properties.strategies import bulkhead_specs, time_steps_us
from properties.targets.bulkhead import Boom, BulkheadDriver, BulkheadTarget, HeldCall
from resilience.bulkhead import DEFAULT

__all__ = ["AsyncBulkheadMachine", "BulkheadMachine", "bulkhead_coverage", "bulkhead_machine"]


def bulkhead_coverage(asynchronous: bool) -> frozenset[str]:
    """What every run of the machine must reach."""
    labels = {
        "admitted", "all permits out", "refused at once", "released", "block raised",
        "call returned", "call raised", "entered twice refused", "exit without a permit refused",
    }  # fmt: skip
    if asynchronous:
        labels |= {"call cancelled at an await", "waiter served", "waiter timed out",
                   "waiter timed out behind another", "waiter cancelled while queued",
                   "cancelled waiter passes its grant on", "newcomer refused while someone waits",
                   "waiter served after a timeout ahead"}  # fmt: skip
    return frozenset(labels)


# Built once: building a strategy per draw costs more than the step it drives.
_TIME_STEPS = time_steps_us()
#: A waiter's max_wait: forever, the bulkhead's default, or a deadline (1 us to 3 ms).
_MAX_WAITS = st.one_of(
    st.none(), st.just(DEFAULT), st.integers(1, 3_000).map(lambda us: us * NS_PER_US)
)
#: How a held call ends.
_CALL_ENDS = st.sampled_from(["return", "raise", "cancel"])


class BulkheadMachine(TracedMachine):
    """The steps both bulkheads take (the sync one cannot wait inside a single-threaded
    machine: its waiting is checked with real threads in tests/integration)."""

    machine_id: ClassVar[str] = "bulkhead"

    target: ClassVar[BulkheadTarget]
    coverage: ClassVar[CoverageTracker | None] = None

    spec: BulkheadSpec
    model: BulkheadModel
    driver: BulkheadDriver

    def __init__(self) -> None:
        super().__init__()
        self.permits: dict[int, Any] = {}  # number -> the permit it holds
        self.calls: dict[int, HeldCall] = {}  # number -> its call held open (async)
        self.tasks: dict[int, asyncio.Task[Any]] = {}  # number -> its waiting task (async)
        self.spent: list[Any] = []  # permits that have exited, or were refused
        self.behind_timeout: set[int] = set()  # waiters queued behind one that timed out
        self.reached: set[str] = set()  # coverage labels reached in this example
        self.events_seen = 0  # events compared with the model's so far
        self.frozen = FrozenTime().start()  # last: nothing after it can fail and leak it

    def teardown(self) -> None:
        try:
            driver = getattr(self, "driver", None)
            if driver is not None:
                driver.close_loop()
        finally:
            self.frozen.stop()

    def reach(self, label: str) -> None:
        # Once per example: that is all the coverage check and Hypothesis' statistics count.
        if label not in self.reached and self.coverage and label in self.coverage.targets:
            self.reached.add(label)
            self.coverage.reach(label)

    @property
    def now(self) -> int:
        return self.frozen.now_ns()

    @property
    def asynchronous(self) -> bool:
        return self.target.asynchronous

    # ---------------------------------------------------------------- helpers

    def _enter_one(self, use_default: bool) -> int | None:
        """An entry that may not wait: with ``permit(max_wait=0)``, or ``permit()`` when the
        bulkhead's default cannot wait here. Returns the holder's number, or None if refused."""
        default = use_default and (self.spec.max_wait_ns == 0 or not self.model.full())
        permit = self.driver.permit() if default else self.driver.permit(0)
        try:
            expected: int | Full = self.model.enter(self.now)
        except Full as full:
            expected = full
        try:
            entered = self.driver.enter(permit)
        except resilience.BulkheadFull:
            assert isinstance(expected, Full), "entry refused; the model admits it"
            self.spent.append(permit)  # a refused permit is used up too
            self.reach("refused at once")
            if self.model.waiting:
                self.reach("newcomer refused while someone waits")
            return None
        assert not isinstance(expected, Full), "entry admitted; the model refuses it"
        assert entered is permit, "entering a permit returns the permit"
        self.permits[expected] = permit
        self.reach("admitted")
        if self.model.free == 0:
            self.reach("all permits out")
        return expected

    def _settle(self, ending: list[Any] | None = None) -> None:
        """Let the waiters run (``ending`` must end); each one the model granted a permit must
        have woken holding it."""
        if not self.asynchronous:
            return
        # Waiters granted a permit must wake too (a missed wake-up is caught below).
        ending = [*(ending or []), *(self.tasks[n] for n in self.model.granted)]
        self.driver.settle(list(dict.fromkeys([*self.tasks.values(), *ending])), ending)
        for number in list(self.model.granted):
            task = self.tasks.pop(number)
            assert task.done(), f"waiter {number} was granted a permit but never woke"
            assert not task.cancelled(), f"waiter {number} was cancelled; the model serves it"
            error = task.exception()
            assert error is None, f"waiter {number} raised {error!r}; the model serves it"
            self.model.resume(number)
            self.permits[number] = task.result()
            self.reach("waiter served")
            if number in self.behind_timeout:
                self.reach("waiter served after a timeout ahead")

    def _pick_holder(self, data: st.DataObject) -> int:
        return data.draw(st.sampled_from(sorted(self.permits)), label="holder")

    # ---------------------------------------------------------------- rules

    @initialize(spec=bulkhead_specs())
    def build(self, spec: BulkheadSpec) -> None:
        self.spec = spec
        self.model = BulkheadModel(spec)
        self.driver = self.target.build(spec, self.frozen)

    @rule(use_default=st.booleans())
    def enter(self, use_default: bool) -> None:
        """A permit entered without waiting, held across steps."""
        self._enter_one(use_default)

    @rule(count=st.integers(2, 5), use_default=st.booleans())
    def burst(self, count: int, use_default: bool) -> None:
        """Several entries in a row, until one is refused."""
        for _ in range(count):
            if self._enter_one(use_default) is None:
                return

    @precondition(lambda self: self.permits or self.calls)
    @rule(data=st.data(), raises=st.booleans())
    def leave(self, data: st.DataObject, raises: bool) -> None:
        """A held permit exits (the block ending normally or raising), or a held call ends
        (returning, raising, or cancelled at its await): the permit goes to the first waiter,
        who wakes holding it, or it is free."""
        number = data.draw(st.sampled_from(sorted([*self.permits, *self.calls])), label="holder")
        self.model.leave(self.now, number)
        if number in self.calls:
            self._finish_call(number, data.draw(_CALL_ENDS, label="how"))
        else:
            permit = self.permits.pop(number)
            returned = self.driver.exit(permit, Boom("the block failed") if raises else None)
            assert returned is False, "a permit's exit must not swallow the block's exception"
            self.spent.append(permit)
            if raises:
                self.reach("block raised")
        self.reach("released")
        self._settle()

    def _finish_call(self, number: int, how: str) -> None:
        call = self.calls.pop(number)
        self.driver.finish_call(call, how)
        assert call.task.done(), f"held call {number} did not end ({how})"
        if how == "cancel":
            assert call.task.cancelled(), f"a cancelled call ended as {call.task!r}"
            self.reach("call cancelled at an await")
        elif how == "raise":
            error = call.task.exception()
            assert isinstance(error, Boom), f"call_async raised {error!r}, not fn's exception"
            self.reach("call raised")
        else:
            result = call.task.result()
            assert result == "done", f"call_async returned {result!r}, not fn's result"
            self.reach("call returned")

    @precondition(lambda self: self.spec.max_wait_ns == 0 or not self.model.full())
    @rule(data=st.data(), fails=st.booleans())
    def call(self, data: st.DataObject, fails: bool) -> None:
        """A whole call through ``call`` / ``call_async``, with the bulkhead's own max_wait
        (so only when that cannot block here): the protected function runs without the lock,
        counted in flight, and its permit comes back however it ends."""
        form, awaits, cancel_at = "sync", 0, -1
        if self.asynchronous:
            form = data.draw(st.sampled_from(["sync", "async"]), label="form")
            if form == "async":
                awaits = data.draw(st.integers(1, 2), label="awaits")
                cancel_at = data.draw(st.integers(-1, awaits - 1), label="cancel_at")
        inside = self.model.in_flight + 1
        try:
            expected: int | Full = self.model.call(self.now)
        except Full as full:
            expected = full
        seen = len(self.driver.inside)
        try:
            result = self.driver.call(fails, form, awaits, cancel_at)
        except resilience.BulkheadFull:
            assert isinstance(expected, Full), "call refused; the model admits it"
            assert len(self.driver.inside) == seen, "a refused call ran"
            self.reach("refused at once")
            return
        except asyncio.CancelledError:
            assert cancel_at >= 0, "call cancelled; nothing cancelled it"
            self.reach("call cancelled at an await")
        except Boom:
            assert fails, "call raised Boom; fn returned"
            assert cancel_at < 0, "call raised Boom; it was cancelled"
            self.reach("call raised")
        else:
            assert not fails, f"call returned {result!r}; fn raised"
            assert cancel_at < 0, f"call returned {result!r}; it was cancelled"
            assert result == "done", f"call returned {result!r}, not the function's result"
            self.reach("call returned")
        assert not isinstance(expected, Full), "call admitted; the model refuses it"
        self.reach("admitted")
        (seen_inside,) = self.driver.inside[seen:]
        assert not seen_inside.locked, "the protected call ran holding the bulkhead's lock"
        assert seen_inside.in_flight == inside, (
            f"inside the call in_flight={seen_inside.in_flight}; the model {inside}"
        )

    @precondition(lambda self: self.permits or self.spent)
    @rule(data=st.data())
    def enter_twice(self, data: st.DataObject) -> None:
        """Entering a permit that is held, has exited or was refused: ``RuntimeError``, and no
        permit is taken."""
        choices = [*self.permits.values(), *self.spent[-3:]]
        permit = data.draw(st.sampled_from(choices), label="permit")
        try:
            self.driver.enter(permit)
        except RuntimeError:
            self.reach("entered twice refused")
        else:
            raise AssertionError("a permit was entered twice")

    @rule(data=st.data())
    def exit_without_permit(self, data: st.DataObject) -> None:
        """Exiting a permit that was never entered, or exited already: ``RuntimeError``, and
        nothing is released (a permit is never released twice)."""
        permit = data.draw(
            st.sampled_from([None, *self.spent[-3:]]), label="spent permit (None: a new one)"
        )
        if permit is None:
            permit = self.driver.permit()
        try:
            self.driver.exit(permit)
        except RuntimeError:
            self.reach("exit without a permit refused")
        else:
            raise AssertionError("a permit that is not held was released")

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """Time passes, biased to the waiters' deadlines (exactly, and 1 us either side):
        waiters whose deadline has come are refused, in deadline order."""
        now = self.now
        boundaries = sorted({(d - now) // NS_PER_US for d in self.model.deadlines()})
        steps = _TIME_STEPS
        if boundaries:
            # Half the time exactly to the earliest deadline (or 1 us past): one waiter times
            # out and those behind it stay queued.
            earliest = st.sampled_from([boundaries[0], boundaries[0] + 1])
            steps = st.one_of(earliest, time_steps_us(*boundaries[:6]))
        self._move(data.draw(steps, label="advance_us"))

    def _move(self, step_us: int) -> None:
        """Advance time; waiters whose deadline has come are refused (and only those: every
        sleeper due is woken, whatever the model says)."""
        self.frozen.advance_us(step_us)
        queue = [w.number for w in self.model.waiting]
        due = self.model.expire(self.now)
        ending = [self.tasks.pop(number) for number in due]
        self.driver.wake_due()
        self._settle(ending)
        for number, task in zip(due, ending, strict=True):
            assert task.done(), f"waiter {number} passed its deadline but still waits"
            error = None if task.cancelled() else task.exception()
            assert isinstance(error, resilience.BulkheadFull), (
                f"waiter {number} ended with {error!r}; the model: BulkheadFull"
            )
            self.reach("waiter timed out")
            if queue.index(number) > 0:
                self.reach("waiter timed out behind another")
        if due:
            first = min(queue.index(number) for number in due)
            self.behind_timeout.update(n for n in queue[first + 1 :] if n not in due)

    # ---------------------------------------------------------------- invariants

    @invariant()
    def accounting(self) -> None:
        status = self.driver.bulkhead.status()
        limit = self.spec.max_concurrent
        assert status["max_concurrent"] == limit, status
        assert 0 <= status["in_flight"] <= limit, status
        assert status["admitted"] == status["finished"] + status["in_flight"], status
        assert status["waiting"] == 0 or status["free"] == 0, f"a permit idles: {status}"
        expected = {"in_flight": self.model.in_flight, "waiting": len(self.model.waiting),
                    **self.model.counts}  # fmt: skip
        actual = {name: status[name] for name in expected}
        assert actual == expected, f"status {actual}; model {expected}"

    @invariant()
    def who_holds_and_who_waits(self) -> None:
        holders = sorted([*self.permits, *self.calls])
        assert holders == sorted(self.model.holders), (
            f"holders {holders}; model {sorted(self.model.holders)}"
        )
        assert all(permit.held for permit in self.permits.values()), "a holder's permit is free"
        assert all(call.held for call in self.calls.values()), "a held call ended unnoticed"
        waiting = [w.number for w in self.model.waiting]
        assert sorted(self.tasks) == sorted(waiting), f"waiting {sorted(self.tasks)}; {waiting}"
        assert not any(task.done() for task in self.tasks.values()), "a waiter ended unnoticed"

    @invariant()
    def events_agree(self) -> None:
        """The whole event sequence equals the model's (events are immutable and only ever
        appended, so each step compares what is new since the last)."""
        if not self.model.spec.listen:
            assert not self.driver.events, self.driver.events
            return
        seen, events = self.events_seen, self.driver.events
        fresh = [_plain(event) for event in events[seen:]]
        assert len(events) == len(self.model.events), (
            f"events {[*self.model.events[:seen], *fresh]}; model {self.model.events}"
        )
        assert fresh == self.model.events[seen:], (
            f"new events {fresh}; model {self.model.events[seen:]}"
        )
        self.events_seen = len(events)


class AsyncBulkheadMachine(BulkheadMachine):
    """The async bulkhead's extra steps (kept out of the sync machine, where they could never
    run): calls held open at an await, and real waiting tasks."""

    @precondition(lambda self: self.spec.max_wait_ns == 0 or not self.model.full())
    @rule()
    def start_call(self) -> None:
        """``call_async(fn)`` whose ``fn`` stays parked at an await, holding its permit, until
        a later step ends it (see ``leave``); refused at once when full."""
        inside = self.model.in_flight + 1
        try:
            expected: int | Full = self.model.enter(self.now)
        except Full as full:
            expected = full
        seen = len(self.driver.inside)
        call = self.driver.start_call()
        if isinstance(expected, Full):
            assert call.task.done(), "a call waits; the model refuses it"
            error = None if call.task.cancelled() else call.task.exception()
            assert isinstance(error, resilience.BulkheadFull), f"{error!r}; model: refused"
            assert len(self.driver.inside) == seen, "a refused call ran"
            self.reach("refused at once")
            return
        assert not call.task.done(), f"a held call ended at once: {call.task!r}"
        self.calls[expected] = call
        self.reach("admitted")
        (seen_inside,) = self.driver.inside[seen:]
        assert not seen_inside.locked, "the protected call ran holding the bulkhead's lock"
        assert seen_inside.in_flight == inside, (
            f"inside the call in_flight={seen_inside.in_flight}; the model {inside}"
        )

    def _fill(self, data: st.DataObject) -> None:
        """Unless someone waits already: take every free permit, then one or two tasks start
        waiting with no time limit."""
        if self.model.waiting:
            return
        while self.model.free > 0:
            self._enter_one(use_default=False)
        for _ in range(data.draw(st.integers(1, 2), label="waiters")):
            self._start_waiter(None)

    # ---------------------------------------------------------------- waiting

    def _start_waiter(self, max_wait: Any) -> None:
        """A task enters a permit that may wait ``max_wait`` ns (None: forever; or DEFAULT): it
        is admitted at once, refused at once, or queues, as the model says."""
        limit = self.spec.max_wait_ns if max_wait is DEFAULT else max_wait
        try:
            kind, number = self.model.arrive(self.now, limit)
        except Full:
            kind, number = "refused", -1
        task = self.driver.start_waiter(max_wait)
        if kind == "waits":
            assert not task.done(), f"a waiter ended at once ({task!r}); the model: it waits"
            self.tasks[number] = task
            return
        assert task.done(), f"a waiter waits; the model: {kind}"
        error = None if task.cancelled() else task.exception()
        if kind == "refused":
            assert isinstance(error, resilience.BulkheadFull), f"{error!r}; model: refused"
            self.reach("refused at once")
        else:
            assert error is None, f"{error!r}; the model admits it"
            self.permits[number] = task.result()
            self.reach("admitted")

    @rule(data=st.data(), count=st.integers(1, 3))
    def wait(self, data: st.DataObject, count: int) -> None:
        """One to three tasks enter permits that may wait (forever, up to a deadline, or the
        bulkhead's default): each is admitted at once, refused at once, or queues."""
        for _ in range(count):
            self._start_waiter(data.draw(_MAX_WAITS, label="max_wait_ns"))

    @rule(data=st.data(), max_wait_us=st.integers(1, 3_000), short=st.booleans())
    def wait_out(self, data: st.DataObject, max_wait_us: int, short: bool) -> None:
        """On a full bulkhead (filled first if need be, with one or two waiters ahead), a task
        waits up to ``max_wait``; time moves to 1 us before its deadline (it still waits), and
        then, unless ``short``, to the deadline itself (it is refused: the limit is inclusive)."""
        self._fill(data)
        self._start_waiter(max_wait_us * NS_PER_US)
        self._move(max_wait_us - 1)
        if not short:
            self._move(1)

    @precondition(lambda self: self.permits)
    @rule(data=st.data(), raises=st.booleans(), newcomer=st.booleans())
    def release_to_waiters(self, data: st.DataObject, raises: bool, newcomer: bool) -> None:
        """A permit exits while tasks wait (if nobody waits yet, every free permit is taken and
        one or two tasks start waiting first); at once, in the same task step (before any
        waiter runs again), a newcomer may try to enter without waiting, and chosen waiters are
        cancelled (the first one, granted the permit, included). The permit goes to the first
        waiter; a newcomer is refused; a cancelled waiter passes its grant on."""
        self._fill(data)
        number = self._pick_holder(data)
        queue = [w.number for w in self.model.waiting]
        cancel = data.draw(
            st.lists(st.booleans(), min_size=len(queue), max_size=len(queue)), label="cancel"
        )
        chosen = [n for n, off in zip(queue, cancel, strict=True) if off]
        permit = self.permits.pop(number)
        now = self.now
        self.model.leave(now, number)
        expected: int | Full | None = None
        if newcomer:
            try:
                expected = self.model.enter(now)
            except Full as full:
                expected = full
        for waiter in chosen:
            if waiter in self.model.granted:
                self.reach("cancelled waiter passes its grant on")
            self.model.abandon(now, waiter)
        tasks = [self.tasks.pop(n) for n in chosen]
        fresh = self.driver.permit(0) if newcomer else None
        error = Boom("the block failed") if raises else None
        outcome = self.driver.release_then(permit, error, fresh, tasks)
        self.spent.append(permit)
        self.reach("released")
        if newcomer:
            assert isinstance(expected, Full), "the model admitted a newcomer"
            assert isinstance(outcome, resilience.BulkheadFull), (
                f"a newcomer got {outcome!r} while someone waits (barging)"
            )
            self.reach("newcomer refused while someone waits")
        self._settle(tasks)
        for waiter, task in zip(chosen, tasks, strict=True):
            assert task.cancelled(), f"cancelled waiter {waiter} ended as {task!r}"

    @precondition(lambda self: self.model.waiting)
    @rule(data=st.data())
    def cancel_waiter(self, data: st.DataObject) -> None:
        """A queued waiter is cancelled: it leaves the queue; nobody else moves."""
        number = data.draw(st.sampled_from([w.number for w in self.model.waiting]), label="waiter")
        self.model.abandon(self.now, number)
        task = self.tasks.pop(number)
        task.cancel()
        self._settle([task])
        assert task.cancelled(), f"cancelled waiter {number} ended as {task!r}"
        self.reach("waiter cancelled while queued")


def _plain(event: Any) -> tuple[str, int, int]:
    """An event in the model's terms: (kind, at_ns, waited or held ns)."""
    assert event.source == "bulkhead", event
    if isinstance(event, resilience.BulkheadAdmitted):
        return ("admitted", event.at_ns, event.waited_ns)
    if isinstance(event, resilience.BulkheadRejected):
        return ("rejected", event.at_ns, event.waited_ns)
    if isinstance(event, resilience.BulkheadReleased):
        return ("released", event.at_ns, event.held_ns)
    raise AssertionError(f"unexpected event {event!r}")


def bulkhead_machine(
    target: BulkheadTarget, coverage: CoverageTracker | None = None
) -> type[BulkheadMachine]:
    base = AsyncBulkheadMachine if target.asynchronous else BulkheadMachine
    return type(f"BulkheadMachine_{target.name}", (base,), {"target": target, "coverage": coverage})
