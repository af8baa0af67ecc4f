"""Proof of teeth: the pool machine fails against every planted variant of the pool core,
deterministically, under the same budget the ci profile gives it."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_caught
from properties.machines.pool import pool_machine
from properties.mutants.pool import POOL_MUTANTS
from properties.targets.pool import pool_target

pytestmark = pytest.mark.teeth


@pytest.mark.parametrize("name", sorted(POOL_MUTANTS))
def test_machine_catches_planted_bug(name: str) -> None:
    """The pool machine pointed at a planted variant of the pool fails."""
    asynchronous, pool_class = POOL_MUTANTS[name]
    caught = expect_caught(pool_machine(pool_target(asynchronous, pool_class, name)))
    assert str(caught)
