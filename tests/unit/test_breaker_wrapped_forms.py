"""What mutation testing found unchecked in the breaker's wrapped forms: generators and async
generators receive their arguments (and so do their fallbacks), an async generator's fallback
answers an open circuit, `with breaker:` exits pair with the right entries when blocks of
several breakers end out of order, and sync and async calls pass keyword arguments on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from resilience import CircuitBreaker, CircuitOpenError


def test_a_decorated_generator_receives_its_arguments() -> None:
    breaker = CircuitBreaker(name="gen")

    @breaker
    def pairs(first: int, *, second: int) -> Iterator[int]:
        yield first
        yield second

    assert list(pairs(1, second=2)) == [1, 2]
    assert breaker.metrics()["calls_succeeded"] == 1


def test_a_decorated_async_generator_receives_its_arguments() -> None:
    breaker = CircuitBreaker(name="agen")

    @breaker
    async def pairs(first: int, *, second: int) -> AsyncIterator[int]:
        yield first
        yield second

    async def collect() -> list[int]:
        return [item async for item in pairs(1, second=2)]

    assert asyncio.run(collect()) == [1, 2]
    assert breaker.metrics()["calls_succeeded"] == 1


def test_generator_fallbacks_answer_an_open_circuit_with_the_call_arguments() -> None:
    def fallback(first: int, *, second: int) -> Iterator[int]:
        yield -first
        yield -second

    async def afallback(first: int, *, second: int) -> AsyncIterator[int]:
        yield -first
        yield -second

    sync_breaker = CircuitBreaker(name="gen-fb", fallback_function=fallback)
    async_breaker = CircuitBreaker(name="agen-fb", fallback_function=afallback)

    @sync_breaker
    def pairs(first: int, *, second: int) -> Iterator[int]:
        yield first
        yield second

    @async_breaker
    async def apairs(first: int, *, second: int) -> AsyncIterator[int]:
        yield first
        yield second

    async def collect() -> list[int]:
        return [item async for item in apairs(1, second=2)]

    sync_breaker.force_open()
    async_breaker.force_open()
    assert list(pairs(1, second=2)) == [-1, -2]
    assert asyncio.run(collect()) == [-1, -2]
    async_breaker.reset()
    assert asyncio.run(collect()) == [1, 2]  # closed again: the generator itself answers


def test_with_blocks_of_several_breakers_may_end_out_of_order() -> None:
    """Each exit pairs with the latest unfinished entry of *its* breaker, wherever it sits."""
    a, b, c = (CircuitBreaker(name=name, failure_threshold=1) for name in "abc")
    a.__enter__()
    b.__enter__()
    c.__enter__()
    b.__exit__(None, None, None)
    c.__exit__(ValueError, ValueError("c failed"), None)
    a.__exit__(None, None, None)
    assert [x.metrics()["calls_succeeded"] for x in (a, b, c)] == [1, 1, 0]
    assert c.metrics()["calls_failed"] == 1
    for breaker in (a, b, c):  # nothing is left held: one more exit is refused
        with pytest.raises(RuntimeError, match="without a matching __enter__"):
            breaker.__exit__(None, None, None)
    with pytest.raises(CircuitOpenError):  # c opened on its failure
        c.__enter__()


def test_sync_and_async_calls_pass_every_argument_to_the_function_and_its_fallback() -> None:
    """The decorator, ``call`` and ``call_async`` hand positional and keyword arguments to the
    function while closed, and to the fallback while open."""

    def fallback(first: int, *, second: int) -> tuple[str, int, int]:
        return ("fallback", first, second)

    def pair(first: int, *, second: int) -> tuple[str, int, int]:
        return ("real", first, second)

    async def apair(first: int, *, second: int) -> tuple[str, int, int]:
        return ("real", first, second)

    breaker = CircuitBreaker(name="args", fallback_function=fallback)
    decorated = breaker(pair)
    for expected in ("real", "fallback"):
        assert decorated(1, second=2) == (expected, 1, 2)
        assert breaker.call(pair, 3, second=4) == (expected, 3, 4)
        assert asyncio.run(breaker.call_async(apair, 5, second=6)) == (expected, 5, 6)
        breaker.force_open()


def test_an_async_def_fallback_for_an_async_generator_is_refused_when_decorating() -> None:
    """Its fallback is iterated with ``async for``: an ``async def`` fallback gives a coroutine,
    which cannot be. Refused at once, not when the circuit first opens (mutation testing found
    the pair accepted, failing later with a never-awaited coroutine)."""
    from resilience import ConfigError

    async def fallback() -> list[int]:
        return [0]

    async def stream() -> AsyncIterator[int]:
        yield 1

    breaker = CircuitBreaker(fallback_function=fallback)
    with pytest.raises(ConfigError) as refused:
        breaker.decorate(stream)
    assert refused.value.field == "fallback_function"
    assert refused.value.value is fallback
    assert refused.value.rule == (
        "an async def fallback cannot serve an async generator: give an async generator function"
    )
