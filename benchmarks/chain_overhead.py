"""Cost of a Pipeline call that succeeds at once, as a ratio to a bare function call: each layer
alone, all five, the same five nested by hand, and ``aexecute`` against a bare ``await``.

    python benchmarks/chain_overhead.py [--number N] [--repeat R] [--quick]

Every component is on its success path and never waits: a ``TokenBucket`` refilled far faster
than calls drain it, a ``Bulkhead`` with permits to spare, a ``RetryPolicy`` whose first attempt
succeeds, a closed ``CircuitBreaker``, a ``ResourcePool`` with an idle resource (pre-warmed by
one use). Each row has its own components, so its counters can be checked after the timing.

Rows, each the statement a user writes compiled inline into ``timeit``'s loop (the bare call
``f()`` included, so no row pays for a wrapper frame of ours):

* ``pipeline.execute(f)`` with no layer, with each layer alone, and with all five in the
  default order (rate_limit -> bulkhead -> retry -> breaker -> pool; with a pool the operation
  receives the resource: ``g(r)``);
* next to each, the component used directly (``limiter.try_acquire()``, ``with
  bulkhead.permit()``, ``policy.call(f)``, ``breaker.call(f)``, ``with pool.lease() as r``),
  and the five nested by hand without a Pipeline;
* ``await pipeline.aexecute(g_async)`` with all five, against a bare ``await g_async(r)``,
  timed inside one coroutine per round on a running loop (nothing suspends).

Each figure is the best of R rounds of N calls (the minimum is the least disturbed measurement);
every round times every row, so drift during the run cannot favour one row. Ratios carry between
machines, absolute times do not; compare ratios across several runs. After the timing every
component must show exactly the calls made and nothing refused, retried, failed or in use.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import platform
import sys
import time
import timeit
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from resilience import (
    Bulkhead,
    CircuitBreaker,
    Pipeline,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)

BARE = "bare call f()"
ASYNC_BARE = "bare await g_async(r) †"
# The token bucket of benchmarks/ratelimit_overhead.py: refilled one token per nanosecond, far
# faster than calls drain it, and small enough that ``remaining`` stays below the decisions the
# limiter keeps ready-made (a huge bucket builds a new Decision per call: ~100-200 ns more).
CAPACITY, REFILL = 1000, 10**9


def f() -> int:
    return 1


def g(resource: object) -> int:
    return 1


async def g_async(resource: object) -> int:
    return 1


class Resource:
    __slots__ = ()


def components() -> dict[str, Any]:
    """A fresh set of the five, on their success paths."""
    pool: ResourcePool[Resource] = ResourcePool(Resource, size=4)
    with pool.lease():  # the warm-up: one idle resource from now on
        pass
    return {
        "limiter": TokenBucket(CAPACITY, REFILL),
        "bulkhead": Bulkhead(4),
        "retry": RetryPolicy(max_attempts=3, base_delay=0.001),
        "breaker": CircuitBreaker(),
        "pool": pool,
    }


ARGUMENT = {"limiter": "rate_limiter"}  # Pipeline's keyword for each component, where it differs


@dataclass
class Row:
    """One line of the table: ``run(n)`` makes ``n`` calls and returns the seconds they took.
    ``parts`` are the components it drives (checked after the timing), ``pipeline`` its
    Pipeline if any; ``uses`` counts the timed calls."""

    name: str
    run: Callable[[int], float]
    parts: dict[str, Any] = field(default_factory=dict)
    pipeline: Pipeline | None = None
    uses: int = 0


def statement(stmt: str, **namespace: object) -> Callable[[int], float]:
    """``stmt`` compiled inline into ``timeit``'s loop: no wrapper frame around the call."""
    return timeit.Timer(stmt, globals=namespace).timeit


def pipeline_row(name: str, *layers: str) -> Row:
    parts = {key: value for key, value in components().items() if key in layers}
    pipeline = Pipeline(**{ARGUMENT.get(key, key): value for key, value in parts.items()})
    operation = g if "pool" in parts else f
    return Row(
        name, statement("pipeline.execute(op)", pipeline=pipeline, op=operation), parts, pipeline
    )


def direct_row(name: str, layer: str, stmt: str) -> Row:
    parts = {layer: components()[layer]}
    return Row(name, statement(stmt, f=f, g=g, **parts), parts)


def by_hand_row() -> Row:
    """The five nested by hand, in the default order, as a user would write them without a
    Pipeline (``leased`` is the innermost function the breaker and the retry policy call)."""
    parts = components()
    pool = parts["pool"]

    def leased() -> int:
        with pool.lease() as r:
            return g(r)

    stmt = (
        "if limiter.try_acquire()[0]:\n"
        "    with bulkhead.permit():\n"
        "        retry.call(breaker.call, leased)\n"
    )
    return Row(
        "all five nested by hand, no Pipeline", statement(stmt, leased=leased, **parts), parts
    )


def async_rows(loop: asyncio.AbstractEventLoop) -> list[Row]:
    """Timed inside one coroutine per round (the garbage collector off, as ``timeit`` does), so
    no loop iteration is paid per call."""

    def timer(call: Callable[[], Any]) -> Callable[[int], float]:
        async def calls(number: int) -> float:
            enabled = gc.isenabled()
            gc.disable()
            try:
                started = time.perf_counter()
                for _ in itertools.repeat(None, number):
                    await call()
                return time.perf_counter() - started
            finally:
                if enabled:
                    gc.enable()

        return lambda number: loop.run_until_complete(calls(number))

    resource = Resource()
    parts = components()
    pipeline = Pipeline(**{ARGUMENT.get(key, key): value for key, value in parts.items()})
    loop.run_until_complete(pipeline.aexecute(g_async))  # the warm-up of the async front
    return [
        Row(ASYNC_BARE, timer(lambda: g_async(resource))),
        Row(
            "await pipeline.aexecute(g_async), all five †",
            timer(lambda: pipeline.aexecute(g_async)),
            parts,
            pipeline,
            uses=1,
        ),
    ]


