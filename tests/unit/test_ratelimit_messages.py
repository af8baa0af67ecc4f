"""Every message a rate limiter's user reads, pinned in one place: configuration refusals (field,
value and rule), the cost error, ``RateLimited`` from a timed-out wait, ``str(Rate)``, and the
reprs and status of every algorithm and of a keyed limiter. A wording change edits one table."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest

from resilience import Event, RateLimited, RequestAdmitted, RequestRejected
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
from tests.clocks import ManualClock
from tests.refusals import assert_refused

W = 10**9


# ------------------------------------------------------------------ configuration refusals

POSITIVE_RATE = "must be a positive number of units per second, or a Rate(amount, per=seconds)"
TOO_SLOW = "one unit must come at least every 1000000000000000000 ns"
POSITIVE_WINDOW = "must be a positive duration (seconds or a timedelta)"
SECONDS = "must be a finite number of seconds >= 0 (or a timedelta)"


def not_a_factory() -> int:
    return 3


# (what is built from the value, the field named, the bad value, the rule stated)
REFUSALS: list[tuple[str, Callable[[Any], object], str, object, str]] = [
    ("capacity", lambda v: TokenBucket(v, 1), "capacity", 0, "must be an integer >= 1"),
    ("refill_rate", lambda v: TokenBucket(3, v), "refill_rate", 0, POSITIVE_RATE),
    ("refill_rate_str", lambda v: TokenBucket(3, v), "refill_rate", "1", POSITIVE_RATE),
    (
        "refill_rate_slow",
        lambda v: TokenBucket(3, v),
        "refill_rate",
        Fraction(1, 10**10),
        TOO_SLOW,
    ),
    (
        "amount",
        lambda v: TokenBucket(3, Rate(v)),
        "refill_rate.amount",
        0,
        "must be a positive number",
    ),
    (
        "amount_str",
        lambda v: TokenBucket(3, Rate(v)),
        "refill_rate.amount",
        "1",
        "must be a positive number",
    ),
    (
        "per",
        lambda v: TokenBucket(3, Rate(1, per=v)),
        "refill_rate.per",
        0,
        "must be a positive duration",
    ),
    (
        "per_timedelta",
        lambda v: TokenBucket(3, Rate(1, per=v)),
        "refill_rate.per",
        timedelta(0),
        "must be a positive duration",
    ),
    ("per_negative", lambda v: TokenBucket(3, Rate(1, per=v)), "refill_rate.per", -2, SECONDS),
    ("rate", lambda v: GCRA(v, 3), "rate", 0, POSITIVE_RATE),
    ("rate_slow", lambda v: GCRA(v, 3), "rate", Rate(Fraction(1, 2), per=10**9), TOO_SLOW),
    ("rate_amount", lambda v: GCRA(Rate(v), 3), "rate.amount", -1, "must be a positive number"),
    (
        "rate_per",
        lambda v: GCRA(Rate(1, per=v), 3),
        "rate.per",
        0.0,
        "must be a positive duration",
    ),
    ("burst", lambda v: GCRA(1, v), "burst", 0, "must be an integer >= 1"),
    ("limit", lambda v: FixedWindow(v, 1), "limit", 0, "must be an integer >= 1"),
    ("window", lambda v: FixedWindow(3, v), "window", 0, POSITIVE_WINDOW),
    ("window_log", lambda v: SlidingWindowLog(3, v), "window", timedelta(0), POSITIVE_WINDOW),
    ("window_counter", lambda v: SlidingWindowCounter(3, v), "window", 0.0, POSITIVE_WINDOW),
    (
        "window_tiny",
        lambda v: FixedWindow(3, v),
        "window",
        1e-12,
        "must be 0 or at least one nanosecond",
    ),
    ("window_negative", lambda v: SlidingWindowLog(3, v), "window", -1, SECONDS),
    (
        "factory",
        lambda v: KeyedLimiter(v),
        "factory",
        5,
        "must be a callable returning a rate limiter",
    ),
    (
        "factory_result",
        lambda v: KeyedLimiter(v),
        "factory",
        not_a_factory,
        "must return a rate limiter, returned 3",
    ),
    (
        "evict_idle",
        lambda v: KeyedLimiter(lambda: TokenBucket(3, 1), evict_idle=v),
        "evict_idle",
        1,
        "must be True or False",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "value", "rule"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
def test_configuration_refusals_state_field_value_and_rule(
    build: Callable[[Any], object], field: str, value: object, rule: str
) -> None:
    with pytest.raises(ValueError) as info:
        build(value)
    assert_refused(info.value, field, value)
    assert info.value.rule == rule  # type: ignore[attr-defined]


def test_a_factory_needing_arguments_is_refused_with_the_type_error() -> None:
    """``KeyedLimiter(TokenBucket)``: the rule quotes the ``TypeError`` calling it raised."""
    with pytest.raises(TypeError) as called:
        TokenBucket()  # type: ignore[call-arg]
    with pytest.raises(ValueError) as info:
        KeyedLimiter(TokenBucket)  # type: ignore[arg-type]
    assert_refused(info.value, "factory", TokenBucket)
    assert info.value.rule == f"must be callable with no arguments ({called.value})"  # type: ignore[attr-defined]
    assert info.value.__cause__ is not None
    assert type(info.value.__cause__) is TypeError


# ------------------------------------------------------------------ the cost error

COST_MESSAGE = (
    "cost={cost} is invalid: must be an integer from 1 to {limit} (the limit of {name!r}); "
    "a larger request could never be admitted"
)
# (the call, then what the message says: the cost as given, the limit, the limiter's name)
COST_ERRORS: list[tuple[str, Callable[[], Any], str, int, str]] = [
    ("plain", lambda: TokenBucket(3, 1, name="api").try_acquire(4), "4", 3, "api"),
    ("plain_check", lambda: SlidingWindowLog(2, 1).check(0), "0", 2, "SlidingWindowLog"),
    ("plain_acquire", lambda: FixedWindow(5, 1).acquire(1.0), "1.0", 5, "FixedWindow"),  # type: ignore[arg-type]
    (
        "keyed_default_name",
        lambda: KeyedLimiter(lambda: GCRA(1, 2)).check("k", 0),
        "0",
        2,
        "KeyedGCRA",
    ),
    (
        "keyed_named",
        lambda: KeyedLimiter(lambda: SlidingWindowCounter(4, 1), name="t").try_acquire("k", "1"),  # type: ignore[arg-type]
        "'1'",
        4,
        "t",
    ),
]


@pytest.mark.parametrize(
    ("call", "cost", "limit", "name"),
    [row[1:] for row in COST_ERRORS],
    ids=[row[0] for row in COST_ERRORS],
)
def test_cost_errors_say_the_range_and_whose_limit(
    call: Callable[[], Any], cost: str, limit: int, name: str
) -> None:
    with pytest.raises(ValueError) as info:
        call()
    assert type(info.value) is ValueError
    assert str(info.value) == COST_MESSAGE.format(cost=cost, limit=limit, name=name)


# ------------------------------------------------------------------ RateLimited


def timed_out(call: Callable[[], Any]) -> RateLimited:
    with pytest.raises(RateLimited) as info:
        call()
    return info.value


def test_a_timed_out_wait_says_who_what_and_how_long() -> None:
    """A window of 2 per 1 s, full at 0.25 s into its window: the next unit comes 0.75 s later,
    beyond a 0.5 s timeout; the message names the limiter (and key), the cost and the wait."""
    clock = ManualClock(W // 4)
    plain = FixedWindow(2, 1, name="api", clock=clock)
    assert plain.try_acquire(2)
    error = timed_out(lambda: plain.acquire(1, timeout=0.5))
    assert str(error) == 'rate limit "api" exceeded (cost 1): retry after 0.75 s'
    assert (error.limiter, error.cost, error.key, error.retry_after_ns) == (
        "api",
        1,
        None,
        750_000_000,
    )

    keyed = KeyedLimiter(lambda: FixedWindow(2, 1, clock=clock))
    assert keyed.try_acquire(("t", 1), 2)
    error = timed_out(lambda: asyncio.run(keyed.acquire_async(("t", 1), 2, timeout=0)))
    assert str(error) == (
        "rate limit \"KeyedFixedWindow\" for key ('t', 1) exceeded (cost 2): retry after 0.75 s"
    )
    assert (error.limiter, error.cost, error.key) == ("KeyedFixedWindow", 2, ("t", 1))


# ------------------------------------------------------------------ str(Rate)

RATE_TEXTS = [
    (Rate(100, per=60), "100 per 60 s"),
    (Rate(3), "3 per 1 s"),
    (Rate(1, per=timedelta(milliseconds=100)), "1 per 0.1 s"),
    (Rate(Fraction(1, 3), per=0.5), "1/3 per 0.5 s"),
]


@pytest.mark.parametrize(("rate", "text"), RATE_TEXTS, ids=[text for _, text in RATE_TEXTS])
def test_a_rate_reads_as_amount_per_seconds(rate: Rate, text: str) -> None:
    assert str(rate) == text


# ------------------------------------------------------------------ reprs and status

# After one unit is taken at 0 and the clock moved to 0.1 s: the repr and the whole status.
REPRS: list[tuple[str, Callable[[ManualClock], RateLimiter[Any]], str, dict[str, Any]]] = [
    (
        "token_bucket",
        lambda clock: TokenBucket(4, Rate(3, per=2), name="a", clock=clock),
        "<TokenBucket 'a' capacity=4 refill_rate_per_s=1.5 remaining=3 admitted=1 rejected=0>",
        {"capacity": 4, "refill_rate_per_s": 1.5, "remaining": 3, "tokens": 3.15},
    ),
    (
        "gcra",
        lambda clock: GCRA(Rate(1, per=0.25), 5, name="b", clock=clock),
        "<GCRA 'b' rate_per_s=4.0 burst=5 remaining=4 admitted=1 rejected=0>",
        {"rate_per_s": 4.0, "burst": 5, "remaining": 4, "full_in_ns": 150_000_000},
    ),
    (
        "fixed_window",
        lambda clock: FixedWindow(6, 0.5, name="c", clock=clock),
        "<FixedWindow 'c' limit=6 window_s=0.5 remaining=5 admitted=1 rejected=0>",
        {"limit": 6, "window_s": 0.5, "remaining": 5, "used": 1, "window_resets_in_ns": 4 * 10**8},
    ),
    (
        "sliding_log",
        lambda clock: SlidingWindowLog(7, timedelta(minutes=1), name="d", clock=clock),
        "<SlidingWindowLog 'd' limit=7 window_s=60.0 remaining=6 admitted=1 rejected=0>",
        {"limit": 7, "window_s": 60.0, "remaining": 6, "used": 1, "entries": 1},
    ),
    (
        "sliding_counter",
        lambda clock: SlidingWindowCounter(8, 1.5, name="e", clock=clock),
        "<SlidingWindowCounter 'e' limit=8 window_s=1.5 remaining=7 admitted=1 rejected=0>",
        {"limit": 8, "window_s": 1.5, "remaining": 7, "previous": 0, "current": 1, "estimate": 1.0},
    ),
]
COUNTS = {"admitted": 1, "admitted_cost": 1, "rejected": 0, "rejected_cost": 0}


@pytest.mark.parametrize(
    ("make", "text", "state"), [row[1:] for row in REPRS], ids=[row[0] for row in REPRS]
)
def test_each_algorithm_reads_back_its_configuration_and_state(
    make: Callable[[ManualClock], RateLimiter[Any]], text: str, state: dict[str, Any]
) -> None:
    clock = ManualClock(0)
    limiter = make(clock)
    assert limiter.try_acquire()
    clock.now_ns = W // 10
    assert repr(limiter) == text
    assert limiter.status() == {
        "name": limiter.name,
        "algorithm": limiter.algorithm,
        **state,
        **COUNTS,
    }
    assert list(limiter.status()) == ["name", "algorithm", *state, *COUNTS]


def test_a_keyed_limiter_reads_back_its_template_keys_and_counts() -> None:
    clock = ManualClock(0)
    keyed = KeyedLimiter(lambda: FixedWindow(2, 1, clock=clock), name="per-user")
    assert keyed.try_acquire("x")
    assert keyed.try_acquire("y", 2)
    assert not keyed.try_acquire("y")
    clock.now_ns = W // 10
    assert repr(keyed) == (
        "<KeyedLimiter 'per-user' algorithm=fixed_window keys=2 admitted=2 rejected=1 evicted=0>"
    )
    assert keyed.status() == {
        "name": "per-user",
        "algorithm": "fixed_window",
        "evict_idle": True,
        "limit": 2,
        "window_s": 1.0,
        "admitted": 2,
        "admitted_cost": 3,
        "rejected": 1,
        "rejected_cost": 1,
        "keys": 2,
        "evicted": 0,
    }
    assert keyed.status_of("x") == {
        "key": "x",
        "remaining": 1,
        "used": 1,
        "window_resets_in_ns": 9 * 10**8,
    }
    assert repr(KeyedLimiter(lambda: TokenBucket(1, 1), evict_idle=False)) == (
        "<KeyedLimiter 'KeyedTokenBucket' algorithm=token_bucket keys=0 admitted=0 rejected=0 "
        "evicted=0>"
    )


# ------------------------------------------------------------------ a raising listener's log line


def raising(event: Event) -> None:
    raise RuntimeError("listener bug")


def test_a_raising_listener_is_logged_with_its_limiter_and_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The log line names the listener, the limiter it listens to (its repr) and the event."""
    clock = ManualClock(5)
    bucket = TokenBucket(1, 1, name="api", clock=clock)
    keyed = KeyedLimiter(lambda: FixedWindow(1, 1, clock=clock), name="tenants")
    assert keyed.try_acquire("k")
    bucket.subscribe(raising)
    keyed.subscribe(raising)
    with caplog.at_level(logging.ERROR, logger="resilience.events"):
        assert bucket.try_acquire()
        assert not keyed.try_acquire("k")
    events = [RequestAdmitted("api", 5, None, 1, 0), RequestRejected("tenants", 5, "k", 1, W - 5)]
    assert [record.getMessage() for record in caplog.records] == [
        f"listener {raising!r} of {bucket!r} raised on {events[0]!r}",
        f"listener {raising!r} of {keyed!r} raised on {events[1]!r}",
    ]
    assert [record.name for record in caplog.records] == ["resilience.events"] * 2
    for record in caplog.records:
        assert record.exc_info is not None
        assert type(record.exc_info[1]) is RuntimeError
