"""``Pipeline``: a rate limiter, a bulkhead, a retry policy, a breaker and a pool lease around
one operation, in a documented order, with an optional fallback outside all of them.

The default order, outermost first, is ``rate_limit -> bulkhead -> retry -> breaker -> pool``:

* the limiter is charged once per logical call, and a refusal is never retried;
* the bulkhead permit is held for the whole call, back-off sleeps included;
* each attempt passes the breaker once, so the breaker records exactly one outcome per attempt,
  and an open circuit's ``CircuitOpenError`` stops the retries (it is never retried);
* nothing reaches the pool or the operation while the breaker rejects; each attempt leases its
  own resource and returns it however the attempt ends.

Any other order is allowed when asked for by name (``order=[...]``); the README says what each
one means. The fallback, if any, receives the final exception after every layer has counted it,
so a fallback never hides a failure from the breaker, the retry policy or the metrics.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Callable, Iterable
from types import FunctionType
from typing import Any, ClassVar, TypeVar

from resilience.chain.layers import (
    AsyncStep,
    BreakerLayer,
    BulkheadLayer,
    Layer,
    PoolLayer,
    RateLimitLayer,
    RetryLayer,
    Step,
    invoke,
    invoke_async,
)
from resilience.errors import BulkheadFull, CircuitOpenError, ConfigError, PoolTimeout, RateLimited
from resilience.events import FallbackUsed, Listener, Listeners, count_value
from resilience.validation import checked_clock, checked_name

__all__ = ["DEFAULT_ORDER", "Pipeline"]

T = TypeVar("T")

#: The layers' names, outermost first, in the default order.
DEFAULT_ORDER = ("rate_limit", "bulkhead", "retry", "breaker", "pool")

# Which final errors metrics() counts apart (the first matching class wins).
_REFUSALS = (
    (RateLimited, "rate_limited"),
    (BulkheadFull, "bulkhead_full"),
    (CircuitOpenError, "circuit_open"),
    (PoolTimeout, "pool_timeout"),
)
_COUNTERS = ("failed", "interrupted", "fell_back", "fallback_failed", *(n for _, n in _REFUSALS))

_CO_COROUTINE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _is_async_function(fn: object) -> bool:
    code = getattr(fn, "__code__", None)
    if code is not None:
        return bool(code.co_flags & _CO_COROUTINE)
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an instance with an async __call__
    )


def _not_for_execute(fn: object) -> bool:
    """Whether ``execute`` must refuse ``fn``: not callable, or async. A plain function (the
    common case) costs one type test and one bit test. (Any object may carry a ``__code__``:
    only a function's is trusted.)"""
    if type(fn) is FunctionType:
        return bool(fn.__code__.co_flags & _CO_COROUTINE)
    return not callable(fn) or _is_async_function(fn)


def _discard(awaitable: object) -> None:
    """Close an awaitable that will never be awaited (no "never awaited" warning)."""
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _checked_order(
    order: object, present: dict[str, Layer], default: tuple[str, ...]
) -> tuple[str, ...]:
    if order is None:
        return tuple(name for name in default if name in present)
    if isinstance(order, str) or not isinstance(order, Iterable):
        raise ConfigError("order", order, f"must be a list of layer names from {DEFAULT_ORDER}")
    names = tuple(order)
    for name in names:
        if name not in DEFAULT_ORDER:
            raise ConfigError("order", order, f"{name!r} is not a layer; layers: {DEFAULT_ORDER}")
        if name not in present:
            raise ConfigError("order", order, f"names {name!r}, but no {name} is configured")
    if len(set(names)) != len(names):
        raise ConfigError("order", order, "names a layer twice")
    missing = [name for name in DEFAULT_ORDER if name in present and name not in names]
    if missing:
        raise ConfigError("order", order, f"leaves out the configured {', '.join(missing)}")
    return names


class Pipeline:
    """Protections composed around an operation: ``pipeline.execute(fn, *args, **kwargs)`` or
    ``await pipeline.aexecute(fn, ...)``.

    Every component is optional. With a pool, the operation receives the leased resource as its
    first argument. ``fallback(error)`` answers for a call that ended with an ``Exception``
    (never for cancellation); what it returns is the call's result, what it raises propagates.
    ``rate_limit_cost`` units are charged per pass; ``rate_limit_wait`` seconds may be waited
    for them (0, the default: refuse at once with ``RateLimited``; ``None``: no limit).
    """

    #: The class of each layer, and the order used when none is given (planted variants in the
    #: property suite replace one or the other).
    layer_types: ClassVar[dict[str, Any]] = {
        "rate_limit": RateLimitLayer,
        "bulkhead": BulkheadLayer,
        "retry": RetryLayer,
        "breaker": BreakerLayer,
        "pool": PoolLayer,
    }
    default_order: ClassVar[tuple[str, ...]] = DEFAULT_ORDER

    def __init__(
        self,
        *,
        rate_limiter: object = None,
        bulkhead: object = None,
        retry: object = None,
        breaker: object = None,
        pool: object = None,
        fallback: Callable[[Exception], Any] | None = None,
        order: Iterable[str] | None = None,
        rate_limit_cost: object = 1,
        rate_limit_wait: object = 0,
        name: str | None = None,
        clock: object = None,
    ) -> None:
        types = self.layer_types
        present: dict[str, Layer] = {}
        if rate_limiter is not None:
            present["rate_limit"] = types["rate_limit"](
                rate_limiter, cost=rate_limit_cost, wait=rate_limit_wait
            )
        elif rate_limit_cost != 1 or rate_limit_wait != 0:
            given = "rate_limit_cost" if rate_limit_cost != 1 else "rate_limit_wait"
            value = rate_limit_cost if rate_limit_cost != 1 else rate_limit_wait
            raise ConfigError(given, value, "applies only together with a rate_limiter")
        for layer, component in (
            ("bulkhead", bulkhead),
            ("retry", retry),
            ("breaker", breaker),
            ("pool", pool),
        ):
            if component is not None:
                present[layer] = types[layer](component)
        if fallback is not None and not callable(fallback):
            raise ConfigError("fallback", fallback, "must be callable (it receives the error)")
        self.name = checked_name(name, "pipeline")
        self.order = _checked_order(order, present, self.default_order)
        self.layers = tuple(present[name] for name in self.order)
        self.fallback = fallback
        self._fallback_async = fallback is not None and _is_async_function(fallback)
        self._clock = checked_clock(clock)
        self._listeners = Listeners(self)
        self._lock = threading.Lock()
        self._succeeded = itertools.count()  # next() is atomic under the GIL: no lock on success
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._step = self._compose()
        self._astep = self._compose_async()

    def _compose(self, innermost: Step = invoke) -> Step | None:
        if not all(layer.sync_ready for layer in self.layers):
            return None
        step = innermost
        for layer in reversed(self.layers):
            step = layer.wrap(step)
        return step

    def _compose_async(self, innermost: AsyncStep = invoke_async) -> AsyncStep:
        step = innermost
        for layer in reversed(self.layers):
            step = layer.wrap_async(step)
        return step

    # ---------------------------------------------------------------- entry points

    def execute(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` through every layer (``fn(resource, *args, **kwargs)``
        with a pool); its result, the fallback's answer, or the final exception."""
        step = self._step
        if step is None or self._fallback_async or _not_for_execute(fn):
            raise TypeError(self._why_not_sync(fn))
        try:
            result: T = step(fn, args, kwargs)
        except Exception as error:
            if self.fallback is None:
                self._count_failure(error)
                raise
            answer = self._fall_back(error)
            if inspect.isawaitable(answer):
                _discard(answer)
                self._fallback_done(error, failed=True)
                raise TypeError(
                    f"{self!r}: the fallback returned an awaitable; only aexecute can await it"
                ) from error
            self._fallback_done(error, failed=False)
            return answer  # type: ignore[no-any-return]
        except BaseException:
            self._count("interrupted")
            raise
        next(self._succeeded)
        return result

    async def aexecute(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``execute`` for asyncio: ``fn`` may be a coroutine function or a plain one (its result
        is awaited if it is awaitable), and so may the fallback."""
        if not callable(fn):
            raise TypeError(f"the operation must be callable, not {fn!r}")
        try:
            result = await self._astep(fn, args, kwargs)
        except Exception as error:
            if self.fallback is None:
                self._count_failure(error)
                raise
            answer = self._fall_back(error)
            if inspect.isawaitable(answer):
                try:
                    answer = await answer
                except Exception:
                    self._fallback_done(error, failed=True)
                    raise
            self._fallback_done(error, failed=False)
            return answer
        except BaseException:
            self._count("interrupted")
            raise
        next(self._succeeded)
        return result

    def _why_not_sync(self, fn: object) -> str:
        if not callable(fn):
            return f"the operation must be callable, not {fn!r}"
        if self._step is None:
            return f"{self!r}: its pool is an AsyncResourcePool, so only aexecute can run it"
        if self._fallback_async:
            return f"{self!r}: its fallback is async, so only aexecute can run it"
        return f"{fn!r} is an async function: use aexecute"

    # ---------------------------------------------------------------- failure and fallback

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _count_failure(self, error: Exception) -> None:
        with self._lock:
            self._counts["failed"] += 1
            for kind, name in _REFUSALS:
                if isinstance(error, kind):
                    self._counts[name] += 1
                    break

    def _fall_back(self, error: Exception) -> Any:
        """What the fallback answers for ``error`` (counted as a failure first): its value, or
        an awaitable for the caller to await. A fallback that raises is counted and propagates
        (chained to ``error``, which is being handled)."""
        self._count_failure(error)
        assert self.fallback is not None
        try:
            return self.fallback(error)
        except Exception:
            self._fallback_done(error, failed=True)
            raise

    def _fallback_done(self, error: Exception, *, failed: bool) -> None:
        with self._lock:
            self._counts["fallback_failed" if failed else "fell_back"] += 1
            if self._listeners.active:
                now = self._clock.monotonic_ns()
                self._listeners.enqueue((FallbackUsed(self.name, now, error, failed),))
        self._listeners.deliver()

    # ---------------------------------------------------------------- observation

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for the events of the pipeline (``FallbackUsed``) and of
        every component in it; returns one function that unsubscribes from all of them."""
        unsubscribers = [self._listeners.subscribe(listener)]
        unsubscribers += [layer.component.subscribe(listener) for layer in self.layers]

        def unsubscribe() -> None:
            for undo in unsubscribers:
                undo()

        return unsubscribe

    def metrics(self) -> dict[str, dict[str, int]]:
        """``{"pipeline": {...}, "<layer>": component.metrics(), ...}``. The pipeline's own:
        ``calls`` finished, ``succeeded``, ``failed`` (ended with an exception, whether or not the
        fallback answered), that exception's kind (``rate_limited``, ``bulkhead_full``,
        ``circuit_open``, ``pool_timeout``), ``interrupted`` (cancelled or interrupted), and the
        fallback's ``fell_back`` / ``fallback_failed``."""
        with self._lock:
            own = dict(self._counts)
            own["succeeded"] = count_value(self._succeeded)
        own["calls"] = own["succeeded"] + own["failed"] + own["interrupted"]
        snapshot = {"pipeline": own}
        for layer in self.layers:
            snapshot[layer.name] = layer.component.metrics()
        return snapshot

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r} {' -> '.join(self.order) or 'bare'}>"
