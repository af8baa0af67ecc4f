"""Rate limiters: bad configuration raises ConfigError naming the field; bad costs and timeouts
raise ValueError and take, count and change nothing; every valid spelling behaves the same."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import ConfigError, RateLimited
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

BAD_COUNTS = [0, -1, -10, 1.0, 2.5, math.nan, math.inf, True, False, "3", b"3", None, [3]]
BAD_RATES = [
    0,
    -1,
    -0.5,
    0.0,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "1",
    None,
    1j,
    Decimal("NaN"),
    Decimal("-1"),
    Fraction(-1, 2),
]
BAD_AMOUNTS = [0, -1, -0.5, math.nan, math.inf, True, "1", None, Decimal("Infinity")]
BAD_DURATIONS = [
    0,
    0.0,
    -1,
    -0.001,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "1",
    None,
    [1],
    1j,
    timedelta(0),
    timedelta(seconds=-1),
    1e-12,  # rounds to 0 ns: a positive duration must be at least one nanosecond
    10**10,  # 10**19 ns: beyond the ~31.7-year maximum
]
WINDOWED = [FixedWindow, SlidingWindowLog, SlidingWindowCounter]
BAD_COSTS = [0, -1, True, False, 1.0, "1", None, 4, 10**100, Fraction(1), Decimal(1)]
BAD_TIMEOUTS = [
    -1,
    -0.001,
    math.nan,
    math.inf,
    -math.inf,
    True,
    "1",
    timedelta(seconds=-1),
    10**10,
]


# Every algorithm with a limit of 3 units, refilled or windowed over 1 s.
MAKERS: dict[str, Callable[[Any], RateLimiter[Any]]] = {
    "token_bucket": lambda clock: TokenBucket(3, Rate(3, per=1), clock=clock),
    "gcra": lambda clock: GCRA(Rate(3, per=1), 3, clock=clock),
    "fixed_window": lambda clock: FixedWindow(3, 1, clock=clock),
    "sliding_log": lambda clock: SlidingWindowLog(3, 1, clock=clock),
    "sliding_counter": lambda clock: SlidingWindowCounter(3, 1, clock=clock),
}


def assert_config_error(info: pytest.ExceptionInfo[ConfigError], field: str, value: object) -> None:
    error = info.value
    assert isinstance(error, ValueError)
    assert error.field == field
    assert error.value is value
    assert str(error).startswith(f"{field}={value!r} is invalid: ")


# ------------------------------------------------------------------ construction: counts


@pytest.mark.parametrize("value", BAD_COUNTS, ids=stable_id)
def test_token_bucket_rejects_bad_capacities(value: object) -> None:
    """capacity must be an int >= 1: zero, negatives, floats, NaN, inf, bools, strings raise."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(value, 1)  # type: ignore[arg-type]
    assert_config_error(info, "capacity", value)


@pytest.mark.parametrize("value", BAD_COUNTS, ids=stable_id)
def test_gcra_rejects_bad_bursts(value: object) -> None:
    """burst must be an int >= 1, like the token bucket's capacity."""
    with pytest.raises(ConfigError) as info:
        GCRA(1, value)  # type: ignore[arg-type]
    assert_config_error(info, "burst", value)


