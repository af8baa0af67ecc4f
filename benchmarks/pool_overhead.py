"""Cost of an uncontended pool lease (check out, check in), as a ratio to a bare function call.

Measured in one process and one thread, side by side with a floor, ``queue.LifoQueue`` and the
peer SQLAlchemy (``sqlalchemy.pool.QueuePool``; install it with ``python -m pip install -e
".[bench]"``; a missing peer is reported and skipped).

    python benchmarks/pool_overhead.py [--number N] [--repeat R] [--quick]

Every pool holds up to 4 resources and is pre-warmed by one use, so an idle resource is always
there: each timed use lends it and takes it back, creating, waiting and destroying nothing. Rows:
ours (``ResourcePool``: ``lease()``, ``checkout()``/``checkin()``, and ``lease()`` with
``validate=`` or ``reset=``, which take the general path); a floor (a deque under a
``threading.Lock``, a tiny lease object per use); ``queue.LifoQueue`` get + put; SQLAlchemy's
``QueuePool(creator, pool_size=4, max_overflow=0)`` over a dummy DBAPI connection, with its
default ``reset_on_return`` (a ``rollback()`` per return) and with ``reset_on_return=None``; and
``async with`` on ``AsyncResourcePool`` and on an async floor, in a running loop.

Every synchronous row is timed as the statement a user writes (``with pool.lease() as r: pass``,
...) compiled inline into ``timeit``'s loop, the bare call ``function()`` included, so no row pays
for a wrapper frame. Each figure is the best of R rounds of N uses (the minimum is the least
disturbed measurement); every round times every row, so drift during the run cannot favour one
row. Ratios, not absolute times, are what carry between machines; the bare call varies from
process to process (22-26 ns typically), so compare ratios across several runs. After the
timing, every pool must be as the warm-up left it: nothing in use, one resource made, every use
counted. Target: resilience lease() enter+exit <= 40x bare.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import itertools
import platform
import sys
import threading
import time
import timeit
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from queue import LifoQueue
from typing import Any

from resilience import AsyncResourcePool, ResourcePool

SIZE = 4  # resources each pool may hold; one is made by the warm-up and lent by every use
HAS_SQLALCHEMY = importlib.util.find_spec("sqlalchemy") is not None

BARE = "bare call f()"
FLOOR = "floor: deque + Lock, a lease object per use"
OURS = "resilience with pool.lease()"
ASYNC_FLOOR = "floor, async: async with (same deque + Lock) †"
TARGET = 40  # resilience lease() enter+exit <= 40x a bare call


def function() -> int:
    return 1


class Resource:
    """What the factories make: a plain object (the pools key resources by identity)."""

    __slots__ = ()


class Factory:
    """A resource factory that counts what it made."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self) -> Resource:
        self.made += 1
        return Resource()


# ---------------------------------------------------------------- references


class FloorPool:
    """The floor reference: idle resources in a deque under one ``threading.Lock``, lent by a
    small context-manager object made per use (as ``pool.lease()`` makes one). No accounting, no
    size limit, no waiting: the least a thread-safe lease can do in Python. The lock is taken by
    explicit ``acquire()``/``release()``, as our hot path does: ``with lock:`` costs about twice
    as much (some 140 ns more per lease on CPython 3.11) and would flatter every ratio to it."""

    __slots__ = ("_factory", "_idle", "_lock")

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._idle: deque[object] = deque()
        self._lock = threading.Lock()

    def lease(self) -> FloorLease:
        return FloorLease(self)

    def idle(self) -> int:
        return len(self._idle)


class FloorLease:
    __slots__ = ("_pool", "_resource")

    def __init__(self, pool: FloorPool) -> None:
        self._pool = pool

    def __enter__(self) -> object:
        pool = self._pool
        lock = pool._lock
        lock.acquire()
        try:
            resource = pool._idle.pop() if pool._idle else None
        finally:
            lock.release()
        if resource is None:
            resource = pool._factory()
        self._resource = resource
        return resource

    def __exit__(self, *exc_info: object) -> None:
        pool = self._pool
        lock = pool._lock
        lock.acquire()
        try:
            pool._idle.append(self._resource)
        finally:
            lock.release()

    async def __aenter__(self) -> object:  # written out, as __enter__: no extra frame
        pool = self._pool
        lock = pool._lock
        lock.acquire()
        try:
            resource = pool._idle.pop() if pool._idle else None
        finally:
            lock.release()
        if resource is None:
            resource = pool._factory()
        self._resource = resource
        return resource

    async def __aexit__(self, *exc_info: object) -> None:
        pool = self._pool
        lock = pool._lock
        lock.acquire()
        try:
            pool._idle.append(self._resource)
        finally:
            lock.release()


