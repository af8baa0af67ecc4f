"""Rate limiters: five algorithms behind one interface, plain or keyed, with exact arithmetic."""

from resilience.ratelimit.decision import Decision
from resilience.ratelimit.fixed_window import FixedWindow
from resilience.ratelimit.gcra import GCRA
from resilience.ratelimit.keyed import KeyedLimiter
from resilience.ratelimit.limiter import RateLimiter
from resilience.ratelimit.rate import Rate
from resilience.ratelimit.sliding_counter import SlidingWindowCounter
from resilience.ratelimit.sliding_log import SlidingWindowLog
from resilience.ratelimit.token_bucket import TokenBucket

__all__ = [
    "GCRA",
    "Decision",
    "FixedWindow",
    "KeyedLimiter",
    "Rate",
    "RateLimiter",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
]
