"""The chain machine's target: which ``Pipeline`` and ``RetryPolicy`` classes to build (planted
variants replace one), and how a ``ChainSpec`` becomes real components under frozen time."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from properties.harness.frozen import FrozenClock
from properties.models.chain import ChainSpec, OpStep
from resilience import (
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    PoolTimeout,
    Rate,
    RateLimited,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)

__all__ = ["RESILIENCE", "BudgetClock", "Built", "ChainTarget", "Resource", "error_for", "kind_of"]

# Errors the retry policy retries, and the breaker counts as failures (ValueError: neither).
RETRY_ON = (ConnectionError, RateLimited, BulkheadFull, PoolTimeout, CircuitOpenError)
COUNTED = (ConnectionError, RateLimited, BulkheadFull, PoolTimeout)

_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (CircuitOpenError, "open"),
    (BulkheadFull, "full"),
    (PoolTimeout, "timeout"),
    (RateLimited, "limited"),
    (ConnectionError, "retryable"),
    (ValueError, "fatal"),
)


def kind_of(error: BaseException) -> str:
    for cls, kind in _KINDS:
        if isinstance(error, cls):
            return kind
    raise AssertionError(f"unexpected error from the pipeline: {error!r}")


def error_for(step: OpStep, number: int) -> Exception:
    if step.kind == "retryable":
        return ConnectionError(f"invocation {number}")
    if step.kind == "limited":
        return RateLimited("downstream", retry_after_ns=step.retry_after_ns)
    assert step.kind == "fatal", step
    return ValueError(f"invocation {number}")


class BudgetClock(FrozenClock):
    """The frozen clock, read at most ``budget`` times per call: a planted bug that retries
    forever without letting time pass (an open circuit retried with zero back-off under a
    deadline) fails the call with an ``AssertionError`` instead of hanging the run."""

    __slots__ = ("budget", "reads")

    def __init__(self, frozen: Any, budget: int = 20_000) -> None:
        super().__init__(frozen)
        self.budget, self.reads = budget, 0

    def monotonic_ns(self) -> int:
        self.reads += 1
        if self.reads > self.budget:
            raise AssertionError(f"one call read the clock {self.budget} times: it never ends")
        return super().monotonic_ns()


@dataclass(frozen=True)
class Resource:
    """A pooled resource: its number is the model's rid (creation order)."""

    number: int


@dataclass
class Built:
    pipeline: Pipeline
    components: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainTarget:
    name: str
    pipeline_class: type[Pipeline] = Pipeline
    retry_class: type[RetryPolicy] = RetryPolicy

    def build(self, spec: ChainSpec, clock: FrozenClock) -> Built:
        components: dict[str, Any] = {}
        if spec.limit is not None:
            assert spec.limit.rate is not None
            period_ns = 1 / spec.limit.rate  # one token per period
            components["rate_limiter"] = TokenBucket(
                spec.limit.limit,
                Rate(1, per=Fraction(period_ns) / 10**9),
                name="limiter",
                clock=clock,
            )
        if spec.bulkhead is not None:
            components["bulkhead"] = Bulkhead(
                spec.bulkhead.max_concurrent, max_wait=0, name="bulkhead", clock=clock
            )
        if spec.retry is not None:
            r = spec.retry
            components["retry"] = self.retry_class(
                max_attempts=r.max_attempts,
                deadline=None if r.deadline_us is None else Fraction(r.deadline_us, 10**6),
                base_delay=Fraction(r.base_delay_us, 10**6),
                max_delay=Fraction(r.max_delay_us, 10**6),
                retry_on=RETRY_ON,
                random=random.Random(r.seed),
                clock=clock,
                name="retry",
            )
        if spec.breaker is not None:
            b = spec.breaker
            components["breaker"] = CircuitBreaker(
                failure_threshold=b.failure_threshold,
                recovery_timeout=Fraction(b.recovery_timeout_ns, 10**9),
                expected_exception=COUNTED,
                half_open_max_calls=b.half_open_max_calls,
                success_threshold=b.success_threshold,
                name="breaker",
                clock=clock,
            )
        if spec.pool is not None:
            p, made = spec.pool, iter(range(10**9))
            components["pool"] = ResourcePool(
                lambda: Resource(next(made)),
                size=p.size,
                max_overflow=p.max_overflow,
                timeout=0,
                lifo=p.lifo,
                name="pool",
                clock=clock,
            )
        pipeline = self.pipeline_class(
            **components,
            fallback=(lambda error: ("fallback", kind_of(error))) if spec.fallback else None,
            order=spec.order if spec.explicit_order else None,
            name="chain",
            clock=clock,
        )
        return Built(pipeline, components)


RESILIENCE = ChainTarget("resilience")
