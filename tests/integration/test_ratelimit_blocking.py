"""Blocking acquire under frozen time: FrozenClock.sleep/asleep advance the freeze, so a wait is
an exact jump of the clock; a wait longer than the timeout raises RateLimited without moving it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import Event, RateLimited, RequestAdmitted, RequestRejected
from resilience.ratelimit import (
    GCRA,
    Decision,
    FixedWindow,
    KeyedLimiter,
    Rate,
    RateLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

MS_NS = 1_000_000


@pytest.fixture
def clock(frozen: FrozenTime) -> FrozenClock:
    return FrozenClock(frozen)


def test_frozen_clock_can_sleep_asynchronously(frozen: FrozenTime, clock: FrozenClock) -> None:
    """The harness's FrozenClock has asleep(): it advances frozen time like sleep()."""
    before = frozen.now_ns()
    asyncio.run(clock.asleep(0.25))
    assert frozen.now_ns() - before == 250 * MS_NS


# Each entry point, as "acquire(limiter, cost, timeout) -> Decision", sync or via asyncio.run.
def sync_acquire(limiter: RateLimiter[Any], cost: int, timeout: object) -> Decision:
    return limiter.acquire(cost, timeout=timeout)


def async_acquire(limiter: RateLimiter[Any], cost: int, timeout: object) -> Decision:
    return asyncio.run(limiter.acquire_async(cost, timeout=timeout))


def keyed_sync(keyed: KeyedLimiter[Any], key: object, cost: int, timeout: object) -> Decision:
    return keyed.acquire(key, cost, timeout=timeout)


def keyed_async(keyed: KeyedLimiter[Any], key: object, cost: int, timeout: object) -> Decision:
    return asyncio.run(keyed.acquire_async(key, cost, timeout=timeout))


ACQUIRE = pytest.mark.parametrize("acquire", [sync_acquire, async_acquire], ids=["sync", "async"])
KEYED = pytest.mark.parametrize("acquire", [keyed_sync, keyed_async], ids=["sync", "async"])


