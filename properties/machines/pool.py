"""PoolMachine: drives a sync or async pool next to ``PoolModel`` under frozen time.

Leases live in a ``Bundle`` and are consumed by check-in or invalidate. Rules script the next
factory / validate / reset / destroy call to fail, move time (biased to expiry and leak
instants), close the pool, and (async pool) cancel an operation at its n-th callback await.
After every step: the accounting identities, the model's counters, occupancy, lent set and idle
order, and the exact sequence of events and callback calls.
"""

from __future__ import annotations

import asyncio
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

import resilience
from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.harness.trace import TracedMachine
from properties.models.pool import Cancelled, PoolModel, PoolSpec, Refused
from properties.strategies import pool_specs, time_steps_us
from properties.targets.pool import PoolDriver, PoolTarget, Scripted, Thing

__all__ = ["PoolMachine", "pool_coverage", "pool_machine"]


def pool_coverage(asynchronous: bool) -> frozenset[str]:
    """What every run of the machine must reach."""
    labels = {
        "create", "reuse", "overflow destroyed on return", "exhausted", "expired by lifetime",
        "expired by idle", "validate fails", "factory fails", "invalidate",
        "close with leases out", "lease leaked", "reset fails",
    }  # fmt: skip
    if asynchronous:
        labels |= {"checkout cancelled", "checkout cancelled mid-validation", "checkin cancelled",
                   "waiter served", "cancelled waiter passes its grant on"}  # fmt: skip
    return frozenset(labels)


_REASONS = {
    "max_lifetime": "expired by lifetime",
    "max_idle": "expired by idle",
    "overflow": "overflow destroyed on return",
}


