"""resilience: circuit breaking, rate limiting and resource pooling (retry to come), proven by
models."""

from resilience.breaker import BreakerConfig, BreakerRegistry, BreakerState, CircuitBreaker
from resilience.clock import Clock, SystemClock
from resilience.errors import (
    CircuitOpenError,
    ConfigError,
    PoolClosed,
    PoolError,
    PoolTimeout,
    RateLimited,
    ResilienceError,
)
from resilience.events import (
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    CheckoutTimedOut,
    CreateFailed,
    DestroyFailed,
    Event,
    KeyEvicted,
    LeaseLeaked,
    Listeners,
    RequestAdmitted,
    RequestRejected,
    ResourceCheckedIn,
    ResourceCheckedOut,
    ResourceCreated,
    ResourceDestroyed,
    StateChanged,
)
from resilience.pool import AsyncLease, AsyncResourcePool, Lease, PoolConfig, ResourcePool
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
    "AsyncLease",
    "AsyncResourcePool",
    "BreakerConfig",
    "BreakerRegistry",
    "BreakerState",
    "CallFailed",
    "CallIgnored",
    "CallRejected",
    "CallSucceeded",
    "CheckoutTimedOut",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "ConfigError",
    "CreateFailed",
    "Decision",
    "DestroyFailed",
    "Event",
    "FixedWindow",
    "KeyEvicted",
    "KeyedLimiter",
    "Lease",
    "LeaseLeaked",
    "Listeners",
    "PoolClosed",
    "PoolConfig",
    "PoolError",
    "PoolTimeout",
    "Rate",
    "RateLimited",
    "RateLimiter",
    "RequestAdmitted",
    "RequestRejected",
    "ResilienceError",
    "ResourceCheckedIn",
    "ResourceCheckedOut",
    "ResourceCreated",
    "ResourceDestroyed",
    "ResourcePool",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "StateChanged",
    "SystemClock",
    "TokenBucket",
    "__version__",
    "breakers",
]
