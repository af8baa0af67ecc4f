"""A concurrent history: the operations each thread ran, with the global positions at which each
was invoked and answered.

Positions come from one shared counter (``next()`` on ``itertools.count`` is atomic under the
GIL), taken just before an operation starts and just after it returns, so ``a.response <
b.invoke`` means ``a`` really finished before ``b`` started: the real-time order the checker must
respect. An operation that never answered has ``response`` ``None`` (it may or may not have taken
effect).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["PENDING", "Call", "Op", "Recorder"]


class _Pending:
    """The result of an operation that never answered."""

    def __repr__(self) -> str:
        return "PENDING"


PENDING: object = _Pending()


@dataclass(frozen=True)
class Op:
    """An operation as the model sees it: a name and concrete, hashable arguments."""

    name: str
    args: tuple[object, ...] = ()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(repr, self.args))})"


@dataclass
class Call:
    """One operation of one thread: what it was, what it returned, and when."""

    id: int
    thread: int  # 0: the sequential prefix (and the harness's own steps); 1..n: the branches
    op: Op
    invoke: int
    response: int | None = None
    result: object = PENDING

    @property
    def pending(self) -> bool:
        return self.response is None

    def __str__(self) -> str:
        return f"{self.op} -> {self.result!r}"


@dataclass
class Recorder:
    """Collects the calls of every thread in one global order (thread-safe)."""

    calls: list[Call] = field(default_factory=list)
    _positions: itertools.count[int] = field(default_factory=itertools.count)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    #: The last position handed out: the harness watches it to notice a run that stalls.
    latest: int = -1

    def invoke(self, thread: int, op: Op) -> Call:
        call = Call(next(self._ids), thread, op, next(self._positions))
        self.latest = call.invoke
        with self._lock:
            self.calls.append(call)
        return call

    def respond(self, call: Call, result: object) -> None:
        call.result = result
        call.response = self.latest = next(self._positions)

    def record(self, thread: int, op: Op, run: Callable[[], object]) -> object:
        """Run ``run`` as ``op`` of ``thread``: invoke, run, respond. ``run`` must return the
        observation (exceptions included: a driver turns them into values)."""
        call = self.invoke(thread, op)
        result = run()
        self.respond(call, result)
        return result

    def pending(self) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.response is None]

    def history(self) -> list[Call]:
        """The calls so far, in invocation order."""
        with self._lock:
            return sorted(self.calls, key=lambda call: call.invoke)
