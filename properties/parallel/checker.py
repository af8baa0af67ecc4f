"""A linearizability checker, generic over a sequential model.

A history is *linearizable* when every operation can be given one instant between its invocation
and its response such that, run one after another in that order, the sequential model produces
every observed result. The search is Wing & Gong's, with Lowe's memoisation (as in Porcupine):

* walk the calls in order of position; at an invocation, try to linearize that call now (the model
  accepts its observed result from the current state), lift it out and start again from the
  first remaining call; at a response whose call is not linearized yet, nothing can go first any
  more: undo the most recent choice and try the next call after it;
* remember every (set of linearized calls, model state) already explored: reaching one again
  cannot lead anywhere new, which turns the exponential search into one that is fast on the
  histories a few threads make.

**Partitioning (P-compositionality).** A spec may say which part of the state each operation
touches (``partition``: a limiter key, say). When the history has no operation touching every part
that overlaps another call, each part is checked on its own, with the shared operations copied
into each: independent searches, whose sizes add instead of multiplying.

**Budget.** The search stops at ``budget`` seconds and answers ``unknown``: never "linearizable"
on a search it did not finish.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from properties.parallel.history import PENDING, Call, Op

__all__ = [
    "LINEARIZABLE",
    "NOT_LINEARIZABLE",
    "UNKNOWN",
    "Deterministic",
    "Spec",
    "Verdict",
    "check",
]

S = TypeVar("S", bound=Hashable)

LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN = "linearizable", "not linearizable", "unknown"


class Spec(Protocol[S]):
    """A sequential model. States are immutable and hashable (the memo keys on them)."""

    def initial(self) -> S: ...

    def step(self, state: S, op: Op, result: object) -> S | None:
        """The state after ``op`` answered ``result`` from ``state``; ``None`` if the model cannot
        answer ``result`` there. ``result`` is ``PENDING`` for a call that never answered: accept
        whatever the call would answer."""
        ...

    def partition(self, op: Op) -> Hashable | None:
        """The part of the state ``op`` touches; ``None``: every part (time, say)."""
        ...


class Deterministic(Generic[S]):
    """A spec whose model answers each operation in exactly one way: define ``initial`` and
    ``apply(state, op) -> (state, result)``; the call's observed result must equal it."""

    def initial(self) -> S:
        raise NotImplementedError

    def apply(self, state: S, op: Op) -> tuple[S, object]:
        raise NotImplementedError

    def step(self, state: S, op: Op, result: object) -> S | None:
        after, expected = self.apply(state, op)
        if result is PENDING or expected == result:
            return after
        return None

    def partition(self, op: Op) -> Hashable | None:
        return None


@dataclass
class Verdict:
    outcome: str  # LINEARIZABLE, NOT_LINEARIZABLE or UNKNOWN
    #: A linearization (the calls in model order) when linearizable; otherwise the longest
    #: linearizable prefix the search found, with the model state after each of its calls.
    order: list[Call] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)
    seconds: float = 0.0
    explored: int = 0  # model steps taken
    partitions: int = 1
    #: For a failure, the part of the history that failed (all of it when not partitioned).
    calls: list[Call] = field(default_factory=list)

    @property
    def ok(self) -> bool | None:
        """True, False, or None for unknown."""
        return None if self.outcome == UNKNOWN else self.outcome == LINEARIZABLE


def check(calls: Sequence[Call], spec: Spec[Any], budget: float = 1.0) -> Verdict:
    """Whether ``calls`` is linearizable with respect to ``spec``, searching for at most
    ``budget`` seconds (then ``unknown``)."""
    started = time.perf_counter()
    deadline = started + budget
    parts = _partitions(calls, spec)
    verdicts = []
    for part in parts:
        verdict = _search(part, spec, deadline)
        verdicts.append(verdict)
        if verdict.outcome != LINEARIZABLE:
            break
    failed = next((v for v in verdicts if v.outcome != LINEARIZABLE), None)
    result = failed or Verdict(LINEARIZABLE, order=[c for v in verdicts for c in v.order])
    result.seconds = time.perf_counter() - started
    result.explored = sum(v.explored for v in verdicts)
    result.partitions = len(parts)
    return result


