"""Proof of teeth: the breaker machine fails against the unfixed base package, deterministically,
under the same budget the ci profile gives it (our planted variants: properties/test_zoo.py)."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_caught
from properties.machines.breaker import breaker_machine
from properties.targets.breaker import BASE_PACKAGE

pytestmark = pytest.mark.teeth


def test_machine_catches_unfixed_base_package() -> None:
    """circuitbreaker.CircuitBreaker (0 -> 30 s, call()/with skip the open check, ...) fails."""
    caught = expect_caught(breaker_machine(BASE_PACKAGE))
    assert str(caught)
