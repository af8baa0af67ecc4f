"""The chain machine against the real Pipeline, with coverage targets enforced."""

from __future__ import annotations

from properties.harness.coverage import CoverageTracker
from properties.harness.runner import run_machine
from properties.machines.chain import CHAIN_COVERAGE, chain_machine
from properties.targets.chain import RESILIENCE


def test_chain_agrees_with_model() -> None:
    """Every call's outcome, the time it took, the laws of the order, and every layer's metrics
    equal ChainModel's (itself built from the component models), step by step."""
    coverage = CoverageTracker(CHAIN_COVERAGE)
    run_machine(chain_machine(RESILIENCE, coverage), coverage)
