"""Sliding window counter details mutation testing found unchecked: a new limiter is empty at
*any* clock reading. A monotonic clock's zero is arbitrary (a ``Clock`` may read negative, as a
test clock started before its epoch does), and the aligned windows just before 0 (indices -1 and
-2) must start from nothing like any other window: the full limit is free, then the next request
waits exactly until the estimate ``previous * (W - elapsed) / W + current`` leaves room for it."""

from __future__ import annotations

from fractions import Fraction

import pytest

from resilience.ratelimit import Decision, KeyedLimiter, SlidingWindowCounter
from tests.clocks import ManualClock, readings_around_zero

W = 10**9  # the window, 1 s, in ns
LIMIT = 4


def wait_for_one_more(elapsed_ns: int) -> int:
    """After ``LIMIT`` admitted ``elapsed_ns`` into a window: the exact wait until the estimate
    plus 1 is at most ``LIMIT``, in the next window, where ``LIMIT * (W - e) / W + 1 <= LIMIT``,
    i.e. ``e >= W / LIMIT``."""
    e = Fraction(W) - Fraction((LIMIT - 1) * W, LIMIT)
    assert e.denominator == 1
    return (W - elapsed_ns) + int(e)


# Readings in aligned windows -2, -1, 0 and 1, at their start, inside and at their last ns.
READINGS = readings_around_zero(W)


@pytest.mark.parametrize("now_ns", READINGS)
def test_a_new_limiter_is_empty_at_any_clock_reading(now_ns: int) -> None:
    counter = SlidingWindowCounter(LIMIT, 1, clock=ManualClock(now_ns))
    assert counter.check() == Decision(True, LIMIT - 1, 0.0, 0)
    status = counter.status()
    assert status["remaining"] == LIMIT
    assert status["previous"] == 0
    assert status["current"] == 0
    assert status["estimate"] == 0.0
    decisions = [counter.try_acquire() for _ in range(LIMIT + 1)]
    wait = wait_for_one_more(now_ns % W)
    assert decisions == [
        *(Decision(True, LIMIT - k, 0.0, 0) for k in range(1, LIMIT + 1)),
        Decision(False, 0, wait / 10**9, wait),
    ]


@pytest.mark.parametrize("now_ns", READINGS)
def test_a_new_key_is_empty_at_any_clock_reading(now_ns: int) -> None:
    clock = ManualClock(now_ns)
    keyed = KeyedLimiter(lambda: SlidingWindowCounter(LIMIT, 1, clock=clock))
    assert keyed.try_acquire("a", LIMIT) == Decision(True, 0, 0.0, 0)
    wait = wait_for_one_more(now_ns % W)
    assert keyed.try_acquire("a") == Decision(False, 0, wait / 10**9, wait)
    assert keyed.check("b", LIMIT) == Decision(True, 0, 0.0, 0)
