"""Bulkhead and AsyncBulkhead by example, under frozen time: configuration errors, admission and
refusal, permits that cannot be misused, release whatever the call does, waiting measured on the
bulkhead's clock, first come first served, cancellation, events, status, metrics and repr. Every
bulkhead's books are checked when the example ends: admitted == finished + in_flight, nobody
waits, nothing is in flight."""

from __future__ import annotations

import asyncio
import math
import pickle
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

import resilience
from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    AsyncBulkhead,
    Bulkhead,
    BulkheadAdmitted,
    BulkheadFull,
    BulkheadRejected,
    BulkheadReleased,
    ConfigError,
    Event,
    ResilienceError,
)
from resilience.waiting import POLL_SECONDS

MS = 1_000_000  # ns
WAIT = 5.0  # real seconds; only ever reached when something is broken


def assert_settled(bulkhead: Any) -> None:
    """Nothing in flight, nobody waiting, and every admission finished."""
    s = bulkhead.status()
    assert s["in_flight"] == 0, s
    assert s["waiting"] == 0, s
    assert s["free"] == s["max_concurrent"], s
    assert s["admitted"] == s["finished"], s


@pytest.fixture
def clock(frozen: FrozenTime) -> FrozenClock:
    return FrozenClock(frozen)


@pytest.fixture
def make(clock: FrozenClock) -> Iterator[Callable[..., Bulkhead]]:
    """``make(max_concurrent=2, **kwargs)``: a Bulkhead on the frozen clock, settled at the end."""
    made: list[Bulkhead] = []

    def build(max_concurrent: int = 2, **kwargs: Any) -> Bulkhead:
        kwargs.setdefault("clock", clock)
        bulkhead = Bulkhead(max_concurrent, **kwargs)
        made.append(bulkhead)
        return bulkhead

    yield build
    for bulkhead in made:
        assert_settled(bulkhead)


def until(condition: Callable[[], bool]) -> None:
    """Wait (in real time, up to WAIT seconds) for another thread to make ``condition`` true."""
    pause = threading.Event()
    for _ in range(int(WAIT / 0.001)):
        if condition():
            return
        pause.wait(0.001)
    raise AssertionError("condition not reached")


