"""Real threads against one Bulkhead on the real clock: never more than max_concurrent inside at
once (measured with a counter under a lock), every permit returned, the books balance, nobody
deadlocks; a waiter is never left asleep when a permit comes back; waiters are served in arrival
order; a timeout is honoured on the real clock."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from resilience import Bulkhead, BulkheadFull, Event

THREADS = 16
CALLS = 250  # per thread: 4,000 in all
LIMIT = 3
JOIN = 20.0  # seconds for all threads to finish; only ever reached when something is broken


@pytest.fixture
def switchy() -> Iterator[None]:
    """A short GIL switch interval, so threads interleave inside the bulkhead's operations."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def assert_balanced(bulkhead: Bulkhead) -> dict[str, Any]:
    status = bulkhead.status()
    assert status["in_flight"] == 0, status
    assert status["waiting"] == 0, status
    assert status["free"] == status["max_concurrent"], status
    assert status["admitted"] == status["finished"], status
    return status


def start(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``target`` on a new thread; the list receives its result or the exception raised."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(target())
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.0005)


@pytest.mark.parametrize("max_wait", [0, 0.001, None])
def test_never_more_than_max_concurrent_inside(switchy: None, max_wait: float | None) -> None:
    """16 threads x 250 calls (half `with bulkhead.permit()`, half `call`, every 7th raising,
    every 97th holding its permit for 1 ms) on max_concurrent=3: at most 3 are ever inside (a
    counter under a lock), 3 are inside at some point, every permit comes back, every attempt is
    admitted or refused exactly once, and nobody deadlocks. max_wait=0 refuses at once, 1 ms
    waits (and sometimes times out), None waits as long as it takes (nothing refused)."""
    bulkhead = Bulkhead(LIMIT, max_wait=max_wait)
    events: list[Event] = []
    bulkhead.subscribe(events.append)
    guard = threading.Lock()
    inside = [0]
    peak = [0]
    barrier = threading.Barrier(THREADS)

    def protected(fail: bool, slow: bool) -> None:
        with guard:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.001 if slow else 0)  # let others run (and queue) while we hold a permit
        with guard:
            inside[0] -= 1
        if fail:
            raise ValueError("the protected call failed")

    def work(index: int) -> tuple[int, int]:
        barrier.wait(JOIN)
        served = refused = 0
        for n in range(CALLS):
            fail, slow = (index + n) % 7 == 0, (index * CALLS + n) % 97 == 0
            try:
                if n % 2:
                    with bulkhead.permit():
                        protected(fail, slow)
                else:
                    bulkhead.call(protected, fail, slow)
            except BulkheadFull:
                refused += 1
            except ValueError:
                served += 1
            else:
                served += 1
        return served, refused

    began = time.perf_counter()
    runs = [start(lambda i=i: work(i)) for i in range(THREADS)]  # type: ignore[misc]
    for thread, _ in runs:
        thread.join(max(0.0, began + JOIN - time.perf_counter()))
    elapsed = time.perf_counter() - began
    assert not any(thread.is_alive() for thread, _ in runs), "deadlock: threads still running"
    outcomes = [outcome[0] for _, outcome in runs]
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    served = sum(o[0] for o in outcomes)  # type: ignore[index]
    refused = sum(o[1] for o in outcomes)  # type: ignore[index]
    assert served + refused == THREADS * CALLS
    assert peak[0] == LIMIT, f"peak {peak[0]} inside"
    assert inside[0] == 0
    status = assert_balanced(bulkhead)
    assert status["admitted"] == served
    assert status["rejected"] == refused
    assert status["abandoned"] == 0
    if max_wait is None:
        assert refused == 0
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("BulkheadAdmitted") == served
    assert kinds.count("BulkheadReleased") == served
    assert kinds.count("BulkheadRejected") == refused
    print(
        f"\n[bulkhead threads/max_wait={max_wait}] {THREADS * CALLS} calls, {THREADS} threads, "
        f"limit {LIMIT}: {elapsed:.2f} s, peak {peak[0]}, refused {refused}"
    )


REPEATS = 50


@pytest.mark.parametrize("when", ["queued", "racing"])
def test_a_waiter_is_served_when_a_permit_comes_back(when: str) -> None:
    """The holder of the only permit releases it while another thread is in (or entering)
    `call` with max_wait=10: the waiter is admitted well within 2 s, every time out of 50.
    "queued": the release comes once the waiter is queued; "racing": after a random 0-200 us,
    so it can land while the waiter is still deciding to wait."""
    bulkhead = Bulkhead(1, max_wait=10)
    worst = 0.0
    rng = random.Random(1234)
    for _ in range(REPEATS):
        held = bulkhead.permit()
        held.__enter__()
        thread, outcome = start(lambda: bulkhead.call(lambda: "served"))
        if when == "queued":
            until(lambda: bulkhead.status()["waiting"] == 1)
        else:
            time.sleep(rng.uniform(0, 200e-6))
        released = time.perf_counter()
        held.__exit__(None, None, None)
        thread.join(2)
        worst = max(worst, time.perf_counter() - released)
        assert not thread.is_alive(), "missed wake-up: the waiter is still asleep"
        assert outcome == ["served"]
    status = assert_balanced(bulkhead)
    assert status["rejected"] == 0
    assert status["admitted"] == 2 * REPEATS
    print(f"\n[bulkhead wake-up/{when}] {REPEATS} hand-overs, slowest {worst * 1e3:.1f} ms")


def test_waiters_are_served_in_arrival_order() -> None:
    """Three threads queue in order for the only permit; each release hands it to the longest
    waiting one, and a newcomer with max_wait=0 cannot take it in between."""
    bulkhead = Bulkhead(1, max_wait=10)
    order: list[int] = []
    may_leave = [threading.Event() for _ in range(3)]

    def waiter(index: int) -> None:
        with bulkhead.permit():
            order.append(index)
            may_leave[index].wait(JOIN)

    held = bulkhead.permit()
    held.__enter__()
    runs = []
    for index in range(3):
        runs.append(start(lambda i=index: waiter(i)))  # type: ignore[misc]
        until(lambda n=index + 1: bulkhead.status()["waiting"] == n)  # type: ignore[misc]
    held.__exit__(None, None, None)
    with pytest.raises(BulkheadFull), bulkhead.permit(max_wait=0):
        pass  # granted to waiter 0 already: no overtaking
    for index in range(3):
        until(lambda n=index + 1: len(order) == n)  # type: ignore[misc]
        assert order == list(range(index + 1))
        assert bulkhead.status()["waiting"] == 2 - index
        may_leave[index].set()
    for thread, outcome in runs:
        thread.join(JOIN)
        assert outcome == [None]
    assert_balanced(bulkhead)


def test_a_waiter_times_out_on_the_real_clock() -> None:
    """permit(max_wait=0.2) on a full bulkhead raises BulkheadFull after at least 0.2 s, and not
    much later; the waiter leaves the queue."""
    bulkhead = Bulkhead(1)
    with bulkhead.permit():
        began = time.perf_counter()
        with pytest.raises(BulkheadFull) as caught, bulkhead.permit(max_wait=0.2):
            pass
        elapsed = time.perf_counter() - began
        assert caught.value.max_wait == 0.2
        assert 0.2 <= elapsed < 1.5, elapsed
        assert bulkhead.status()["waiting"] == 0
    assert_balanced(bulkhead)
