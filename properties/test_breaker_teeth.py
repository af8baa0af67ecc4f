"""Proof of teeth: the breaker machine fails against the unfixed base package and against every
planted variant of ours, deterministically, under the same budget the ci profile gives it."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_caught
from properties.machines.breaker import breaker_machine
from properties.mutants.breaker import BREAKER_MUTANTS
from properties.targets.breaker import BASE_PACKAGE, resilience_target

pytestmark = pytest.mark.teeth


def test_machine_catches_unfixed_base_package() -> None:
    """circuitbreaker.CircuitBreaker (0 -> 30 s, call()/with skip the open check, ...) fails."""
    caught = expect_caught(breaker_machine(BASE_PACKAGE))
    assert str(caught)


@pytest.mark.parametrize("name", sorted(BREAKER_MUTANTS))
def test_machine_catches_planted_bug(name: str) -> None:
    """The machine pointed at a planted variant of our breaker fails."""
    caught = expect_caught(breaker_machine(resilience_target(name, BREAKER_MUTANTS[name])))
    assert str(caught)
