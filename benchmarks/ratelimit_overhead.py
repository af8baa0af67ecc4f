"""Cost of an admitted rate-limiter decision, as a ratio to a bare function call.

Measured in one process, side by side with the peers ``limits`` and ``pyrate-limiter`` (install
them with ``python -m pip install -e ".[bench]"``; a missing peer is reported and skipped).

    python benchmarks/ratelimit_overhead.py [--number N] [--repeat R] [--log-hits H] [--quick]

Part 1 times ``try_acquire()`` (or the peer's equivalent) with every limiter configured so that
every call is admitted: buckets of a realistic capacity (1000) refilled far faster than they are
drained, windows with limits far above the calls made. Each figure is the best of R rounds of N
calls (the minimum is the least disturbed measurement); every round times every row, the bare call
included, so drift during the run cannot favour one row. Ratios, not absolute times, are what
carry between machines; the bare call varies from process to process (24-26 ns typically, once
43 ns), so compare ratios across several runs. Targets: TokenBucket and GCRA <= 20x a bare call.

Part 2 times one admitted hit on a sliding log holding 0 to 400k live entries in its window
(ours must stay flat: amortised O(1)), with a freshly pre-filled limiter for each run of H hits.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import itertools
import platform
import sys
import threading
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from time import monotonic

from resilience.ratelimit import (
    GCRA,
    FixedWindow,
    KeyedLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

HUGE_LIMIT = 10**12  # window limits no run comes near
HOUR = 3600  # seconds: a window long enough that nothing ages out during a run
CAPACITY = 1000  # bucket capacity: realistic, and `remaining` stays below the 1024 cached decisions
REFILL = 10**9  # tokens per second: one per nanosecond, far faster than calls drain the bucket
PROBE = 1000  # calls after each timing that must all be admitted
FRESH_CALLS = 1000  # calls per run on a fresh limiter, for a peer whose cost grows with its log
SIZES = (0, 1_000, 10_000, 100_000, 400_000)  # live log entries for part 2
HAS_LIMITS = importlib.util.find_spec("limits") is not None
HAS_PYRATE = importlib.util.find_spec("pyrate_limiter") is not None


FLOOR = "floor: minimal bucket (Lock, monotonic, floats)"
MOVING = "limits MovingWindowRateLimiter †"


def function() -> int:
    return 1


class FloorBucket:
    """The floor reference: a minimal token bucket, one lock, float tokens, ``time.monotonic``."""

    __slots__ = ("_capacity", "_last", "_lock", "_rate", "_tokens", "rejected")

    def __init__(self, capacity: float, rate: float) -> None:
        self._lock = threading.Lock()
        self._capacity = self._tokens = float(capacity)
        self._rate = float(rate)
        self._last = monotonic()
        self.rejected = 0

    def try_acquire(self, cost: float = 1) -> bool:
        with self._lock:
            now = monotonic()
            tokens = self._tokens + (now - self._last) * self._rate
            if tokens > self._capacity:
                tokens = self._capacity
            self._last = now
            if tokens >= cost:
                self._tokens = tokens - cost
                return True
            self._tokens = tokens
            self.rejected += 1
            return False


Make = Callable[[], tuple[Callable[[], object], Callable[[], int] | None]]


@dataclass
class Row:
    """One line of the part 1 table: ``make()`` builds the limiter and returns the callable to
    time and a function counting its rejections (``None`` where only the probe can tell)."""

    name: str
    make: Make
    fresh_calls: int = 0  # > 0: a new limiter for each run of at most this many calls


def ours(
    limiter: TokenBucket | GCRA | FixedWindow | SlidingWindowCounter | SlidingWindowLog,
) -> Make:
    return lambda: (limiter.try_acquire, lambda: limiter.metrics()["rejected"])


def candidates() -> list[Row]:
    floor = FloorBucket(CAPACITY, REFILL)
    keyed = KeyedLimiter(lambda: TokenBucket(CAPACITY, REFILL))
    hot_key = functools.partial(keyed.try_acquire, "hot")
    rows = [
        Row("bare call f()", lambda: (function, None)),
        Row(FLOOR, lambda: (floor.try_acquire, lambda: floor.rejected)),
        Row("resilience TokenBucket", ours(TokenBucket(CAPACITY, REFILL))),
        Row("resilience GCRA", ours(GCRA(REFILL, CAPACITY))),
        Row("resilience FixedWindow", ours(FixedWindow(HUGE_LIMIT, HOUR))),
        Row("resilience SlidingWindowCounter", ours(SlidingWindowCounter(HUGE_LIMIT, HOUR))),
        Row("resilience SlidingWindowLog", ours(SlidingWindowLog(HUGE_LIMIT, HOUR))),
        Row(
            "resilience KeyedLimiter(TokenBucket), one hot key",
            lambda: (hot_key, lambda: keyed.metrics()["rejected"]),
        ),
    ]
    if HAS_LIMITS:
        from limits import RateLimitItemPerHour
        from limits.storage import MemoryStorage
        from limits.strategies import (
            FixedWindowRateLimiter,
            MovingWindowRateLimiter,
            SlidingWindowCounterRateLimiter,
        )

        item = RateLimitItemPerHour(HUGE_LIMIT)

        def limits_row(strategy: type) -> Make:
            return lambda: (functools.partial(strategy(MemoryStorage()).hit, item), None)

        sliding = SlidingWindowCounterRateLimiter
        rows += [
            Row("limits FixedWindowRateLimiter", limits_row(FixedWindowRateLimiter)),
            Row("limits SlidingWindowCounterRateLimiter", limits_row(sliding)),
            Row(MOVING, limits_row(MovingWindowRateLimiter), FRESH_CALLS),
        ]
    else:
        print("limits not installed: pip install -e '.[bench]' to compare", file=sys.stderr)
    if HAS_PYRATE:
        import pyrate_limiter as pyrate

        def pyrate_row(argument: object) -> Make:
            def make() -> tuple[Callable[[], object], None]:
                limiter = pyrate.Limiter(argument)
                return functools.partial(limiter.try_acquire, "key", blocking=False), None

            return make

        # The default bucket is a sliding log (InMemoryBucket); its clock counts milliseconds.
        log_rate = pyrate.Rate(HUGE_LIMIT, pyrate.Duration.HOUR)
        # GCRA/TokenBucket keep integer microseconds: one unit per microsecond is the fastest
        # refill it can express, and a 1000-unit burst absorbs a whole millisecond of calls.
        bucket_rate = pyrate.Rate(1_000_000, pyrate.Duration.SECOND, burst=CAPACITY)
        rows += [
            Row("pyrate-limiter Limiter(Rate) (InMemoryBucket log)", pyrate_row(log_rate)),
            Row(
                "pyrate-limiter StateBucket(TokenBucket)",
                pyrate_row(pyrate.StateBucket([bucket_rate], algorithm=pyrate.TokenBucket())),
            ),
        ]
    else:
        print("pyrate-limiter not installed: pip install -e '.[bench]' to compare", file=sys.stderr)
    return rows


def admitted_or_exit(
    name: str, fn: Callable[[], object], rejections: Callable[[], int] | None
) -> None:
    """Every timed call must have been admitted: counters where the limiter keeps them, and a
    probe of further calls, which must all be admitted too."""
    if not all(fn() for _ in range(PROBE)) or (rejections is not None and rejections() != 0):
        sys.exit(f"{name}: a call was rejected; the benchmark measures admissions only")


def time_rows(rows: list[Row], number: int, repeat: int) -> dict[str, float]:
    """Seconds per call for every row, best of ``repeat`` rounds. Each round times every row once,
    the bare call included, so a drift in the machine's speed during the run moves all of them
    alike instead of skewing the ratios of the rows timed early or late."""
    built = {row.name: row.make() for row in rows if not row.fresh_calls}
    best = dict.fromkeys((row.name for row in rows), float("inf"))
    for _ in range(repeat):
        for row in rows:
            if row.fresh_calls:
                fn, rejections = row.make()
                calls = min(number, row.fresh_calls)
                best[row.name] = min(best[row.name], timeit.timeit(fn, number=calls) / calls)
                admitted_or_exit(row.name, fn, rejections)
            else:
                fn = built[row.name][0]
                best[row.name] = min(best[row.name], timeit.timeit(fn, number=number) / number)
    for row in rows:
        if not row.fresh_calls:
            admitted_or_exit(row.name, *built[row.name])
    return best


# ---------------------------------------------------------------- part 2: sliding log scaling


class ReadingClock:
    """A clock for our limiters that reads ``monotonic_ns`` from any zero-argument callable.

    Given a C-level callable (an iterator's ``__next__``), a reading adds no Python frame, like
    the system-clock shortcut in ``try_acquire``: the figures stay comparable with part 1."""

    def __init__(self, monotonic_ns: Callable[[], int]) -> None:
        self.monotonic_ns = monotonic_ns

    def monotonic(self) -> float:
        return self.monotonic_ns() / 1e9

    def sleep(self, seconds: float) -> None:
        raise RuntimeError("the benchmark never waits")


Build = Callable[[int], tuple[Callable[[], object], Callable[[int], bool]]]


def ours_static(size: int) -> tuple[Callable[[], object], Callable[[int], bool]]:
    """``size`` entries at distinct instants in the last ``size`` ns, then real time; a one-hour
    window, so nothing ages out during the run."""
    start = time.monotonic_ns()
    # The constructor takes one reading, the pre-fill `size`, then the clock is the real one.
    readings = itertools.chain(range(start - size - 1, start), iter(time.monotonic_ns, None))
    limiter = SlidingWindowLog(HUGE_LIMIT, HOUR, clock=ReadingClock(readings.__next__))
    for _ in range(size):
        limiter.try_acquire()
    assert limiter.status()["entries"] == size
    return limiter.try_acquire, lambda hits: limiter.metrics()["rejected"] == 0


def ours_expiring(size: int) -> tuple[Callable[[], object], Callable[[int], bool]]:
    """A clock that advances 1 ns per reading and a window of ``size + 1`` ns: every hit finds
    exactly ``size`` live entries and ages the oldest one out (so skipping and compaction run)."""
    readings = itertools.count(10**12)
    window = Fraction(size + 1, 10**9)
    limiter = SlidingWindowLog(HUGE_LIMIT, window, clock=ReadingClock(readings.__next__))
    for _ in range(size):
        limiter.try_acquire()

    def check(hits: int) -> bool:
        status = limiter.status()
        return status["rejected"] == 0 and status["entries"] == size

    return limiter.try_acquire, check


def limits_moving(size: int) -> tuple[Callable[[], object], Callable[[int], bool]]:
    """``size`` entries pre-filled through ``hit()`` at real time in a one-hour window: hits of
    cost 1 up to 4000 entries, above that 4000 hits of equal cost (``limits`` stores one entry per
    unit either way, and its cost does not depend on whether their instants differ)."""
    from limits import RateLimitItemPerHour
    from limits.storage import MemoryStorage
    from limits.strategies import MovingWindowRateLimiter

    item = RateLimitItemPerHour(10**7)
    strategy = MovingWindowRateLimiter(MemoryStorage())
    chunk = max(1, -(-size // 4000))
    left = size
    while left:
        cost = min(chunk, left)
        if not strategy.hit(item, cost=cost):
            sys.exit(f"limits MovingWindowRateLimiter rejected a pre-fill hit at {size - left}")
        left -= cost
    assert strategy.get_window_stats(item).remaining == item.amount - size

    def check(hits: int) -> bool:
        return strategy.get_window_stats(item).remaining == item.amount - size - hits

    return functools.partial(strategy.hit, item), check


def time_log(build: Build, size: int, hits: int, repeat: int, cycles: bool) -> float:
    """Seconds per hit, best of ``repeat`` runs, each on a freshly pre-filled limiter. With
    ``cycles``, runs last at least ``2 * size`` hits: an expiring log compacts once per ``size``
    hits, so every run pays its share of compaction, as an amortised bound must."""
    if cycles:
        hits = max(hits, 2 * size)
    best = float("inf")
    for _ in range(repeat):
        fn, check = build(size)
        best = min(best, timeit.timeit(fn, number=hits))
        if not check(hits):
            sys.exit(f"{build.__name__}({size}): a hit was rejected or the log is not as set up")
    return best / hits


# ---------------------------------------------------------------- output


def part1(number: int, repeat: int) -> None:
    timings = time_rows(candidates(), number, repeat)
    bare = timings["bare call f()"]
    floor = timings[FLOOR]
    print(
        f"# admitted try_acquire() cost, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    print(
        f"# best of {repeat} interleaved rounds of {number} calls per row; "
        f"bare call = {bare * 1e9:.1f} ns\n"
    )
    title = "limiter (all calls admitted)"
    print(f"| {title:50} | {'ns/call':>8} | {'x bare':>7} | {'x floor':>7} |")
    print(f"|{'-' * 52}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    for name, seconds in timings.items():
        print(
            f"| {name:50} | {seconds * 1e9:8.1f} | {seconds / bare:7.1f} | {seconds / floor:7.2f} |"
        )
    print()
    if MOVING in timings:
        print(
            f"† a fresh limiter for each run of {min(number, FRESH_CALLS)} calls from an empty "
            "window: limits prepends each entry (O(live entries)), see the scaling table"
        )
    for name in ("resilience TokenBucket", "resilience GCRA"):
        ratio = timings[name] / bare
        verdict = "met" if ratio <= 20 else "MISSED"
        print(f"target: {name} <= 20x bare: {ratio:.1f}x, {verdict}")
    print(
        "callables: ours and the floor as bound methods (limiter.try_acquire); "
        "KeyedLimiter as functools.partial(keyed.try_acquire, 'hot');\n"
        "limits as functools.partial(strategy.hit, item) on MemoryStorage, one-hour item; "
        "pyrate-limiter as functools.partial(limiter.try_acquire, 'key', blocking=False)"
    )


def part2(hits: int, repeat: int) -> None:
    columns: dict[str, tuple[Build, bool]] = {
        "ours": (ours_static, False),
        "ours, expiring": (ours_expiring, True),
    }
    if HAS_LIMITS:
        columns["limits moving"] = (limits_moving, False)
    results = {
        name: [time_log(build, size, hits, repeat, cycles) for size in SIZES]
        for name, (build, cycles) in columns.items()
    }
    print(f"\n# sliding log scaling: us per admitted hit; best of {repeat} x {hits} hits,")
    print("# each run on a freshly pre-filled limiter; 'x 0' is the time over the empty log's\n")
    header = "".join(f" {name + ' us':>18} | {'x 0':>5} |" for name in results)
    print(f"| {'live entries':>12} |{header}")
    print(f"|{'-' * 14}|" + f"{'-' * 20}|{'-' * 7}|" * len(results))
    for i, size in enumerate(SIZES):
        cells = "".join(
            f" {times[i] * 1e6:18.3f} | {times[i] / times[0]:5.1f} |" for times in results.values()
        )
        print(f"| {size:>12,} |{cells}")
    print(
        "\nours: SlidingWindowLog, one-hour window, entries at distinct instants, then real time; "
        "ours, expiring: a clock that ticks 1 ns per reading and a window of n + 1 ns, so each hit "
        "ages one entry out,\nin runs of at least 2n hits (the log compacts every n); "
        "limits moving: MovingWindowRateLimiter on MemoryStorage, one-hour "
        "window, pre-filled through hit() at real time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per run (part 1)")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best is kept")
    parser.add_argument("--log-hits", type=int, default=2_000, help="hits per run (part 2)")
    parser.add_argument(
        "--quick", action="store_true", help="a rougher run: 3 x 20000 calls, 500 log hits"
    )
    args = parser.parse_args()
    if args.quick:
        args.number, args.repeat, args.log_hits = 20_000, 3, 500
    if args.number < 1 or args.repeat < 1 or args.log_hits < 1:
        parser.error("--number, --repeat and --log-hits must be >= 1")
    part1(args.number, args.repeat)
    part2(args.log_hits, args.repeat)


if __name__ == "__main__":
    main()
