"""Clocks the tests hand to components: ``ManualClock`` reads whatever it is set to (negative
readings included, which nothing forbids: a monotonic clock's zero is arbitrary)."""

from __future__ import annotations


class ManualClock:
    """A clock that reads whatever it is set to, negative included; nothing may wait on it."""

    def __init__(self, now_ns: int = 0) -> None:
        self.now_ns = now_ns

    def monotonic_ns(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.now_ns / 10**9

    def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing here waits")


def readings_around_zero(window_ns: int) -> list[int]:
    """Clock readings in the aligned windows -2, -1, 0 and 1 of ``window_ns``: at their start,
    inside, and at their last nanosecond."""
    w = window_ns
    return [-2 * w, -2 * w + 1, -3 * w // 2, -w - 1, -w, -w // 2, -1, 0, w // 3, w + 7]
