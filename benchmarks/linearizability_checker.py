"""How long the linearizability checker takes on real histories: 4 threads x 25 operations.

For each parallel component, generate programs of 4 branches of 25 steps (after a prefix of up
to 5), run each once on real threads against the real implementation, and time ``check`` on the
history, with partitioning (as the tests run it) and without (one search over everything).

    python benchmarks/linearizability_checker.py [--programs N] [--seed S] [--component NAME]
                                                 [--stretch W]

``--stretch W`` moves every response W positions later: each call then overlaps more of its
neighbours (a history that was linearizable still is: only real-time constraints are dropped),
which is where the memo and partitioning earn their keep. Threads under the GIL rarely overlap
much, so the real histories barely make the search back up.

Reports per component: histories checked, median / 90th percentile / worst milliseconds, the
model steps of the worst, and how many histories were partitioned. Nothing is asserted: speed
claims live here, not in tests.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hypothesis
from hypothesis import strategies as st

from properties.parallel.checker import UNKNOWN, Spec, check
from properties.parallel.components import COMPONENTS
from properties.parallel.harness import Component, execute, programs
from properties.parallel.history import Call, Op

THREADS, STEPS = 4, 25
BUDGET = 30.0  # seconds: long enough that "unknown" means something is badly wrong


class Whole:
    """``spec`` with partitioning switched off."""

    def __init__(self, spec: Spec[Any]) -> None:
        self.spec = spec

    def initial(self) -> Any:
        return self.spec.initial()

    def step(self, state: Any, op: Op, result: object) -> Any:
        return self.spec.step(state, op, result)

    def partition(self, op: Op) -> Hashable | None:
        return None


def stretched(calls: list[Call], width: int) -> list[Call]:
    """The same calls, each answering ``width`` positions later (ties: calls before answers)."""
    if not width:
        return calls
    return [
        Call(c.id, c.thread, c.op, c.invoke, None if c.response is None else c.response + width,
             c.result)
        for c in calls
    ]  # fmt: skip


def measure(component: Component, count: int, seed: int, width: int = 0) -> dict[str, Any]:
    strategy = programs(component, branches=(THREADS, THREADS), steps=(STEPS, STEPS))
    parted: list[float] = []
    whole: list[float] = []
    worst_steps = 0
    sizes: list[int] = []
    partitioned = 0
    unknown = 0
    for program in _programs(strategy, count, seed):
        run = execute(program, component)
        run.calls = stretched(run.calls, width)
        spec = component.spec(program.case)
        sizes.append(len(run.calls))
        first = check(run.calls, spec, BUDGET)
        second = check(run.calls, Whole(spec), BUDGET)
        if first.ok is False or second.ok is False:
            raise SystemExit(f"{component.name}: a history of the real implementation failed")
        unknown += (first.outcome == UNKNOWN) + (second.outcome == UNKNOWN)
        parted.append(first.seconds * 1000)
        whole.append(second.seconds * 1000)
        worst_steps = max(worst_steps, first.explored)
        partitioned += first.partitions > 1
    return {
        "histories": len(parted),
        "calls": int(statistics.median(sizes)),
        "partitioned": partitioned,
        "with": _summary(parted),
        "without": _summary(whole),
        "worst_steps": worst_steps,
        "unknown": unknown,
    }


def _programs(strategy: st.SearchStrategy[Any], count: int, seed: int) -> list[Any]:
    """``count`` programs, as a seeded Hypothesis run generates them (its first, simplest
    example dropped: every branch the same minimal step)."""
    found: list[Any] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        database=None,
        max_examples=count + 1,
        phases=[hypothesis.Phase.generate],
        derandomize=False,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(strategy)
    def collect(program: Any) -> None:
        found.append(program)

    collect()
    return found[1 : count + 1]


def _summary(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered):.2f} / {p90:.2f} / {ordered[-1]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--component", choices=sorted(COMPONENTS), action="append")
    parser.add_argument("--stretch", type=int, default=0, help="widen every call by W positions")
    options = parser.parse_args()
    print(f"Python {platform.python_version()}, {THREADS} threads x {STEPS} steps, "
          f"{options.programs} histories per component, seed {options.seed}, "
          f"stretch {options.stretch}")  # fmt: skip
    print("ms: median / p90 / worst")
    print(
        "| component | calls (median) | partitioned | with partitioning | without | worst steps |"
    )
    print("|---|---:|---:|---|---|---:|")
    for name in options.component or sorted(COMPONENTS):
        found = measure(COMPONENTS[name], options.programs, options.seed, options.stretch)
        print(f"| {name} | {found['calls']} | {found['partitioned']}/{found['histories']} | "
              f"{found['with']} | {found['without']} | {found['worst_steps']} |")  # fmt: skip
        if found["unknown"]:
            print(f"  ({found['unknown']} searches ran out of the {BUDGET} s budget)")


if __name__ == "__main__":
    main()