class DummyConnection:
    """The DBAPI connection SQLAlchemy's pool lends: it calls ``rollback()`` on return (unless
    ``reset_on_return=None``) and ``close()`` on disposal."""

    __slots__ = ("closed", "rollbacks")

    def __init__(self) -> None:
        self.rollbacks = 0
        self.closed = False

    def rollback(self) -> None:
        self.rollbacks += 1

    def close(self) -> None:
        self.closed = True


# ---------------------------------------------------------------- rows


@dataclass
class Row:
    """One line of the table. ``run(n)`` makes ``n`` uses and returns the seconds they took;
    ``check(uses)`` says what is wrong with the pool after ``uses`` timed uses (``None``: all is
    as it should be)."""

    name: str
    run: Callable[[int], float]
    check: Callable[[int], str | None]
    uses: int = 0


def statement(stmt: str, **namespace: object) -> Callable[[int], float]:
    """``stmt`` compiled inline into ``timeit``'s loop: no wrapper frame around the use."""
    return timeit.Timer(stmt, globals=namespace).timeit


def problems(found: Mapping[str, object], expected: Mapping[str, object]) -> str | None:
    """What differs from ``expected`` (``name=found (expected want)``); ``None``: nothing."""
    wrong = [
        f"{key}={found[key]!r} (expected {want!r})"
        for key, want in expected.items()
        if found[key] != want
    ]
    return ", ".join(wrong) or None


def ours_check(
    pool: ResourcePool[Any] | AsyncResourcePool[Any], factory: Factory
) -> Callable[[int], str | None]:
    """Nothing in use, one resource made (and kept), every use checked out and in once."""

    def check(uses: int) -> str | None:
        status = pool.status()
        found = {**status, "factory calls": factory.made}
        expected: dict[str, object] = {
            "in_use": 0,
            "idle": 1,
            "created": 1,
            "factory calls": 1,
            "destroyed": 0,
            "checked_out": uses + 1,  # + the warm-up
            "checked_in": uses + 1,
            "failed_validations": 0,
            "failed_resets": 0,
        }
        return problems(found, expected)

    return check


def ours(name: str, stmt: str, **options: Any) -> Row:
    factory = Factory()
    pool: ResourcePool[Resource] = ResourcePool(factory, size=SIZE, **options)
    with pool.lease():  # the warm-up: one idle resource from now on
        pass
    return Row(name, statement(stmt, pool=pool), ours_check(pool, factory))


def floor_row() -> Row:
    factory = Factory()
    pool = FloorPool(factory)
    with pool.lease():
        pass

    def check(uses: int) -> str | None:
        return problems({"idle": pool.idle(), "made": factory.made}, {"idle": 1, "made": 1})

    return Row(FLOOR, statement("with pool.lease() as r: pass", pool=pool), check)


def lifo_queue_row() -> Row:
    queue: LifoQueue[Resource] = LifoQueue(maxsize=SIZE)
    queue.put(Resource())

    def check(uses: int) -> str | None:
        return problems({"qsize": queue.qsize()}, {"qsize": 1})

    return Row(
        "queue.LifoQueue r = q.get(); q.put(r)", statement("r = q.get(); q.put(r)", q=queue), check
    )


def sqlalchemy_row(name: str, **options: Any) -> Row:
    from sqlalchemy.pool import QueuePool

    made: list[DummyConnection] = []

    def creator() -> DummyConnection:
        made.append(DummyConnection())
        return made[-1]

    pool = QueuePool(creator, pool_size=SIZE, max_overflow=0, **options)  # type: ignore[arg-type]
    pool.connect().close()  # the warm-up
    rolls_back = options.get("reset_on_return", True) is not None

    def check(uses: int) -> str | None:
        found = {
            "checkedout": pool.checkedout(),
            "checkedin": pool.checkedin(),
            "connections made": len(made),
            "rollbacks": made[0].rollbacks if made else 0,
        }
        expected = {
            "checkedout": 0,
            "checkedin": 1,
            "connections made": 1,
            "rollbacks": uses + 1 if rolls_back else 0,
        }
        return problems(found, expected)

    return Row(name, statement("conn = pool.connect(); conn.close()", pool=pool), check)


