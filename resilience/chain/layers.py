"""The five layers a pipeline composes, each wrapping the next one, sync and async.

A *step* is ``step(fn, args, kwargs)``: it runs the rest of the chain for one call. Each layer
turns the step inside it into its own (``wrap`` for ``execute``, ``wrap_async`` for
``aexecute``), once, when the pipeline is built; a call then runs a fixed stack of closures.

The pool layer prepends the leased resource to ``args``, so the operation receives it first
wherever the pool sits in the order.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from resilience.breaker import CircuitBreaker
from resilience.bulkhead import AsyncBulkhead, Bulkhead
from resilience.errors import ConfigError, RateLimited
from resilience.pool import AsyncResourcePool, ResourcePool
from resilience.ratelimit import RateLimiter
from resilience.retry import RetryPolicy
from resilience.validation import duration_ns, int_at_least

__all__ = [
    "AsyncStep",
    "BreakerLayer",
    "BulkheadLayer",
    "CallLayer",
    "Layer",
    "PoolLayer",
    "RateLimitLayer",
    "RetryLayer",
    "Step",
    "invoke",
    "invoke_async",
]

Step = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any]
AsyncStep = Callable[[Callable[..., Any], tuple[Any, ...], dict[str, Any]], Awaitable[Any]]


def invoke(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The innermost step: the operation itself."""
    return fn(*args, **kwargs)


