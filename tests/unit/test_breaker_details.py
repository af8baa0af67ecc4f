"""What mutation testing found unchecked in the breaker's details: the name a decorated callable
gives it, the kind of function the decorator returns, an async fallback serving a decorated async
function, ``last_failure`` after ``reset()``, the events of operations nobody listened to, a
healthy call never waiting for the breaker's lock, a success tripping the failure-rate policy, and
predicates that read the exception or raise, the base package's attributes, and class defaults."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Iterator

import pytest

from properties.harness.frozen import FrozenTime
from resilience import (
    BreakerState,
    CallIgnored,
    CircuitBreaker,
    CircuitOpenError,
    ConfigError,
    Event,
    StateChanged,
    SystemClock,
)
from resilience.breaker import BreakerConfig
from tests.refusals import assert_refused


class Boom(Exception):
    pass


def boom() -> None:
    raise Boom


class Handler:
    """A callable object with a ``__name__`` but no ``__qualname__`` (instances have none)."""

    __name__ = "handler"

    def __call__(self, value: int) -> int:
        return value + 1


def test_a_decorated_callable_without_a_qualname_names_the_breaker_by_its_name() -> None:
    """An unnamed breaker takes the decorated callable's ``__qualname__``, else its ``__name__``."""
    handler = Handler()
    assert not hasattr(handler, "__qualname__")
    breaker = CircuitBreaker()
    wrapped = breaker(handler)
    assert breaker.name == "handler"
    assert wrapped(1) == 2


async def _coroutine_function() -> str:
    return "real"


async def _async_generator_function() -> Iterator[str]:  # type: ignore[misc]
    yield "real"


def _generator_function() -> Iterator[str]:
    yield "real"


def _plain_function() -> str:
    return "real"


@pytest.mark.parametrize(
    ("function", "is_coroutine_function"),
    [
        pytest.param(_coroutine_function, True, id="async def"),
        pytest.param(_async_generator_function, False, id="async generator"),
        pytest.param(_generator_function, False, id="generator"),
        pytest.param(_plain_function, False, id="plain"),
    ],
)
def test_a_decorated_coroutine_function_is_still_a_coroutine_function(
    function: Callable[[], object], is_coroutine_function: bool
) -> None:
    """Frameworks tell ``async def`` handlers apart with ``inspect.iscoroutinefunction``: the
    decorator keeps the answer the function itself gives."""
    decorated = CircuitBreaker()(function)
    assert inspect.iscoroutinefunction(decorated) is is_coroutine_function


def test_an_async_fallback_serves_a_decorated_async_function_with_its_arguments(
    frozen: FrozenTime,
) -> None:
    """An ``async def`` fallback is accepted for an ``async def`` function and answers, awaited,
    with the call's arguments while the circuit is open."""

    async def fallback(value: int, *, unit: str) -> str:
        return f"fallback {value} {unit}"

    breaker = CircuitBreaker(name="async", fallback_function=fallback)

    @breaker
    async def fetch(value: int, *, unit: str) -> str:
        return f"real {value} {unit}"

    assert asyncio.run(fetch(1, unit="s")) == "real 1 s"
    breaker.force_open()
    assert asyncio.run(fetch(2, unit="ms")) == "fallback 2 ms"


def test_reset_forgets_the_last_failure(frozen: FrozenTime) -> None:
    """``last_failure`` (the base package's attribute) is the last counted failure, and None
    again once ``reset()`` has closed the circuit."""
    breaker = CircuitBreaker(failure_threshold=2)
    fresh = breaker.last_failure
    with pytest.raises(Boom) as failed:
        breaker.call(boom)
    after_failure = breaker.last_failure
    breaker.reset()
    assert fresh is None
    assert after_failure is failed.value
    assert breaker.last_failure is None


def _force_open(breaker: CircuitBreaker) -> None:
    breaker.force_open()


def _reset(breaker: CircuitBreaker) -> None:
    breaker.reset()


def _failing_call(breaker: CircuitBreaker) -> None:
    with pytest.raises(Boom):
        breaker.call(boom)


def _rejected_call(breaker: CircuitBreaker) -> None:
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)


