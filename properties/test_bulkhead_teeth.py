"""Proof of teeth: the bulkhead machine fails against every planted variant of the bulkhead,
deterministically, under the same budget the ci profile gives it."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_caught
from properties.machines.bulkhead import bulkhead_machine
from properties.mutants.bulkhead import BULKHEAD_MUTANTS
from properties.targets.bulkhead import bulkhead_target

pytestmark = pytest.mark.teeth


@pytest.mark.parametrize("name", sorted(BULKHEAD_MUTANTS))
def test_machine_catches_planted_bug(name: str) -> None:
    """The bulkhead machine pointed at a planted variant of the bulkhead fails."""
    asynchronous, bulkhead_class = BULKHEAD_MUTANTS[name]
    caught = expect_caught(bulkhead_machine(bulkhead_target(asynchronous, bulkhead_class, name)))
    assert str(caught)
