"""Planted concurrency bugs in the circuit breaker: each a subclass with one real-world race.

Killed by the parallel checker (``properties/test_parallel.py``), not by the sequential machine:
run one call at a time, each variant behaves exactly like the real breaker.
"""

from __future__ import annotations

from properties.parallel.breaker import BREAKER, BreakerComponent
from resilience import CircuitBreaker
from resilience.breaker.breaker import CLOSED, HALF_OPEN, _Phase
from resilience.events import CallFailed, CallIgnored, CallSucceeded, Event

__all__ = ["RACES", "HalfOpenCheckSplit", "ProbeSlotFreedBeforeOutcome"]


class HalfOpenCheckSplit(CircuitBreaker):
    """The half-open check and the probe increment are split: the free slot is looked for under
    one acquisition of the lock and taken under another, so callers arriving together can all see
    the last slot free and all be admitted as probes (the stampede half-open exists to prevent)."""

    concurrency = True

    def _admit(self) -> _Phase:
        phase = self._phase
        if phase.state is CLOSED:
            return phase
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:
            phase = self._catch_up_locked(self._clock.monotonic_ns(), events)
            free = phase.state is HALF_OPEN and self._probes < self._config.half_open_max_calls
            if events:
                self._listeners.enqueue(events)
        if events:
            self._listeners.deliver()
        if phase.state is CLOSED:
            return phase
        if free:
            with self._lock:
                self._probes += 1
            return phase
        return super()._admit()  # rejected (or, if a slot freed meanwhile, admitted properly)


class ProbeSlotFreedBeforeOutcome(CircuitBreaker):
    """The probe's slot is released as soon as the protected call returns, before its outcome is
    classified and recorded (a ``finally: release()`` placed ahead of the bookkeeping): in
    between, another caller takes the slot of a probe whose failure is about to re-open the
    breaker, or whose success is about to close it."""

    concurrency = True

    def _release(self, token: _Phase) -> None:
        if token.state is HALF_OPEN:
            with self._lock:
                self._probes -= 1

    def _complete(self, token: _Phase, error: BaseException | None) -> None:
        self._release(token)
        super()._complete(token, error)

    def _succeed(self, token: _Phase) -> None:
        self._release(token)
        super()._succeed(token)

    def _record(self, token: _Phase, error: BaseException | None, counted: bool) -> None:
        events: list[Event] | None = [] if self._listeners.active else None
        with self._lock:  # CircuitBreaker._record without the slot release
            now = self._clock.monotonic_ns()
            phase = self._catch_up_locked(now, events)
            late = token is not phase
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


RACES: dict[str, BreakerComponent] = {
    "HalfOpenCheckSplit": BREAKER.with_classes(HalfOpenCheckSplit),
    "ProbeSlotFreedBeforeOutcome": BREAKER.with_classes(ProbeSlotFreedBeforeOutcome),
}