@pytest.mark.parametrize(
    ("operation", "open_first", "state_after"),
    [
        pytest.param(_force_open, False, BreakerState.OPEN, id="force_open"),
        pytest.param(_reset, True, BreakerState.CLOSED, id="reset"),
        pytest.param(_failing_call, False, BreakerState.OPEN, id="failing call"),
        pytest.param(_rejected_call, True, BreakerState.OPEN, id="rejected call"),
    ],
)
def test_an_operation_nobody_listened_to_emits_nothing_later(
    frozen: FrozenTime,
    operation: Callable[[CircuitBreaker], None],
    open_first: bool,
    state_after: BreakerState,
) -> None:
    """Events are built only for an operation that starts with a listener subscribed: none of
    an unheard operation surfaces later, not even for a listener subscribed while the events of
    an earlier operation are still being delivered (here: from inside a listener, which stops
    listening, runs the operation, then subscribes another listener)."""
    breaker = CircuitBreaker(name="quiet", failure_threshold=1, recovery_timeout=60)
    if open_first:
        _failing_call(breaker)
    heard: list[Event] = []

    def first(event: Event) -> None:
        stop_first()
        operation(breaker)  # nobody listens now
        breaker.subscribe(heard.append)

    stop_first = breaker.subscribe(first)
    if open_first:
        _rejected_call(breaker)  # a CallRejected, delivered to `first`
    else:
        breaker.call(lambda: None)  # a CallSucceeded, delivered to `first`
    assert breaker.state is state_after  # the operation ran
    assert heard == []


WAIT = 5.0  # real seconds; only ever reached when a healthy call waits for the lock (a bug)


class HookedClock(SystemClock):
    """The system clock; its next reading first runs ``hook`` (once). The breaker reads its clock
    with its lock held, so the hook runs while the lock is taken."""

    __slots__ = ("hook",)

    def __init__(self) -> None:
        self.hook: Callable[[], None] | None = None

    def monotonic_ns(self) -> int:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return super().monotonic_ns()


def _fresh(breaker: CircuitBreaker) -> None:
    pass


def _success_after_a_failure(breaker: CircuitBreaker) -> None:
    _failing_call(breaker)
    breaker.call(lambda: None)  # ends the run of failures: nothing is pending again


def _after_reset(breaker: CircuitBreaker) -> None:
    breaker.reset()


def _closed_by_a_probe(breaker: CircuitBreaker) -> None:
    _failing_call(breaker)
    _failing_call(breaker)  # open; half-open at once (recovery_timeout=0)
    breaker.call(lambda: None)  # the probe closes it


@pytest.mark.parametrize(
    "prepare",
    [
        pytest.param(_fresh, id="fresh"),
        pytest.param(_success_after_a_failure, id="after a success that ended a failure run"),
        pytest.param(_after_reset, id="after reset"),
        pytest.param(_closed_by_a_probe, id="after closing from half-open"),
    ],
)
def test_a_healthy_call_never_waits_for_the_breakers_lock(
    prepare: Callable[[CircuitBreaker], None],
) -> None:
    """In the CLOSED state, with no failure pending and nobody listening, a call is admitted and
    its success recorded without taking the breaker's lock (the README's promise): it completes
    while another thread holds the lock (here: ``reset()``, reading a slow clock)."""
    clock = HookedClock()
    breaker = CircuitBreaker(name="hot", failure_threshold=2, recovery_timeout=0, clock=clock)
    prepare(breaker)
    assert breaker.state is BreakerState.CLOSED
    results: list[str] = []
    done_while_locked: list[bool] = []

    def meanwhile() -> None:
        caller = threading.Thread(target=lambda: results.append(breaker.call(lambda: "ok")))
        caller.start()
        caller.join(WAIT)
        done_while_locked.append(not caller.is_alive())

    clock.hook = meanwhile
    other = threading.Thread(target=breaker.reset)
    other.start()
    other.join()
    assert done_while_locked == [True]
    assert results == ["ok"]


