"""Planted bugs in the protection chain, each standing for a real ordering or composition slip
(../shared/notes/bug-classes.md items 21-22). ``CHAIN_MUTANTS`` maps a name to its target."""

from __future__ import annotations

from typing import Any, ClassVar

from properties.mutants.retry import CircuitOpenRetried, RateLimitedPastDeadline
from properties.targets.chain import ChainTarget
from resilience import Pipeline
from resilience.chain.layers import AsyncStep, PoolLayer, Step, invoke, invoke_async

__all__ = ["CHAIN_MUTANTS"]


class _FallbackInside(Pipeline):
    """The fallback also wraps the operation itself, inside every layer: the breaker and the
    retry policy see its answer as a success and never count the failure (resilience4j #515).
    (It still answers for refusals by the outer layers, as the real one does.)"""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        fallback = self.fallback
        if fallback is None:
            return

        def swallowed(fn: Any, args: Any, kwargs: Any) -> Any:
            try:
                return invoke(fn, args, kwargs)
            except Exception as error:
                return fallback(error)

        async def swallowed_async(fn: Any, args: Any, kwargs: Any) -> Any:
            try:
                return await invoke_async(fn, args, kwargs)
            except Exception as error:
                return fallback(error)

        self._step = self._compose(swallowed)
        self._astep = self._compose_async(swallowed_async)


class _RetryOutsideBreaker(Pipeline):
    """The default order puts the breaker outside the retry: the breaker records one outcome per
    logical call, however many attempts failed, so it opens far too late."""

    default_order = ("rate_limit", "bulkhead", "breaker", "retry", "pool")


class _LimiterInsideRetry(Pipeline):
    """The default order puts the rate limit inside the retry: every attempt is charged, so a
    struggling dependency drains the budget of healthy callers (a limiter per attempt)."""

    default_order = ("bulkhead", "retry", "rate_limit", "breaker", "pool")


class _LeaseKeptOnRaise(PoolLayer):
    def wrap(self, inner: Step) -> Step:
        pool = self.sync
        assert pool is not None

        def step(fn: Any, args: Any, kwargs: Any) -> Any:
            resource = pool.checkout()
            result = inner(fn, (resource, *args), kwargs)
            pool.checkin(resource)  # only reached when the operation returned
            return result

        return step

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        pool = self.asynchronous

        async def step(fn: Any, args: Any, kwargs: Any) -> Any:
            resource = await pool.checkout()
            result = await inner(fn, (resource, *args), kwargs)
            await pool.checkin(resource)  # only reached when the operation returned
            return result

        return step


class _LeakOnRaise(Pipeline):
    """The pool layer returns the lease only when the operation returns: a raise leaks it."""

    layer_types: ClassVar[dict[str, Any]] = {**Pipeline.layer_types, "pool": _LeaseKeptOnRaise}


_VARIANTS: dict[str, dict[str, Any]] = {
    "RetryWrapsOpenBreaker": {"retry_class": CircuitOpenRetried},
    "FallbackSwallowsInside": {"pipeline_class": _FallbackInside},
    "ReversedRetryBreaker": {"pipeline_class": _RetryOutsideBreaker},
    "LimiterChargedPerAttempt": {"pipeline_class": _LimiterInsideRetry},
    "LeaseNotReturnedOnRaise": {"pipeline_class": _LeakOnRaise},
    "RateLimitedPastDeadline": {"retry_class": RateLimitedPastDeadline},
}
CHAIN_MUTANTS = {name: ChainTarget(name, **parts) for name, parts in _VARIANTS.items()}
