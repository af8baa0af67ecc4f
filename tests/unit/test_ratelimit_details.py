"""Rate limiter details mutation testing found unchecked.

* A new limiter (or key) is empty at *any* clock reading. A monotonic clock's zero is arbitrary
  (a ``Clock`` may read negative, as a test clock started before its epoch does), and the aligned
  windows just before 0 must start from nothing like any other.
* Metrics count every decision, whichever way it was asked for: a keyed limiter's requests and
  a wait's refused attempts (the ones that raise ``RateLimited``) count like ``try_acquire``.
* A sliding log ages out every entry with ``e <= t - W`` at ``t``, and no other, however many
  entries age out at once: a reading that jumps over several of them, the last one at exactly
  ``t - W`` or just after it, counts exactly the live ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from resilience import RateLimited
from resilience.ratelimit import (
    GCRA,
    Decision,
    FixedWindow,
    KeyedLimiter,
    RateLimiter,
    SlidingWindowLog,
    TokenBucket,
)
from tests.clocks import ManualClock, readings_around_zero

W = 10**9  # the window, 1 s, in ns
LIMIT = 4


def admitted(remaining: int) -> Decision:
    return Decision(True, remaining, 0.0, 0)


def rejected(remaining: int, retry_after_ns: int) -> Decision:
    return Decision(False, remaining, retry_after_ns / 10**9, retry_after_ns)


# ------------------------------------------------------------------ empty at any clock reading

# Readings in aligned windows -2, -1, 0 and 1, at their start, inside and at their last ns.
READINGS = readings_around_zero(W)

# Each limits LIMIT units: a burst of LIMIT, or LIMIT per 1 s window.
LIMITERS: dict[str, Callable[[ManualClock], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(LIMIT, 1, clock=clock),
    "gcra": lambda clock: GCRA(1, LIMIT, clock=clock),
    "fixed_window": lambda clock: FixedWindow(LIMIT, 1, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(LIMIT, 1, clock=clock),
}


@pytest.mark.parametrize("now_ns", READINGS)
@pytest.mark.parametrize("algorithm", sorted(LIMITERS))
def test_a_new_limiter_admits_its_whole_limit_at_any_clock_reading(
    algorithm: str, now_ns: int
) -> None:
    limiter = LIMITERS[algorithm](ManualClock(now_ns))
    assert limiter.check() == admitted(LIMIT - 1)
    assert limiter.status()["remaining"] == LIMIT
    assert [limiter.try_acquire() for _ in range(LIMIT)] == [
        admitted(LIMIT - k) for k in range(1, LIMIT + 1)
    ]
    assert not limiter.check()


@pytest.mark.parametrize("now_ns", READINGS)
@pytest.mark.parametrize("algorithm", sorted(LIMITERS))
def test_a_new_key_admits_its_whole_limit_at_any_clock_reading(algorithm: str, now_ns: int) -> None:
    clock = ManualClock(now_ns)
    keyed = KeyedLimiter(lambda: LIMITERS[algorithm](clock))
    assert keyed.check("a", LIMIT) == admitted(0)
    assert keyed.status_of("a")["remaining"] == LIMIT
    assert keyed.try_acquire("a", LIMIT) == admitted(0)
    assert not keyed.check("a")
    assert keyed.try_acquire("b", LIMIT) == admitted(0)


@pytest.mark.parametrize("now_ns", READINGS)
def test_a_new_fixed_window_is_empty_until_its_window_resets(now_ns: int) -> None:
    """Nothing is used in the current window, whichever it is; once the limit is taken, the next
    unit waits exactly until the next aligned window starts."""
    window = FixedWindow(LIMIT, 1, clock=ManualClock(now_ns))
    resets_in = W - now_ns % W
    status = window.status()
    assert (status["used"], status["window_resets_in_ns"]) == (0, resets_in)
    assert window.try_acquire(LIMIT) == admitted(0)
    assert window.try_acquire() == rejected(0, resets_in)
    assert window.status()["used"] == LIMIT


# ------------------------------------------------------------------ sliding log: aging in a jump

# (instant in ns, cost) admitted into a log of limit 10 per 1 s, oldest first; 8 units in all.
ENTRIES = [(0, 1), (1, 1), (2, 1), (10, 2), (20, 3)]
LOG_LIMIT = 10


def live_at(r: int) -> int:
    """Units still counted at ``W + r``: an entry admitted at ``e`` counts while ``e > r``."""
    return sum(cost for at, cost in ENTRIES if at > r)


def wait_at(r: int, cost: int) -> int:
    """The exact wait at ``W + r`` until ``cost`` more units fit: the first instant at which
    enough of the oldest entries have aged out."""
    return min(at - r for at, _ in ENTRIES if at > r and live_at(at) + cost <= LOG_LIMIT)


@pytest.mark.parametrize("r", [-1, 0, 1, 2, 3, 9, 10, 11, 19, 20, 21])
def test_a_sliding_log_ages_out_exactly_the_entries_a_jump_passes(r: int) -> None:
    """The clock jumps from the last entry to ``W + r``: entries at ``e <= r`` have aged out
    (the one at exactly ``r`` included), the ones after ``r`` still count, as the first decision
    after the jump shows."""
    clock = ManualClock(0)
    log = SlidingWindowLog(LOG_LIMIT, 1, clock=clock)
    for at, cost in ENTRIES:
        clock.now_ns = at
        assert log.try_acquire(cost)
    clock.now_ns = W + r
    live = live_at(r)
    assert log.check(LOG_LIMIT - live) == admitted(0)
    if live:
        cost = LOG_LIMIT - live + 1
        assert log.check(cost) == rejected(LOG_LIMIT - live, wait_at(r, cost))
    status = log.status()
    assert status["used"] == live
    assert status["entries"] == sum(1 for at, _ in ENTRIES if at > r)
    assert status["remaining"] == LOG_LIMIT - live


def test_the_aging_model_is_the_documented_one() -> None:
    """The table above, spelled out: 8 units, all live just before ``W``; at ``W + 1`` the
    entries at 0 and 1 have gone; at ``W + 20`` everything has."""
    assert live_at(-1) == 8
    assert live_at(1) == 6
    assert live_at(10) == 3
    assert live_at(20) == 0
    assert wait_at(1, 5) == 1  # 5 free once the entry at 2 ages out, at W + 2
    assert wait_at(1, 7) == 9  # 7 free once the entry at 10 ages out, at W + 10
    assert wait_at(11, 8) == 9  # 8 free once the last entry ages out, at W + 20


# ------------------------------------------------------------------ metrics on every path


def test_a_keyed_limiter_counts_every_request_and_unit() -> None:
    """Two keys of limit 3 per window: admitted 3 + 3, refused 2 + 1 + 3 (five refusals in all
    once the second key is refused twice), with their costs."""
    keyed = KeyedLimiter(lambda: FixedWindow(3, 1, clock=ManualClock(0)))
    decisions = [
        keyed.try_acquire("a", 3),
        keyed.try_acquire("a", 2),
        keyed.try_acquire("a", 1),
        keyed.try_acquire("b", 3),
        keyed.try_acquire("b", 3),
        keyed.try_acquire("b", 1),
    ]
    assert [bool(d) for d in decisions] == [True, False, False, True, False, False]
    assert keyed.metrics() == {
        "admitted": 2,
        "admitted_cost": 6,
        "rejected": 4,
        "rejected_cost": 7,
        "keys": 2,
        "evicted": 0,
    }


def test_a_wait_that_times_out_counts_its_refusal() -> None:
    """Each ``acquire`` that gives up at once (its admission would come after its timeout) was
    refused once: counted with its cost, on plain and keyed limiters alike."""
    clock = ManualClock(0)
    window = FixedWindow(3, 1, clock=clock)
    keyed = KeyedLimiter(lambda: FixedWindow(3, 1, clock=clock))
    assert window.try_acquire(3)
    assert keyed.try_acquire("k", 3)
    for cost, timeout in [(2, 0), (1, 0.5), (3, 0.999_999_999)]:  # the next window is 1 s away
        with pytest.raises(RateLimited):
            window.acquire(cost, timeout=timeout)
        with pytest.raises(RateLimited):
            keyed.acquire("k", cost, timeout=timeout)
    counts = {"admitted": 1, "admitted_cost": 3, "rejected": 3, "rejected_cost": 6}
    assert window.metrics() == counts
    assert keyed.metrics() == {**counts, "keys": 1, "evicted": 0}


# ------------------------------------------------------------------ remaining when exhausted


@pytest.mark.parametrize("algorithm", sorted(LIMITERS))
def test_status_remaining_counts_down_to_zero(algorithm: str) -> None:
    """``status()["remaining"]`` (and a key's ``status_of``) is the whole units free now: one
    after taking all but one, zero once the limit is taken, not a unit more."""
    clock = ManualClock(0)
    limiter = LIMITERS[algorithm](clock)
    keyed = KeyedLimiter(lambda: LIMITERS[algorithm](clock))
    assert limiter.try_acquire(LIMIT - 1)
    assert keyed.try_acquire("k", LIMIT - 1)
    assert limiter.status()["remaining"] == 1
    assert keyed.status_of("k")["remaining"] == 1
    assert limiter.try_acquire()
    assert keyed.try_acquire("k")
    assert limiter.status()["remaining"] == 0
    assert keyed.status_of("k")["remaining"] == 0
    assert " remaining=0 admitted=2 rejected=0>" in repr(limiter)


# ------------------------------------------------------------------ the default cost


@pytest.mark.parametrize("algorithm", sorted(LIMITERS))
def test_every_entry_point_takes_one_unit_by_default(algorithm: str) -> None:
    """``try_acquire()``, ``acquire()``, ``acquire_async()`` each take one unit and ``check()``
    asks about one, on plain and keyed limiters alike."""
    clock = ManualClock(0)
    limiter = LIMITERS[algorithm](clock)
    keyed = KeyedLimiter(lambda: LIMITERS[algorithm](clock))
    assert limiter.check() == admitted(LIMIT - 1)
    assert limiter.acquire() == admitted(LIMIT - 1)
    assert asyncio.run(limiter.acquire_async()) == admitted(LIMIT - 2)
    assert limiter.try_acquire() == admitted(LIMIT - 3)
    assert limiter.metrics()["admitted_cost"] == 3
    assert keyed.check("k") == admitted(LIMIT - 1)
    assert keyed.acquire("k") == admitted(LIMIT - 1)
    assert asyncio.run(keyed.acquire_async("k")) == admitted(LIMIT - 2)
    assert keyed.try_acquire("k") == admitted(LIMIT - 3)
    assert keyed.metrics()["admitted_cost"] == 3
