"""What ``ResourcePool`` and ``AsyncResourcePool`` share: construction, timeouts, observation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resilience.events import Listener
from resilience.pool.config import PoolConfig
from resilience.pool.core import PoolCore
from resilience.validation import checked_clock, checked_name, duration_ns

__all__ = ["DEFAULT", "PoolBase"]


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


#: ``checkout(timeout=DEFAULT)``: use the pool's own ``timeout``.
DEFAULT: Any = _Default()


class PoolBase:
    _core: PoolCore
    _async: bool
    _core_class: type[PoolCore] = PoolCore  # the decision core (planted variants replace it)

    def _setup(self, arguments: dict[str, Any]) -> None:
        clock = checked_clock(arguments["clock"])
        name = checked_name(arguments["name"], type(self).__name__)
        config = PoolConfig.build(
            arguments["factory"],
            size=arguments["size"],
            max_overflow=arguments["max_overflow"],
            timeout=arguments["timeout"],
            lifo=arguments["lifo"],
            validate=arguments["validate"],
            reset=arguments["reset"],
            destroy=arguments["destroy"],
            max_lifetime=arguments["max_lifetime"],
            max_idle=arguments["max_idle"],
            leak_threshold=arguments["leak_threshold"],
            name=name,
            allow_async=self._async,
        )
        self._core = self._core_class(config, clock, self)
        self._plain = self._core.plain
        self._fast_return = self._plain and config.reset is None

    def _sharing(self, cls: type[PoolBase]) -> Any:
        """A front of class ``cls`` (sync or async) over this pool's core: one pool, driven from
        threads and from tasks alike (a pipeline's ``execute`` and ``aexecute``)."""
        twin = object.__new__(cls)
        twin._core, twin._plain, twin._fast_return = self._core, self._plain, self._fast_return
        return twin

    def _timeout_ns(self, timeout: object) -> int | None:
        if timeout is DEFAULT:
            return self._core.config.timeout_ns
        return None if timeout is None else duration_ns("timeout", timeout)

    @property
    def name(self) -> str:
        return self._core.config.name

    @property
    def config(self) -> PoolConfig:
        return self._core.config

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every pool event; returns an unsubscribe function."""
        return self._core.listeners.subscribe(listener)

    def check_leaks(self) -> None:
        """Report (``LeaseLeaked``) every lease held longer than ``leak_threshold``. Checkout,
        checkin, invalidate and close do this too; call it from a timer for a quiet pool."""
        try:
            self._core.check_leaks()
        finally:
            self._core.deliver()

    def status(self) -> dict[str, Any]:
        """Configuration, occupancy (idle, in use, creating, waiting) and every counter."""
        return self._core.status()

    def metrics(self) -> dict[str, int]:
        """A snapshot of the counters."""
        return self._core.metrics()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._core.describe()}>"
