"""AsyncResourcePool under asyncio.run: async and plain callbacks, ``async with`` leases, waiters
woken by check-ins in arrival order, real-clock timeouts, close() failing waiters, and
cancellation at every await point: a task leasing, checking out, waiting, checking in or
invalidating is cancelled after k event-loop iterations, for every k until it completes first,
and after each run the books balance exactly and the pool can still lend its full capacity.
Deadlines are exact on the pool's clock: a frozen one (slept out through its asleep, however
short) and the system one (the loop's timer, set when the wait begins)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    AsyncResourcePool,
    CheckoutTimedOut,
    DestroyFailed,
    Event,
    LeaseLeaked,
    PoolClosed,
    PoolError,
    PoolTimeout,
    ResourceDestroyed,
)


class Res:
    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.stale = False  # validate says no

    def __repr__(self) -> str:
        return f"Res({self.serial})"


async def yield_twice() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class AsyncCallbacks:
    """factory, validate, reset and destroy as coroutines that each yield to the loop twice (so a
    cancellation can land inside each of them), recording what they were called with."""

    def __init__(self) -> None:
        self.made: list[Res] = []
        self.validated: list[Res] = []
        self.reset: list[Res] = []
        self.destroyed: list[Res] = []

    async def factory(self) -> Res:
        await yield_twice()
        resource = Res(len(self.made))
        self.made.append(resource)
        return resource

    async def validate(self, resource: Res) -> bool:
        self.validated.append(resource)
        await yield_twice()
        return not resource.stale

    async def on_reset(self, resource: Res) -> None:
        self.reset.append(resource)
        await yield_twice()

    async def destroy(self, resource: Res) -> None:
        self.destroyed.append(resource)
        await yield_twice()

    def pool(self, **kwargs: Any) -> AsyncResourcePool[Res]:
        return AsyncResourcePool(
            self.factory,
            validate=self.validate,
            reset=self.on_reset,
            destroy=self.destroy,
            **{"size": 1, **kwargs},
        )


def assert_balanced(pool: AsyncResourcePool[Any], held: int) -> None:
    """created - destroyed == idle + in_use; exactly ``held`` resources are out (those the test
    holds); no factory call holds a slot; nobody waits."""
    s = pool.status()
    assert s["created"] - s["destroyed"] == s["idle"] + s["in_use"], s
    assert s["in_use"] == held, s
    assert s["creating"] == 0, s
    assert s["waiting"] == 0, s
    assert s["idle"] <= s["size"], s


async def assert_can_lend_capacity(pool: AsyncResourcePool[Any]) -> None:
    """With nothing out, the pool lends size + max_overflow resources at once (timeout=0: no
    slot is lost), takes them all back, and still balances."""
    capacity = pool.config.capacity
    lent = [await pool.checkout(timeout=0) for _ in range(capacity)]
    assert len({id(r) for r in lent}) == capacity
    with pytest.raises(PoolTimeout):
        await pool.checkout(timeout=0)
    for resource in lent:
        await pool.checkin(resource)
    assert_balanced(pool, 0)


# ------------------------------------------------------------------ callbacks and leases


@pytest.mark.parametrize("async_part", ["factory+reset", "validate+destroy"])
def test_async_and_plain_callbacks_are_both_accepted(async_part: str) -> None:
    """Any mix of async and plain factory/validate/reset/destroy works: each is called (and
    awaited when it returns an awaitable) at the right moment."""
    log: list[tuple[str, object]] = []
    made: list[Res] = []

    def plain_factory() -> Res:
        made.append(Res(len(made)))
        log.append(("factory", made[-1]))
        return made[-1]

    async def async_factory() -> Res:
        await asyncio.sleep(0)
        return plain_factory()

    def plain(name: str, result: object = None) -> Callable[[Res], object]:
        def callback(resource: Res) -> object:
            log.append((name, resource))
            return result

        return callback

    def asynchronous(name: str, result: object = None) -> Callable[[Res], Awaitable[object]]:
        async def callback(resource: Res) -> object:
            await asyncio.sleep(0)
            log.append((name, resource))
            return result

        return callback

    first_async = async_part == "factory+reset"
    pool = AsyncResourcePool(
        async_factory if first_async else plain_factory,
        size=1,
        max_overflow=1,
        validate=(plain if first_async else asynchronous)("validate", True),
        reset=(asynchronous if first_async else plain)("reset"),
        destroy=(plain if first_async else asynchronous)("destroy"),
    )

    async def scenario() -> None:
        async with pool.lease() as a, pool.lease() as b:
            assert b is not a
        async with pool.lease() as again:
            assert again is a
        await pool.close()

    asyncio.run(scenario())
    a, b = made
    assert log == [
        ("factory", a),
        ("factory", b),
        ("reset", b),
        ("destroy", b),  # overflow: the pool held 2, size is 1
        ("reset", a),
        ("validate", a),
        ("reset", a),
        ("destroy", a),  # closed
    ]
    assert_balanced(pool, 0)


def test_async_with_lease_returns_the_resource() -> None:
    """``async with pool.lease() as r`` lends r for the block and returns it on exit, also when
    the block raises; invalidating r inside the block makes the exit do nothing."""
    callbacks = AsyncCallbacks()
    pool = callbacks.pool(size=1)

    async def scenario() -> None:
        async with pool.lease() as a:
            assert pool.status()["in_use"] == 1
        assert pool.status()["idle"] == 1
        seen: list[Res] = []

        async def use_and_fail() -> None:
            async with pool.lease() as again:
                seen.append(again)
                raise KeyError("in the block")

        with pytest.raises(KeyError):
            await use_and_fail()
        assert seen == [a]
        assert pool.status()["idle"] == 1
        async with pool.lease() as again:
            await pool.invalidate(again)
        assert callbacks.destroyed == [a]
        with pytest.raises(PoolError):
            await pool.checkin(a)
        assert_balanced(pool, 0)
        await assert_can_lend_capacity(pool)

    asyncio.run(scenario())
    assert pool.metrics()["checked_in"] >= 2


def test_waiters_are_woken_by_checkin_in_arrival_order() -> None:
    """Three tasks wait for the only resource; each check-in hands it to the longest waiting
    one; a newcomer with timeout=0 cannot take it in between."""

    async def scenario() -> list[int]:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1)
        held = await pool.checkout()
        order: list[int] = []

        async def waiter(index: int) -> None:
            async with pool.lease() as resource:
                assert resource is held
                order.append(index)
                await asyncio.sleep(0)

        tasks = []
        for index in range(3):
            tasks.append(asyncio.create_task(waiter(index)))
            await asyncio.sleep(0)
            assert pool.status()["waiting"] == index + 1
        await pool.checkin(held)
        with pytest.raises(PoolTimeout):
            await pool.checkout(timeout=0)
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert_balanced(pool, 0)
        return order

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_timeouts_use_the_real_clock() -> None:
    """checkout(timeout=0.05) on an exhausted pool raises PoolTimeout after 50 ms (not much
    more); timeout=0 raises at once; the pool's own timeout is the default; the waiter leaves the
    queue each time."""

    async def scenario() -> None:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1, timeout=0.05)
        held = await pool.checkout()

        async def lease_with_default_timeout() -> None:
            async with pool.lease():
                pass

        for attempt in (pool.checkout(timeout=0.05), lease_with_default_timeout()):
            began = time.perf_counter()
            with pytest.raises(PoolTimeout) as info:
                await attempt
            elapsed = time.perf_counter() - began
            assert 0.05 <= elapsed < 1.0
            assert info.value.timeout == 0.05
            assert pool.status()["waiting"] == 0
        began = time.perf_counter()
        with pytest.raises(PoolTimeout):
            await pool.checkout(timeout=0)
        assert time.perf_counter() - began < 0.05
        await pool.checkin(held)
        assert pool.metrics()["timeouts"] == 3
        assert_balanced(pool, 0)

    asyncio.run(scenario())


def test_a_waiter_gets_a_resource_returned_before_its_timeout() -> None:
    """A task waiting with timeout=1 gets the resource another task returns after 10 ms."""

    async def scenario() -> float:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1)
        held = await pool.checkout()

        async def give_back() -> None:
            await asyncio.sleep(0.01)
            await pool.checkin(held)

        returner = asyncio.create_task(give_back())
        began = time.perf_counter()
        got = await pool.checkout(timeout=1)
        elapsed = time.perf_counter() - began
        await returner
        assert got is held
        await pool.checkin(got)
        assert_balanced(pool, 0)
        return elapsed

    assert asyncio.run(scenario()) < 0.5


def test_close_fails_waiting_tasks() -> None:
    """close() while tasks wait: each raises PoolClosed; the resource still out is destroyed
    when it comes back; later checkouts raise PoolClosed."""

    async def scenario() -> None:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=1)
        held = await pool.checkout()
        tasks = [asyncio.create_task(pool.checkout(timeout=t)) for t in (None, 10)]
        await asyncio.sleep(0)
        assert pool.status()["waiting"] == 2
        await pool.close()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2)
        assert all(isinstance(result, PoolClosed) for result in results)
        await pool.checkin(held)
        assert callbacks.destroyed == [held]
        with pytest.raises(PoolClosed):
            await pool.checkout()
        assert_balanced(pool, 0)

    asyncio.run(scenario())


# ------------------------------------------------------------------ cancellation at every await


@dataclass
class Scenario:
    """A fresh pool, the resources the test holds, the task to cancel, and optionally a helper
    task (never cancelled) started at loop iteration 1, e.g. returning what the test holds."""

    pool: AsyncResourcePool[Res]
    held: list[Res]
    task: Callable[[], Awaitable[object]]
    helper: Callable[[], Awaitable[object]] | None = None
    releases: list[Res] = field(default_factory=list)  # held resources the helper gives back
    # Held resources that stay held if the task never ran (k == 0) and not otherwise.
    taken_by_task: list[Res] = field(default_factory=list)


async def lease_body(pool: AsyncResourcePool[Res]) -> None:
    async with pool.lease():
        await asyncio.sleep(0)


async def bare_checkout(pool: AsyncResourcePool[Res]) -> Res:
    return await pool.checkout()


async def setup(
    state: str, frozen: FrozenTime, callbacks: AsyncCallbacks
) -> tuple[AsyncResourcePool[Res], list[Res]]:
    """A pool in a given state: "empty"; one valid resource "idle"; one "stale" idle resource
    (validate rejects it); one "expired" idle resource (past max_lifetime); "overflow": size 1,
    max_overflow 1, one resource held by the test; "exhausted": size 1, held by the test."""
    kwargs: dict[str, Any] = {"clock": FrozenClock(frozen)}
    if state == "overflow":
        kwargs["max_overflow"] = 1
    if state == "expired":
        kwargs["max_lifetime"] = 1
    pool = callbacks.pool(**kwargs)
    held: list[Res] = []
    if state in ("idle", "stale", "expired"):
        resource = await pool.checkout()
        await pool.checkin(resource)
        resource.stale = state == "stale"
        if state == "expired":
            frozen.advance_us(1_000_001)
    elif state in ("overflow", "exhausted"):
        held.append(await pool.checkout())
    return pool, held


def scenario_maker(name: str) -> Callable[[FrozenTime, AsyncCallbacks], Awaitable[Scenario]]:
    kind, _, state = name.partition("/")

    async def make(frozen: FrozenTime, callbacks: AsyncCallbacks) -> Scenario:
        pool, held = await setup(state, frozen, callbacks)
        if kind == "lease":
            return Scenario(pool, held, lambda: lease_body(pool))
        if kind == "checkout":
            return Scenario(pool, held, lambda: bare_checkout(pool))
        if kind in ("checkin", "invalidate"):
            own = await pool.checkout()  # the idle one, or (overflow) a second one
            held.append(own)
            method = pool.checkin if kind == "checkin" else pool.invalidate
            return Scenario(pool, held, lambda: method(own), taken_by_task=[own])
        # A waiter on the exhausted pool; the helper returns (or invalidates) what blocks it.
        assert state == "exhausted"
        blocker = held[0]
        how, _, what = kind.partition("-")
        body = (lambda: lease_body(pool)) if what == "lease" else (lambda: bare_checkout(pool))
        helper = pool.checkin if how == "waiter" else pool.invalidate
        return Scenario(pool, held, body, lambda: helper(blocker), releases=[blocker])

    return make


SCENARIOS = [
    "lease/empty",
    "lease/idle",
    "lease/stale",
    "lease/expired",
    "lease/overflow",
    "checkout/empty",
    "checkout/idle",
    "checkout/stale",
    "checkout/expired",
    "checkout/overflow",
    "waiter-lease/exhausted",  # the blocker is checked in: the waiter is granted it
    "waiter-checkout/exhausted",
    "invalidated-lease/exhausted",  # the blocker is invalidated: the waiter is granted a slot
    "invalidated-checkout/exhausted",
    "checkin/idle",  # cancel the check-in itself (reset, then maybe destroy)
    "checkin/overflow",
    "invalidate/idle",
]
MAX_K = 200


async def run_once(name: str, k: int, frozen: FrozenTime) -> bool:
    """One fresh scenario: cancel its task after k loop iterations. Returns whether the task
    had completed before the cancel. Asserts the books balance afterwards."""
    callbacks = AsyncCallbacks()
    scenario = await scenario_maker(name)(frozen, callbacks)
    pool, held = scenario.pool, list(scenario.held)
    task = asyncio.create_task(scenario.task())  # type: ignore[arg-type]
    helpers: list[asyncio.Task[object]] = []
    for iteration in range(k):
        if iteration == 1 and scenario.helper is not None:
            helpers.append(asyncio.create_task(scenario.helper()))  # type: ignore[arg-type]
        await asyncio.sleep(0)
    completed = task.done()
    task.cancel()
    try:
        result = await task
    except asyncio.CancelledError:
        assert not completed
        assert task.cancelled()
        result = None
    else:
        assert completed, f"{name}, k={k}: the task swallowed its cancellation"
    for helper in helpers:
        await asyncio.wait_for(helper, 5)
    if helpers:
        held = [r for r in held if r not in scenario.releases]
    if k > 0:  # the task ran: it checked in or invalidated what it was given
        held = [r for r in held if r not in scenario.taken_by_task]
    if isinstance(result, Res):
        held.append(result)
    assert_balanced(pool, len(held))
    for resource in held:
        await pool.checkin(resource)
    assert_balanced(pool, 0)
    await assert_can_lend_capacity(pool)
    await pool.close()
    assert_balanced(pool, 0)
    assert pool.status()["idle"] == 0
    return completed


@pytest.mark.parametrize("name", SCENARIOS)
def test_cancellation_at_every_await_point_leaks_nothing(name: str, frozen: FrozenTime) -> None:
    """Cancel the scenario's task after k = 0, 1, 2, ... loop iterations (a fresh pool each
    time, with async callbacks that each yield twice) until one k lets it complete first: every
    time, created - destroyed == idle + in_use, in_use is what the test still holds, no slot is
    held by a factory call, nobody waits, and the pool lends its full capacity again."""

    async def sweep() -> int:
        for k in range(MAX_K):
            if await run_once(name, k, frozen):
                return k
        raise AssertionError(f"{name}: the task never completed within {MAX_K} iterations")

    first_complete = asyncio.run(sweep())
    # Every scenario awaits at least two callbacks (two iterations each) before completing.
    assert first_complete >= 3
    cancelled = f"k=0..{first_complete - 1}"
    print(f"\n[pool cancel] {name}: cancelled at {cancelled}, completed at k={first_complete}")


def test_a_granted_waiter_cancelled_before_it_runs_passes_the_resource_on() -> None:
    """A waiter granted the returned resource, but cancelled before it resumes, hands it to the
    next waiter (nothing is lost, no one is overtaken)."""

    async def scenario() -> None:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1)
        held = await pool.checkout()
        first = asyncio.create_task(pool.checkout())
        second = asyncio.create_task(pool.checkout())
        await asyncio.sleep(0)
        assert pool.status()["waiting"] == 2
        await pool.checkin(held)  # granted to `first`, which has not resumed yet
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        got = await asyncio.wait_for(second, 2)
        assert got is held
        await pool.checkin(got)
        assert_balanced(pool, 0)

    asyncio.run(scenario())


def test_destroy_events_name_a_reason_for_every_destroyed_resource() -> None:
    """Every resource the pool lets go of is announced once with its reason (overflow,
    invalidated, closed here)."""
    events: list[Event] = []

    async def scenario() -> None:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=1, max_overflow=1)
        pool.subscribe(events.append)
        a = await pool.checkout()
        b = await pool.checkout()
        await pool.checkin(a)  # overflow
        await pool.invalidate(b)
        c = await pool.checkout()
        await pool.checkin(c)
        await pool.close()
        assert callbacks.destroyed == [a, b, c]

    asyncio.run(scenario())
    reasons = [e.reason for e in events if isinstance(e, ResourceDestroyed)]
    assert reasons == ["overflow", "invalidated", "closed"]


def test_a_checkin_cancelled_during_reset_destroys_the_resource() -> None:
    """A check-in cancelled inside reset: the resource's state is unknown, so it is destroyed
    (reason "reset failed", the CancelledError attached, destroy still awaited), then the
    cancellation propagates; the slot is free again."""

    async def scenario() -> None:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=1)
        events: list[Event] = []
        pool.subscribe(events.append)
        a = await pool.checkout()
        task = asyncio.create_task(pool.checkin(a))
        await asyncio.sleep(0)  # the check-in is inside reset now
        assert callbacks.reset == [a]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ((event,),) = [[e for e in events if isinstance(e, ResourceDestroyed)]]
        assert (event.resource, event.reason) == (a, "reset failed")
        assert isinstance(event.error, asyncio.CancelledError)
        assert callbacks.destroyed == [a]
        assert pool.metrics()["failed_resets"] == 1
        assert_balanced(pool, 0)
        await assert_can_lend_capacity(pool)

    asyncio.run(scenario())


def test_a_checkout_cancelled_during_validate_puts_the_resource_back() -> None:
    """A checkout cancelled inside validate puts the resource back where it was: FIFO order and
    its idle time are unchanged (it is still the longest idle, and expires on schedule)."""

    async def scenario(frozen: FrozenTime) -> None:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=2, lifo=False, max_idle=10, clock=FrozenClock(frozen))
        a, b = await pool.checkout(), await pool.checkout()
        await pool.checkin(a)
        frozen.advance_us(5_000_000)
        await pool.checkin(b)
        task = asyncio.create_task(pool.checkout())
        await asyncio.sleep(0)  # inside validate(a)
        assert callbacks.validated == [a]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pool.metrics()["failed_validations"] == 0
        assert_balanced(pool, 0)
        frozen.advance_us(5_000_001)  # a idle 10 s + 1 us, b 5 s + 1 us
        got = await pool.checkout()
        assert got is b
        assert callbacks.destroyed == [a]
        await pool.checkin(b)

    with FrozenTime() as frozen:
        asyncio.run(scenario(frozen))


@pytest.mark.parametrize("reason", ["overflow", "closed"])
def test_a_lease_of_an_idle_resource_destroys_it_on_exit_if_the_pool_keeps_it_no_more(
    reason: str,
) -> None:
    """In a plain pool (no validate, reset or limits) a lease of an idle resource ends on the
    fast path; there too a resource the pool no longer keeps is destroyed on exit (destroy
    awaited, ResourceDestroyed with the reason): overflow, when the pool holds more than its
    size by then, or after close()."""

    async def scenario() -> None:
        callbacks = AsyncCallbacks()
        pool = AsyncResourcePool(
            callbacks.factory, size=1, max_overflow=1, destroy=callbacks.destroy
        )
        events: list[Event] = []
        pool.subscribe(events.append)
        await pool.checkin(await pool.checkout())
        others = []
        async with pool.lease() as a:
            if reason == "overflow":
                others.append(await pool.checkout())
            else:
                await pool.close()
        assert callbacks.destroyed == [a]
        destroyed = [(e.resource, e.reason) for e in events if isinstance(e, ResourceDestroyed)]
        assert destroyed == [(a, reason)]
        for other in others:
            await pool.checkin(other)
        assert_balanced(pool, 0)

    asyncio.run(scenario())


def test_a_granted_resource_whose_checkout_is_cancelled_in_validate_is_placed_afresh() -> None:
    """A resource handed to a waiter, whose checkout is then cancelled inside validate, is
    placed as if just checked in, not put back as if never taken: here the pool holds more than
    its size, so it is destroyed as overflow (reason "overflow", destroy awaited)."""

    async def scenario() -> None:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=1, max_overflow=1)
        events: list[Event] = []
        pool.subscribe(events.append)
        a, b = await pool.checkout(), await pool.checkout()  # b is overflow
        task = asyncio.create_task(pool.checkout())
        await asyncio.sleep(0)
        assert pool.status()["waiting"] == 1
        await pool.checkin(a)  # reset, then granted to the waiting task
        for _ in range(10):
            if callbacks.validated:
                break
            await asyncio.sleep(0)
        assert callbacks.validated == [a]  # the task is inside validate(a)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        destroyed = [(e.resource, e.reason) for e in events if isinstance(e, ResourceDestroyed)]
        assert destroyed == [(a, "overflow")]
        assert callbacks.destroyed == [a]
        assert pool.status()["idle"] == 0
        assert_balanced(pool, 1)
        await pool.checkin(b)
        assert_balanced(pool, 0)
        await assert_can_lend_capacity(pool)

    asyncio.run(scenario())


def test_a_cancelled_close_still_destroys_every_idle_resource() -> None:
    """close() cancelled while destroy runs: the interrupted destroy is reported (DestroyFailed
    with the CancelledError), the remaining destroys still run, then the cancellation
    propagates; for every k the books balance and the pool is closed."""

    async def once(k: int) -> bool:
        callbacks = AsyncCallbacks()
        pool = callbacks.pool(size=3)
        events: list[Event] = []
        pool.subscribe(events.append)
        lent = [await pool.checkout() for _ in range(3)]
        for resource in lent:
            await pool.checkin(resource)
        task = asyncio.create_task(pool.close())
        for _ in range(k):
            await asyncio.sleep(0)
        completed = task.done()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            assert not completed
        s = pool.status()
        assert s["closed"] == (k > 0)
        if k > 0:
            assert (s["idle"], s["destroyed"]) == (0, 3)
            assert sorted(callbacks.destroyed, key=lambda r: r.serial) == sorted(
                lent, key=lambda r: r.serial
            )
            failed = [e for e in events if isinstance(e, DestroyFailed)]
            assert len(failed) == (0 if completed else 1)
            assert all(isinstance(e.error, asyncio.CancelledError) for e in failed)
            assert s["failed_destroys"] == len(failed)
        assert_balanced(pool, 0)
        return completed

    async def sweep() -> int:
        for k in range(50):
            if await once(k):
                return k
        raise AssertionError("close never completed")

    assert asyncio.run(sweep()) == 7  # 3 destroys of 2 iterations each, then done


def test_a_timeout_on_a_frozen_clock_is_exact() -> None:
    """With a frozen clock an async waiter sleeps through the clock's asleep: checkout(timeout=
    0.25) raises PoolTimeout after exactly 0.25 s of pool time (CheckoutTimedOut.waited_ns)."""

    async def scenario(frozen: FrozenTime) -> None:
        pool: AsyncResourcePool[object] = AsyncResourcePool(
            object, size=1, clock=FrozenClock(frozen)
        )
        events: list[Event] = []
        pool.subscribe(events.append)
        held = await pool.checkout()
        before = frozen.now_ns()
        with pytest.raises(PoolTimeout):
            await pool.checkout(timeout=0.25)
        assert frozen.now_ns() - before == 250_000_000
        waited = [e.waited_ns for e in events if isinstance(e, CheckoutTimedOut)]
        assert waited == [250_000_000]
        await pool.checkin(held)
        assert_balanced(pool, 0)

    with FrozenTime() as frozen:
        asyncio.run(scenario(frozen))


class SpinGuardClock(FrozenClock):
    """A FrozenClock that fails the example once it has been read ``budget`` times: a checkout
    that loops without ever sleeping (the frozen clock would never move) fails instead of
    hanging."""

    __slots__ = ("reads",)

    budget = 1_000

    def __init__(self, frozen: FrozenTime) -> None:
        super().__init__(frozen)
        self.reads = 0

    def monotonic_ns(self) -> int:
        self.reads += 1
        if self.reads > self.budget:
            raise AssertionError(f"the clock was read {self.reads} times without sleeping")
        return super().monotonic_ns()


def test_a_one_nanosecond_timeout_is_slept_out_on_a_frozen_clock() -> None:
    """However short a positive timeout (1 ns here), a waiter sleeps through the clock's asleep
    until its deadline passes (a frozen clock moves in whole microseconds: 1 us), then raises
    PoolTimeout; it never loops without sleeping."""

    async def scenario(frozen: FrozenTime) -> None:
        clock = SpinGuardClock(frozen)
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1, clock=clock)
        events: list[Event] = []
        pool.subscribe(events.append)
        held = await pool.checkout()
        before = frozen.now_ns()
        with pytest.raises(PoolTimeout) as info:
            await pool.checkout(timeout=Decimal("0.000000001"))
        assert info.value.timeout == 1e-9
        assert frozen.now_ns() - before == 1_000
        waited = [e.waited_ns for e in events if isinstance(e, CheckoutTimedOut)]
        assert waited == [1_000]
        await pool.checkin(held)
        assert_balanced(pool, 0)

    with FrozenTime() as frozen:
        asyncio.run(scenario(frozen))


def test_a_deadline_passed_before_the_wait_begins_times_out_without_yielding() -> None:
    """Time that passes before a checkout starts waiting counts against its timeout: here the
    listener that hears the checkout's LeaseLeaked report takes the whole 0.5 s (on the pool's
    frozen clock). The checkout then raises PoolTimeout at once, without yielding to the loop: a
    task ready to return a resource does not run in between, and it is not handed over."""

    async def scenario(frozen: FrozenTime) -> None:
        pool: AsyncResourcePool[object] = AsyncResourcePool(
            object, size=1, leak_threshold=1, clock=FrozenClock(frozen)
        )
        events: list[Event] = []

        def listener(event: Event) -> None:
            events.append(event)
            if isinstance(event, LeaseLeaked):
                frozen.advance_us(500_000)

        pool.subscribe(listener)
        held = await pool.checkout()
        frozen.advance_us(2_000_000)
        returner = asyncio.create_task(pool.checkin(held))  # ready to run at the next yield
        with pytest.raises(PoolTimeout):
            await pool.checkout(timeout=0.5)
        assert not returner.done()
        waited = [e.waited_ns for e in events if isinstance(e, CheckoutTimedOut)]
        assert waited == [500_000_000]
        await returner
        assert_balanced(pool, 0)
        assert pool.status()["idle"] == 1

    with FrozenTime() as frozen:
        asyncio.run(scenario(frozen))


def test_a_system_clock_timeout_counts_from_when_the_wait_began() -> None:
    """On the system clock a waiting task's timer is set when it starts to wait, so time that
    passes before the loop comes round again counts. Frozen time (which the loop reads too)
    jumps 0.5 s right after the task starts waiting, then 0.5 s more: checkout(timeout=1) times
    out as the clock reaches exactly 1 s after it began, not 0.5 s later."""

    async def scenario(frozen: FrozenTime) -> None:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1)
        events: list[Event] = []
        pool.subscribe(events.append)
        held = await pool.checkout()
        task = asyncio.create_task(pool.checkout(timeout=1))
        await asyncio.sleep(0)
        assert pool.status()["waiting"] == 1  # the task waits now
        frozen.advance_us(500_000)
        await asyncio.sleep(0)
        frozen.advance_us(500_000)
        for _ in range(10):
            if task.done():
                break
            await asyncio.sleep(0)
        assert task.done(), "the deadline passed on the pool's clock, unnoticed"
        assert isinstance(task.exception(), PoolTimeout)
        waited = [e.waited_ns for e in events if isinstance(e, CheckoutTimedOut)]
        assert waited == [1_000_000_000]
        await pool.checkin(held)
        assert_balanced(pool, 0)

    with FrozenTime() as frozen:
        asyncio.run(scenario(frozen))
