"""The exception hierarchy: everything we raise derives from ``ResilienceError``."""

from __future__ import annotations

import math
from typing import Any

from circuitbreaker import CircuitBreakerError

__all__ = [
    "BulkheadFull",
    "CircuitOpenError",
    "ConfigError",
    "PoolClosed",
    "PoolError",
    "PoolTimeout",
    "RateLimited",
    "ResilienceError",
]


class ResilienceError(Exception):
    """Root of every error this library raises on its own account."""


class ConfigError(ResilienceError, ValueError):
    """Invalid configuration, raised at construction, naming the field, the value and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}={value!r} is invalid: {rule}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.value, self.rule))


class CircuitOpenError(ResilienceError, CircuitBreakerError):
    """A call was rejected because the circuit is open (or half-open with every probe slot taken).

    ``retry_after`` is the number of seconds until the breaker will admit a probe: positive while
    open, ``0.0`` when half-open and full (a slot frees as soon as a probe finishes), ``math.inf``
    when the breaker was forced open and stays so until ``reset()``.
    """

    def __init__(self, breaker: Any, *, state: str, retry_after: float) -> None:
        # The base class keeps a reference to the breaker and formats its message lazily from the
        # breaker's *current* state; ours is a snapshot taken when the call was rejected.
        super().__init__(breaker)
        self.breaker_name: str = str(breaker)
        self.state = state
        self.retry_after = retry_after
        if math.isinf(retry_after):
            when = "until reset()"
        elif retry_after > 0:
            when = f"retry after {retry_after:.6g} s"
        else:
            when = "every probe slot is taken"
        self._message = f'circuit "{self.breaker_name}" is {state}: {when}'

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickles without the breaker (which holds locks): the snapshot is what travels.
        return (_rebuild_open_error, (self.breaker_name, self.state, self.retry_after))


def _rebuild_open_error(name: str, state: str, retry_after: float) -> CircuitOpenError:
    return CircuitOpenError(name, state=state, retry_after=retry_after)


class RateLimited(ResilienceError):
    """A rate limiter refused a request and waiting for it would exceed the caller's timeout.

    ``retry_after`` is the number of seconds after which the same request (with no other traffic)
    would be admitted, as the limiter computed it when it gave up; ``retry_after_ns`` is the exact
    integer it was computed from.
    """

    def __init__(
        self, limiter: str, *, retry_after_ns: int, cost: int = 1, key: object = None
    ) -> None:
        self.limiter = limiter
        self.retry_after_ns = retry_after_ns
        self.retry_after = retry_after_ns / 1_000_000_000
        self.cost = cost
        self.key = key
        where = f'"{limiter}"' if key is None else f'"{limiter}" for key {key!r}'
        super().__init__(
            f"rate limit {where} exceeded (cost {cost}): retry after {self.retry_after:.9g} s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_rate_limited, (self.limiter, self.retry_after_ns, self.cost, self.key))


def _rebuild_rate_limited(limiter: str, retry_after_ns: int, cost: int, key: object) -> RateLimited:
    return RateLimited(limiter, retry_after_ns=retry_after_ns, cost=cost, key=key)


class PoolError(ResilienceError):
    """A resource pool was used wrongly: a double check-in, a check-in of a resource the pool
    did not lend (or already destroyed), or a factory returning a resource the pool holds."""


class PoolClosed(PoolError):
    """The pool is closed: no checkout succeeds after ``close()`` (nor one in progress then)."""


class PoolTimeout(PoolError, TimeoutError):
    """No resource became available within the checkout's timeout.

    Carries the pool's ``size``, ``max_overflow`` and the ``timeout`` (seconds) that ran out.
    """

    def __init__(self, pool: str, *, size: int, max_overflow: int, timeout: float) -> None:
        self.pool = pool
        self.size = size
        self.max_overflow = max_overflow
        self.timeout = timeout
        super().__init__(
            f'pool "{pool}" exhausted: all {size + max_overflow} resources in use '
            f"(size={size}, max_overflow={max_overflow}); none came free within "
            f"timeout={timeout:.9g} s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_pool_timeout, (self.pool, self.size, self.max_overflow, self.timeout))


def _rebuild_pool_timeout(pool: str, size: int, max_overflow: int, timeout: float) -> PoolTimeout:
    return PoolTimeout(pool, size=size, max_overflow=max_overflow, timeout=timeout)


class BulkheadFull(ResilienceError):
    """A bulkhead had no free permit, and none came free within the call's ``max_wait``.

    Carries the bulkhead's name, its ``max_concurrent`` and the ``max_wait`` (seconds; 0 for a
    call that was not allowed to wait) that ran out.
    """

    def __init__(self, bulkhead: str, *, max_concurrent: int, max_wait: float) -> None:
        self.bulkhead = bulkhead
        self.max_concurrent = max_concurrent
        self.max_wait = max_wait
        super().__init__(
            f'bulkhead "{bulkhead}" is full: all {max_concurrent} permits in use; '
            f"none came free within max_wait={max_wait:.9g} s"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_bulkhead_full, (self.bulkhead, self.max_concurrent, self.max_wait))


def _rebuild_bulkhead_full(bulkhead: str, max_concurrent: int, max_wait: float) -> BulkheadFull:
    return BulkheadFull(bulkhead, max_concurrent=max_concurrent, max_wait=max_wait)
