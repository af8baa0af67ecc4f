"""ResourcePool by example under frozen time: order of reuse, creation and overflow, timeouts,
validate/reset/destroy/factory failures, expiry at the exact boundary, misuse, leases, close,
leak reports, status/repr/metrics and events. Every pool's accounting is checked at the end of
every example: created - destroyed == idle + in_use, and no factory call is left holding a slot."""

from __future__ import annotations

import asyncio
import functools
import logging
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    AsyncResourcePool,
    CheckoutTimedOut,
    ConfigError,
    CreateFailed,
    DestroyFailed,
    Event,
    Lease,
    LeaseLeaked,
    PoolClosed,
    PoolError,
    PoolTimeout,
    ResilienceError,
    ResourceCheckedIn,
    ResourceCheckedOut,
    ResourceCreated,
    ResourceDestroyed,
    ResourcePool,
)
from resilience.pool import DEFAULT

MS = 1_000  # microseconds
S = 1_000_000  # microseconds
WAIT = 5.0  # real seconds; only ever reached when something is broken


class Res:
    """A resource: a serial number, and flags the callbacks below read."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.stale = False  # validate says no
        self.dirty = False  # reset raises

    def __repr__(self) -> str:
        return f"Res({self.serial})"


class Factory:
    """Makes Res(0), Res(1), ...; raises ``fail`` instead while it is set."""

    def __init__(self) -> None:
        self.made: list[Res] = []
        self.fail: BaseException | None = None

    def __call__(self) -> Res:
        if self.fail is not None:
            raise self.fail
        resource = Res(len(self.made))
        self.made.append(resource)
        return resource


class Calls:
    """Records the resources a callback was called with; ``validate``/``reset``/``destroy``."""

    def __init__(self) -> None:
        self.validated: list[object] = []
        self.reset: list[object] = []
        self.destroyed: list[object] = []
        self.validate_error: BaseException | None = None
        self.destroy_error: BaseException | None = None

    def on_validate(self, resource: Res) -> bool:
        self.validated.append(resource)
        if self.validate_error is not None:
            raise self.validate_error
        return not resource.stale

    def on_reset(self, resource: Res) -> None:
        self.reset.append(resource)
        if resource.dirty:
            raise ValueError(f"cannot reset {resource!r}")

    def on_destroy(self, resource: Res) -> None:
        self.destroyed.append(resource)
        if self.destroy_error is not None:
            raise self.destroy_error


def assert_accounting(pool: ResourcePool[Any]) -> None:
    """The pool's books balance: every resource created and not destroyed is idle or in use;
    no factory call is in flight and nobody waits; occupancy is within the configured bounds."""
    s = pool.status()
    assert s["created"] - s["destroyed"] == s["idle"] + s["in_use"], s
    assert s["creating"] == 0, s
    assert s["waiting"] == 0, s
    assert s["idle"] <= s["size"], s
    assert s["in_use"] <= s["size"] + s["max_overflow"], s


@pytest.fixture
def clock(frozen: FrozenTime) -> FrozenClock:
    return FrozenClock(frozen)


@pytest.fixture
def make(clock: FrozenClock) -> Iterator[Callable[..., ResourcePool[Any]]]:
    """``make(factory=None, **kwargs)``: a pool on the frozen clock (size 2 and timeout 0 unless
    given: a wait on frozen time would never end by itself), whose accounting is checked when the
    example ends."""
    made: list[ResourcePool[Any]] = []

    def build(factory: Callable[[], Any] | None = None, **kwargs: Any) -> ResourcePool[Any]:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("size", 2)
        kwargs.setdefault("timeout", 0)
        pool: ResourcePool[Any] = ResourcePool(factory or Factory(), **kwargs)
        made.append(pool)
        return pool

    yield build
    for pool in made:
        assert_accounting(pool)


def record(pool: ResourcePool[Any]) -> list[Event]:
    events: list[Event] = []
    pool.subscribe(events.append)
    return events


def of(events: list[Event], kind: type[Event]) -> list[Any]:
    return [event for event in events if type(event) is kind]


def destroyed(events: list[Event]) -> list[tuple[object, str, BaseException | None]]:
    return [(e.resource, e.reason, e.error) for e in of(events, ResourceDestroyed)]


def eventually(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` in real time (time.monotonic is frozen, so count sleeps)."""
    for _ in range(int(WAIT / 0.005)):
        if condition():
            return
        time.sleep(0.005)
    raise AssertionError("condition not reached in real time")


# ------------------------------------------------------------------ order of reuse, creation

# A "plain" pool lends idle resources on a fast path; validate forces the general plan.
PATHS = {"plain": {}, "validated": {"validate": bool}}
# checkout() and lease() each have their own fast path.
BORROWS = ["checkout", "lease"]


def borrow_all(pool: ResourcePool[Any], by: str) -> list[object]:
    """Borrow every idle resource by ``checkout`` or by ``lease`` (left open): in lending order.
    Returns what was lent, then gives it all back in that order."""
    if by == "checkout":
        lent = [pool.checkout() for _ in range(pool.status()["idle"])]
        give_back = [functools.partial(pool.checkin, r) for r in lent]
    else:
        leases = [pool.lease() for _ in range(pool.status()["idle"])]
        lent = [lease.__enter__() for lease in leases]
        give_back = [functools.partial(lease.__exit__, None, None, None) for lease in leases]
    assert pool.status()["idle"] == 0
    for call in give_back:
        call()
    return lent


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("by", BORROWS)
def test_lifo_lends_the_most_recently_returned_first(
    make: Callable[..., ResourcePool[Any]], path: str, by: str
) -> None:
    """lifo=True (the default): returned a, b, c, the pool lends c, then b, then a."""
    pool = make(size=3, **PATHS[path])
    a, b, c = pool.checkout(), pool.checkout(), pool.checkout()
    for resource in (a, b, c):
        pool.checkin(resource)
    assert borrow_all(pool, by) == [c, b, a]
    assert pool.status()["created"] == 3


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("by", BORROWS)
def test_fifo_lends_the_longest_idle_first(
    make: Callable[..., ResourcePool[Any]], path: str, by: str
) -> None:
    """lifo=False: returned a, b, c, the pool lends a, then b, then c."""
    pool = make(size=3, lifo=False, **PATHS[path])
    a, b, c = pool.checkout(), pool.checkout(), pool.checkout()
    for resource in (a, b, c):
        pool.checkin(resource)
    assert borrow_all(pool, by) == [a, b, c]


def test_creates_only_when_nothing_is_idle(make: Callable[..., ResourcePool[Any]]) -> None:
    """A pool starts empty; the factory runs only when no resource is idle, and every resource
    it makes is announced by ResourceCreated and counted."""
    factory = Factory()
    pool = make(factory, size=2)
    events = record(pool)
    assert pool.status()["created"] == 0
    a = pool.checkout()
    pool.checkin(a)
    assert pool.checkout() is a  # reused, not made
    b = pool.checkout()  # a is out: a new one
    assert factory.made == [a, b]
    assert [e.resource for e in of(events, ResourceCreated)] == [a, b]
    status = pool.status()
    assert (status["created"], status["in_use"], status["idle"]) == (2, 2, 0)
    pool.checkin(a)
    pool.checkin(b)


