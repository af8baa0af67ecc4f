"""``CircuitBreaker``: the ``circuitbreaker`` package's class, with its semantics made exact.

The decision core is three methods, ``_admit``, ``_complete`` and the manual controls; every driver
(decorator, ``call``, ``call_async``, generators, ``with``) only carries their decisions out.

State lives in a *phase* object that is replaced, never mutated in place, on every transition:

* a call keeps the phase that admitted it as its token; when it finishes under a different phase
  its outcome is *late* and changes nothing (no probe stampede, no duplicate transitions when many
  calls started while closed finish after the breaker opened);
* in the CLOSED state admission is one attribute read, without the lock;
* OPEN becomes HALF_OPEN purely by time (``state`` reports it from the due instant on); the next
  operation that takes the lock records the transition and emits its event, stamped with the
  instant the recovery timeout elapsed.

The lock guards transitions only; it is never held while the user's function runs.
"""

from __future__ import annotations

import inspect
import itertools
import math
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import wraps
from typing import Any, Literal, TypeVar

import circuitbreaker

from resilience.breaker.config import BreakerConfig
from resilience.clock import NS_PER_SECOND, Clock
from resilience.errors import CircuitOpenError, ConfigError
from resilience.events import (
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    Event,
    Listener,
    Listeners,
    StateChanged,
    count_value,
)

__all__ = ["BreakerState", "CircuitBreaker", "Permit"]

T = TypeVar("T")


class BreakerState(StrEnum):
    """The three states; the values equal the base package's ``STATE_*`` strings."""

    CLOSED = circuitbreaker.STATE_CLOSED
    OPEN = circuitbreaker.STATE_OPEN
    HALF_OPEN = circuitbreaker.STATE_HALF_OPEN


CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


class _Phase:
    """One stay in one state. ``due_ns``: when an OPEN phase becomes half-open (None: forced open).
    ``successes``: HALF_OPEN probe successes, mutated under the breaker's lock."""

    __slots__ = ("due_ns", "state", "successes")

    def __init__(self, state: BreakerState, due_ns: int | None = None) -> None:
        self.state = state
        self.due_ns = due_ns
        self.successes = 0


class Permit:
    """One admission through a breaker, released by ``__exit__`` with the block's outcome."""

    __slots__ = ("_token", "breaker")

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker
        self._token: _Phase | None = None

    def __enter__(self) -> Permit:
        if self._token is not None:
            raise RuntimeError("a permit admits one call: take a new one with breaker.permit()")
        self._token = self.breaker._admit()
        return self

    def __exit__(self, _t: object, exc: BaseException | None, _tb: object) -> Literal[False]:
        token, self._token = self._token, None
        if token is None:
            raise RuntimeError("this permit was not entered, or has already exited")
        self.breaker._complete(token, exc)
        return False


# Permits of `with breaker:` blocks, per thread and per asyncio task.
_held: ContextVar[tuple[Permit, ...]] = ContextVar("_held", default=())