async def until_async(condition: Callable[[], bool], rounds: int = 1_000) -> None:
    """Let other tasks run, one loop iteration at a time, until ``condition`` is true."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def record(bulkhead: Any) -> list[Event]:
    events: list[Event] = []
    bulkhead.subscribe(events.append)
    return events


def plain(events: list[Event]) -> list[tuple[str, int]]:
    """Events as (kind, waited or held ns)."""
    out: list[tuple[str, int]] = []
    for event in events:
        if isinstance(event, BulkheadAdmitted):
            out.append(("admitted", event.waited_ns))
        elif isinstance(event, BulkheadRejected):
            out.append(("rejected", event.waited_ns))
        elif isinstance(event, BulkheadReleased):
            out.append(("released", event.held_ns))
    return out


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize("value", [0, -1, 1.5, True, False, "3", None, 2.0])
def test_max_concurrent_must_be_a_positive_int(value: object) -> None:
    """max_concurrent is an int >= 1 (never a bool, float or string): ConfigError naming it."""
    for cls in (Bulkhead, AsyncBulkhead):
        with pytest.raises(ConfigError, match="max_concurrent") as caught:
            cls(value)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("max_concurrent", value)
        assert "integer >= 1" in caught.value.rule


@pytest.mark.parametrize(
    "value", [-1, -0.001, math.nan, math.inf, -math.inf, True, "1", Decimal("NaN"), 1e-12, [1]]
)
def test_max_wait_must_be_a_finite_duration(value: object) -> None:
    """max_wait is None or a finite duration >= 0 (not NaN, inf, negative, bool, string, nor a
    positive value below a nanosecond): ConfigError naming it, at construction and per permit."""
    for cls in (Bulkhead, AsyncBulkhead):
        with pytest.raises(ConfigError, match="max_wait") as caught:
            cls(1, max_wait=value)
        assert caught.value.field == "max_wait"
        with pytest.raises(ConfigError, match="max_wait"):
            cls(1).permit(max_wait=value)


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (0, 0),
        (None, None),
        (0.25, 250 * MS),
        (Fraction(1, 3), 333_333_333),
        (Decimal("0.001"), MS),
        (timedelta(milliseconds=5), 5 * MS),
        (2, 2_000 * MS),
    ],
)
def test_max_wait_spellings(value: object, ns: int | None) -> None:
    """Seconds as int, float (read as the decimal it prints as), Fraction, Decimal or timedelta;
    None waits forever."""
    config = Bulkhead(1, max_wait=value).config
    assert config.max_wait_ns == ns
    assert config.max_wait == (None if ns is None else ns / 1e9)


def test_name_and_clock_are_checked() -> None:
    """name must be a string (default: the class name); clock a Clock instance."""
    with pytest.raises(ConfigError, match="name"):
        Bulkhead(1, name=5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="clock"):
        Bulkhead(1, clock="monotonic")
    with pytest.raises(ConfigError, match="clock"):
        Bulkhead(1, clock=resilience.SystemClock)  # the class, not an instance
    assert Bulkhead(1).name == "Bulkhead"
    assert AsyncBulkhead(1).name == "AsyncBulkhead"
    assert Bulkhead(1, name="db").name == "db"


def test_call_checks_fn_before_taking_a_permit(make: Callable[..., Bulkhead]) -> None:
    """A non-callable fn, or an async function on the sync bulkhead, is a ConfigError and takes
    no permit."""
    bulkhead = make(1)
    with pytest.raises(ConfigError, match="fn"):
        bulkhead.call(42)  # type: ignore[arg-type]

    async def job() -> None: ...

    class Job:
        async def __call__(self) -> None: ...

    for coroutine_function in (job, Job()):
        with pytest.raises(ConfigError, match="AsyncBulkhead") as refused:
            bulkhead.call(coroutine_function)  # type: ignore[unused-coroutine]
        assert (refused.value.field, refused.value.value) == ("fn", coroutine_function)
        assert refused.value.rule == "is an async function: use AsyncBulkhead.call_async"
    assert bulkhead.metrics() == {"admitted": 0, "rejected": 0, "finished": 0, "abandoned": 0}

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="fn") as refused:
            await AsyncBulkhead(1).call_async("job")  # type: ignore[call-overload]
        assert (refused.value.field, refused.value.value) == ("fn", "job")
        assert refused.value.rule == "must be callable"

    asyncio.run(scenario())


# ------------------------------------------------------------------ admission and release


def test_admits_up_to_max_concurrent_then_refuses(make: Callable[..., Bulkhead]) -> None:
    """With max_wait=0, max_concurrent permits are held at once and the next entry raises
    BulkheadFull at once; a released permit admits the next caller."""
    bulkhead = make(2)
    with bulkhead.permit(), bulkhead.permit():
        assert bulkhead.status()["in_flight"] == 2
        assert bulkhead.status()["free"] == 0
        with pytest.raises(BulkheadFull) as caught, bulkhead.permit():
            pass
        error = caught.value
        assert (error.bulkhead, error.max_concurrent, error.max_wait) == ("Bulkhead", 2, 0.0)
        assert "all 2 permits in use" in str(error)
    with bulkhead.permit():
        pass
    assert bulkhead.metrics() == {"admitted": 3, "rejected": 1, "finished": 3, "abandoned": 0}


def test_bulkhead_full_is_a_resilience_error_and_pickles() -> None:
    """BulkheadFull derives from ResilienceError and survives pickling with its attributes."""
    error = BulkheadFull("db", max_concurrent=3, max_wait=0.5)
    assert isinstance(error, ResilienceError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.bulkhead, copy.max_concurrent, copy.max_wait) == ("db", 3, 0.5)
    assert str(copy) == str(error)


def test_call_returns_the_result_and_passes_arguments(make: Callable[..., Bulkhead]) -> None:
    """call(fn, *args, **kwargs) returns fn's result; the permit is back afterwards."""
    bulkhead = make(1)

    def add(a: int, b: int = 0) -> int:
        return a + b

    assert bulkhead.call(add, 2, b=3) == 5
    assert bulkhead.status()["in_flight"] == 0


def test_a_raising_call_or_block_releases_its_permit(make: Callable[..., Bulkhead]) -> None:
    """An exception in fn or in the with block propagates unchanged, and the permit is back."""
    bulkhead = make(1)

    def boom() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        bulkhead.call(boom)
    with pytest.raises(KeyboardInterrupt), bulkhead.permit():
        raise KeyboardInterrupt
    assert bulkhead.status()["in_flight"] == 0
    assert bulkhead.metrics()["finished"] == 2


