"""Reference models of the five rate-limiting algorithms, written from the spec (DESIGN.md).

Plain Python over exact ``Fraction`` tokens and integer nanoseconds, written for obviousness rather
than speed: the sliding log sums its whole history, the windows keep a count per aligned window,
and every ``retry_after`` is the *first* future instant at which the same request fits, found by
looking at the instants where the model's answer can change. No imports from ``resilience``.

Every model answers ``decide(now, cost, commit) -> Verdict`` and keeps its own state only when
``commit`` is true. ``Verdict.remaining`` is what a next request could take right now (after this
one, if admitted); ``retry_after_ns`` is 0 when admitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

__all__ = [
    "ALGORITHMS",
    "FixedWindowModel",
    "LimitModel",
    "LimitSpec",
    "SlidingCounterModel",
    "SlidingLogModel",
    "TokenBucketModel",
    "Verdict",
    "configuration",
    "description",
    "model_for",
]

ALGORITHMS = ("token_bucket", "gcra", "fixed_window", "sliding_log", "sliding_counter")


class Verdict(NamedTuple):
    admitted: bool
    remaining: int
    retry_after_ns: int


@dataclass(frozen=True)
class LimitSpec:
    """One limiter's meaning. ``limit`` is the capacity (bucket), burst (GCRA) or window limit;
    ``rate`` is units per nanosecond (bucket, GCRA); ``window_ns`` the window (the others)."""

    algorithm: str
    limit: int
    rate: Fraction | None = None
    window_ns: int | None = None


class LimitModel(Protocol):
    spec: LimitSpec

    def decide(self, now: int, cost: int, commit: bool) -> Verdict: ...

    def instants(self, now: int) -> list[int]:
        """Future instants (ns) at which this model's answers change: where time steps should go."""
        ...


def ceil_int(value: Fraction) -> int:
    return math.ceil(value)


@dataclass
class TokenBucketModel:
    """Capacity C, continuous refill at ``rate``, starts full. (GCRA promises the same.)"""

    spec: LimitSpec
    tokens: Fraction = Fraction(0)
    at: int | None = None  # when ``tokens`` was last brought up to date

    def __post_init__(self) -> None:
        self.tokens = Fraction(self.spec.limit)

    def tokens_at(self, now: int) -> Fraction:
        """The tokens there are at ``now`` (refilled since the last decision, capped)."""
        assert self.spec.rate is not None
        if self.at is None:
            return self.tokens
        return min(Fraction(self.spec.limit), self.tokens + (now - self.at) * self.spec.rate)

    def decide(self, now: int, cost: int, commit: bool) -> Verdict:
        assert self.spec.rate is not None
        tokens = self.tokens_at(now)
        if tokens >= cost:
            verdict = Verdict(True, math.floor(tokens - cost), 0)
            tokens -= cost
        else:
            verdict = Verdict(False, math.floor(tokens), ceil_int((cost - tokens) / self.spec.rate))
        if commit:
            self.tokens, self.at = tokens, now
        return verdict

    def instants(self, now: int) -> list[int]:
        assert self.spec.rate is not None
        tokens = self.tokens_at(now)
        if tokens == self.spec.limit:
            return []
        next_whole = math.floor(tokens) + 1
        return [
            now + ceil_int((next_whole - tokens) / self.spec.rate),
            now + ceil_int((self.spec.limit - tokens) / self.spec.rate),
        ]


