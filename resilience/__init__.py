"""resilience: circuit breaking and rate limiting (retry and pooling to come), proven by models."""

from resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from resilience.clock import Clock, SystemClock
from resilience.errors import CircuitOpenError, ConfigError, RateLimited, ResilienceError
from resilience.events import (
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    Event,
    KeyEvicted,
    Listeners,
    RequestAdmitted,
    RequestRejected,
    StateChanged,
)
from resilience.ratelimit import (
    GCRA,
    Decision,
    FixedWindow,
    KeyedLimiter,
    Rate,
    RateLimiter,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)

__version__ = "0.1.0"

#: The default registry of named breakers (``breakers.get_or_create("payments", ...)``).
breakers = BreakerRegistry()

__all__ = [
    "GCRA",
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
    "Decision",
    "Event",
    "FixedWindow",
    "KeyEvicted",
    "KeyedLimiter",
    "Listeners",
    "Rate",
    "RateLimited",
    "RateLimiter",
    "RequestAdmitted",
    "RequestRejected",
    "ResilienceError",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "StateChanged",
    "SystemClock",
    "TokenBucket",
    "__version__",
    "breakers",
]
