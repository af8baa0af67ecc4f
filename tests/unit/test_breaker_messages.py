"""Every message the breaker shows its user, word for word, in one place: the refusals of bad
configuration (a ``ConfigError``: field, value as given, rule), the misuse of ``with`` blocks and
permits (a ``RuntimeError``), the rejections of an open circuit (``CircuitOpenError``), the repr
and the log line of a listener that raised.
A change of wording is an edit of these tables."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from properties.harness.frozen import FrozenTime
from resilience import CircuitBreaker, CircuitOpenError, ConfigError, Event
from tests.refusals import assert_refused

COUNT = "must be an integer >= 1"
SECONDS = "must be a finite number of seconds >= 0 (or a timedelta)"
RATE = "must be a number in (0, 1]"
EXPECTED = (
    "must be an Exception subclass, a non-empty tuple of them, "
    "or a predicate (exc_type, exc) -> bool"
)


class ZeroThreshold(CircuitBreaker):
    FAILURE_THRESHOLD = 0


class Boom(Exception):
    pass


def boom() -> None:
    raise Boom


def missing() -> None:
    raise KeyError("missing")  # not a Boom: ignored by the breakers below


@pytest.mark.parametrize(
    ("cls", "kwargs", "field", "message"),
    [
        pytest.param(
            CircuitBreaker,
            {"failure_threshold": 0},
            "failure_threshold",
            f"failure_threshold=0 is invalid: {COUNT}",
            id="failure_threshold 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_threshold": True},
            "failure_threshold",
            f"failure_threshold=True is invalid: {COUNT}",
            id="failure_threshold True",
        ),
        pytest.param(
            ZeroThreshold,
            {},
            "FAILURE_THRESHOLD",
            f"FAILURE_THRESHOLD=0 is invalid: {COUNT}",
            id="class default",
        ),
        pytest.param(
            CircuitBreaker,
            {"recovery_timeout": -1},
            "recovery_timeout",
            f"recovery_timeout=-1 is invalid: {SECONDS}",
            id="recovery_timeout negative",
        ),
        pytest.param(
            CircuitBreaker,
            {"recovery_timeout": 10**10},
            "recovery_timeout",
            "recovery_timeout=10000000000 is invalid: must be at most 1000000000 s",
            id="recovery_timeout too long",
        ),
        pytest.param(
            CircuitBreaker,
            {"recovery_timeout": 1e-10},
            "recovery_timeout",
            "recovery_timeout=1e-10 is invalid: must be 0 or at least one nanosecond",
            id="recovery_timeout below 1 ns",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 0},
            "failure_rate_threshold",
            f"failure_rate_threshold=0 is invalid: {RATE}",
            id="rate 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 1.5},
            "failure_rate_threshold",
            f"failure_rate_threshold=1.5 is invalid: {RATE}",
            id="rate above 1",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 0.5, "failure_threshold": 3},
            "failure_threshold",
            "failure_threshold=3 is invalid: cannot be combined with failure_rate_threshold: "
            "choose one failure policy",
            id="two policies",
        ),
        pytest.param(
            CircuitBreaker,
            {"window_size": 10},
            "window_size",
            "window_size=10 is invalid: only applies together with failure_rate_threshold",
            id="window without rate",
        ),
        pytest.param(
            CircuitBreaker,
            {"minimum_calls": 10},
            "minimum_calls",
            "minimum_calls=10 is invalid: only applies together with failure_rate_threshold",
            id="minimum without rate",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 0.5, "window_size": 0},
            "window_size",
            f"window_size=0 is invalid: {COUNT}",
            id="window 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 0.5, "minimum_calls": 0},
            "minimum_calls",
            f"minimum_calls=0 is invalid: {COUNT}",
            id="minimum 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"failure_rate_threshold": 0.5, "window_size": 4, "minimum_calls": 5},
            "minimum_calls",
            "minimum_calls=5 is invalid: must be <= window_size (4), "
            "or the policy could never trip",
            id="minimum above window",
        ),
        pytest.param(
            CircuitBreaker,
            {"half_open_max_calls": 0},
            "half_open_max_calls",
            f"half_open_max_calls=0 is invalid: {COUNT}",
            id="half_open_max_calls 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"success_threshold": 0},
            "success_threshold",
            f"success_threshold=0 is invalid: {COUNT}",
            id="success_threshold 0",
        ),
        pytest.param(
            CircuitBreaker,
            {"expected_exception": int},
            "expected_exception",
            f"expected_exception=<class 'int'> is invalid: {EXPECTED}",
            id="expected not an exception",
        ),
        pytest.param(
            CircuitBreaker,
            {"expected_exception": ()},
            "expected_exception",
            f"expected_exception=() is invalid: {EXPECTED}",
            id="expected empty tuple",
        ),
        pytest.param(
            CircuitBreaker,
            {"expected_exception": len},
            "expected_exception",
            "expected_exception=<built-in function len> is invalid: "
            "a predicate must accept (exc_type, exc)",
            id="predicate of one argument",
        ),
        pytest.param(
            CircuitBreaker,
            {"fallback_function": 3},
            "fallback_function",
            "fallback_function=3 is invalid: must be callable or None",
            id="fallback not callable",
        ),
        pytest.param(
            CircuitBreaker,
            {"name": ""},
            "name",
            "name='' is invalid: must be a non-empty string or None",
            id="name empty",
        ),
        pytest.param(
            CircuitBreaker,
            {"name": 3},
            "name",
            "name=3 is invalid: must be a non-empty string or None",
            id="name not a string",
        ),
        pytest.param(
            CircuitBreaker,
            {"clock": "monotonic"},
            "clock",
            "clock='monotonic' is invalid: must provide monotonic_ns() (see resilience.Clock)",
            id="clock not a clock",
        ),
    ],
)
def test_each_configuration_refusal_reads_exactly(
    cls: type[CircuitBreaker], kwargs: dict[str, Any], field: str, message: str
) -> None:
    """A bad setting is refused at construction with this exact text."""
    with pytest.raises(ConfigError) as info:
        cls(**kwargs)
    given = kwargs[field] if field in kwargs else getattr(cls, field)  # else a class default
    assert_refused(info.value, field, given)
    assert str(info.value) == message


def test_an_async_fallback_for_a_sync_function_is_refused_exactly() -> None:
    """Decorating a sync function with an async fallback names the fallback and says why."""

    async def fallback() -> None:
        return None

    breaker = CircuitBreaker(name="db", fallback_function=fallback)
    with pytest.raises(ConfigError) as info:
        breaker(lambda: None)
    assert_refused(info.value, "fallback_function", fallback)
    assert str(info.value) == (
        f"fallback_function={fallback!r} is invalid: an async fallback cannot serve a sync function"
    )


def _exit_without_enter(breaker: CircuitBreaker) -> None:
    breaker.__exit__(None, None, None)


def _permit_exit_without_enter(breaker: CircuitBreaker) -> None:
    breaker.permit().__exit__(None, None, None)


def _permit_entered_twice(breaker: CircuitBreaker) -> None:
    with breaker.permit() as permit:
        permit.__enter__()


def _permit_exited_twice(breaker: CircuitBreaker) -> None:
    with breaker.permit() as permit:
        pass
    permit.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("misuse", "message"),
    [
        pytest.param(
            _exit_without_enter,
            "<CircuitBreaker 'db' state=closed failures=0 retry_after=0 probes=0 succeeded=0 "
            "failed=0 ignored=0 rejected=0>: __exit__ without a matching __enter__ in this "
            "thread or task (use `with breaker.permit():` for blocks that end elsewhere)",
            id="exit without enter",
        ),
        pytest.param(
            _permit_exit_without_enter,
            "this permit was not entered, or has already exited",
            id="permit exit without enter",
        ),
        pytest.param(
            _permit_entered_twice,
            "a permit admits one call: take a new one with breaker.permit()",
            id="permit entered twice",
        ),
        pytest.param(
            _permit_exited_twice,
            "this permit was not entered, or has already exited",
            id="permit exited twice",
        ),
    ],
)
def test_each_misuse_of_a_block_reads_exactly(
    misuse: Callable[[CircuitBreaker], None], message: str
) -> None:
    """Unpaired or repeated entries and exits raise RuntimeError with this exact text."""
    breaker = CircuitBreaker(name="db")
    with pytest.raises(RuntimeError) as info:
        misuse(breaker)
    assert type(info.value) is RuntimeError
    assert str(info.value) == message


def _opened(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    with pytest.raises(Boom):
        breaker.call(boom)
    frozen.advance_us(2_500_000)


def _forced(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    breaker.force_open()


def _half_open_full(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    _opened(breaker, frozen)
    frozen.advance_us(7_500_000)
    breaker.permit().__enter__()  # the only probe slot, held


@pytest.mark.parametrize(
    ("make_open", "message"),
    [
        pytest.param(_opened, 'circuit "db" is open: retry after 7.5 s', id="open"),
        pytest.param(_forced, 'circuit "db" is open: until reset()', id="forced open"),
        pytest.param(
            _half_open_full,
            'circuit "db" is half_open: every probe slot is taken',
            id="half-open and full",
        ),
    ],
)
def test_each_rejection_reads_exactly(
    frozen: FrozenTime, make_open: Callable[[CircuitBreaker, FrozenTime], None], message: str
) -> None:
    """A rejected call says which circuit, its state, and when to come back."""
    breaker = CircuitBreaker(name="db", failure_threshold=1, recovery_timeout=10)
    make_open(breaker, frozen)
    with pytest.raises(CircuitOpenError) as info:
        breaker.call(lambda: None)
    assert str(info.value) == message


def _fresh(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    pass


def _busy_half_open(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    """One success, one ignored exception, two failures (open), one rejection, then half-open
    with the probe slot held."""
    breaker.call(lambda: None)
    with pytest.raises(KeyError):
        breaker.call(missing)
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(boom)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    frozen.advance_us(10_000_000)
    breaker.permit().__enter__()


def _open_then_forced(breaker: CircuitBreaker, frozen: FrozenTime) -> None:
    _opened(breaker, frozen)
    breaker.force_open()


@pytest.mark.parametrize(
    ("name", "make_state", "text"),
    [
        pytest.param(
            None,
            _fresh,
            "<CircuitBreaker 'unnamed_CircuitBreaker' state=closed failures=0 retry_after=0 "
            "probes=0 succeeded=0 failed=0 ignored=0 rejected=0>",
            id="unnamed",
        ),
        pytest.param(
            "db",
            _opened,
            "<CircuitBreaker 'db' state=open failures=1 retry_after=7.5 probes=0 succeeded=0 "
            "failed=1 ignored=0 rejected=0>",
            id="open",
        ),
        pytest.param(
            "db",
            _open_then_forced,
            "<CircuitBreaker 'db' state=open failures=1 retry_after=inf probes=0 succeeded=0 "
            "failed=1 ignored=0 rejected=0>",
            id="forced open",
        ),
        pytest.param(
            "db",
            _busy_half_open,
            "<CircuitBreaker 'db' state=half_open failures=2 retry_after=0 probes=1 succeeded=1 "
            "failed=2 ignored=1 rejected=1>",
            id="half-open, probe in flight",
        ),
    ],
)
def test_each_repr_reads_exactly(
    frozen: FrozenTime,
    name: str | None,
    make_state: Callable[[CircuitBreaker, FrozenTime], None],
    text: str,
) -> None:
    """The repr shows the name, the state, the failures counted, the exact retry_after, the
    probes in flight and the call counters."""
    failure_threshold = 2 if make_state is _busy_half_open else 1
    breaker = CircuitBreaker(
        name=name, failure_threshold=failure_threshold, recovery_timeout=10, expected_exception=Boom
    )
    make_state(breaker, frozen)
    assert repr(breaker) == text


def test_an_unnamed_breaker_goes_by_one_name_everywhere(frozen: FrozenTime) -> None:
    """An unnamed, undecorated breaker is "unnamed_CircuitBreaker" in its status, its events
    and its rejections, as in the base package's ``str()``."""
    breaker = CircuitBreaker()
    events: list[Event] = []
    breaker.subscribe(events.append)
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(lambda: None)
    assert breaker.status()["name"] == "unnamed_CircuitBreaker"
    assert [event.source for event in events] == ["unnamed_CircuitBreaker"] * 2
    assert str(rejected.value) == 'circuit "unnamed_CircuitBreaker" is open: until reset()'


def test_a_raising_listener_is_logged_exactly(
    frozen: FrozenTime, caplog: pytest.LogCaptureFixture
) -> None:
    """The log line of a listener that raised names the listener, the breaker and the event."""
    breaker = CircuitBreaker(name="db")

    def bad_listener(event: Event) -> None:
        raise RuntimeError("listener bug")

    heard: list[Event] = []
    breaker.subscribe(bad_listener)
    breaker.subscribe(heard.append)
    with caplog.at_level(logging.ERROR, logger="resilience.events"):
        breaker.call(lambda: None)
    (event,) = heard
    assert [r.getMessage() for r in caplog.records] == [
        f"listener {bad_listener!r} of db raised on {event!r}"
    ]
