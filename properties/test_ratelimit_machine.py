"""The rate-limit state machine against each algorithm, plain and keyed, coverage enforced."""

from __future__ import annotations

import pytest

from properties.harness.coverage import CoverageTracker
from properties.harness.runner import run_machine
from properties.machines.ratelimit import limit_coverage, rate_limit_machine
from properties.targets.ratelimit import LIMITER_TARGETS


@pytest.mark.parametrize("algorithm", sorted(LIMITER_TARGETS))
def test_limiter_agrees_with_model(algorithm: str) -> None:
    """Every decision, remaining, retry_after, counter and event equals the model's, for every
    key and entry point; the safety bound holds over the whole history; retry_after is honest."""
    coverage = CoverageTracker(limit_coverage(algorithm))
    run_machine(rate_limit_machine(LIMITER_TARGETS[algorithm], coverage), coverage)
