"""Hypothesis strategies shared by the machines, named as nouns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from hypothesis import strategies as st

from properties.models.breaker import BreakerSpec, Outcome
from properties.models.bulkhead import BulkheadSpec
from properties.models.chain import ChainSpec, OpStep
from properties.models.pool import PoolSpec
from properties.models.ratelimit import LimitSpec
from properties.models.retry import Attempt, RetrySpec

__all__ = [
    "LIMITER_KEYS",
    "PLAIN",
    "BreakerCase",
    "LimitCase",
    "breaker_cases",
    "bulkhead_specs",
    "chain_specs",
    "limit_cases",
    "limiter_keys",
    "op_scripts",
    "outcomes",
    "pool_specs",
    "retry_scripts",
    "retry_specs",
    "time_steps_us",
]

US = 1_000  # ns per microsecond


@dataclass(frozen=True)
class BreakerCase:
    """A breaker configuration plus *how* a user would spell it (several spellings, one meaning)."""

    spec: BreakerSpec
    timeout_form: str  # "float" | "fraction" | "timedelta" | "int"
    expected_form: str  # "class" | "tuple" | "predicate"
    listen: bool  # subscribe a listener (events checked) or not (the lock-free fast paths run)


# Mostly short timeouts, so runs get past OPEN often; long ones still reached by time jumps.
recovery_timeouts_us = st.one_of(
    st.just(0),  # recovers at once: half-open stays follow each other within one call or burst
    st.sampled_from([0, 1, 2, 1_000, 250_000, 1_000_000, 30_000_000]),
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=0, max_value=5_000_000),
)


@st.composite
def breaker_cases(
    draw: st.DrawFn,
    *,
    rate_policy: bool = True,
    half_open_limits: bool = True,
    expected_forms: tuple[str, ...] = ("class", "tuple", "predicate"),
) -> BreakerCase:
    timeout_us = draw(recovery_timeouts_us, label="recovery_timeout_us")
    half_open = draw(st.integers(1, 3)) if half_open_limits else 1
    successes = draw(st.integers(1, 3)) if half_open_limits else 1
    if rate_policy and draw(st.booleans(), label="rate policy"):
        window = draw(st.integers(1, 6))
        spec = BreakerSpec(
            failure_threshold=0,
            recovery_timeout_ns=timeout_us * US,
            half_open_max_calls=half_open,
            success_threshold=successes,
            rate=draw(st.sampled_from([Fraction(1, 10), Fraction(1, 4), Fraction(1, 3),
                                       Fraction(1, 2), Fraction(2, 3), Fraction(1)])),
            window_size=window,
            minimum_calls=draw(st.integers(1, window)),
        )  # fmt: skip
    else:
        spec = BreakerSpec(
            failure_threshold=draw(st.integers(1, 5)),
            recovery_timeout_ns=timeout_us * US,
            half_open_max_calls=half_open,
            success_threshold=successes,
        )
    timeout_forms = ["float", "fraction", "timedelta"]
    if timeout_us % 1_000_000 == 0:
        timeout_forms.append("int")
    return BreakerCase(
        spec=spec,
        timeout_form=draw(st.sampled_from(timeout_forms)),
        expected_form=draw(st.sampled_from(expected_forms)),
        listen=draw(st.booleans(), label="listen"),
    )


# Successes weigh most: closing a half-open breaker takes success_threshold of them in a row.
outcomes = st.sampled_from(
    [Outcome.SUCCESS, Outcome.SUCCESS, Outcome.SUCCESS, Outcome.FAILURE, Outcome.FAILURE,
     Outcome.IGNORED, Outcome.CANCELLED]
)  # fmt: skip


def time_steps_us(*boundaries_us: int) -> st.SearchStrategy[int]:
    """How far to move the clock: biased to each boundary (exactly, one microsecond either side),
    zero, small steps, and large jumps."""
    near = sorted({b + d for b in boundaries_us for d in (-1, 0, 1) if b + d >= 0})
    return st.one_of(
        st.sampled_from(near or [0]),
        st.just(0),
        st.integers(min_value=1, max_value=1_000),
        st.integers(min_value=0, max_value=2 * max(boundaries_us, default=0) + 10),
        st.integers(min_value=1_000_000, max_value=10**10),
    )


@dataclass(frozen=True)
class LimitCase:
    """A rate limiter configuration and how it is spelled (several spellings, one meaning)."""

    spec: LimitSpec
    period_us: int  # the refill period (buckets) or the window, in microseconds
    amount: int  # units per period (buckets); equal to spec.limit for windows
    spelling: str  # how the rate or window is written; see targets.ratelimit.spelled
    evict_idle: bool  # the keyed limiter evicts idle keys (or never: the same decisions)
    listen: bool  # subscribe a listener and compare events
    compact_at: int | None = None  # sliding log: compact after this many aged entries (not 64)


# Short periods so runs see many refills and window roll-overs; long ones still reached by jumps.
periods_us = st.one_of(
    st.sampled_from([1, 2, 3, 10, 999, 1_000, 7_777, 250_000, 1_000_000]),
    st.integers(min_value=1, max_value=20_000),
)


@st.composite
def limit_cases(draw: st.DrawFn, algorithm: str) -> LimitCase:
    period_us = draw(periods_us, label="period_us")
    limit = draw(st.one_of(st.integers(1, 6), st.sampled_from([10, 50])), label="limit")
    if algorithm in ("token_bucket", "gcra"):
        amount = draw(st.integers(1, 7), label="amount per period")
        spec = LimitSpec(algorithm, limit, rate=Fraction(amount, period_us * US))
        # "rate_thirds": the same rate over a third of the period, often not a whole ns.
        spellings = ["rate_fraction_seconds", "rate_timedelta", "per_second_fraction",
                     "rate_thirds"]  # fmt: skip
        if float(Fraction(amount * 10**6, period_us)) == Fraction(amount * 10**6, period_us):
            spellings.append("per_second_float")
    else:
        amount = limit
        spec = LimitSpec(algorithm, limit, window_ns=period_us * US)
        spellings = ["seconds_float", "seconds_fraction", "timedelta"]
        if period_us % 1_000_000 == 0:
            spellings.append("seconds_int")
    return LimitCase(
        spec=spec,
        period_us=period_us,
        amount=amount,
        spelling=draw(st.sampled_from(spellings), label="spelling"),
        evict_idle=draw(st.booleans(), label="evict_idle"),
        listen=draw(st.booleans(), label="listen"),
        # Runs rarely age 64 entries out of one log: lower the threshold so compaction happens.
        compact_at=draw(st.sampled_from([None, 1, 2, 3])) if algorithm == "sliding_log" else None,
    )


#: The plain (unkeyed) limiter, driven next to the keyed one as if it were one more key.
PLAIN = "<plain limiter>"

#: Keys a tenant might use: empty, long, unicode, non-string. Few, so keys meet again often.
#: PLAIN twice: the plain limiter gets as much traffic as two keys.
LIMITER_KEYS: tuple[object, ...] = (
    PLAIN, PLAIN, "", "tenant-a", "tenant-b", "ключ-🔑", "x" * 10_000, ("tuple", 1), 7
)  # fmt: skip
limiter_keys = st.sampled_from(LIMITER_KEYS)


def _limit_ns(longest_us: int) -> st.SearchStrategy[int | None]:
    """None (a quarter of the time), or a whole number of microseconds up to ``longest_us``, in
    ns."""
    return st.tuples(st.integers(0, 3), st.integers(1, longest_us)).map(
        lambda drawn: None if drawn[0] == 0 else drawn[1] * 1_000
    )


@st.composite
def pool_specs(draw: st.DrawFn) -> PoolSpec:
    """Pool configurations: small sizes (so exhaustion and overflow are common), LIFO and FIFO,
    and, a third of the time, a plain pool (no validate, expiry or leak threshold: the fast
    paths) with or without reset and destroy. The fast paths branch on whether anyone listens,
    so plain pools mostly run with no listener and without reset (which takes the plan)."""
    plain = draw(st.integers(0, 2)) == 0
    max_idle_ns = None if plain else draw(_limit_ns(5_000))
    max_lifetime_ns = None if plain else draw(_limit_ns(50_000))
    if max_idle_ns is not None and max_lifetime_ns is not None and draw(st.booleans()):
        # Half the time the lifetime is far longer than the idle limit, so resources expire by
        # idling too (the lifetime is the reason given whenever both have passed, and Hypothesis
        # favours small numbers: independent draws mostly give the shorter lifetime).
        max_lifetime_ns = max_idle_ns + 10_000_000 + max_lifetime_ns
    return PoolSpec(
        size=draw(st.integers(1, 3)),
        max_overflow=draw(st.integers(0, 2)),
        lifo=draw(st.booleans()),
        max_lifetime_ns=max_lifetime_ns,
        max_idle_ns=max_idle_ns,
        leak_threshold_ns=None if plain else draw(_limit_ns(5_000)),
        # validate is most of what the async pool's cancellation rules aim at
        validate=False if plain else draw(st.integers(0, 3)) > 0,
        reset=draw(st.integers(0, 3)) == 0 if plain else draw(st.booleans()),
        destroy=draw(st.booleans()),
        listen=draw(st.integers(0, 3)) == 0 if plain else True,
    )


@st.composite
def retry_specs(draw: st.DrawFn) -> RetrySpec:
    """Retry configurations: up to 6 attempts and/or a deadline of up to 20 ms, delays in whole
    microseconds (a zero base included), a cap at or above the base, and a jitter seed."""
    max_attempts = draw(st.one_of(st.none(), st.integers(1, 6)))
    deadline_us = (
        draw(st.integers(1, 20_000))
        if max_attempts is None
        else draw(st.one_of(st.none(), st.integers(1, 20_000)))
    )
    base = draw(st.integers(0, 2_000))
    return RetrySpec(
        max_attempts=max_attempts,
        deadline_us=deadline_us,
        base_delay_us=base,
        # the cap is often the base itself or just above it, so the cap binds from attempt 2 on
        max_delay_us=base + draw(st.one_of(st.sampled_from([0, 1]), st.integers(0, 5_000))),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def retry_scripts(longest: int = 8) -> st.SearchStrategy[list[Attempt]]:
    """What each attempt does (how long it takes, how it ends, what the predicate answers),
    ending in a success so every call ends; failures are retryable most of the time."""
    attempt = st.builds(
        Attempt,
        kind=st.sampled_from(["retryable"] * 5 + ["limited"] * 2 + ["fatal", "open"]),
        duration_us=st.one_of(st.just(0), st.integers(1, 5_000)),
        predicate=st.sampled_from([True] * 7 + [False]),
        # around a microsecond (the rounding up), then past most deadlines
        retry_after_ns=st.one_of(
            st.sampled_from([0, 1, 999, 1_000, 1_001, 3_000_000, 25_000_000]),
            st.integers(0, 30_000_000),
        ),
    )
    # Long scripts are what reach max_attempts and the deadline: at least a few failures.
    return st.lists(attempt, min_size=2, max_size=longest).map(
        lambda failures: [*failures, Attempt("ok")]
    )


@st.composite
def bulkhead_specs(draw: st.DrawFn) -> BulkheadSpec:
    """Bulkhead configurations: 1 to 4 permits (so "full" is common), and a default
    ``max_wait`` of 0 (half the time: never wait), forever, or a few microseconds to 5 ms."""
    max_wait_ns = draw(
        st.one_of(
            st.just(0),
            st.just(0),  # twice: half the bulkheads never wait by default
            st.none(),
            st.integers(1, 5_000).map(lambda us: us * US),
        ),
        label="max_wait_ns",
    )
    return BulkheadSpec(
        max_concurrent=draw(st.integers(1, 4)),
        max_wait_ns=max_wait_ns,
        listen=draw(st.integers(0, 2), label="listen") > 0,  # quiet one time in three
    )


@st.composite
def chain_specs(draw: st.DrawFn) -> ChainSpec:
    """Pipelines: each layer present most of the time (retry and breaker nearly always), in the
    default order three times in four, else an explicit permutation; small components, so the
    limiter runs dry, the bulkhead and the pool fill up, and the breaker opens within a run."""
    weights = {"rate_limit": 3, "bulkhead": 3, "retry": 7, "breaker": 7, "pool": 3}
    present = [
        name
        for name, weight in weights.items()
        if draw(st.integers(0, weight), label=f"has {name}") > 0
    ]
    explicit = draw(st.integers(0, 3), label="explicit order") == 0
    order = tuple(draw(st.permutations(present))) if explicit else tuple(present)
    period_us = draw(st.sampled_from([1, 100, 1_000, 5_000]), label="limiter period")
    limit = LimitSpec("token_bucket", draw(st.integers(1, 4)), rate=Fraction(1, period_us * US))
    retry = draw(retry_specs())
    if retry.max_attempts is None:
        # Always an attempt limit here: inside a chain, a zero back-off retrying a refusal (a full
        # bulkhead held from outside) would otherwise spin without time passing, correctly.
        retry = dataclasses.replace(retry, max_attempts=draw(st.integers(2, 6)))
    breaker = BreakerSpec(
        failure_threshold=draw(st.integers(1, 4)),
        recovery_timeout_ns=draw(st.integers(1, 30_000)) * US,
        success_threshold=draw(st.integers(1, 2)),
    )
    pool = PoolSpec(
        size=draw(st.integers(1, 3)),
        max_overflow=draw(st.integers(0, 1)),
        lifo=draw(st.booleans()),
        max_lifetime_ns=None,
        max_idle_ns=None,
        leak_threshold_ns=None,
        validate=False,
        reset=False,
        destroy=False,
    )
    return ChainSpec(
        order=order,
        explicit_order=explicit,
        limit=limit if "rate_limit" in present else None,
        bulkhead=BulkheadSpec(draw(st.integers(1, 3)), 0) if "bulkhead" in present else None,
        retry=retry if "retry" in present else None,
        breaker=breaker if "breaker" in present else None,
        pool=pool if "pool" in present else None,
        fallback=draw(st.integers(0, 2), label="fallback") == 0,
        asynchronous=draw(st.booleans(), label="async"),
    )


op_steps = st.builds(
    OpStep,
    kind=st.sampled_from(["ok", "retryable", "retryable", "retryable", "fatal", "limited"]),
    duration_us=st.one_of(st.just(0), st.integers(0, 3_000)),
    # up to 30 ms: often past a retry deadline (at most 20 ms), which must then give up
    retry_after_ns=st.one_of(st.integers(1, 5_000_000), st.integers(5_000_000, 30_000_000)),
)

#: What the operation does on each invocation of one call (then it succeeds).
op_scripts = st.lists(op_steps, max_size=5)
