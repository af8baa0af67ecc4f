"""Clocks the tests hand to components: ``ManualClock`` reads whatever it is set to (negative
readings included, which nothing forbids: a monotonic clock's zero is arbitrary)."""

from __future__ import annotations


class ManualClock:
    """A clock that reads whatever it is set to, negative included; nothing may wait on it."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def monotonic_ns(self) -> int:
        return self.now_ns

    def monotonic(self) -> float:
        return self.now_ns / 10**9

    def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing here waits")
