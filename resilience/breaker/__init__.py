"""The circuit breaker: ``CircuitBreaker``, its states, config, policies and registry."""

from resilience.breaker.breaker import BreakerState, CircuitBreaker
from resilience.breaker.config import BreakerConfig
from resilience.breaker.policy import ConsecutiveFailures, FailureRate
from resilience.breaker.registry import BreakerRegistry

__all__ = [
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerState",
    "CircuitBreaker",
    "ConsecutiveFailures",
    "FailureRate",
]
