"""The properties harness itself: frozen time, the sleeping clock, profiles, coverage."""

from __future__ import annotations

import time

import freezegun.api
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import FREEZE_START, FrozenClock, FrozenTime
from properties.harness.profiles import PROFILES, choose_profile


def test_frozen_time_starts_after_the_epoch_and_moves_forward_only() -> None:
    """monotonic_ns starts at one day, moves by whole microseconds, never backwards."""
    with FrozenTime() as frozen:
        start = time.monotonic_ns()
        assert start == 86_400 * 10**9
        frozen.advance_us(1)
        assert time.monotonic_ns() == start + 1_000
        with pytest.raises(ValueError, match="microseconds"):
            frozen.advance_us(-1)
        with pytest.raises(ValueError, match="whole microseconds"):
            frozen.advance_ns(1_500)
        assert FREEZE_START.year == 1970


def test_stop_is_idempotent_and_restores_real_time() -> None:
    """stop() twice is harmless; afterwards time is real and stack inspection restored."""
    limit = freezegun.api.call_stack_inspection_limit
    frozen = FrozenTime().start()
    assert freezegun.api.call_stack_inspection_limit == 0
    frozen.stop()
    frozen.stop()
    assert not frozen.running
    assert freezegun.api.call_stack_inspection_limit == limit
    assert time.time() > 1e9  # frozen, it would read 86400 (1970-01-02)


def test_frozen_clock_sleep_advances_time_exactly() -> None:
    """FrozenClock.sleep(0.1) moves exactly 100 ms; partial microseconds round up."""
    with FrozenTime() as frozen:
        clock = FrozenClock(frozen)
        before = clock.monotonic_ns()
        clock.sleep(0.1)
        assert clock.monotonic_ns() - before == 100_000_000
        clock.sleep(0.0000001)
        assert clock.monotonic_ns() - before == 100_001_000
        with pytest.raises(ValueError):
            clock.sleep(-1)


def test_threads_see_frozen_time() -> None:
    """A thread's reads are frozen too (stack inspection is off while frozen)."""
    import threading

    seen: list[int] = []
    with FrozenTime():
        thread = threading.Thread(target=lambda: seen.append(time.monotonic_ns()))
        thread.start()
        thread.join()
        assert seen == [time.monotonic_ns()]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"CI": "1"}, "ci"),
        ({"CI": "false"}, "dev"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "nightly"}, "nightly"),
        ({"HYPOTHESIS_PROFILE": "replay"}, "replay"),
    ],
)
def test_profile_choice(environ: dict[str, str], expected: str) -> None:
    """HYPOTHESIS_PROFILE beats CI, which beats the default dev."""
    assert choose_profile(environ) == expected


def test_unknown_profile_is_an_error() -> None:
    """A typo in HYPOTHESIS_PROFILE is reported, not ignored."""
    with pytest.raises(ValueError, match="not a profile"):
        choose_profile({"HYPOTHESIS_PROFILE": "nighlty"})


def test_registered_profiles_keep_their_numbers() -> None:
    """ci is derandomized without a database; no stateful profile goes below 50 steps."""
    ci = settings.get_profile("ci")
    assert ci.derandomize
    assert ci.database is None
    for name in PROFILES:
        assert settings.get_profile(name).stateful_step_count >= 50
    assert not settings.get_profile("nightly").derandomize
    mutation = settings.get_profile("mutation")  # mutmut: no verdict depends on mutant order
    assert mutation.derandomize
    assert mutation.database is None
    assert Phase.shrink not in mutation.phases


def test_coverage_tracker_rejects_undeclared_labels() -> None:
    """Reaching an undeclared label is a bug in the machine, not a silent no-op."""
    tracker = CoverageTracker(frozenset({"a", "b"}))
    with pytest.raises(KeyError):
        tracker.reach("c")
    assert tracker.missing() == ["a", "b"]


def test_coverage_tracker_counts_examples_not_reaches() -> None:
    """``hits`` is the number of examples that reached a label (what ``fuzz`` reports): an
    example reaching it three times counts once."""
    tracker = CoverageTracker(frozenset({"a", "b"}))
    runs = []

    @settings(max_examples=5, database=None, derandomize=True, phases=[Phase.generate])
    @given(st.integers(0, 3))
    def reach(times: int) -> None:
        runs.append(times)
        for _ in range(times):
            tracker.reach("a")

    reach()
    assert tracker.hits["a"] == sum(1 for times in runs if times)
    assert tracker.hits["b"] == 0
    assert tracker.missing() == ["b"]
