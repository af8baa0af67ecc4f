"""One property per ``circuitbreaker`` 2.1.3 defect our subclass fixes (frozen-time notes, last
section). Each property holds for ``resilience.CircuitBreaker`` and is falsified, deterministically,
for the unfixed base class: the fix is pinned, and the property is shown to have teeth."""

from __future__ import annotations

from collections.abc import Callable

import circuitbreaker
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import resilience
from properties.harness.frozen import FrozenTime
from properties.targets.breaker import Benign, Boom

OURS = resilience.CircuitBreaker
BASE = circuitbreaker.CircuitBreaker
REJECTED = (circuitbreaker.CircuitBreakerError,)  # CircuitOpenError is one too


def fail(breaker: circuitbreaker.CircuitBreaker, exc: BaseException) -> None:
    """One call through ``breaker`` that raises ``exc`` (or is rejected, once it opened)."""

    def raising() -> None:
        raise exc

    try:
        breaker.call(raising)
    except (type(exc), *REJECTED):
        pass


def falsified(check: Callable[..., None], *strategies: st.SearchStrategy[object]) -> bool:
    """Whether Hypothesis finds a counterexample to ``check`` (derandomized: every time)."""
    test = settings(
        settings.default,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        max_examples=100,
        print_blob=False,
    )(given(*strategies)(check))
    try:
        test()
    except (AssertionError, pytest.fail.Exception):
        return True
    return False


implementations = pytest.mark.parametrize("cls", [OURS, BASE], ids=["resilience", "unfixed-base"])


def expect(cls: type, check: Callable[..., None], *strategies: st.SearchStrategy[object]) -> None:
    """Ours satisfies ``check``; the unfixed base class must not."""
    if cls is OURS:
        given(*strategies)(check)()
    else:
        assert falsified(check, *strategies), "the base package unexpectedly satisfies this"


# ---------------------------------------------------------------- 0 is never silently a default


@implementations
def test_zero_recovery_timeout_means_half_open_at_once(cls: type) -> None:
    """recovery_timeout=0: the breaker is half-open the instant it opens (base: 30 s)."""

    def check(threshold: int) -> None:
        with FrozenTime():
            breaker = cls(failure_threshold=threshold, recovery_timeout=0, name="zero")
            for _ in range(threshold):
                fail(breaker, Boom())
            assert breaker.state == "half_open"

    expect(cls, check, st.integers(1, 5))


@implementations
def test_invalid_failure_threshold_is_rejected(cls: type) -> None:
    """failure_threshold <= 0 raises ConfigError naming the field (base: 0 becomes 5)."""

    def check(threshold: int) -> None:
        with pytest.raises(resilience.ConfigError, match="failure_threshold"):
            cls(failure_threshold=threshold)

    expect(cls, check, st.integers(max_value=0))


# ---------------------------------------------------------------- ignored exceptions


@implementations
def test_ignored_exceptions_do_not_reset_the_count(cls: type) -> None:
    """Counted failures interleaved with ignored exceptions still open the breaker."""

    def check(pattern: list[bool]) -> None:
        with FrozenTime():
            threshold = pattern.count(True)
            breaker = cls(failure_threshold=threshold, recovery_timeout=1, expected_exception=Boom)
            for counted in pattern:
                fail(breaker, Boom() if counted else Benign())
            assert breaker.state == "open"

    patterns = st.lists(st.booleans(), min_size=1, max_size=8).filter(lambda p: True in p)
    expect(cls, check, patterns)


@implementations
def test_ignored_exception_does_not_close_half_open(cls: type) -> None:
    """A half-open probe that raises an ignored exception leaves the breaker half-open."""

    def check(ignored: int) -> None:
        with FrozenTime() as frozen:
            breaker = cls(failure_threshold=1, recovery_timeout=1, expected_exception=Boom)
            fail(breaker, Boom())
            frozen.advance_us(1_000_000)
            for _ in range(ignored):
                fail(breaker, Benign())
            assert breaker.state == "half_open"

    expect(cls, check, st.integers(1, 4))


# ---------------------------------------------------------------- every entry point checks


@implementations
def test_every_entry_point_rejects_while_open(cls: type) -> None:
    """call() and `with breaker:` honour the open check, like the decorator (base: they skip it)."""

    def check(entry: str) -> None:
        with FrozenTime():
            breaker = cls(failure_threshold=1, recovery_timeout=60)
            fail(breaker, Boom())
            ran: list[int] = []

            def through_with() -> None:
                with breaker:
                    ran.append(1)

            enter = {
                "call": lambda: breaker.call(ran.append, 1),
                "with": through_with,
                "decorator": lambda: breaker(ran.append)(1),
            }[entry]
            with pytest.raises(REJECTED):
                enter()
            assert not ran

    expect(cls, check, st.sampled_from(["decorator", "call", "with"]))