def test_a_permit_is_single_use(make: Callable[..., Bulkhead]) -> None:
    """Entering a permit twice (while held, after exit, or after a refusal) and exiting one that
    is not held raise RuntimeError, and never take or release a permit."""
    bulkhead = make(1)
    permit = bulkhead.permit()
    with pytest.raises(RuntimeError, match="not held"):
        permit.__exit__(None, None, None)
    with permit:
        held_inside = permit.held
        with pytest.raises(RuntimeError, match="entered once"), permit:
            pass
        refused = bulkhead.permit()
        with pytest.raises(BulkheadFull), refused:
            pass
    assert (held_inside, permit.held) == (True, False)
    with pytest.raises(RuntimeError, match="not held"):
        permit.__exit__(None, None, None)
    for used in (permit, refused):
        with pytest.raises(RuntimeError, match="entered once"), used:
            pass
    assert bulkhead.metrics() == {"admitted": 1, "rejected": 1, "finished": 1, "abandoned": 0}


def test_the_lock_is_not_held_while_the_call_runs(make: Callable[..., Bulkhead]) -> None:
    """Inside the protected call another thread can read the bulkhead's status (it would
    deadlock if the call ran under the lock), and sees the call in flight."""
    bulkhead = make(2)
    seen: list[int] = []

    def look() -> None:
        reader = threading.Thread(
            target=lambda: seen.append(bulkhead.status()["in_flight"]), daemon=True
        )
        reader.start()
        reader.join(WAIT)
        assert not reader.is_alive(), "status() blocked: the call runs under the lock"

    bulkhead.call(look)
    assert seen == [1]


# ------------------------------------------------------------------ waiting on the clock


def test_a_thread_waits_on_the_bulkhead_clock(
    frozen: FrozenTime, make: Callable[..., Bulkhead]
) -> None:
    """A blocked thread's max_wait is measured on the bulkhead's (frozen) clock: it waits while
    frozen time stands still, and is refused within a few polls once the clock reaches the
    deadline exactly. The deadline is 60 s, far beyond the real time the test waits, so a wait
    timed on the real clock fails it."""
    bulkhead = make(1, max_wait=60)
    events = record(bulkhead)
    outcome: list[object] = []
    with bulkhead.permit():

        def wait() -> None:
            try:
                with bulkhead.permit():
                    outcome.append("admitted")
            except BulkheadFull as error:
                outcome.append(error)

        thread = threading.Thread(target=wait, daemon=True)
        thread.start()
        until(lambda: bulkhead.status()["waiting"] == 1)
        frozen.advance_us(59_999_999)
        thread.join(5 * POLL_SECONDS)  # several polls on the frozen clock: still waiting
        assert thread.is_alive()
        frozen.advance_us(1)
        thread.join(WAIT)
        assert not thread.is_alive(), "the deadline passed on the bulkhead's clock, unnoticed"
    assert len(outcome) == 1
    assert isinstance(outcome[0], BulkheadFull)
    assert outcome[0].max_wait == 60
    assert plain(events) == [("admitted", 0), ("rejected", 60_000 * MS), ("released", 60_000 * MS)]


def test_a_waiting_thread_is_served_when_a_permit_comes_back(
    frozen: FrozenTime, make: Callable[..., Bulkhead]
) -> None:
    """A permit released while a thread waits (max_wait=None) is granted to it; its admission
    event says how long it waited on the bulkhead's clock."""
    bulkhead = make(1, max_wait=None)
    events = record(bulkhead)
    held = bulkhead.permit()
    held.__enter__()
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(bulkhead.call(lambda: 7)), daemon=True)
    thread.start()
    until(lambda: bulkhead.status()["waiting"] == 1)
    frozen.advance_us(3_000)
    held.__exit__(None, None, None)
    thread.join(WAIT)
    assert results == [7]
    assert plain(events) == [
        ("admitted", 0),
        ("released", 3 * MS),
        ("admitted", 3 * MS),
        ("released", 0),
    ]