@pytest.mark.parametrize("cls", WINDOWED, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", BAD_COUNTS, ids=stable_id)
def test_windowed_limiters_reject_bad_limits(cls: Any, value: object) -> None:
    """limit must be an int >= 1 for every windowed algorithm."""
    with pytest.raises(ConfigError) as info:
        cls(value, 1)
    assert_config_error(info, "limit", value)


# ------------------------------------------------------------------ construction: rates


@pytest.mark.parametrize("value", BAD_RATES, ids=stable_id)
def test_token_bucket_rejects_bad_refill_rates(value: object) -> None:
    """refill_rate (units per second) must be a finite positive exact number."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, value)
    assert_config_error(info, "refill_rate", value)


@pytest.mark.parametrize("value", BAD_RATES, ids=stable_id)
def test_gcra_rejects_bad_rates(value: object) -> None:
    """GCRA's rate follows the same rule as the token bucket's refill_rate."""
    with pytest.raises(ConfigError) as info:
        GCRA(value, 3)
    assert_config_error(info, "rate", value)


@pytest.mark.parametrize("amount", BAD_AMOUNTS, ids=stable_id)
def test_bad_rate_amounts_name_the_amount(amount: object) -> None:
    """Rate(amount, per=...) with a non-positive or non-number amount: the error names
    refill_rate.amount (or rate.amount for GCRA)."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, Rate(amount, per=1))  # type: ignore[arg-type]
    assert_config_error(info, "refill_rate.amount", amount)
    with pytest.raises(ConfigError) as info:
        GCRA(Rate(amount, per=1), 3)  # type: ignore[arg-type]
    assert_config_error(info, "rate.amount", amount)


@pytest.mark.parametrize("per", [d for d in BAD_DURATIONS if d != 1e-12], ids=stable_id)
def test_bad_rate_periods_name_the_period(per: object) -> None:
    """Rate(1, per=...) needs a positive duration (number or timedelta), at most ~31.7 years."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, Rate(1, per=per))  # type: ignore[arg-type]
    assert_config_error(info, "refill_rate.per", per)
    with pytest.raises(ConfigError) as info:
        GCRA(Rate(1, per=per), 3)  # type: ignore[arg-type]
    assert_config_error(info, "rate.per", per)


def test_rate_periods_are_exact_below_a_nanosecond() -> None:
    """A period is never rounded to a whole nanosecond: 2 per 1.5 ns is 4/3 per ns, and
    1 per third of a second is 3 per 10**9 ns."""
    assert TokenBucket(3, Rate(2, per=1.5e-9)).refill_rate == Fraction(4, 3)
    assert GCRA(Rate(1, per=Fraction(1, 3)), 3).rate == Fraction(3, 10**9)
    assert TokenBucket(3, Rate(1, per=1e-12)).refill_rate == 1000


@pytest.mark.parametrize(
    "rate", [Fraction(1, 10**10), 1e-10, Rate(Fraction(1, 2), per=10**9)], ids=stable_id
)
def test_absurdly_slow_rates_are_rejected(rate: object) -> None:
    """One unit must come at least every ~31.7 years: slower is a mistake, not a limit."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, rate)
    assert info.value.field == "refill_rate"
    assert "at least every" in info.value.rule


def test_the_slowest_allowed_rate_is_accepted() -> None:
    """Exactly one unit every 10**18 ns is still allowed (the boundary is inclusive)."""
    bucket = TokenBucket(1, Rate(1, per=10**9))
    assert bucket.refill_rate == Fraction(1, 10**18)


# ------------------------------------------------------------------ construction: windows


@pytest.mark.parametrize("cls", WINDOWED, ids=lambda c: c.__name__)
@pytest.mark.parametrize("window", BAD_DURATIONS, ids=stable_id)
def test_windowed_limiters_reject_bad_windows(cls: Any, window: object) -> None:
    """window must be a positive duration: 0, negatives, NaN, inf, bools, strings all raise."""
    with pytest.raises(ConfigError) as info:
        cls(3, window)
    assert_config_error(info, "window", window)


# ------------------------------------------------------------------ construction: the rest


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("clock", ["clock", object(), FrozenClock, 5], ids=stable_id)
def test_bad_clocks_are_rejected(name: str, clock: object) -> None:
    """clock must be a Clock instance (not a class, not a string)."""
    with pytest.raises(ConfigError) as info:
        MAKERS[name](clock)
    assert_config_error(info, "clock", clock)


@pytest.mark.parametrize("bad", [5, b"name", ["n"]], ids=stable_id)
def test_bad_names_are_rejected(bad: object) -> None:
    """name must be a string, for plain and keyed limiters alike."""
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, 1, name=bad)  # type: ignore[arg-type]
    assert_config_error(info, "name", bad)
    with pytest.raises(ConfigError) as info:
        KeyedLimiter(lambda: TokenBucket(3, 1), name=bad)  # type: ignore[arg-type]
    assert_config_error(info, "name", bad)


