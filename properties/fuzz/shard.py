"""Fuzzing one target: seeded Hypothesis runs of its machine under the ``nightly`` profile, for a
slice of time, sharing an example database.

A slice first replays what the database holds for the machine (``found_by: "database"``), then
starts one *shard* after another, each a Hypothesis run with its own random seed (``found_by:
"generate"``), until its time is up: the next example then raises ``BudgetSpent`` before it
starts. A shard generates only; when it fails, the failing example is already in the database
(Hypothesis saves it the moment it fails), and a second run replays and shrinks it without a
time limit, so a failure found at the last second is still reported shrunk. For that second run
the new example is moved to the key's secondary corpus first: Hypothesis takes a failing example
of the primary corpus for one it shrank already, and would not shrink it again.

Seed reproduction: a shard's examples depend only on its seed, the code and the profile, so
``reproduce`` (the same settings, no database) meets the same failure at the same example.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from unittest import SkipTest

from hypothesis import Phase, settings
from hypothesis.database import ExampleDatabase, InMemoryExampleDatabase
from hypothesis.internal.reflection import function_digest
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    run_state_machine_as_test,
)

from properties import catalog
from properties.fuzz.tally import Tally
from properties.harness.coverage import CoverageTracker
from properties.harness.trace import (
    Trace,
    TracedMachine,
    TraceError,
    program_from_failure,
    recording,
    type_name,
    watching,
)

__all__ = ["PROFILE", "BudgetSpent", "Found", "TargetFuzzer", "reproduce", "shard_settings"]

#: The profile every fuzz shard runs under.
PROFILE = "nightly"

GENERATE = [Phase.generate, Phase.target]
CORPUS = [Phase.reuse]
SHRINK = [Phase.reuse, Phase.shrink]
REPRODUCE = [Phase.generate, Phase.target, Phase.shrink]


class BudgetSpent(KeyboardInterrupt):
    """The slice's time is up. A ``KeyboardInterrupt``: the one exception Hypothesis' engine lets
    through a run cleanly, as an interruption (any other, even a BaseException, is first recorded
    in its data tree, and the next example that replays that prefix then fails as "inconsistent
    data generation")."""


@dataclasses.dataclass
class Found:
    """A failure: where, how it was found, and its regression program (None if none could be
    made: a health check, say, fails before any step)."""

    machine: str
    target: str
    seed: int | None
    found_by: str  # "generate" or "database"
    type: str
    message: str
    program: dict[str, Any] | None


def shard_settings(database: ExampleDatabase | None, phases: list[Phase]) -> settings:
    """The ``nightly`` profile, random, with ``phases`` and ``database``."""
    return settings(
        settings.get_profile(PROFILE),
        database=database,
        derandomize=False,
        phases=phases,
        report_multiple_bugs=False,
        print_blob=False,
    )


class _Watch:
    """Counts each example's steps into a tally; raises ``BudgetSpent`` once ``until`` passes."""

    def __init__(self, tally: Tally, until: float | None, tick: Callable[[], object]) -> None:
        self.tally = tally
        self.until = until
        self.tick = tick
        self.last: Trace | None = None

    def __call__(self, machine: TracedMachine) -> None:
        self.flush()
        if self.until is not None and time.monotonic() >= self.until:
            raise BudgetSpent
        self.last = machine._trace
        self.tick()

    def flush(self) -> None:
        if self.last is not None:
            self.tally.count_example(self.last.steps)
            self.last = None


def _run(
    machine: type[RuleBasedStateMachine],
    seed: int | None,
    options: settings,
    watch: _Watch,
) -> BaseException | None:
    """One Hypothesis run; the failure it raised, or None (passed, or time up)."""
    machine._hypothesis_internal_use_seed = seed  # as @seed does
    try:
        with recording(True), watching(watch):
            run_state_machine_as_test(machine, settings=options)
    except (BudgetSpent, SkipTest):  # time up; a corpus replay with nothing saved runs nothing
        return None
    except Exception as error:
        return error
    finally:
        watch.flush()
    return None


def _found(
    machine: type[RuleBasedStateMachine],
    tally: Tally,
    error: BaseException,
    seed: int | None,
    found_by: str,
) -> Found:
    try:
        program = program_from_failure(machine, error, profile=PROFILE, seed=seed)
    except (TraceError, LookupError):
        program = None
    failure = (program or {}).get("failure") or {}
    return Found(
        machine=tally.machine,
        target=tally.target,
        seed=seed,
        found_by=found_by,
        type=failure.get("type") or type_name(type(error)),
        message=failure.get("message") or str(error),
        program=program,
    )


class TargetFuzzer:
    """Fuzzes one (machine, target) in slices of time; keeps its tally across slices."""

    def __init__(
        self,
        machine: str,
        target: str,
        database: ExampleDatabase | None,
        tick: Callable[[], object],
    ) -> None:
        self.coverage = CoverageTracker(catalog.coverage_labels(machine, target))
        self.machine = catalog.machine_class(machine, target, self.coverage)
        self.tally = Tally(machine, target, self.coverage.targets, catalog.rule_names(self.machine))
        # Without a shared database, one in memory still lets a failure be shrunk.
        self.database = database if database is not None else InMemoryExampleDatabase()
        self.shared = database is not None
        # The machine's key in the database, computed as Hypothesis computes it.
        test = get_state_machine_test(self.machine)
        self.key = function_digest(test.hypothesis.inner_test)  # type: ignore[attr-defined]
        self.tick = tick
        self.corpus_replayed = False
        self.shrinking = 0.0  # seconds of the current slice spent shrinking (not fuzzing)
        self.slice_started: float | None = None

    def snapshot(self) -> dict[str, Any]:
        """The tally so far, the slice under way included (what a worker sends)."""
        snapshot = self.tally.snapshot()
        snapshot["hits"] = dict(self.coverage.hits)
        if self.slice_started is not None:
            snapshot["seconds"] += time.monotonic() - self.slice_started - self.shrinking
        return snapshot

    def run_slice(self, until: float, seeds: Iterator[int]) -> Found | None:
        """Fuzz until ``until`` (``time.monotonic()``); the first failure found, or None."""
        start = self.slice_started = time.monotonic()
        self.shrinking = 0.0
        try:
            if not self.corpus_replayed and self.shared:
                self.corpus_replayed = True
                found = self._attempt(None, CORPUS, until, "database")
                if found is not None:
                    return found
            while time.monotonic() < until:
                self.tally.shards += 1
                found = self._attempt(next(seeds), GENERATE, until, "generate")
                if found is not None:
                    return found
            return None
        finally:
            self.tally.seconds += time.monotonic() - start - self.shrinking  # steps/s: fuzzing
            self.tally.hits = Counter(self.coverage.hits)
            self.slice_started = None

    def _attempt(
        self, seed: int | None, phases: list[Phase], until: float, found_by: str
    ) -> Found | None:
        watch = _Watch(self.tally, until, self.tick)
        saved = set(self.database.fetch(self.key))
        error = _run(self.machine, seed, shard_settings(self.database, phases), watch)
        if error is None:
            return None
        self.tally.failures += 1
        shrunk = self._shrunk(error, saved, seed)
        return _found(self.machine, self.tally, shrunk, seed, found_by)

    def _shrunk(self, error: BaseException, saved: set[bytes], seed: int | None) -> BaseException:
        """Replay the failure Hypothesis saved and shrink it (not counted in the tally); the
        unshrunk failure if it did not fail again. The shrinker draws from the shard's seed (0
        for a failure found in the database), so a shard's program is the same every time."""
        for new in set(self.database.fetch(self.key)) - saved:
            self.database.move(self.key, self.key + b".secondary", new)
        started, hits = time.monotonic(), Counter(self.coverage.hits)
        scratch = dataclasses.replace(self.tally, rule_steps=Counter(), hits=Counter())
        again = _run(
            self.machine,
            seed if seed is not None else 0,
            shard_settings(self.database, SHRINK),
            _Watch(scratch, None, self.tick),
        )
        self.coverage.hits = hits
        self.shrinking += time.monotonic() - started
        return again if again is not None else error


def reproduce(
    machine: str, target: str, seed: int, *, max_examples: int | None = None
) -> Found | None:
    """Rerun the shard of ``seed``: the same settings as ``fuzz``'s, no database, shrinking.
    The failure, shrunk, or None if the shard passes."""
    coverage = CoverageTracker(catalog.coverage_labels(machine, target))
    cls = catalog.machine_class(machine, target, coverage)
    tally = Tally(machine, target, coverage.targets, ())
    options = shard_settings(None, REPRODUCE)
    if max_examples is not None:
        options = settings(options, max_examples=max_examples)
    error = _run(cls, seed, options, _Watch(tally, None, lambda: None))
    return None if error is None else _found(cls, tally, error, seed, "generate")
