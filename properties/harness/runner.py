"""Running machines from pytest: under the active profile (with coverage targets enforced), or
against a planted bug (where the machine, or a property, must fail)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import TypeVar

from hypothesis import Phase, given, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from hypothesis.strategies import SearchStrategy

from properties.harness.coverage import CoverageTracker
from properties.harness.profiles import COVERAGE_PROFILES

__all__ = ["expect_caught", "expect_falsified", "run_machine"]

T = TypeVar("T")


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


def _caught_settings() -> settings:
    """Deterministic in every profile (derandomized, no database, no shrinking: only detection
    matters), with at least the ``ci`` profile's budget, so "caught" means caught every time."""
    return settings(
        settings.default,
        max_examples=max(settings.default.max_examples, 200),
        stateful_step_count=max(settings.default.stateful_step_count, 50),
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        report_multiple_bugs=False,
        print_blob=False,
    )


def expect_caught(machine: Callable[[], RuleBasedStateMachine]) -> Exception:
    """Run ``machine`` (pointed at a planted bug) and return the failure that caught it: an
    assertion, or a crash inside the library or the planted variant."""
    active = _caught_settings()
    return _caught(lambda: run_state_machine_as_test(machine, settings=active), active)


def expect_falsified(check: Callable[[T], None], cases: SearchStrategy[T]) -> Exception:
    """Run the property ``check`` (pointed at a planted bug) over ``cases`` and return the failure
    that falsified it, as ``expect_caught`` does for machines."""
    active = _caught_settings()

    @active
    @given(cases)
    def falsify(case: T) -> None:
        check(case)

    return _caught(falsify, active)


def _caught(run: Callable[[], None], active: settings) -> Exception:
    try:
        run()
    except AssertionError as caught:
        return caught
    except Exception as crashed:
        # The implementation under test crashed: caught too, but only if the crash comes from the
        # library or a planted variant, never from a slip in the machine itself.
        frames = traceback.extract_tb(crashed.__traceback__)
        if frames and any(part in frames[-1].filename for part in _TARGET_CODE):
            return crashed
        raise
    raise AssertionError(
        f"the property passed {active.max_examples} examples: the planted bug went unnoticed"
    )


_TARGET_CODE = (f"{os.sep}resilience{os.sep}", f"{os.sep}mutants{os.sep}")
