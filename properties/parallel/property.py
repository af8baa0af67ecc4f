"""The parallel property as a Hypothesis test: generated programs, each run several times, every
history checked.

A race shows up in some runs of a program and not others, so a failing program is *sticky*:
once it has failed, every later execution of the same program (Hypothesis' shrinking, and its
final replay to report) runs it ``STICKY`` times as often, which makes the failure reproduce
instead of being reported as flaky.

How hard each profile tries (programs, runs per program) is set here, by profile name:
``ci`` stays within seconds per component; ``nightly`` and the fuzz CLI go deeper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import event, given, settings

from properties.parallel.harness import Component, Exploration, Program, explore, programs

__all__ = [
    "BUDGET",
    "EFFORT",
    "STICKY",
    "effort",
    "given_programs",
    "linearizable",
    "parallel_test",
]

#: Per profile: (programs, runs of each program).
EFFORT: dict[str, tuple[int, int]] = {
    "dev": (50, 5),
    "ci": (100, 5),
    "nightly": (1000, 20),
    "replay": (50, 20),
    "mutation": (20, 3),
}
STICKY = 20
BUDGET = 1.0  # seconds of checker search per history before it answers "unknown"


def effort() -> tuple[int, int]:
    """(programs, runs) for the profile loaded now."""
    return EFFORT.get(settings.get_current_profile_name(), EFFORT["dev"])


def linearizable(
    component: Component, runs: int, observe: Callable[[Exploration], None] | None = None
) -> Callable[[Program], None]:
    """A check of one program: run it ``runs`` times and fail with the report of the first
    history that is not linearizable (or of a run that hung). ``observe`` sees every program's
    exploration first (the deep runs' statistics)."""
    failed: set[Program] = set()

    def check_program(program: Program) -> None:
        found = explore(program, component, runs * STICKY if program in failed else runs, BUDGET)
        if observe is not None:
            observe(found)
        if found.unknown:
            event(f"{component.name}: checker budget exceeded (unknown)")
        if found.failure is not None:
            failed.add(program)
            raise AssertionError(found.failure)

    return check_program


def parallel_test(
    component: Component, examples: int | None = None, runs: int | None = None
) -> Callable[..., Any]:
    """A ``@given`` test of ``component``'s programs, with the loaded profile's effort unless
    ``examples`` or ``runs`` say otherwise."""
    default_examples, default_runs = effort()
    return settings(max_examples=examples or default_examples)(
        given_programs(component, runs or default_runs)
    )


def given_programs(component: Component, runs: int) -> Callable[..., Any]:
    """The ``@given`` test of ``component``'s programs, without settings (the caller's apply)."""
    check_program = linearizable(component, runs)

    @given(program=programs(component))
    def test(program: Program) -> None:
        check_program(program)

    return test
