"""Real threads against one limiter under frozen time (so nothing refills and nothing ages out):
however the threads interleave, exactly the limit is admitted, in total and per key."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import Event, RequestAdmitted
from resilience.ratelimit import (
    GCRA,
    FixedWindow,
    KeyedLimiter,
    Rate,
    RateLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

THREADS = 16
ATTEMPTS = 1_000  # per thread
LIMIT = 1_000  # so admissions are spread over many threads, not won by the first one
WAIT = 30.0  # seconds; only ever reached when something is broken

MAKERS: dict[str, Callable[[Any], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(LIMIT, Rate(1, per=60), clock=clock),
    "gcra": lambda clock: GCRA(Rate(1, per=60), LIMIT, clock=clock),
    "fixed_window": lambda clock: FixedWindow(LIMIT, 60, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(LIMIT, 60, clock=clock),
    "sliding_counter": lambda clock: SlidingWindowCounter(LIMIT, 60, clock=clock),
}


@pytest.fixture
def frozen() -> Iterator[FrozenTime]:
    """Frozen time that every thread sees; a tiny GIL switch interval so threads interleave
    inside the limiter rather than each running its 1,000 attempts in one time slice."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with FrozenTime() as frozen:
            yield frozen
    finally:
        sys.setswitchinterval(interval)


def race(work: Callable[[int], int]) -> list[int]:
    """Run ``work(thread_index)`` on THREADS threads released together; their results."""
    start = threading.Barrier(THREADS)
    results = [0] * THREADS
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(WAIT)
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    return results


@pytest.mark.parametrize("clock", ["system", "frozen"])
@pytest.mark.parametrize("name", MAKERS)
def test_threads_admit_exactly_the_limit(frozen: FrozenTime, name: str, clock: str) -> None:
    """16 threads x 1,000 try_acquire(): exactly LIMIT admitted in total, the counters agree,
    and time did not move (with the system clock's fast path and with a FrozenClock)."""
    limiter = MAKERS[name](None if clock == "system" else FrozenClock(frozen))
    before = frozen.now_ns()

    def work(_: int) -> int:
        return sum(1 for _ in range(ATTEMPTS) if limiter.try_acquire())

    per_thread = race(work)
    assert sum(per_thread) == LIMIT
    assert frozen.now_ns() == before
    assert limiter.metrics() == {
        "admitted": LIMIT,
        "admitted_cost": LIMIT,
        "rejected": THREADS * ATTEMPTS - LIMIT,
        "rejected_cost": THREADS * ATTEMPTS - LIMIT,
    }
    assert not limiter.check()


@pytest.mark.parametrize("name", MAKERS)
def test_threads_with_costs_never_overspend(frozen: FrozenTime, name: str) -> None:
    """Threads asking 1, 2 or 3 units: admitted units never exceed the limit, and since the
    cost-1 requests keep coming after the rest stop fitting, they use it up exactly."""
    limiter = MAKERS[name](None)

    def work(index: int) -> int:
        cost = 1 + index % 3
        return sum(cost for _ in range(ATTEMPTS) if limiter.try_acquire(cost))

    admitted_units = sum(race(work))
    assert admitted_units == LIMIT
    assert limiter.metrics()["admitted_cost"] == LIMIT


class Key:
    """A key hashed and compared in Python: each dict lookup is a point where the interpreter
    may switch threads, so an unguarded lookup-then-insert would race."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and other.name == self.name

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


ROUNDS = 3  # a race shows up as a miscount or an exception in some round


@pytest.mark.parametrize("name", MAKERS)
def test_threads_on_a_keyed_limiter_get_exact_per_key_totals(frozen: FrozenTime, name: str) -> None:
    """16 threads cycling over 6 keys: every key admits exactly its own limit, no more, no
    less; keys are never evicted while they are in use (nothing refills under frozen time)."""
    keys: list[object] = ["a", ("b", 1), "", None, Key("c"), Key("d")]
    for _ in range(ROUNDS):
        keyed = KeyedLimiter(lambda: MAKERS[name](None))
        counts: dict[object, int] = dict.fromkeys(keys, 0)
        lock = threading.Lock()

        def listen(
            event: Event, counts: dict[object, int] = counts, lock: threading.Lock = lock
        ) -> None:
            if isinstance(event, RequestAdmitted):
                with lock:
                    counts[event.key] += event.cost

        def work(index: int, keyed: KeyedLimiter[Any] = keyed) -> int:
            return sum(
                1 for i in range(ATTEMPTS) if keyed.try_acquire(keys[(index + i) % len(keys)])
            )

        keyed.subscribe(listen)
        # 16,000 attempts, over 2,600 per key (more than LIMIT): every key is used up exactly.
        assert sum(race(work)) == len(keys) * LIMIT
        assert counts == dict.fromkeys(keys, LIMIT)
        metrics = keyed.metrics()
        assert metrics["admitted"] == len(keys) * LIMIT
        assert metrics["rejected"] == THREADS * ATTEMPTS - len(keys) * LIMIT
        assert (metrics["keys"], metrics["evicted"]) == (len(keys), 0)
        assert all(not keyed.check(key) for key in keys)


def test_event_delivery_across_threads_keeps_order(frozen: FrozenTime) -> None:
    """Events from 16 threads arrive one at a time and in the order of the decisions: the
    remaining values of the admissions count down 999, 998, ..., 0 without a gap."""
    bucket = TokenBucket(LIMIT, Rate(1, per=60))
    remaining: list[int] = []
    bucket.subscribe(
        lambda event: (
            remaining.append(event.remaining) if isinstance(event, RequestAdmitted) else None
        )
    )
    race(lambda _: sum(1 for _ in range(ATTEMPTS // 10) if bucket.try_acquire()))
    assert remaining == list(range(LIMIT - 1, -1, -1))
