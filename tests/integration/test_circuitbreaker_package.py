"""Our subclass inside the real circuitbreaker package's machinery."""

from __future__ import annotations

import circuitbreaker
import pytest

from properties.harness.frozen import FrozenTime
from resilience import CircuitBreaker, CircuitOpenError


class Boom(Exception):
    pass


def test_circuit_decorator_with_our_class_runs_the_full_cycle() -> None:
    """circuit(cls=CircuitBreaker): CLOSED -> OPEN -> HALF_OPEN -> CLOSED under frozen time."""
    with FrozenTime() as frozen:
        calls = {"n": 0}

        @circuitbreaker.circuit(failure_threshold=2, recovery_timeout=10, cls=CircuitBreaker)
        def flaky(fail: bool) -> str:
            calls["n"] += 1
            if fail:
                raise Boom
            return "ok"

        breaker = circuitbreaker.CircuitBreakerMonitor.get(
            "test_circuit_decorator_with_our_class_runs_the_full_cycle.<locals>.flaky"
        )
        assert isinstance(breaker, CircuitBreaker)
        for _ in range(2):
            with pytest.raises(Boom):
                flaky(True)
        assert breaker.state == circuitbreaker.STATE_OPEN
        assert list(circuitbreaker.CircuitBreakerMonitor.get_open()) == [breaker]
        with pytest.raises(circuitbreaker.CircuitBreakerError) as info:
            flaky(False)
        assert isinstance(info.value, CircuitOpenError)
        assert calls["n"] == 2  # the rejected call never ran
        frozen.advance_us(9_999_999)
        assert breaker.state == circuitbreaker.STATE_OPEN
        frozen.advance_us(1)
        assert breaker.state == circuitbreaker.STATE_HALF_OPEN
        assert flaky(False) == "ok"
        assert breaker.state == circuitbreaker.STATE_CLOSED
        assert list(circuitbreaker.CircuitBreakerMonitor.get_closed()) == [breaker]


def test_bare_circuit_decorator_with_our_class() -> None:
    """@circuit(cls=...) without arguments uses our class defaults."""
    decorate = circuitbreaker.circuit(cls=CircuitBreaker)

    @decorate
    def f() -> int:
        return 1

    assert f() == 1
    (breaker,) = circuitbreaker.CircuitBreakerMonitor.get_circuits()
    assert isinstance(breaker, CircuitBreaker)
    assert breaker.config.failure_threshold == CircuitBreaker.FAILURE_THRESHOLD


def test_subclass_is_a_base_circuitbreaker() -> None:
    """isinstance checks and the base package's attributes keep working."""
    breaker = CircuitBreaker(failure_threshold=3, recovery_timeout=0, name="x")
    assert isinstance(breaker, circuitbreaker.CircuitBreaker)
    assert breaker.name == "x"
    assert str(breaker) == "x"
    assert breaker.closed
    assert not breaker.opened
    assert breaker.last_failure is None
    assert breaker._recovery_timeout == 0  # the base class would have made it 30


def test_monitor_starts_empty_in_every_test() -> None:
    """The autouse fixture clears CircuitBreakerMonitor, so breakers never leak across tests."""
    assert circuitbreaker.CircuitBreakerMonitor.circuit_breakers == {}
    CircuitBreaker(name="leak")(lambda: None)
    assert "leak" in circuitbreaker.CircuitBreakerMonitor.circuit_breakers