async def invoke_async(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The innermost async step: the operation, awaited if it returns an awaitable."""
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


class Layer:
    """One protection around the rest of the chain. ``component`` is what ``metrics()`` and
    ``subscribe()`` reach."""

    name: str
    component: Any
    sync_ready = True  # whether ``execute`` can run this layer (else only ``aexecute``)

    def wrap(self, inner: Step) -> Step:
        raise NotImplementedError

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        raise NotImplementedError


class RateLimitLayer(Layer):
    """Charges ``cost`` to the limiter once per pass. ``wait_ns``: 0 refuses at once with
    ``RateLimited`` (the default), ``None`` waits as long as it takes, else waits up to that long
    (through the limiter's clock) and refuses if admission would come later."""

    name = "rate_limit"

    def __init__(self, limiter: object, *, cost: object = 1, wait: object = 0) -> None:
        if not isinstance(limiter, RateLimiter):
            raise ConfigError(
                "rate_limiter",
                limiter,
                "must be a RateLimiter (TokenBucket, GCRA, FixedWindow, SlidingWindowLog, "
                "SlidingWindowCounter); a KeyedLimiter needs a key per call",
            )
        self.component = limiter
        self.cost = int_at_least("rate_limit_cost", cost, 1)
        if self.cost > limiter.max_cost:
            raise ConfigError(
                "rate_limit_cost", cost, f"exceeds the limiter's capacity {limiter.max_cost}"
            )
        self.wait = wait
        self.wait_ns = None if wait is None else duration_ns("rate_limit_wait", wait)

    def wrap(self, inner: Step) -> Step:
        limiter, cost, wait = self.component, self.cost, self.wait
        if self.wait_ns == 0:
            try_acquire, name = limiter.try_acquire, limiter.name

            def refuse_at_once(fn: Any, args: Any, kwargs: Any) -> Any:
                decision = try_acquire(cost)
                if not decision[0]:
                    raise RateLimited(name, retry_after_ns=decision[3], cost=cost)
                return inner(fn, args, kwargs)

            return refuse_at_once
        acquire = limiter.acquire

        def waiting(fn: Any, args: Any, kwargs: Any) -> Any:
            acquire(cost, wait)
            return inner(fn, args, kwargs)

        return waiting

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        limiter, cost, wait = self.component, self.cost, self.wait
        if self.wait_ns == 0:
            try_acquire, name = limiter.try_acquire, limiter.name

            async def refuse_at_once(fn: Any, args: Any, kwargs: Any) -> Any:
                decision = try_acquire(cost)
                if not decision[0]:
                    raise RateLimited(name, retry_after_ns=decision[3], cost=cost)
                return await inner(fn, args, kwargs)

            return refuse_at_once
        acquire = limiter.acquire_async

        async def waiting(fn: Any, args: Any, kwargs: Any) -> Any:
            await acquire(cost, wait)
            return await inner(fn, args, kwargs)

        return waiting


class BulkheadLayer(Layer):
    """Holds one permit for the rest of the chain. A ``Bulkhead`` and an ``AsyncBulkhead`` both
    serve ``execute`` and ``aexecute``: the other front shares the same permits."""

    name = "bulkhead"

    def __init__(self, bulkhead: object) -> None:
        if isinstance(bulkhead, Bulkhead):
            self.sync, self.asynchronous = bulkhead, bulkhead._sharing(AsyncBulkhead)
        elif isinstance(bulkhead, AsyncBulkhead):
            self.sync, self.asynchronous = bulkhead._sharing(Bulkhead), bulkhead
        else:
            raise ConfigError("bulkhead", bulkhead, "must be a Bulkhead or an AsyncBulkhead")
        self.component = bulkhead

    def wrap(self, inner: Step) -> Step:
        permit = self.sync.permit

        def step(fn: Any, args: Any, kwargs: Any) -> Any:
            with permit():
                return inner(fn, args, kwargs)

        return step

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        permit = self.asynchronous.permit

        async def step(fn: Any, args: Any, kwargs: Any) -> Any:
            async with permit():
                return await inner(fn, args, kwargs)

        return step


class CallLayer(Layer):
    """A layer whose component runs the rest of the chain itself: ``component.call(step, ...)``
    and ``await component.call_async(step, ...)``."""

    def wrap(self, inner: Step) -> Step:
        call = self.component.call

        def step(fn: Any, args: Any, kwargs: Any) -> Any:
            return call(inner, fn, args, kwargs)

        return step

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        call = self.component.call_async

        async def step(fn: Any, args: Any, kwargs: Any) -> Any:
            return await call(inner, fn, args, kwargs)

        return step


class RetryLayer(CallLayer):
    """Retries the rest of the chain as one attempt (``RetryPolicy``)."""

    name = "retry"

    def __init__(self, policy: object) -> None:
        if not isinstance(policy, RetryPolicy):
            raise ConfigError("retry", policy, "must be a RetryPolicy")
        self.component = policy


class BreakerLayer(CallLayer):
    """Records one outcome for each pass through it (``CircuitOpenError`` while it rejects).
    A breaker with its own ``fallback_function`` is refused: use the pipeline's ``fallback``,
    which runs outside every layer and never hides a failure from them."""

    name = "breaker"

    def __init__(self, breaker: object) -> None:
        if not isinstance(breaker, CircuitBreaker):
            raise ConfigError("breaker", breaker, "must be a resilience.CircuitBreaker")
        if breaker.config.fallback_function is not None:
            raise ConfigError(
                "breaker",
                breaker,
                "has a fallback_function, which would answer for an open circuit inside the "
                "chain: give the pipeline a fallback instead",
            )
        self.component = breaker


class PoolLayer(Layer):
    """Leases one resource for the rest of the chain and passes it to the operation as its
    first argument; the lease is returned however the chain ends. A ``ResourcePool`` serves
    ``execute`` and ``aexecute`` (sharing one core); an ``AsyncResourcePool`` only ``aexecute``,
    since its callbacks may be coroutines."""

    name = "pool"

    def __init__(self, pool: object) -> None:
        if isinstance(pool, ResourcePool):
            self.sync: ResourcePool[Any] | None = pool
            self.asynchronous: AsyncResourcePool[Any] = pool._sharing(AsyncResourcePool)
        elif isinstance(pool, AsyncResourcePool):
            self.sync, self.asynchronous = None, pool
            self.sync_ready = False
        else:
            raise ConfigError("pool", pool, "must be a ResourcePool or an AsyncResourcePool")
        self.component = pool

    def wrap(self, inner: Step) -> Step:
        assert self.sync is not None  # the pipeline checks sync_ready first
        lease = self.sync.lease

        def step(fn: Any, args: Any, kwargs: Any) -> Any:
            with lease() as resource:
                return inner(fn, (resource, *args), kwargs)

        return step

    def wrap_async(self, inner: AsyncStep) -> AsyncStep:
        lease = self.asynchronous.lease

        async def step(fn: Any, args: Any, kwargs: Any) -> Any:
            async with lease() as resource:
                return await inner(fn, (resource, *args), kwargs)

        return step
