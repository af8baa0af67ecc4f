"""Rate-limiter targets: one driver over a plain limiter and a keyed limiter of the same
configuration, so ``RateLimitMachine`` checks both, through every entry point a user has
(``try_acquire``, ``check``, blocking ``acquire`` and ``acquire_async`` with timeouts).

A target names the algorithm class and the keyed class to build; planted variants substitute a
subclass of either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

import resilience
from properties.harness.frozen import FrozenClock
from properties.strategies import PLAIN, LimitCase, limit_cases

__all__ = ["LIMITER_TARGETS", "LimiterDriver", "LimiterTarget", "Outcome", "limiter_target"]

CLASSES: dict[str, type[resilience.RateLimiter[Any]]] = {
    "token_bucket": resilience.TokenBucket,
    "gcra": resilience.GCRA,
    "fixed_window": resilience.FixedWindow,
    "sliding_log": resilience.SlidingWindowLog,
    "sliding_counter": resilience.SlidingWindowCounter,
}


def spelled(case: LimitCase) -> object:
    """The rate (buckets) or window (the others) as the case spells it."""
    us = case.period_us
    return {
        "rate_fraction_seconds": lambda: resilience.Rate(case.amount, per=Fraction(us, 10**6)),
        "rate_timedelta": lambda: resilience.Rate(case.amount, per=timedelta(microseconds=us)),
        "rate_thirds": lambda: resilience.Rate(
            Fraction(case.amount, 3), per=Fraction(us, 3 * 10**6)
        ),
        "per_second_fraction": lambda: Fraction(case.amount * 10**6, us),
        "per_second_float": lambda: float(Fraction(case.amount * 10**6, us)),
        "seconds_float": lambda: us / 10**6,
        "seconds_fraction": lambda: Fraction(us, 10**6),
        "timedelta": lambda: timedelta(microseconds=us),
        "seconds_int": lambda: us // 10**6,
    }[case.spelling]()


def construct(cls: type[Any], case: LimitCase, clock: FrozenClock, name: str) -> Any:
    spec = case.spec
    if spec.algorithm == "gcra":
        limiter = cls(spelled(case), spec.limit, name=name, clock=clock)
    else:
        limiter = cls(spec.limit, spelled(case), name=name, clock=clock)
    if case.compact_at is not None:
        limiter._compact_at = case.compact_at
    return limiter


class GuardedClock(FrozenClock):
    """Frozen time that fails a blocking acquire which keeps sleeping without being admitted (a
    spin: e.g. a ``retry_after`` of 0 that is not honest loops forever)."""

    __slots__ = ("sleeps_left",)
    SLEEPS_PER_ACQUIRE = 100

    def __init__(self, frozen: Any) -> None:
        super().__init__(frozen)
        self.sleeps_left = self.SLEEPS_PER_ACQUIRE

    def sleep(self, seconds: float) -> None:
        self.sleeps_left -= 1
        if self.sleeps_left < 0:
            raise AssertionError(
                f"acquire slept {self.SLEEPS_PER_ACQUIRE} times without being admitted "
                f"(last sleep {seconds!r} s): it spins"
            )
        super().sleep(seconds)


@dataclass(frozen=True)
class Outcome:
    """What one request did: admitted or not (with the decision), or raised ``RateLimited``."""

    admitted: bool
    remaining: int | None
    retry_after_ns: int
    raised: bool = False


class LimiterDriver:
    """A plain limiter and a keyed limiter, addressed by key (``PLAIN`` is the plain one)."""

    def __init__(self, plain: Any, keyed: Any) -> None:
        self.plain = plain
        self.keyed = keyed
        self.events: dict[str, list[Any]] = {"plain": [], "keyed": []}
        self._loop = asyncio.new_event_loop()

    def subscribe(self) -> None:
        self.plain.subscribe(self.events["plain"].append)
        self.keyed.subscribe(self.events["keyed"].append)

    def close(self) -> None:
        self._loop.close()

    def _call(self, key: object, method: str, *args: Any) -> Any:
        if key == PLAIN:
            return getattr(self.plain, method)(*args)
        return getattr(self.keyed, method)(key, *args)

    def try_acquire(self, key: object, cost: int) -> Outcome:
        return _outcome(self._call(key, "try_acquire", cost))

    def check(self, key: object, cost: int) -> Outcome:
        return _outcome(self._call(key, "check", cost))

    def status(self, key: object) -> dict[str, Any]:
        """``status()`` of the plain limiter, or the keyed limiter's ``status_of(key)``."""
        if key == PLAIN:
            return dict(self.plain.status())
        return dict(self.keyed.status_of(key))

    def keyed_status(self) -> dict[str, Any]:
        return dict(self.keyed.status())

    def acquire(self, key: object, cost: int, timeout: object) -> Outcome:
        return self._blocking(lambda: self._call(key, "acquire", cost, timeout))

    def acquire_async(self, key: object, cost: int, timeout: object) -> Outcome:
        run = self._loop.run_until_complete
        return self._blocking(lambda: run(self._call(key, "acquire_async", cost, timeout)))

    def _blocking(self, run: Callable[[], Any]) -> Outcome:
        clock = self.plain._clock
        if isinstance(clock, GuardedClock):
            clock.sleeps_left = GuardedClock.SLEEPS_PER_ACQUIRE
        try:
            return _outcome(run())
        except resilience.RateLimited as limited:
            return Outcome(False, None, limited.retry_after_ns, raised=True)

    def sweep(self) -> int:
        return int(self.keyed.sweep())

    def metrics(self, which: str) -> dict[str, int]:
        return dict((self.plain if which == "plain" else self.keyed).metrics())

    def keys(self) -> int:
        return len(self.keyed)


def _outcome(decision: Any) -> Outcome:
    assert isinstance(decision, resilience.Decision), f"not a Decision: {decision!r}"
    assert bool(decision) is decision.admitted, f"truthiness disagrees: {decision!r}"
    assert decision.retry_after == decision.retry_after_ns / 10**9, f"seconds: {decision!r}"
    return Outcome(decision.admitted, decision.remaining, decision.retry_after_ns)


@dataclass(frozen=True)
class LimiterTarget:
    """What to build: the algorithm's class (or a variant) and the keyed class (or a variant)."""

    name: str
    algorithm: str
    limiter_class: type[Any]
    keyed_class: type[Any] = resilience.KeyedLimiter
    cases: st.SearchStrategy[LimitCase] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.cases is None:
            object.__setattr__(self, "cases", limit_cases(self.algorithm))

    def build(self, case: LimitCase, clock: FrozenClock) -> LimiterDriver:
        cls = self.limiter_class
        plain = construct(cls, case, clock, "plain")
        keyed = self.keyed_class(
            lambda: construct(cls, case, clock, "template"),
            name="keyed",
            evict_idle=case.evict_idle,
        )
        return LimiterDriver(plain, keyed)


def limiter_target(
    algorithm: str,
    limiter_class: type[Any] | None = None,
    keyed_class: type[Any] | None = None,
    name: str | None = None,
) -> LimiterTarget:
    return LimiterTarget(
        name=name or algorithm,
        algorithm=algorithm,
        limiter_class=limiter_class or CLASSES[algorithm],
        keyed_class=keyed_class or resilience.KeyedLimiter,
    )


LIMITER_TARGETS = {algorithm: limiter_target(algorithm) for algorithm in CLASSES}
