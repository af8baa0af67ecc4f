"""Proof of teeth: the rate-limit machine fails against every planted variant of our limiters,
deterministically, under the same budget the ci profile gives it."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from properties.harness.runner import expect_caught
from properties.machines.ratelimit import rate_limit_machine
from properties.mutants.ratelimit import (
    RATELIMIT_MUTANTS,
    BucketFloatArithmetic,
    CounterFloatTime,
    DeadlineOnlyFirstLoop,
    DeadlineResetEachLoop,
    GcraToleranceExclusive,
    LogBoundaryInclusive,
    LogRetryFromNewest,
    RetryAfterRoundedDown,
)
from properties.targets.ratelimit import limiter_target
from properties.test_ratelimit_exactness import (
    CLASSES,
    cores_match_models,
    gcra_matches_bucket,
    retry_after_exact,
)
from properties.test_ratelimit_waiting import deadline_kept
from resilience import KeyedLimiter

pytestmark = pytest.mark.teeth


@pytest.mark.parametrize("name", sorted(RATELIMIT_MUTANTS))
def test_machine_catches_planted_bug(name: str) -> None:
    """The machine pointed at a planted variant of a limiter (or of the keyed limiter) fails."""
    algorithm, variant = RATELIMIT_MUTANTS[name]
    if issubclass(variant, KeyedLimiter):
        target = limiter_target(algorithm, keyed_class=variant, name=name)
    else:
        target = limiter_target(algorithm, limiter_class=variant, name=name)
    caught = expect_caught(rate_limit_machine(target))
    assert str(caught)


def _fails(check: object) -> bool:
    """Whether a ``@given`` property fails within the ci budget, deterministically."""
    strict = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                      phases=[Phase.generate], print_blob=False)  # fmt: skip
    try:
        strict(check)()  # type: ignore[operator]
    except AssertionError:
        return True
    return False


@pytest.mark.parametrize("variant", [BucketFloatArithmetic, GcraToleranceExclusive])
def test_differential_catches_planted_bug(variant: type) -> None:
    """GCRA-vs-bucket fails when either side is a planted variant."""
    if issubclass(variant, CLASSES["gcra"]):
        assert _fails(gcra_matches_bucket(gcra_class=variant))
    else:
        assert _fails(gcra_matches_bucket(bucket_class=variant))


@pytest.mark.parametrize(
    ("algorithm", "variant"),
    [
        ("token_bucket", RetryAfterRoundedDown),
        ("gcra", GcraToleranceExclusive),
        ("sliding_log", LogRetryFromNewest),
        ("sliding_log", LogBoundaryInclusive),
    ],
)
def test_nanosecond_honesty_catches_planted_bug(algorithm: str, variant: type) -> None:
    """The nanosecond retry_after property fails against a limiter whose retry_after lies."""
    assert _fails(retry_after_exact({algorithm: variant}))


@pytest.mark.parametrize(
    ("algorithm", "variant"),
    [("token_bucket", BucketFloatArithmetic), ("sliding_counter", CounterFloatTime)],
)
def test_model_agreement_at_any_instant_catches_float_time(algorithm: str, variant: type) -> None:
    """The core-vs-model property, at any instant, catches float time arithmetic."""
    assert _fails(cores_match_models({algorithm: variant}))


@pytest.mark.parametrize("variant", [DeadlineResetEachLoop, DeadlineOnlyFirstLoop])
def test_deadline_property_catches_planted_bug(variant: type) -> None:
    """A waiter that forgets its deadline after the first sleep is caught under competition."""
    assert _fails(deadline_kept(variant))
