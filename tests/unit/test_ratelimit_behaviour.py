"""Rate limiters by example under frozen time: exact refills and windows, honest retry_after,
check(), Decision, metrics/status/repr, events, keyed limiters and eviction, RateLimited."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    Event,
    KeyEvicted,
    RateLimited,
    RequestAdmitted,
    RequestRejected,
    ResilienceError,
)
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
from tests.ids import stable_id

MS = 1_000  # microseconds
S = 1_000_000  # microseconds
START_NS = 86_400 * 10**9  # FrozenTime's monotonic_ns() at the start of every freeze


@pytest.fixture
def clock(frozen: FrozenTime) -> FrozenClock:
    return FrozenClock(frozen)


def admitted(remaining: int) -> Decision:
    return Decision(True, remaining, 0.0, 0)


def rejected(remaining: int, retry_after_ns: int) -> Decision:
    return Decision(False, remaining, retry_after_ns / 1e9, retry_after_ns)


def assert_honest(
    frozen: FrozenTime, limiter: RateLimiter[Any], cost: int, retry_after_ns: int
) -> None:
    """``check(cost)`` is rejected with exactly ``retry_after_ns`` (a whole number of us), still
    rejected 1 us before it is over, and admitted (by ``try_acquire``) once it is."""
    decision = limiter.check(cost)
    assert not decision
    assert decision.retry_after_ns == retry_after_ns
    assert decision.retry_after == retry_after_ns / 1e9
    assert retry_after_ns % MS == 0, "choose a config whose boundary is a whole microsecond"
    frozen.advance_us(retry_after_ns // MS - 1)
    late = limiter.check(cost)
    assert not late
    assert late.retry_after_ns == 1_000
    frozen.advance_us(1)
    assert limiter.try_acquire(cost)


# ------------------------------------------------------------------ token bucket


def test_token_bucket_starts_full(clock: FrozenClock) -> None:
    """A new bucket admits its whole capacity at once, counting remaining down, then refuses."""
    bucket = TokenBucket(5, 1, clock=clock)
    assert [bucket.try_acquire() for _ in range(5)] == [admitted(r) for r in (4, 3, 2, 1, 0)]
    assert bucket.try_acquire() == rejected(0, 10**9)


def test_token_bucket_admits_its_capacity_in_one_request(clock: FrozenClock) -> None:
    """A request for the whole capacity is admitted by a full bucket, and only by a full one."""
    bucket = TokenBucket(4, Rate(4, per=1), clock=clock)
    assert bucket.try_acquire(4) == admitted(0)
    assert bucket.try_acquire(4) == rejected(0, 10**9)


def test_token_bucket_refills_fractional_rates_exactly(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """Rate(3, per=0.007): one token every 7/3 ms, exactly: at 2333 us there is none yet (334 ns
    to go), at 2334 us there is one; 7 ms after emptying, 3 tokens have come back exactly."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    assert bucket.try_acquire(3)
    assert bucket.check() == rejected(0, 2_333_334)  # 7/3 ms rounded *up* to the nanosecond
    frozen.advance_us(2_333)
    assert bucket.check() == rejected(0, 334)
    frozen.advance_us(1)
    assert bucket.try_acquire() == admitted(0)
    # 2334 us refilled 1.000286 tokens and one was taken: 0.000286 of a token is kept exactly.
    assert bucket.status()["tokens"] == 2_000 / 7_000_000
    frozen.advance_us(7 * MS - 2_334)  # 7 ms after emptying: 3 refilled, 1 taken, exactly 2
    assert bucket.status()["tokens"] == 2.0
    assert bucket.check(2) == admitted(0)
    assert bucket.check(3) == rejected(2, 2_333_334)
    frozen.advance_us(2_333)
    assert not bucket.check(3)
    frozen.advance_us(1)
    assert bucket.try_acquire(3) == admitted(0)


