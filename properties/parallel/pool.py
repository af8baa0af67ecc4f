"""The resource pool, in parallel: checkouts (at once, or waiting on frozen time), check-ins and
invalidations from many threads, with time passing between and during them.

**Operations and results.** ``checkout(timeout_us, start_us, thread)`` is
``pool.checkout(timeout)``, recorded with the frozen time its thread read just before it began (a
concrete lower bound on the instant the pool starts its deadline from); it answers the number of
the resource lent, or "timeout". ``checkin(n, thread)`` and ``invalidate(n, thread)`` give back
resource ``n``; they answer ``None`` (or "not lent", the ``PoolError`` of a resource the pool does
not think is lent). Resources are ``Thing(n)``, numbered by the factory in the order it is
called. ``thread`` is the calling thread (see "creations in flight").

**Model.** ``PoolModel`` (the sequential machine's) with a plain configuration (no expiry, no leak
threshold; ``validate`` and ``reset`` always succeed), rebuilt at each step from a hashable state:
the frozen time, the idle numbers (oldest first), the lent numbers. Its decisions are the ones
checked: the idle end LIFO or FIFO lends next, a new resource only when nothing is idle and a slot
is free, a timeout only when nothing is idle and no slot is free, a returned resource idle or
destroyed as overflow.

**Waiters, and why no queue.** Each checkout is one atomic operation. One that is served
linearizes when it gets its resource: taken from the idle list or a free slot, or handed over by
a check-in or invalidate while it waited (the real pool records the grant in the releaser's
critical section, which lies within the waiter's call). One that times out linearizes when it
gives up: allowed only at or after ``start_us + timeout_us`` and only with nothing idle and no slot
free. The model's FIFO queue (``wait``, grants, ``resume``) is therefore not how waiting is
modelled: which of several waiters gets a freed resource is fairness, a property of the order of
grants, not of any one operation's result, so linearizability cannot express it (the sequential
machine checks it). What this spec does check about waiting: no resource is lent to two threads;
nobody times out while a resource idles or a slot is free; nobody times out before its deadline;
capacity and overflow hold. So a lost wake-up shows when the resource it leaves idle is still idle
at the waiter's deadline: a later check-in that hands the waiter something repairs it unseen.

**Where the real pool is not deterministic against the model** (the state is therefore a *set*
of model states, the ones some order of the hidden choices leads to; a step keeps those that can
answer what was observed, and fails when none can):

* *Creation numbers.* A checkout that creates linearizes when it reserves its slot, but the
  factory numbers resources in the order its calls run, which need not be the order of
  reservation: a creation may answer any number not seen before.
* *Creations in flight.* A check-in destroys its resource as overflow when the pool *holds* more
  than ``size`` resources, and a creation holds its slot but is not held until its factory call
  returns (before its checkout answers, but the model cannot see when). A check-in while
  creations are in flight may so find the resource idle or overflow: the model keeps both (the
  decision is monotone in how many are held: none or all of them). A creation is known to be
  held once it is given back, once its thread starts another operation, and (the prefix's)
  once any branch starts.
* *Hand-over.* A check-in while someone waits hands its resource to the first waiter, even an
  overflow resource the model would otherwise destroy: the model keeps a state in which the
  resource went to a waiter, which only a waiting checkout answering that number, linearized
  right after the check-in, can carry on (a waiter exists only when nothing is idle or free).

**Programs.** A case is a small pool (size 1-2, overflow 0-1) that may start with resources lent
out (any thread may give them back: "leftovers") or idle, and a *focus* choosing the steps:
"hand-off" (all lent; ``pass``: give back, else wait), "idle" (idle list full; take at once),
"create" (one slot free) or "all". Steps: ``checkout`` (0: at once, or waiting), ``lease``
(waiting checkout, then check-in), ``grab`` (everything at once), ``warm`` (everything, then all
back), ``pass``, ``checkin`` and ``invalidate`` (newest or oldest held, else a leftover),
``advance``. The factory, ``validate`` and ``reset`` yield the processor once
(``os.sched_yield``), as callbacks doing I/O do: where the pool runs user code outside its lock,
other threads get in. **The prefix** runs on the main thread alone: a checkout there that would
wait is made with timeout 0 (and recorded so), since nothing could free a resource for it.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from properties.harness.frozen import NS_PER_US, FrozenClock, FrozenTime
from properties.models.pool import PoolModel, PoolSpec, Refused, Res
from properties.parallel.harness import ADVANCE, Actor
from properties.parallel.history import PENDING, Op
from properties.targets.pool import Thing
from resilience import PoolError, PoolTimeout, ResourcePool

__all__ = ["NOT_LENT", "POOL", "TIMEOUT", "PoolCase", "PoolComponent", "PoolParallelSpec"]

TIMEOUT, NOT_LENT = "timeout", "not lent"
WAIT_US = 1_000  # the timeout of a checkout that may wait; advances are half or all of it

#: (now_us, idle numbers oldest first, lent numbers, numbers ever created, (thread, number) of
#: each creation that may still be in flight, the number handed to a waiter just now or None).
Concrete = tuple[
    int, tuple[int, ...], frozenset[int], frozenset[int], frozenset[tuple[int, int]], int | None
]
State = frozenset[Concrete]


@dataclass(frozen=True)
class PoolCase:
    size: int
    max_overflow: int
    lifo: bool
    validate: bool  # a validate that always succeeds: checkouts take the plan, not the fast path
    reset: bool  # a reset that always succeeds: check-ins take the plan
    #: How the pool starts (set up by the pool's own checkouts and check-ins before the run,
    #: resources numbered from 0): this many lent out (any thread may give them back), then
    #: this many idle, the oldest first (``idle <= size - lent``, or some would be overflow).
    lent: int = 0
    idle: int = 0
    #: Not the pool's: which steps the program is made of (and how the pool starts). "hand-off"
    #: (all lent): give back, what the thread holds or else what the pool lent at the start, or
    #: wait; "idle" (the idle list full): take from it; "create" (one slot free): take, and free
    #: slots; "all": any step, any start.
    focus: str = "all"

    @property
    def capacity(self) -> int:
        return self.size + self.max_overflow


class PoolParallelSpec:
    """The pool as atomic operations over ``PoolModel`` (see the module docstring)."""

    def __init__(self, case: PoolCase) -> None:
        self.case = case
        self.model_spec = PoolSpec(
            size=case.size,
            max_overflow=case.max_overflow,
            lifo=case.lifo,
            max_lifetime_ns=None,
            max_idle_ns=None,
            leak_threshold_ns=None,
            validate=case.validate,
            reset=case.reset,
            destroy=False,
            listen=False,
        )

    def initial(self) -> State:
        lent = frozenset(range(self.case.lent))
        idle = tuple(range(self.case.lent, self.case.lent + self.case.idle))
        return frozenset({(0, idle, lent, lent | frozenset(idle), frozenset(), None)})

    def partition(self, op: Op) -> Hashable | None:
        return None  # one pool: nothing is independent

    def step(self, state: State, op: Op, result: object) -> State | None:
        after: set[Concrete] = set()
        for concrete in state:
            after.update(self._step(concrete, op, result))
        return frozenset(after) or None

    # ---------------------------------------------------------------- one model state

    def _model(self, concrete: Concrete) -> PoolModel:
        model = PoolModel(self.model_spec)
        model.idle = [Res(n, 0, 0) for n in concrete[1]]
        model.out = {n: Res(n, 0, 0) for n in sorted(concrete[2])}
        return model

    @staticmethod
    def _after(
        concrete: Concrete,
        model: PoolModel,
        created: tuple[int, int] | None = None,
        given_back: int | None = None,
        handoff: int | None = None,
    ) -> Concrete:
        """The state after an operation left ``model``: ``created`` (thread, number) by it,
        ``given_back`` (now known to have been held), ``handoff`` to a waiter."""
        now, _, _, seen, in_flight, _ = concrete
        if created is not None:
            seen, in_flight = seen | {created[1]}, in_flight | {created}
        if given_back is not None:
            in_flight = frozenset(entry for entry in in_flight if entry[1] != given_back)
        idle = tuple(res.rid for res in model.idle)
        return (now, idle, frozenset(model.out), seen, in_flight, handoff)

    def _step(self, concrete: Concrete, op: Op, result: object) -> list[Concrete]:
        now, idle, out, seen, in_flight, handoff = concrete
        if op.name == ADVANCE:
            (us,) = op.args
            assert isinstance(us, int)
            return [] if handoff is not None else [(now + us, idle, out, seen, in_flight, None)]
        thread = op.args[-1]
        assert isinstance(thread, int)
        # Whatever this thread created answered before this call began; so did the prefix
        # (thread 0) before any branch began.
        in_flight = frozenset(
            entry for entry in in_flight if entry[0] != thread and (thread == 0 or entry[0] != 0)
        )
        concrete = (now, idle, out, seen, in_flight, handoff)
        if handoff is not None:
            # A check-in just handed ``handoff`` to a waiter: only that waiter's checkout can
            # come next (the grant is its linearization point, in the check-in's critical
            # section).
            waiting = op.name == "checkout" and op.args[0] != 0
            if not waiting or result not in (handoff, PENDING):
                return []
            model = self._model(concrete)
            model.granted[0] = model.out[handoff]
            model.resume(now * NS_PER_US, 0)
            return [self._after(concrete, model)]
        if op.name == "checkout":
            timeout_us, start_us, _ = op.args
            assert isinstance(timeout_us, int)
            assert isinstance(start_us, int)
            if result is PENDING:  # only a hung run leaves one, and that is reported unchecked
                return [concrete, *self._checkout(concrete, thread, timeout_us, start_us, None)]
            return self._checkout(concrete, thread, timeout_us, start_us, result)
        number, _ = op.args
        assert isinstance(number, int)
        if number not in out:  # the pool does not lend it: it must say so
            return [concrete] if result in (NOT_LENT, PENDING) else []
        if result not in (None, PENDING):
            return []
        found = [concrete] if result is PENDING else []
        if op.name == "invalidate":
            model = self._model(concrete)
            model.invalidate(now * NS_PER_US, number)
            return [*found, self._after(concrete, model, given_back=number)]
        if op.name == "checkin":
            return found + self._checkin(concrete, number)
        raise ValueError(f"the pool has no operation {op}")

    def _checkout(
        self, concrete: Concrete, thread: int, timeout_us: int, start_us: int, result: object
    ) -> list[Concrete]:
        """The checkout answering ``result`` here (``None``: whatever it would answer)."""
        now, _, _, seen, _, _ = concrete
        model = self._model(concrete)
        fresh = isinstance(result, int) and result not in seen
        model.next_rid = result if fresh else -1 - len(seen)  # type: ignore[assignment]
        try:
            lent = model.checkout(now * NS_PER_US)
        except Refused:
            # Nothing idle, no slot free: a timeout, once the deadline has come.
            if result in (TIMEOUT, None) and now >= start_us + timeout_us:
                return [concrete]
            return []
        if result is not None and lent != result:
            return []
        created = (thread, lent) if model.counts["created"] else None
        return [self._after(concrete, model, created=created)]

    def _checkin(self, concrete: Concrete, number: int) -> list[Concrete]:
        """A check-in of ``number`` (lent): idle, or destroyed as overflow, with as many of the
        creations in flight held as make a difference (none, or all: the decision is monotone in
        how many the pool holds); or handed to a waiter, if one can be waiting."""
        now_ns = concrete[0] * NS_PER_US
        found = []
        in_flight = sorted({n for _, n in concrete[4]} - {number})
        for hidden in {0, len(in_flight)}:
            model = self._model(concrete)
            not_held = [model.out.pop(n) for n in in_flight[:hidden]]
            model.checkin(now_ns, number)
            model.out.update((res.rid, res) for res in not_held)
            found.append(self._after(concrete, model, given_back=number))
        model = self._model(concrete)
        if model.exhausted():
            model.wait(now_ns)
            model.checkin(now_ns, number)
            assert 0 in model.granted, "the model did not hand it over"
            found.append(self._after(concrete, model, given_back=number, handoff=number))
        return found


def describe(state: State) -> str:
    """The model states the history so far can be in, one per line when there are several."""
    shown = []
    for now, idle, out, _, in_flight, handoff in sorted(state, key=repr):
        line = f"t={now} us; idle {list(idle)}; lent {sorted(out)}"
        if in_flight:
            line += f" (maybe still being created: {sorted(n for _, n in in_flight)})"
        if handoff is not None:
            line += f"; {handoff} handed to a waiter"
        shown.append(line)
    return shown[0] if len(shown) == 1 else "one of:\n         " + "\n         ".join(shown)


class _Driver:
    def __init__(self, pool: ResourcePool[Thing], frozen: FrozenTime) -> None:
        self.pool = pool
        self.frozen = frozen
        self.origin = frozen.now_ns()
        self.leftovers: list[Thing] = []

    def _now_us(self) -> int:
        return (self.frozen.now_ns() - self.origin) // NS_PER_US

    def perform(self, actor: Actor, step: Op) -> None:
        if actor.thread == 0 and actor.held is not self.leftovers:
            # What the pool lent at the start, and what the prefix still holds: the branches
            # give it back.
            self.leftovers.extend(actor.held)
            actor.held = self.leftovers
        if step.name == "checkout":
            (timeout_us,) = step.args
            assert isinstance(timeout_us, int)
            self._checkout(actor, timeout_us)
        elif step.name == "lease":  # a checkout that may wait, given back at once
            if self._checkout(actor, WAIT_US):
                self._give_back(actor, "checkin", -1)
        elif step.name == "grab":  # everything available, at once
            while self._checkout(actor, 0):
                pass
        elif step.name == "pass":  # give back what it holds (or a leftover), else wait for one
            if not self._give_back(actor, "checkin", 0):
                self._checkout(actor, WAIT_US)
        elif step.name == "warm":  # everything available, then all of it given back: all idle
            taken = len(actor.held)
            while self._checkout(actor, 0):
                pass
            while len(actor.held) > taken:
                self._give_back(actor, "checkin", -1)
        elif step.name in ("checkin", "invalidate"):
            (newest,) = step.args
            self._give_back(actor, step.name, -1 if newest else 0)
        else:
            raise ValueError(f"the pool has no step {step}")

    def _checkout(self, actor: Actor, timeout_us: int) -> bool:
        """A checkout; whether it lent something (now held by ``actor``)."""
        if actor.thread == 0 and timeout_us and self._exhausted():
            timeout_us = 0  # the prefix runs alone: a wait there could never end
        op = Op("checkout", (timeout_us, self._now_us(), actor.thread))
        timeout = Fraction(timeout_us, 1_000_000)
        got: list[Thing] = []

        def run() -> object:
            try:
                thing = self.pool.checkout(timeout)
            except PoolTimeout:
                return TIMEOUT
            except Exception as error:  # recorded, and no model answers it
                return f"raised {type(error).__name__}: {error}"
            got.append(thing)
            return thing.n

        actor.record(op, run, blocking=timeout_us > 0)
        actor.held.extend(got)
        return bool(got)

    def _exhausted(self) -> bool:
        """Nothing idle and no slot free (exact only while no other thread runs)."""
        status = self.pool.status()
        held = status["idle"] + status["in_use"] + status["creating"]
        return not status["idle"] and held >= status["size"] + status["max_overflow"]

    def _give_back(self, actor: Actor, name: str, index: int) -> bool:
        """Give back the newest (``index`` -1) or oldest (0) resource ``actor`` holds or, if it
        holds none, a leftover (lent at the start or by the prefix: any thread may return it);
        whether there was one."""
        try:
            thing = (actor.held or self.leftovers).pop(index)
        except IndexError:  # nothing held (another branch took the last leftover)
            return False

        def run() -> object:
            try:
                getattr(self.pool, name)(thing)
            except PoolError:
                return NOT_LENT
            except Exception as error:  # recorded, and no model answers it
                return f"raised {type(error).__name__}: {error}"
            return None

        actor.record(Op(name, (thing.n, actor.thread)), run)
        return True

    def close(self, actors: Sequence[Actor]) -> None:
        pass  # the pool is dropped with the run (closing a broken variant's pool could raise)


class PoolComponent:
    """A sync ``ResourcePool`` of 1 or 2 resources and at most one overflow (so branches wait)."""

    name = "pool"

    def __init__(self, pool: type[ResourcePool[Any]] = ResourcePool) -> None:
        self.pool = pool

    def with_classes(self, pool: type[ResourcePool[Any]] | None = None) -> PoolComponent:
        """The same component over a variant (a planted bug)."""
        return PoolComponent(pool or self.pool)

    def spec(self, case: PoolCase) -> PoolParallelSpec:
        return PoolParallelSpec(case)

    def cases(self) -> st.SearchStrategy[PoolCase]:
        @st.composite
        def build(draw: st.DrawFn) -> PoolCase:
            focus = draw(st.sampled_from(["hand-off", "idle", "hand-off", "create", "all"]))
            # Callbacks run outside the pool's lock, and yield there: hand-offs race with a
            # ``reset`` in flight more often, takes from the idle list with a ``validate``.
            often = st.integers(0, 2).map(bool)
            rarely = st.integers(0, 2).map(lambda n: n == 0)
            size = draw(st.integers(1, 2))
            capacity = size + draw(st.integers(0, 1))
            if focus == "hand-off":  # everything lent, so branches wait for what others return
                lent, idle = capacity, 0
            elif focus == "idle":  # the idle list full, so branches take from it together
                lent, idle = 0, size
            elif focus == "create":  # one slot free, so branches race to fill it
                lent, idle = capacity - 1, 0
            else:
                lent = draw(st.integers(0, capacity))
                idle = draw(st.integers(0, max(0, size - lent)))  # more would be overflow
            return PoolCase(
                size=size,
                max_overflow=capacity - size,
                lifo=draw(st.booleans()),
                validate=draw(st.booleans() if focus == "idle" else rarely),
                reset=draw(often if focus == "hand-off" else rarely),
                lent=lent,
                idle=idle,
                focus=focus,
            )

        return build()

    def steps(self, case: PoolCase) -> st.SearchStrategy[Op]:
        at_once = st.just(Op("checkout", (0,)))
        waiting = st.just(Op("checkout", (WAIT_US,)))
        lease = st.just(Op("lease"))
        grab = st.just(Op("grab"))
        warm = st.just(Op("warm"))
        hand = st.just(Op("pass"))
        checkin = st.builds(lambda newest: Op("checkin", (newest,)), st.booleans())
        invalidate = st.just(Op("invalidate", (True,)))
        advance = st.builds(lambda us: Op(ADVANCE, (us,)), st.sampled_from([WAIT_US // 2, WAIT_US]))
        # Races show in short programs whose threads meet where it matters: everything lent and
        # branches that give it back while others wait (a lost wake-up shows only if no later
        # check-in repairs it); the idle list full and branches that take from it at once; one
        # slot free and branches that race to fill it.
        if case.focus == "hand-off":
            return st.one_of(hand, hand, hand, waiting, checkin)
        if case.focus == "idle":
            return st.one_of(warm, at_once, at_once, waiting, checkin)
        if case.focus == "create":
            return st.one_of(at_once, at_once, waiting, invalidate, checkin)
        return st.one_of(
            waiting, waiting, waiting, checkin, checkin, checkin, grab, grab, at_once, at_once,
            warm, lease, invalidate, advance,
        )  # fmt: skip

    def build(self, case: PoolCase, frozen: FrozenTime) -> _Driver:
        numbers = itertools.count()  # next() is atomic: the factory may run in many threads

        def factory() -> Thing:
            os.sched_yield()
            return Thing(next(numbers))

        def validate(thing: Thing) -> bool:
            os.sched_yield()
            return True

        def reset(thing: Thing) -> None:
            os.sched_yield()

        pool = self.pool(
            factory,
            size=case.size,
            max_overflow=case.max_overflow,
            timeout=0,
            lifo=case.lifo,
            validate=validate if case.validate else None,
            reset=reset if case.reset else None,
            name="pool",
            clock=FrozenClock(frozen),
        )
        driver = _Driver(pool, frozen)
        lent = [pool.checkout(0) for _ in range(case.lent + case.idle)]
        for thing in lent[case.lent :]:
            pool.checkin(thing)
        driver.leftovers = lent[: case.lent]
        return driver

    def expire_us(self, case: PoolCase) -> int:
        return WAIT_US  # the longest timeout

    def describe(self, state: State) -> str:
        return describe(state)


POOL = PoolComponent()