# (row name, the layer alone in a Pipeline, the direct statement for that component)
LAYERS = (
    ("rate limit (TokenBucket)", "limiter", "if limiter.try_acquire()[0]: f()"),
    ("bulkhead", "bulkhead", "with bulkhead.permit(): f()"),
    ("retry", "retry", "retry.call(f)"),
    ("breaker", "breaker", "breaker.call(f)"),
    ("pool lease", "pool", "with pool.lease() as r: g(r)"),
)


def candidates(loop: asyncio.AbstractEventLoop) -> list[Row]:
    rows = [
        Row(BARE, statement("f()", f=f)),
        pipeline_row("Pipeline(), no layer"),
    ]
    for name, layer, stmt in LAYERS:
        rows.append(pipeline_row(f"Pipeline: {name} alone", layer))
        rows.append(direct_row(f"  direct: {stmt}", layer, stmt))
    rows.append(
        pipeline_row("Pipeline: all five", "limiter", "bulkhead", "retry", "breaker", "pool")
    )
    rows.append(by_hand_row())
    return rows + async_rows(loop)


def problems(found: Mapping[str, object], expected: Mapping[str, object]) -> str | None:
    wrong = [
        f"{key}={found.get(key)!r} (expected {want!r})"
        for key, want in expected.items()
        if found.get(key) != want
    ]
    return ", ".join(wrong) or None


def check(row: Row) -> str | None:
    """Every component counted exactly the timed calls (+ the warm-ups), on its success path."""
    calls = row.uses
    expected: dict[str, dict[str, object]] = {
        "limiter": {"admitted": calls, "rejected": 0},
        "bulkhead": {"admitted": calls, "finished": calls, "rejected": 0},
        "retry": {"calls": calls, "attempts": calls, "successes": calls, "retries": 0},
        "breaker": {"calls_succeeded": calls, "calls_failed": 0, "calls_rejected": 0},
        "pool": {"checked_out": calls + 1, "checked_in": calls + 1, "created": 1},
    }
    for key, component in row.parts.items():
        wrong = problems(component.metrics(), expected[key])
        if wrong:
            return f"{key}: {wrong}"
    if "pool" in row.parts and row.parts["pool"].status()["in_use"]:
        return "a lease was not returned"
    if row.pipeline is not None:
        own = row.pipeline.metrics()["pipeline"]
        return problems(own, {"calls": calls, "succeeded": calls, "failed": 0})
    return None


def time_rows(rows: list[Row], number: int, repeat: int) -> dict[str, float]:
    """Seconds per call for every row, best of ``repeat`` rounds; each round times every row
    once, the bare calls included, so drift moves all of them alike."""
    best = dict.fromkeys((row.name for row in rows), float("inf"))
    for _ in range(repeat):
        for row in rows:
            best[row.name] = min(best[row.name], row.run(number) / number)
            row.uses += number
    for row in rows:
        wrong = check(row)
        if wrong is not None:
            sys.exit(f"{row.name}: after {row.uses} timed calls: {wrong}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per round")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; the best is kept")
    parser.add_argument("--quick", action="store_true", help="a rougher run: 3 x 20000 calls")
    args = parser.parse_args()
    if args.quick:
        args.number, args.repeat = 20_000, 3
    if args.number < 1 or args.repeat < 1:
        parser.error("--number and --repeat must be >= 1")

    loop = asyncio.new_event_loop()
    try:
        timings = time_rows(candidates(loop), args.number, args.repeat)
    finally:
        loop.close()
    bare, async_bare = timings[BARE], timings[ASYNC_BARE]
    print(
        f"# success path, one thread, {platform.python_implementation()} "
        f"{platform.python_version()} on {platform.machine()}"
    )
    print(
        f"# best of {args.repeat} interleaved rounds of {args.number} calls per row; "
        f"bare call = {bare * 1e9:.1f} ns, bare await = {async_bare * 1e9:.1f} ns\n"
    )
    print(f"| {'row':50} | {'ns/call':>8} | {'x bare':>7} |")
    print(f"|{'-' * 52}|{'-' * 10}|{'-' * 9}|")
    for name, seconds in timings.items():
        print(f"| {name:50} | {seconds * 1e9:8.1f} | {seconds / bare:7.1f} |")
    print()
    full = timings["Pipeline: all five"]
    hand = timings["all five nested by hand, no Pipeline"]
    afull = timings["await pipeline.aexecute(g_async), all five †"]
    print(
        f"all five: Pipeline {full / bare:.1f}x bare, by hand {hand / bare:.1f}x bare "
        f"(Pipeline / by hand = {full / hand:.2f})"
    )
    print(
        f"async, all five: {afull / async_bare:.1f}x a bare await ({afull / bare:.1f}x a bare call)"
    )
    print(
        "† timed inside one coroutine per round on a running loop; 'x bare' is against the "
        "synchronous bare call"
    )


if __name__ == "__main__":
    main()
