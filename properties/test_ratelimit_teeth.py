"""Proof of teeth beyond the zoo (properties/test_zoo.py): the exactness properties fail against
the planted variants they stand guard over, deterministically, under the ci budget."""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from properties.mutants.ratelimit import (
    BucketFloatArithmetic,
    CounterFloatTime,
    GcraToleranceExclusive,
    LogBoundaryInclusive,
    LogRetryFromNewest,
    RetryAfterRoundedDown,
)
from properties.test_ratelimit_exactness import (
    CLASSES,
    cores_match_models,
    gcra_matches_bucket,
    retry_after_exact,
)

pytestmark = pytest.mark.teeth


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
