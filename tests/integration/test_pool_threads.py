"""Real threads against one ResourcePool on the real clock: a resource is never lent to two
threads at once, every lease comes back, the books balance, nobody deadlocks; a waiter is never
left asleep when a resource comes back, waiters are served in arrival order, and close() fails
every waiter at once."""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from resilience import Event, PoolClosed, PoolTimeout, ResourcePool

THREADS = 32
SIZE = 4
LEASES = 200  # per thread: 6,400 in all
TIMEOUT = 5.0  # seconds a checkout may wait; only ever reached when something is broken
JOIN = 20.0  # seconds for all threads to finish; likewise


class Res:
    def __init__(self, serial: int) -> None:
        self.serial = serial

    def __repr__(self) -> str:
        return f"Res({self.serial})"


class Factory:
    """Thread-safe: makes Res(0), Res(1), ... and remembers them all."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made: list[Res] = []

    def __call__(self) -> Res:
        with self.lock:
            resource = Res(len(self.made))
            self.made.append(resource)
            return resource


@pytest.fixture
def switchy() -> Iterator[None]:
    """A short GIL switch interval, so threads interleave inside the pool's operations."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def assert_balanced(pool: ResourcePool[Any]) -> dict[str, Any]:
    status = pool.status()
    assert status["created"] - status["destroyed"] == status["idle"] + status["in_use"], status
    assert status["creating"] == 0, status
    assert status["waiting"] == 0, status
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


# ------------------------------------------------------------------ contention

STYLES = {
    # the fast paths: no callbacks, no listener
    "plain": {},
    # every callback, a listener and a leak threshold: the general plans throughout
    "full": {"validate": bool, "reset": lambda r: None, "destroy": lambda r: None},
}