def async_rows(loop: asyncio.AbstractEventLoop) -> list[Row]:
    """``async with pool.lease()`` in a running loop: each round is one coroutine timing all of
    its uses (with the garbage collector off, as ``timeit`` does), so no loop iteration is paid
    per use."""

    def timer(lease: Callable[[], Any]) -> Callable[[int], float]:
        async def uses(number: int) -> float:
            enabled = gc.isenabled()
            gc.disable()
            try:
                started = time.perf_counter()
                for _ in itertools.repeat(None, number):
                    async with lease() as _r:
                        pass
                return time.perf_counter() - started
            finally:
                if enabled:
                    gc.enable()

        return lambda number: loop.run_until_complete(uses(number))

    factory = Factory()
    ours_async: AsyncResourcePool[Resource] = AsyncResourcePool(factory, size=SIZE)
    floor_factory = Factory()
    floor = FloorPool(floor_factory)

    async def warm() -> None:
        async with ours_async.lease():
            pass
        async with floor.lease():
            pass

    loop.run_until_complete(warm())

    def floor_check(uses: int) -> str | None:
        found = {"idle": floor.idle(), "made": floor_factory.made}
        return problems(found, {"idle": 1, "made": 1})

    return [
        Row(ASYNC_FLOOR, timer(floor.lease), floor_check),
        Row(
            "resilience async with AsyncResourcePool.lease() †",
            timer(ours_async.lease),
            ours_check(ours_async, factory),
        ),
    ]


def candidates(loop: asyncio.AbstractEventLoop) -> list[Row]:
    rows = [
        Row(BARE, statement("function()", function=function), lambda uses: None),
        floor_row(),
        lifo_queue_row(),
        ours(OURS, "with pool.lease() as r: pass"),
        ours(
            "resilience r = pool.checkout(); pool.checkin(r)",
            "r = pool.checkout(); pool.checkin(r)",
        ),
        ours(
            "resilience lease(), validate=lambda r: True",
            "with pool.lease() as r: pass",
            validate=lambda r: True,
        ),
        ours(
            "resilience lease(), reset=lambda r: None",
            "with pool.lease() as r: pass",
            reset=lambda r: None,
        ),
    ]
    if HAS_SQLALCHEMY:
        rows += [
            sqlalchemy_row("sqlalchemy QueuePool connect(); close()"),
            sqlalchemy_row("sqlalchemy QueuePool ..., reset_on_return=None", reset_on_return=None),
        ]
    else:
        print("sqlalchemy not installed: pip install -e '.[bench]' to compare", file=sys.stderr)
    return rows + async_rows(loop)


def time_rows(rows: list[Row], number: int, repeat: int) -> dict[str, float]:
    """Seconds per use for every row, best of ``repeat`` rounds. Each round times every row
    once, the bare call included, so a drift in the machine's speed during the run moves all of
    them alike instead of skewing the ratios of the rows timed early or late."""
    best = dict.fromkeys((row.name for row in rows), float("inf"))
    for _ in range(repeat):
        for row in rows:
            best[row.name] = min(best[row.name], row.run(number) / number)
            row.uses += number
    for row in rows:
        wrong = row.check(row.uses)
        if wrong is not None:
            sys.exit(
                f"{row.name}: after {row.uses} timed uses the pool is not as expected: {wrong}"
            )
    return best


# ---------------------------------------------------------------- output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="uses per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best is kept")
    parser.add_argument("--quick", action="store_true", help="a rougher run: 3 x 20000 uses")
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
    bare = timings[BARE]
    floor = timings[FLOOR]
    print(
        f"# uncontended lease (check out + check in), one thread, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    print(
        f"# best of {args.repeat} interleaved rounds of {args.number} uses per row; "
        f"bare call = {bare * 1e9:.1f} ns\n"
    )
    title = "pool (size 4, one idle resource)"
    print(f"| {title:54} | {'ns/use':>8} | {'x bare':>7} | {'x floor':>7} |")
    print(f"|{'-' * 56}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    for name, seconds in timings.items():
        print(
            f"| {name:54} | {seconds * 1e9:8.1f} | {seconds / bare:7.1f} | {seconds / floor:7.2f} |"
        )
    print()
    print(
        "† timed inside one coroutine per round on a running loop (nothing suspends: no loop "
        "iteration per use); 'x bare' and 'x floor' are against the synchronous rows"
    )
    ratio = timings[OURS] / bare
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"target: resilience lease() enter+exit <= {TARGET}x bare: {ratio:.1f}x, {verdict}")
    print(
        "statements: 'with pool.lease() as r: pass' for ours (plain pool; validate= and reset= "
        "take the general path) and the floor;\n'r = q.get(); q.put(r)' for LifoQueue"
        + (
            "; 'conn = pool.connect(); conn.close()' for SQLAlchemy QueuePool(creator, "
            "pool_size=4, max_overflow=0) over a dummy DBAPI connection\n(default "
            "reset_on_return: rollback() on every return)"
            if HAS_SQLALCHEMY
            else ""
        )
    )


if __name__ == "__main__":
    main()
