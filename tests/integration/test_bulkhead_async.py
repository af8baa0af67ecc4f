"""AsyncBulkhead under cancellation at every await point: a task entering a permit, running a
call, or waiting for a permit (with or without a deadline, with a waiter queued behind it) is
cancelled after k = 0, 1, 2, ... loop iterations, a fresh bulkhead each time, until one k lets
it complete first. Every time: no permit is lost or released twice (admitted == finished +
in_flight, nothing in flight but what the test holds), nobody is left waiting, a waiter queued
behind is still served, and the bulkhead admits max_concurrent callers again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import AsyncBulkhead, AsyncBulkheadPermit, BulkheadFull

MAX_K = 100


def assert_balanced(bulkhead: AsyncBulkhead, held: int) -> None:
    s = bulkhead.status()
    assert s["in_flight"] == held, s
    assert s["waiting"] == 0, s
    assert s["admitted"] == s["finished"] + s["in_flight"], s
    assert s["in_flight"] + s["free"] == s["max_concurrent"], s


async def assert_admits_everyone(bulkhead: AsyncBulkhead) -> None:
    """max_concurrent permits can be held at once (none was lost), and no more."""
    permits = [bulkhead.permit(max_wait=0) for _ in range(bulkhead.max_concurrent)]
    for permit in permits:
        await permit.__aenter__()
    with pytest.raises(BulkheadFull):
        await bulkhead.permit(max_wait=0).__aenter__()
    for permit in permits:
        await permit.__aexit__(None, None, None)


async def two_awaits() -> str:
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return "done"


async def in_block(bulkhead: AsyncBulkhead, max_wait: object = 0) -> str:
    async with bulkhead.permit(max_wait=max_wait):
        return await two_awaits()


@dataclass
class Scenario:
    """A fresh bulkhead, the permits the test holds, the task to cancel, and a helper started at
    loop iteration 1 (releasing what the test holds) plus a waiter queued behind the task."""

    bulkhead: AsyncBulkhead
    held: list[AsyncBulkheadPermit]
    task: Callable[[], Coroutine[Any, Any, object]]
    release_at_1: bool = False
    behind: bool = False
    outcomes: tuple[type, ...] = field(default=(str,))


async def make(name: str, frozen: FrozenTime) -> Scenario:
    kind, _, state = name.partition("/")
    clock = FrozenClock(frozen)  # asleep advances frozen time and yields once
    bulkhead = AsyncBulkhead(2 if state == "free" else 1, clock=clock)
    held: list[AsyncBulkheadPermit] = []
    if state != "free":
        permit = bulkhead.permit()
        await permit.__aenter__()
        held.append(permit)
    if kind == "permit":
        return Scenario(bulkhead, held, lambda: in_block(bulkhead))
    if kind == "call":
        return Scenario(bulkhead, held, lambda: bulkhead.call_async(two_awaits))
    if kind == "waiter":  # waits forever; the helper releases the blocker
        return Scenario(bulkhead, held, lambda: in_block(bulkhead, None), release_at_1=True)
    if kind == "waiter-with-one-behind":
        return Scenario(
            bulkhead, held, lambda: in_block(bulkhead, None), release_at_1=True, behind=True
        )
    if kind == "deadline":  # nobody releases: the frozen clock's asleep runs the deadline out
        return Scenario(bulkhead, held, lambda: in_block(bulkhead, 0.01), outcomes=(BulkheadFull,))
    assert kind == "deadline-or-release"  # whichever comes first; both are fine
    return Scenario(
        bulkhead, held, lambda: in_block(bulkhead, 0.01), True, True, (str, BulkheadFull)
    )


SCENARIOS = [
    "permit/free",
    "call/free",
    "waiter/full",
    "waiter-with-one-behind/full",
    "deadline/full",
    "deadline-or-release/full",
]


async def run_once(name: str, k: int, frozen: FrozenTime) -> bool:
    """One fresh scenario: cancel its task after k loop iterations. Returns whether the task
    had ended before the cancel. Asserts the books balance afterwards."""
    scenario = await make(name, frozen)
    bulkhead, held = scenario.bulkhead, list(scenario.held)
    task = asyncio.create_task(scenario.task())
    behind = None
    if scenario.behind:
        await asyncio.sleep(0)  # the task queues first
        behind = asyncio.create_task(in_block(bulkhead, None))
    for iteration in range(k):
        if iteration == 1 and scenario.release_at_1:
            await held.pop().__aexit__(None, None, None)
        await asyncio.sleep(0)
    ended = task.done()
    task.cancel()
    try:
        result: object = await task
    except asyncio.CancelledError:
        assert not ended
        assert task.cancelled()
    except BulkheadFull as error:
        result = error
        assert ended, f"{name}, k={k}: the task swallowed its cancellation"
    else:
        assert ended, f"{name}, k={k}: the task swallowed its cancellation"
    if ended:
        assert isinstance(result, scenario.outcomes), f"{name}, k={k}: {result!r}"
    if behind is not None:
        # Nothing releases for it if the blocker is still held: release it now.
        while held:
            await held.pop().__aexit__(None, None, None)
        # Frozen time freezes the loop's timers too: count loop iterations, not seconds.
        for _ in range(MAX_K):
            if behind.done():
                break
            await asyncio.sleep(0)
        assert behind.done(), "the waiter behind was stranded"
        assert behind.result() == "done"
    assert_balanced(bulkhead, len(held))
    for permit in held:
        await permit.__aexit__(None, None, None)
    assert_balanced(bulkhead, 0)
    await assert_admits_everyone(bulkhead)
    assert_balanced(bulkhead, 0)
    return ended


@pytest.mark.parametrize("name", SCENARIOS)
def test_cancellation_at_every_await_point_leaks_nothing(name: str) -> None:
    """Cancel the scenario's task after k = 0, 1, 2, ... loop iterations until one k lets it end
    first: every time the books balance, nobody waits, no permit is lost or released twice, and
    a waiter queued behind the cancelled one is served."""

    async def sweep(frozen: FrozenTime) -> int:
        for k in range(MAX_K):
            if await run_once(name, k, frozen):
                return k
        raise AssertionError(f"{name}: the task never ended within {MAX_K} iterations")

    with FrozenTime() as frozen:
        first_end = asyncio.run(sweep(frozen))
    assert first_end >= 2  # every scenario awaits at least twice before it ends
    print(f"\n[bulkhead cancel] {name}: cancelled at k=0..{first_end - 1}, ended at k={first_end}")
