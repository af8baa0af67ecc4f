"""Planted bugs in the protection chain, each standing for a real ordering or composition slip
(../shared/notes/bug-classes.md items 21-22). ``CHAIN_MUTANTS`` maps a name to its target."""

from __future__ import annotations

from typing import Any, ClassVar

from properties.mutants.retry import CircuitOpenRetried, RateLimitedPastDeadline
from properties.targets.chain import ChainTarget
from resilience import BulkheadFull, CircuitOpenError, Pipeline, PoolTimeout, RateLimited
from resilience.chain.layers import AsyncStep, PoolLayer, Step, invoke, invoke_async

__all__ = ["CHAIN_MUTANTS", "VARIANT_CLASSES"]

_REFUSAL_TYPES = (RateLimited, BulkheadFull, CircuitOpenError, PoolTimeout)


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


class _BulkheadInsideRetry(Pipeline):
    """The default order puts the bulkhead inside the retry: each attempt takes a permit of its
    own (the bulkhead counts attempts, not calls) and gives it back during every back-off, so
    a full bulkhead refuses a call half-way through its retries."""

    default_order = ("rate_limit", "retry", "bulkhead", "breaker", "pool")


class _PoolOutsideRetry(Pipeline):
    """The default order leases the resource outside the retry: one resource is held through
    every attempt and every back-off sleep, and a broken one is retried on again and again."""

    default_order = ("rate_limit", "bulkhead", "pool", "retry", "breaker")


class _BulkheadBeforeRateLimit(Pipeline):
    """The default order checks the bulkhead before the rate limit: a call the bulkhead refuses
    is never charged, and a call the limiter refuses held a permit for nothing."""

    default_order = ("bulkhead", "rate_limit", "retry", "breaker", "pool")


class _FallbackCountedAsSuccess(Pipeline):
    """A call the fallback answered is counted as succeeded, not failed and fell back (the
    dashboard shows a healthy dependency while every call falls back)."""

    def _fall_back(self, error: Exception) -> Any:
        assert self.fallback is not None
        next(self._succeeded)
        return self.fallback(error)

    def _fallback_done(self, error: Exception, *, failed: bool) -> None:
        self._listeners.deliver()


class _FallbackSkipsRefusals(Pipeline):
    """The fallback answers only for the operation's own failures: a refusal by a layer (rate
    limited, bulkhead full, circuit open, pool timeout) reaches the caller instead (a fallback
    wired around the operation, not around the chain)."""

    def _fall_back(self, error: Exception) -> Any:
        if isinstance(error, _REFUSAL_TYPES):
            self._count_failure(error)
            raise error
        return super()._fall_back(error)


class _LeaseKeptForNextCall(PoolLayer):
    def wrap(self, inner: Step) -> Step:
        pool = self.sync
        assert pool is not None
        kept: list[Any] = []

        def step(fn: Any, args: Any, kwargs: Any) -> Any:
            if not kept:
                kept.append(pool.checkout())  # kept for the next call, never checked in
            return inner(fn, (kept[0], *args), kwargs)

        return step

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        pool = self.asynchronous
        kept: list[Any] = []

        async def step(fn: Any, args: Any, kwargs: Any) -> Any:
            if not kept:
                kept.append(await pool.checkout())
            return await inner(fn, (kept[0], *args), kwargs)

        return step


class _LeaseCachedAcrossCalls(Pipeline):
    """The pool layer keeps the first resource it leased and hands it to every later call (a
    connection cached in the client): the pool shows it in use for ever, and a resource the
    pool would expire or replace is used on."""

    layer_types: ClassVar[dict[str, Any]] = {**Pipeline.layer_types, "pool": _LeaseKeptForNextCall}


_VARIANTS: dict[str, dict[str, Any]] = {
    "RetryWrapsOpenBreaker": {"retry_class": CircuitOpenRetried},
    "FallbackSwallowsInside": {"pipeline_class": _FallbackInside},
    "ReversedRetryBreaker": {"pipeline_class": _RetryOutsideBreaker},
    "LimiterChargedPerAttempt": {"pipeline_class": _LimiterInsideRetry},
    "LeaseNotReturnedOnRaise": {"pipeline_class": _LeakOnRaise},
    "RateLimitedPastDeadline": {"retry_class": RateLimitedPastDeadline},
    "BulkheadInsideRetry": {"pipeline_class": _BulkheadInsideRetry},
    "PoolOutsideRetry": {"pipeline_class": _PoolOutsideRetry},
    "BulkheadBeforeRateLimit": {"pipeline_class": _BulkheadBeforeRateLimit},
    "FallbackCountedAsSuccess": {"pipeline_class": _FallbackCountedAsSuccess},
    "FallbackSkipsRefusals": {"pipeline_class": _FallbackSkipsRefusals},
    "LeaseCachedAcrossCalls": {"pipeline_class": _LeaseCachedAcrossCalls},
}
CHAIN_MUTANTS = {name: ChainTarget(name, **parts) for name, parts in _VARIANTS.items()}

#: name -> the class that carries the slip (its docstring says what it is).
VARIANT_CLASSES: dict[str, type] = {
    name: next(iter(parts.values())) for name, parts in _VARIANTS.items()
}
