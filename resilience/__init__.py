"""resilience: circuit breaking (retry, rate limiting and pooling to come), proven by models."""

from resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from resilience.clock import Clock, SystemClock
from resilience.errors import CircuitOpenError, ConfigError, ResilienceError
from resilience.events import (
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    Event,
    Listeners,
    StateChanged,
)

__version__ = "0.1.0"

#: The default registry of named breakers (``breakers.get_or_create("payments", ...)``).
breakers = BreakerRegistry()

__all__ = [
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerState",
    "CallFailed",
    "CallIgnored",
    "CallRejected",
    "CallSucceeded",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "ConfigError",
    "Event",
    "Listeners",
    "ResilienceError",
    "StateChanged",
    "SystemClock",
    "__version__",
    "breakers",
]