@pytest.mark.parametrize("style", STYLES)
def test_threads_never_share_a_resource(switchy: None, style: str) -> None:
    """32 threads x 200 leases on a pool of 4 (timeout 5 s): no resource is ever held by two
    threads at once, at most 4 are out, every lease is returned, nobody times out or deadlocks,
    and the books balance (every 37th lease invalidates its resource, so creation races too)."""
    factory = Factory()
    kwargs: dict[str, Any] = dict(STYLES[style])
    if style == "full":
        kwargs["leak_threshold"] = 60
    pool: ResourcePool[Res] = ResourcePool(factory, size=SIZE, timeout=TIMEOUT, **kwargs)
    events: list[Event] = []
    if style == "full":
        pool.subscribe(events.append)
    guard = threading.Lock()
    holders: dict[int, int] = {}  # id(resource) -> the thread holding it
    peak = [0]
    errors: list[str] = []
    barrier = threading.Barrier(THREADS)

    def hold(index: int, resource: Res) -> None:
        with guard:
            if id(resource) in holders:
                errors.append(f"{resource!r} lent to {index} while {holders[id(resource)]} has it")
            holders[id(resource)] = index
            peak[0] = max(peak[0], len(holders))
        time.sleep(0)  # let others run while we hold it

    def release(index: int, resource: Res) -> None:
        with guard:
            if holders.pop(id(resource), None) != index:
                errors.append(f"{resource!r} returned by {index}, who did not hold it")

    def work(index: int) -> int:
        barrier.wait(JOIN)
        done = 0
        for n in range(LEASES):
            if n % 2:
                with pool.lease() as resource:
                    hold(index, resource)
                    release(index, resource)
                    if (index * LEASES + n) % 37 == 0:
                        pool.invalidate(resource)
            else:
                resource = pool.checkout()
                hold(index, resource)
                release(index, resource)
                pool.checkin(resource)
            done += 1
        return done

    finished = threading.Event()
    samples: list[dict[str, Any]] = []

    def monitor() -> None:
        """Snapshots taken mid-run balance too; someone waits only when nothing is idle."""
        while not finished.is_set():
            samples.append(pool.status())
            time.sleep(0.0005)

    watcher = threading.Thread(target=monitor, daemon=True)
    watcher.start()
    began = time.perf_counter()
    runs = [start(lambda i=i: work(i)) for i in range(THREADS)]  # type: ignore[misc]
    deadline = began + JOIN
    for thread, _ in runs:
        thread.join(max(0.0, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - began
    finished.set()
    watcher.join(JOIN)
    for sample in samples:
        assert sample["created"] - sample["destroyed"] == sample["idle"] + sample["in_use"]
        assert sample["in_use"] + sample["creating"] <= SIZE
        assert sample["idle"] <= SIZE
        assert sample["waiting"] == 0 or sample["idle"] == 0, sample
    most_waiting = max(sample["waiting"] for sample in samples)
    assert not any(thread.is_alive() for thread, _ in runs), "deadlock: threads still running"
    outcomes = [outcome for _, outcome in runs]
    assert all(outcome == [LEASES] for outcome in outcomes), outcomes
    assert errors == []
    assert holders == {}
    assert 1 <= peak[0] <= SIZE
    status = assert_balanced(pool)
    total = THREADS * LEASES
    invalidated = sum(
        1 for i in range(THREADS) for n in range(1, LEASES, 2) if (i * LEASES + n) % 37 == 0
    )
    assert status["in_use"] == 0
    assert status["checked_out"] == total
    assert status["checked_in"] == total - invalidated
    assert status["invalidated"] == invalidated
    assert status["timeouts"] == 0
    assert status["created"] == len(factory.made) == len({id(r) for r in factory.made})
    assert status["created"] <= SIZE + invalidated
    assert status["idle"] <= SIZE
    if style == "full":
        assert sum(type(e).__name__ == "ResourceCheckedOut" for e in events) == total
    print(
        f"\n[pool threads/{style}] {total} leases, {THREADS} threads, size {SIZE}: "
        f"{elapsed:.2f} s, peak {peak[0]} out, created {status['created']}, "
        f"invalidated {invalidated}, up to {most_waiting} waiting ({len(samples)} samples)"
    )


# ------------------------------------------------------------------ wake-ups

REPEATS = 50


@pytest.mark.parametrize("when", ["queued", "racing"])
def test_a_waiter_is_woken_promptly(when: str) -> None:
    """The holder of the only resource checks it in while another thread is in (or entering)
    checkout(timeout=10): the waiter gets that resource well within 2 s, every time out of 50.
    "queued": the check-in comes once the waiter is queued; "racing": after a random 0-200 us,
    so it can land while the waiter is still deciding to wait."""
    pool: ResourcePool[object] = ResourcePool(object, size=1)
    worst = 0.0
    rng = random.Random(1234)
    for _ in range(REPEATS):
        held = pool.checkout()
        thread, outcome = start(lambda: pool.checkout(timeout=10))
        if when == "queued":
            until(lambda: pool.status()["waiting"] == 1)
        else:
            time.sleep(rng.uniform(0, 200e-6))
        returned = time.perf_counter()
        pool.checkin(held)
        thread.join(2)
        worst = max(worst, time.perf_counter() - returned)
        assert not thread.is_alive(), "missed wake-up: the waiter is still asleep"
        assert outcome == [held]
        pool.checkin(held)
    status = assert_balanced(pool)
    assert status["timeouts"] == 0
    assert status["created"] == 1
    print(f"\n[pool wake-up/{when}] {REPEATS} hand-overs, slowest {worst * 1e3:.1f} ms")


def test_waiters_are_served_in_arrival_order() -> None:
    """Three threads queue in order for the only resource; each check-in hands it to the
    longest-waiting one, and a newcomer with timeout=0 cannot take it in between."""
    pool: ResourcePool[object] = ResourcePool(object, size=1)
    resource = pool.checkout()
    order: list[int] = []
    may_return = [threading.Event() for _ in range(3)]

    def waiter(index: int) -> None:
        got = pool.checkout(timeout=10)
        assert got is resource
        order.append(index)
        may_return[index].wait(10)
        pool.checkin(got)

    runs = []
    for index in range(3):
        runs.append(start(lambda i=index: waiter(i)))  # type: ignore[misc]
        until(lambda n=index + 1: pool.status()["waiting"] == n)  # type: ignore[misc]
    pool.checkin(resource)
    with pytest.raises(PoolTimeout):
        pool.checkout(timeout=0)  # granted to waiter 0 already: no overtaking
    for index in range(3):
        until(lambda n=index + 1: len(order) == n)  # type: ignore[misc]
        assert order == list(range(index + 1))
        assert pool.status()["waiting"] == 2 - index
        may_return[index].set()
    for thread, outcome in runs:
        thread.join(JOIN)
        assert outcome == [None]
    assert order == [0, 1, 2]
    assert assert_balanced(pool)["idle"] == 1


def test_a_waiter_times_out_on_the_real_clock() -> None:
    """checkout(timeout=0.2) on an exhausted pool raises PoolTimeout after at least 0.2 s, and
    not much later; the waiter leaves the queue."""
    pool: ResourcePool[object] = ResourcePool(object, size=1)
    held = pool.checkout()
    began = time.perf_counter()
    with pytest.raises(PoolTimeout) as info:
        pool.checkout(timeout=0.2)
    elapsed = time.perf_counter() - began
    assert 0.2 <= elapsed < 2.0
    assert info.value.timeout == 0.2
    pool.checkin(held)
    assert assert_balanced(pool)["timeouts"] == 1


def test_close_fails_every_waiter() -> None:
    """close() while threads wait (timeout 10 s and none): each gets PoolClosed promptly; the
    resource still out is destroyed when it comes back."""
    destroyed: list[object] = []
    pool: ResourcePool[object] = ResourcePool(object, size=1, destroy=destroyed.append)
    held = pool.checkout()
    runs = [start(lambda: pool.checkout(timeout=10)), start(lambda: pool.checkout(timeout=None))]
    until(lambda: pool.status()["waiting"] == 2)
    began = time.perf_counter()
    pool.close()
    for thread, _ in runs:
        thread.join(2)
        assert not thread.is_alive()
    assert time.perf_counter() - began < 2
    for _, outcome in runs:
        assert len(outcome) == 1
        assert isinstance(outcome[0], PoolClosed)
    pool.checkin(held)
    assert destroyed == [held]
    status = assert_balanced(pool)
    assert (status["idle"], status["in_use"], status["destroyed"]) == (0, 0, 1)


def test_a_failed_creation_passes_the_slot_to_the_next_waiter() -> None:
    """Two threads wait on a full pool; the held resource is invalidated, so the first waiter is
    granted a slot; its factory call fails and it gets that error (not a timeout); the slot goes
    on to the second waiter, whose factory call succeeds."""
    failures = [OSError("connect refused")]

    def factory() -> object:
        if failures and len(made) == 1:
            raise failures.pop()
        made.append(object())
        return made[-1]

    made: list[object] = []
    pool: ResourcePool[object] = ResourcePool(factory, size=1)
    held = pool.checkout()
    first = start(lambda: pool.checkout(timeout=10))
    until(lambda: pool.status()["waiting"] == 1)
    second = start(lambda: pool.checkout(timeout=10))
    until(lambda: pool.status()["waiting"] == 2)
    pool.invalidate(held)
    for thread, _ in (first, second):
        thread.join(2)
        assert not thread.is_alive()
    assert len(first[1]) == 1
    assert isinstance(first[1][0], OSError)
    assert second[1] == [made[1]]
    pool.checkin(made[1])
    status = assert_balanced(pool)
    assert (status["failed_creates"], status["created"], status["idle"]) == (1, 2, 1)
