"""Properties the machine cannot state at frozen time's microsecond resolution or near its one
start instant, checked on the decision cores with explicit nanosecond instants (each limiter's
``_decide(state, now, cost, commit)`` is the whole algorithm; the public methods only lock, count
and read the clock):

* GCRA and TokenBucket with matching parameters make identical decisions on any sequence;
* ``retry_after_ns`` is honest to the nanosecond: with no other traffic, the same request is
  admitted after exactly ``retry_after_ns`` and refused one nanosecond earlier;
* every core agrees with its model wherever the clock's zero is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from properties.models.ratelimit import LimitSpec, model_for
from resilience import (
    GCRA,
    FixedWindow,
    Rate,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from resilience.ratelimit.rate import units_per_ns

#: Where traffic starts: the clock's zero is arbitrary, so anywhere, including before it and at
#: wall-clock magnitudes (~1.7e18 ns), where float seconds lose the precision exact ints keep.
starts = st.one_of(
    st.just(86_400 * 10**9),  # where the machines freeze
    st.integers(-(10**18), 2 * 10**18),
    st.integers(1_700_000_000 * 10**9, 1_800_000_000 * 10**9),
)

rates = st.builds(
    Rate,
    st.integers(1, 9),
    st.fractions(min_value=Fraction(1, 10**9), max_value=2, max_denominator=10**9),
)
#: (gap before the request in ns, its cost as a share of the limit)
traffic = st.lists(
    st.tuples(st.one_of(st.just(0), st.integers(0, 5_000), st.integers(0, 10**10)),
              st.integers(1, 6)),
    max_size=40,
)  # fmt: skip


CLASSES: dict[str, type[Any]] = {
    "token_bucket": TokenBucket,
    "gcra": GCRA,
    "fixed_window": FixedWindow,
    "sliding_log": SlidingWindowLog,
    "sliding_counter": SlidingWindowCounter,
}


def _limiter(cls: type[Any], algorithm: str, limit: int, rate: Rate, window_ns: int) -> Any:
    if algorithm == "token_bucket":
        return cls(limit, rate)
    if algorithm == "gcra":
        return cls(rate, limit)
    return cls(limit, Fraction(window_ns, 10**9))


def _cost(share: int, limit: int) -> int:
    return 1 + (share - 1) * (limit - 1) // 5  # share 1..6 -> cost 1..limit


@dataclass(frozen=True)
class Scenario:
    """One limiter configuration and a request sequence: (instant, cost) pairs from ``start``."""

    algorithm: str
    limit: int
    rate: Rate
    window_ns: int
    start: int
    requests: list[tuple[int, int]]

    def limiter(self, classes: dict[str, type[Any]]) -> Any:
        return _limiter(classes[self.algorithm], self.algorithm, self.limit, self.rate,
                        self.window_ns)  # fmt: skip

    def spec(self) -> LimitSpec:
        rate = units_per_ns("rate", self.rate)
        return LimitSpec(self.algorithm, self.limit, rate=rate, window_ns=self.window_ns)


@st.composite
def scenarios(draw: st.DrawFn, algorithms: list[str], max_limit: int) -> Scenario:
    limit = draw(st.integers(1, max_limit), label="limit")
    start = draw(starts, label="start")
    now, requests = start, []
    for gap, share in draw(traffic, label="traffic"):
        now += gap
        requests.append((now, _cost(share, limit)))
    return Scenario(
        algorithm=draw(st.sampled_from(algorithms), label="algorithm"),
        limit=limit,
        rate=draw(rates, label="rate"),
        window_ns=draw(st.one_of(st.integers(1, 50), st.integers(1, 10**10)), label="window_ns"),
        start=start,
        requests=requests,
    )


def gcra_matches_bucket(
    bucket_class: type[Any] = TokenBucket, gcra_class: type[Any] = GCRA
) -> Callable[[], None]:
    """The differential property, for the given classes (planted variants in the teeth tests)."""

    @given(limit=st.integers(1, 6), rate=rates, traffic=traffic, start=starts)
    def check(limit: int, rate: Rate, traffic: list[tuple[int, int]], start: int) -> None:
        bucket, gcra = bucket_class(limit, rate), gcra_class(rate, limit)
        bucket_state, gcra_state = bucket._new_state(start), gcra._new_state(start)
        now = start
        for gap, share in traffic:
            now += gap
            cost = _cost(share, limit)
            decided = gcra._decide(gcra_state, now, cost, True)
            expected = bucket._decide(bucket_state, now, cost, True)
            assert decided == expected, f"at {now - start} ns, cost {cost}: {decided} != {expected}"
            assert gcra._is_fresh(gcra_state, now) == bucket._is_fresh(bucket_state, now)

    return check


def retry_after_exact(classes: dict[str, type[Any]] = CLASSES) -> Callable[[], None]:
    """The nanosecond honesty property, for the given classes."""

    @given(scenario=scenarios(sorted(classes), max_limit=6), share=st.integers(1, 6))
    def check(scenario: Scenario, share: int) -> None:
        limiter = scenario.limiter(classes)
        state = limiter._new_state(scenario.start)
        now = scenario.start
        for now, cost in scenario.requests:
            limiter._decide(state, now, cost, True)
        cost = _cost(share, scenario.limit)
        decision = limiter._decide(state, now, cost, False)
        if decision.admitted:
            assert decision.retry_after_ns == 0
            return
        wait = decision.retry_after_ns
        assert wait > 0
        assert not limiter._decide(state, now + wait - 1, cost, False).admitted, (
            f"admitted {wait - 1} ns after a rejection that said wait {wait} ns"
        )
        assert limiter._decide(state, now + wait, cost, False).admitted, (
            f"still rejected {wait} ns after a rejection that said wait {wait} ns"
        )

    return check


def cores_match_models(classes: dict[str, type[Any]] = CLASSES) -> Callable[[], None]:
    """Each decision core against its model, at any instant (the machines only see instants near
    the frozen start, where float seconds happen to be exact enough to hide float slips)."""

    @given(scenario=scenarios(sorted(classes), max_limit=10))
    def check(scenario: Scenario) -> None:
        limiter = scenario.limiter(classes)
        state = limiter._new_state(scenario.start)
        model = model_for(scenario.spec())
        for now, cost in scenario.requests:
            decided = limiter._decide(state, now, cost, True)
            expected = model.decide(now, cost, True)
            assert (decided.admitted, decided.remaining, decided.retry_after_ns) == expected, (
                f"at {now} ns, cost {cost}: {decided}, model {expected}"
            )

    return check


def test_decision_cores_agree_with_models_at_any_instant() -> None:
    """Every decision equals the model's wherever the clock's zero is, wall-clock magnitudes and
    negative readings included."""
    cores_match_models()()


def test_gcra_decides_exactly_as_the_token_bucket() -> None:
    """Same capacity/burst and rate, same requests at the same instants: the same decisions."""
    gcra_matches_bucket()()


def test_retry_after_is_exact_to_the_nanosecond() -> None:
    """After any traffic, a rejected request fits after exactly retry_after_ns, not 1 ns sooner."""
    retry_after_exact()()
