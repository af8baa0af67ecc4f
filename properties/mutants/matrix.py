"""The kill matrix: every planted bug of the zoo against the check that must kill it, for
several independent seeds, measuring tests-to-failure (generated test cases up to and including
the first failing one).

Each trial is a fresh Hypothesis run: its own seed, its own in-memory example database (nothing
replays from another mutant or another trial), generation only (no shrinking: only detection is
measured), at most ``max_examples`` test cases. A mutant is *killed* when every trial fails;
the failure that counts is an assertion, or a crash inside the library or the planted variant
(a crash in the suite itself is an error, never a kill).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from hypothesis import Phase, settings
from hypothesis.database import InMemoryExampleDatabase
from hypothesis.errors import FlakyFailure

from properties.mutants.zoo import COMPONENTS, CaseCounter, Mutant, zoo

__all__ = ["Trial", "components", "guard_settings", "kill", "mutant_result", "trial_settings"]

_ROOT = Path(__file__).resolve().parents[2]
# A crash counts as a kill only inside the library or a planted variant's own module (never in
# the zoo or this matrix: a broken harness must not pass for a caught bug).
VARIANT_MODULES = ("breaker", "bulkhead", "chain", "pool", "ratelimit", "retry")
_TARGET_CODE = (
    "/resilience/",
    *(f"/properties/mutants/{name}.py" for name in VARIANT_MODULES),
)


@dataclasses.dataclass(frozen=True)
class Trial:
    killed: bool
    tests: int  # test cases run, the failing one included
    killed_by: str | None  # the check that failed: "invariant x (properties/...py:12)"
    error: str | None  # the suite itself crashed (neither a kill nor a survival)
    seconds: float


def trial_settings(max_examples: int) -> settings:
    """A matrix trial: the ``ci`` profile's steps, random, isolated, generation only."""
    return settings(
        settings.get_profile("ci"),
        derandomize=False,
        database=InMemoryExampleDatabase(),
        phases=[Phase.generate],
        max_examples=max_examples,
        report_multiple_bugs=False,
        print_blob=False,
    )


def guard_settings() -> settings:
    """The CI guard: the ``ci`` profile as it is (derandomized, 200 examples), generation only."""
    return settings(
        settings.get_profile("ci"),
        database=None,
        phases=[Phase.generate],
        report_multiple_bugs=False,
        print_blob=False,
    )


def _site(error: BaseException) -> str:
    """Where the suite noticed: the innermost frame in the suite's checks (a machine, a model,
    a property), as ``function (path:line)``; a crash adds what was raised."""
    frames = traceback.extract_tb(error.__traceback__)
    checks = [
        frame
        for frame in frames
        if "/properties/" in frame.filename.replace("\\", "/")
        and "/properties/harness/" not in frame.filename.replace("\\", "/")
        and "/properties/mutants/" not in frame.filename.replace("\\", "/")
    ]
    frame = checks[-1] if checks else frames[-1]
    path = Path(frame.filename)
    try:
        shown = path.resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        shown = path.name
    site = f"{frame.name} ({shown}:{frame.lineno})"
    return site if isinstance(error, AssertionError) else f"{site} raised {type(error).__name__}"


def _unflaky(error: BaseException) -> BaseException:
    """The failure inside a ``FlakyFailure``: a race (a concurrency bug under the parallel
    checker) can fail a test case and pass its replay. The failure was seen: it is the kill."""
    if isinstance(error, FlakyFailure):
        inner = [e for e in error.exceptions if isinstance(e, AssertionError)]
        if inner:
            return inner[0]
    return error


def _is_kill(error: BaseException) -> bool:
    if isinstance(error, AssertionError):
        return True
    frames = traceback.extract_tb(error.__traceback__)
    where = frames[-1].filename.replace("\\", "/") if frames else ""
    return any(part in where for part in _TARGET_CODE)