def test_new_resources_are_not_validated(make: Callable[..., ResourcePool[Any]]) -> None:
    """validate vets idle resources before lending them; a resource fresh from the factory is
    lent without it."""
    calls = Calls()
    pool = make(validate=calls.on_validate)
    a = pool.checkout()
    assert calls.validated == []
    pool.checkin(a)
    assert pool.checkout() is a
    assert calls.validated == [a]
    pool.checkin(a)


# ------------------------------------------------------------------ overflow and timeouts


@pytest.mark.parametrize("listening", [False, True])
def test_overflow_is_created_beyond_size_and_destroyed_on_return(
    make: Callable[..., ResourcePool[Any]], listening: bool
) -> None:
    """size=1, max_overflow=2: three resources can be out at once; while the pool holds more
    than size, a returned resource is destroyed (reason "overflow", destroy called); the last
    one back stays idle."""
    calls = Calls()
    pool = make(size=1, max_overflow=2, destroy=calls.on_destroy)
    events = record(pool) if listening else []
    a, b, c = pool.checkout(), pool.checkout(), pool.checkout()
    assert pool.status()["in_use"] == 3
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)
    pool.checkin(a)
    pool.checkin(b)
    assert calls.destroyed == [a, b]
    status = pool.status()
    assert (status["idle"], status["in_use"], status["destroyed"]) == (0, 1, 2)
    pool.checkin(c)
    assert calls.destroyed == [a, b]
    assert pool.status()["idle"] == 1
    assert pool.checkout() is c
    pool.checkin(c)
    if listening:
        assert destroyed(events) == [(a, "overflow", None), (b, "overflow", None)]


RETURNS = ["checkin", "lease exit"]


@pytest.mark.parametrize("reason", ["overflow", "closed"])
@pytest.mark.parametrize("returned_by", RETURNS)
def test_a_returned_resource_the_pool_keeps_no_more_is_destroyed_when_it_comes_back(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime, reason: str, returned_by: str
) -> None:
    """In a plain pool (checkin and lease exit on their fast paths), a resource that comes back
    when the pool holds more than its size (overflow), or after close(), is destroyed: destroy is
    called, and ResourceDestroyed names the pool and the reason, stamped when it came back."""
    calls = Calls()
    pool = make(size=1, max_overflow=1, name="db", destroy=calls.on_destroy)
    events = record(pool)
    pool.checkin(pool.checkout())  # one idle resource: a lease of it takes the fast path
    lease = pool.lease()
    a = lease.__enter__() if returned_by == "lease exit" else pool.checkout()
    b = pool.checkout()  # overflow: the pool holds 2 > size
    if reason == "closed":
        pool.close()
    frozen.advance_us(250 * MS)
    if returned_by == "lease exit":
        lease.__exit__(None, None, None)
    else:
        pool.checkin(a)
    assert calls.destroyed == [a]
    assert of(events, ResourceDestroyed) == [
        ResourceDestroyed("db", frozen.now_ns(), a, reason, None)
    ]
    pool.checkin(b)


