"""One limit per key: ``KeyedLimiter(lambda: TokenBucket(10, 5))``.

The factory is called once: the limiter it returns is the *template* (its algorithm, configuration
and clock). Each key gets its own state, exactly that of a fresh template, so one tenant can never
spend another's budget. Any hashable key works.

Eviction. A key whose state decides everything exactly as a fresh key would (a full bucket, an
empty window) carries no information, so dropping it is unobservable. Keys are kept in order of
last decision; after each decision the limiter looks at the two least recently used keys and
drops them if they are fresh. Every algorithm becomes fresh a bounded time D after its last
admission (refill time, one or two windows), so the key at the front is always fresh within D:
memory is bounded by the keys admitted during the last D (plus a small lag), however many distinct
keys pass through. ``sweep()`` drops every fresh key at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic

from resilience.errors import ConfigError
from resilience.events import KeyEvicted
from resilience.ratelimit.decision import Decision
from resilience.ratelimit.limiter import Admission, RateLimiter, State
from resilience.validation import checked_name

__all__ = ["KeyedLimiter"]

_CHECKED_PER_DECISION = 2  # > 1, so eviction outpaces the arrival of new keys


class KeyedLimiter(Admission, Generic[State]):
    """Independent limits per key, from one template limiter."""

    def __init__(
        self,
        factory: Callable[[], RateLimiter[State]],
        *,
        name: str | None = None,
        evict_idle: bool = True,
    ) -> None:
        if not callable(factory):
            raise ConfigError("factory", factory, "must be a callable returning a rate limiter")
        try:
            template = factory()
        except TypeError as error:  # e.g. KeyedLimiter(TokenBucket): the class needs arguments
            raise ConfigError(
                "factory", factory, f"must be callable with no arguments ({error})"
            ) from error
        if not isinstance(template, RateLimiter):
            raise ConfigError(
                "factory", factory, f"must return a rate limiter, returned {template!r}"
            )
        if not isinstance(evict_idle, bool):
            raise ConfigError("evict_idle", evict_idle, "must be True or False")
        self.template: RateLimiter[State] = template
        self.evict_idle = evict_idle
        self._states: OrderedDict[object, State] = OrderedDict()
        self._evicted = 0
        default = f"Keyed{type(template).__name__}"
        self._setup(max_cost=template.max_cost, name=checked_name(name, default),
                    clock=template._clock)  # fmt: skip

    # ---------------------------------------------------------------- public interface

    def try_acquire(self, key: object, cost: int = 1) -> Decision:
        """Admit ``cost`` units for ``key`` now or refuse; never blocks."""
        return self._take(key, self._check_cost(cost))[0]

    def check(self, key: object, cost: int = 1) -> Decision:
        """What ``try_acquire(key, cost)`` would decide now, without taking or counting."""
        cost = self._check_cost(cost)
        template = self.template
        with self._lock:
            now = self._now()
            state = self._states.get(key)
            if state is None:
                state = template._new_state(now)
            return template._decide(state, now, cost, False)

    def acquire(self, key: object, cost: int = 1, timeout: object = None) -> Decision:
        """Wait until ``cost`` units are admitted for ``key`` (see ``RateLimiter.acquire``)."""
        return self._wait_sync(key, cost, timeout)

    async def acquire_async(self, key: object, cost: int = 1, timeout: object = None) -> Decision:
        """``acquire`` for asyncio."""
        return await self._wait_async(key, cost, timeout)

    def sweep(self) -> int:
        """Drop every key whose state is indistinguishable from a fresh one; returns how many."""
        try:
            with self._lock:
                now = self._now()
                fresh = [k for k, s in self._states.items() if self.template._is_fresh(s, now)]
                for key in fresh:
                    self._evict_locked(key, now)
                return len(fresh)
        finally:
            self._deliver()

    def __len__(self) -> int:
        """How many keys hold state now."""
        return len(self._states)

    def __contains__(self, key: object) -> bool:
        return key in self._states

    # ---------------------------------------------------------------- internals

    def _take(self, key: object, cost: int) -> tuple[Decision, int]:
        template = self.template
        states = self._states
        try:
            with self._lock:
                now = self._now()
                state = states.get(key)
                if state is None:
                    state = template._new_state(now)
                    states[key] = state
                else:
                    states.move_to_end(key)
                decision = template._decide(state, now, cost, True)
                self._count(key, cost, decision, now)
                if self.evict_idle:
                    self._evict_some_locked(now)
            return decision, now
        finally:
            self._deliver()

    def _evict_some_locked(self, now: int) -> None:
        states = self._states
        is_fresh = self.template._is_fresh
        for _ in range(_CHECKED_PER_DECISION):
            if not states:
                return
            oldest = next(iter(states))
            if not is_fresh(states[oldest], now):
                return
            self._evict_locked(oldest, now)

    def _evict_locked(self, key: object, now: int) -> None:
        del self._states[key]
        self._evicted += 1
        if self._listeners.active:
            self._listeners.enqueue((KeyEvicted(self._name, now, key),))

    def _metrics_locked(self) -> dict[str, int]:
        metrics = super()._metrics_locked()
        metrics["keys"] = len(self._states)
        metrics["evicted"] = self._evicted
        return metrics

    def status(self) -> dict[str, Any]:
        """Configuration and counters as plain data (per-key state: ``status_of(key)``)."""
        with self._lock:
            status: dict[str, Any] = {
                "name": self._name,
                "algorithm": self.template.algorithm,
                "evict_idle": self.evict_idle,
            }
            status.update(self.template._config())
            status.update(self._metrics_locked())
        return status

    def status_of(self, key: object) -> dict[str, Any]:
        """One key's state as plain data (a key without state shows a fresh one)."""
        template = self.template
        with self._lock:
            now = self._now()
            state = self._states.get(key)
            if state is None:
                state = template._new_state(now)
            status: dict[str, Any] = {
                "key": key,
                "remaining": template._free_now(state, now),
            }
            status.update(template._describe(state, now))
        return status

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"<KeyedLimiter {s['name']!r} algorithm={s['algorithm']} keys={s['keys']} "
            f"admitted={s['admitted']} rejected={s['rejected']} evicted={s['evicted']}>"
        )