@ACQUIRE
def test_acquire_without_waiting_does_not_move_time(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """An admissible request returns at once, even with timeout=0."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    before = frozen.now_ns()
    assert acquire(bucket, 2, 0) == (True, 1, 0.0, 0)
    assert acquire(bucket, 1, None) == (True, 0, 0.0, 0)
    assert frozen.now_ns() == before


@ACQUIRE
def test_acquire_waits_exactly_the_retry_after(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """From empty, acquire(3, timeout=7 ms) at 3 per 7 ms returns after exactly 7 ms (the
    timeout is inclusive) and takes the 3 tokens it waited for."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    bucket.try_acquire(3)
    before = frozen.now_ns()
    assert acquire(bucket, 3, 0.007) == (True, 0, 0.0, 0)
    assert frozen.now_ns() - before == 7 * MS_NS
    assert not bucket.check()
    assert bucket.metrics()["admitted_cost"] == 6


@ACQUIRE
def test_acquire_rounds_a_sub_microsecond_wait_up(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """One token at 3 per 7 ms takes 2,333,334 ns; the frozen clock sleeps whole microseconds
    (rounding up), so acquire returns after 2,334 us and never early."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    bucket.try_acquire(3)
    before = frozen.now_ns()
    assert acquire(bucket, 1, timeout=timedelta(microseconds=2_334))
    assert frozen.now_ns() - before == 2_334_000


@ACQUIRE
def test_acquire_raises_at_once_when_the_wait_exceeds_the_timeout(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """A wait 1 us longer than the timeout raises RateLimited immediately: time does not move,
    nothing is admitted, and the error carries the exact wait."""
    bucket = TokenBucket(3, Rate(3, per=0.007), name="api", clock=clock)
    bucket.try_acquire(3)
    before = frozen.now_ns()
    with pytest.raises(RateLimited) as info:
        acquire(bucket, 3, 0.006999)
    assert frozen.now_ns() == before
    error = info.value
    assert (error.limiter, error.retry_after_ns, error.retry_after, error.cost, error.key) == (
        "api",
        7 * MS_NS,
        0.007,
        3,
        None,
    )
    assert bucket.metrics()["admitted"] == 1
    frozen.advance_us(7_000)
    assert bucket.try_acquire(3)


@ACQUIRE
def test_timeout_zero_is_try_or_raise(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """timeout=0 admits what fits now and raises RateLimited otherwise, never waiting."""
    window = FixedWindow(1, 1, clock=clock)
    before = frozen.now_ns()
    assert acquire(window, 1, 0)
    with pytest.raises(RateLimited) as info:
        acquire(window, 1, 0)
    assert info.value.retry_after_ns == 10**9
    assert frozen.now_ns() == before


@ACQUIRE
def test_timeout_none_waits_as_long_as_needed(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """timeout=None waits however long it takes: here a full hour for one unit."""
    bucket = TokenBucket(1, Rate(1, per=3600), clock=clock)
    bucket.try_acquire()
    before = frozen.now_ns()
    assert acquire(bucket, 1, None)
    assert frozen.now_ns() - before == 3_600 * 10**9


@ACQUIRE
def test_consecutive_acquires_are_paced_by_the_rate(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """Ten acquires at 1 per 250 ms after the burst: each returns 250 ms after the previous."""
    bucket = TokenBucket(2, Rate(1, per=0.25), clock=clock)
    start = frozen.now_ns()
    times = []
    for _ in range(12):
        assert acquire(bucket, 1, 1)
        times.append(frozen.now_ns() - start)
    assert times == [0, 0] + [k * 250 * MS_NS for k in range(1, 11)]


MAKERS: dict[str, Callable[[FrozenClock], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(4, Rate(4, per=1), clock=clock),
    "gcra": lambda clock: GCRA(Rate(4, per=1), 4, clock=clock),
    "fixed_window": lambda clock: FixedWindow(4, 1, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(4, 1, clock=clock),
    "sliding_counter": lambda clock: SlidingWindowCounter(4, 1, clock=clock),
}
# Starting at a whole second (FrozenTime starts at 86,400 s) with 4 units taken, the wait for
# 4 more: refill 1 s, the next window at 1 s, the log's entry ages out at 1 s, and the counter's
# previous window weighs nothing only at the end of the next one (2 s).
FULL_WAIT_NS = {
    "token_bucket": 10**9,
    "gcra": 10**9,
    "fixed_window": 10**9,
    "sliding_log": 10**9,
    "sliding_counter": 2 * 10**9,
}


@ACQUIRE
@pytest.mark.parametrize("name", MAKERS)
def test_every_algorithm_waits_exactly_its_retry_after(
    frozen: FrozenTime, name: str, acquire: Callable[..., Decision]
) -> None:
    """For each algorithm: drained, acquire(limit) returns after exactly its wait, and a timeout
    1 us shorter raises RateLimited without moving time."""
    limiter = MAKERS[name](FrozenClock(frozen))
    limiter.try_acquire(4)
    wait_ns = FULL_WAIT_NS[name]
    assert limiter.check(4).retry_after_ns == wait_ns
    before = frozen.now_ns()
    with pytest.raises(RateLimited) as info:
        acquire(limiter, 4, (wait_ns - 1_000) / 1e9)
    assert info.value.retry_after_ns == wait_ns
    assert frozen.now_ns() == before
    assert acquire(limiter, 4, wait_ns / 1e9) == (True, 0, 0.0, 0)
    assert frozen.now_ns() - before == wait_ns


def test_waiting_is_one_rejection_then_one_admission(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """acquire() decides, sleeps the exact retry_after and decides again: the events show the
    refusal it waited out and then the admission, 7 ms apart."""
    bucket = TokenBucket(3, Rate(3, per=0.007), name="api", clock=clock)
    bucket.try_acquire(3)
    events: list[Event] = []
    bucket.subscribe(events.append)
    t = frozen.now_ns()
    bucket.acquire(3)
    assert events == [
        RequestRejected("api", t, None, 3, 7 * MS_NS),
        RequestAdmitted("api", t + 7 * MS_NS, None, 3, 0),
    ]


def test_a_timed_out_acquire_is_one_counted_rejection(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """acquire() that gives up counts one refused request of its cost, and nothing admitted."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    bucket.try_acquire(3)
    with pytest.raises(RateLimited):
        bucket.acquire(2, timeout=0.001)
    assert bucket.metrics() == {
        "admitted": 1,
        "admitted_cost": 3,
        "rejected": 1,
        "rejected_cost": 2,
    }


# ------------------------------------------------------------------ keyed


def keyed_limiter(clock: FrozenClock) -> KeyedLimiter[Any]:
    return KeyedLimiter(lambda: TokenBucket(2, Rate(1, per=0.5), clock=clock), name="users")


@KEYED
def test_keyed_acquire_waits_for_its_own_key_only(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """A drained key waits exactly its refill; another key is admitted at once."""
    keyed = keyed_limiter(clock)
    keyed.try_acquire("alice", 2)
    before = frozen.now_ns()
    assert acquire(keyed, "bob", 2, 0) == (True, 0, 0.0, 0)
    assert frozen.now_ns() == before
    assert acquire(keyed, "alice", 2, 1) == (True, 0, 0.0, 0)
    assert frozen.now_ns() - before == 10**9
    assert keyed.metrics()["admitted_cost"] == 6


@KEYED
def test_keyed_acquire_raises_with_the_key(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """Past the timeout a keyed acquire raises RateLimited naming the key, at once."""
    keyed = keyed_limiter(clock)
    keyed.try_acquire(("tenant", 3), 2)
    before = frozen.now_ns()
    with pytest.raises(RateLimited) as info:
        acquire(keyed, ("tenant", 3), 1, 0.499999)
    assert frozen.now_ns() == before
    error = info.value
    assert (error.limiter, error.key, error.cost, error.retry_after_ns) == (
        "users",
        ("tenant", 3),
        1,
        500 * MS_NS,
    )
    assert "for key ('tenant', 3)" in str(error)


@KEYED
def test_keyed_acquire_with_no_timeout_waits(
    frozen: FrozenTime, clock: FrozenClock, acquire: Callable[..., Decision]
) -> None:
    """timeout=None on a keyed limiter waits for the key's refill."""
    keyed = keyed_limiter(clock)
    keyed.try_acquire("k", 2)
    before = frozen.now_ns()
    assert acquire(keyed, "k", 1, None)
    assert frozen.now_ns() - before == 500 * MS_NS
    assert acquire(keyed, "k", 1, None)
    assert frozen.now_ns() - before == 1_000 * MS_NS


def test_concurrent_async_acquires_take_turns(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Five tasks gathered on one drained bucket (1 per 250 ms) are admitted one per 250 ms: the
    frozen clock advances only by what the waiting tasks ask for, and the rate holds."""
    bucket = TokenBucket(1, Rate(1, per=0.25), clock=clock)
    bucket.try_acquire()
    start = frozen.now_ns()
    finished: list[int] = []

    async def one() -> None:
        assert await bucket.acquire_async(1, timeout=10)
        finished.append(frozen.now_ns() - start)

    async def main() -> None:
        await asyncio.gather(*(one() for _ in range(5)))

    asyncio.run(main())
    assert finished == [k * 250 * MS_NS for k in range(1, 6)]
    assert bucket.metrics()["admitted"] == 6
