"""Blocking ``acquire`` under competition: other callers take what a waiter was waiting for while
it sleeps, so it must decide again, and again, and still keep its deadline.

The machine's sleeps are uncontended (an honest ``retry_after`` then always admits at the first
retry), so this property supplies the contention: a frozen clock whose ``sleep`` first lets a
competitor take units (drawn by Hypothesis) and then advances time.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import RateLimited, TokenBucket


class ContendedClock(FrozenClock):
    """Frozen time whose every sleep ends with a competitor's ``try_acquire`` call."""

    __slots__ = ("competitor", "limiter", "sleeps")

    def __init__(self, frozen: FrozenTime, competitor: list[int]) -> None:
        super().__init__(frozen)
        self.competitor = competitor  # costs taken, one per sleep, while they last
        self.sleeps = 0
        self.limiter: Any = None

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        # The competitor wakes first and takes what the sleeper was waiting for.
        if self.sleeps < len(self.competitor) and self.limiter is not None:
            self.limiter.try_acquire(min(self.competitor[self.sleeps], self.limiter.max_cost))
        self.sleeps += 1


def deadline_kept(bucket_class: type[Any] = TokenBucket) -> Callable[[], None]:
    """The property, for the given bucket class (planted variants in the teeth tests)."""

    @given(
        capacity=st.integers(1, 4),
        period_us=st.integers(1, 5_000),
        cost=st.integers(1, 4),
        timeout_us=st.integers(0, 20_000),
        competitor=st.lists(st.integers(1, 4), max_size=6),
    )
    def check(
        capacity: int, period_us: int, cost: int, timeout_us: int, competitor: list[int]
    ) -> None:
        cost = min(cost, capacity)
        with FrozenTime() as frozen:
            clock = ContendedClock(frozen, competitor)
            bucket = bucket_class(capacity, Fraction(10**6, period_us), clock=clock)
            clock.limiter = bucket
            bucket.try_acquire(capacity)  # start drained
            start = frozen.now_ns()
            deadline = start + timeout_us * 1_000
            limited: RateLimited | None = None
            try:
                bucket.acquire(cost, timeout=Fraction(timeout_us, 10**6))
            except RateLimited as raised:
                limited = raised
            now = frozen.now_ns()
            assert now <= deadline, (
                f"{'gave up' if limited else 'admitted'} {now - deadline} ns after the deadline, "
                f"after {clock.sleeps} sleeps"
            )
            if limited is not None:
                assert now + limited.retry_after_ns > deadline, (
                    f"gave up although admission was due {limited.retry_after_ns} ns later, "
                    f"within the deadline"
                )

    return check


def test_acquire_keeps_its_deadline_under_competition() -> None:
    """Whatever others take while it sleeps, acquire returns or raises within its timeout, and
    raises only when admission would really come after the deadline."""
    deadline_kept()()
