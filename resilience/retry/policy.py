"""``RetryPolicy``: retries on real tenacity, with our stop, wait and classification.

The first attempt runs bare: a call that succeeds at once pays for a function call, a lock and a
few counters, never for tenacity's set-up. Only when it raises does the policy build a
``tenacity.Retrying`` (``AsyncRetrying`` for ``call_async``) whose first attempt *replays* that
exception (the function is not called twice), so every decision after it is tenacity's loop
calling our predicate (``retry``), delay (``wait``) and ``stop``, with tenacity's real
``RetryCallState``. Sleeps go through the policy's clock.

Decisions, after attempt ``k`` raised ``error``:

* not retryable (not an ``Exception``, a ``CircuitOpenError``, not one of ``retry_on``, or
  ``retry_if(state)`` is false): it propagates at once;
* ``k == max_attempts``: give up (reason ``"max_attempts"``), no delay drawn;
* the delay: ``error.retry_after`` rounded up to a microsecond for ``RateLimited``, else a whole
  number of microseconds drawn uniformly from ``[0, min(max_delay, base_delay * 2**(k-1))]``
  ("full jitter") with the policy's ``random.Random``;
* if the time since the call started plus that delay passes ``deadline``: give up (reason
  ``"deadline"``), else sleep and try again.

Giving up raises the last exception itself (``reraise=False``: tenacity's ``RetryError``).
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import tenacity

from resilience.clock import Clock, sleep_async
from resilience.errors import CircuitOpenError, RateLimited
from resilience.events import Listeners, RetryAttempted, RetryGaveUp, RetryScheduled
from resilience.retry.config import NS_PER_US, RetryConfig, checked_random
from resilience.validation import checked_clock, checked_name

__all__ = ["RetryPolicy"]

T = TypeVar("T")

_COUNTERS = ("calls", "attempts", "successes", "failures", "retries", "gave_up", "not_retried")

# 2**62 us is about 146,000 years: past it, the back-off bound of any non-zero base is the cap.
_MAX_SHIFT = 62


class RetryPolicy:
    """Retry a call on retryable errors with capped, fully jittered exponential back-off.

    ``policy.call(fn, *args, **kwargs)``, ``await policy.call_async(fn, ...)`` (``fn`` may return
    an awaitable), or ``@policy`` on a function or coroutine function. See the README's "Retry"
    section for every parameter."""

    def __init__(
        self,
        *,
        max_attempts: int | None = 3,
        deadline: object = None,
        base_delay: object = 0.1,
        max_delay: object = 10.0,
        retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
        retry_if: Callable[[tenacity.RetryCallState], object] | None = None,
        reraise: bool = True,
        random: object = None,
        clock: object = None,
        name: str | None = None,
    ) -> None:
        self.config = RetryConfig.build(
            max_attempts=max_attempts,
            deadline=deadline,
            base_delay=base_delay,
            max_delay=max_delay,
            retry_on=retry_on,
            retry_if=retry_if,
            reraise=reraise,
            name=checked_name(name, "retry"),
        )
        self.random = checked_random(random)
        self.clock: Clock = checked_clock(clock)
        self.name = self.config.name
        self._timed = self.config.deadline_ns is not None
        self._lock = threading.Lock()
        self.listeners = Listeners(self)
        self.calls = self.attempts = self.successes = self.failures = 0
        self.retries = self.gave_up = self.not_retried = self.slept_ns = 0

    # ---------------------------------------------------------------- entry points

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, retried as configured; returns its result or raises the
        last exception."""
        start = self.clock.monotonic_ns() if self._timed else 0
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            return self._retry(fn, args, kwargs, error, start)
        self._succeeded_at_once()
        return result

    async def call_async(
        self, fn: Callable[..., Awaitable[T] | T], /, *args: Any, **kwargs: Any
    ) -> T:
        """``await fn(*args, **kwargs)`` (or its plain result), retried as configured; sleeps
        through the clock without blocking the loop. Cancellation is never retried."""
        start = self.clock.monotonic_ns() if self._timed else 0
        try:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as error:
            return await self._retry_async(fn, args, kwargs, error, start)  # type: ignore[no-any-return]
        self._succeeded_at_once()
        return result

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Decorate ``fn``: every call of it goes through the policy."""
        if not callable(fn):
            raise TypeError(f"RetryPolicy decorates a callable, not {fn!r}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def retried_async(*args: Any, **kwargs: Any) -> Any:
                return await self.call_async(fn, *args, **kwargs)

            return retried_async

        @functools.wraps(fn)
        def retried(*args: Any, **kwargs: Any) -> Any:
            return self.call(fn, *args, **kwargs)

        return retried

    # ---------------------------------------------------------------- the slow path

    def _retry(
        self, fn: Callable[..., T], args: Any, kwargs: Any, first: BaseException, start: int
    ) -> T:
        run = _Run(self, first, start)

        def attempt(*args: Any, **kwargs: Any) -> T:
            run.replay()
            try:
                result = fn(*args, **kwargs)
            except BaseException as error:
                run.attempted(error)
                raise
            run.attempted(None)
            return result

        retrying = tenacity.Retrying(sleep=run.sleep, **run.hooks())
        return run.finish(lambda: retrying(attempt, *args, **kwargs))

    async def _retry_async(
        self, fn: Callable[..., Any], args: Any, kwargs: Any, first: BaseException, start: int
    ) -> Any:
        run = _Run(self, first, start)

        async def attempt(*args: Any, **kwargs: Any) -> Any:
            run.replay()
            try:
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException as error:
                run.attempted(error)
                raise
            run.attempted(None)
            return result

        retrying = tenacity.AsyncRetrying(sleep=run.sleep_async, **run.hooks())
        return await run.finish_async(retrying(attempt, *args, **kwargs))

    # ---------------------------------------------------------------- bookkeeping

    def _succeeded_at_once(self) -> None:
        lock = self._lock
        lock.acquire()
        try:
            self.calls += 1
            self.attempts += 1
            self.successes += 1
            if self.listeners.active:
                self.listeners.enqueue(
                    (RetryAttempted(self.name, self.clock.monotonic_ns(), 1, None),)
                )
        finally:
            lock.release()
        if self.listeners._pending:
            self.listeners.deliver()

    def retryable(self, error: BaseException, state: tenacity.RetryCallState) -> bool:
        """Whether ``error`` (the outcome of ``state``'s attempt) may be retried."""
        config = self.config
        if not isinstance(error, Exception) or isinstance(error, CircuitOpenError):
            return False
        if not isinstance(error, config.retry_on):
            return False
        return config.retry_if is None or bool(config.retry_if(state))

    def delay_us(self, error: BaseException, attempt: int) -> int:
        """The delay before the attempt after ``attempt`` (which raised ``error``)."""
        if isinstance(error, RateLimited):
            return -(-error.retry_after_ns // NS_PER_US)
        config = self.config
        # base * 2**(attempt-1), capped; the shift stops at 2**62 us (a bound far past any cap,
        # for a base of 1 us or more) and a zero base stays zero however long the retries go.
        bound = min(config.max_delay_us, config.base_delay_us << min(attempt - 1, _MAX_SHIFT))
        return self.random.randint(0, bound)

    def give_up(
        self, attempt: int, error: BaseException, elapsed_ns: int, delay_us: int
    ) -> str | None:
        """Why the call ends after ``attempt`` raised the retryable ``error``, ``elapsed_ns`` into
        the call, with ``delay_us`` drawn for the next attempt: ``"max_attempts"``,
        ``"deadline"`` (the delay would pass it), or ``None`` to retry."""
        config = self.config
        if config.max_attempts is not None and attempt >= config.max_attempts:
            return "max_attempts"
        if (
            config.deadline_ns is not None
            and elapsed_ns + delay_us * NS_PER_US > config.deadline_ns
        ):
            return "deadline"
        return None

    def subscribe(self, listener: Callable[[Any], object]) -> Callable[[], None]:
        """Call ``listener(event)`` for every ``RetryAttempted``, ``RetryScheduled`` and
        ``RetryGaveUp``; returns an unsubscribe function."""
        return self.listeners.subscribe(listener)

    def metrics(self) -> dict[str, int]:
        """Counters: calls, attempts, successes, failures (calls that raised in the end), retries,
        gave_up (retryable but out of attempts or time), not_retried, slept_ns."""
        with self._lock:
            return {**{name: getattr(self, name) for name in _COUNTERS}, "slept_ns": self.slept_ns}

    def __repr__(self) -> str:
        c = self.config
        return (
            f"RetryPolicy(name={self.name!r}, max_attempts={c.max_attempts}, "
            f"deadline_ns={c.deadline_ns}, base_delay_us={c.base_delay_us}, "
            f"max_delay_us={c.max_delay_us})"
        )


class _Run:
    """One call that failed its first attempt: the state tenacity's hooks share."""

    __slots__ = ("attempt", "delay", "first", "policy", "reason", "start")

    def __init__(self, policy: RetryPolicy, first: BaseException, start: int) -> None:
        self.policy = policy
        self.first: BaseException | None = first
        self.start = start
        self.attempt = 0  # attempts made
        self.delay = 0  # the delay drawn after the last attempt, in microseconds
        self.reason = ""
        self.attempted(first)

    def hooks(self) -> dict[str, Any]:
        return {
            "retry": self.retry,
            "wait": self.wait,
            "stop": self.stop,
            "before_sleep": self.before_sleep,
            "reraise": self.policy.config.reraise,
        }

    def replay(self) -> None:
        """Tenacity's first attempt: raise the first attempt's error again, without a call."""
        first, self.first = self.first, None
        if first is not None:
            raise first

    def attempted(self, error: BaseException | None) -> None:
        policy = self.policy
        with policy._lock:
            self.attempt += 1
            policy.attempts += 1
            if policy.listeners.active:
                now = policy.clock.monotonic_ns()
                policy.listeners.enqueue((RetryAttempted(policy.name, now, self.attempt, error),))

    # Tenacity calls these after each failed attempt, in order: retry, wait, stop, before_sleep.

    def retry(self, state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        assert outcome is not None
        error = outcome.exception()
        if error is None:  # tenacity asks about successes too
            return False
        if self.policy.retryable(error, state):
            return True
        self.reason = "not retryable"
        return False

    def wait(self, state: tenacity.RetryCallState) -> float:
        limit = self.policy.config.max_attempts
        if limit is not None and state.attempt_number >= limit:
            self.delay = 0  # giving up: no delay is drawn
        else:
            error = _failure(state)
            self.delay = self.policy.delay_us(error, state.attempt_number)
        return self.delay / 1_000_000

    def stop(self, state: tenacity.RetryCallState) -> bool:
        policy = self.policy
        elapsed = policy.clock.monotonic_ns() - self.start if policy._timed else 0
        error = _failure(state)
        self.reason = policy.give_up(state.attempt_number, error, elapsed, self.delay) or ""
        return bool(self.reason)

    def before_sleep(self, state: tenacity.RetryCallState) -> None:
        policy = self.policy
        error = _failure(state)
        delay_ns = self.delay * NS_PER_US
        with policy._lock:
            policy.retries += 1
            policy.slept_ns += delay_ns
            if policy.listeners.active:
                now = policy.clock.monotonic_ns()
                event = RetryScheduled(policy.name, now, state.attempt_number, delay_ns, error)
                policy.listeners.enqueue((event,))
        policy.listeners.deliver()

    def sleep(self, _seconds: float) -> None:
        self.policy.clock.sleep(self.delay / 1_000_000)

    async def sleep_async(self, _seconds: float) -> None:
        await sleep_async(self.policy.clock, self.delay / 1_000_000)

    # ---------------------------------------------------------------- the end of the call

    def finish(self, loop: Callable[[], T]) -> T:
        try:
            result = loop()
        except BaseException as error:
            self._failed(error)
            raise
        self._succeeded()
        return result

    async def finish_async(self, loop: Awaitable[T]) -> T:
        try:
            result = await loop
        except BaseException as error:
            self._failed(error)
            raise
        self._succeeded()
        return result

    def _succeeded(self) -> None:
        policy = self.policy
        with policy._lock:
            policy.calls += 1
            policy.successes += 1
        policy.listeners.deliver()

    def _failed(self, error: BaseException) -> None:
        policy = self.policy
        last = error.last_attempt.exception() if isinstance(error, tenacity.RetryError) else error
        with policy._lock:
            policy.calls += 1
            policy.failures += 1
            if self.reason in ("max_attempts", "deadline"):
                policy.gave_up += 1
                if policy.listeners.active and last is not None:
                    now = policy.clock.monotonic_ns()
                    event = RetryGaveUp(policy.name, now, self.attempt, self.reason, last)
                    policy.listeners.enqueue((event,))
            else:
                policy.not_retried += 1
        policy.listeners.deliver()


def _failure(state: tenacity.RetryCallState) -> BaseException:
    """The exception the attempt of ``state`` raised (tenacity calls ``wait``, ``stop`` and
    ``before_sleep`` only after a failed attempt that ``retry`` chose to retry)."""
    outcome = state.outcome
    assert outcome is not None
    error = outcome.exception()
    assert error is not None
    return error
