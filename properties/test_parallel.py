"""Parallel state-machine testing: programs of a prefix and 2-4 branches run on real threads
against each real component, every history checked for linearizability against the model
(``properties/parallel/``). Effort per profile: ``properties.parallel.property.EFFORT``."""

from __future__ import annotations

import pytest

from properties.parallel.components import COMPONENTS
from properties.parallel.property import parallel_test

pytestmark = pytest.mark.parallel


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_history_is_linearizable(name: str) -> None:
    parallel_test(COMPONENTS[name])()
