"""BreakerRegistry: names to breakers, no silent overwrite, no leak between tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import resilience
from properties.harness.frozen import FrozenTime
from resilience import BreakerRegistry, CircuitBreaker, CircuitOpenError, ConfigError


def test_get_or_create_returns_the_same_breaker() -> None:
    """The same name and config give the same breaker."""
    registry = BreakerRegistry()
    first = registry.get_or_create("payments", failure_threshold=3)
    assert registry.get_or_create("payments", failure_threshold=3) is first
    assert "payments" in registry
    assert len(registry) == 1
    assert list(registry) == [first]


def test_get_or_create_refuses_a_different_config() -> None:
    """Asking for a known name with another config is an error naming what differs."""
    registry = BreakerRegistry()
    registry.get_or_create("payments", failure_threshold=3)
    with pytest.raises(ConfigError) as refused:
        registry.get_or_create("payments", failure_threshold=4)
    assert (refused.value.field, refused.value.value) == ("name", "payments")
    assert refused.value.rule == "already registered with a different failure_threshold"


def test_get_or_create_names_the_breaker() -> None:
    """The breaker created carries the name it is registered under, and reports it."""
    registry = BreakerRegistry()
    breaker = registry.get_or_create("payments", failure_threshold=1)
    assert breaker.name == "payments"
    assert registry.get("payments") is breaker
    breaker.force_open()
    with pytest.raises(CircuitOpenError) as rejected:
        breaker.call(int, "1")
    assert str(rejected.value) == 'circuit "payments" is open: until reset()'


def test_get_or_create_names_every_setting_that_differs() -> None:
    """All of them, in ``BreakerConfig``'s order, in one message."""
    registry = BreakerRegistry()
    registry.get_or_create("payments", failure_threshold=3, half_open_max_calls=1)
    with pytest.raises(ConfigError) as refused:
        registry.get_or_create("payments", failure_threshold=4, half_open_max_calls=2)
    assert str(refused.value) == (
        "name='payments' is invalid: "
        "already registered with a different failure_threshold, half_open_max_calls"
    )


def test_get_or_create_names_a_setting_as_the_argument_is_called() -> None:
    """``recovery_timeout`` (in seconds, as given), not the internal ``recovery_timeout_ns``."""
    registry = BreakerRegistry()
    registry.get_or_create("payments", recovery_timeout=30)
    with pytest.raises(ConfigError) as refused:
        registry.get_or_create("payments", recovery_timeout=31)
    assert str(refused.value) == (
        "name='payments' is invalid: already registered with a different recovery_timeout"
    )


def _never_named() -> CircuitBreaker:
    return CircuitBreaker()


def _named_after_a_nameless_function() -> CircuitBreaker:
    """A breaker takes the name of the function it decorates, here one whose names were
    blanked: the empty name."""

    def nameless() -> None:
        pass

    nameless.__name__ = nameless.__qualname__ = ""
    breaker = CircuitBreaker()
    breaker.decorate(nameless)
    return breaker


@pytest.mark.parametrize(
    ("make", "name"), [(_never_named, None), (_named_after_a_nameless_function, "")]
)
def test_unnamed_breakers_cannot_be_registered(
    make: Callable[[], CircuitBreaker], name: object
) -> None:
    """A registry key must be a name: the refusal shows the name the breaker has."""
    breaker = make()
    assert breaker.name == name
    with pytest.raises(ConfigError) as refused:
        BreakerRegistry().register(breaker)
    assert refused.value.field == "name"
    assert refused.value.value is name
    assert str(refused.value) == (
        f"name={name!r} is invalid: a registered breaker needs a non-empty name"
    )


def test_a_second_breaker_of_the_same_name_is_refused() -> None:
    """No silent overwrite: the first breaker stays registered, the second is refused by name."""
    registry = BreakerRegistry()
    first = registry.register(CircuitBreaker(name="payments"))
    assert registry.register(first) is first  # the same breaker again is fine
    with pytest.raises(ConfigError) as refused:
        registry.register(CircuitBreaker(name="payments"))
    assert (refused.value.field, refused.value.value) == ("name", "payments")
    assert refused.value.rule == "another breaker is already registered under it"
    assert registry.get("payments") is first


def test_not_closed_lists_open_and_half_open() -> None:
    """not_closed() and all_closed() see open and half-open breakers."""
    registry = BreakerRegistry()
    with FrozenTime() as frozen:
        a = registry.get_or_create("a", failure_threshold=1, recovery_timeout=1)
        registry.get_or_create("b")
        assert registry.all_closed()
        a.force_open()
        assert registry.not_closed() == [a]
        a.reset()
        assert registry.all_closed()
        with pytest.raises(ValueError):
            a.call(int, "x")
        frozen.advance_us(1_000_000)
        assert not registry.all_closed()
        registry.clear()
        assert len(registry) == 0


def test_the_default_registry_starts_empty_in_every_test() -> None:
    """The autouse fixture clears resilience.breakers (and the base package's monitor)."""
    assert len(resilience.breakers) == 0
    resilience.breakers.get_or_create("leaks-unless-cleared")
