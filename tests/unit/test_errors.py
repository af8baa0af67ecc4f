"""The error classes themselves, built directly: what ``CircuitOpenError`` says for every range of
``retry_after`` (forced open: until reset; open: retry after so many seconds, however few;
half-open and full: every probe slot is taken). The breaker's own scenarios are pinned in
``test_breaker_messages.py``; this table pins the wording rule at its boundaries."""

from __future__ import annotations

import math

import pytest
from circuitbreaker import CircuitBreakerError

from resilience import CircuitOpenError, ResilienceError

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
