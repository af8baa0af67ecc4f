"""Pipeline: construction errors, the order, the sync/async rules, the fallback and metrics."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from resilience import (
    DEFAULT_ORDER,
    AsyncBulkhead,
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    FallbackUsed,
    Pipeline,
    RateLimited,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)
from resilience.events import count_value


def boom(*_args: Any) -> None:
    raise ConnectionError("down")


def full_pipeline(**extra: Any) -> Pipeline:
    return Pipeline(
        rate_limiter=TokenBucket(100, 100),
        bulkhead=Bulkhead(2),
        retry=RetryPolicy(max_attempts=2, base_delay=0, max_delay=0),
        breaker=CircuitBreaker(failure_threshold=10, name="b"),
        pool=ResourcePool(lambda: "conn", size=1),
        **extra,
    )


# ---------------------------------------------------------------- construction


def test_default_order_keeps_only_the_layers_given() -> None:
    assert full_pipeline().order == DEFAULT_ORDER
    partial = Pipeline(breaker=CircuitBreaker(), retry=RetryPolicy())
    assert partial.order == ("retry", "breaker")
    assert repr(Pipeline()) == "<Pipeline 'pipeline' bare>"


# A refused order, component or operation, word for word: tests/unit/test_pipeline_messages.py.


def test_an_explicit_order_is_used_as_given() -> None:
    pipeline = Pipeline(retry=RetryPolicy(), breaker=CircuitBreaker(), order=["breaker", "retry"])
    assert pipeline.order == ("breaker", "retry")
    assert [layer.name for layer in pipeline.layers] == ["breaker", "retry"]


# ---------------------------------------------------------------- sync and async


def test_the_operation_receives_the_leased_resource_first() -> None:
    pipeline = full_pipeline()
    assert pipeline.execute(lambda conn, x, *, y: (conn, x, y), 1, y=2) == ("conn", 1, 2)


def test_aexecute_runs_sync_and_async_operations_and_fallbacks() -> None:
    async def fetch(conn: str) -> str:
        await asyncio.sleep(0)
        return conn.upper()

    async def async_fallback(error: Exception) -> str:
        return f"fallback for {type(error).__name__}"

    async def main() -> list[Any]:
        pipeline = full_pipeline(fallback=async_fallback)
        return [
            await pipeline.aexecute(fetch),
            await pipeline.aexecute(lambda conn: conn * 2),
            await pipeline.aexecute(boom),
        ]

    assert asyncio.run(main()) == ["CONN", "connconn", "fallback for ConnectionError"]


def test_one_bulkhead_serves_execute_and_aexecute_with_one_set_of_permits() -> None:
    for bulkhead in (Bulkhead(1), AsyncBulkhead(1)):
        pipeline = Pipeline(bulkhead=bulkhead)

        async def inside(pipeline: Pipeline = pipeline, bulkhead: Any = bulkhead) -> Any:
            # A permit is held by this task: a sync call from here finds none free.
            with pytest.raises(Exception, match="is full"):
                pipeline.execute(lambda: None)
            return bulkhead.status()["in_flight"]

        assert asyncio.run(pipeline.aexecute(inside)) == 1
        assert bulkhead.metrics() == {"admitted": 1, "rejected": 1, "finished": 1, "abandoned": 0}


def test_a_sync_pool_serves_aexecute_through_the_same_core() -> None:
    pool = ResourcePool(lambda: object(), size=1)
    pipeline = Pipeline(pool=pool)
    first = pipeline.execute(lambda r: r)
    assert asyncio.run(pipeline.aexecute(lambda r: r)) is first
    assert pool.metrics()["created"] == 1
    assert pool.metrics()["checked_in"] == 2


# ---------------------------------------------------------------- failure and fallback


def test_the_rate_limit_refusal_carries_the_limiters_retry_after() -> None:
    pipeline = Pipeline(rate_limiter=TokenBucket(1, 1, name="api"))
    pipeline.execute(lambda: None)
    with pytest.raises(RateLimited) as caught:
        pipeline.execute(lambda: None)
    assert caught.value.limiter == "api"
    assert 0 < caught.value.retry_after_ns <= 1_000_000_000
    assert pipeline.metrics()["pipeline"]["rate_limited"] == 1


def test_the_fallback_answers_after_every_layer_counted_the_failure() -> None:
    events: list[Any] = []
    pipeline = full_pipeline(fallback=lambda error: ("fallback", type(error).__name__))
    pipeline.subscribe(events.append)
    assert pipeline.execute(boom) == ("fallback", "ConnectionError")
    metrics = pipeline.metrics()
    assert metrics["pipeline"] == {
        "calls": 1,
        "succeeded": 0,
        "failed": 1,
        "interrupted": 0,
        "fell_back": 1,
        "fallback_failed": 0,
        "rate_limited": 0,
        "bulkhead_full": 0,
        "circuit_open": 0,
        "pool_timeout": 0,
    }
    assert metrics["breaker"]["calls_failed"] == 2  # one outcome per attempt
    assert metrics["retry"]["attempts"] == 2
    (used,) = [e for e in events if isinstance(e, FallbackUsed)]
    assert isinstance(used.error, ConnectionError)
    assert used.failed is False
    assert used.source == "pipeline"


def test_a_fallback_that_raises_propagates_chained_to_the_failure() -> None:
    def refuse(error: Exception) -> None:
        raise LookupError("no cached answer")

    pipeline = Pipeline(breaker=CircuitBreaker(), fallback=refuse)
    with pytest.raises(LookupError) as caught:
        pipeline.execute(boom)
    assert isinstance(caught.value.__context__, ConnectionError)
    counts = pipeline.metrics()["pipeline"]
    assert (counts["failed"], counts["fell_back"], counts["fallback_failed"]) == (1, 0, 1)


def test_an_open_circuit_stops_the_retries_at_once() -> None:
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60)
    pipeline = Pipeline(
        retry=RetryPolicy(max_attempts=5, base_delay=0, max_delay=0), breaker=breaker
    )
    calls = itertools.count()

    def failing() -> None:
        next(calls)
        raise ConnectionError

    with pytest.raises(CircuitOpenError):  # the first attempt opened it; the second is refused
        pipeline.execute(failing)
    assert next(calls) == 1
    assert pipeline.metrics()["retry"]["attempts"] == 2
    assert pipeline.metrics()["breaker"]["calls_rejected"] == 1


def test_cancellation_is_counted_as_interrupted_and_never_falls_back() -> None:
    async def main() -> None:
        pipeline = Pipeline(fallback=lambda _e: "fallback")
        task = asyncio.ensure_future(pipeline.aexecute(asyncio.sleep, 10))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pipeline.metrics()["pipeline"]["interrupted"] == 1
        assert pipeline.metrics()["pipeline"]["fell_back"] == 0

    asyncio.run(main())


def test_count_value_reads_an_itertools_counter() -> None:
    counter = itertools.count()
    for _ in range(12):
        next(counter)
    assert count_value(counter) == 12


def test_execute_refuses_a_fallback_answer_it_cannot_await() -> None:
    """A plain fallback that returns a coroutine: execute cannot await it, so it says so (the
    failure still counted, the fallback counted as failed) instead of returning the coroutine."""

    async def later() -> str:
        return "too late"

    pipeline = Pipeline(fallback=lambda _error: later())
    with pytest.raises(TypeError, match="only aexecute can await it") as caught:
        pipeline.execute(boom)
    assert isinstance(caught.value.__cause__, ConnectionError)
    counts = pipeline.metrics()["pipeline"]
    assert (counts["failed"], counts["fell_back"], counts["fallback_failed"]) == (1, 0, 1)
    assert asyncio.run(pipeline.aexecute(boom)) == "too late"
    assert pipeline.metrics()["pipeline"]["fell_back"] == 1
