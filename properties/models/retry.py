"""The retry policy, as a model: one loop over a script of attempt outcomes, no tenacity, no
import from ``resilience``.

Each scripted attempt takes ``duration_us`` of (frozen) time, then returns or raises. After a
failed attempt ``k``, in this order: is it retryable (a retryable kind, and the predicate says
yes)? is ``k`` the last attempt allowed? the delay (a rate limit's ``retry_after`` rounded up to a
microsecond, else ``randint(0, min(cap, base * 2**(k-1)))`` from the same seeded ``Random``)?
would it pass the deadline? Then sleep, and the next attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Attempt", "RetryModel", "RetryOutcome", "RetrySpec"]

RETRYABLE_KINDS = ("retryable", "limited")


@dataclass(frozen=True)
class RetrySpec:
    max_attempts: int | None
    deadline_us: int | None
    base_delay_us: int
    max_delay_us: int
    seed: int


@dataclass(frozen=True)
class Attempt:
    """``kind``: "ok", "retryable" (a retry_on error), "limited" (a rate limit refusal),
    "fatal" (not in retry_on), "open" (the circuit is open); ``predicate``: what ``retry_if``
    answers if asked; ``retry_after_ns`` for "limited"."""

    kind: str
    duration_us: int = 0
    predicate: bool = True
    retry_after_ns: int = 0


@dataclass
class RetryOutcome:
    calls: int = 0
    result_at: int | None = None  # the attempt that returned
    raised_at: int | None = None  # the attempt whose exception propagates
    reason: str | None = None  # "max_attempts" / "deadline" / "not retryable"
    delays_us: list[int] = field(default_factory=list)
    asked: list[tuple[int, str]] = field(default_factory=list)  # predicate calls: (attempt, kind)
    events: list[tuple[object, ...]] = field(default_factory=list)
    elapsed_us: int = 0


class RetryModel:
    def __init__(self, spec: RetrySpec) -> None:
        self.spec = spec
        self.random = random.Random(spec.seed)

    def delay_us(self, attempt: int, step: Attempt) -> int:
        if step.kind == "limited":
            return -(-step.retry_after_ns // 1_000)
        bound = min(self.spec.max_delay_us, self.spec.base_delay_us * 2 ** (attempt - 1))
        return self.random.randint(0, bound)

    def run(self, script: list[Attempt]) -> RetryOutcome:
        out = RetryOutcome()
        for k, step in enumerate(script, 1):
            out.calls += 1
            out.elapsed_us += step.duration_us
            if step.kind == "ok":
                self.succeeded(out, k)
                return out
            if self.failed(out, k, step) is None:
                return out
        raise AssertionError("the script ended before the call did")

    def succeeded(self, out: RetryOutcome, k: int) -> None:
        """Attempt ``k`` returned (at ``out.elapsed_us``)."""
        out.events.append(("attempted", out.elapsed_us, k, None))
        out.result_at = k

    def failed(self, out: RetryOutcome, k: int, step: Attempt) -> int | None:
        """Attempt ``k`` raised (``step`` says how; ``out.elapsed_us`` is the time since the call
        started): the delay slept before the next attempt (already added to ``elapsed_us``), or
        None when the exception propagates (``out.raised_at`` and ``reason`` say why)."""
        spec = self.spec
        out.events.append(("attempted", out.elapsed_us, k, step.kind))
        retryable = step.kind in RETRYABLE_KINDS
        if retryable:
            out.asked.append((k, step.kind))
            retryable = step.predicate
        if not retryable:
            out.raised_at, out.reason = k, "not retryable"
            return None
        if spec.max_attempts is not None and k >= spec.max_attempts:
            self._give_up(out, k, step, "max_attempts")
            return None
        delay = self.delay_us(k, step)
        if spec.deadline_us is not None and out.elapsed_us + delay > spec.deadline_us:
            self._give_up(out, k, step, "deadline")
            return None
        out.events.append(("scheduled", out.elapsed_us, k, delay * 1_000, step.kind))
        out.delays_us.append(delay)
        out.elapsed_us += delay
        return delay

    @staticmethod
    def _give_up(out: RetryOutcome, k: int, step: Attempt, reason: str) -> RetryOutcome:
        out.raised_at, out.reason = k, reason
        out.events.append(("gave_up", out.elapsed_us, k, reason, step.kind))
        return out
