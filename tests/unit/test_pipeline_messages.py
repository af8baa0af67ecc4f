"""The messages a pipeline's user reads, word for word, in one place: why a construction was
refused (each ``ConfigError``'s rule), why ``execute`` or ``aexecute`` will not run an
operation (each ``TypeError``), and the pipeline's repr. A change of wording is an edit of these
tables."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from resilience import (
    AsyncResourcePool,
    Bulkhead,
    CircuitBreaker,
    ConfigError,
    KeyedLimiter,
    Pipeline,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)
from tests.refusals import assert_refused

LIMITER_RULE = (
    "must be a RateLimiter (TokenBucket, GCRA, FixedWindow, SlidingWindowLog, "
    "SlidingWindowCounter); a KeyedLimiter needs a key per call"
)
LAYERS = "('rate_limit', 'bulkhead', 'retry', 'breaker', 'pool')"
BREAKER_FALLBACK_RULE = (
    "has a fallback_function, which would answer for an open circuit inside the chain: give "
    "the pipeline a fallback instead"
)


def _retry_and_breaker(**extra: Any) -> dict[str, Any]:
    return {"retry": RetryPolicy(), "breaker": CircuitBreaker(), **extra}


#: (keyword arguments of Pipeline, the field refused, its rule word for word)
REFUSALS = [
    pytest.param({"rate_limiter": object()}, "rate_limiter", LIMITER_RULE, id="limiter-object"),
    pytest.param(
        {"rate_limiter": KeyedLimiter(lambda: TokenBucket(1, 1))},
        "rate_limiter",
        LIMITER_RULE,
        id="limiter-keyed",
    ),
    pytest.param(
        {"rate_limiter": TokenBucket(2, 1), "rate_limit_cost": 3},
        "rate_limit_cost",
        "exceeds the limiter's capacity 2",
        id="cost-above-capacity",
    ),
    pytest.param(
        {"rate_limiter": TokenBucket(2, 1), "rate_limit_cost": True},
        "rate_limit_cost",
        "must be an integer >= 1",
        id="cost-bool",
    ),
    pytest.param(
        {"rate_limiter": TokenBucket(2, 1), "rate_limit_wait": -1},
        "rate_limit_wait",
        "must be a finite number of seconds >= 0 (or a timedelta)",
        id="wait-negative",
    ),
    pytest.param(
        {"rate_limiter": TokenBucket(2, 1), "rate_limit_wait": 1e-10},
        "rate_limit_wait",
        "must be 0 or at least one nanosecond",
        id="wait-below-a-nanosecond",
    ),
    pytest.param(
        {"rate_limit_cost": 2},
        "rate_limit_cost",
        "applies only together with a rate_limiter",
        id="cost-without-limiter",
    ),
    pytest.param(
        {"rate_limit_wait": 2},
        "rate_limit_wait",
        "applies only together with a rate_limiter",
        id="wait-without-limiter",
    ),
    pytest.param(
        {"rate_limit_wait": None},
        "rate_limit_wait",
        "applies only together with a rate_limiter",
        id="unlimited-wait-without-limiter",
    ),
    pytest.param(
        {"bulkhead": 3}, "bulkhead", "must be a Bulkhead or an AsyncBulkhead", id="bulkhead"
    ),
    pytest.param({"retry": 3}, "retry", "must be a RetryPolicy", id="retry"),
    pytest.param(
        {"breaker": object()}, "breaker", "must be a resilience.CircuitBreaker", id="breaker"
    ),
    pytest.param(
        {"breaker": CircuitBreaker(fallback_function=lambda: 1)},
        "breaker",
        BREAKER_FALLBACK_RULE,
        id="breaker-with-fallback",
    ),
    pytest.param(
        {"pool": object()}, "pool", "must be a ResourcePool or an AsyncResourcePool", id="pool"
    ),
    pytest.param(
        {"fallback": "not callable"},
        "fallback",
        "must be callable (it receives the error)",
        id="fallback",
    ),
    pytest.param({"name": 3}, "name", "must be a string", id="name"),
    pytest.param(
        {"clock": 3},
        "clock",
        "must be a Clock instance (monotonic_ns, monotonic, sleep)",
        id="clock",
    ),
    pytest.param(
        _retry_and_breaker(order="retry"),
        "order",
        f"must be a list of layer names from {LAYERS}",
        id="order-string",
    ),
    pytest.param(
        _retry_and_breaker(order=3),
        "order",
        f"must be a list of layer names from {LAYERS}",
        id="order-not-iterable",
    ),
    pytest.param(
        _retry_and_breaker(order=["retry", "breaker", "cache"]),
        "order",
        f"'cache' is not a layer; layers: {LAYERS}",
        id="order-unknown-layer",
    ),
    pytest.param(
        _retry_and_breaker(order=["retry", "breaker", "pool"]),
        "order",
        "names 'pool', but no pool is configured",
        id="order-absent-layer",
    ),
    pytest.param(
        _retry_and_breaker(order=["retry", "retry", "breaker"]),
        "order",
        "names a layer twice",
        id="order-twice",
    ),
    pytest.param(
        _retry_and_breaker(order=["retry"]),
        "order",
        "leaves out the configured breaker",
        id="order-leaves-out-one",
    ),
    pytest.param(
        _retry_and_breaker(bulkhead=Bulkhead(1), order=["retry"]),
        "order",
        "leaves out the configured bulkhead, breaker",
        id="order-leaves-out-two",
    ),
]


@pytest.mark.parametrize(("kwargs", "field", "rule"), REFUSALS)
def test_a_refused_construction_says_which_field_and_why(
    kwargs: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Pipeline(**kwargs)
    assert_refused(caught.value, field, kwargs[field])
    assert caught.value.rule == rule


async def _coroutine_function() -> None: ...


async def _async_fallback(_error: Exception) -> None: ...


async def _async_generator_fallback(_error: Exception) -> AsyncIterator[None]:
    yield None


_PARTIAL = functools.partial(_coroutine_function)


#: (Pipeline's keyword arguments, operation, the TypeError's message word for word) for execute;
#: every pipeline is built inside its test
EXECUTE_REFUSALS = [
    pytest.param({}, 3, "the operation must be callable, not 3", id="not-callable"),
    pytest.param(
        {},
        _coroutine_function,
        f"{_coroutine_function!r} is an async function: use aexecute",
        id="coroutine-function",
    ),
    pytest.param(
        {},
        _PARTIAL,
        f"{_PARTIAL!r} is an async function: use aexecute",
        id="partial-of-a-coroutine-function",
    ),
    pytest.param(
        {"pool": AsyncResourcePool(lambda: 1, size=1)},
        lambda r: r,
        "<Pipeline 'pipeline' pool>: its pool is an AsyncResourcePool, so only aexecute can run it",
        id="async-pool",
    ),
    pytest.param(
        {"fallback": _async_fallback, "name": "api"},
        lambda: 1,
        "<Pipeline 'api' bare>: its fallback is async, so only aexecute can run it",
        id="async-fallback",
    ),
    pytest.param(
        {"fallback": _async_generator_fallback},
        lambda: 1,
        "<Pipeline 'pipeline' bare>: its fallback is async, so only aexecute can run it",
        id="async-generator-fallback",
    ),
    pytest.param(
        {"fallback": functools.partial(_async_fallback)},
        lambda: 1,
        "<Pipeline 'pipeline' bare>: its fallback is async, so only aexecute can run it",
        id="partial-of-an-async-fallback",
    ),
]


@pytest.mark.parametrize(("kwargs", "operation", "message"), EXECUTE_REFUSALS)
def test_execute_says_why_it_will_not_run_an_operation(
    kwargs: dict[str, Any], operation: Any, message: str
) -> None:
    pipeline = Pipeline(**kwargs)
    with pytest.raises(TypeError) as caught:
        pipeline.execute(operation)
    assert str(caught.value) == message
    assert pipeline.metrics()["pipeline"]["calls"] == 0


def test_aexecute_says_why_it_will_not_run_an_operation() -> None:
    pipeline = Pipeline()
    with pytest.raises(TypeError) as caught:
        asyncio.run(pipeline.aexecute(3))  # type: ignore[arg-type]
    assert str(caught.value) == "the operation must be callable, not 3"
    assert pipeline.metrics()["pipeline"]["calls"] == 0


def test_execute_says_why_it_will_not_return_the_fallbacks_awaitable() -> None:
    async def later() -> str:
        return "too late"

    pipeline = Pipeline(fallback=lambda _error: later(), name="api")
    with pytest.raises(TypeError) as caught:
        pipeline.execute(lambda: 1 / 0)
    assert str(caught.value) == (
        "<Pipeline 'api' bare>: the fallback returned an awaitable; only aexecute can await it"
    )


#: (Pipeline's keyword arguments, its repr word for word): the name and the layers, outermost
#: first
REPRS = [
    pytest.param({}, "<Pipeline 'pipeline' bare>", id="bare"),
    pytest.param({"retry": RetryPolicy(), "name": "api"}, "<Pipeline 'api' retry>", id="one"),
    pytest.param(
        _retry_and_breaker(order=["breaker", "retry"]),
        "<Pipeline 'pipeline' breaker -> retry>",
        id="two",
    ),
    pytest.param(
        {
            "rate_limiter": TokenBucket(1, 1),
            "bulkhead": Bulkhead(1),
            "retry": RetryPolicy(),
            "breaker": CircuitBreaker(),
            "pool": ResourcePool(lambda: 1, size=1),
        },
        "<Pipeline 'pipeline' rate_limit -> bulkhead -> retry -> breaker -> pool>",
        id="all",
    ),
]


@pytest.mark.parametrize(("kwargs", "text"), REPRS)
def test_the_repr_names_the_pipeline_and_its_layers_in_order(
    kwargs: dict[str, Any], text: str
) -> None:
    assert repr(Pipeline(**kwargs)) == text
