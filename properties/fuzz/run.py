"""``python -m properties fuzz``: the parent. Plans which worker fuzzes which targets, starts the
workers, shows progress, collects failures, and writes the summary.

Each worker takes every N-th target (with fewer targets than workers, several workers share a
target, each with its own seeds) and gives each of its targets an equal slice of the time left.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import queue
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from properties import catalog
from properties.fuzz.corpus import PLANTED, REGRESSIONS
from properties.fuzz.database import describe, redact
from properties.fuzz.summary import build_summary, closing_lines, progress_line, write_summary
from properties.fuzz.tally import Tally
from properties.fuzz.worker import Assignment, work, work_in_process

__all__ = ["FuzzError", "FuzzOptions", "fuzz", "plan"]


class FuzzError(ValueError):
    """The command line asked for something that cannot run."""


@dataclasses.dataclass(frozen=True)
class FuzzOptions:
    machines: tuple[str, ...]
    targets: tuple[str, ...]  # empty: every real target of the machines
    minutes: float
    workers: int
    database: str | None
    out: Path | None  # None: the corpus for real targets, PLANTED for planted bugs
    json: Path | None
    seed: int | None
    progress: float  # seconds between progress lines; 0: none
    command: str


def plan(machines: tuple[str, ...], targets: tuple[str, ...]) -> list[tuple[str, str]]:
    """The (machine, target) pairs to fuzz, in order, each once."""
    machines = tuple(dict.fromkeys(machines))
    if not targets:
        return [
            (machine, target) for machine in machines for target in catalog.REAL_TARGETS[machine]
        ]
    jobs: dict[tuple[str, str], None] = {}
    for target in dict.fromkeys(targets):
        owners = [machine for machine in machines if target in catalog.targets(machine)]
        if not owners:
            known = sorted({name for machine in machines for name in catalog.targets(machine)})
            raise FuzzError(
                f"no chosen machine has a target {target!r}; the targets of "
                f"{', '.join(machines)} are: {', '.join(known)}"
            )
        jobs |= dict.fromkeys((machine, target) for machine in owners)
    return list(jobs)


def _assignments(options: FuzzOptions, jobs: list[tuple[str, str]]) -> list[Assignment]:
    deadline = time.time() + options.minutes * 60
    workers = options.workers
    shares = (
        [jobs[index::workers] for index in range(workers)]
        if len(jobs) >= workers
        else [[jobs[index % len(jobs)]] for index in range(workers)]
    )
    database = options.database
    out = None if options.out is None else str(options.out)
    return [
        Assignment(index, tuple(share), deadline, database, out, options.seed)
        for index, share in enumerate(shares)
    ]


class Monitor:
    """Receives the workers' messages; keeps their latest tallies, the failures and the timeline;
    prints progress and failures as they come."""

    def __init__(
        self, options: FuzzOptions, jobs: list[tuple[str, str]], echo: Callable[[str], object]
    ) -> None:
        self.options = options
        self.jobs = jobs
        self.echo = echo
        self.started = time.monotonic()
        self.started_at = time.time()
        self.latest: dict[tuple[int, tuple[str, str]], Tally] = {}
        self.failures: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.interrupted = False
        self.finished: set[int] = set()
        self.timeline: list[dict[str, Any]] = []
        budget = options.minutes * 60
        self.sample_every = max(2.0, budget / 300)
        self.next_sample = 0.0
        self.next_line = options.progress or float("inf")
        self.last_line: tuple[float, dict[str, int]] = (0.0, {})

    def handle(self, message: tuple[str, int, Any]) -> None:
        kind, worker, payload = message
        if kind in ("progress", "done"):
            for snapshot in payload:
                tally = Tally.from_snapshot(snapshot)
                self.latest[(worker, tally.key)] = tally
        if kind == "done":
            self.finished.add(worker)
        elif kind == "failure":
            self._failure(payload)
        elif kind == "error":
            self.errors.append(payload)
            self.finished.add(worker)
            self.echo(f"worker {worker} crashed:\n{payload}")
        self.tick()

    def totals(self) -> dict[tuple[str, str], Tally]:
        merged: dict[tuple[str, str], Tally] = {}
        order = {job: index for index, job in enumerate(self.jobs)}
        for (_, key), tally in sorted(self.latest.items(), key=lambda item: order[item[0][1]]):
            if key in merged:
                merged[key].add(tally)
            else:
                merged[key] = dataclasses.replace(
                    tally, rule_steps=tally.rule_steps.copy(), hits=tally.hits.copy()
                )
        return merged

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tick(self) -> None:
        elapsed = self.elapsed()
        if elapsed < self.next_sample and elapsed < self.next_line:
            return
        totals = self.totals()
        if elapsed >= self.next_sample:
            self.next_sample = elapsed + self.sample_every
            self.timeline += _samples(round(elapsed, 1), totals)
        if elapsed >= self.next_line:
            self.next_line = elapsed + self.options.progress
            steps = _by_machine(totals, "steps")
            before_at, before = self.last_line
            rates = {
                machine: (count - before.get(machine, 0)) / max(elapsed - before_at, 1e-9)
                for machine, count in steps.items()
            }
            self.last_line = (elapsed, steps)
            self.echo(progress_line(elapsed, self.options.minutes * 60, totals, rates))

    def _failure(self, failure: dict[str, Any]) -> None:
        failure = dict(failure)
        program = failure.get("program")
        same = (failure["machine"], failure["target"], program or failure["message"])
        for known in self.failures:  # several workers on one target find one bug several times
            if (known["machine"], known["target"], known["program"] or known["message"]) == same:
                if failure.get("seed") is not None:
                    known.setdefault("also_seeds", []).append(failure["seed"])
                return
        failure["replay"] = (
            None if program is None else f"python -m properties replay {shlex.quote(program)}"
        )
        failure["reproduce"] = (
            None
            if failure.get("seed") is None
            else "python -m properties reproduce "
            + shlex.join(
                [
                    "--machine",
                    failure["machine"],
                    "--target",
                    failure["target"],
                    "--seed",
                    str(failure["seed"]),
                ]
            )
        )
        self.failures.append(failure)
        first = (failure["message"].strip().splitlines() or [""])[0]
        lines = [
            f"FAILURE {failure['machine']} / {failure['target']}: {failure['type']}: {first}",
            f"  found by:  {failure['found_by']}"
            + (
                f" (seed {failure['seed']})"
                if failure.get("seed") is not None
                else " (a saved example)"
            ),
        ]
        if program is not None:
            lines += [f"  program:   {program}", f"  replay:    {failure['replay']}"]
        else:
            lines.append(f"  {failure.get('problem') or 'no regression program'}")
        if failure["reproduce"] is not None:
            lines.append(f"  reproduce: {failure['reproduce']}")
        self.echo("\n".join(lines))

    def summary(self) -> dict[str, Any]:
        totals = self.totals()
        for machine, target in self.jobs:  # a target the budget never reached counts too
            if (machine, target) not in totals:
                totals[(machine, target)] = _unrun(machine, target)
        totals = {job: totals[job] for job in self.jobs}
        elapsed = round(self.elapsed(), 1)
        if not self.timeline or self.timeline[-1]["t"] < elapsed:
            self.timeline += _samples(elapsed, totals)
        return build_summary(
            self.options,
            started=self.started_at,
            seconds=self.elapsed(),
            interrupted=self.interrupted,
            totals=totals,
            timeline=self.timeline,
            failures=self.failures,
            errors=self.errors,
        )


def _unrun(machine: str, target: str) -> Tally:
    rules = catalog.rule_names(catalog.machine_class(machine, target))
    return Tally(machine, target, catalog.coverage_labels(machine, target), rules)


def _by_machine(totals: dict[tuple[str, str], Tally], field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for (machine, _), tally in totals.items():
        found[machine] = found.get(machine, 0) + getattr(tally, field)
    return found


def _samples(elapsed: float, totals: dict[tuple[str, str], Tally]) -> list[dict[str, Any]]:
    machines: dict[str, dict[str, Any]] = {}
    for (machine, _), tally in totals.items():
        sample = machines.setdefault(
            machine,
            {
                "t": elapsed,
                "machine": machine,
                "examples": 0,
                "steps": 0,
                "reached": 0,
                "declared": 0,
            },
        )
        sample["examples"] += tally.examples
        sample["steps"] += tally.steps
        sample["reached"] += tally.reached
        sample["declared"] += len(tally.declared)
    return list(machines.values())


def _say(line: str) -> None:
    print(line, flush=True)  # progress must show as it happens, even in a CI log


def fuzz(options: FuzzOptions, echo: Callable[[str], object] = _say) -> int:
    """Run the fuzz session; 0 when nothing failed, 1 otherwise."""
    jobs = plan(options.machines, options.targets)
    assignments = _assignments(options, jobs)
    monitor = Monitor(options, jobs, echo)
    where = describe(options.database) if options.database else "none (in memory)"
    out = options.out or f"{REGRESSIONS} ({PLANTED} for planted bugs)"
    echo(
        f"fuzzing {len(jobs)} target(s) of {', '.join(dict.fromkeys(m for m, _ in jobs))} for "
        f"{options.minutes:g} min in {len(assignments)} worker(s); database: {where}; "
        f"programs to {out}"
    )
    share = options.minutes * 60 * len(assignments) / max(len(jobs), len(assignments))
    if share < 10:
        echo(
            f"warning: about {share:.1f} s per target: some targets may get few examples, or "
            "none (give more --minutes or --workers)"
        )
    try:
        if len(assignments) == 1:
            work(assignments[0], monitor.handle)
        else:
            _in_processes(assignments, monitor)
    except KeyboardInterrupt:
        echo("interrupted: what was counted so far follows")
        monitor.interrupted = True
    summary = monitor.summary()
    for line in closing_lines(summary):
        echo(line)
    if options.json is not None:
        try:
            write_summary(summary, options.json)
        except OSError as error:
            echo(f"error: the summary could not be written to {options.json}: {error}")
            return 1
    return 0 if summary["ok"] else 1


def _in_processes(assignments: list[Assignment], monitor: Monitor) -> None:
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    processes = [
        context.Process(
            target=work_in_process, args=(assignment, messages.put), name=f"fuzz-{assignment.index}"
        )
        for assignment in assignments
    ]
    for process in processes:
        process.start()
    interrupted = False
    try:
        while len(monitor.finished) < len(processes):
            try:
                monitor.handle(messages.get(timeout=0.5))
            except queue.Empty:
                monitor.tick()
                for index, process in enumerate(processes):
                    if (
                        not process.is_alive()
                        and index not in monitor.finished
                        and messages.empty()
                    ):
                        monitor.handle(
                            ("error", index, f"worker exited with code {process.exitcode}")
                        )
    except KeyboardInterrupt:
        interrupted = True  # workers ignore Ctrl-C: stop them now, not at their deadline
        raise
    finally:
        for process in processes:
            process.join(timeout=0 if interrupted else 10)
            if process.is_alive():
                process.terminate()
                process.join()


def command_line(argv: list[str] | None = None) -> str:
    """The command as run, with any password in a ``redis://`` URL shown as ``***``."""
    shown = [redact(part) for part in (sys.argv[1:] if argv is None else argv)]
    return "python -m properties " + shlex.join(shown)


def default_workers() -> int:
    return os.cpu_count() or 1
