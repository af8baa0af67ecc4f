"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from properties.harness.frozen import FrozenTime


@pytest.fixture
def frozen() -> Iterator[FrozenTime]:
    """Frozen time for the test (a module may define its own, e.g. to tune thread switching)."""
    with FrozenTime() as frozen:
        yield frozen