@pytest.mark.parametrize(
    "factory", [None, 5, "TokenBucket", TokenBucket(3, 1)], ids=["None", "int", "str", "limiter"]
)
def test_keyed_limiter_needs_a_callable_factory(factory: object) -> None:
    """A factory that is not callable (a limiter instance included) is a ConfigError."""
    with pytest.raises(ConfigError) as info:
        KeyedLimiter(factory)  # type: ignore[arg-type]
    assert_config_error(info, "factory", factory)
    assert "callable" in info.value.rule


@pytest.mark.parametrize(
    "returned",
    [None, 3, "bucket", Rate(1), KeyedLimiter(lambda: TokenBucket(3, 1))],
    ids=["None", "int", "str", "Rate", "KeyedLimiter"],
)
def test_keyed_limiter_factory_must_return_a_limiter(returned: object) -> None:
    """A factory returning anything but a plain RateLimiter is a ConfigError naming it."""

    def factory() -> object:
        return returned

    with pytest.raises(ConfigError) as info:
        KeyedLimiter(factory)  # type: ignore[arg-type]
    assert_config_error(info, "factory", factory)
    assert repr(returned) in info.value.rule


@pytest.mark.parametrize("value", [1, 0, None, "yes"], ids=stable_id)
def test_keyed_limiter_evict_idle_must_be_a_bool(value: object) -> None:
    """evict_idle is True or False, never a truthy stand-in."""
    with pytest.raises(ConfigError) as info:
        KeyedLimiter(lambda: TokenBucket(3, 1), evict_idle=value)  # type: ignore[arg-type]
    assert_config_error(info, "evict_idle", value)


def test_config_errors_name_field_value_and_rule() -> None:
    """The message reads field=value is invalid: rule."""
    with pytest.raises(ConfigError) as info:
        FixedWindow(0, 1)
    assert str(info.value) == "limit=0 is invalid: must be an integer >= 1"
    with pytest.raises(ConfigError) as info:
        TokenBucket(3, Rate(1, per=-2))
    assert str(info.value) == (
        "refill_rate.per=-2 is invalid: must be a finite number of seconds >= 0 (or a timedelta)"
    )


# ------------------------------------------------------------------ bad costs


def call(limiter: RateLimiter[Any], method: str, cost: object) -> Decision:
    """Call one entry point with ``cost`` (the waiting ones with a timeout, so a cost that
    slipped through could not block forever)."""
    if method == "acquire":
        return limiter.acquire(cost, timeout=1)  # type: ignore[arg-type]
    if method == "acquire_async":
        return asyncio.run(limiter.acquire_async(cost, timeout=1))  # type: ignore[arg-type]
    return getattr(limiter, method)(cost)  # type: ignore[no-any-return]


def call_keyed(limiter: KeyedLimiter[Any], method: str, key: object, cost: object) -> Decision:
    if method == "acquire":
        return limiter.acquire(key, cost, timeout=1)  # type: ignore[arg-type]
    if method == "acquire_async":
        return asyncio.run(limiter.acquire_async(key, cost, timeout=1))  # type: ignore[arg-type]
    return getattr(limiter, method)(key, cost)  # type: ignore[no-any-return]


METHODS = ["try_acquire", "check", "acquire", "acquire_async"]
ZERO = {"admitted": 0, "admitted_cost": 0, "rejected": 0, "rejected_cost": 0}


def script(limiter: Callable[[int], Decision]) -> list[Decision]:
    """Four requests of one unit and one of three: a limit of 3 admits exactly the first three."""
    return [limiter(1), limiter(1), limiter(1), limiter(1), limiter(3)]


