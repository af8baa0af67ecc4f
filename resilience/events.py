"""Typed, immutable event records and per-component listeners.

Each component owns a ``Listeners`` hub. Events are queued while the component's lock is held (so
their order is the order of the transitions) and delivered after it is released (so a listener may
call back into the component). One thread delivers at a time, in queue order: a thread that finds
another delivering leaves its events to it, so events from concurrent callers never overtake each
other (a listener may therefore run on another caller's thread). A listener that raises is logged
and never breaks the protected call.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from resilience.clock import NS_PER_SECOND

__all__ = [
    "BulkheadAdmitted",
    "BulkheadRejected",
    "BulkheadReleased",
    "CallFailed",
    "CallIgnored",
    "CallRejected",
    "CallSucceeded",
    "CheckoutTimedOut",
    "CreateFailed",
    "DestroyFailed",
    "Event",
    "FallbackUsed",
    "KeyEvicted",
    "LeaseLeaked",
    "Listener",
    "Listeners",
    "RequestAdmitted",
    "RequestRejected",
    "ResourceCheckedIn",
    "ResourceCheckedOut",
    "ResourceCreated",
    "ResourceDestroyed",
    "RetryAttempted",
    "RetryGaveUp",
    "RetryScheduled",
    "StateChanged",
]

log = logging.getLogger("resilience.events")


@dataclass(frozen=True, slots=True)
class Event:
    """Something a component did: ``source`` names it, ``at_ns`` is its clock's reading."""

    source: str
    at_ns: int

    @property
    def at(self) -> float:
        """``at_ns`` in seconds."""
        return self.at_ns / NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class StateChanged(Event):
    """The breaker moved from ``old`` to ``new`` state; ``reason`` says which rule fired."""

    old: str
    new: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallRejected(Event):
    """A call was refused without running (circuit open or half-open and full)."""

    state: str
    retry_after: float


@dataclass(frozen=True, slots=True)
class CallSucceeded(Event):
    """A protected call returned. ``late``: it was admitted before the last state change, so it
    did not count towards the current state's decisions."""

    late: bool


@dataclass(frozen=True, slots=True)
class CallFailed(Event):
    """A protected call raised an exception that counts as a failure."""

    error: BaseException
    late: bool


@dataclass(frozen=True, slots=True)
class CallIgnored(Event):
    """A protected call raised an exception that is neither success nor failure (it propagates)."""

    error: BaseException
    late: bool


@dataclass(frozen=True, slots=True)
class RequestAdmitted(Event):
    """A rate limiter admitted a request of ``cost`` units; ``remaining`` units are left now.
    ``key`` is the keyed limiter's key (``None`` for a plain limiter)."""

    key: object
    cost: int
    remaining: int


@dataclass(frozen=True, slots=True)
class RequestRejected(Event):
    """A rate limiter refused a request; the same request is admitted after ``retry_after_ns``
    (if nothing else is admitted meanwhile)."""

    key: object
    cost: int
    retry_after_ns: int


@dataclass(frozen=True, slots=True)
class KeyEvicted(Event):
    """A keyed limiter dropped the state of an idle ``key`` (indistinguishable from a fresh one)."""

    key: object


@dataclass(frozen=True, slots=True)
class ResourceCreated(Event):
    """A pool's factory made ``resource``."""

    resource: object


@dataclass(frozen=True, slots=True)
class ResourceDestroyed(Event):
    """A pool let go of ``resource`` (and called ``destroy`` on it). ``reason`` is one of
    ``"max_lifetime"``, ``"max_idle"``, ``"invalid"`` (validate said no or raised: ``error``),
    ``"reset failed"`` (``error``), ``"overflow"``, ``"invalidated"``, ``"closed"``."""

    resource: object
    reason: str
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class ResourceCheckedOut(Event):
    """``resource`` was lent out, after the checkout waited ``waited_ns``."""

    resource: object
    waited_ns: int


@dataclass(frozen=True, slots=True)
class ResourceCheckedIn(Event):
    """``resource`` came back after being held for ``held_ns``."""

    resource: object
    held_ns: int


@dataclass(frozen=True, slots=True)
class CheckoutTimedOut(Event):
    """A checkout gave up (``PoolTimeout``) after waiting ``waited_ns``."""

    waited_ns: int


