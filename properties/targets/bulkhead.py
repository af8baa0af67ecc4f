"""The bulkhead under test, behind one small driver for the sync and the async bulkhead.

Permits are entered and exited by hand (``__enter__``/``__exit__``, or their async forms run on a
private event loop), so a machine can hold several across steps. On the async bulkhead, waiters
are real tasks (``await bulkhead.permit(max_wait).__aenter__()``) that persist across steps; the
clock is a ``ParkingClock``: frozen time, whose ``asleep`` parks the sleeping task until the
machine moves time past its end (trio's mock clock without auto-jump), so a waiter's deadline
passes exactly when the machine says so.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from resilience import AsyncBulkhead, Bulkhead, BulkheadFull
from resilience.bulkhead import DEFAULT
from resilience.events import Event

__all__ = [
    "BULKHEAD_TARGETS",
    "Boom",
    "BulkheadDriver",
    "BulkheadTarget",
    "HeldCall",
    "ParkingClock",
    "bulkhead_target",
]


class Boom(Exception):
    """What a protected call (or a ``with`` block) raises when told to."""


class ParkingClock(FrozenClock):
    """Frozen time whose ``asleep`` parks until ``wake_due`` finds its end has come."""

    def __init__(self, frozen: FrozenTime) -> None:
        super().__init__(frozen)
        self.sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def asleep(self, seconds: float) -> None:
        # Rounded up to the microsecond, as FrozenClock.sleep: at least `seconds` pass.
        us = math.ceil(Fraction(repr(seconds)) * 1_000_000)
        future = asyncio.get_running_loop().create_future()
        sleeper = (self.frozen.now_ns() + us * NS_PER_US, next(self._order), future)
        self.sleepers.append(sleeper)
        try:
            await future
        finally:
            self.sleepers.remove(sleeper)

    def wake_due(self) -> None:
        """Wake every sleeper whose end has come, earliest end first (then first to sleep)."""
        now = self.frozen.now_ns()
        for until, _, future in sorted(self.sleepers, key=lambda s: s[:2]):
            if until <= now and not future.done():
                future.set_result(None)


@dataclass
class Inside:
    """What a protected call saw while it ran: was the bulkhead's lock held, and how many
    permits were out."""

    locked: bool
    in_flight: int | None


@dataclass
class HeldCall:
    """A ``call_async`` task whose function is parked on ``gate``."""

    task: asyncio.Task[Any]
    gate: asyncio.Future[str]

    @property
    def held(self) -> bool:
        return not self.task.done()


class BulkheadDriver:
    """Runs bulkhead operations for the machine; ``asynchronous`` drives an ``AsyncBulkhead`` on
    a private event loop, one ``run_until_complete`` per operation."""

    def __init__(self, target: BulkheadTarget, spec: Any, frozen: FrozenTime) -> None:
        self.asynchronous = target.asynchronous
        self.clock = ParkingClock(frozen) if self.asynchronous else FrozenClock(frozen)
        self.loop = asyncio.new_event_loop() if self.asynchronous else None
        self.events: list[Event] = []
        self.bulkhead: Any = target.bulkhead_class(
            spec.max_concurrent,
            max_wait=_seconds(spec.max_wait_ns),
            name="bulkhead",
            clock=self.clock,
        )
        if spec.listen:
            self.bulkhead.subscribe(self.events.append)
        self.inside: list[Inside] = []

    def close_loop(self) -> None:
        if self.loop is not None:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:  # waiters left at the end of a run, or by a failed step
                task.cancel()
            self._spin(lambda: all(task.done() for task in pending))
            self.loop.close()

    # ---------------------------------------------------------------- permits

    def permit(self, max_wait_ns: Any = DEFAULT) -> Any:
        if max_wait_ns is DEFAULT:
            return self.bulkhead.permit()
        return self.bulkhead.permit(max_wait=_seconds(max_wait_ns))

    def enter(self, permit: Any) -> Any:
        """Enter ``permit`` (it must not wait); returns it, or raises what entering raised."""
        if self.loop is None:
            return permit.__enter__()
        return self.loop.run_until_complete(permit.__aenter__())

    def exit(self, permit: Any, error: BaseException | None = None) -> Any:
        """Exit ``permit`` as a block ending with ``error`` (or normally); returns what
        ``__exit__`` returned."""
        kind = None if error is None else type(error)
        if self.loop is None:
            return permit.__exit__(kind, error, None)
        return self.loop.run_until_complete(permit.__aexit__(kind, error, None))

    # ---------------------------------------------------------------- calls

    def _look_inside(self) -> None:
        core = self.bulkhead._core
        locked = core.lock.locked()
        # status() takes the lock: reading it while the lock is held would deadlock.
        in_flight = None if locked else self.bulkhead.status()["in_flight"]
        self.inside.append(Inside(locked, in_flight))

    def call(self, fails: bool, form: str = "sync", awaits: int = 0, cancel_at: int = -1) -> Any:
        """``bulkhead.call(fn)`` (sync bulkhead) or ``call_async(fn)`` with ``fn`` a plain
        function (``form="sync"``) or a coroutine function that awaits ``awaits`` times and
        cancels its own task at await number ``cancel_at``; ``fn`` returns "done" or raises
        ``Boom``."""

        def plain() -> str:
            self._look_inside()
            if fails:
                raise Boom("the protected call failed")
            return "done"

        async def coroutine() -> str:
            self._look_inside()
            for index in range(awaits):
                if index == cancel_at:
                    task = asyncio.current_task()
                    assert task is not None
                    task.cancel()
                await asyncio.sleep(0)  # an await point
            if fails:
                raise Boom("the protected call failed")
            return "done"

        if self.loop is None:
            return self.bulkhead.call(plain)
        fn = plain if form == "sync" else coroutine
        return self.loop.run_until_complete(self.bulkhead.call_async(fn))

    def start_call(self) -> HeldCall:
        """``call_async(fn)`` as a task, with ``fn`` a coroutine function that parks on a gate
        until ``finish_call``: a call held open across steps (or refused at once)."""
        assert self.loop is not None
        gate: asyncio.Future[str] = self.loop.create_future()

        async def fn() -> str:
            self._look_inside()
            return await gate  # the await point a cancellation lands on

        seen = len(self.inside)
        task = self.loop.create_task(self.bulkhead.call_async(fn))
        self._spin(lambda: task.done() or len(self.inside) > seen)
        return HeldCall(task, gate)

    def finish_call(self, call: HeldCall, how: str) -> None:
        """End a held call: ``fn`` returns ("return"), raises ``Boom`` ("raise"), or its task is
        cancelled at the await ("cancel"); run the loop until the call has ended."""
        if how == "return":
            call.gate.set_result("done")
        elif how == "raise":
            call.gate.set_exception(Boom("the protected call failed"))
        else:
            call.task.cancel()
        self._spin(call.task.done)

    # ---------------------------------------------------------------- waiters (async)

    def start_waiter(self, max_wait_ns: Any) -> asyncio.Task[Any]:
        """A task entering a permit that may wait, run until it waits (or ends). Its result is
        the entered permit."""
        assert self.loop is not None
        permit = self.permit(max_wait_ns)

        async def enter() -> Any:
            return await permit.__aenter__()

        core = self.bulkhead._core
        limit = core.config.max_wait_ns if max_wait_ns is DEFAULT else max_wait_ns
        assert isinstance(self.clock, ParkingClock)
        sleepers = self.clock.sleepers
        waiting, sleeping = len(core.waiters), len(sleepers)
        task = self.loop.create_task(enter())
        # Until it has ended, or queued and (with a deadline) parked its sleeper: a sleeper
        # measures its time from when it starts.
        self._spin(
            lambda: (
                task.done()
                or (len(core.waiters) > waiting and (limit is None or len(sleepers) > sleeping))
            )
        )
        return task

    def release_then(
        self, permit: Any, error: BaseException | None, newcomer: Any, cancel: list[Any]
    ) -> Any:
        """In one task step, before any waiter runs again: exit ``permit``, let ``newcomer``
        (a permit that may not wait, or None) try to enter, and cancel the ``cancel`` tasks.
        Returns the newcomer's outcome: the entered permit or the ``BulkheadFull`` raised."""

        async def release() -> Any:
            outcome = None
            try:
                kind = None if error is None else type(error)
                await permit.__aexit__(kind, error, None)
                if newcomer is not None:
                    try:
                        outcome = await newcomer.__aenter__()
                    except BulkheadFull as full:
                        outcome = full
            finally:
                for task in cancel:
                    task.cancel()
            return outcome

        assert self.loop is not None
        return self.loop.run_until_complete(release())

    def wake_due(self) -> None:
        if isinstance(self.clock, ParkingClock):
            self.clock.wake_due()

    def settle(self, live: list[Any], ending: list[Any]) -> None:
        """Run the loop until every task in ``ending`` has ended and every other ``live`` task
        has ended or waits with nothing granted. Bounded: a waiter granted a permit but never
        woken (a missed wake-up) stays pending, for the machine to see."""
        if self.loop is None:
            return
        waiters = self.bulkhead._core.waiters
        self._spin(
            lambda: (
                all(task.done() for task in ending)
                and sum(not task.done() for task in live) == len(waiters)
            )
        )

    def _spin(self, until: Callable[[], bool], rounds: int = 200) -> None:
        """Let the loop run, one iteration at a time, until ``until()`` (or ``rounds``)."""
        loop = self.loop
        assert loop is not None
        for _ in range(rounds):
            if until():
                return
            loop.call_soon(loop.stop)  # run what is ready now, then stop
            loop.run_forever()


def _seconds(ns: int | None) -> object:
    return None if ns is None else Fraction(ns, 10**9)


@dataclass(frozen=True)
class BulkheadTarget:
    name: str
    bulkhead_class: type
    asynchronous: bool

    def build(self, spec: Any, frozen: FrozenTime) -> BulkheadDriver:
        return BulkheadDriver(self, spec, frozen)


def bulkhead_target(
    asynchronous: bool, bulkhead_class: type | None = None, name: str = ""
) -> BulkheadTarget:
    default = AsyncBulkhead if asynchronous else Bulkhead
    label = name or ("async" if asynchronous else "sync")
    return BulkheadTarget(label, bulkhead_class or default, asynchronous)


BULKHEAD_TARGETS = {"sync": bulkhead_target(False), "async": bulkhead_target(True)}
