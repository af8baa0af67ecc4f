"""One fuzz worker: its share of the targets, one slice of time each, in a process of its own (or
in the parent when there is a single worker). It reports through ``send`` (a queue's ``put``):

* ``("progress", worker, [tally snapshot, ...])`` about once a second;
* ``("failure", worker, {...})`` when a target fails (its program already written);
* ``("done", worker, [tally snapshot, ...])`` at the end, or ``("error", worker, traceback)``.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["Assignment", "work", "work_in_process"]

#: Seconds between progress messages.
TICK = 1.0


@dataclasses.dataclass(frozen=True)
class Assignment:
    index: int  # the worker's number
    jobs: tuple[tuple[str, str], ...]  # (machine, target), fuzzed in this order
    deadline: float  # time.time() at which the whole run ends
    database: str | None  # the --db spec
    out: str | None  # where failing programs are written (None: the default for the target)
    seed: int | None  # the run's base seed, if one was given


def _seeds(assignment: Assignment) -> Iterator[int]:
    rng: random.Random = (
        random.SystemRandom()
        if assignment.seed is None
        else random.Random(f"{assignment.seed}:{assignment.index}")
    )
    return (rng.getrandbits(32) for _ in itertools.count())


def work(assignment: Assignment, send: Callable[[tuple[str, int, Any]], object]) -> None:
    """Fuzz the assignment's targets until its deadline; errors are sent, not raised."""
    try:
        _work(assignment, send)
    except Exception:
        send(("error", assignment.index, traceback.format_exc()))


def work_in_process(assignment: Assignment, send: Callable[[tuple[str, int, Any]], object]) -> None:
    """``work`` in a worker process: Ctrl-C is the parent's to handle (it stops the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    work(assignment, send)


def _work(assignment: Assignment, send: Callable[[tuple[str, int, Any]], object]) -> None:
    from properties.fuzz.process import prepare

    prepare()
    from properties.fuzz.database import close_database, open_database

    database = open_database(assignment.database) if assignment.database else None
    try:
        _fuzz_targets(assignment, send, database)
    finally:
        if database is not None:
            close_database(database)


def _fuzz_targets(
    assignment: Assignment, send: Callable[[tuple[str, int, Any]], object], database: Any
) -> None:
    from properties.fuzz.shard import TargetFuzzer

    fuzzers: list[TargetFuzzer] = []
    last = [time.monotonic()]

    def snapshots() -> list[dict[str, Any]]:
        return [fuzzer.snapshot() for fuzzer in fuzzers]

    def tick() -> None:
        now = time.monotonic()
        if now - last[0] >= TICK:
            last[0] = now
            send(("progress", assignment.index, snapshots()))

    seeds = _seeds(assignment)
    end = time.monotonic() + (assignment.deadline - time.time())
    remaining = list(assignment.jobs)
    while remaining and time.monotonic() < end:
        machine, target = remaining.pop(0)
        fuzzer = TargetFuzzer(machine, target, database, tick)
        fuzzers.append(fuzzer)
        now = time.monotonic()
        found = fuzzer.run_slice(now + (end - now) / (len(remaining) + 1), seeds)
        if found is not None:
            send(("failure", assignment.index, _failure(found, assignment.out)))
        send(("progress", assignment.index, snapshots()))
    send(("done", assignment.index, snapshots()))


def _failure(found: Any, out: str | None) -> dict[str, Any]:
    from properties import catalog
    from properties.fuzz.corpus import PLANTED, REGRESSIONS, write_program

    real = found.target in catalog.REAL_TARGETS[found.machine]
    directory = Path(out) if out is not None else REGRESSIONS if real else PLANTED
    path, problem = None, None
    if found.program is None:
        problem = "no regression program could be made (the failure came before any step)"
    else:
        try:
            path = write_program(found.program, directory)
        except OSError as error:
            problem = f"the program could not be written to {directory}: {error}"
    return {
        "machine": found.machine,
        "target": found.target,
        "seed": found.seed,
        "type": found.type,
        "message": found.message,
        "program": None if path is None else str(path),
        "problem": problem,
        "found_by": found.found_by,
    }
