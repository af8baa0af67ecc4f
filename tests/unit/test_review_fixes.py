"""Regressions for defects found in review: permits, probe accounting across half-open stays,
event order across threads, pickling, and validation holes."""

from __future__ import annotations

import pickle
import threading
from decimal import Decimal

import pytest

from properties.harness.frozen import FrozenTime
from resilience import CircuitBreaker, CircuitOpenError, ConfigError, Event, SystemClock
from tests.ids import stable_id


class Boom(Exception):
    pass


def trip(breaker: CircuitBreaker) -> None:
    with pytest.raises(Boom), breaker.permit():
        raise Boom


def test_permits_end_in_any_order() -> None:
    """Two permits exited out of order each report their own admission."""
    with FrozenTime():
        breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0, half_open_max_calls=2)
        closed_call = breaker.permit().__enter__()  # admitted while closed
        trip(breaker)  # opens; half-open at once (timeout 0)
        probe = breaker.permit().__enter__()
        closed_call.__exit__(Boom, Boom(), None)  # late: must not re-open the breaker
        assert breaker.state == "half_open"
        assert breaker.metrics()["late_outcomes"] == 1
        probe.__exit__(None, None, None)
        assert breaker.state == "closed"


def test_permit_can_end_in_another_thread() -> None:
    """A permit entered here and exited in a worker frees its probe slot."""
    with FrozenTime():
        breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0)
        trip(breaker)
        probe = breaker.permit().__enter__()
        worker = threading.Thread(target=probe.__exit__, args=(None, None, None))
        worker.start()
        worker.join()
        assert breaker.state == "closed"
        assert breaker.status()["probes_in_flight"] == 0


def test_a_permit_admits_once() -> None:
    """Re-entering or double-exiting a permit is an error, not a second admission."""
    permit = CircuitBreaker().permit()
    with permit, pytest.raises(RuntimeError, match="admits one call"):
        permit.__enter__()
    with pytest.raises(RuntimeError, match="already exited"):
        permit.__exit__(None, None, None)


def test_probes_from_an_earlier_half_open_stay_still_take_a_slot() -> None:
    """Re-opened and recovered: a probe still running from the last stay blocks a new one."""
    with FrozenTime():
        breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0, half_open_max_calls=2)
        trip(breaker)
        old_probe = breaker.permit().__enter__()
        trip(breaker)  # the other probe fails: open, and half-open again at once
        assert breaker.state == "half_open"
        breaker.permit().__enter__()  # one new slot: the old probe holds the other
        with pytest.raises(CircuitOpenError, match="every probe slot"):
            breaker.permit().__enter__()
        old_probe.__exit__(None, None, None)  # late, but its slot is free again
        breaker.permit().__enter__()


def test_events_from_concurrent_callers_never_overtake_each_other() -> None:
    """While one thread's listener runs, another thread's events wait their turn."""
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=60, name="ordered")
    in_listener, release = threading.Event(), threading.Event()
    delivered: list[tuple[str, bool]] = []

    def listener(event: Event) -> None:
        # Record whether the first listener call had finished when this event arrived.
        delivered.append((type(event).__name__, release.is_set()))
        if len(delivered) == 1:
            in_listener.set()
            release.wait(10)

    breaker.subscribe(listener)
    with FrozenTime():
        first = threading.Thread(target=lambda: breaker.call(lambda: None), name="first")
        first.start()
        in_listener.wait(10)  # first's CallSucceeded is being delivered
        with pytest.raises(Boom):
            breaker.call(_boom)  # queued behind it, delivered by "first"
        release.set()
        first.join()
    assert delivered == [
        ("CallSucceeded", False),
        ("CallFailed", True),  # not delivered while the earlier event was still being delivered
        ("StateChanged", True),
    ]


def _boom() -> None:
    raise Boom


def test_circuit_open_error_pickles() -> None:
    """The rejection can cross a process boundary (the snapshot travels, not the breaker)."""
    error = CircuitOpenError(CircuitBreaker(name="svc"), state="open", retry_after=1.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.breaker_name, copy.state, copy.retry_after) == ("svc", "open", 1.5)
    assert str(copy) == str(error)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("clock", SystemClock),  # the class, parentheses forgotten
        ("recovery_timeout", Decimal("sNaN")),
        ("recovery_timeout", Decimal("NaN")),
        ("recovery_timeout", 10**400),
        ("recovery_timeout", 1e-10),  # positive, yet rounds to 0 ns
        ("expected_exception", lambda: True),  # a predicate that cannot take (type, exc)
    ],
    ids=stable_id,
)
def test_validation_holes_are_closed(field: str, value: object) -> None:
    """Each of these once slipped through or raised the wrong error type."""
    with pytest.raises(ConfigError, match=rf"^{field}="):
        CircuitBreaker(**{field: value})  # type: ignore[arg-type]


def test_huge_but_valid_decimal_timeout() -> None:
    """A large finite Decimal within range is accepted exactly (not misjudged as infinite)."""
    breaker = CircuitBreaker(recovery_timeout=Decimal("1e8"))
    assert breaker.config.recovery_timeout_ns == 10**17


def test_window_size_class_default_is_validated_under_either_policy() -> None:
    """WINDOW_SIZE = 0 on a subclass is an error even when the consecutive policy is used."""
    klass = type("BadWindow", (CircuitBreaker,), {"WINDOW_SIZE": 0})
    with pytest.raises(ConfigError, match=r"^WINDOW_SIZE="):
        klass()


def test_open_until_survives_forced_open() -> None:
    """open_until is a datetime even when the breaker is held open indefinitely."""
    breaker = CircuitBreaker()
    breaker.force_open()
    assert breaker.open_until.year == 9999
