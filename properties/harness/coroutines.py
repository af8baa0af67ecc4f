"""Driving coroutines by hand, without an event loop, so async code runs deterministically inside a
state machine step (and under frozen time, where ``asyncio.sleep`` would hang)."""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any

__all__ = ["Gate", "run_to_completion"]


def run_to_completion(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never really suspends; return its result or raise its exception."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError(f"coroutine suspended on {yielded!r}; use a Gate to hold a call open")


class Gate:
    """An awaitable that suspends the coroutine awaiting it until the driver ``send``s a value in.

    ``await gate`` yields the gate itself to the driver; ``coro.send(value)`` resumes it, and the
    ``await`` returns ``value``.
    """

    def __await__(self) -> Generator[Gate, Any, Any]:
        value = yield self
        return value
