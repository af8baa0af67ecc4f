"""Closed-state call overhead of a circuit breaker, as a ratio to a bare function call.

Measured in one process, side by side with the peers (install them with
``python -m pip install -e ".[bench]"``; a missing peer is reported and skipped).

    python benchmarks/breaker_overhead.py [--number N] [--repeat R]

Each figure is the best of R runs of N calls (the minimum is the least disturbed measurement);
ratios, not absolute times, are what carry between machines. Target: resilience <= 15x.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import timeit
from collections.abc import Callable

import circuitbreaker

from resilience import CircuitBreaker


def function() -> int:
    return 1


def candidates() -> dict[str, Callable[[], object]]:
    ours = CircuitBreaker(name="bench-ours")
    ours_listening = CircuitBreaker(name="bench-listening")
    ours_listening.subscribe(lambda event: None)
    base = circuitbreaker.CircuitBreaker(name="bench-base")
    found: dict[str, Callable[[], object]] = {
        "bare call f()": function,
        "resilience @breaker f()": ours(function),
        "resilience breaker.call(f)": lambda: ours.call(function),
        "resilience @breaker f(), with a listener": ours_listening(function),
        "circuitbreaker @circuit f()": base(function),
    }
    if importlib.util.find_spec("pybreaker") is not None:
        import pybreaker

        peer = pybreaker.CircuitBreaker()
        found["pybreaker breaker.call(f)"] = lambda: peer.call(function)
    else:
        print("pybreaker not installed: pip install -e '.[bench]' to compare", file=sys.stderr)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=7, help="runs; the best is kept")
    args = parser.parse_args()
    if args.number < 1 or args.repeat < 1:
        parser.error("--number and --repeat must be >= 1")

    timings = {
        name: min(timeit.repeat(fn, number=args.number, repeat=args.repeat)) / args.number
        for name, fn in candidates().items()
    }
    bare = timings["bare call f()"]
    print(
        f"# closed-state overhead, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"# best of {args.repeat} x {args.number} calls; bare call = {bare * 1e9:.1f} ns\n")
    print(f"| {'call':42} | {'ns/call':>8} | {'x bare':>7} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 9}|")
    for name, seconds in timings.items():
        print(f"| {name:42} | {seconds * 1e9:8.1f} | {seconds / bare:7.1f} |")


if __name__ == "__main__":
    main()
