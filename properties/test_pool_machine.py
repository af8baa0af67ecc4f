"""The pool state machine against the sync and the async pool, coverage enforced."""

from __future__ import annotations

import pytest

from properties.harness.coverage import CoverageTracker
from properties.harness.runner import run_machine
from properties.machines.pool import pool_coverage, pool_machine
from properties.targets.pool import POOL_TARGETS


@pytest.mark.parametrize("name", sorted(POOL_TARGETS))
def test_pool_agrees_with_model(name: str) -> None:
    """Which resource each checkout lends, every counter, event and callback call equals the
    model's; the accounting identities hold after every step, cancellations included."""
    target = POOL_TARGETS[name]
    coverage = CoverageTracker(pool_coverage(target.asynchronous))
    run_machine(pool_machine(target, coverage), coverage)
