"""BreakerRegistry: names to breakers, no silent overwrite, no leak between tests."""

from __future__ import annotations

import pytest

import resilience
from properties.harness.frozen import FrozenTime
from resilience import BreakerRegistry, CircuitBreaker, ConfigError


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


def test_unnamed_breakers_cannot_be_registered() -> None:
    """A registry key must be a name."""
    unnamed = CircuitBreaker()
    with pytest.raises(ConfigError) as refused:
        BreakerRegistry().register(unnamed)
    assert (refused.value.field, refused.value.value) == ("name", unnamed.name)
    assert refused.value.rule == "a registered breaker needs a non-empty name"


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
