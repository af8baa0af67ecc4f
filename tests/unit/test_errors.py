"""The error classes themselves, built directly: what ``CircuitOpenError`` says for every range of
``retry_after`` (forced open: until reset; open: retry after so many seconds, however few;
half-open and full: every probe slot is taken), and what ``RateLimited`` says and carries with
and without a key and a cost (1 unless given). The components' own scenarios are pinned in their
message tests; these tables pin each class's wording rule at its boundaries."""

from __future__ import annotations

import math
from typing import Any

import pytest
from circuitbreaker import CircuitBreakerError

from resilience import CircuitOpenError, RateLimited, ResilienceError

# state, retry_after, what str(error) says
OPEN_MESSAGES = [
    ("open", math.inf, 'circuit "db" is open: until reset()'),
    ("open", 7.5, 'circuit "db" is open: retry after 7.5 s'),
    ("open", 1.0, 'circuit "db" is open: retry after 1 s'),
    ("open", 0.25, 'circuit "db" is open: retry after 0.25 s'),
    ("open", 1e-06, 'circuit "db" is open: retry after 1e-06 s'),
    ("open", 1234.5678901, 'circuit "db" is open: retry after 1234.57 s'),
    ("half_open", 0.0, 'circuit "db" is half_open: every probe slot is taken'),
]


@pytest.mark.parametrize(("state", "retry_after", "message"), OPEN_MESSAGES)
def test_circuit_open_error_says_when_to_retry(
    state: str, retry_after: float, message: str
) -> None:
    """CircuitOpenError's message names the circuit and its state, and says when a call may be
    admitted: "until reset()" when forced open, "retry after N s" (6 significant digits) for any
    positive wait, "every probe slot is taken" for none; it carries what it says."""
    error = CircuitOpenError("db", state=state, retry_after=retry_after)
    assert str(error) == message
    assert (error.breaker_name, error.state, error.retry_after) == ("db", state, retry_after)
    assert isinstance(error, ResilienceError)
    assert isinstance(error, CircuitBreakerError)


# the keyword arguments besides the limiter's name "api", what str(error) says
RATE_LIMITED = [
    ({"retry_after_ns": 1_500_000}, 'rate limit "api" exceeded (cost 1): retry after 0.0015 s'),
    (
        {"retry_after_ns": 2_000_000_000, "cost": 3},
        'rate limit "api" exceeded (cost 3): retry after 2 s',
    ),
    (
        {"retry_after_ns": 1, "key": ("tenant", 7)},
        "rate limit \"api\" for key ('tenant', 7) exceeded (cost 1): retry after 1e-09 s",
    ),
    (
        {"retry_after_ns": 123_456_789_012, "cost": 2, "key": "k"},
        "rate limit \"api\" for key 'k' exceeded (cost 2): retry after 123.456789 s",
    ),
]


@pytest.mark.parametrize(("given", "message"), RATE_LIMITED)
def test_rate_limited_says_what_was_refused_and_when_to_retry(
    given: dict[str, Any], message: str
) -> None:
    """RateLimited names the limiter (and the key, if any), the cost (1 unless given) and the
    seconds to wait (9 significant digits), and carries each: retry_after is retry_after_ns in
    seconds."""
    error = RateLimited("api", **given)
    assert str(error) == message
    assert error.limiter == "api"
    assert error.retry_after_ns == given["retry_after_ns"]
    assert error.retry_after == given["retry_after_ns"] / 1e9
    assert error.cost == given.get("cost", 1)
    assert error.key == given.get("key")
