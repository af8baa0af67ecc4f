"""The bulkhead, as a model: a few plain attributes, no import from ``resilience``.

Permits and waiters share one numbering (a waiter keeps its number when it is served). The model
records what a user can observe: who holds a permit, who waits and in what order, every counter
and every event, as ``(kind, at_ns, waited_or_held_ns)``.

* ``arrive`` is a caller asking for a permit: admitted if one is free and nobody waits; else
  refused at once if it may not wait; else queued, with a deadline unless it waits forever.
* ``leave`` gives a permit back: it goes to the first waiter, who is admitted right then (a
  *grant*), else it is free. A granted waiter ``resume``s later and holds the permit.
* ``abandon`` is a cancelled waiter: it leaves the queue, or, if granted already, gives the
  permit back at once (admitted and finished without running), so it passes to the next waiter.
* ``expire`` is time passing: waiters whose deadline has come (inclusive) are refused, earliest
  deadline first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BulkheadModel", "BulkheadSpec", "Full", "Waiting"]


@dataclass(frozen=True)
class BulkheadSpec:
    max_concurrent: int
    max_wait_ns: int | None  # the bulkhead's default: None waits forever, 0 never waits
    # Someone subscribed to the bulkhead's events. Without a listener the bulkhead builds no
    # events, so the machine runs that path too (and compares events only when listening).
    listen: bool = True


class Full(Exception):
    """What the model expects a caller to get: ``BulkheadFull``."""


@dataclass
class Waiting:
    number: int
    started: int
    deadline: int | None


@dataclass
class BulkheadModel:
    spec: BulkheadSpec
    holders: dict[int, int] = field(default_factory=dict)  # number -> admitted at
    waiting: list[Waiting] = field(default_factory=list)  # arrival order
    granted: dict[int, int] = field(default_factory=dict)  # number -> admitted at, not resumed
    counts: dict[str, int] = field(
        default_factory=lambda: {"admitted": 0, "rejected": 0, "finished": 0, "abandoned": 0}
    )
    events: list[tuple[str, int, int]] = field(default_factory=list)
    next_number: int = 0

    # ---------------------------------------------------------------- observation

    @property
    def in_flight(self) -> int:
        return len(self.holders) + len(self.granted)

    @property
    def free(self) -> int:
        return self.spec.max_concurrent - self.in_flight

    def full(self) -> bool:
        """A caller arriving now would not be admitted at once."""
        return self.free == 0 or bool(self.waiting)

    def deadlines(self) -> list[int]:
        return [w.deadline for w in self.waiting if w.deadline is not None]

    # ---------------------------------------------------------------- operations

    def _number(self) -> int:
        number, self.next_number = self.next_number, self.next_number + 1
        return number

    def _admit(self, now: int, started: int) -> None:
        self.counts["admitted"] += 1
        self.events.append(("admitted", now, now - started))

    def arrive(self, now: int, max_wait_ns: int | None) -> tuple[str, int]:
        """("holds", number) or ("waits", number); raises ``Full``."""
        number = self._number()
        if not self.full():
            self._admit(now, now)
            self.holders[number] = now
            return "holds", number
        if max_wait_ns == 0:
            self.counts["rejected"] += 1
            self.events.append(("rejected", now, 0))
            raise Full
        deadline = None if max_wait_ns is None else now + max_wait_ns
        self.waiting.append(Waiting(number, now, deadline))
        return "waits", number

    def enter(self, now: int) -> int:
        """A caller that may not wait: the number of its permit, or ``Full``."""
        kind, number = self.arrive(now, 0)
        assert kind == "holds"
        return number

    def leave(self, now: int, number: int) -> None:
        admitted = self.holders.pop(number)
        self._finish(now, admitted)

    def _finish(self, now: int, admitted: int) -> None:
        self.counts["finished"] += 1
        self.events.append(("released", now, now - admitted))
        if self.waiting:
            first = self.waiting.pop(0)
            self._admit(now, first.started)
            self.granted[first.number] = now

    def call(self, now: int) -> int:
        """A whole call that may not wait: admitted and finished at ``now`` (or ``Full``)."""
        number = self.enter(now)
        self.leave(now, number)
        return number

    def resume(self, number: int) -> None:
        """A granted waiter runs again and holds its permit."""
        self.holders[number] = self.granted.pop(number)

    def abandon(self, now: int, number: int) -> None:
        if number in self.granted:
            self._finish(now, self.granted.pop(number))
            return
        (waiter,) = [w for w in self.waiting if w.number == number]
        self.waiting.remove(waiter)
        self.counts["abandoned"] += 1

    def expire(self, now: int) -> list[int]:
        """Refuse every waiter whose deadline has come; returns their numbers, in the order
        they are refused (deadline, then arrival)."""
        due = sorted(
            (w for w in self.waiting if w.deadline is not None and w.deadline <= now),
            key=lambda w: (w.deadline, w.number),
        )
        for waiter in due:
            self.waiting.remove(waiter)
            self.counts["rejected"] += 1
            self.events.append(("rejected", now, now - waiter.started))
        return [w.number for w in due]