@pytest.mark.parametrize("listening", [False, True], ids=["nobody listening", "listening"])
def test_a_success_that_trips_the_failure_rate_opens_the_breaker_at_its_instant(
    frozen: FrozenTime, listening: bool
) -> None:
    """A success can trip the failure-rate policy, by bringing the window up to minimum_calls
    with the failure share at the threshold (README). The breaker opens at that success's
    instant, for the recovery timeout, and says why: "failure_rate"."""
    breaker = CircuitBreaker(
        name="rate", failure_rate_threshold=0.5, window_size=2, recovery_timeout=10
    )
    events: list[Event] = []
    if listening:
        breaker.subscribe(events.append)
    _failing_call(breaker)  # 1 of 1 failed, below minimum_calls (2)
    assert state(breaker) is BreakerState.CLOSED
    frozen.advance_us(1_000_000)
    tripped_at = frozen.now_ns()
    assert breaker.call(lambda: "ok") == "ok"  # 1 of 2 failed: the share reaches 1/2
    assert state(breaker) is BreakerState.OPEN
    assert breaker.retry_after == 10.0
    changes = [(e.old, e.new, e.reason, e.at_ns) for e in events if isinstance(e, StateChanged)]
    assert changes == ([("closed", "open", "failure_rate", tripped_at)] if listening else [])
    frozen.advance_us(10_000_000)
    assert state(breaker) is BreakerState.HALF_OPEN


