"""``python -m properties parallel``: the parallel checker for a time budget, with new random
programs (the nightly depth, for as long as you give it).

Each component gets an equal share of the minutes. Programs come from a seeded Hypothesis run
(``--seed``: the same programs again; thread interleavings are the machine's own, so a rare race
may still need several tries). Each program runs ``--runs`` times; a failure stops that
component, and its report (the program, the timeline, the longest linearizable prefix) is
printed and written to ``--out``. Exit status 1 if any component failed.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

from properties.parallel.components import targets
from properties.parallel.harness import Exploration, programs
from properties.parallel.property import linearizable

__all__ = ["Outcome", "run_parallel"]


CHUNK = 20  # programs per Hypothesis run: the time budget is checked between runs


@dataclass
class Outcome:
    component: str
    programs: int = 0
    runs: int = 0
    check_ms: list[float] = field(default_factory=list)
    unknown: int = 0
    failure: str | None = None
    #: Programs and runs up to and including the first failing one, and seconds until it failed.
    to_failure: tuple[int, int, float] | None = None

    def line(self) -> str:
        ms = sorted(self.check_ms) or [0.0]
        verdict = "ok"
        if self.to_failure is not None:
            programs, runs, seconds = self.to_failure
            verdict = f"FAILED at program {programs} (run {runs}, {seconds:.1f} s)"
        return (
            f"{self.component}: {verdict}, {self.programs} programs, {self.runs} runs, "
            f"checker median {statistics.median(ms):.2f} ms, worst {ms[-1]:.2f} ms, "
            f"{self.unknown} unknown"
        )


def run_parallel(
    names: list[str], minutes: float, runs: int, base_seed: int | None, out: Path | None
) -> int:
    base = random.getrandbits(32) if base_seed is None else base_seed
    share = minutes * 60 / len(names)
    print(f"parallel: {', '.join(names)} for {minutes:g} min, {runs} runs a program, seed {base}")
    outcomes = [_fuzz(name, share, runs, base) for name in names]
    for outcome in outcomes:
        print(outcome.line())
        if outcome.failure is not None:
            print(outcome.failure)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                path = out / f"parallel-{outcome.component}-{base}.txt"
                path.write_text(outcome.failure + "\n")
                print(f"written to {path}")
    return 1 if any(outcome.failure for outcome in outcomes) else 0


def _fuzz(name: str, seconds: float, runs: int, base: int) -> Outcome:
    """Hypothesis runs of ``CHUNK`` programs each (seeds ``base``, ``base + 1``, ...) until the
    time is up or one fails (then shrunk, as usual)."""
    component = targets()[name]
    outcome = Outcome(name)
    started = time.monotonic()

    def observe(found: Exploration) -> None:
        outcome.programs += 1
        outcome.runs += found.runs
        outcome.check_ms += [s * 1000 for s in found.seconds]
        outcome.unknown += found.unknown
        if found.failure is not None and outcome.to_failure is None:
            elapsed = time.monotonic() - started
            outcome.to_failure = (outcome.programs, outcome.runs, elapsed)

    one = linearizable(component, runs, observe)

    chunk = 0
    while time.monotonic() - started < seconds:
        test = seed(base + chunk)(
            settings(
                database=None,
                derandomize=False,
                deadline=None,
                max_examples=CHUNK,
                phases=[Phase.generate, Phase.shrink],
                report_multiple_bugs=False,
                suppress_health_check=list(HealthCheck),
            )(given(programs(component))(one))
        )
        chunk += 1
        try:
            test()
        except Exception as error:  # the shrunk failure (possibly wrapped as flaky by Hypothesis)
            outcome.failure = _report(error)
            break
    return outcome


def _report(error: BaseException) -> str:
    if isinstance(error, AssertionError):
        return str(error)
    inner = getattr(error, "exceptions", ())
    found = next((e for e in inner if isinstance(e, AssertionError)), None)
    return str(found) if found is not None else f"{type(error).__name__}: {error}"