class CircuitBreaker(circuitbreaker.CircuitBreaker):
    """A thread-safe circuit breaker with exact, documented semantics (see the README's table).

    Positional parameters match ``circuitbreaker.CircuitBreaker`` so ``circuit(cls=CircuitBreaker)``
    works; ``None`` means the class default (``FAILURE_THRESHOLD`` etc.), anything else is
    validated and a bad value raises ``ConfigError`` naming it.
    """

    FAILURE_THRESHOLD = 5
    RECOVERY_TIMEOUT = 30
    EXPECTED_EXCEPTION: object = Exception
    FALLBACK_FUNCTION: Callable[..., Any] | None = None
    HALF_OPEN_MAX_CALLS = 1
    SUCCESS_THRESHOLD = 1
    WINDOW_SIZE = 100

    def __init__(
        self,
        failure_threshold: int | None = None,
        recovery_timeout: float | timedelta | None = None,
        expected_exception: object = None,
        name: str | None = None,
        fallback_function: Callable[..., Any] | None = None,
        *,
        half_open_max_calls: int | None = None,
        success_threshold: int | None = None,
        failure_rate_threshold: float | None = None,
        window_size: int | None = None,
        minimum_calls: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        config = BreakerConfig.resolve(
            type(self),
            failure_threshold=failure_threshold,
            recovery_timeout=recovery_timeout,
            expected_exception=expected_exception,
            name=name,
            fallback_function=fallback_function,
            half_open_max_calls=half_open_max_calls,
            success_threshold=success_threshold,
            failure_rate_threshold=failure_rate_threshold,
            window_size=window_size,
            minimum_calls=minimum_calls,
            clock=clock,
        )
        predicate = config.failure_predicate()
        super().__init__(
            failure_threshold=config.failure_threshold,
            recovery_timeout=config.recovery_timeout or None,
            expected_exception=predicate,
            name=config.name,
            fallback_function=config.fallback_function,
        )
        # Undo the base class's substitutions (0 -> default, function -> bound method).
        self._name: str | None = config.name
        self._last_failure: BaseException | None = None
        self._failure_threshold = config.failure_threshold
        self._recovery_timeout = config.recovery_timeout
        self._fallback_function = config.fallback_function
        self.is_failure = predicate

        self._config = config
        self._clock = config.clock
        self._lock = threading.Lock()
        self._listeners = Listeners(self)
        self._policy = self._new_policy()
        self._phase = _Phase(CLOSED)
        # Probes admitted in *any* half-open phase and not finished yet: a probe from an earlier
        # half-open stay still loads the recovering dependency, so it still takes a slot.
        self._probes = 0
        # Counted lock-free on the hot path: next() on itertools.count is atomic under the GIL.
        self._succeeded = itertools.count()
        self._failed = 0
        self._ignored = 0
        self._rejected = 0
        self._late = 0
        self._state_changes = 0

    def _new_policy(self) -> Any:
        return self._config.new_policy()

    # ------------------------------------------------------------------ decision core

    def _recovered(self, phase: _Phase, now_ns: int) -> bool:
        """Whether an OPEN phase is due to become half-open. The boundary is inclusive: at exactly
        ``opened_at + recovery_timeout`` the breaker is HALF_OPEN."""
        return phase.due_ns is not None and now_ns >= phase.due_ns

    def _enter_locked(
        self,
        state: BreakerState,
        at_ns: int,
        reason: str,
        events: list[Event] | None,
        due_ns: int | None = None,
    ) -> _Phase:
        old = self._phase.state
        phase = self._phase = _Phase(state, due_ns)
        if state is CLOSED:
            self._policy.clear()
        if old is not state:
            self._state_changes += 1
            if events is not None:
                events.append(StateChanged(self._source(), at_ns, old.value, state.value, reason))
        return phase

    def _open_locked(self, now_ns: int, reason: str, events: list[Event] | None) -> None:
        self._enter_locked(
            OPEN, now_ns, reason, events, due_ns=now_ns + self._config.recovery_timeout_ns
        )

    def _catch_up_locked(self, now_ns: int, events: list[Event] | None) -> _Phase:
        """Record OPEN -> HALF_OPEN if the recovery timeout has elapsed; return the phase now."""
        phase = self._phase
        if phase.state is OPEN and self._recovered(phase, now_ns):
            assert phase.due_ns is not None
            phase = self._enter_locked(HALF_OPEN, phase.due_ns, "recovery_timeout", events)
        return phase

    def _admit(self) -> _Phase:
        """Admit a call and return its token, or raise ``CircuitOpenError``."""
        phase = self._phase
        if phase.state is CLOSED:
            return phase  # one atomic read of an immutable-state object: no lock needed
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:
            now = self._clock.monotonic_ns()
            phase = self._catch_up_locked(now, events)
            if phase.state is CLOSED:
                rejected = None
            elif phase.state is HALF_OPEN and self._probes < self._config.half_open_max_calls:
                self._probes += 1
                rejected = None
            else:
                self._rejected += 1
                rejected = self._retry_after(phase, now)
                if events is not None:
                    events.append(CallRejected(self._source(), now, phase.state.value, rejected))
            if events:
                self._listeners.enqueue(events)
        if events:
            self._listeners.deliver()
        if rejected is not None:
            raise CircuitOpenError(self, state=phase.state.value, retry_after=rejected)
        return phase

    def _complete(self, token: _Phase, error: BaseException | None) -> None:
        """Record how an admitted call ended: ``error`` None is a success."""
        counted = False
        if isinstance(error, Exception):
            # Non-Exception BaseExceptions (cancellation, GeneratorExit, KeyboardInterrupt) are
            # never failures: they release a probe slot and change nothing else.
            try:
                counted = bool(self.is_failure(type(error), error))
            except BaseException:
                self._record(token, error, counted=False)
                raise
        self._record(token, error, counted)

    def _succeed(self, token: _Phase) -> None:
        """Record a success. When it would change nothing but a counter (no failures pending, the
        caller's CLOSED phase still current, nobody listens) no lock is taken.

        Order matters: ``quiet_success`` is read *before* the phase. Phases are never reused, so
        if the token is still current afterwards it was current all along, and the success
        linearises at the first read, when nothing was pending. Read the other way round, a
        trip and a reset in between could make a late success look on time."""
        if (
            self._policy.quiet_success
            and token is self._phase
            and token.state is CLOSED
            and not self._listeners.active
        ):
            next(self._succeeded)
        else:
            self._record(token, None, False)

    def _record(self, token: _Phase, error: BaseException | None, counted: bool) -> None:
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:
            phase = self._phase
            # A success in the CLOSED state without listeners needs no clock reading.
            now: int | None = None
            if events is not None or error is not None or phase.state is not CLOSED:
                now = self._clock.monotonic_ns()
                phase = self._catch_up_locked(now, events)
            late = token is not phase
            if token.state is HALF_OPEN:
                self._probes -= 1  # late or not, this probe no longer loads the dependency
            if error is None:
                next(self._succeeded)
            elif counted:
                self._failed += 1
                self._last_failure = error
            else:
                self._ignored += 1
            if late:
                self._late += 1
            if events is not None:
                assert now is not None  # read above whenever there are listeners
                source = self._source()
                if error is None:
                    events.append(CallSucceeded(source, now, late))
                elif counted:
                    events.append(CallFailed(source, now, error, late))
                else:
                    events.append(CallIgnored(source, now, error, late))
            if not late:
                self._decide_locked(phase, now, error, counted, events)
            if events:
                self._listeners.enqueue(events)
        if events:
            self._listeners.deliver()

    def _decide_locked(
        self,
        phase: _Phase,
        now: int | None,
        error: BaseException | None,
        counted: bool,
        events: list[Event] | None,
    ) -> None:
        """Apply a (non-late) outcome to the phase that admitted it."""
        if phase.state is CLOSED:
            if error is None:
                if self._policy.record_success():
                    if now is None:
                        now = self._clock.monotonic_ns()
                    self._open_locked(now, "failure_rate", events)
            elif counted and self._policy.record_failure():
                assert now is not None
                self._open_locked(now, self._trip_reason(), events)
        elif phase.state is HALF_OPEN:
            assert now is not None
            if error is None:
                phase.successes += 1
                if phase.successes >= self._config.success_threshold:
                    self._enter_locked(CLOSED, now, "success_threshold", events)
            elif counted:
                self._open_locked(now, "probe_failed", events)
            # An ignored exception only frees the probe slot.

    def _trip_reason(self) -> str:
        if self._config.failure_rate_threshold is None:
            return "failure_threshold"
        return "failure_rate"

    def _retry_after(self, phase: _Phase, now_ns: int) -> float:
        if phase.state is OPEN:
            if phase.due_ns is None:
                return math.inf
            return max(phase.due_ns - now_ns, 0) / NS_PER_SECOND
        return 0.0

    def _source(self) -> str:
        return self._name or "unnamed_CircuitBreaker"

    # ------------------------------------------------------------------ manual controls

    def force_open(self) -> None:
        """Open the circuit and hold it open until ``reset()`` (no recovery timeout applies)."""
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:
            now = self._clock.monotonic_ns()
            phase = self._catch_up_locked(now, events)
            if not (phase.state is OPEN and phase.due_ns is None):
                self._enter_locked(OPEN, now, "forced", events)
            if events:
                self._listeners.enqueue(events)
        if events:
            self._listeners.deliver()

    def reset(self) -> None:
        """Close the circuit and forget counted failures. Calls in flight become late."""
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:
            now = self._clock.monotonic_ns()
            self._catch_up_locked(now, events)
            self._enter_locked(CLOSED, now, "reset", events)
            self._last_failure = None
            if events:
                self._listeners.enqueue(events)
        if events:
            self._listeners.deliver()

    # ------------------------------------------------------------------ drivers

    def decorate(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap ``function`` (sync, ``async def``, generator or async generator)."""
        if self._name is None:
            self._name = getattr(function, "__qualname__", None) or function.__name__
        circuitbreaker.CircuitBreakerMonitor.register(self)
        fallback = self._fallback_function
        is_async = inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
        if fallback is not None and inspect.iscoroutinefunction(fallback):
            if not is_async:
                raise ConfigError(
                    "fallback_function", fallback, "an async fallback cannot serve a sync function"
                )
            if inspect.isasyncgenfunction(function):
                raise ConfigError(
                    "fallback_function",
                    fallback,
                    "an async def fallback cannot serve an async generator: "
                    "give an async generator function",
                )
        if inspect.isasyncgenfunction(function):
            driver: Callable[..., Any] = self.call_async_generator
        elif inspect.iscoroutinefunction(function):
            driver = self.call_async
        elif inspect.isgeneratorfunction(function):
            driver = self.call_generator
        else:
            run = self._run

            @wraps(function)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                return run(function, args, kwargs)

            return sync_wrapper

        if inspect.iscoroutinefunction(function):

            @wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                return await driver(function, *args, **kwargs)

            return async_wrapper

        @wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return driver(function, *args, **kwargs)

        return wrapper

    def _run(self, func: Callable[..., T], args: Any, kwargs: Any) -> T:
        """The sync driver, shared by ``decorate`` and ``call``: admission is one attribute read
        while CLOSED, and a success that changes nothing takes no lock."""
        token = self._phase
        if token.state is not CLOSED:
            try:
                token = self._admit()
            except CircuitOpenError:
                fallback = self._fallback_function
                if fallback is None:
                    raise
                fallback_result: T = fallback(*args, **kwargs)
                return fallback_result
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._complete(token, exc)
            raise
        self._succeed(token)
        return result

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func(*args, **kwargs)`` through the breaker (the open check included)."""
        return self._run(func, args, kwargs)

    async def call_async(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``func(*args, **kwargs)`` through the breaker; a sync or async fallback works."""
        try:
            token = self._admit()
        except CircuitOpenError:
            if self._fallback_function is None:
                raise
            fallback_result = self._fallback_function(*args, **kwargs)
            if inspect.isawaitable(fallback_result):
                fallback_result = await fallback_result
            return fallback_result  # type: ignore[no-any-return]
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            self._complete(token, exc)
            raise
        self._succeed(token)
        return result

    def call_generator(
        self, func: Callable[..., Generator[T, Any, Any]], *args: Any, **kwargs: Any
    ) -> Generator[T, Any, Any]:
        """Iterate a generator through the breaker: admitted on the first ``next()``, its outcome
        recorded when it finishes (closing it early is neither success nor failure)."""
        try:
            token = self._admit()
        except CircuitOpenError:
            if self._fallback_function is None:
                raise
            return (yield from self._fallback_function(*args, **kwargs))
        try:
            result = yield from func(*args, **kwargs)
        except BaseException as exc:
            self._complete(token, exc)
            raise
        self._succeed(token)
        return result

    async def call_async_generator(
        self, func: Callable[..., AsyncGenerator[T, Any]], *args: Any, **kwargs: Any
    ) -> AsyncGenerator[T, Any]:
        """Iterate an async generator through the breaker (see ``call_generator``)."""
        try:
            token = self._admit()
        except CircuitOpenError:
            if self._fallback_function is None:
                raise
            async for item in self._fallback_function(*args, **kwargs):
                yield item
            return
        try:
            async for item in func(*args, **kwargs):
                yield item
        except BaseException as exc:
            self._complete(token, exc)
            raise
        self._succeed(token)

    def permit(self) -> Permit:
        """One admission as a context manager: ``with breaker.permit(): ...``.

        Each permit carries its own admission, so permits may end in any order and in any thread
        (a block inside a generator consumed alongside another, a call handed to a worker).
        """
        return Permit(self)

    def __enter__(self) -> CircuitBreaker:
        """``with breaker:`` honours the open check (raises ``CircuitOpenError``); no fallback.

        Each exit is paired with the latest unfinished entry of this breaker in the same thread
        or asyncio task; for blocks that end out of order or elsewhere, use ``permit()``.
        """
        permit = Permit(self)
        permit.__enter__()
        _held.set((*_held.get(), permit))
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> Literal[False]:
        held = _held.get()
        for index in range(len(held) - 1, -1, -1):
            if held[index].breaker is self:
                permit = held[index]
                _held.set(held[:index] + held[index + 1 :])
                break
        else:
            raise RuntimeError(
                f"{self!r}: __exit__ without a matching __enter__ in this thread or task "
                "(use `with breaker.permit():` for blocks that end elsewhere)"
            )
        return permit.__exit__(exc_type, exc, _tb)

    # ------------------------------------------------------------------ observation

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for each event; returns a function that unsubscribes."""
        return self._listeners.subscribe(listener)

    @property
    def config(self) -> BreakerConfig:
        return self._config

    @property
    def state(self) -> BreakerState:
        """The current state, HALF_OPEN from the instant the recovery timeout elapses.

        Read without the lock: the phase, then the clock, then the phase again. If the phase is
        still the same object (phases are never reused), it was current when the clock was read,
        so the answer held at that instant; otherwise read again. Read only once, a phase replaced
        in between (by ``reset()``, say) could be combined with an instant it never reached:
        HALF_OPEN for a breaker that went from OPEN to CLOSED."""
        while True:
            phase = self._phase
            if phase.state is not OPEN:
                return phase.state
            recovered = self._recovered(phase, self._clock.monotonic_ns())
            if self._phase is phase:
                return HALF_OPEN if recovered else OPEN

    @property
    def forced_open(self) -> bool:
        phase = self._phase
        return phase.state is OPEN and phase.due_ns is None

    @property
    def retry_after(self) -> float:
        """Seconds until an OPEN breaker admits a probe: 0 unless open, ``inf`` if forced open.
        Read as ``state`` is (see there)."""
        while True:
            phase = self._phase
            if phase.state is not OPEN:
                return 0.0
            now = self._clock.monotonic_ns()
            if self._phase is phase:
                return 0.0 if self._recovered(phase, now) else self._retry_after(phase, now)

    @property
    def open_remaining(self) -> float:
        """The base package's name for ``retry_after`` (exact here, not ceil-rounded)."""
        return self.retry_after

    @property
    def open_until(self) -> datetime:
        try:
            return datetime.now(UTC) + timedelta(seconds=self.retry_after)
        except OverflowError:  # forced open (inf), or further away than datetime reaches
            return datetime.max.replace(tzinfo=UTC)

    @property
    def failure_count(self) -> int:
        """Failures counted by the closed-state policy since the breaker last closed."""
        count: int = self._policy.failure_count
        return count

    @property
    def closed(self) -> bool:
        return self.state is CLOSED

    @property
    def opened(self) -> bool:
        return self.state is OPEN

    @property
    def half_open(self) -> bool:
        return self.state is HALF_OPEN

    def metrics(self) -> dict[str, int]:
        """A snapshot of the counters."""
        with self._lock:
            return {
                "calls_succeeded": count_value(self._succeeded),
                "calls_failed": self._failed,
                "calls_ignored": self._ignored,
                "calls_rejected": self._rejected,
                "late_outcomes": self._late,
                "state_changes": self._state_changes,
            }

    def status(self) -> dict[str, Any]:
        """Everything an operator wants to see, as plain data."""
        with self._lock:
            phase = self._phase
            probes = self._probes
            successes = phase.successes if phase.state is HALF_OPEN else 0
            window = self._policy.window()
        status: dict[str, Any] = {
            "name": self._source(),
            "state": self.state.value,
            "forced_open": self.forced_open,
            "failure_count": self.failure_count,
            "retry_after": self.retry_after,
            "probes_in_flight": probes,
            "probe_successes": successes,
            "policy": "consecutive" if window is None else "failure_rate",
        }
        if window is not None:
            status["window"] = window
        status.update(self.metrics())
        return status

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"<CircuitBreaker {s['name']!r} state={s['state']} failures={s['failure_count']} "
            f"retry_after={s['retry_after']:.6g} probes={s['probes_in_flight']} "
            f"succeeded={s['calls_succeeded']} failed={s['calls_failed']} "
            f"ignored={s['calls_ignored']} rejected={s['calls_rejected']}>"
        )
