"""What ``Bulkhead`` and ``AsyncBulkhead`` share: construction, per-call ``max_wait``, the
checks on a protected function, a permit's single use, and observation."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from resilience.bulkhead.config import BulkheadConfig, max_wait_ns
from resilience.bulkhead.core import BulkheadCore, Plan
from resilience.errors import ConfigError
from resilience.events import Listener
from resilience.validation import checked_clock, checked_name
from resilience.waiting import Waker

__all__ = ["DEFAULT", "BulkheadBase", "PermitBase", "checked_fn"]


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: ``permit(max_wait=DEFAULT)``: use the bulkhead's own ``max_wait``.
DEFAULT: Any = _Default()


def checked_fn(fn: object, *, allow_async: bool) -> None:
    """``fn`` must be callable; the sync bulkhead refuses an async function (its permit would be
    released when the coroutine is created, long before it runs)."""
    if not callable(fn):
        raise ConfigError("fn", fn, "must be callable")
    if not allow_async and (
        inspect.iscoroutinefunction(fn)
        or inspect.iscoroutinefunction(getattr(fn, "__call__", None))  # noqa: B004
    ):
        raise ConfigError("fn", fn, "is an async function: use AsyncBulkhead.call_async")


class PermitBase:
    """What ``BulkheadPermit`` and ``AsyncBulkheadPermit`` share: a permit is entered once, and
    exiting one that is not held raises, so a permit is never released twice. The drivers only
    carry out the acquisition plan (blocking or awaiting)."""

    __slots__ = ("_core", "_max_wait_ns", "_token", "_used")

    def __init__(self, core: BulkheadCore, max_wait_ns: int | None) -> None:
        self._core = core
        self._max_wait_ns = max_wait_ns
        self._token: int | None = None  # the admission instant while held
        self._used = False

    def _plan(self, new_waker: Callable[[], Waker]) -> int | Plan:
        """The acquisition plan of this permit's only entry (``RuntimeError`` for another)."""
        if self._used:
            raise RuntimeError("a permit is entered once: take a new one with bulkhead.permit()")
        self._used = True
        return self._core.acquire(self._max_wait_ns, new_waker)

    def _release(self) -> None:
        token, self._token = self._token, None
        if token is None:
            raise RuntimeError("this permit is not held: it was never entered, or has exited")
        self._core.release(token)

    @property
    def held(self) -> bool:
        return self._token is not None


class BulkheadBase:
    _core: BulkheadCore
    _core_class: type[BulkheadCore] = BulkheadCore  # planted variants replace the decision core

    def __init__(
        self,
        max_concurrent: int,
        *,
        max_wait: object = 0,
        name: str | None = None,
        clock: object = None,
    ) -> None:
        checked = checked_clock(clock)
        config = BulkheadConfig.build(
            max_concurrent=max_concurrent,
            max_wait=max_wait,
            name=checked_name(name, type(self).__name__),
        )
        self._core = self._core_class(config, checked, self)

    def _sharing(self, cls: type[BulkheadBase]) -> Any:
        """A front of class ``cls`` (sync or async) over this bulkhead's core: one set of
        permits, taken from threads and from tasks alike (a pipeline's ``execute`` and
        ``aexecute``)."""
        twin = object.__new__(cls)
        twin._core = self._core
        return twin

    def _max_wait_ns(self, max_wait: object) -> int | None:
        if max_wait is DEFAULT:
            return self._core.config.max_wait_ns
        return max_wait_ns(max_wait)

    @property
    def name(self) -> str:
        return self._core.config.name

    @property
    def config(self) -> BulkheadConfig:
        return self._core.config

    @property
    def max_concurrent(self) -> int:
        return self._core.max_concurrent

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every bulkhead event; returns an unsubscribe function."""
        return self._core.listeners.subscribe(listener)

    def status(self) -> dict[str, Any]:
        """Configuration, occupancy (in flight, free, waiting) and every counter."""
        return self._core.status()

    def metrics(self) -> dict[str, int]:
        """A snapshot of the counters: admitted, rejected, finished, abandoned."""
        return self._core.metrics()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._core.describe()}>"