class Status(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def server_errors(exc_type: type[BaseException], exc: BaseException) -> bool:
    """A predicate that reads the exception itself, not only its type."""
    return isinstance(exc, Status) and exc.code >= 500


def test_a_predicate_sees_the_exception_itself(frozen: FrozenTime) -> None:
    """``expected_exception`` as a predicate gets ``(exc_type, exc)``: it can classify by the
    exception's content (a 404 is ignored, a 503 counts)."""
    breaker = CircuitBreaker(name="http", failure_threshold=1, expected_exception=server_errors)
    with pytest.raises(Status):
        breaker.call(_raise, Status(404))
    assert state(breaker) is BreakerState.CLOSED
    with pytest.raises(Status):
        breaker.call(_raise, Status(503))
    assert state(breaker) is BreakerState.OPEN
    assert breaker.metrics()["calls_ignored"] == 1
    assert breaker.metrics()["calls_failed"] == 1


def _raise(error: BaseException) -> None:
    raise error


def state(breaker: CircuitBreaker) -> BreakerState:
    """``breaker.state``, read afresh (a plain attribute read would be narrowed by mypy)."""
    return breaker.state


class Unclassifiable(Exception):
    pass


class PredicateBug(Exception):
    pass


def fragile_predicate(exc_type: type[BaseException], exc: BaseException) -> bool:
    """Counts every exception, except that it breaks on an ``Unclassifiable`` one."""
    if isinstance(exc, Unclassifiable):
        raise PredicateBug("cannot classify")
    return True


def test_a_raising_predicate_propagates_and_the_probe_counts_as_ignored(
    frozen: FrozenTime,
) -> None:
    """When the predicate itself raises, its exception reaches the caller (chained to the call's
    own), and the call is recorded as ignored: neither success nor failure. A half-open probe so
    ended frees its slot and leaves the breaker half-open: the next probe is admitted."""
    breaker = CircuitBreaker(
        name="fragile",
        failure_threshold=1,
        recovery_timeout=0,
        expected_exception=fragile_predicate,
    )
    _failing_call(breaker)  # open, and half-open at once: one probe slot
    events: list[Event] = []
    breaker.subscribe(events.append)
    original = Unclassifiable()
    with pytest.raises(PredicateBug) as raised:
        breaker.call(_raise, original)
    assert raised.value.__context__ is original
    assert state(breaker) is BreakerState.HALF_OPEN
    metrics = breaker.metrics()
    assert metrics["calls_ignored"] == 1
    assert metrics["calls_failed"] == 1  # the failure that opened it, before
    assert metrics["calls_succeeded"] == 0
    ignored = [e for e in events if isinstance(e, CallIgnored)]
    assert [(e.error, e.late) for e in ignored] == [(original, False)]
    assert breaker.call(lambda: "probe") == "probe"  # the slot was freed
    assert state(breaker) is BreakerState.CLOSED


def _plain_fallback() -> str:
    return "fallback"


class PlainFallbackDefault(CircuitBreaker):
    FALLBACK_FUNCTION = _plain_fallback  # a plain function: the base package would bind it


def test_the_base_packages_attributes_carry_the_configuration() -> None:
    """The ``circuitbreaker`` attributes hold the values configured, as given: the base class's
    substitutions (0 -> its default, a plain-function class default -> a bound method) are
    undone."""
    breaker = CircuitBreaker(
        failure_threshold=3, recovery_timeout=0, fallback_function=_plain_fallback, name="x"
    )
    assert breaker._failure_threshold == 3
    assert breaker._recovery_timeout == 0
    assert breaker.fallback_function is _plain_fallback
    assert breaker.name == "x"
    assert PlainFallbackDefault().fallback_function is _plain_fallback


class Unreadable:
    """A class default that refuses to be read: the subclass must be given the setting."""

    def __get__(self, instance: object, owner: type | None = None) -> object:
        raise LookupError("give this setting explicitly")


class ExplicitOnly(CircuitBreaker):
    FAILURE_THRESHOLD = Unreadable()  # type: ignore[assignment]
    FALLBACK_FUNCTION = Unreadable()  # type: ignore[assignment]


def test_a_setting_given_never_reads_its_class_default() -> None:
    """A value given for a setting is used as is; its class default is not even read (so a
    subclass can demand explicit settings with defaults that refuse to be read), and a default
    that is needed but unusable is refused naming it."""
    breaker = ExplicitOnly(failure_threshold=3, fallback_function=_plain_fallback)
    assert breaker.config.failure_threshold == 3
    assert breaker.fallback_function is _plain_fallback
    with pytest.raises(ConfigError) as refused:
        ExplicitOnly(fallback_function=_plain_fallback)
    assert_refused(refused.value, "FAILURE_THRESHOLD", ExplicitOnly.__dict__["FAILURE_THRESHOLD"])


def test_a_config_resolved_for_an_owner_without_class_defaults_is_refused() -> None:
    """``BreakerConfig.resolve`` reads the defaults from the owner class given; one the owner
    lacks is refused as a ``ConfigError`` naming it, like a bad one."""
    with pytest.raises(ConfigError) as refused:
        BreakerConfig.resolve(object)
    assert_refused(refused.value, "WINDOW_SIZE", None)


# ---------------------------------------------------------------- lock-free reads of the state
# ``state`` and ``retry_after`` read the phase, then the clock, without the lock. Found by the
# parallel checker: a phase replaced between the two reads used to be combined with an instant it
# never reached. The hook runs the other thread's operations exactly in that gap.


def _in_the_gap(clock: HookedClock, meanwhile: Callable[[], None]) -> None:
    def run_elsewhere() -> None:
        other = threading.Thread(target=meanwhile)
        other.start()
        other.join(5)
        assert not other.is_alive()

    clock.hook = run_elsewhere


def test_state_never_combines_a_replaced_phase_with_a_later_instant(frozen: FrozenTime) -> None:
    """Open; between ``state``'s phase read and its clock read, ``reset()`` and the recovery
    instant. The breaker went OPEN -> CLOSED: it was never HALF_OPEN."""
    clock = HookedClock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0.001, clock=clock)
    _failing_call(breaker)

    def reset_then_recover() -> None:
        breaker.reset()
        frozen.advance_us(1_000)

    _in_the_gap(clock, reset_then_recover)
    assert breaker.state is BreakerState.CLOSED


def test_retry_after_is_the_time_left_of_the_phase_current_at_its_instant(
    frozen: FrozenTime,
) -> None:
    """Open at t0 (due t0 + 1 ms); in the gap: reset, 0.5 ms, a new trip (due t0 + 1.5 ms). At
    the instant read, 1 ms is left of the new stay, not 0.5 ms of the old one."""
    clock = HookedClock()
    breaker = CircuitBreaker(failure_threshold=1, recovery_timeout=0.001, clock=clock)
    _failing_call(breaker)

    def reset_wait_trip() -> None:
        breaker.reset()
        frozen.advance_us(500)
        _failing_call(breaker)

    _in_the_gap(clock, reset_wait_trip)
    assert breaker.retry_after == 0.001
