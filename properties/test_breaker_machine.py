"""The breaker state machine against our CircuitBreaker, with coverage targets enforced."""

from __future__ import annotations

from properties.harness.coverage import CoverageTracker
from properties.harness.runner import run_machine
from properties.machines.breaker import BREAKER_COVERAGE, breaker_machine
from properties.targets.breaker import RESILIENCE


def test_breaker_agrees_with_model() -> None:
    """Every call, transition, rejection, metric and event equals BreakerModel's, step by step."""
    coverage = CoverageTracker(BREAKER_COVERAGE)
    run_machine(breaker_machine(RESILIENCE, coverage), coverage)
