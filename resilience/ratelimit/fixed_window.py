"""Fixed window: at most ``limit`` units per aligned window of ``window`` seconds.

Windows are aligned to the clock's zero (window ``k`` is ``[k*W, (k+1)*W)``), not to the first
request: a key's windows then do not depend on when its state was created, which is what makes
evicting an idle key unobservable. Rejected requests take nothing from the window.
"""

from __future__ import annotations

from typing import Any

from resilience.ratelimit.decision import ADMITTED, CACHED, Decision, admit, reject
from resilience.ratelimit.window import WindowLimiter

__all__ = ["FixedWindow"]


class _Window:
    __slots__ = ("count", "index")

    def __init__(self, index: int, count: int) -> None:
        self.index = index  # which aligned window ``count`` belongs to
        self.count = count


class FixedWindow(WindowLimiter[_Window]):
    """``limit`` units per aligned ``window``. Simple and cheap; a burst of up to ``2 * limit``
    can straddle a window boundary."""

    algorithm = "fixed_window"

    def _new_state(self, now_ns: int) -> _Window:
        return _Window(-1, 0)

    def _decide(self, state: _Window, now_ns: int, cost: int, commit: bool) -> Decision:
        index = now_ns // self.window_ns
        used = state.count if state.index == index else 0
        if used + cost <= self.limit:
            if commit:
                state.index = index
                state.count = used + cost
            remaining = self.limit - used - cost
            return ADMITTED[remaining] if remaining < CACHED else admit(remaining)
        # The next window starts empty and cost <= limit: it admits at its first nanosecond.
        return reject(self.limit - used, (index + 1) * self.window_ns - now_ns)

    def _is_fresh(self, state: _Window, now_ns: int) -> bool:
        return state.count == 0 or state.index != now_ns // self.window_ns

    def _describe(self, state: _Window, now_ns: int) -> dict[str, Any]:
        index = now_ns // self.window_ns
        return {
            "used": state.count if state.index == index else 0,
            "window_resets_in_ns": (index + 1) * self.window_ns - now_ns,
        }