def test_token_bucket_refill_over_many_small_steps_loses_nothing(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """7000 steps of 1 us refill exactly as much as one step of 7 ms (3 tokens)."""
    bucket = TokenBucket(3, Rate(3, per=0.007), clock=clock)
    bucket.try_acquire(3)
    for _ in range(6_999):
        frozen.advance_us(1)
        assert not bucket.try_acquire(3)
    frozen.advance_us(1)
    assert bucket.try_acquire(3)


def test_token_bucket_caps_at_capacity(frozen: FrozenTime, clock: FrozenClock) -> None:
    """An hour idle does not bank more than capacity: 3 are admitted, the 4th is refused."""
    bucket = TokenBucket(3, 1000, clock=clock)
    bucket.try_acquire(3)
    frozen.advance_us(3_600 * S)
    assert bucket.status()["tokens"] == 3.0
    assert [bool(bucket.try_acquire()) for _ in range(4)] == [True, True, True, False]
    assert bucket.check() == rejected(0, 1_000_000)


@pytest.mark.parametrize(
    ("rate", "cost", "retry_ns"),
    [
        (Rate(1, per=0.25), 1, 250_000_000),
        (Rate(1, per=0.25), 2, 500_000_000),
        (Rate(3, per=0.007), 3, 7_000_000),
        (0.1, 1, 10_000_000_000),
        (Rate(1, per=1e-6), 2, 2_000),
    ],
    ids=stable_id,
)
def test_token_bucket_retry_after_is_exact_and_honest(
    frozen: FrozenTime, clock: FrozenClock, rate: object, cost: int, retry_ns: int
) -> None:
    """From empty, retry_after_ns is exactly cost / rate; 1 us less is refused, it is admitted."""
    bucket = TokenBucket(3, rate, clock=clock)
    bucket.try_acquire(3)
    assert_honest(frozen, bucket, cost, retry_ns)


def test_token_bucket_retry_after_accounts_for_partial_tokens(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """Half a token banked halves the wait for the next one."""
    bucket = TokenBucket(2, Rate(1, per=0.002), clock=clock)
    bucket.try_acquire(2)
    frozen.advance_us(1_000)
    assert_honest(frozen, bucket, 1, 1_000_000)
    assert_honest(frozen, bucket, 2, 4_000_000)


def test_rejections_take_nothing_from_the_bucket(frozen: FrozenTime, clock: FrozenClock) -> None:
    """A refused request leaves the bucket as it was: its retry_after does not grow."""
    bucket = TokenBucket(2, Rate(1, per=0.001), clock=clock)
    bucket.try_acquire(2)
    first = bucket.try_acquire(2)
    for _ in range(5):
        assert bucket.try_acquire(2) == first
    assert first == rejected(0, 2_000_000)


# ------------------------------------------------------------------ GCRA

SCRIPT = [  # (pause in us, cost)
    (0, 1), (0, 2), (0, 1), (100, 1), (2_333, 1), (1, 1), (0, 1), (6_999, 3), (1, 3),
    (1, 1), (20_000, 2), (0, 2), (2_334, 1), (4_666, 2), (4_667, 2), (0, 1), (10**6, 3),
    (0, 1), (7_000, 3), (1, 1),
]  # fmt: skip


def run(frozen: FrozenTime, limiter: RateLimiter[Any]) -> list[Decision]:
    decisions = []
    for pause_us, cost in SCRIPT:
        frozen.advance_us(pause_us)
        looked = limiter.check(cost)
        decision = limiter.try_acquire(cost)
        assert looked == decision
        decisions.append(decision)
    return decisions


def test_gcra_decides_exactly_as_the_token_bucket() -> None:
    """GCRA(rate, burst) and TokenBucket(burst, rate) make identical decisions, retry_after and
    remaining included, on a script mixing bursts, fractional refills and exact boundaries."""
    with FrozenTime() as frozen:
        expected = run(frozen, TokenBucket(3, Rate(3, per=0.007), clock=FrozenClock(frozen)))
    with FrozenTime() as frozen:
        assert run(frozen, GCRA(Rate(3, per=0.007), 3, clock=FrozenClock(frozen))) == expected
    assert expected == SCRIPT_DECISIONS


# What the script must get from a burst of 3 refilled at 3 per 7 ms (worked out by hand).
SCRIPT_DECISIONS = [
    admitted(2), admitted(0), rejected(0, 2_333_334), rejected(0, 2_233_334), admitted(0),
    rejected(0, 2_232_667), rejected(0, 2_232_667), admitted(0), rejected(0, 6_999_000),
    rejected(0, 2_331_334), admitted(1), rejected(1, 2_333_334), admitted(1), admitted(1),
    admitted(1), admitted(0), admitted(0), rejected(0, 2_333_334), admitted(0),
    rejected(0, 2_332_334),
]  # fmt: skip


def test_gcra_status_reports_when_it_is_full_again(frozen: FrozenTime, clock: FrozenClock) -> None:
    """full_in_ns counts down to 0 as the theoretical arrival time is reached."""
    gcra = GCRA(Rate(1, per=0.001), 3, clock=clock)
    assert gcra.status()["full_in_ns"] == 0
    gcra.try_acquire(2)
    assert gcra.status()["full_in_ns"] == 2_000_000
    frozen.advance_us(1_500)
    assert gcra.status()["full_in_ns"] == 500_000
    assert_honest(frozen, gcra, 3, 500_000)


# ------------------------------------------------------------------ fixed window


def test_fixed_windows_are_aligned_to_clock_zero(frozen: FrozenTime, clock: FrozenClock) -> None:
    """With 7 s windows the freeze starts 6 s into window [86394 s, 86401 s): the window resets
    1 s after the start, not 7 s after the first request, and each later one lasts 7 s."""
    assert START_NS % 7_000_000_000 == 6_000_000_000
    window = FixedWindow(2, 7, clock=clock)
    assert window.status()["window_resets_in_ns"] == 10**9
    assert window.try_acquire(2) == admitted(0)
    assert_honest(frozen, window, 1, 10**9)  # admitted at 86401 s, the first instant of the next
    assert window.try_acquire() == admitted(0)
    assert_honest(frozen, window, 1, 7 * 10**9)


def test_fixed_window_rejections_do_not_count(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Refused requests take nothing: after two refusals the remaining unit is still there."""
    window = FixedWindow(3, 1, clock=clock)
    assert window.try_acquire(2) == admitted(1)
    assert window.try_acquire(2) == rejected(1, 10**9)
    frozen.advance_us(500 * MS)
    assert window.try_acquire(3) == rejected(1, 500_000_000)
    assert window.try_acquire(1) == admitted(0)
    assert window.status()["used"] == 3
    assert window.metrics() == {
        "admitted": 2,
        "admitted_cost": 3,
        "rejected": 2,
        "rejected_cost": 5,
    }


def test_fixed_window_allows_a_burst_across_the_boundary(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """The documented weakness: limit at the end of one window and again at the next start."""
    window = FixedWindow(3, 1, clock=clock)
    frozen.advance_us(S - 1)
    assert window.try_acquire(3)
    frozen.advance_us(1)
    assert window.try_acquire(3)
    assert window.status()["used"] == 3


# ------------------------------------------------------------------ sliding log


def test_sliding_log_entry_counts_until_exactly_one_window_later(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """An entry admitted at e counts at e + W - 1 us and has aged out at exactly e + W."""
    log = SlidingWindowLog(1, 1, clock=clock)
    frozen.advance_us(123)  # e is not aligned to anything
    assert log.try_acquire()
    frozen.advance_us(S - 1)
    assert log.try_acquire() == rejected(0, 1_000)
    frozen.advance_us(1)
    assert log.try_acquire() == admitted(0)


def test_sliding_log_retry_after_comes_from_the_oldest_entries(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """Entries at 0, 100 and 200 ms; at 300 ms one unit waits for the first to age out (700 ms)
    and two units wait for the first two (800 ms)."""
    log = SlidingWindowLog(3, 1, clock=clock)
    for _ in range(3):
        assert log.try_acquire()
        frozen.advance_us(100 * MS)
    assert log.check(1) == rejected(0, 700_000_000)
    assert log.check(2) == rejected(0, 800_000_000)
    assert log.check(3) == rejected(0, 900_000_000)
    assert_honest(frozen, log, 1, 700_000_000)  # admitted at 1000 ms: entries at 100, 200, 1000
    assert log.check(2) == rejected(0, 200_000_000)


def test_sliding_log_costs_age_out_with_their_entry(frozen: FrozenTime, clock: FrozenClock) -> None:
    """A cost-3 entry frees all 3 units at once; a cost-1 entry after it frees only 1."""
    log = SlidingWindowLog(5, 1, clock=clock)
    assert log.try_acquire(3) == admitted(2)
    frozen.advance_us(300 * MS)
    assert log.try_acquire(2) == admitted(0)
    frozen.advance_us(100 * MS)
    assert log.check(1) == rejected(0, 600_000_000)
    assert log.check(3) == rejected(0, 600_000_000)
    assert log.check(4) == rejected(0, 900_000_000)
    assert log.check(5) == rejected(0, 900_000_000)


def test_sliding_log_merges_admissions_at_one_instant(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """Several admissions at one instant are one entry; entries that aged out are not live."""
    log = SlidingWindowLog(10, 1, clock=clock)
    for _ in range(4):
        log.try_acquire()
    frozen.advance_us(1)
    log.try_acquire(2)
    assert log.status()["entries"] == 2
    assert log.status()["used"] == 6
    frozen.advance_us(S - 1)
    assert log.status()["entries"] == 1
    assert log.status()["used"] == 2


def test_sliding_log_stays_exact_over_many_entries(frozen: FrozenTime, clock: FrozenClock) -> None:
    """2000 admissions 1 ms apart against limit 100 per 100 ms: each is admitted exactly when the
    entry 100 ms older ages out, however many have been compacted away."""
    log = SlidingWindowLog(100, 0.1, clock=clock)
    for i in range(2_000):
        assert log.try_acquire(), i
        assert log.status()["used"] == min(i + 1, 100)
        frozen.advance_us(MS)
    assert log.metrics()["admitted"] == 2_000
    # 1 ms after the last one, the entry from 100 ms before has just aged out.
    assert (log.status()["entries"], log.status()["used"]) == (99, 99)


# ------------------------------------------------------------------ sliding counter


def test_sliding_counter_weights_the_previous_window(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """10 admitted in one window; 250 ms into the next the estimate is 10 * 0.75 = 7.5, so 2
    more fit and 3 wait exactly 50 ms (until 10 * 0.7 + 3 = 10)."""
    counter = SlidingWindowCounter(10, 1, clock=clock)
    assert counter.try_acquire(10) == admitted(0)
    frozen.advance_us(1_250 * MS)
    status = counter.status()
    assert (status["previous"], status["current"], status["estimate"]) == (10, 0, 7.5)
    assert counter.check(2) == admitted(0)
    assert counter.check(3) == rejected(2, 50_000_000)
    assert_honest(frozen, counter, 3, 50_000_000)
    assert counter.status()["estimate"] == 10.0


def test_sliding_counter_retry_after_into_the_next_window(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """limit 4: 4 in window k, 2 more at k+1 + 500 ms (estimate 2 + 2 = 4). A request for 3
    can no longer fit in window k+1 (2 + 3 > 4): it waits to k+2 + 500 ms, where 2 * 0.5 + 3 =
    4; a request for 1 fits once the old 4 weigh 1 (at k+1 + 750 ms). Then, with 3 in window
    k+1, a request for 3 waits until those 3 weigh 1: k+2 + 2/3 s, rounded up to the ns."""
    counter = SlidingWindowCounter(4, 1, clock=clock)
    assert counter.try_acquire(4)
    frozen.advance_us(1_500 * MS)
    assert counter.try_acquire(2) == admitted(0)
    assert counter.check(3) == rejected(0, 1_000_000_000)
    assert counter.check(1) == rejected(0, 250_000_000)
    assert counter.check(2) == rejected(0, 500_000_000)  # the window's end: previous weighs 0
    assert_honest(frozen, counter, 1, 250_000_000)
    assert counter.check(3) == rejected(0, 916_666_667)
    assert counter.check(1) == rejected(0, 250_000_000)
    frozen.advance_us(916_666)
    assert counter.check(3) == rejected(2, 667)  # the old 3 weigh 1.000002
    frozen.advance_us(1)
    assert counter.try_acquire(3) == admitted(0)
    status = counter.status()
    assert (status["previous"], status["current"]) == (3, 3)


def test_sliding_counter_forgets_after_two_windows(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Two windows later neither count weighs anything: the full limit is available."""
    counter = SlidingWindowCounter(4, 1, clock=clock)
    counter.try_acquire(4)
    frozen.advance_us(2 * S)
    status = counter.status()
    assert (status["previous"], status["current"], status["estimate"]) == (0, 0, 0.0)
    assert counter.try_acquire(4)


# ------------------------------------------------------------------ check()

MAKERS: dict[str, Callable[[FrozenClock], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(3, Rate(3, per=0.007), clock=clock),
    "gcra": lambda clock: GCRA(Rate(3, per=0.007), 3, clock=clock),
    "fixed_window": lambda clock: FixedWindow(3, 0.007, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(3, 0.007, clock=clock),
    "sliding_counter": lambda clock: SlidingWindowCounter(3, 0.007, clock=clock),
}


@pytest.mark.parametrize("name", MAKERS)
def test_check_agrees_with_try_acquire_and_changes_nothing(
    frozen: FrozenTime, clock: FrozenClock, name: str
) -> None:
    """At every step, check(cost) (asked three times, for every cost) equals what try_acquire
    then decides; checks count nothing, emit nothing and leave status unchanged."""
    limiter = MAKERS[name](clock)
    events: list[Event] = []
    limiter.subscribe(events.append)
    outcomes = []
    for pause_us, cost in SCRIPT:
        frozen.advance_us(pause_us)
        status, metrics, seen = limiter.status(), limiter.metrics(), len(events)
        looks = {c: [limiter.check(c) for _ in range(3)] for c in (1, 2, 3)}
        assert (limiter.status(), limiter.metrics(), len(events)) == (status, metrics, seen)
        decision = limiter.try_acquire(cost)
        assert looks[cost] == [decision] * 3
        outcomes.append(bool(decision))
    assert True in outcomes
    assert False in outcomes
    assert len(events) == len(SCRIPT)


def test_check_on_an_exhausted_limiter_is_stable(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Checking a thousand times does not delay the admission it predicts."""
    bucket = TokenBucket(1, Rate(1, per=0.001), clock=clock)
    bucket.try_acquire()
    for _ in range(1_000):
        assert bucket.check() == rejected(0, 1_000_000)
    frozen.advance_us(MS)
    assert bucket.try_acquire()


# ------------------------------------------------------------------ Decision


def test_decision_is_truthy_exactly_when_admitted(clock: FrozenClock) -> None:
    """A rejection is falsy although it is a non-empty tuple; an admission leaving 0 is truthy."""
    bucket = TokenBucket(1, 1, clock=clock)
    yes = bucket.try_acquire()
    no = bucket.try_acquire()
    assert yes
    assert yes.admitted
    assert yes.remaining == 0
    assert not no
    assert not no.admitted
    assert len(no) == 4
    assert (yes.retry_after, yes.retry_after_ns) == (0.0, 0)
    assert (no.retry_after, no.retry_after_ns) == (1.0, 10**9)
    admitted_flag, remaining, retry_after, retry_after_ns = no
    assert (admitted_flag, remaining, retry_after, retry_after_ns) == (False, 0, 1.0, 10**9)
    assert [d for d in (yes, no) if d] == [yes]


def test_large_remaining_values_are_exact(clock: FrozenClock) -> None:
    """Admissions leaving more than the cached range still report the exact remaining."""
    bucket = TokenBucket(10**6, 1, clock=clock)
    assert bucket.try_acquire() == admitted(10**6 - 1)
    assert bucket.try_acquire(10**5) == admitted(10**6 - 1 - 10**5)


# ------------------------------------------------------------------ metrics, status, repr


def test_metrics_count_requests_and_units(clock: FrozenClock) -> None:
    """admitted/rejected count requests; *_cost count units."""
    bucket = TokenBucket(5, 1, clock=clock)
    bucket.try_acquire(2)
    bucket.try_acquire(3)
    bucket.try_acquire(4)
    bucket.try_acquire(1)
    assert bucket.metrics() == {
        "admitted": 2,
        "admitted_cost": 5,
        "rejected": 2,
        "rejected_cost": 5,
    }


def test_token_bucket_status_and_repr(frozen: FrozenTime, clock: FrozenClock) -> None:
    """status() holds name, algorithm, config, tokens and counters; repr summarises them."""
    bucket = TokenBucket(4, Rate(1, per=0.5), name="api", clock=clock)
    bucket.try_acquire(3)
    frozen.advance_us(250 * MS)
    status = bucket.status()
    assert status == {
        "name": "api",
        "algorithm": "token_bucket",
        "capacity": 4,
        "refill_rate_per_s": 2.0,
        "remaining": status["remaining"],  # see test_status_remaining_is_what_is_free_now
        "tokens": 1.5,
        "admitted": 1,
        "admitted_cost": 3,
        "rejected": 0,
        "rejected_cost": 0,
    }
    assert repr(bucket).startswith("<TokenBucket 'api' capacity=4 refill_rate_per_s=2.0 ")
    assert repr(bucket).endswith(" admitted=1 rejected=0>")
    assert bucket.name == "api"
    assert bucket.max_cost == 4


@pytest.mark.parametrize(
    ("make", "config"),
    [
        (lambda c: GCRA(Rate(3, per=0.007), 3, clock=c), {"burst": 3}),
        (lambda c: FixedWindow(3, 0.5, clock=c), {"limit": 3, "window_s": 0.5, "used": 0}),
        (lambda c: SlidingWindowLog(3, 0.5, clock=c), {"limit": 3, "used": 0, "entries": 0}),
        (lambda c: SlidingWindowCounter(3, 0.5, clock=c), {"limit": 3, "estimate": 0.0}),
    ],
    ids=["gcra", "fixed_window", "sliding_log", "sliding_counter"],
)
def test_each_algorithm_describes_itself(
    clock: FrozenClock, make: Callable[[FrozenClock], RateLimiter[Any]], config: dict[str, Any]
) -> None:
    """status() names the algorithm and includes its configuration and state; repr its class."""
    limiter = make(clock)
    status = limiter.status()
    assert status["name"] == type(limiter).__name__
    assert status["algorithm"] == limiter.algorithm
    assert status.items() >= config.items()
    assert repr(limiter).startswith(f"<{type(limiter).__name__} '{type(limiter).__name__}' ")


@pytest.mark.parametrize("name", MAKERS)
def test_status_remaining_is_what_is_free_now(clock: FrozenClock, name: str) -> None:
    """A fresh limiter of 3 units reports remaining=3; with 1 unit left, remaining=1 (it could
    not tell 1 left from 0 left otherwise); repr shows the same number."""
    limiter = MAKERS[name](clock)
    assert limiter.status()["remaining"] == 3
    assert " remaining=3 " in repr(limiter)
    limiter.try_acquire(2)
    assert limiter.status()["remaining"] == 1
    keyed = KeyedLimiter(lambda: MAKERS[name](clock))
    assert keyed.status_of("k")["remaining"] == 3


# ------------------------------------------------------------------ events


def test_events_arrive_in_order_with_exact_fields(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Each decision is one event, in order, stamped with the clock; check() emits none."""
    bucket = TokenBucket(2, Rate(1, per=0.001), name="api", clock=clock)
    events: list[Event] = []
    bucket.subscribe(events.append)
    bucket.try_acquire()
    bucket.check(2)
    bucket.try_acquire(2)
    frozen.advance_us(500)
    bucket.try_acquire()
    t = START_NS
    assert events == [
        RequestAdmitted("api", t, None, 1, 1),
        RequestRejected("api", t, None, 2, 1_000_000),
        RequestAdmitted("api", t + 500_000, None, 1, 0),
    ]
    assert events[2].at == (t + 500_000) / 1e9


def test_unsubscribe_stops_delivery(clock: FrozenClock) -> None:
    """After unsubscribe() a listener hears nothing more; other listeners still do."""
    bucket = TokenBucket(5, 1, clock=clock)
    first: list[Event] = []
    second: list[Event] = []
    stop_first = bucket.subscribe(first.append)
    bucket.subscribe(second.append)
    bucket.try_acquire()
    stop_first()
    stop_first()  # idempotent
    bucket.try_acquire()
    assert len(first) == 1
    assert len(second) == 2


def test_a_raising_listener_is_logged_and_the_decision_stands(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener that raises never breaks try_acquire; the error is logged."""
    bucket = TokenBucket(1, 1, clock=clock)

    def bad(event: Event) -> None:
        raise RuntimeError("listener bug")

    bucket.subscribe(bad)
    with caplog.at_level(logging.ERROR, logger="resilience.events"):
        assert bucket.try_acquire()
    assert "listener" in caplog.text
    assert bucket.metrics()["admitted"] == 1


def test_a_listener_may_call_back_into_the_limiter(clock: FrozenClock) -> None:
    """Events are delivered after the lock is released: a listener can query the limiter."""
    bucket = TokenBucket(3, 1, clock=clock)
    seen: list[int] = []
    bucket.subscribe(lambda event: seen.append(bucket.metrics()["admitted"]))
    bucket.try_acquire()
    bucket.try_acquire()
    assert seen == [1, 2]


# ------------------------------------------------------------------ keyed limiter

ODD_KEYS: list[object] = [
    "",
    "x" * 10_000,
    "ключ-🔑",
    ("tenant", 7),
    None,
    0,
    -1,
    frozenset({"a"}),
    b"bytes",
]


def test_keys_are_independent(clock: FrozenClock) -> None:
    """Every hashable key (empty, huge, unicode, tuples, None, ...) has its own full budget."""
    keyed = KeyedLimiter(lambda: TokenBucket(2, 1, clock=clock))
    for key in ODD_KEYS:
        assert keyed.try_acquire(key, 2) == admitted(0)
    for key in ODD_KEYS:
        assert keyed.try_acquire(key) == rejected(0, 10**9)
        assert key in keyed
    assert len(keyed) == len(ODD_KEYS)
    assert "x" * 9_999 not in keyed
    assert keyed.check("fresh", 2) == admitted(0)


def test_equal_keys_share_one_budget(clock: FrozenClock) -> None:
    """Keys are compared as dict keys: 1, 1.0 and True are one key; "1" is another."""
    keyed = KeyedLimiter(lambda: TokenBucket(3, 1, clock=clock))
    assert keyed.try_acquire(1)
    assert keyed.try_acquire(1.0)
    assert keyed.try_acquire(True)
    assert not keyed.try_acquire(1)
    assert keyed.try_acquire("1")
    assert len(keyed) == 2


def test_unhashable_keys_raise_and_count_nothing(clock: FrozenClock) -> None:
    """A list key raises TypeError; nothing is created or counted."""
    keyed = KeyedLimiter(lambda: TokenBucket(3, 1, clock=clock))
    with pytest.raises(TypeError):
        keyed.try_acquire(["a"])
    with pytest.raises(TypeError):
        keyed.check({"a": 1})
    assert len(keyed) == 0
    assert keyed.metrics()["admitted"] == keyed.metrics()["rejected"] == 0


def test_each_key_starts_from_a_fresh_template(frozen: FrozenTime, clock: FrozenClock) -> None:
    """The template's own use does not leak into keys, and keys do not share state."""
    template = FixedWindow(2, 1, clock=clock)
    template.try_acquire(2)
    keyed = KeyedLimiter(lambda: template)
    assert keyed.template is template
    assert keyed.try_acquire("a", 2) == admitted(0)
    assert keyed.try_acquire("b", 2) == admitted(0)
    assert keyed.try_acquire("a") == rejected(0, 10**9)
    assert template.metrics()["admitted"] == 1


def test_keyed_check_and_status_of_create_no_state(clock: FrozenClock) -> None:
    """check() and status_of() on an unknown key describe a fresh key without storing it."""
    keyed = KeyedLimiter(lambda: SlidingWindowLog(3, 1, clock=clock))
    assert keyed.check("ghost", 3) == admitted(0)
    assert keyed.status_of("ghost") == {
        "key": "ghost",
        "remaining": keyed.status_of("ghost")["remaining"],
        "used": 0,
        "entries": 0,
    }
    assert len(keyed) == 0
    assert "ghost" not in keyed
    keyed.try_acquire("ghost", 2)
    assert keyed.status_of("ghost")["used"] == 2


def test_keyed_status_metrics_and_repr(clock: FrozenClock) -> None:
    """status() has the template's config and keyed counters; repr summarises them."""
    keyed = KeyedLimiter(lambda: TokenBucket(2, 1, clock=clock), name="per-user")
    keyed.try_acquire("a", 2)
    keyed.try_acquire("a")
    keyed.try_acquire("b")
    assert keyed.status() == {
        "name": "per-user",
        "algorithm": "token_bucket",
        "evict_idle": True,
        "capacity": 2,
        "refill_rate_per_s": 1.0,
        "admitted": 2,
        "admitted_cost": 3,
        "rejected": 1,
        "rejected_cost": 1,
        "keys": 2,
        "evicted": 0,
    }
    assert repr(keyed) == (
        "<KeyedLimiter 'per-user' algorithm=token_bucket keys=2 admitted=2 rejected=1 evicted=0>"
    )
    assert KeyedLimiter(lambda: GCRA(1, 1, clock=clock)).name == "KeyedGCRA"
    assert keyed.max_cost == 2


def keyed_bucket(clock: FrozenClock, **kwargs: Any) -> KeyedLimiter[Any]:
    """Two tokens, one back every millisecond: a key used once is fresh again 1 ms later."""
    return KeyedLimiter(lambda: TokenBucket(2, Rate(1, per=0.001), clock=clock), **kwargs)


def test_fresh_keys_are_evicted_as_traffic_flows(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Ten keys used at t; at t + 1 ms they are fresh, and each later decision drops up to two
    of the oldest, so len() shrinks while new keys arrive."""
    keyed = keyed_bucket(clock)
    for i in range(10):
        keyed.try_acquire(i)
    assert len(keyed) == 10
    frozen.advance_us(999)
    keyed.try_acquire("new0")
    assert len(keyed) == 11  # not fresh yet: nothing dropped
    frozen.advance_us(1)
    keyed.try_acquire("new1")
    assert len(keyed) == 10  # 0 and 1 dropped, new1 added
    assert 0 not in keyed
    assert 1 not in keyed
    assert 2 in keyed
    for _ in range(4):
        keyed.try_acquire("new1")
    assert len(keyed) == 2  # 2..9 dropped, two per decision
    assert keyed.metrics()["evicted"] == 10
    assert keyed.metrics()["keys"] == 2


def test_an_evicted_key_behaves_as_a_fresh_one(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Eviction is unobservable: an evicted key gets exactly a fresh key's decisions."""
    keyed = keyed_bucket(clock)
    keyed.try_acquire("a", 2)
    frozen.advance_us(2 * MS)
    assert keyed.sweep() == 1
    assert "a" not in keyed
    assert [keyed.try_acquire("a") for _ in range(3)] == [
        admitted(1),
        admitted(0),
        rejected(0, 1_000_000),
    ]


def test_sweep_drops_every_fresh_key_and_returns_the_count(
    frozen: FrozenTime, clock: FrozenClock
) -> None:
    """sweep() drops all fresh keys at once, keeps the rest, and says how many it dropped."""
    keyed = keyed_bucket(clock)
    for i in range(5):
        keyed.try_acquire(i)
    frozen.advance_us(MS)
    keyed.try_acquire("recent")
    assert keyed.sweep() == 3  # 0 and 1 were already dropped by the last decision
    assert keyed.sweep() == 0
    assert list(range(5)) == [i for i in range(5) if i not in keyed]
    assert "recent" in keyed
    assert keyed.metrics()["evicted"] == 5


def test_a_throttled_key_is_never_evicted(frozen: FrozenTime, clock: FrozenClock) -> None:
    """A drained key keeps its state (and its refusals) through sweeps and heavy traffic, until
    it has refilled completely."""
    keyed = keyed_bucket(clock)
    keyed.try_acquire("hot", 2)
    for i in range(1_000):
        frozen.advance_us(1)
        keyed.try_acquire(i)
        keyed.sweep()
        assert "hot" in keyed
    assert keyed.check("hot", 2) == rejected(1, 1_000_000)
    frozen.advance_us(MS - 1)
    keyed.sweep()
    assert "hot" in keyed
    assert keyed.check("hot", 2) == rejected(1, 1_000)
    frozen.advance_us(1)
    keyed.try_acquire("other")
    keyed.sweep()
    assert "hot" not in keyed


@pytest.mark.parametrize("name", MAKERS)
def test_every_algorithm_becomes_evictable(frozen: FrozenTime, name: str) -> None:
    """Each algorithm's keys become fresh a bounded time after their last admission, and are
    not fresh before: a key used once at t is kept at t and dropped by t + 2 windows."""
    clock = FrozenClock(frozen)
    keyed = KeyedLimiter(lambda: MAKERS[name](clock))
    keyed.try_acquire("k", 2)
    assert keyed.sweep() == 0
    frozen.advance_us(14 * MS)
    assert keyed.sweep() == 1
    assert len(keyed) == 0


def test_evict_idle_false_never_evicts(frozen: FrozenTime, clock: FrozenClock) -> None:
    """With evict_idle=False keys stay however stale they get; only sweep() drops them."""
    keyed = keyed_bucket(clock, evict_idle=False)
    for i in range(100):
        keyed.try_acquire(i)
    frozen.advance_us(3_600 * S)
    for i in range(100, 200):
        keyed.try_acquire(i)
    assert len(keyed) == 200
    assert keyed.metrics()["evicted"] == 0
    assert keyed.status()["evict_idle"] is False
    assert keyed.sweep() == 100
    assert len(keyed) == 100


def test_evictions_are_events(frozen: FrozenTime, clock: FrozenClock) -> None:
    """Each dropped key is a KeyEvicted event, after the decision that caused it."""
    keyed = keyed_bucket(clock, name="users")
    events: list[Event] = []
    keyed.subscribe(events.append)
    keyed.try_acquire("a")
    keyed.try_acquire("b")
    frozen.advance_us(MS)
    keyed.try_acquire("c")
    now = START_NS + 1_000_000
    assert events == [
        RequestAdmitted("users", START_NS, "a", 1, 1),
        RequestAdmitted("users", START_NS, "b", 1, 1),
        RequestAdmitted("users", now, "c", 1, 1),
        KeyEvicted("users", now, "a"),
        KeyEvicted("users", now, "b"),
    ]
    frozen.advance_us(MS)
    assert keyed.sweep() == 1
    assert events[-1] == KeyEvicted("users", now + 1_000_000, "c")


def test_keyed_rejections_are_events_with_the_key(clock: FrozenClock) -> None:
    """A keyed refusal carries its key, cost and retry_after_ns."""
    keyed = keyed_bucket(clock)
    events: list[Event] = []
    keyed.subscribe(events.append)
    keyed.try_acquire(("t", 1), 2)
    keyed.try_acquire(("t", 1), 2)
    assert events[-1] == RequestRejected("KeyedTokenBucket", START_NS, ("t", 1), 2, 2_000_000)


# ------------------------------------------------------------------ RateLimited


def test_rate_limited_carries_the_wait_and_pickles() -> None:
    """RateLimited holds retry_after (s) and retry_after_ns (exact), cost and key, and survives
    pickling with all of them."""
    error = RateLimited("api", retry_after_ns=1_500_000, cost=3, key=("tenant", "ü"))
    assert isinstance(error, ResilienceError)
    assert not isinstance(error, ValueError)
    assert error.retry_after == 0.0015
    assert str(error) == (
        "rate limit \"api\" for key ('tenant', 'ü') exceeded (cost 3): retry after 0.0015 s"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimited
    assert (copy.limiter, copy.retry_after_ns, copy.retry_after, copy.cost, copy.key) == (
        "api",
        1_500_000,
        0.0015,
        3,
        ("tenant", "ü"),
    )
    assert str(copy) == str(error)


def test_rate_limited_from_a_plain_limiter_has_no_key(clock: FrozenClock) -> None:
    """Raised by acquire() with a timeout too short: the computed wait, the cost, key None."""
    bucket = TokenBucket(2, Rate(1, per=0.25), name="db", clock=clock)
    bucket.try_acquire(2)
    with pytest.raises(RateLimited) as info:
        bucket.acquire(2, timeout=0.1)
    error = info.value
    assert (error.retry_after_ns, error.retry_after, error.cost, error.key) == (
        500_000_000,
        0.5,
        2,
        None,
    )
    assert str(error) == 'rate limit "db" exceeded (cost 2): retry after 0.5 s'
    assert pickle.loads(pickle.dumps(error)).retry_after_ns == 500_000_000


# ------------------------------------------------------------------ limits above the cache


LARGE_LIMITERS: dict[str, Callable[[FrozenClock], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(1025, 1, clock=clock),
    "gcra": lambda clock: GCRA(1, 1025, clock=clock),
    "fixed_window": lambda clock: FixedWindow(1025, 60, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(1025, 60, clock=clock),
    "sliding_counter": lambda clock: SlidingWindowCounter(1025, 60, clock=clock),
}


@pytest.mark.parametrize("algorithm", sorted(LARGE_LIMITERS))
def test_remaining_is_exact_above_the_decision_cache(algorithm: str, clock: FrozenClock) -> None:
    """Admissions leaving 1,024 units or more (past the cached decisions, ``CACHED``) report
    them exactly, on each side of the cache's edge; ``check`` agrees and takes nothing."""
    limiter = LARGE_LIMITERS[algorithm](clock)
    assert limiter.check(1) == admitted(1024)
    assert limiter.try_acquire(1) == admitted(1024)
    assert limiter.try_acquire(1) == admitted(1023)
    assert limiter.check(1023) == admitted(0)
    assert limiter.try_acquire(1024) == rejected(1023, limiter.check(1024).retry_after_ns)
