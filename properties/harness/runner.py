"""Running machines from pytest: under the active profile (with coverage targets enforced), or
against a planted bug (where the machine must fail)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from properties.harness.coverage import CoverageTracker
from properties.harness.profiles import COVERAGE_PROFILES

__all__ = ["expect_caught", "run_machine"]


def run_machine(
    machine: Callable[[], RuleBasedStateMachine], coverage: CoverageTracker | None = None
) -> None:
    """Run ``machine`` under the active profile; in the coverage profiles (ci, nightly), fail if a
    declared coverage target was never reached."""
    active = settings.default
    run_state_machine_as_test(machine, settings=active)
    generating = Phase.generate in active.phases
    if (
        coverage is not None
        and generating
        and settings.get_current_profile_name() in COVERAGE_PROFILES
    ):
        missing = coverage.missing()
        assert not missing, (
            f"the {settings.get_current_profile_name()} profile never reached: {missing}"
        )


def expect_caught(machine: Callable[[], RuleBasedStateMachine]) -> AssertionError:
    """Run ``machine`` (pointed at a planted bug) and return the assertion that caught it.

    Deterministic in every profile (derandomized, no database, no shrinking: only detection
    matters), with at least the ``ci`` profile's budget, so "caught" means caught every time.
    """
    budget = max(settings.default.max_examples, 200)
    steps = max(settings.default.stateful_step_count, 50)
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                settings.default,
                max_examples=budget,
                stateful_step_count=steps,
                derandomize=True,
                database=None,
                phases=[Phase.generate],
                report_multiple_bugs=False,
                print_blob=False,
            ),
        )
    except AssertionError as caught:
        return caught
    raise AssertionError(f"the machine passed {budget} examples: the planted bug went unnoticed")
