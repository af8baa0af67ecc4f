"""Resource pools: bad configuration raises ConfigError naming the field (for both pool classes);
a bad checkout timeout raises ConfigError and takes nothing; every valid spelling of a duration
(number, timedelta, Fraction, Decimal) means the same number of nanoseconds."""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from resilience import (
    AsyncResourcePool,
    ConfigError,
    PoolConfig,
    ResilienceError,
    ResourcePool,
    SystemClock,
)
from tests.ids import stable_id
from tests.refusals import assert_refused

POOLS = [ResourcePool, AsyncResourcePool]
CALLBACKS = ["validate", "reset", "destroy"]

BAD_SIZES = [0, -1, -10, True, False, 1.0, 2.5, math.nan, math.inf, "1", b"1", None, [1]]
BAD_OVERFLOWS = [-1, -10, True, False, 1.0, math.nan, "0", None]
BAD_TIMEOUTS = [
    -1,
    -0.001,
    math.nan,
    math.inf,
    -math.inf,
    True,
    False,
    "1",
    b"1",
    [1],
    1j,
    Decimal("NaN"),
    Decimal("Infinity"),
    Decimal("-1"),
    Fraction(-1, 2),
    timedelta(seconds=-1),
    1e-12,  # positive but rounds to 0 ns: never silently "do not wait"
    10**10,  # beyond the ~31.7-year maximum
]
# max_lifetime, max_idle and leak_threshold: positive or None (0 is not "no limit").
BAD_POSITIVE_DURATIONS = [
    0,
    0.0,
    Decimal(0),
    Fraction(0),
    timedelta(0),
    -1,
    -0.5,
    timedelta(seconds=-1),
    math.nan,
    Decimal("NaN"),
    math.inf,
    True,
    "1",
    1e-12,
]
NOT_CALLABLE = [1, "factory", b"f", [print], None]


def make(cls: Any, factory: object = object, **kwargs: Any) -> Any:
    return cls(factory, **{"size": 2, **kwargs})


def assert_config_error(info: pytest.ExceptionInfo[ConfigError], field: str, value: object) -> None:
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, ResilienceError)
    assert error.field == field
    assert error.value is value
    assert str(error).startswith(f"{field}={value!r} is invalid: ")


