"""The bulkhead state machine against the sync and the async bulkhead, coverage enforced."""

from __future__ import annotations

import pytest

from properties.harness.coverage import CoverageTracker
from properties.harness.runner import run_machine
from properties.machines.bulkhead import bulkhead_coverage, bulkhead_machine
from properties.targets.bulkhead import BULKHEAD_TARGETS


@pytest.mark.parametrize("name", sorted(BULKHEAD_TARGETS))
def test_bulkhead_agrees_with_model(name: str) -> None:
    """Who is admitted, refused, served or times out, every counter and event equals the
    model's; the accounting identities hold after every step, cancellations included."""
    target = BULKHEAD_TARGETS[name]
    coverage = CoverageTracker(bulkhead_coverage(target.asynchronous))
    run_machine(bulkhead_machine(target, coverage), coverage)