def test_per_permit_max_wait_overrides_the_default(make: Callable[..., Bulkhead]) -> None:
    """permit(max_wait=0) never waits even when the bulkhead's default would wait forever."""
    bulkhead = make(1, max_wait=None)
    with bulkhead.permit():
        with pytest.raises(BulkheadFull) as caught, bulkhead.permit(max_wait=0):
            pass
        assert caught.value.max_wait == 0.0


def test_an_async_waiter_times_out_exactly_on_a_frozen_clock(frozen: FrozenTime) -> None:
    """An async waiter sleeps through the clock's asleep: permit(max_wait=0.25) on a full
    bulkhead is refused after exactly 0.25 s of bulkhead time."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1, clock=FrozenClock(frozen))
        events = record(bulkhead)
        async with bulkhead.permit():
            before = frozen.now_ns()
            with pytest.raises(BulkheadFull):
                async with bulkhead.permit(max_wait=0.25):
                    pass
            assert frozen.now_ns() - before == 250 * MS
        assert plain(events) == [("admitted", 0), ("rejected", 250 * MS), ("released", 250 * MS)]
        assert_settled(bulkhead)

    asyncio.run(scenario())


# ------------------------------------------------------------------ first come, first served


def test_async_waiters_are_served_in_arrival_order_and_newcomers_wait_behind() -> None:
    """Three tasks queue for the only permit; each release hands it to the longest waiting one,
    and a newcomer with max_wait=0 cannot take it in between."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1, max_wait=None)
        order: list[int] = []
        gates = [asyncio.Event() for _ in range(3)]

        async def waiter(index: int) -> None:
            async with bulkhead.permit():
                order.append(index)
                await gates[index].wait()

        held = bulkhead.permit()
        await held.__aenter__()
        tasks = []
        for index in range(3):
            tasks.append(asyncio.create_task(waiter(index)))
            await asyncio.sleep(0)
        assert bulkhead.status()["waiting"] == 3
        await held.__aexit__(None, None, None)
        with pytest.raises(BulkheadFull):  # granted to waiter 0 already: no overtaking
            async with bulkhead.permit(max_wait=0):
                pass
        for index in range(3):
            await until_async(lambda n=index + 1: len(order) == n)  # type: ignore[misc]
            assert order == list(range(index + 1))
            gates[index].set()
        await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        assert bulkhead.metrics() == {"admitted": 4, "rejected": 1, "finished": 4, "abandoned": 0}
        assert_settled(bulkhead)

    asyncio.run(scenario())


def test_a_granted_waiter_cancelled_before_it_runs_passes_the_permit_on() -> None:
    """A waiter granted the released permit but cancelled before it resumes is admitted and
    finished at once (held 0 ns); the permit goes to the next waiter."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1, max_wait=None)
        events = record(bulkhead)
        held = bulkhead.permit()
        await held.__aenter__()
        first = asyncio.create_task(bulkhead.call_async(lambda: "first"))
        second = asyncio.create_task(bulkhead.call_async(lambda: "second"))
        await asyncio.sleep(0)
        assert bulkhead.status()["waiting"] == 2
        await held.__aexit__(None, None, None)  # granted to `first`, which has not run yet
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await asyncio.wait_for(second, WAIT) == "second"
        assert bulkhead.metrics() == {"admitted": 3, "rejected": 0, "finished": 3, "abandoned": 0}
        assert [kind for kind, _ in plain(events)] == [
            "admitted", "released", "admitted", "released", "admitted", "released",
        ]  # fmt: skip
        assert_settled(bulkhead)

    asyncio.run(scenario())


def test_a_queued_waiter_cancelled_leaves_the_queue() -> None:
    """A waiter cancelled before any grant leaves the queue (abandoned), admitting nobody."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1, max_wait=None)
        async with bulkhead.permit():
            task = asyncio.create_task(bulkhead.call_async(lambda: None))
            await asyncio.sleep(0)
            assert bulkhead.status()["waiting"] == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert bulkhead.status()["waiting"] == 0
        assert bulkhead.metrics() == {"admitted": 1, "rejected": 0, "finished": 1, "abandoned": 1}
        assert_settled(bulkhead)

    asyncio.run(scenario())


