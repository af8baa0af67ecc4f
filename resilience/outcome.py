"""``Outcome``: how one operation of ``Resilience.run_all`` ended, value or error; and
``settle``, which runs one operation to its outcome within a time limit."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from resilience.errors import ConfigError
from resilience.validation import exact_number

__all__ = ["Outcome", "checked_timeout", "settle"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """Operation ``name`` returned ``value`` (``error`` is None) or raised ``error`` (a
    ``TimeoutError`` if it ran out of time and was cancelled)."""

    name: str
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """Whether the operation returned."""
        return self.error is None

    def result(self) -> Any:
        """The value the operation returned, or raise the error it ended with."""
        if self.error is not None:
            raise self.error
        return self.value


def checked_timeout(timeout: object) -> float | None:
    """``timeout`` in seconds: a positive, finite number, or ``None`` (no limit)."""
    if timeout is None:
        return None
    rule = "must be a positive number of seconds, or None (no limit)"
    exact = exact_number("timeout", timeout, rule)
    try:
        seconds = float(exact)
    except OverflowError:  # a Fraction too large, or with too large a denominator, for a float
        raise ConfigError("timeout", timeout, rule) from None
    if not 0 < seconds < math.inf:  # a tiny number may round to 0.0, a huge Decimal to inf
        raise ConfigError("timeout", timeout, rule)
    return seconds


async def settle(name: str, call: Callable[[], Awaitable[Any]], timeout: float | None) -> Outcome:
    """Await ``call()`` and return how it ended. If it is still running after ``timeout``
    seconds (event loop time) it is cancelled and ends with a ``TimeoutError`` (its cause: the
    cancellation); a ``TimeoutError`` the operation raised itself (a ``PoolTimeout``...) is its
    own error. Only an ``Exception`` is caught: cancelling ``settle`` itself propagates."""
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            value = await call()
    except TimeoutError as error:
        if not scope.expired():
            return Outcome(name, error=error)
        late = TimeoutError(f"operation {name!r} did not finish within {timeout} s")
        late.__cause__ = error.__cause__ or error  # asyncio.timeout's: the cancellation
        return Outcome(name, error=late)
    except Exception as error:
        return Outcome(name, error=error)
    return Outcome(name, value=value)