@dataclass(frozen=True, slots=True)
class CreateFailed(Event):
    """The pool's factory raised ``error`` (the checkout raised it too; no slot was kept)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class DestroyFailed(Event):
    """``destroy(resource)`` raised ``error``; the resource is gone from the pool all the same."""

    resource: object
    error: BaseException


@dataclass(frozen=True, slots=True)
class LeaseLeaked(Event):
    """``resource`` has been held for ``held_ns``, longer than the pool's ``leak_threshold``
    (reported once per lease, by the first pool operation that notices)."""

    resource: object
    held_ns: int


@dataclass(frozen=True, slots=True)
class RetryAttempted(Event):
    """Attempt number ``attempt`` (from 1) of a call ended: it returned (``error`` is None) or
    raised ``error``."""

    attempt: int
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class RetryScheduled(Event):
    """After attempt ``attempt`` raised ``error``, the next attempt comes after ``delay_ns``."""

    attempt: int
    delay_ns: int
    error: BaseException


@dataclass(frozen=True, slots=True)
class RetryGaveUp(Event):
    """The call ends with ``error`` after ``attempts`` attempts although it was retryable:
    ``reason`` is ``"max_attempts"`` or ``"deadline"`` (the next delay would pass it)."""

    attempts: int
    reason: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class BulkheadAdmitted(Event):
    """A bulkhead let a caller in (it holds a permit now) after it waited ``waited_ns`` (0 when
    a permit was free). A waiter is admitted when a released permit is granted to it."""

    waited_ns: int


@dataclass(frozen=True, slots=True)
class BulkheadRejected(Event):
    """A bulkhead turned a caller away (``BulkheadFull``) after it waited ``waited_ns``."""

    waited_ns: int


@dataclass(frozen=True, slots=True)
class BulkheadReleased(Event):
    """A permit came back after being held for ``held_ns``."""

    held_ns: int


@dataclass(frozen=True, slots=True)
class FallbackUsed(Event):
    """A pipeline's call ended with ``error`` (already counted as a failure by every layer that
    saw it) and its fallback answered instead; ``failed`` is True when the fallback raised too."""

    error: BaseException
    failed: bool


Listener = Callable[[Event], object]


def count_value(counter: itertools.count[int]) -> int:
    """The next value an ``itertools.count`` will return: a counter bumped lock-free on a hot
    path with ``next()`` (atomic under the GIL), read for a metrics snapshot. CPython offers no
    other way to read one than its repr, ``count(N)``; a unit test pins that format."""
    return int(repr(counter)[6:-1])


class Listeners:
    """The listeners subscribed to one component."""

    __slots__ = ("_delivering", "_lock", "_owner", "_pending", "active")

    def __init__(self, owner: object) -> None:
        self._owner = owner
        self._lock = threading.Lock()
        self._pending: deque[Event] = deque()
        self._delivering = threading.Lock()
        # Replaced, never mutated: emit() iterates a snapshot without holding the lock, and hot
        # paths test `listeners.active` (a plain attribute) to skip building events nobody reads.
        self.active: tuple[Listener, ...] = ()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns an unsubscribe function."""
        if not callable(listener):
            raise TypeError(f"listener must be callable, got {listener!r}")
        with self._lock:
            self.active = (*self.active, listener)

        def unsubscribe() -> None:
            with self._lock:
                remaining = list(self.active)
                if listener in remaining:
                    remaining.remove(listener)
                self.active = tuple(remaining)

        return unsubscribe

    def enqueue(self, events: Iterable[Event]) -> None:
        """Queue events; call this under the component's lock so the queue keeps their order."""
        self._pending.extend(events)

    def deliver(self) -> None:
        """Deliver queued events in order, unless another thread is delivering (it will deliver
        ours too: it re-checks the queue after releasing, so nothing is stranded)."""
        pending = self._pending
        while pending:
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while pending:
                    self._notify(pending.popleft())
            finally:
                self._delivering.release()

    def _notify(self, event: Event) -> None:
        for listener in self.active:
            try:
                listener(event)
            except Exception:
                log.exception("listener %r of %s raised on %r", listener, self._owner, event)