class PoolMachine(TracedMachine):
    machine_id: ClassVar[str] = "pool"

    target: ClassVar[PoolTarget]
    coverage: ClassVar[CoverageTracker | None] = None

    leases = Bundle("leases")

    spec: PoolSpec
    model: PoolModel
    driver: PoolDriver

    def __init__(self) -> None:
        super().__init__()
        self.things: dict[int, Thing] = {}
        self.frozen = FrozenTime().start()  # last: nothing after it can fail and leak it

    def teardown(self) -> None:
        try:
            driver = getattr(self, "driver", None)
            if driver is not None:
                driver.close_loop()
        finally:
            self.frozen.stop()

    def reach(self, label: str) -> None:
        if self.coverage is not None and label in self.coverage.targets:
            self.coverage.reach(label)

    @property
    def now(self) -> int:
        return self.frozen.now_ns()

    def _cancel_points(self) -> st.SearchStrategy[int | None]:
        if not self.target.asynchronous:
            return st.none()
        return st.one_of(st.none(), st.integers(0, 2))

    def _expect(self, operation: str, *args: Any, cancel_at: int | None) -> Any:
        """Run the model's operation; returns its result or the exception it expects."""
        try:
            return getattr(self.model, operation)(self.now, *args, cancel_at=cancel_at)
        except (Refused, Cancelled) as expected:
            return expected

    def _compare(self, what: str, expected: Any, call: Any) -> Any:
        """Run ``call`` and check it did what the model expected; returns its result."""
        try:
            result = call()
        except asyncio.CancelledError:
            assert isinstance(expected, Cancelled), f"{what} was cancelled; model: {expected!r}"
            return None
        except resilience.PoolClosed:
            outcome = "closed"
        except resilience.PoolTimeout:
            outcome = "timeout"
        except resilience.PoolError:
            outcome = "not lent"
        except Scripted:
            outcome = "factory"
        else:
            assert not isinstance(expected, Exception), f"{what} returned; model: {expected!r}"
            return result
        assert isinstance(expected, Refused), f"{what} raised {outcome!r}; model: {expected!r}"
        assert expected.kind == outcome, f"{what} raised {outcome!r}; model: {expected!r}"
        return None

    def _note(self, before: int) -> None:
        """Coverage from the model's new events."""
        for event in self.model.events[before:]:
            kind = event[0]
            if kind == "destroyed":
                reason = event[3]
                if reason in _REASONS:
                    self.reach(_REASONS[reason])
                if reason == "invalid":
                    self.reach("validate fails")
                if reason == "reset failed":
                    self.reach("reset fails")
            elif kind == "create_failed":
                self.reach("factory fails")
            elif kind == "timeout":
                self.reach("exhausted")
            elif kind == "leaked":
                self.reach("lease leaked")

    # ---------------------------------------------------------------- rules

    @initialize(spec=pool_specs())
    def build(self, spec: PoolSpec) -> None:
        self.spec = spec
        self.model = PoolModel(spec)
        self.driver = self.target.build(spec, FrozenClock(self.frozen))

    def _checkout_one(self, cancel_at: int | None = None) -> int | None:
        """One checkout that may not wait (``timeout=0``), compared with the model; the number
        of the resource lent, or None."""
        before, created = len(self.model.events), self.model.counts["created"]
        expected = self._expect("checkout", cancel_at=cancel_at)
        thing = self._compare(
            "checkout", expected, lambda: self.driver.run("checkout", cancel_at=cancel_at)
        )
        self._note(before)
        if isinstance(expected, Cancelled):
            self.reach("checkout cancelled")
            if self.model.calls[-1][0] == "validate":
                self.reach("checkout cancelled mid-validation")
        if not isinstance(expected, int):
            return None
        assert thing.n == expected, f"checkout lent #{thing.n}; the model lends #{expected}"
        self.reach("create" if self.model.counts["created"] > created else "reuse")
        self.things[thing.n] = thing
        return expected

    @rule(target=leases, data=st.data())
    def checkout(self, data: st.DataObject) -> Any:
        """A checkout that may not wait (``timeout=0``), perhaps cancelled (async pool)."""
        lent = self._checkout_one(data.draw(self._cancel_points(), label="cancel_at"))
        return multiple() if lent is None else lent

    @precondition(lambda self: self.spec.validate and self.model.idle)
    @rule(target=leases, answer=st.sampled_from(["fail", "no"]))
    def invalid_on_checkout(self, answer: str) -> Any:
        """The next validate fails (raises or answers False), then a checkout meets it."""
        self.model.script["validate"] = self.driver.script["validate"] = answer
        lent = self._checkout_one()
        return multiple() if lent is None else lent

    @precondition(
        lambda self: self.target.asynchronous and self.spec.validate and not self.model.closed
    )
    @rule(target=leases)
    def cancel_validation(self) -> Any:
        """Cancel a checkout at its first callback: the validation of the idle resource it takes
        (or, if that one has expired, its destroy). Unless a fresh resource is idle already, one
        is checked out and in first."""
        if not self.model.next_idle_fresh(self.now):
            lent = self._checkout_one()
            if lent is not None:
                self._checkin_one(lent)
        lent = self._checkout_one(cancel_at=0)
        return multiple() if lent is None else lent

    @rule(target=leases, count=st.integers(2, 5))
    def burst(self, count: int) -> Any:
        """Several checkouts in a row, until the pool is exhausted or refuses."""
        lent = []
        for _ in range(count):
            n = self._checkout_one()
            if n is None:
                break
            lent.append(n)
        return multiple(*lent)

    @precondition(
        lambda self: (
            not self.model.closed
            and (self.spec.max_idle_ns is not None or self.spec.max_lifetime_ns is not None)
        )
    )
    @rule(target=leases, past=st.booleans(), data=st.data())
    def age_idle(self, past: bool, data: st.DataObject) -> Any:
        """Move to the next idle resource's expiry (the last instant it may be lent, or 1 us
        past it) and check out. If nothing is idle, one is checked out and in first."""
        if not self.model.idle:
            lent = self._checkout_one()
            if lent is not None:
                self._checkin_one(lent)
        expiries = sorted(self.model.expiries())
        if expiries:
            expiry = data.draw(st.sampled_from([expiries[0], *expiries]), label="expiry")
            step_us = max(0, -(-(expiry - self.now) // NS_PER_US)) + (1 if past else 0)
            self.frozen.advance_us(step_us)
        lent = self._checkout_one()
        return multiple() if lent is None else lent

    @rule(target=leases, first=consumes(leases), second=consumes(leases))
    def return_two_take_one(self, first: int, second: int) -> Any:
        """Check two resources in, then one out: LIFO lends the second back, FIFO the oldest
        idle one (the order a pool reuses resources in is observable, and checked)."""
        self._checkin_one(first)
        self._checkin_one(second)
        lent = self._checkout_one()
        return multiple() if lent is None else lent

    def _checkin_one(self, lease: int, cancel_at: int | None = None) -> None:
        before = len(self.model.events)
        expected = self._expect("checkin", lease, cancel_at=cancel_at)
        thing = self.things[lease]
        run = self.driver.run
        self._compare("checkin", expected, lambda: run("checkin", thing, cancel_at=cancel_at))
        self._note(before)
        if isinstance(expected, Cancelled):
            self.reach("checkin cancelled")

    @rule(lease=consumes(leases), data=st.data())
    def checkin(self, lease: int, data: st.DataObject) -> None:
        """Give a lease back, perhaps cancelled (async pool)."""
        self._checkin_one(lease, data.draw(self._cancel_points(), label="cancel_at"))

    @rule(lease=consumes(leases), data=st.data())
    def invalidate(self, lease: int, data: st.DataObject) -> None:
        cancel_at = data.draw(self._cancel_points(), label="cancel_at")
        before = len(self.model.events)
        expected = self._expect("invalidate", lease, cancel_at=cancel_at)
        thing = self.things[lease]
        self._compare(
            "invalidate",
            expected,
            lambda: self.driver.run("invalidate", thing, cancel_at=cancel_at),
        )
        self._note(before)
        self.reach("invalidate")

    @precondition(lambda self: self.target.asynchronous and not self.model.closed)
    @rule(
        target=leases,
        lease=consumes(leases),
        release=st.sampled_from(["checkin", "invalidate"]),
        cancel=st.lists(st.booleans(), min_size=1, max_size=3),
    )
    def wait_for_release(self, lease: int, release: str, cancel: list[bool]) -> Any:
        """On an exhausted pool (checked out to the limit first, if need be), one to three
        checkouts with no time limit wait, in order. A lease is released (checked in or
        invalidated) and the chosen waiters are cancelled at once, before any waiter has run
        again. What frees up is granted to the first waiter; a cancelled waiter passes its grant
        on; every waiter ends as the model says; the ones still waiting are then cancelled, and
        nothing is left waiting or reserved."""
        filled = []
        while not self.model.exhausted() and (n := self._checkout_one()) is not None:
            filled.append(n)
        if not self.model.exhausted():  # a checkout was refused (a scripted factory failure)
            return multiple(lease, *filled)
        now, before = self.now, len(self.model.events)
        tasks = {}
        for _ in cancel:
            wid = self.model.wait(now)
            tasks[wid] = self.driver.start_waiter()
        assert not any(task.done() for task in tasks.values()), "a checkout did not wait"
        chosen = [task for task, off in zip(tasks.values(), cancel, strict=True) if off]
        expected_release = self._expect(release, lease, cancel_at=None)
        self._compare(
            release,
            expected_release,
            lambda: self.driver.release_then_cancel(release, self.things[lease], chosen),
        )
        outcomes: dict[int, Any] = {}
        for wid, off in zip(tasks, cancel, strict=True):  # the cancelled ones run first
            if off:
                if wid in self.model.granted:
                    self.reach("cancelled waiter passes its grant on")
                self.model.abandon(now, wid)
                outcomes[wid] = Cancelled()
        while granted := [wid for wid in tasks if wid in self.model.granted]:
            try:
                outcomes[granted[0]] = self.model.resume(now, granted[0])
            except Refused as refused:
                outcomes[granted[0]] = refused
        self.driver.settle(list(tasks.values()), chosen)
        lent = []
        for wid, task in tasks.items():
            if wid not in outcomes:
                assert not task.done(), f"waiter {wid} ended ({task!r}); the model: it waits"
                continue
            assert task.done(), f"waiter {wid} never woke; the model: {outcomes[wid]!r}"
            thing = self._compare(f"waiter {wid}", outcomes[wid], task.result)
            if isinstance(outcomes[wid], int):
                assert thing.n == outcomes[wid], f"waiter got #{thing.n}; model #{outcomes[wid]}"
                self.things[thing.n] = thing
                lent.append(thing.n)
                self.reach("waiter served")
        still = [tasks[wid] for wid in tasks if wid not in outcomes]
        for wid in tasks:
            if wid not in outcomes:
                self.model.abandon(now, wid)
        for task in still:
            task.cancel()
        self.driver.settle([], still)
        assert all(task.done() for task in tasks.values()), "a cancelled waiter never ended"
        self._note(before)
        return multiple(*filled, *lent)

    @rule(invalidate=st.booleans())
    def lease_block(self, invalidate: bool) -> None:
        """``with pool.lease() as r:`` (invalidating r inside, or not): checkout on entry,
        check-in (or nothing, after invalidate) on exit."""
        before = len(self.model.events)
        expected = self._expect("checkout", cancel_at=None)
        if isinstance(expected, int):
            try:
                if invalidate:
                    self.model.invalidate(self.now, expected)
                else:
                    self.model.checkin(self.now, expected)
            except (Refused, Cancelled) as refused:
                raise AssertionError(f"the model refused its own lease: {refused!r}") from None
        thing = self._compare("lease()", expected, lambda: self.driver.lease_block(invalidate))
        self._note(before)
        if isinstance(expected, int):
            assert thing.n == expected, f"lease() lent #{thing.n}; the model lends #{expected}"
            self.things[thing.n] = thing
            if invalidate:
                self.reach("invalidate")

    @rule(data=st.data())
    def bad_checkin(self, data: st.DataObject) -> None:
        """Check-in after invalidate (or after the pool destroyed it), or of a foreign object:
        ``PoolError``."""
        idle = [res.rid for res in self.model.idle]
        gone = [n for n in self.things if n not in self.model.out and n not in idle]
        n = data.draw(st.sampled_from([-1, *gone]), label="resource")
        self._refused_checkin(Thing(-1) if n == -1 else self.things[n])

    @precondition(lambda self: self.model.idle)
    @rule(data=st.data())
    def double_checkin(self, data: st.DataObject) -> None:
        """Check-in of a resource that is idle already: ``PoolError``, nothing changes."""
        res = data.draw(st.sampled_from(self.model.idle), label="idle resource")
        self._refused_checkin(self.things[res.rid])

    def _refused_checkin(self, thing: Thing) -> None:
        before = len(self.model.events)
        expected = self._expect("checkin", -1, cancel_at=None)  # scans leaks, then refuses
        self._compare("checkin(bad)", expected, lambda: self.driver.run("checkin", thing))
        self._note(before)

    @rule(data=st.data(), answer=st.sampled_from(["fail", "no"]))
    def script(self, data: st.DataObject, answer: str) -> None:
        """The next call of a configured callback fails (a validate may answer False instead)."""
        spec = self.spec
        configured = ["factory"] + [name for name, on in (("validate", spec.validate),
                      ("reset", spec.reset), ("destroy", spec.destroy)) if on]  # fmt: skip
        callback = data.draw(st.sampled_from(configured), label="callback")
        outcome = answer if callback == "validate" else "fail"
        self.model.script[callback] = outcome
        self.driver.script[callback] = outcome

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """Time passes, biased to the last instant inside a limit and the first past it."""
        now = self.now
        boundaries = sorted({(t - now) // NS_PER_US for t in self.model.instants() if t >= now})
        steps = [b + extra for b in boundaries[:6] for extra in (0, 1)]
        self.frozen.advance_us(data.draw(time_steps_us(*steps), label="advance_us"))

    @precondition(lambda self: self.model.counts["checked_out"] >= 8)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        """Close, once the pool has lent a few resources (every later checkout is refused, so
        an early close would starve the rest of the run)."""
        cancel_at = data.draw(self._cancel_points(), label="cancel_at")
        before = len(self.model.events)
        if self.model.out and not self.model.closed:
            self.reach("close with leases out")
        expected = self._expect("close", cancel_at=cancel_at)
        self._compare("close", expected, lambda: self.driver.run("close", cancel_at=cancel_at))
        self._note(before)

    @rule()
    def check_leaks(self) -> None:
        before = len(self.model.events)
        self.model.check_leaks(self.now)
        self.driver.pool.check_leaks()
        self._note(before)

    # ---------------------------------------------------------------- invariants

    @invariant()
    def accounting(self) -> None:
        status = self.driver.pool.status()
        assert status["created"] - status["destroyed"] == status["idle"] + status["in_use"], status
        assert status["in_use"] <= self.spec.capacity, status
        assert status["idle"] <= self.spec.size, status
        assert status["creating"] == 0, status
        assert status["waiting"] == 0, status
        expected = {"idle": len(self.model.idle), "in_use": self.model.in_use,
                    "closed": self.model.closed, **self.model.counts}  # fmt: skip
        actual = {name: status[name] for name in expected}
        assert actual == expected, f"status {actual}; model {expected}"

    @invariant()
    def who_holds_what(self) -> None:
        """No resource is lent twice, the lent set and the idle order equal the model's."""
        assert self.driver.lent() == set(self.model.out), (
            f"lent {sorted(self.driver.lent())}; model {sorted(self.model.out)}"
        )
        idle = [res.rid for res in self.model.idle]
        assert self.driver.idle_order() == idle, f"idle {self.driver.idle_order()}; model {idle}"

    @invariant()
    def calls_and_events_agree(self) -> None:
        assert self.driver.calls == self.model.calls, (
            f"callback calls {self.driver.calls}; model {self.model.calls}"
        )
        if self.spec.listen:
            events = [_plain(event) for event in self.driver.events]
            assert events == self.model.events, f"events {events}; model {self.model.events}"


def _error(error: BaseException | None) -> str | None:
    if error is None:
        return None
    return "cancelled" if isinstance(error, asyncio.CancelledError) else "scripted"


def _plain(event: Any) -> tuple[object, ...]:
    """An event in the model's terms: (kind, at_ns, details...)."""
    at = event.at_ns
    if isinstance(event, resilience.ResourceCreated):
        return ("created", at, event.resource.n)
    if isinstance(event, resilience.ResourceDestroyed):
        return ("destroyed", at, event.resource.n, event.reason, _error(event.error))
    if isinstance(event, resilience.ResourceCheckedOut):
        return ("out", at, event.resource.n, event.waited_ns)
    if isinstance(event, resilience.ResourceCheckedIn):
        return ("in", at, event.resource.n, event.held_ns)
    if isinstance(event, resilience.CheckoutTimedOut):
        return ("timeout", at, event.waited_ns)
    if isinstance(event, resilience.CreateFailed):
        return ("create_failed", at, _error(event.error))
    if isinstance(event, resilience.DestroyFailed):
        return ("destroy_failed", at, event.resource.n, _error(event.error))
    if isinstance(event, resilience.LeaseLeaked):
        return ("leaked", at, event.resource.n, event.held_ns)
    raise AssertionError(f"unexpected event {event!r}")


def pool_machine(target: PoolTarget, coverage: CoverageTracker | None = None) -> type[PoolMachine]:
    return type(
        f"PoolMachine_{target.name}",
        (PoolMachine,),
        {"target": target, "coverage": coverage},
    )