def test_timeout_zero_fails_at_once_naming_the_limits(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """With every resource out, checkout(timeout=0) raises PoolTimeout at once (time does not
    move): a PoolError and a TimeoutError carrying size, max_overflow and timeout, all named in
    its message; CheckoutTimedOut is emitted and counted."""
    pool = make(size=2, max_overflow=1, name="db")
    events = record(pool)
    held = [pool.checkout() for _ in range(3)]
    before = frozen.now_ns()
    with pytest.raises(PoolTimeout) as info:
        pool.checkout(timeout=0)
    error = info.value
    assert isinstance(error, PoolError)
    assert isinstance(error, TimeoutError)
    assert isinstance(error, ResilienceError)
    assert (error.pool, error.size, error.max_overflow, error.timeout) == ("db", 2, 1, 0.0)
    message = str(error)
    assert '"db"' in message
    assert "size=2" in message
    assert "max_overflow=1" in message
    assert "timeout=0 s" in message
    assert frozen.now_ns() == before
    assert of(events, CheckoutTimedOut) == [CheckoutTimedOut("db", before, 0)]
    assert pool.metrics()["timeouts"] == 1
    with pytest.raises(PoolTimeout), pool.lease(timeout=0):
        pass
    assert pool.metrics()["timeouts"] == 2
    status = pool.status()
    assert (status["waiting"], status["in_use"], status["created"]) == (0, 3, 3)
    for resource in held:
        pool.checkin(resource)


def test_timeout_zero_never_queues_even_if_a_resource_comes_back_meanwhile(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """checkout(timeout=0) on an exhausted pool fails at once, without ever joining the queue:
    a listener hearing the leak reports this checkout makes sees nobody waiting, and a resource
    it returns then is not handed to the failing checkout (PoolTimeout; it stays idle)."""
    pool = make(size=2, leak_threshold=1)
    a, b = pool.checkout(), pool.checkout()
    frozen.advance_us(2 * S)  # both leases leaked: this checkout reports them
    seen_waiting: list[int] = []

    def listener(event: Event) -> None:
        if isinstance(event, LeaseLeaked):
            seen_waiting.append(pool.status()["waiting"])
            if event.resource is b:
                pool.checkin(b)

    pool.subscribe(listener)
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)
    assert seen_waiting == [0, 0]
    status = pool.status()
    assert (status["idle"], status["in_use"], status["timeouts"]) == (1, 1, 1)
    pool.checkin(a)


def test_the_pool_timeout_is_the_default_and_can_be_overridden(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """timeout=0 on the pool applies to every checkout and lease that does not say otherwise;
    checkout(timeout=None) overrides it and waits until a resource comes back."""
    pool = make(size=1, timeout=0)
    held = pool.checkout()
    with pytest.raises(PoolTimeout) as info:
        pool.checkout()
    assert info.value.timeout == 0.0
    with pytest.raises(PoolTimeout), pool.lease():
        pass
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(pool.checkout(timeout=None)), daemon=True)
    thread.start()
    eventually(lambda: pool.status()["waiting"] == 1)
    pool.checkin(held)
    thread.join(WAIT)
    assert got == [held]
    pool.checkin(held)
    assert pool.metrics()["timeouts"] == 2


def test_a_positive_timeout_expires_exactly_on_the_pool_clock(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """checkout(timeout=60) waits while the pool's clock is short of 60 s, however long that
    takes in real time, and raises PoolTimeout once it reaches it (waited_ns == 60 s). 60 s is
    far beyond the real time the test waits, so a wait timed on the real clock fails it."""
    pool = make(size=1)
    events = record(pool)
    held = pool.checkout()
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            pool.checkout(timeout=60)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    eventually(lambda: pool.status()["waiting"] == 1)
    frozen.advance_us(60_000 * MS - 1)
    time.sleep(0.05)  # several of the waiter's polls of the frozen clock
    assert thread.is_alive()
    assert pool.status()["waiting"] == 1
    frozen.advance_us(1)
    thread.join(WAIT)
    assert not thread.is_alive(), "the timeout passed on the pool's clock, unnoticed"
    assert len(outcome) == 1
    assert isinstance(outcome[0], PoolTimeout)
    assert outcome[0].timeout == 60
    assert [e.waited_ns for e in of(events, CheckoutTimedOut)] == [60_000_000_000]
    assert pool.status()["waiting"] == 0
    pool.checkin(held)


def test_a_returned_overflow_resource_goes_to_a_waiter(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """A resource returned while the pool holds more than size is destroyed as overflow unless
    someone waits for it: then the waiter gets it."""
    calls = Calls()
    pool = make(size=1, max_overflow=1, destroy=calls.on_destroy)
    a, b = pool.checkout(), pool.checkout()
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(pool.checkout(timeout=None)), daemon=True)
    thread.start()
    eventually(lambda: pool.status()["waiting"] == 1)
    pool.checkin(a)
    thread.join(WAIT)
    assert got == [a]
    assert calls.destroyed == []
    pool.checkin(b)  # nobody waits now: overflow
    assert calls.destroyed == [b]
    pool.checkin(a)
    assert pool.status()["idle"] == 1


def test_pool_timeout_survives_pickling(make: Callable[..., ResourcePool[Any]]) -> None:
    """PoolTimeout pickles with its pool name, size, max_overflow and timeout (and message)."""
    pool = make(size=1, name="db")
    held = pool.checkout()
    with pytest.raises(PoolTimeout) as info:
        pool.checkout(timeout=0)
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.pool, copy.size, copy.max_overflow, copy.timeout) == ("db", 1, 0, 0.0)
    assert str(copy) == str(info.value)
    pool.checkin(held)


# ------------------------------------------------------------------ validate


def test_validate_returning_false_destroys_and_replaces_transparently(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """An idle resource validate rejects is destroyed (reason "invalid", no error) and the
    checkout goes on: to the next idle resource, or to the factory."""
    calls = Calls()
    pool = make(size=2, validate=calls.on_validate, destroy=calls.on_destroy)
    events = record(pool)
    a, b = pool.checkout(), pool.checkout()
    pool.checkin(a)
    pool.checkin(b)  # idle: [a, b], b is lent next
    b.stale = True
    assert pool.checkout() is a
    assert calls.validated == [b, a]
    assert calls.destroyed == [b]
    assert destroyed(events) == [(b, "invalid", None)]
    a.stale = True
    pool.checkin(a)
    c = pool.checkout()  # a rejected, nothing else idle: made anew
    assert c not in (a, b)
    assert destroyed(events)[1:] == [(a, "invalid", None)]
    metrics = pool.metrics()
    assert (metrics["failed_validations"], metrics["created"], metrics["destroyed"]) == (2, 3, 2)
    pool.checkin(c)


def test_validate_raising_destroys_with_the_error_and_replaces(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """validate raising is a "no": the resource is destroyed (reason "invalid", ``error`` is the
    exception raised), the exception does not reach the caller, a new resource is lent."""
    calls = Calls()
    pool = make(size=1, validate=calls.on_validate)
    events = record(pool)
    a = pool.checkout()
    pool.checkin(a)
    calls.validate_error = ConnectionError("ping failed")
    b = pool.checkout()
    assert b is not a
    assert destroyed(events) == [(a, "invalid", calls.validate_error)]
    assert pool.metrics()["failed_validations"] == 1
    pool.checkin(b)


# ------------------------------------------------------------------ factory


@pytest.mark.parametrize("listening", [False, True])
def test_factory_failure_propagates_and_keeps_no_slot(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime, listening: bool
) -> None:
    """The factory's own exception reaches the caller (checkout and lease); the slot it held is
    free again (creating == 0, nothing in use), CreateFailed names the pool and carries the
    error, and the pool can still lend its full capacity once the factory works."""
    factory = Factory()
    pool = make(factory, size=1, max_overflow=1, name="db")
    events = record(pool) if listening else []
    held = pool.checkout()
    failure = OSError("database down")
    factory.fail = failure
    for _ in range(3):
        with pytest.raises(OSError) as info:
            pool.checkout(timeout=0)
        assert info.value is failure
    with pytest.raises(OSError) as info, pool.lease(timeout=0):
        pass
    assert info.value is failure
    status = pool.status()
    assert (status["creating"], status["in_use"], status["created"]) == (0, 1, 1)
    assert status["failed_creates"] == 4
    factory.fail = None
    other = pool.checkout(timeout=0)
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)
    pool.checkin(held)
    pool.checkin(other)
    if listening:
        start = frozen.now_ns()
        assert of(events, CreateFailed) == [CreateFailed("db", start, failure)] * 4


def test_factory_returning_a_resource_the_pool_holds_is_refused(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """A factory that returns an object the pool already holds: PoolError (CreateFailed,
    failed_creates counts each), the object is not lent twice, and no slot is leaked."""
    shared = Res(0)
    fresh = Res(1)
    results = [shared, shared, shared, fresh]
    pool = make(lambda: results.pop(0), size=2)
    events = record(pool)
    assert pool.checkout() is shared
    refusals = []
    for _ in range(2):
        with pytest.raises(PoolError, match="already holds") as info:
            pool.checkout()
        assert not isinstance(info.value, PoolTimeout)
        refusals.append(info.value)
    assert [e.error for e in of(events, CreateFailed)] == refusals
    status = pool.status()
    assert (status["created"], status["in_use"], status["creating"]) == (1, 1, 0)
    assert status["failed_creates"] == 2
    assert pool.checkout(timeout=0) is fresh  # the slot is still usable
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)
    pool.checkin(shared)
    pool.checkin(fresh)
    assert pool.status()["idle"] == 2


# ------------------------------------------------------------------ reset and destroy


@pytest.mark.parametrize("how", ["checkin", "lease"])
def test_reset_failure_destroys_the_resource_quietly(
    make: Callable[..., ResourcePool[Any]], how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """reset raising on return: the resource is destroyed (reason "reset failed", error
    attached, logged), the return itself does not raise, and its slot is free again."""
    calls = Calls()
    pool = make(size=1, reset=calls.on_reset, destroy=calls.on_destroy)
    events = record(pool)
    with caplog.at_level(logging.WARNING, logger="resilience.pool"):
        if how == "checkin":
            a = pool.checkout()
            a.dirty = True
            pool.checkin(a)
        else:
            with pool.lease() as a:
                a.dirty = True
    assert calls.reset == [a]
    assert calls.destroyed == [a]
    ((resource, reason, error),) = destroyed(events)
    assert (resource, reason) == (a, "reset failed")
    assert isinstance(error, ValueError)
    assert "reset" in caplog.text
    status = pool.status()
    assert (status["idle"], status["in_use"], status["failed_resets"]) == (0, 0, 1)
    b = pool.checkout(timeout=0)
    assert b is not a
    pool.checkin(b)
    assert calls.reset == [a, b]


def test_reset_runs_on_every_return(make: Callable[..., ResourcePool[Any]]) -> None:
    """reset is called once per return (checkin or lease exit), before the resource is idle."""
    calls = Calls()
    pool = make(size=1, reset=calls.on_reset)
    a = pool.checkout()
    pool.checkin(a)
    with pool.lease() as again:
        assert again is a
    assert calls.reset == [a, a]


@pytest.mark.parametrize("where", ["overflow", "invalidate", "close", "invalid", "reset failed"])
def test_destroy_failure_is_reported_never_raised(
    make: Callable[..., ResourcePool[Any]], where: str, caplog: pytest.LogCaptureFixture
) -> None:
    """destroy raising, wherever the pool destroys (overflow return, invalidate, close, a
    rejected idle resource, a failed reset): DestroyFailed carries the resource and the error,
    failed_destroys counts it, it is logged, nothing raises and the resource is gone all the
    same."""
    calls = Calls()
    calls.destroy_error = RuntimeError("close failed")
    pool = make(
        size=1,
        max_overflow=1,
        validate=calls.on_validate,
        reset=calls.on_reset,
        destroy=calls.on_destroy,
    )
    events = record(pool)
    a = pool.checkout()
    with caplog.at_level(logging.WARNING, logger="resilience.pool"):
        if where == "overflow":
            b = pool.checkout()
            pool.checkin(a)  # two held, size 1: a is overflow
            pool.checkin(b)
        elif where == "invalidate":
            pool.invalidate(a)
        elif where == "close":
            pool.checkin(a)
            pool.close()
        elif where == "invalid":
            pool.checkin(a)
            a.stale = True
            pool.checkin(pool.checkout())
        else:
            a.dirty = True
            pool.checkin(a)
    assert calls.destroyed == [a]
    assert [(e.resource, e.error) for e in of(events, DestroyFailed)] == [(a, calls.destroy_error)]
    assert pool.metrics()["failed_destroys"] == 1
    assert pool.metrics()["destroyed"] == 1
    assert "destroy" in caplog.text
    with pytest.raises(PoolError):
        pool.checkin(a)


# ------------------------------------------------------------------ expiry


def test_max_lifetime_is_strict_at_checkout(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """max_lifetime=10 s: a resource exactly 10 s old is still lent; 1 us later it is destroyed
    (reason "max_lifetime", counted as expired) and replaced."""
    calls = Calls()
    pool = make(size=1, max_lifetime=10, destroy=calls.on_destroy)
    events = record(pool)
    a = pool.checkout()
    pool.checkin(a)
    frozen.advance_us(10 * S)
    assert pool.checkout() is a
    pool.checkin(a)
    frozen.advance_us(1)
    b = pool.checkout()
    assert b is not a
    assert calls.destroyed == [a]
    assert destroyed(events) == [(a, "max_lifetime", None)]
    assert pool.metrics()["expired"] == 1
    pool.checkin(b)


def test_max_lifetime_is_strict_at_return(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """A resource returned exactly max_lifetime after its creation goes back to the idle list;
    one returned 1 us past it is destroyed on return."""
    pool = make(size=2, max_lifetime=10)
    events = record(pool)
    a = pool.checkout()
    frozen.advance_us(5 * S)
    b = pool.checkout()
    frozen.advance_us(5 * S)  # a is exactly 10 s old
    pool.checkin(a)
    assert destroyed(events) == []
    assert pool.status()["idle"] == 1
    frozen.advance_us(5 * S + 1)  # b is 10 s + 1 us old
    pool.checkin(b)
    assert destroyed(events) == [(b, "max_lifetime", None)]
    assert pool.status()["idle"] == 1  # a, expired by now too: dropped when next looked at
    c = pool.checkout()
    assert c not in (a, b)
    assert destroyed(events)[1:] == [(a, "max_lifetime", None)]
    pool.checkin(c)


def test_max_idle_is_strict_and_counts_from_the_last_return(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """max_idle=5 s: idle exactly 5 s is still lent; the idle time restarts at every return (a
    long lease does not age it); idle 5 s + 1 us, it is destroyed (reason "max_idle")."""
    pool = make(size=1, max_idle=5)
    events = record(pool)
    a = pool.checkout()
    pool.checkin(a)
    frozen.advance_us(5 * S)
    assert pool.checkout() is a
    frozen.advance_us(60 * S)  # held for a minute: not idle time
    pool.checkin(a)
    assert pool.checkout() is a
    pool.checkin(a)
    frozen.advance_us(5 * S + 1)
    b = pool.checkout()
    assert b is not a
    assert destroyed(events) == [(a, "max_idle", None)]
    assert pool.metrics()["expired"] == 1
    pool.checkin(b)


def test_expired_idle_resources_are_all_skipped(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """Several expired idle resources are destroyed in one checkout, which then lends a fresh
    one; a resource returned more recently is preferred and survives."""
    pool = make(size=3, max_idle=1, lifo=False)
    events = record(pool)
    a, b, c = pool.checkout(), pool.checkout(), pool.checkout()
    pool.checkin(a)
    pool.checkin(b)
    frozen.advance_us(2 * S)
    pool.checkin(c)  # FIFO: a and b (expired) are ahead of c
    assert pool.checkout() is c
    assert destroyed(events) == [(a, "max_idle", None), (b, "max_idle", None)]
    pool.checkin(c)


# ------------------------------------------------------------------ misuse


def test_double_checkin_is_a_pool_error(make: Callable[..., ResourcePool[Any]]) -> None:
    """Checking the same resource in twice raises PoolError ("double check-in") and changes
    nothing."""
    pool = make()
    a = pool.checkout()
    pool.checkin(a)
    before = pool.status()
    with pytest.raises(PoolError, match="double check-in"):
        pool.checkin(a)
    assert pool.status() == before


def test_foreign_objects_are_refused(make: Callable[..., ResourcePool[Any]]) -> None:
    """checkin or invalidate of an object the pool did not lend raises PoolError (an equal
    object is not the same object), and changes nothing."""
    pool = make(factory=lambda: [1, 2])
    lent = pool.checkout()
    before = pool.status()
    for stranger in (object(), [1, 2], None):
        with pytest.raises(PoolError, match="did not lend"):
            pool.checkin(stranger)
        with pytest.raises(PoolError):
            pool.invalidate(stranger)
    assert pool.status() == before
    pool.checkin(lent)


def test_checkin_after_invalidate_is_a_pool_error(make: Callable[..., ResourcePool[Any]]) -> None:
    """invalidate destroys a lent resource (reason "invalidated") and frees its slot; checking it
    in (or invalidating it) afterwards raises PoolError."""
    calls = Calls()
    pool = make(size=1, destroy=calls.on_destroy)
    events = record(pool)
    a = pool.checkout()
    pool.invalidate(a)
    assert calls.destroyed == [a]
    assert destroyed(events) == [(a, "invalidated", None)]
    with pytest.raises(PoolError):
        pool.checkin(a)
    with pytest.raises(PoolError):
        pool.invalidate(a)
    b = pool.checkout(timeout=0)  # the slot is free
    assert b is not a
    assert pool.metrics()["invalidated"] == 1
    pool.checkin(b)


def test_invalidating_an_idle_resource_is_a_pool_error(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """Only a lent resource can be invalidated: an idle one raises PoolError and stays idle."""
    pool = make()
    a = pool.checkout()
    pool.checkin(a)
    with pytest.raises(PoolError):
        pool.invalidate(a)
    assert pool.status()["idle"] == 1


# ------------------------------------------------------------------ leases

LEASE_POOLS = {"plain": {}, "with reset": {"reset": lambda r: None}}


@pytest.mark.parametrize("kind", LEASE_POOLS)
def test_lease_returns_the_resource_on_exit(
    make: Callable[..., ResourcePool[Any]], kind: str
) -> None:
    """``with pool.lease() as r:`` lends r for the block and returns it on exit, also when the
    block raises (the exception propagates; the resource is not discarded)."""
    pool = make(size=1, **LEASE_POOLS[kind])
    with pool.lease() as a:
        assert pool.status()["in_use"] == 1
    assert pool.status()["idle"] == 1
    seen: list[object] = []

    def use_and_fail() -> None:
        with pool.lease() as again:
            seen.append(again)
            raise KeyError("in the block")

    with pytest.raises(KeyError):
        use_and_fail()
    assert seen == [a]
    status = pool.status()
    assert (status["idle"], status["in_use"], status["destroyed"]) == (1, 0, 0)
    assert (status["checked_out"], status["checked_in"]) == (2, 2)


# A lease lends a new resource, or an idle one (in a plain pool: on the fast path, both ways).
LENT = ["new", "idle"]


def prime(pool: ResourcePool[Any], lent: str) -> None:
    """For ``lent == "idle"``: make one resource and return it, so the next lease finds it idle."""
    if lent == "idle":
        pool.checkin(pool.checkout())


@pytest.mark.parametrize("kind", LEASE_POOLS)
@pytest.mark.parametrize("lent", LENT)
def test_lease_exit_after_invalidate_does_nothing(
    make: Callable[..., ResourcePool[Any]], kind: str, lent: str
) -> None:
    """pool.invalidate(r) inside the block destroys r; the block's exit then does nothing (no
    PoolError, no second destroy, nothing returned)."""
    calls = Calls()
    pool = make(size=1, destroy=calls.on_destroy, **LEASE_POOLS[kind])
    prime(pool, lent)
    with pool.lease() as a:
        pool.invalidate(a)
    assert calls.destroyed == [a]
    status = pool.status()
    assert (status["idle"], status["in_use"], status["destroyed"]) == (0, 0, 1)
    assert status["invalidated"] == 1
    assert status["checked_in"] == (0 if lent == "new" else 1)  # prime() checked one in


def lend(pool: ResourcePool[Any], way: str) -> tuple[object, Callable[[], None]]:
    """Lend one resource by ``checkout`` or by ``lease``: returns it and the call that gives it
    back."""
    if way == "checkout":
        resource = pool.checkout()
        return resource, lambda: pool.checkin(resource)
    lease = pool.lease()
    return lease.__enter__(), lambda: lease.__exit__(None, None, None)


# How r is lent again after it was checked in by hand inside a lease's block: each way but the
# last lends it and gives it back; the last keeps it lent.
RELENDS = [["checkout"], ["lease"], ["checkout", "lease"], ["lease", "checkout", "lease"]]


@pytest.mark.parametrize("kind", LEASE_POOLS)
@pytest.mark.parametrize("lent", LENT)
@pytest.mark.parametrize("relends", RELENDS, ids="+".join)
def test_lease_exit_ends_only_its_own_lease(
    make: Callable[..., ResourcePool[Any]], kind: str, lent: str, relends: list[str]
) -> None:
    """If r is checked in by hand inside the block and lent again (by checkout or by another
    lease, once or several times), the block's exit does not take it back from its new
    borrower."""
    pool = make(size=1, **LEASE_POOLS[kind])
    prime(pool, lent)
    give_back: Callable[[], None] | None = None
    with pool.lease() as a:
        pool.checkin(a)
        for way in relends:
            if give_back is not None:
                give_back()
            again, give_back = lend(pool, way)
            assert again is a
    assert pool.status()["in_use"] == 1  # still lent to the last borrower
    assert give_back is not None
    give_back()
    assert pool.status()["idle"] == 1


@pytest.mark.parametrize("kind", LEASE_POOLS)
@pytest.mark.parametrize("lent", LENT)
def test_a_second_exit_of_a_lease_does_nothing(
    make: Callable[..., ResourcePool[Any]], kind: str, lent: str
) -> None:
    """A lease's exit ends its lease once: calling __exit__ again does nothing and raises
    nothing, also once its resource is lent again under another lease, and after that one
    ended too."""
    pool = make(size=1, **LEASE_POOLS[kind])
    prime(pool, lent)
    lease = pool.lease()
    a = lease.__enter__()
    lease.__exit__(None, None, None)
    lease.__exit__(None, None, None)
    assert pool.checkout() is a
    lease.__exit__(None, None, None)
    assert pool.status()["in_use"] == 1  # still lent to its new borrower
    pool.checkin(a)
    lease.__exit__(None, None, None)
    status = pool.status()
    assert (status["idle"], status["in_use"]) == (1, 0)
    assert status["checked_in"] == (2 if lent == "new" else 3)  # prime() checked one in


@pytest.mark.parametrize("lent", LENT)
def test_a_lease_built_directly_is_like_one_from_pool_lease(
    make: Callable[..., ResourcePool[Any]], lent: str
) -> None:
    """Lease(pool, timeout) (the class is public) is what pool.lease(timeout) returns: it lends a
    resource for the block, gives it back on exit, is entered once only, and checks the timeout
    it was given."""
    pool = make(size=1)
    prime(pool, lent)
    lease: Lease[Any] = Lease(pool, DEFAULT)
    with lease as a:
        assert pool.status()["in_use"] == 1
        with pytest.raises(RuntimeError), lease:
            pass
    assert pool.status()["idle"] == 1
    with pytest.raises(ConfigError) as info, Lease(pool, -1):
        pass
    assert info.value.field == "timeout"
    assert pool.checkout() is a
    pool.checkin(a)


@pytest.mark.parametrize("lent", LENT)
def test_a_lease_object_cannot_be_entered_twice(
    make: Callable[..., ResourcePool[Any]], lent: str
) -> None:
    """One Lease is one checkout: entering it again raises RuntimeError and lends nothing."""
    pool = make(size=2)
    prime(pool, lent)
    lease = pool.lease()
    with lease:
        with pytest.raises(RuntimeError), lease:
            pass
        assert pool.status()["in_use"] == 1
    assert pool.status()["in_use"] == 0


# ------------------------------------------------------------------ close


def test_close_destroys_idle_at_once_and_lent_on_return(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """close(): idle resources are destroyed at once (reason "closed"); lent ones when they come
    back (checkin or lease exit); every later checkout raises PoolClosed (a PoolError)."""
    calls = Calls()
    pool = make(size=3, destroy=calls.on_destroy, name="db")
    events = record(pool)
    a, b = pool.checkout(), pool.checkout()
    lease = pool.lease()
    c = lease.__enter__()
    pool.checkin(a)
    pool.close()
    assert calls.destroyed == [a]
    assert pool.status()["closed"]
    assert pool.status()["in_use"] == 2
    pool.checkin(b)
    lease.__exit__(None, None, None)
    assert calls.destroyed == [a, b, c]
    assert destroyed(events) == [(a, "closed", None), (b, "closed", None), (c, "closed", None)]
    with pytest.raises(PoolClosed, match='"db" is closed') as info:
        pool.checkout()
    assert isinstance(info.value, PoolError)
    with pytest.raises(PoolClosed), pool.lease():
        pass
    status = pool.status()
    assert (status["idle"], status["in_use"], status["created"], status["destroyed"]) == (
        0,
        0,
        3,
        3,
    )


def test_close_is_idempotent(make: Callable[..., ResourcePool[Any]]) -> None:
    """A second close() does nothing: no event, no destroy call, no change."""
    calls = Calls()
    pool = make(destroy=calls.on_destroy)
    pool.checkin(pool.checkout())
    pool.close()
    events = record(pool)
    before = pool.status()
    pool.close()
    assert pool.status() == before
    assert events == []
    assert len(calls.destroyed) == 1


def test_a_lent_resource_can_be_invalidated_after_close(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """After close(), invalidating a resource still out destroys it (reason "invalidated")."""
    pool = make()
    events = record(pool)
    a = pool.checkout()
    pool.close()
    pool.invalidate(a)
    assert destroyed(events) == [(a, "invalidated", None)]


def test_pool_as_context_manager_closes(make: Callable[..., ResourcePool[Any]]) -> None:
    """``with pool:`` closes the pool on exit."""
    pool = make()
    with pool as same:
        assert same is pool
        pool.checkin(pool.checkout())
    assert pool.status()["closed"]
    assert pool.status()["idle"] == 0
    assert "closed" in repr(pool)


def test_close_wakes_a_waiting_checkout(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """A checkout waiting (without a timeout) when the pool closes raises PoolClosed."""
    pool = make(size=1)
    held = pool.checkout()
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            pool.checkout(timeout=None)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    eventually(lambda: pool.status()["waiting"] == 1)
    pool.close()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], PoolClosed)
    assert pool.status()["waiting"] == 0
    pool.checkin(held)


@pytest.mark.parametrize("during", ["factory", "validate", "reset"])
def test_close_during_a_callback(make: Callable[..., ResourcePool[Any]], during: str) -> None:
    """close() called while the factory or validate runs (here: by the callback itself): the
    checkout raises PoolClosed and the resource is destroyed (reason "closed", destroy called);
    while reset runs: the return completes and the resource is destroyed. Nothing is left in
    use."""
    pool: ResourcePool[Any]
    inner = Factory()

    def factory() -> Res:
        if during == "factory" and inner.made:
            pool.close()
        return inner()

    def validate(resource: Res) -> bool:
        if during == "validate":
            pool.close()
        return True

    def reset(resource: Res) -> None:
        if during == "reset" and resource.dirty:
            pool.close()

    calls = Calls()
    pool = make(factory, size=2, validate=validate, reset=reset, destroy=calls.on_destroy)
    events = record(pool)
    first = pool.checkout()
    if during == "factory":
        with pytest.raises(PoolClosed):
            pool.checkout()  # nothing idle: the factory runs, and closes the pool
        doomed = inner.made[1]
        pool.checkin(first)
    elif during == "validate":
        pool.checkin(first)
        with pytest.raises(PoolClosed):
            pool.checkout()  # validates `first`, and closes the pool
        doomed = first
    else:
        first.dirty = True
        pool.checkin(first)
        doomed = first
    assert (doomed, "closed", None) in destroyed(events)
    assert doomed in calls.destroyed
    status = pool.status()
    assert status["closed"]
    assert (status["idle"], status["in_use"], status["creating"]) == (0, 0, 0)
    assert status["created"] == status["destroyed"]


class Interrupt(BaseException):
    """Not an Exception: like KeyboardInterrupt, it must propagate, never count as a failure."""


def test_an_interrupted_factory_frees_its_slot(make: Callable[..., ResourcePool[Any]]) -> None:
    """A factory interrupted by a BaseException: it propagates, the slot is free again, and it
    is not counted (or announced) as a failed creation."""
    factory = Factory()
    pool = make(factory, size=1)
    events = record(pool)
    factory.fail = Interrupt()
    with pytest.raises(Interrupt):
        pool.checkout()
    assert pool.metrics()["failed_creates"] == 0
    assert of(events, CreateFailed) == []
    factory.fail = None
    pool.checkin(pool.checkout(timeout=0))


def test_an_interrupted_validate_puts_the_resource_back(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """validate interrupted by a BaseException: it propagates and the resource goes back to the
    idle list where it was (FIFO order kept), not destroyed, not counted as invalid."""
    calls = Calls()
    pool = make(size=2, lifo=False, validate=calls.on_validate)
    a, b = pool.checkout(), pool.checkout()
    pool.checkin(a)
    pool.checkin(b)
    calls.validate_error = Interrupt()
    with pytest.raises(Interrupt):
        pool.checkout()
    calls.validate_error = None
    assert pool.status()["idle"] == 2
    assert pool.metrics()["failed_validations"] == 0
    assert [pool.checkout(), pool.checkout()] == [a, b]
    pool.checkin(a)
    pool.checkin(b)


def interrupted() -> bool:
    raise Interrupt


def raising() -> bool:
    raise ValueError("cannot tell")


# How validate ends after it closed the pool, and what the checkout then raises.
VALIDATE_ENDINGS: dict[str, tuple[Callable[[], bool], type[BaseException]]] = {
    "valid": (lambda: True, PoolClosed),
    "invalid": (lambda: False, PoolClosed),
    "raising": (raising, PoolClosed),
    "interrupted": (interrupted, Interrupt),
}


@pytest.mark.parametrize("ending", VALIDATE_ENDINGS)
def test_a_pool_closed_while_validate_runs_destroys_the_resource(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime, ending: str
) -> None:
    """validate closes the pool, time passes, then validate returns (valid or not), raises, or is
    interrupted: the checkout raises PoolClosed (the interrupt, if interrupted), and the
    resource never goes back to the idle list of the closed pool: it is destroyed (reason
    "closed", not "invalid"), announced at the clock's reading when the checkout gave it up."""
    calls = Calls()
    pools: list[ResourcePool[Any]] = []
    end, raised = VALIDATE_ENDINGS[ending]

    def validate(resource: Res) -> bool:
        pools[0].close()
        frozen.advance_us(250 * MS)
        return end()

    pool = make(size=1, name="db", validate=validate, destroy=calls.on_destroy)
    pools.append(pool)
    events = record(pool)
    a = pool.checkout()  # a new resource is not validated
    pool.checkin(a)
    with pytest.raises(raised):
        pool.checkout()
    given_up = frozen.now_ns()
    assert of(events, ResourceDestroyed) == [ResourceDestroyed("db", given_up, a, "closed", None)]
    assert calls.destroyed == [a]
    status = pool.status()
    assert status["closed"]
    assert (status["idle"], status["in_use"], status["destroyed"]) == (0, 0, 1)
    assert pool.metrics()["failed_validations"] == 0


def test_an_interrupted_reset_destroys_the_resource_then_propagates(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """reset interrupted by a BaseException: the resource's state is unknown, so it is destroyed
    (reason "reset failed", the interrupt attached), then the interrupt propagates."""
    interrupt = Interrupt()

    def reset(resource: Res) -> None:
        raise interrupt

    pool = make(size=1, reset=reset)
    events = record(pool)
    a = pool.checkout()
    with pytest.raises(Interrupt):
        pool.checkin(a)
    assert destroyed(events) == [(a, "reset failed", interrupt)]
    assert pool.status()["in_use"] == 0


# ------------------------------------------------------------------ leak reports

REPORTERS = ["check_leaks", "checkout", "lease", "checkin", "invalidate", "close"]


def run_reporter(reporter: str, pool: ResourcePool[Any], other: Any) -> list[Callable[[], None]]:
    """Run one pool operation; return the calls that later give back what is still lent."""
    if reporter == "check_leaks":
        pool.check_leaks()
    elif reporter == "checkout":
        resource = pool.checkout()
        return [lambda: pool.checkin(resource), lambda: pool.checkin(other)]
    elif reporter == "lease":
        lease = pool.lease()
        lease.__enter__()
        return [lambda: lease.__exit__(None, None, None), lambda: pool.checkin(other)]
    elif reporter == "checkin":
        pool.checkin(other)
        return []
    elif reporter == "invalidate":
        pool.invalidate(other)
        return []
    else:
        pool.close()
    return [lambda: pool.checkin(other)]


@pytest.mark.parametrize("reporter", REPORTERS)
def test_a_leak_is_reported_once_by_the_next_operation(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime, reporter: str
) -> None:
    """leak_threshold=1 s: a lease held 1 s + 1 us is reported (LeaseLeaked with the resource and
    how long it has been held) by the next checkout, lease, checkin, invalidate, close or
    check_leaks; exactly once, however many operations follow, its own return included."""
    pool = make(size=4, leak_threshold=1)
    events = record(pool)
    leaked = pool.checkout()
    frozen.advance_us(600 * MS)
    other = pool.checkout()  # held 0.4 s when the reporter runs: not leaked
    frozen.advance_us(400 * MS + 1)
    give_back = run_reporter(reporter, pool, other)
    assert [(e.resource, e.held_ns) for e in of(events, LeaseLeaked)] == [(leaked, 1_000_001_000)]
    assert pool.metrics()["leaked"] == 1
    pool.check_leaks()
    if not pool.status()["closed"]:
        pool.checkin(pool.checkout())
    pool.checkin(leaked)
    for call in give_back:
        call()
    assert len(of(events, LeaseLeaked)) == 1
    assert pool.metrics()["leaked"] == 1


def test_a_leak_report_names_the_pool_the_resource_and_how_long_it_was_held(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """LeaseLeaked carries the pool's name, the clock reading of the operation that noticed,
    the resource and how long it has been held, exactly."""
    pool = make(size=1, name="db", leak_threshold=1)
    events = record(pool)
    leaked = pool.checkout()
    frozen.advance_us(S + 1)
    pool.check_leaks()
    assert of(events, LeaseLeaked) == [LeaseLeaked("db", frozen.now_ns(), leaked, 1_000_001_000)]
    pool.checkin(leaked)


def test_a_lease_held_exactly_the_threshold_is_not_a_leak(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """Held exactly leak_threshold: no report from any operation, nor when it is returned; once
    returned it can never be reported, however much time passes."""
    pool = make(size=2, leak_threshold=1)
    events = record(pool)
    held = pool.checkout()
    frozen.advance_us(S)
    pool.check_leaks()
    pool.checkin(pool.checkout())
    pool.checkin(held)
    frozen.advance_us(3600 * S)
    pool.check_leaks()
    pool.close()
    assert of(events, LeaseLeaked) == []
    assert pool.metrics()["leaked"] == 0


def test_every_lease_is_reported_on_its_own(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """The same resource leaked in two leases is reported twice, once per lease; a lease
    reported by its own return (checkin after the threshold) counts too."""
    pool = make(size=1, leak_threshold=1)
    events = record(pool)
    a = pool.checkout()
    frozen.advance_us(2 * S)
    pool.checkin(a)  # reported by its own check-in
    assert pool.checkout() is a
    frozen.advance_us(S + 1)
    pool.check_leaks()
    pool.check_leaks()
    pool.checkin(a)
    assert [(e.resource, e.held_ns) for e in of(events, LeaseLeaked)] == [
        (a, 2_000_000_000),
        (a, 1_000_001_000),
    ]


def test_leaks_are_reported_oldest_first(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """Several leaked leases are reported by one operation, oldest lease first; a younger
    lease still under the threshold is not."""
    pool = make(size=3, leak_threshold=1)
    events = record(pool)
    a = pool.checkout()
    frozen.advance_us(100 * MS)
    b = pool.checkout()
    frozen.advance_us(800 * MS)
    c = pool.checkout()
    frozen.advance_us(200 * MS)  # a: 1.1 s, b: 1.0 s (exactly), c: 0.2 s
    pool.check_leaks()
    assert [(e.resource, e.held_ns) for e in of(events, LeaseLeaked)] == [(a, 1_100_000_000)]
    frozen.advance_us(1)
    pool.check_leaks()
    assert [e.resource for e in of(events, LeaseLeaked)] == [a, b]
    for resource in (a, b, c):
        pool.checkin(resource)


# ------------------------------------------------------------------ observation


def test_status_and_repr_show_occupancy_and_counters(
    make: Callable[..., ResourcePool[Any]],
) -> None:
    """status() and repr() show size, max_overflow, idle, in use, creating, waiting, created
    and destroyed (and whether the pool is closed)."""
    pool = make(size=2, max_overflow=1, name="db")
    assert repr(pool) == (
        "<ResourcePool 'db' size=2 max_overflow=1 idle=0 in_use=0 "
        "creating=0 waiting=0 created=0 destroyed=0>"
    )
    a, b, c = pool.checkout(), pool.checkout(), pool.checkout()
    pool.checkin(a)  # overflow: destroyed
    pool.checkin(b)
    assert pool.status() == {
        "name": "db",
        "size": 2,
        "max_overflow": 1,
        "idle": 1,
        "in_use": 1,
        "creating": 0,
        "waiting": 0,
        "closed": False,
        "created": 3,
        "destroyed": 1,
        "checked_out": 3,
        "checked_in": 2,
        "timeouts": 0,
        "invalidated": 0,
        "leaked": 0,
        "expired": 0,
        "failed_validations": 0,
        "failed_resets": 0,
        "failed_creates": 0,
        "failed_destroys": 0,
    }
    assert repr(pool) == (
        "<ResourcePool 'db' size=2 max_overflow=1 idle=1 in_use=1 "
        "creating=0 waiting=0 created=3 destroyed=1>"
    )
    d = pool.checkout()
    e = pool.checkout()  # full again: 3 in use
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(pool.checkout(timeout=None)), daemon=True)
    thread.start()
    eventually(lambda: pool.status()["waiting"] == 1)
    assert "idle=0 in_use=3 creating=0 waiting=1 created=4 destroyed=1" in repr(pool)
    pool.checkin(c)
    thread.join(WAIT)
    assert got == [c]
    for resource in (c, d, e):
        pool.checkin(resource)
    pool.close()
    assert repr(pool) == (
        "<ResourcePool 'db' size=2 max_overflow=1 idle=0 in_use=0 creating=0 waiting=0 created=4 "
        "destroyed=4 closed>"
    )


def test_metrics_count_everything(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime
) -> None:
    """metrics() counts creations, destructions, checkouts, checkins, timeouts, invalidations,
    leaks, expiries and each kind of failure, and is the counter part of status()."""
    factory = Factory()
    calls = Calls()
    pool = make(
        factory,
        size=2,
        validate=calls.on_validate,
        reset=calls.on_reset,
        destroy=calls.on_destroy,
        max_lifetime=100,
        leak_threshold=10,
    )
    a, b = pool.checkout(), pool.checkout()  # created 2, checked_out 2
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)  # timeouts 1
    pool.invalidate(b)  # invalidated 1, destroyed 1
    factory.fail = OSError("down")
    with pytest.raises(OSError):
        pool.checkout()  # failed_creates 1
    factory.fail = None
    frozen.advance_us(11 * S)
    pool.checkin(a)  # leaked 1, checked_in 1
    a.stale = True
    c = pool.checkout()  # failed_validations 1, destroyed 2, created 3, checked_out 3
    c.dirty = True
    calls.destroy_error = RuntimeError("nope")
    pool.checkin(c)  # checked_in 2, failed_resets 1, destroyed 3, failed_destroys 1
    calls.destroy_error = None
    d = pool.checkout()  # created 4, checked_out 4
    pool.checkin(d)  # checked_in 3
    frozen.advance_us(101 * S)
    e = pool.checkout()  # d expired: expired 1, destroyed 4, created 5, checked_out 5
    pool.checkin(e)  # checked_in 4
    expected = {
        "created": 5,
        "destroyed": 4,
        "checked_out": 5,
        "checked_in": 4,
        "timeouts": 1,
        "invalidated": 1,
        "leaked": 1,
        "expired": 1,
        "failed_validations": 1,
        "failed_resets": 1,
        "failed_creates": 1,
        "failed_destroys": 1,
    }
    assert pool.metrics() == expected
    status = pool.status()
    assert {name: status[name] for name in expected} == expected


# A plain pool lends and takes back on fast paths; validate or reset force the general plans.
EVENT_PATHS: dict[str, dict[str, Any]] = {**PATHS, "with reset": {"reset": lambda resource: None}}


@pytest.mark.parametrize("path", EVENT_PATHS)
def test_events_carry_waits_holds_and_the_pool_name(
    make: Callable[..., ResourcePool[Any]], frozen: FrozenTime, path: str
) -> None:
    """ResourceCheckedOut carries how long the checkout waited (0 here), ResourceCheckedIn how
    long the resource was held, exactly on the pool's clock; every event names the pool and
    carries the clock reading, whichever path the pool takes."""
    pool = make(size=1, name="db", **EVENT_PATHS[path])
    events = record(pool)
    start = frozen.now_ns()
    a = pool.checkout()
    frozen.advance_us(250 * MS)
    pool.checkin(a)
    assert [type(e) for e in events] == [ResourceCreated, ResourceCheckedOut, ResourceCheckedIn]
    assert {e.source for e in events} == {"db"}
    created, out, back = events
    assert (created.at_ns, out.at_ns, back.at_ns) == (start, start, start + 250_000_000)
    assert out.waited_ns == 0
    assert back.held_ns == 250_000_000
    assert back.at == (start + 250_000_000) / 1e9


class TickingClock:
    """A clock that moves 1 us at every reading, as real time moves between two readings."""

    def __init__(self) -> None:
        self.now_ns = 86_400 * 1_000_000_000
        self.readings: list[int] = []

    def monotonic_ns(self) -> int:
        self.now_ns += 1_000
        self.readings.append(self.now_ns)
        return self.now_ns

    def monotonic(self) -> float:
        return self.monotonic_ns() / 1e9

    def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing here waits")


def lend_by_lease(pool: Any) -> None:
    with pool.lease():
        pass


def lend_by_checkout(pool: Any) -> None:
    pool.checkin(pool.checkout())


def lend_by_async_lease(pool: Any) -> None:
    async def lease() -> None:
        async with pool.lease():
            pass

    asyncio.run(lease())


LENDERS: dict[str, tuple[Any, Callable[[Any], None]]] = {
    "lease": (ResourcePool, lend_by_lease),
    "checkout": (ResourcePool, lend_by_checkout),
    "async lease": (AsyncResourcePool, lend_by_async_lease),
}


@pytest.mark.parametrize("lender", LENDERS)
def test_an_idle_resource_is_lent_at_one_clock_reading(lender: str) -> None:
    """In a plain pool a resource found idle is lent at one reading of the pool's clock (its own
    clock, not the system's), however the clock moves while the pool does its bookkeeping:
    ResourceCheckedOut says the checkout waited 0 ns and is stamped with the time it was lent
    (before it was checked in); both events name the pool."""
    cls, lend = LENDERS[lender]
    clock = TickingClock()
    pool = cls(object, size=1, clock=clock)
    if cls is ResourcePool:  # one idle resource
        lend_by_checkout(pool)
    else:
        lend_by_async_lease(pool)
    events = record(pool)
    lend(pool)
    out, back = events
    assert type(out) is ResourceCheckedOut
    assert out.source == cls.__name__
    assert out.waited_ns == 0
    assert type(back) is ResourceCheckedIn
    assert back.source == cls.__name__
    assert out.at_ns in clock.readings
    assert back.at_ns in clock.readings
    assert back.held_ns == back.at_ns - out.at_ns
    assert back.held_ns > 0


@pytest.mark.parametrize("returned_by", RETURNS)
def test_a_return_to_a_plain_pool_happens_at_one_clock_reading(returned_by: str) -> None:
    """In a plain pool (no validate, reset or limits) taking a resource back is one step at one
    reading of the pool's clock, however the clock moves meanwhile: an overflow resource's
    ResourceCheckedIn and ResourceDestroyed carry the same time."""
    clock = TickingClock()
    pool: ResourcePool[Any] = ResourcePool(object, size=1, max_overflow=1, clock=clock)
    pool.checkin(pool.checkout())  # one idle resource: a lease of it takes the fast path
    lease = pool.lease()
    a = lease.__enter__() if returned_by == "lease exit" else pool.checkout()
    b = pool.checkout()  # overflow: the pool holds 2 > size
    events = record(pool)
    if returned_by == "lease exit":
        lease.__exit__(None, None, None)
    else:
        pool.checkin(a)
    back, gone = events
    assert type(back) is ResourceCheckedIn
    assert isinstance(gone, ResourceDestroyed)
    assert (gone.resource, gone.reason) == (a, "overflow")
    assert back.at_ns == gone.at_ns
    assert back.at_ns in clock.readings
    pool.checkin(b)


def test_unsubscribed_listeners_hear_nothing(make: Callable[..., ResourcePool[Any]]) -> None:
    """subscribe() returns an unsubscribe function; after it, the listener gets no events."""
    pool = make()
    events: list[Event] = []
    unsubscribe = pool.subscribe(events.append)
    pool.checkin(pool.checkout())
    count = len(events)
    assert count == 3
    unsubscribe()
    pool.checkin(pool.checkout())
    assert len(events) == count
