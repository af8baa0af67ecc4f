"""Every message a resource pool's errors show a user, pinned word for word in one table: a
check-in or invalidation the pool refuses (saying why: not lent by it, idle, being returned,
still being vetted), a closed pool, a factory returning a resource the pool holds, an exhausted
pool, a lease object entered twice (sync and async); the warnings it logs when a callback
fails; and the default timeout's name in signatures. A wording change is an edit to
``MESSAGES`` or ``LOG_LINES``."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any

import pytest

from resilience import AsyncResourcePool, PoolClosed, PoolError, PoolTimeout, ResourcePool
from resilience.pool import DEFAULT


class Res:
    def __init__(self, serial: int) -> None:
        self.serial = serial

    def __repr__(self) -> str:
        return f"Res({self.serial})"


class Interrupt(BaseException):
    """Not an Exception: like KeyboardInterrupt."""


def pool(**kwargs: Any) -> ResourcePool[Res]:
    """A pool named "db" making Res(0), Res(1), ... (timeout 0: nothing here waits)."""
    made: list[Res] = []

    def factory() -> Res:
        made.append(Res(len(made)))
        return made[-1]

    return ResourcePool(factory, **{"size": 2, "name": "db", "timeout": 0, **kwargs})


def raised(call: Callable[[], object]) -> BaseException:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def foreign() -> BaseException:
    return raised(lambda: pool().checkin(Res(99)))


def invalidated() -> BaseException:
    p = pool()
    a = p.checkout()
    p.invalidate(a)
    return raised(lambda: p.checkin(a))


def checked_in_twice() -> BaseException:
    p = pool()
    a = p.checkout()
    p.checkin(a)
    return raised(lambda: p.checkin(a))


def checked_in_after_its_lease_ended() -> BaseException:
    """A lease of an idle resource (in a plain pool: lent and returned on the fast path)."""
    p = pool()
    p.checkin(p.checkout())
    with p.lease() as a:
        pass
    return raised(lambda: p.checkin(a))


def put_back_by_an_interrupted_validate() -> BaseException:
    """validate interrupted: the resource goes back to the idle list, and is idle again."""
    interrupting: list[bool] = []

    def validate(resource: Res) -> bool:
        if interrupting:
            raise Interrupt
        return True

    p = pool(validate=validate)
    a = p.checkout()
    p.checkin(a)
    interrupting.append(True)
    with pytest.raises(Interrupt):
        p.checkout()
    return raised(lambda: p.checkin(a))


def checked_in_by_its_own_reset() -> BaseException:
    caught: list[BaseException] = []

    def reset(resource: Res) -> None:
        caught.append(raised(lambda: p.checkin(resource)))

    p = pool(reset=reset)
    p.checkin(p.checkout())
    (error,) = caught
    return error


def checked_in_while_validated() -> BaseException:
    caught: list[BaseException] = []

    def validate(resource: Res) -> bool:
        caught.append(raised(lambda: p.checkin(resource)))
        return True

    p = pool(validate=validate)
    p.checkin(p.checkout())  # a new resource is not validated
    p.checkin(p.checkout())
    (error,) = caught
    return error


def idle_invalidated() -> BaseException:
    p = pool()
    a = p.checkout()
    p.checkin(a)
    return raised(lambda: p.invalidate(a))


def checked_out_after_close() -> BaseException:
    p = pool()
    p.close()
    return raised(p.checkout)


def factory_returns_a_held_resource() -> BaseException:
    same = Res(0)
    p: ResourcePool[Res] = ResourcePool(lambda: same, size=2, name="db", timeout=0)
    p.checkout()
    return raised(p.checkout)


def exhausted() -> BaseException:
    p = pool(max_overflow=1)
    for _ in range(3):
        p.checkout()
    return raised(p.checkout)


def exhausted_after_a_third_of_a_second() -> BaseException:
    return PoolTimeout("db", size=4, max_overflow=0, timeout=1 / 3)


def lease_entered_twice() -> BaseException:
    lease = pool().lease()
    lease.__enter__()
    return raised(lease.__enter__)


def async_lease_entered_twice() -> BaseException:
    async def scenario() -> BaseException:
        pool: AsyncResourcePool[object] = AsyncResourcePool(object, size=1)
        lease = pool.lease()
        await lease.__aenter__()
        try:
            await lease.__aenter__()
        except RuntimeError as error:
            return error
        raise AssertionError("nothing was raised")

    return asyncio.run(scenario())


NOT_LENT = "the pool did not lend it, or it was invalidated or destroyed"
IDLE = "it is idle in the pool (double check-in)"
IN_USE = "this lease is already in use; call pool.lease() for another"
MESSAGES: list[tuple[Callable[[], BaseException], type[BaseException], str]] = [
    (foreign, PoolError, f'cannot check Res(99) in to pool "db": {NOT_LENT}'),
    (invalidated, PoolError, f'cannot check Res(0) in to pool "db": {NOT_LENT}'),
    (checked_in_twice, PoolError, f'cannot check Res(0) in to pool "db": {IDLE}'),
    (checked_in_after_its_lease_ended, PoolError, f'cannot check Res(0) in to pool "db": {IDLE}'),
    (
        put_back_by_an_interrupted_validate,
        PoolError,
        f'cannot check Res(0) in to pool "db": {IDLE}',
    ),
    (
        checked_in_by_its_own_reset,
        PoolError,
        'cannot check Res(0) in to pool "db": it is being returned already (double check-in)',
    ),
    (
        checked_in_while_validated,
        PoolError,
        'cannot check Res(0) in to pool "db": it is not lent out (a checkout is still vetting it)',
    ),
    (idle_invalidated, PoolError, f'cannot check Res(0) in to pool "db": {IDLE}'),
    (checked_out_after_close, PoolClosed, 'pool "db" is closed'),
    (
        factory_returns_a_held_resource,
        PoolError,
        'pool "db": the factory returned Res(0), which the pool already holds',
    ),
    (
        exhausted,
        PoolTimeout,
        (
            'pool "db" exhausted: all 3 resources in use (size=2, max_overflow=1); '
            "none came free within timeout=0 s"
        ),
    ),
    (
        exhausted_after_a_third_of_a_second,
        PoolTimeout,
        (
            'pool "db" exhausted: all 4 resources in use (size=4, max_overflow=0); '
            "none came free within timeout=0.333333333 s"
        ),
    ),
    (lease_entered_twice, RuntimeError, IN_USE),
    (async_lease_entered_twice, RuntimeError, IN_USE),
]


@pytest.mark.parametrize(
    ("scenario", "kind", "message"), MESSAGES, ids=[row[0].__name__ for row in MESSAGES]
)
def test_pool_error_messages(
    scenario: Callable[[], BaseException], kind: type[BaseException], message: str
) -> None:
    """Each refusal raises its exact error type with its exact message."""
    error = scenario()
    assert type(error) is kind
    assert str(error) == message


FAILURE = ValueError("broken")


def fail(resource: Res) -> None:
    raise FAILURE


def reset_fails() -> None:
    p = pool(reset=fail)
    p.checkin(p.checkout())


def destroy_fails() -> None:
    p = pool(destroy=fail)
    p.invalidate(p.checkout())


# what fails, the warning logged on "resilience.pool" (with the failure's traceback attached)
LOG_LINES = [
    (reset_fails, 'pool "db": reset(Res(0)) raised'),
    (destroy_fails, 'pool "db": destroy(Res(0)) raised'),
]


@pytest.mark.parametrize(
    ("scenario", "line"), LOG_LINES, ids=[row[0].__name__ for row in LOG_LINES]
)
def test_pool_warnings(
    scenario: Callable[[], None], line: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing reset or destroy never raises: the pool logs one warning naming itself and the
    resource, with the failure attached (exc_info)."""
    with caplog.at_level(logging.DEBUG, logger="resilience.pool"):
        scenario()
    (record,) = [r for r in caplog.records if r.name == "resilience.pool"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == line
    assert record.exc_info is not None
    assert record.exc_info[1] is FAILURE


@pytest.mark.parametrize("cls", [ResourcePool, AsyncResourcePool], ids=lambda c: c.__name__)
def test_the_default_timeout_reads_as_default_in_signatures(cls: type[ResourcePool[Res]]) -> None:
    """checkout(timeout=DEFAULT) and lease(timeout=DEFAULT): help() shows the marker by name."""
    assert repr(DEFAULT) == "DEFAULT"
    for method in (cls.checkout, cls.lease):
        assert inspect.signature(method).parameters["timeout"].default is DEFAULT
        assert "timeout: 'object' = DEFAULT" in str(inspect.signature(method))