def _partitions(calls: Sequence[Call], spec: Spec[Any]) -> list[list[Call]]:
    """The history split by ``spec.partition``, when that is sound: every call touching all parts
    is ordered in real time against every other call (it happened alone)."""
    keys = [spec.partition(call.op) for call in calls]
    parts = {key for key in keys if key is not None}
    if len(parts) < 2:
        return [list(calls)]
    shared = [call for call, key in zip(calls, keys, strict=True) if key is None]
    for one in shared:
        for other in calls:
            if other is not one and _overlap(one, other):
                return [list(calls)]
    return [
        [call for call, key in zip(calls, keys, strict=True) if key is None or key == part]
        for part in sorted(parts, key=repr)
    ]


def _overlap(a: Call, b: Call) -> bool:
    end_a = float("inf") if a.response is None else a.response
    end_b = float("inf") if b.response is None else b.response
    return a.invoke < end_b and b.invoke < end_a


@dataclass
class _Entry:
    call: int  # index into the calls
    is_return: bool
    match: _Entry | None = None  # the call entry's return entry
    prev: _Entry | None = None
    next: _Entry | None = None


def _entries(calls: Sequence[Call]) -> _Entry:
    """The calls as a doubly linked list of invocation and response entries, in position order,
    behind a head sentinel. A pending call answers after everything else."""
    end = max((c.response for c in calls if c.response is not None), default=0) + 1
    positioned: list[tuple[int, int, _Entry]] = []
    for index, call in enumerate(calls):
        invoke, answer = _Entry(index, False), _Entry(index, True)
        invoke.match = answer
        response = end + index if call.response is None else call.response
        positioned += [(call.invoke, 0, invoke), (response, 1, answer)]
    positioned.sort(key=lambda item: (item[0], item[1]))
    head = _Entry(-1, False)
    last = head
    for _, _, entry in positioned:
        last.next, entry.prev = entry, last
        last = entry
    return head


def _lift(entry: _Entry) -> None:
    """Take a call's invocation and response out of the list."""
    assert entry.prev is not None
    assert entry.match is not None
    entry.prev.next = entry.next
    if entry.next is not None:
        entry.next.prev = entry.prev
    answer = entry.match
    assert answer.prev is not None
    answer.prev.next = answer.next
    if answer.next is not None:
        answer.next.prev = answer.prev


def _unlift(entry: _Entry) -> None:
    """Put them back (in the reverse order of ``_lift``)."""
    answer = entry.match
    assert answer is not None
    assert answer.prev is not None
    assert entry.prev is not None
    answer.prev.next = answer
    if answer.next is not None:
        answer.next.prev = answer
    entry.prev.next = entry
    if entry.next is not None:
        entry.next.prev = entry


def _search(calls: Sequence[Call], spec: Spec[Any], deadline: float) -> Verdict:
    head = _entries(calls)
    state: Any = spec.initial()
    linearized = 0  # bit i: calls[i] is linearized
    stack: list[tuple[_Entry, Any]] = []  # (call entry, state before it)
    seen: set[tuple[int, Any]] = set()
    best: list[tuple[_Entry, Any]] = []  # the longest prefix so far: (entry, state after)
    steps = 0
    entry = head.next
    while head.next is not None:
        assert entry is not None  # a response entry always comes before the list ends
        if not entry.is_return:
            call = calls[entry.call]
            steps += 1
            if not steps & 0xFF and time.perf_counter() > deadline:
                return _verdict(UNKNOWN, calls, best, steps)
            after = spec.step(state, call.op, call.result)
            if after is not None:
                key = (linearized | 1 << entry.call, after)
                if key not in seen:
                    seen.add(key)
                    stack.append((entry, state))
                    state, linearized = after, key[0]
                    _lift(entry)
                    if len(stack) > len(best):
                        # stack holds the state *before* each call: shift to the state after
                        best = [(stack[i][0], stack[i + 1][1]) for i in range(len(stack) - 1)]
                        best.append((entry, state))
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return _verdict(NOT_LINEARIZABLE, calls, best, steps)
            top, state = stack.pop()
            linearized &= ~(1 << top.call)
            _unlift(top)
            entry = top.next
    return _verdict(LINEARIZABLE, calls, best, steps)


def _verdict(
    outcome: str, calls: Sequence[Call], best: list[tuple[_Entry, Any]], steps: int
) -> Verdict:
    return Verdict(
        outcome,
        order=[calls[entry.call] for entry, _ in best],
        states=[state for _, state in best],
        explored=steps,
        calls=list(calls),
    )