@pytest.mark.parametrize("name", MAKERS)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cost", BAD_COSTS, ids=stable_id)
def test_bad_costs_raise_and_take_nothing(
    frozen: FrozenTime, name: str, method: str, cost: object
) -> None:
    """Costs that are not ints from 1 to the limit raise ValueError; nothing is admitted,
    counted or changed: later decisions equal those of an untouched twin."""
    clock = FrozenClock(frozen)
    limiter, twin = MAKERS[name](clock), MAKERS[name](clock)
    events: list[object] = []
    limiter.subscribe(events.append)
    before = frozen.now_ns()
    with pytest.raises(ValueError, match=r"^cost=.* must be an integer from 1 to 3") as info:
        call(limiter, method, cost)
    assert not isinstance(info.value, RateLimited)
    assert frozen.now_ns() == before
    assert limiter.metrics() == ZERO
    assert events == []
    assert limiter.status()["remaining"] == twin.status()["remaining"]
    decisions = script(limiter.try_acquire)
    assert decisions == script(twin.try_acquire)
    assert [bool(d) for d in decisions] == [True, True, True, False, False]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("cost", BAD_COSTS, ids=stable_id)
def test_bad_costs_on_a_keyed_limiter_create_no_key(
    frozen: FrozenTime, method: str, cost: object
) -> None:
    """A keyed limiter checks the cost before touching the key: no state, no count."""
    clock = FrozenClock(frozen)
    limiter = KeyedLimiter(lambda: TokenBucket(3, 1, clock=clock))
    with pytest.raises(ValueError, match=r"^cost=.* must be an integer from 1 to 3"):
        call_keyed(limiter, method, "k", cost)
    assert len(limiter) == 0
    assert "k" not in limiter
    assert limiter.metrics() == {**ZERO, "keys": 0, "evicted": 0}
    decisions = script(lambda c: limiter.try_acquire("k", c))
    assert [bool(d) for d in decisions] == [True, True, True, False, False]


def test_cost_error_names_the_limit_and_the_limiter() -> None:
    """The cost error says what was asked, the allowed range and whose limit it is."""
    limiter = FixedWindow(5, 1, name="api")
    with pytest.raises(ValueError) as info:
        limiter.try_acquire(6)
    assert str(info.value) == (
        "cost=6 is invalid: must be an integer from 1 to 5 (the limit of 'api'); "
        "a larger request could never be admitted"
    )


def test_cost_equal_to_the_limit_is_allowed(frozen: FrozenTime) -> None:
    """The largest valid cost is the limit itself, and it is admitted on a fresh limiter."""
    for make in MAKERS.values():
        limiter = make(FrozenClock(frozen))
        assert limiter.max_cost == 3
        assert limiter.try_acquire(3) == (True, 0, 0.0, 0)


# ------------------------------------------------------------------ bad timeouts


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=stable_id)
def test_bad_timeouts_raise_and_take_nothing(frozen: FrozenTime, timeout: object) -> None:
    """acquire/acquire_async with a negative, NaN, infinite or non-number timeout raise
    ConfigError (a ValueError) naming timeout; nothing is taken and time does not move."""
    limiter = TokenBucket(3, 1, clock=FrozenClock(frozen))
    before = frozen.now_ns()
    with pytest.raises(ValueError) as info:
        limiter.acquire(1, timeout=timeout)
    assert isinstance(info.value, ConfigError)
    assert info.value.field == "timeout"
    with pytest.raises(ConfigError, match=r"^timeout="):
        asyncio.run(limiter.acquire_async(1, timeout=timeout))
    assert frozen.now_ns() == before
    assert limiter.metrics() == ZERO
    assert limiter.try_acquire(3)


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS, ids=stable_id)
def test_bad_timeouts_on_a_keyed_limiter_create_no_key(frozen: FrozenTime, timeout: object) -> None:
    """The keyed limiter validates the timeout before touching the key."""
    limiter = KeyedLimiter(lambda: TokenBucket(3, 1, clock=FrozenClock(frozen)))
    with pytest.raises(ConfigError, match=r"^timeout="):
        limiter.acquire("k", 1, timeout=timeout)
    with pytest.raises(ConfigError, match=r"^timeout="):
        asyncio.run(limiter.acquire_async("k", 1, timeout=timeout))
    assert len(limiter) == 0
    assert limiter.metrics()["admitted"] == 0


