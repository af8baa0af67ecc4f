"""What the three window algorithms share: ``limit`` units per ``window``, validated once."""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.limiter import RateLimiter, State
from resilience.ratelimit.rate import positive_duration_ns
from resilience.validation import int_at_least

__all__ = ["WindowLimiter"]


class WindowLimiter(RateLimiter[State]):
    """Base of ``FixedWindow``, ``SlidingWindowLog`` and ``SlidingWindowCounter``."""

    def __init__(
        self, limit: int, window: object, *, name: str | None = None, clock: object = None
    ) -> None:
        self.limit = int_at_least("limit", limit, 1)
        self.window_ns = positive_duration_ns("window", window)
        super().__init__(max_cost=self.limit, name=name, clock=clock)

    def _config(self) -> dict[str, Any]:
        return {"limit": self.limit, "window_s": self.window_ns / 10**9}
