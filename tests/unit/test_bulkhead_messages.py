"""Every message the bulkheads show their users, word for word, in one place: the refusals of bad
configuration and of functions that cannot be protected (a ``ConfigError``: field, value as
given, rule), the misuse of permits (a ``RuntimeError``), ``BulkheadFull`` and the repr. A change
of wording is an edit of these tables."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from resilience import AsyncBulkhead, Bulkhead, BulkheadFull, ConfigError
from tests.refusals import assert_refused

SECONDS = "must be a finite number of seconds >= 0 (or a timedelta)"
CLOCK = "must be a Clock instance (monotonic_ns, monotonic, sleep)"


async def job() -> None:
    return None


@pytest.mark.parametrize("cls", [Bulkhead, AsyncBulkhead])
@pytest.mark.parametrize(
    ("args", "kwargs", "field", "message"),
    [
        pytest.param(
            (0,), {}, "max_concurrent", "max_concurrent=0 is invalid: must be an integer >= 1"
        ),
        pytest.param(
            (True,),
            {},
            "max_concurrent",
            "max_concurrent=True is invalid: must be an integer >= 1",
        ),
        pytest.param((1,), {"max_wait": -1}, "max_wait", f"max_wait=-1 is invalid: {SECONDS}"),
        pytest.param(
            (1,),
            {"max_wait": 1e-10},
            "max_wait",
            "max_wait=1e-10 is invalid: must be 0 or at least one nanosecond",
        ),
        pytest.param((1,), {"name": 5}, "name", "name=5 is invalid: must be a string"),
        pytest.param(
            (1,),
            {"clock": "monotonic"},
            "clock",
            f"clock='monotonic' is invalid: {CLOCK}",
        ),
    ],
)
def test_each_configuration_refusal_reads_exactly(
    cls: type[Any], args: tuple[object, ...], kwargs: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        cls(*args, **kwargs)
    assert_refused(info.value, field, kwargs.get(field, args[0]))
    assert str(info.value) == message


def test_each_refused_function_reads_exactly() -> None:
    """``fn`` must be callable, and the sync bulkhead refuses an async function."""
    cases: list[tuple[Callable[[], object], object, str]] = [
        (lambda: Bulkhead(1).call(42), 42, "must be callable"),  # type: ignore[arg-type]
        (
            lambda: Bulkhead(1).call(job),
            job,
            "is an async function: use AsyncBulkhead.call_async",
        ),
        (lambda: asyncio.run(AsyncBulkhead(1).call_async(42)), 42, "must be callable"),  # type: ignore[call-overload]
    ]
    for refuse, value, rule in cases:
        with pytest.raises(ConfigError) as info:
            refuse()
        assert_refused(info.value, "fn", value)
        assert str(info.value) == f"fn={value!r} is invalid: {rule}"


ENTERED_ONCE = "a permit is entered once: take a new one with bulkhead.permit()"
NOT_HELD = "this permit is not held: it was never entered, or has exited"


def _sync_exit_unentered() -> None:
    Bulkhead(1).permit().__exit__(None, None, None)


def _sync_enter_twice() -> None:
    with Bulkhead(2).permit() as permit:
        permit.__enter__()


def _sync_reenter_after_exit() -> None:
    permit = Bulkhead(1).permit()
    with permit:
        pass
    permit.__enter__()


def _async_exit_unentered() -> None:
    asyncio.run(AsyncBulkhead(1).permit().__aexit__(None, None, None))


def _async_enter_twice() -> None:
    async def scenario() -> None:
        async with AsyncBulkhead(2).permit() as permit:
            await permit.__aenter__()

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("misuse", "message"),
    [
        pytest.param(_sync_exit_unentered, NOT_HELD, id="exit unentered"),
        pytest.param(_sync_enter_twice, ENTERED_ONCE, id="enter twice"),
        pytest.param(_sync_reenter_after_exit, ENTERED_ONCE, id="enter after exit"),
        pytest.param(_async_exit_unentered, NOT_HELD, id="async exit unentered"),
        pytest.param(_async_enter_twice, ENTERED_ONCE, id="async enter twice"),
    ],
)
def test_each_misuse_of_a_permit_reads_exactly(misuse: Callable[[], None], message: str) -> None:
    with pytest.raises(RuntimeError) as info:
        misuse()
    assert type(info.value) is RuntimeError
    assert str(info.value) == message


def test_a_full_bulkhead_and_its_repr_read_exactly() -> None:
    bulkhead = Bulkhead(1, name="db")
    with bulkhead.permit():
        with pytest.raises(BulkheadFull) as info:
            bulkhead.call(lambda: None)
        assert str(info.value) == (
            'bulkhead "db" is full: all 1 permits in use; none came free within max_wait=0 s'
        )
        assert repr(bulkhead) == (
            "<Bulkhead 'db' max_concurrent=1 in_flight=1 waiting=0 admitted=1 rejected=1 "
            "finished=0>"
        )
    assert repr(AsyncBulkhead(2)) == (
        "<AsyncBulkhead 'AsyncBulkhead' max_concurrent=2 in_flight=0 waiting=0 admitted=0 "
        "rejected=0 finished=0>"
    )
