"""Planted bugs in our CircuitBreaker: each a subclass with one real-world slip.

Every variant changes behaviour a user could observe; the breaker machine must catch each one
(``properties/test_zoo.py``). Numbers refer to ../shared/notes/bug-classes.md.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from resilience import CircuitBreaker
from resilience.breaker.breaker import CLOSED, HALF_OPEN, _Phase
from resilience.breaker.policy import FailureRate

__all__ = ["BREAKER_MUTANTS"]


class RecoveryBoundaryExclusive(CircuitBreaker):
    """`>` instead of `>=`: still OPEN at exactly opened_at + recovery_timeout."""

    def _recovered(self, phase: _Phase, now_ns: int) -> bool:
        return phase.due_ns is not None and now_ns > phase.due_ns


class IgnoredExceptionResetsCount(CircuitBreaker):
    """An ignored exception is treated as a success (bug class 9: pybreaker, circuitbreaker)."""

    def _decide_locked(
        self, phase: _Phase, now: int | None, error: BaseException | None, counted: bool,
        events: Any,
    ) -> None:  # fmt: skip
        if error is not None and not counted:
            error = None
        super()._decide_locked(phase, now, error, counted, events)


class HalfOpenAdmitsEveryone(CircuitBreaker):
    """Half-open does not gate concurrency (bug classes 3 and 6: circuitbreaker #49)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._config = dataclasses.replace(self._config, half_open_max_calls=10**9)


class ForgetsEarlierProbes(CircuitBreaker):
    """A new half-open stay forgets probes still running from the previous one, so the
    recovering dependency sees more than half_open_max_calls probes at once."""

    def _enter_locked(
        self, state: Any, at_ns: int, reason: str, events: Any, due_ns: Any = None
    ) -> Any:
        if state is HALF_OPEN:
            self._probes = 0
        return super()._enter_locked(state, at_ns, reason, events, due_ns)


class SuccessThresholdOffByOne(CircuitBreaker):
    """Closes one probe success too late (`>` for `>=` on the success count)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = self._config
        self._config = dataclasses.replace(config, success_threshold=config.success_threshold + 1)


class _UnboundedWindow(FailureRate):
    def _record(self, failed: bool) -> bool:
        self.window_size += 1  # the window never fills, so nothing is ever evicted
        return super()._record(failed)


class RateWindowNeverEvicts(CircuitBreaker):
    """The failure-rate window keeps every call ever made instead of the last `window_size`."""

    def _new_policy(self) -> Any:
        config = self._config
        if config.failure_rate_threshold is None:
            return config.new_policy()
        assert config.window_size is not None
        assert config.minimum_calls is not None
        return _UnboundedWindow(
            config.failure_rate_threshold, config.window_size, config.minimum_calls
        )


class LateOutcomesCount(CircuitBreaker):
    """Calls started before a transition count after it (bug class 5: Polly #216 probe stampede)."""

    def _record(self, token: _Phase, error: BaseException | None, counted: bool) -> None:
        phase = self._phase
        if phase.state in (CLOSED, HALF_OPEN):
            token = phase  # every outcome is credited to the current phase
        super()._record(token, error, counted)


class IgnoredProbeKeepsSlot(CircuitBreaker):
    """An ignored/cancelled probe never frees its slot: stuck half-open (bug class 4)."""

    def _record(self, token: _Phase, error: BaseException | None, counted: bool) -> None:
        super()._record(token, error, counted)
        if token.state is HALF_OPEN and error is not None and not counted:
            with self._lock:
                self._probes += 1  # give the slot back to nobody


class ResetKeepsFailures(CircuitBreaker):
    """reset() closes the circuit but keeps the counted failures (stale state after reset)."""

    def reset(self) -> None:
        policy, self._policy = self._policy, self._new_policy()  # reset() clears a throwaway
        super().reset()
        self._policy = policy


class QuietSuccessGoesStale(CircuitBreaker):
    """The lock-free success path trusts a flag a failure forgot to clear: successes stop
    resetting the consecutive-failure run (a lost update on the hot path)."""

    def _succeed(self, token: _Phase) -> None:
        if token is self._phase and token.state is CLOSED and not self._listeners.active:
            next(self._succeeded)
        else:
            self._record(token, None, False)


#: name -> (class, what it stands for)
class StatusPolicyMislabelled(CircuitBreaker):
    """``status()`` calls every policy "consecutive" (a label hard-coded when the failure-rate
    policy was added): an operator reads the wrong rule for why the circuit opened."""

    def status(self) -> dict[str, Any]:
        status = super().status()
        status["policy"] = "consecutive"
        return status


BREAKER_MUTANTS: dict[str, type[CircuitBreaker]] = {
    cls.__name__: cls
    for cls in (
        RecoveryBoundaryExclusive,
        IgnoredExceptionResetsCount,
        HalfOpenAdmitsEveryone,
        ForgetsEarlierProbes,
        SuccessThresholdOffByOne,
        RateWindowNeverEvicts,
        LateOutcomesCount,
        IgnoredProbeKeepsSlot,
        ResetKeepsFailures,
        QuietSuccessGoesStale,
        StatusPolicyMislabelled,
    )
}