def kill(mutant: Mutant, options: settings, seed: int | None = None) -> Trial:
    """One run of the mutant's check under ``options``."""
    counter = CaseCounter()
    started = time.monotonic()
    try:
        mutant.run(options, counter, seed)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as raised:  # a CancelledError escaping a variant is a crash too
        seconds = time.monotonic() - started
        error = _unflaky(raised)
        if _is_kill(error) and counter.first_failure is not None:
            return Trial(True, counter.to_failure, _site(error), None, seconds)
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return Trial(False, counter.runs, None, f"{_site(error)}: {detail}", seconds)
    return Trial(False, counter.runs, None, None, time.monotonic() - started)


def _seed(name: str, trial: int) -> int:
    return zlib.crc32(f"{name}:{trial}".encode())


def mutant_result(mutant: Mutant, trials: int, max_examples: int) -> dict[str, Any]:
    """The matrix row of ``mutant``: ``trials`` independent seeded runs."""
    runs = [
        kill(mutant, trial_settings(max_examples), _seed(mutant.name, t)) for t in range(trials)
    ]
    kills = [run for run in runs if run.killed]
    sites = Counter(run.killed_by for run in kills)
    return {
        "name": mutant.name,
        "component": mutant.component,
        "bug_class": mutant.bug_class,
        "slip": mutant.slip,
        "killer": mutant.killer,
        "concurrency": mutant.concurrency,
        "killed": len(kills) == trials,
        "kills": len(kills),
        "trials": trials,
        "killed_by": sites.most_common(1)[0][0] if sites else None,  # the most frequent
        # Over every trial, or None: a median over the kills alone would flatter a survivor.
        "tests_to_failure": {
            "median": statistics.median(run.tests for run in runs)
            if len(kills) == trials
            else None,
            "max": max(run.tests for run in runs) if len(kills) == trials else None,
        },
        "errors": [run.error for run in runs if run.error],
        "seconds": round(sum(run.seconds for run in runs), 2),
    }


def components(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per component: how many mutants, how many killed, the kill rate, and the median and worst
    tests-to-failure (the median of the mutants' medians; the worst trial)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["component"], []).append(row)
    found = {}
    for component in sorted(by, key=lambda c: COMPONENTS.index(c) if c in COMPONENTS else 99):
        members = by[component]
        medians = [r["tests_to_failure"]["median"] for r in members if r["killed"]]
        worst = [r["tests_to_failure"]["max"] for r in members if r["killed"]]
        killed = sum(1 for r in members if r["killed"])
        found[component] = {
            "mutants": len(members),
            "killed": killed,
            "kill_rate": round(killed / len(members), 3),
            "median_tests_to_failure": statistics.median(medians) if medians else None,
            "worst_tests_to_failure": max(worst) if worst else None,
            "seconds": round(sum(r["seconds"] for r in members), 1),
        }
    return found


def select(names: Iterable[str], wanted_components: Iterable[str]) -> list[Mutant]:
    """The zoo, or the named mutants and components of it (``LookupError`` for unknown ones)."""
    everything = zoo()
    names, wanted = list(names), set(wanted_components)
    by_name = {mutant.name: mutant for mutant in everything}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise LookupError(f"no planted bug named {', '.join(unknown)} (see `mutants --list`)")
    chosen = [by_name[name] for name in dict.fromkeys(names)]
    chosen += [m for m in everything if m.component in wanted and m not in chosen]
    return chosen if names or wanted else everything


def row_line(row: dict[str, Any]) -> str:
    ttf = row["tests_to_failure"]
    if row["killed"]:
        verdict = "killed  "
    elif row["errors"]:
        verdict = f"ERROR ({len(row['errors'])}/{row['trials']})"
    else:
        verdict = f"SURVIVED ({row['kills']}/{row['trials']})"
    tests = "-" if ttf["median"] is None else f"{ttf['median']:g}/{ttf['max']}"
    return (
        f"{verdict:<16} {row['component']:<17} {row['name']:<34} tests {tests:<9} "
        f"{row['seconds']:>6.1f}s  {row['killed_by'] or '; '.join(row['errors']) or ''}"
    )


Echo = Callable[[str], object]