# ------------------------------------------------------------------ equivalent spellings


def run_script(make: Callable[..., RateLimiter[Any]]) -> list[Decision]:
    """A fixed script of requests and pauses under its own freeze; the decisions it got from
    ``make(clock=...)``."""
    with FrozenTime() as frozen:
        limiter = make(clock=FrozenClock(frozen))
        decisions = []
        for pause_us, cost in [
            (0, 1), (0, 2), (0, 1), (250_000, 1), (500_000, 1), (1, 1), (999_999, 2),
            (1, 3), (1_000_000, 3), (1_999_999, 1), (1, 1), (0, 2), (3_000_000, 3),
        ]:  # fmt: skip
            frozen.advance_us(pause_us)
            decisions.append(limiter.try_acquire(cost))
        return decisions


RATE_SPELLINGS = [
    0.5,
    Fraction(1, 2),
    Decimal("0.5"),
    Rate(1, per=2),
    Rate(1, per=2.0),
    Rate(1, per=timedelta(seconds=2)),
    Rate(0.5),
    Rate(Fraction(1, 2), per=1),
    Rate(500, per=timedelta(seconds=1000)),
]


@pytest.mark.parametrize("rate", RATE_SPELLINGS, ids=stable_id)
def test_rate_spellings_are_the_same_rate(rate: object) -> None:
    """0.5 per second, Rate(1, per=2), Fraction(1, 2), ... are all exactly 1 unit per 2e9 ns."""
    assert TokenBucket(3, rate).refill_rate == Fraction(1, 2 * 10**9)
    assert GCRA(rate, 3).rate == Fraction(1, 2 * 10**9)


def test_rate_spellings_decide_identically() -> None:
    """Every spelling of one rate gives the same decisions on the same script."""
    expected = run_script(partial(TokenBucket, 3, 0.5))
    assert any(expected)
    assert not all(expected)
    for rate in RATE_SPELLINGS:
        assert run_script(partial(TokenBucket, 3, rate)) == expected
        assert run_script(partial(GCRA, rate, 3)) == expected


def test_floats_are_read_as_the_decimal_they_print() -> None:
    """refill_rate=0.1 is exactly one unit per 10 s, and Rate(3, per=0.007) exactly 3 per 7 ms."""
    assert TokenBucket(1, 0.1).refill_rate == Fraction(1, 10 * 10**9)
    assert TokenBucket(1, Rate(3, per=0.007)).refill_rate == Fraction(3, 7_000_000)
    assert FixedWindow(1, 0.1).window_ns == 100_000_000


WINDOW_SPELLINGS = [
    1,
    1.0,
    Fraction(1),
    Decimal("1.000"),
    timedelta(seconds=1),
    timedelta(milliseconds=1000),
]


@pytest.mark.parametrize("cls", WINDOWED, ids=lambda c: c.__name__)
def test_window_spellings_decide_identically(cls: Any) -> None:
    """window=1, 1.0, timedelta(seconds=1), ... are all exactly 10**9 ns and decide alike."""
    expected = run_script(partial(cls, 3, 1))
    assert any(expected)
    assert not all(expected)
    for window in WINDOW_SPELLINGS:
        assert cls(3, window).window_ns == 10**9
        assert run_script(partial(cls, 3, window)) == expected


def test_sub_nanosecond_windows_round_to_the_nearest_nanosecond() -> None:
    """A third of a second is 333,333,333 ns; 1.5 ns rounds (half to even) to 2 ns."""
    assert SlidingWindowLog(1, Fraction(1, 3)).window_ns == 333_333_333
    assert FixedWindow(1, Fraction(3, 2 * 10**9)).window_ns == 2
