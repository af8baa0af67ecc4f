"""Tests-to-failure counts generated test cases up to and including the first failing one: not
Hypothesis' rerun of that case to report it, nor anything after it."""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from properties.mutants.zoo import CaseCounter


@pytest.mark.parametrize("fails_at", [1, 2, 7])
def test_the_failing_case_is_counted_once(fails_at: int) -> None:
    counter = CaseCounter()
    seen = []

    @settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=50)
    @given(st.integers())
    def check(value: int) -> None:
        seen.append(value)
        assert len(seen) < fails_at

    check.hypothesis.inner_test = counter.wrap(check.hypothesis.inner_test)  # type: ignore[attr-defined]
    with pytest.raises(AssertionError):
        check()
    assert counter.first_failure == fails_at
    assert counter.to_failure == fails_at
    assert counter.runs >= fails_at  # Hypothesis reran the failing case to report it


def test_a_passing_check_counts_every_case() -> None:
    counter = CaseCounter()

    @settings(database=None, derandomize=True, phases=[Phase.generate], max_examples=20)
    @given(st.integers())
    def check(value: int) -> None:
        pass

    check.hypothesis.inner_test = counter.wrap(check.hypothesis.inner_test)  # type: ignore[attr-defined]
    check()
    assert counter.first_failure is None
    assert counter.to_failure == counter.runs == 20
