"""Real threads against one breaker: half-open gating is exact, and calls overlap freely."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import circuitbreaker
import pytest

from properties.harness.frozen import FrozenTime
from resilience import CircuitBreaker

THREADS = 8
WAIT = 10.0  # seconds; only ever reached when the property is broken


def race_half_open(make: Callable[[], circuitbreaker.CircuitBreaker]) -> int:
    """Open ``make()``'s breaker, let it become half-open, release THREADS callers at once while
    every admitted probe is held inside the call; return how many were admitted."""
    with FrozenTime() as frozen:
        breaker = make()
        try:
            breaker.call(_raise)
        except ValueError:
            pass
        frozen.advance_us(1_000_000)
        start = threading.Barrier(THREADS)
        decided = threading.Barrier(THREADS)
        admitted = []

        def probe() -> None:
            admitted.append(1)  # list.append is atomic
            decided.wait(WAIT)

        def caller() -> None:
            start.wait(WAIT)
            try:
                breaker.call(probe)
            except circuitbreaker.CircuitBreakerError:
                decided.wait(WAIT)

        threads = [threading.Thread(target=caller) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert not any(thread.is_alive() for thread in threads)
        return len(admitted)


def _raise() -> None:
    raise ValueError("failure")


@pytest.mark.parametrize("probes", [1, 3])
def test_half_open_admits_exactly_half_open_max_calls(probes: int) -> None:
    """8 threads released together on a half-open breaker: exactly `probes` get through."""
    for _ in range(20):  # many rounds: a race would show up as an over-admission
        admitted = race_half_open(
            lambda: CircuitBreaker(
                failure_threshold=1, recovery_timeout=1, half_open_max_calls=probes
            )
        )
        assert admitted == probes


def test_the_unfixed_base_admits_every_thread() -> None:
    """The same race against circuitbreaker.CircuitBreaker: all 8 get through (the bug we fix)."""
    admitted = race_half_open(
        lambda: circuitbreaker.CircuitBreaker(failure_threshold=1, recovery_timeout=1)
    )
    assert admitted == THREADS


def test_closed_calls_overlap() -> None:
    """8 threads each in a 20 ms call through one breaker are all inside it at once: the lock is
    never held across the user's call. (Proved by a barrier inside the call, not by timing.)"""
    breaker = CircuitBreaker()
    inside = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work() -> None:
        time.sleep(0.02)
        inside.wait(WAIT)  # only passes if all THREADS calls are in flight together

    def caller() -> None:
        try:
            breaker.call(work)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT + 1)
    assert errors == []
    assert breaker.metrics()["calls_succeeded"] == THREADS