def test_call_async_takes_sync_and_async_functions_and_releases_on_cancel() -> None:
    """call_async awaits what fn returns if it is awaitable; a cancellation inside fn releases
    the permit and propagates."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1)

        async def double(x: int) -> int:
            await asyncio.sleep(0)
            return 2 * x

        assert await bulkhead.call_async(double, 4) == 8
        assert await bulkhead.call_async(lambda x: x + 1, x=4) == 5
        started = asyncio.Event()

        async def forever() -> None:
            started.set()
            await asyncio.Event().wait()

        task: asyncio.Task[None] = asyncio.create_task(bulkhead.call_async(forever))
        await started.wait()
        assert bulkhead.status()["in_flight"] == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert bulkhead.metrics() == {"admitted": 3, "rejected": 0, "finished": 3, "abandoned": 0}
        assert_settled(bulkhead)

    asyncio.run(scenario())


def test_an_async_permit_is_single_use() -> None:
    """As for the sync permit: a second entry or an exit without a permit raises RuntimeError."""

    async def scenario() -> None:
        bulkhead = AsyncBulkhead(1)
        permit = bulkhead.permit()
        with pytest.raises(RuntimeError, match="not held"):
            await permit.__aexit__(None, None, None)
        async with permit:
            with pytest.raises(RuntimeError, match="entered once"):
                await permit.__aenter__()
        with pytest.raises(RuntimeError, match="not held"):
            await permit.__aexit__(None, None, None)
        assert_settled(bulkhead)
        assert bulkhead.metrics()["admitted"] == 1

    asyncio.run(scenario())


# ------------------------------------------------------------------ observation


def test_events_carry_source_instant_and_durations(
    frozen: FrozenTime, make: Callable[..., Bulkhead]
) -> None:
    """Admitted(waited_ns), Rejected(waited_ns) and Released(held_ns), each with the bulkhead's
    name and its clock's reading."""
    bulkhead = make(1, name="db")
    events = record(bulkhead)
    start = frozen.now_ns()
    with bulkhead.permit():
        frozen.advance_us(1_500)
        with pytest.raises(BulkheadFull), bulkhead.permit():
            pass
        frozen.advance_us(500)
    assert events == [
        BulkheadAdmitted("db", start, 0),
        BulkheadRejected("db", start + 1_500_000, 0),
        BulkheadReleased("db", start + 2 * MS, 2 * MS),
    ]


def test_a_raising_listener_never_breaks_a_call(
    make: Callable[..., Bulkhead], caplog: pytest.LogCaptureFixture
) -> None:
    """A listener that raises is logged; the call goes on; unsubscribing stops delivery; a
    listener may call back into the bulkhead (events are delivered outside its lock)."""
    bulkhead = make(1)
    seen: list[int] = []

    def rude(event: Event) -> None:
        seen.append(bulkhead.status()["in_flight"])
        raise RuntimeError("listener failed")

    unsubscribe = bulkhead.subscribe(rude)
    assert bulkhead.call(lambda: "ok") == "ok"
    assert seen == [1, 0]
    assert "listener" in caplog.text
    unsubscribe()
    bulkhead.call(lambda: None)
    assert seen == [1, 0]


def test_status_metrics_and_repr_show_every_counter(make: Callable[..., Bulkhead]) -> None:
    """status() has the configuration, occupancy and counters; repr shows them too."""
    bulkhead = make(3, name="api", max_wait=0.5)
    with bulkhead.permit(), bulkhead.permit(max_wait=0):
        status = bulkhead.status()
        assert status == {
            "name": "api",
            "max_concurrent": 3,
            "max_wait": 0.5,
            "in_flight": 2,
            "free": 1,
            "waiting": 0,
            "admitted": 2,
            "rejected": 0,
            "finished": 0,
            "abandoned": 0,
        }
        assert repr(bulkhead) == (
            "<Bulkhead 'api' max_concurrent=3 in_flight=2 waiting=0 admitted=2 rejected=0 "
            "finished=0>"
        )
    assert bulkhead.max_concurrent == 3
    assert bulkhead.metrics() == {"admitted": 2, "rejected": 0, "finished": 2, "abandoned": 0}


def test_public_names_are_exported() -> None:
    """The bulkhead's public names are importable from resilience and listed in __all__."""
    for name in (
        "AsyncBulkhead", "AsyncBulkheadPermit", "Bulkhead", "BulkheadAdmitted", "BulkheadConfig",
        "BulkheadFull", "BulkheadPermit", "BulkheadRejected", "BulkheadReleased",
    ):  # fmt: skip
        assert name in resilience.__all__
        assert getattr(resilience, name) is not None
