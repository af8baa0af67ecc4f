"""Proof of teeth: the chain machine catches each planted composition bug under the ci budget."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_caught
from properties.machines.chain import chain_machine
from properties.mutants.chain import CHAIN_MUTANTS

pytestmark = pytest.mark.teeth


@pytest.mark.parametrize("name", sorted(CHAIN_MUTANTS))
def test_chain_machine_catches(name: str) -> None:
    caught = expect_caught(chain_machine(CHAIN_MUTANTS[name]))
    assert str(caught)