# ---------------------------------------------------------------- half-open gating


@implementations
def test_half_open_admits_a_bounded_number_of_probes(cls: type) -> None:
    """Probes held open at once never exceed half_open_max_calls (base: all admitted)."""

    def check(callers: int) -> None:
        with FrozenTime() as frozen:
            breaker = cls(failure_threshold=1, recovery_timeout=1)
            fail(breaker, Boom())
            frozen.advance_us(1_000_000)
            held, admitted = [], 0
            for _ in range(callers):
                try:
                    breaker.__enter__()
                except REJECTED:
                    continue
                admitted += 1
                held.append(breaker)
            assert admitted == 1
            for b in held:
                b.__exit__(None, None, None)

    expect(cls, check, st.integers(2, 8))


# ---------------------------------------------------------------- exact timing


@implementations
def test_retry_after_is_exact(cls: type) -> None:
    """While open, the time left is exact to the microsecond (base: ceil-rounded seconds)."""

    def check(timeout_us: int, elapsed_us: int) -> None:
        elapsed_us = min(elapsed_us, timeout_us - 1)
        with FrozenTime() as frozen:
            breaker = cls(failure_threshold=1, recovery_timeout=timeout_us / 1_000_000)
            fail(breaker, Boom())
            frozen.advance_us(elapsed_us)
            assert breaker.state == "open"
            assert breaker.open_remaining == (timeout_us - elapsed_us) / 1_000_000

    expect(cls, check, st.integers(1, 10**8), st.integers(0, 10**8))


# ---------------------------------------------------------------- class-level configuration


@implementations
def test_class_defaults_are_inherited(cls: type) -> None:
    """EXPECTED_EXCEPTION set on a class still applies in its subclasses (base: only its own)."""

    def check(depth: int) -> None:
        klass = type("Configured", (cls,), {"EXPECTED_EXCEPTION": Boom})
        for level in range(depth):
            klass = type(f"Sub{level}", (klass,), {})
        with FrozenTime():
            breaker = klass(failure_threshold=1, recovery_timeout=1)
            fail(breaker, Benign())
            assert breaker.state == "closed"

    expect(cls, check, st.integers(1, 3))


@implementations
def test_class_level_fallback_receives_the_call_arguments(cls: type) -> None:
    """A plain function as FALLBACK_FUNCTION is called with the call's arguments, not bound to
    the breaker (base: it becomes a method and receives the breaker as first argument)."""

    def check(args: list[int]) -> None:
        received = []

        def fallback(*a: int) -> str:
            received.append(a)
            return "fallback"

        klass = type("WithFallback", (cls,), {"FALLBACK_FUNCTION": fallback})
        with FrozenTime():
            breaker = klass(failure_threshold=1, recovery_timeout=60)
            fail(breaker, Boom())
            assert breaker(lambda *a: "real")(*args) == "fallback"
            assert received == [tuple(args)]

    expect(cls, check, st.lists(st.integers(), max_size=3))


# ---------------------------------------------------------------- registry


def test_registry_all_closed_is_false_while_half_open() -> None:
    """all_closed() is False while any breaker is half-open (base monitor: True)."""

    def check(ours: bool) -> None:
        with FrozenTime() as frozen:
            breaker = (OURS if ours else BASE)(failure_threshold=1, recovery_timeout=1, name="b")
            if ours:
                registry = resilience.BreakerRegistry()
                registry.register(breaker)
                all_closed = registry.all_closed
            else:
                circuitbreaker.CircuitBreakerMonitor.register(breaker)
                all_closed = circuitbreaker.CircuitBreakerMonitor.all_closed
            fail(breaker, Boom())
            frozen.advance_us(1_000_000)
            assert breaker.state == "half_open"
            assert not all_closed()

    check(True)
    with pytest.raises(AssertionError):
        check(False)


def test_registry_refuses_two_breakers_under_one_name() -> None:
    """A second breaker under a registered name is a ConfigError (base monitor overwrites)."""
    registry = resilience.BreakerRegistry()
    first = registry.register(OURS(name="payments"))
    with pytest.raises(resilience.ConfigError, match="name"):
        registry.register(OURS(name="payments"))
    assert registry.get("payments") is first
    circuitbreaker.CircuitBreakerMonitor.register(BASE(name="payments"))
    second = BASE(name="payments")
    circuitbreaker.CircuitBreakerMonitor.register(second)
    assert circuitbreaker.CircuitBreakerMonitor.get("payments") is second  # the base overwrites