# ------------------------------------------------------------------ counts


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", BAD_SIZES, ids=stable_id)
def test_size_must_be_an_int_of_at_least_one(cls: Any, value: object) -> None:
    """size: zero, negatives, bools, floats, NaN, inf, strings and None raise, naming size."""
    with pytest.raises(ConfigError) as info:
        make(cls, size=value)
    assert_config_error(info, "size", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", BAD_OVERFLOWS, ids=stable_id)
def test_max_overflow_must_be_an_int_of_at_least_zero(cls: Any, value: object) -> None:
    """max_overflow: negatives, bools, floats and strings raise, naming max_overflow."""
    with pytest.raises(ConfigError) as info:
        make(cls, max_overflow=value)
    assert_config_error(info, "max_overflow", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_counts_at_their_minimum_are_accepted(cls: Any) -> None:
    """size=1 and max_overflow=0 are the smallest valid pool; capacity is size + max_overflow."""
    assert make(cls, size=1, max_overflow=0).config.capacity == 1
    assert make(cls, size=3, max_overflow=2).config.capacity == 5


# ------------------------------------------------------------------ durations


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", BAD_TIMEOUTS, ids=stable_id)
def test_bad_timeouts_are_rejected(cls: Any, value: object) -> None:
    """timeout: NaN, inf, negatives, bools, strings, sub-nanosecond and absurd values raise."""
    with pytest.raises(ConfigError) as info:
        make(cls, timeout=value)
    assert_config_error(info, "timeout", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("field", ["max_lifetime", "max_idle", "leak_threshold"])
@pytest.mark.parametrize("value", BAD_POSITIVE_DURATIONS, ids=stable_id)
def test_limits_must_be_positive_or_none(cls: Any, field: str, value: object) -> None:
    """max_lifetime, max_idle, leak_threshold: 0 (in any spelling), negatives, NaN, inf, bools and
    strings raise naming the field; 0 is never read as "no limit" (None is)."""
    with pytest.raises(ConfigError) as info:
        make(cls, **{field: value})
    assert_config_error(info, field, value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_timeout_zero_and_none_are_valid(cls: Any) -> None:
    """timeout=0 means "fail at once" and timeout=None "wait as long as it takes"."""
    assert make(cls, timeout=0).config.timeout_ns == 0
    assert make(cls, timeout=timedelta(0)).config.timeout_ns == 0
    assert make(cls, timeout=None).config.timeout_ns is None
    assert make(cls).config.timeout_ns is None


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_limits_default_to_none(cls: Any) -> None:
    """Without max_lifetime, max_idle and leak_threshold nothing expires and nothing leaks."""
    config = make(cls).config
    assert config.max_lifetime_ns is None
    assert config.max_idle_ns is None
    assert config.leak_threshold_ns is None


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    "value",
    [
        Fraction(3, 2),
        Decimal("1.5"),
        timedelta(seconds=1, milliseconds=500),
        1.5,
    ],
    ids=stable_id,
)
def test_every_spelling_of_a_duration_is_exact(cls: Any, value: object) -> None:
    """1.5 s given as a float, Fraction, Decimal or timedelta is exactly 1_500_000_000 ns, for
    every duration field."""
    config = make(
        cls, timeout=value, max_lifetime=value, max_idle=value, leak_threshold=value
    ).config
    assert config.timeout_ns == 1_500_000_000
    assert config.max_lifetime_ns == 1_500_000_000
    assert config.max_idle_ns == 1_500_000_000
    assert config.leak_threshold_ns == 1_500_000_000


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_durations_are_exact_to_the_nanosecond(cls: Any) -> None:
    """Fraction(1, 3) s rounds to the nearest nanosecond; Decimal("0.000000001") is 1 ns;
    timedelta(microseconds=1) is 1000 ns; 0.1 is read as the decimal it prints as."""
    config = make(
        cls,
        timeout=Fraction(1, 3),
        max_lifetime=Decimal("0.000000001"),
        max_idle=timedelta(microseconds=1),
        leak_threshold=0.1,
    ).config
    assert config.timeout_ns == 333_333_333
    assert config.max_lifetime_ns == 1
    assert config.max_idle_ns == 1_000
    assert config.leak_threshold_ns == 100_000_000


# ------------------------------------------------------------------ flags, names, clocks


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_both_pools_have_the_same_defaults(cls: Any) -> None:
    """Given only a factory and a size, both pool classes are configured alike: LIFO, no
    overflow, no timeout (wait as long as it takes), no callbacks, no limits, named after the
    class."""
    config = cls(object, size=3).config
    assert config == PoolConfig(
        factory=object,
        size=3,
        max_overflow=0,
        timeout_ns=None,
        lifo=True,
        validate=None,
        reset=None,
        destroy=None,
        max_lifetime_ns=None,
        max_idle_ns=None,
        leak_threshold_ns=None,
        name=cls.__name__,
    )


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", [1, 0, "yes", None, 1.0], ids=stable_id)
def test_lifo_must_be_a_bool(cls: Any, value: object) -> None:
    """lifo is True (LIFO) or False (FIFO): 1, 0, "yes" and None are not booleans."""
    with pytest.raises(ConfigError) as info:
        make(cls, lifo=value)
    assert_config_error(info, "lifo", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", [1, b"db", ["db"], object()], ids=stable_id)
def test_name_must_be_a_string(cls: Any, value: object) -> None:
    """name, when given, must be a str; it defaults to the class name."""
    with pytest.raises(ConfigError) as info:
        make(cls, name=value)
    assert_config_error(info, "name", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_name_defaults_to_the_class_name(cls: Any) -> None:
    """Without name the pool is called after its class; with one, that name is used."""
    assert make(cls).name == cls.__name__
    assert make(cls, name="db").name == "db"
    assert make(cls, name="db").config.name == "db"


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", [object(), 1, "system", SystemClock], ids=stable_id)
def test_clock_must_be_a_clock_instance(cls: Any, value: object) -> None:
    """clock must be a Clock instance: other objects, and the SystemClock class itself, raise."""
    with pytest.raises(ConfigError) as info:
        make(cls, clock=value)
    assert_config_error(info, "clock", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_system_clock_instance_is_accepted(cls: Any) -> None:
    """clock=SystemClock() is the same as the default."""
    assert make(cls, clock=SystemClock()).status()["size"] == 2


# ------------------------------------------------------------------ callbacks


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("value", NOT_CALLABLE, ids=stable_id)
def test_factory_must_be_callable(cls: Any, value: object) -> None:
    """The factory is required and must be callable (None included in the bad values)."""
    with pytest.raises(ConfigError) as info:
        cls(value, size=1)
    assert_config_error(info, "factory", value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("field", CALLBACKS)
@pytest.mark.parametrize("value", [v for v in NOT_CALLABLE if v is not None], ids=stable_id)
def test_optional_callbacks_must_be_callable(cls: Any, field: str, value: object) -> None:
    """validate, reset and destroy must be callable (or None)."""
    with pytest.raises(ConfigError) as info:
        make(cls, **{field: value})
    assert_config_error(info, field, value)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
def test_optional_callbacks_accept_none_and_callables(cls: Any) -> None:
    """validate, reset and destroy default to None; plain functions, lambdas, classes and
    callable objects are accepted."""
    config = make(cls).config
    assert (config.validate, config.reset, config.destroy) == (None, None, None)
    config = make(cls, validate=bool, reset=lambda r: None, destroy=print).config
    assert config.validate is bool
    assert config.destroy is print


async def async_function(*_: object) -> object:
    return object()


async def async_generator(*_: object) -> AsyncIterator[object]:
    yield object()


class AsyncCallable:
    async def __call__(self, *_: object) -> object:
        return object()


ASYNC_CALLBACKS = {
    "async def": async_function,
    "async generator": async_generator,
    "partial(async def)": functools.partial(async_function),
    "bound async method": AsyncCallable().__call__,
}


def sync_pool_with(field: str, value: object) -> ResourcePool[Any]:
    """A ResourcePool whose ``field`` callback is ``value``."""
    if field == "factory":
        return ResourcePool(value, size=1)  # type: ignore[arg-type]
    return ResourcePool(object, size=1, **{field: value})


@pytest.mark.parametrize("field", ["factory", *CALLBACKS])
@pytest.mark.parametrize("kind", ASYNC_CALLBACKS)
def test_sync_pool_rejects_async_callbacks(field: str, kind: str) -> None:
    """ResourcePool cannot await: an async factory, validate, reset or destroy raises ConfigError
    naming the field and pointing to AsyncResourcePool."""
    value = ASYNC_CALLBACKS[kind]
    with pytest.raises(ConfigError) as info:
        sync_pool_with(field, value)
    assert_config_error(info, field, value)
    assert "AsyncResourcePool" in info.value.rule


@pytest.mark.parametrize("field", ["factory", *CALLBACKS])
def test_sync_pool_rejects_async_callable_objects(field: str) -> None:
    """An instance with ``async def __call__`` is an async callback too: ConfigError."""
    value = AsyncCallable()
    with pytest.raises(ConfigError) as info:
        sync_pool_with(field, value)
    assert_config_error(info, field, value)


@pytest.mark.parametrize("field", ["factory", *CALLBACKS])
def test_async_pool_accepts_async_and_sync_callbacks(field: str) -> None:
    """AsyncResourcePool takes plain and async callables for every callback."""
    for value in (async_function, functools.partial(async_function), AsyncCallable(), bool):
        if field == "factory":
            pool = AsyncResourcePool(value, size=1)
        else:
            pool = AsyncResourcePool(object, size=1, **{field: value})
        assert getattr(pool.config, field) is value


def test_pool_config_is_frozen() -> None:
    """A pool's configuration is immutable once built."""
    config = ResourcePool(object, size=1).config
    assert isinstance(config, PoolConfig)
    with pytest.raises(AttributeError):
        config.size = 5  # type: ignore[misc]


# ------------------------------------------------------------------ checkout(timeout=...)

BAD_CHECKOUT_TIMEOUTS = [-1, math.nan, math.inf, True, "1", timedelta(seconds=-1), 1e-12]


@pytest.mark.parametrize("value", BAD_CHECKOUT_TIMEOUTS, ids=stable_id)
def test_sync_checkout_rejects_bad_timeouts(value: object) -> None:
    """checkout(timeout=bad) and lease(timeout=bad) raise ConfigError naming timeout, and take
    nothing: no resource is created or lent."""
    pool = ResourcePool(object, size=1)
    with pytest.raises(ConfigError) as info:
        pool.checkout(timeout=value)
    assert_config_error(info, "timeout", value)
    with pytest.raises(ConfigError) as info, pool.lease(timeout=value):
        pass
    assert_config_error(info, "timeout", value)
    status = pool.status()
    assert (status["created"], status["in_use"], status["creating"]) == (0, 0, 0)
    assert status["checked_out"] == 0


@pytest.mark.parametrize("value", BAD_CHECKOUT_TIMEOUTS, ids=stable_id)
def test_sync_checkout_rejects_bad_timeouts_with_validate_and_an_idle_resource(
    value: object,
) -> None:
    """With an idle resource that must be validated, checkout(timeout=bad) still raises
    ConfigError and leaves the resource idle."""
    pool = ResourcePool(object, size=1, validate=bool)
    pool.checkin(pool.checkout())
    with pytest.raises(ConfigError) as info:
        pool.checkout(timeout=value)
    assert_config_error(info, "timeout", value)
    assert pool.status()["idle"] == 1
    assert pool.status()["checked_out"] == 1


@pytest.mark.parametrize("value", [-1, "1", math.nan], ids=stable_id)
def test_sync_checkout_rejects_bad_timeouts_when_a_resource_is_idle(value: object) -> None:
    """A bad timeout is an error whether or not the checkout would have had to wait."""
    pool = ResourcePool(object, size=1)
    pool.checkin(pool.checkout())
    with pytest.raises(ConfigError) as info:
        pool.checkout(timeout=value)
    assert_config_error(info, "timeout", value)
    with pytest.raises(ConfigError), pool.lease(timeout=value):
        pass
    assert pool.status()["idle"] == 1


@pytest.mark.parametrize("value", BAD_CHECKOUT_TIMEOUTS, ids=stable_id)
def test_async_checkout_rejects_bad_timeouts(value: object) -> None:
    """AsyncResourcePool.checkout(timeout=bad) and lease(timeout=bad) raise ConfigError too,
    with or without an idle resource."""

    async def scenario() -> None:
        pool = AsyncResourcePool(object, size=1)
        for _ in range(2):
            with pytest.raises(ConfigError) as info:
                await pool.checkout(timeout=value)
            assert_config_error(info, "timeout", value)
            with pytest.raises(ConfigError):
                async with pool.lease(timeout=value):
                    pass
            await pool.checkin(await pool.checkout())  # now one is idle
        assert pool.status()["idle"] == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "value", [0, None, Fraction(1, 2), Decimal("0.5"), timedelta(milliseconds=1), 2]
)
def test_checkout_accepts_every_valid_timeout(value: object) -> None:
    """checkout(timeout=...) takes 0, None, Fraction, Decimal, timedelta and ints."""
    pool = ResourcePool(object, size=1)
    resource = pool.checkout(timeout=value)
    pool.checkin(resource)
    with pool.lease(timeout=value) as again:
        assert again is resource


# ------------------------------------------------------------------ what each refusal says

NOT_BOOL, NOT_CALLABLE_VALUE, ZERO = 1, 7, timedelta(0)
# What the pool's own rules say (the counts' and durations' rules are the validation module's):
# the keyword given to the pool, the value, and the rule its ConfigError states.
RULES = [
    ("lifo", NOT_BOOL, "must be True (LIFO) or False (FIFO)"),
    ("factory", NOT_CALLABLE_VALUE, "must be callable"),
    ("validate", NOT_CALLABLE_VALUE, "must be callable or None"),
    ("reset", NOT_CALLABLE_VALUE, "must be callable or None"),
    ("destroy", NOT_CALLABLE_VALUE, "must be callable or None"),
    ("max_lifetime", ZERO, "must be a positive number of seconds (or None)"),
    ("max_idle", ZERO, "must be a positive number of seconds (or None)"),
    ("leak_threshold", ZERO, "must be a positive number of seconds (or None)"),
]
ASYNC_RULE = "is an async function: use AsyncResourcePool for async callbacks"


def build_config(**kwargs: Any) -> PoolConfig:
    """``PoolConfig.build`` itself, every argument valid unless given."""
    arguments: dict[str, Any] = {
        "size": 1,
        "max_overflow": 0,
        "timeout": None,
        "lifo": True,
        "validate": None,
        "reset": None,
        "destroy": None,
        "max_lifetime": None,
        "max_idle": None,
        "leak_threshold": None,
        "name": "db",
        "allow_async": False,
        **kwargs,
    }
    return PoolConfig.build(arguments.pop("factory", object), **arguments)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize(("field", "value", "rule"), RULES, ids=[row[0] for row in RULES])
def test_each_pool_refusal_states_its_rule(cls: Any, field: str, value: object, rule: str) -> None:
    """Both pools refuse a bad lifo, a callback that is not callable, and a zero limit, each
    with a ConfigError naming the field and the value as given, saying exactly what is wrong."""
    with pytest.raises(ConfigError) as info:
        make(cls, **{field: value})
    assert_refused(info.value, field, value)
    assert info.value.rule == rule


@pytest.mark.parametrize("field", ["factory", *CALLBACKS])
def test_a_sync_pool_refusing_an_async_callback_names_the_async_pool(field: str) -> None:
    """The rule for an async callback given to ResourcePool, exactly."""
    value = ASYNC_CALLBACKS["async def"]
    with pytest.raises(ConfigError) as info:
        sync_pool_with(field, value)
    assert_refused(info.value, field, value)
    assert info.value.rule == ASYNC_RULE


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [
        ("lifo", NOT_BOOL, "must be True (LIFO) or False (FIFO)"),
        ("name", NOT_BOOL, "must be a string"),
    ],
)
def test_pool_config_build_refuses_on_its_own(field: str, value: object, rule: str) -> None:
    """PoolConfig.build (public: a pool's config is one) checks lifo and name itself, with the
    same rules as the pools."""
    with pytest.raises(ConfigError) as info:
        build_config(**{field: value})
    assert_refused(info.value, field, value)
    assert info.value.rule == rule


class Sealed:
    """A callable that hides every attribute, ``__call__`` included (a locked-down proxy)."""

    def __call__(self, *args: object) -> object:
        return object()

    def __getattribute__(self, name: str) -> Any:
        raise AttributeError(name)


@pytest.mark.parametrize("cls", POOLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("field", ["factory", *CALLBACKS])
def test_any_callable_is_accepted_even_one_hiding_its_attributes(cls: Any, field: str) -> None:
    """Callable means callable: an object whose attribute lookup always fails is still accepted
    as the factory or a callback (the check for async callbacks looks, but never insists)."""
    value = Sealed()
    assert callable(value)
    config = make(cls, **{field: value}).config
    assert getattr(config, field) is value
