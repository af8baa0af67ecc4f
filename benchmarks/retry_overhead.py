"""Cost of a retried call that succeeds at once, as a ratio to a bare function call.

    python benchmarks/retry_overhead.py [--number N] [--repeat R]

Rows, each the statement a user writes, compiled inline into ``timeit``'s loop (the bare call
``f()`` included, so no row pays for a wrapper frame of ours): ``policy.call(f)`` and a function
decorated with ``@policy``; tenacity's own ``Retrying(...)(f)`` and ``@tenacity.retry(...)``
with the same stop (3 attempts), for comparison. Each figure is the best of R rounds of N calls;
every round times every row, so drift during the run cannot favour one row. Ratios carry between
machines, absolute times do not; compare ratios across several runs. Target: ours <= 60x bare.
"""

from __future__ import annotations

import argparse
import platform
import sys
import timeit

import tenacity

from resilience import RetryPolicy

TARGET = 60


def f() -> int:
    return 1


def setup() -> dict[str, object]:
    policy = RetryPolicy(max_attempts=3, base_delay=0.001)
    timed = RetryPolicy(max_attempts=3, deadline=1.0, base_delay=0.001)
    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(3), reraise=True)
    return {
        "f": f,
        "policy": policy,
        "timed": timed,
        "decorated": policy(f),
        "retrying": retrying,
        "tenacity_decorated": tenacity.retry(stop=tenacity.stop_after_attempt(3), reraise=True)(f),
    }


ROWS = {
    "bare call f()": "f()",
    "resilience policy.call(f)": "policy.call(f)",
    "resilience @policy": "decorated()",
    "resilience policy.call(f), with a deadline": "timed.call(f)",
    "tenacity Retrying(...)(f)": "retrying(f)",
    "tenacity @retry(...)": "tenacity_decorated()",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    names = dict(setup())
    timers = {name: timeit.Timer(stmt, globals=names) for name, stmt in ROWS.items()}
    best = dict.fromkeys(ROWS, float("inf"))
    for _ in range(args.repeat):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(args.number) / args.number)
    bare = best["bare call f()"]
    python = f"Python {sys.version.split()[0]} on {platform.machine()}"
    print(f"{python}; best of {args.repeat} rounds x {args.number} calls")
    for name, seconds in best.items():
        print(f"  {name:45s} {seconds * 1e9:9.1f} ns  {seconds / bare:7.1f}x")
    ours = best["resilience policy.call(f)"] / bare
    verdict = "meets" if ours <= TARGET else "MISSES"
    print(f"resilience policy.call(f) = {ours:.1f}x bare: {verdict} the target of {TARGET}x")
    metrics = names["policy"].metrics()  # type: ignore[attr-defined]
    expected_calls = args.number * args.repeat * 2  # policy.call and @policy
    if metrics["calls"] != expected_calls or metrics["retries"]:
        sys.exit(f"the policy counted {metrics}, expected {expected_calls} calls and no retries")


if __name__ == "__main__":
    main()
