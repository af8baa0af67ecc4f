"""Proof of teeth: the retry property fails against every planted variant of the policy,
deterministically, under the ci profile's budget."""

from __future__ import annotations

import pytest

from properties.harness.runner import expect_falsified
from properties.mutants.retry import RETRY_MUTANTS
from properties.test_retry_properties import check_retry, retry_cases

pytestmark = pytest.mark.teeth


@pytest.mark.parametrize("name", sorted(RETRY_MUTANTS))
def test_retry_property_catches_planted_bug(name: str) -> None:
    caught = expect_falsified(check_retry, retry_cases(RETRY_MUTANTS[name]))
    assert str(caught)