@dataclass
class FixedWindowModel:
    """At most ``limit`` admitted per aligned window [kW, (k+1)W); rejections count for nothing."""

    spec: LimitSpec
    used: dict[int, int] = field(default_factory=dict)

    def decide(self, now: int, cost: int, commit: bool) -> Verdict:
        assert self.spec.window_ns is not None
        window = now // self.spec.window_ns
        used = self.used.get(window, 0)
        if used + cost <= self.spec.limit:
            if commit:
                self.used[window] = used + cost
            return Verdict(True, self.spec.limit - used - cost, 0)
        return Verdict(False, self.spec.limit - used, (window + 1) * self.spec.window_ns - now)

    def instants(self, now: int) -> list[int]:
        assert self.spec.window_ns is not None
        return [(now // self.spec.window_ns + 1) * self.spec.window_ns]


@dataclass
class SlidingLogModel:
    """At most ``limit`` admitted in every window (t - W, t]."""

    spec: LimitSpec
    log: list[tuple[int, int]] = field(default_factory=list)  # (instant, cost), every admission

    def load(self, now: int) -> int:
        assert self.spec.window_ns is not None
        return sum(cost for at, cost in self.log if now - self.spec.window_ns < at <= now)

    def decide(self, now: int, cost: int, commit: bool) -> Verdict:
        load = self.load(now)
        if load + cost <= self.spec.limit:
            if commit:
                self.log.append((now, cost))
            return Verdict(True, self.spec.limit - load - cost, 0)
        # The load only falls when an entry leaves the window, at its instant + W: try those.
        later = next(t for t in self.instants(now) if self.load(t) + cost <= self.spec.limit)
        return Verdict(False, self.spec.limit - load, later - now)

    def instants(self, now: int) -> list[int]:
        assert self.spec.window_ns is not None
        return sorted({at + self.spec.window_ns for at, _ in self.log
                       if at + self.spec.window_ns > now})  # fmt: skip


@dataclass
class SlidingCounterModel:
    """Estimate = previous window's count * (W - elapsed) / W + this window's count; admit iff the
    estimate plus the cost is at most ``limit``."""

    spec: LimitSpec
    used: dict[int, int] = field(default_factory=dict)  # admitted cost per aligned window

    def estimate(self, now: int) -> Fraction:
        assert self.spec.window_ns is not None
        w = self.spec.window_ns
        window, elapsed = divmod(now, w)
        return Fraction(self.used.get(window - 1, 0) * (w - elapsed), w) + self.used.get(window, 0)

    def decide(self, now: int, cost: int, commit: bool) -> Verdict:
        estimate = self.estimate(now)
        if estimate + cost <= self.spec.limit:
            if commit:
                window = now // self.spec.window_ns  # type: ignore[operator]
                self.used[window] = self.used.get(window, 0) + cost
            return Verdict(True, math.floor(self.spec.limit - estimate - cost), 0)
        return Verdict(False, math.floor(self.spec.limit - estimate), self._wait(now, cost))

    def _wait(self, now: int, cost: int) -> int:
        """Without traffic the estimate falls linearly inside each window: solve for the first
        instant it admits ``cost``, window by window (this one, the next, the one after)."""
        assert self.spec.window_ns is not None
        w = self.spec.window_ns
        window = now // w
        for ahead in range(3):
            start = (window + ahead) * w
            previous = self.used.get(window + ahead - 1, 0)
            current = self.used.get(window + ahead, 0)
            earliest = now if ahead == 0 else start
            room = self.spec.limit - current - cost  # what the decaying part may still weigh
            if room < 0:
                continue
            if previous == 0:
                return earliest - now
            # previous * (W - e) / W <= room  <=>  e >= W - room * W / previous
            at = start + max(0, ceil_int(w - Fraction(room * w, previous)))
            at = max(at, earliest)
            if at < start + w:
                return at - now
        raise AssertionError("two windows later the estimate is 0: unreachable")

    def instants(self, now: int) -> list[int]:
        assert self.spec.window_ns is not None
        w = self.spec.window_ns
        return [(now // w + 1) * w, (now // w + 2) * w]


def model_for(spec: LimitSpec) -> LimitModel:
    if spec.algorithm in ("token_bucket", "gcra"):
        return TokenBucketModel(spec)
    return {
        "fixed_window": FixedWindowModel,
        "sliding_log": SlidingLogModel,
        "sliding_counter": SlidingCounterModel,
    }[spec.algorithm](spec)


def configuration(spec: LimitSpec) -> dict[str, Any]:
    """What ``status()`` reports as the limiter's configuration."""
    if spec.algorithm == "token_bucket":
        assert spec.rate is not None
        return {"capacity": spec.limit, "refill_rate_per_s": float(spec.rate * 10**9)}
    if spec.algorithm == "gcra":
        assert spec.rate is not None
        return {"rate_per_s": float(spec.rate * 10**9), "burst": spec.limit}
    assert spec.window_ns is not None
    return {"limit": spec.limit, "window_s": spec.window_ns / 10**9}


def description(model: LimitModel, now: int) -> dict[str, Any]:
    """What ``status()`` / ``status_of(key)`` report of a key's state at ``now``: the units free
    now (what a unit request would leave, plus itself if admitted) and the algorithm's own
    fields. Floats are the correctly rounded values of the exact fractions."""
    spec = model.spec
    unit = model.decide(now, 1, False)
    found: dict[str, Any] = {"remaining": unit.remaining + (1 if unit.admitted else 0)}
    if isinstance(model, TokenBucketModel):
        assert spec.rate is not None
        tokens = model.tokens_at(now)
        if spec.algorithm == "token_bucket":
            found["tokens"] = float(tokens)
        else:
            found["full_in_ns"] = ceil_int((spec.limit - tokens) / spec.rate)
    elif isinstance(model, FixedWindowModel):
        assert spec.window_ns is not None
        window = now // spec.window_ns
        found["used"] = model.used.get(window, 0)
        found["window_resets_in_ns"] = (window + 1) * spec.window_ns - now
    elif isinstance(model, SlidingLogModel):
        found["used"] = model.load(now)
    elif isinstance(model, SlidingCounterModel):
        assert spec.window_ns is not None
        window = now // spec.window_ns
        found["previous"] = model.used.get(window - 1, 0)
        found["current"] = model.used.get(window, 0)
        found["estimate"] = float(model.estimate(now))
    return found
