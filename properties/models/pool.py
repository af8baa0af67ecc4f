"""The resource pool, as a model: plain lists and dicts, no import from ``resilience``.

Resources are numbered in creation order. The model walks each operation through the same
decisions the README states, in the same order, and records what a user can observe: which
resource a checkout returns, every counter, every event, and every call of ``factory``,
``validate``, ``reset`` and ``destroy``.

Waiters: ``wait`` queues a checkout that found nothing (no time limit). Whatever frees up while
anyone waits goes to the first waiter as a *grant* (the returned resource, or "create": a slot
reserved for it); ``resume`` carries a granted waiter's checkout on, ``abandon`` cancels a waiter,
which passes any grant on as if it had been returned. Everything else never blocks.

Scripted callbacks: ``script`` says what the *next* call of each callback does ("fail" raises,
a validate may also answer "no"), and ``cancel_at`` cancels the operation at its n-th callback
call (counting from 0): the call never completes and consumes no script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Cancelled", "PoolModel", "PoolSpec", "Refused", "Res"]


@dataclass(frozen=True)
class PoolSpec:
    size: int
    max_overflow: int
    lifo: bool
    max_lifetime_ns: int | None
    max_idle_ns: int | None
    leak_threshold_ns: int | None
    validate: bool
    reset: bool
    destroy: bool
    # Someone subscribed to the pool's events. Without a listener the pool's hot paths skip
    # building events and take their quietest branches, so the machine runs those too (its
    # events are then not compared: there are none).
    listen: bool = True

    @property
    def capacity(self) -> int:
        return self.size + self.max_overflow


@dataclass
class Res:
    rid: int
    created: int
    returned: int
    leased: int = 0


class Refused(Exception):
    """What the model expects a call to raise: ``kind`` is "closed", "timeout", "not lent",
    "factory" (the scripted factory failure)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Cancelled(Exception):
    """The operation was cancelled at the scripted callback call."""


@dataclass
class PoolModel:
    spec: PoolSpec
    idle: list[Res] = field(default_factory=list)  # the right end is the newest
    out: dict[int, Res] = field(default_factory=dict)  # lent out, by rid
    unreported: dict[int, None] = field(default_factory=dict)  # leases not yet reported
    closed: bool = False
    next_rid: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    events: list[tuple[object, ...]] = field(default_factory=list)
    calls: list[tuple[str, int | None]] = field(default_factory=list)  # (callback, rid)
    script: dict[str, str] = field(default_factory=dict)  # callback -> "fail" / "no"
    waiting: list[int] = field(default_factory=list)  # waiter ids, in arrival order
    granted: dict[int, Res | str] = field(default_factory=dict)  # waiter id -> Res / "create"
    reserved: int = 0  # "create" grants not yet used: each holds a slot
    next_wid: int = 0
    # per operation:
    _now: int = 0
    _cancel_at: int | None = None
    _made: int = 0

    def __post_init__(self) -> None:
        for name in ("created", "destroyed", "checked_out", "checked_in", "timeouts",
                     "invalidated", "leaked", "expired", "failed_validations", "failed_resets",
                     "failed_creates", "failed_destroys"):  # fmt: skip
            self.counts[name] = 0

    # ---------------------------------------------------------------- observation

    @property
    def in_use(self) -> int:
        return len(self.out)

    def live(self) -> int:
        return len(self.idle) + len(self.out)

    def exhausted(self) -> bool:
        """A checkout now would wait: open, nothing idle, no free slot."""
        return not self.closed and not self.idle and self.free_slots() <= 0

    def free_slots(self) -> int:
        return self.spec.capacity - self.live() - self.reserved

    # ---------------------------------------------------------------- callbacks

    def _call(self, name: str, rid: int | None) -> str:
        """One callback call: "ok", "fail", "no" (validate), or raise Cancelled."""
        if self._cancel_at is not None and self._made == self._cancel_at:
            self._made += 1
            self.calls.append((name, rid))
            raise Cancelled
        self._made += 1
        self.calls.append((name, rid))
        return self.script.pop(name, "ok")

    def _begin(self, now: int, cancel_at: int | None) -> None:
        self._now, self._cancel_at, self._made = now, cancel_at, 0
        if self.spec.leak_threshold_ns is not None:
            self._scan_leaks()

    def _event(self, *event: object) -> None:
        self.events.append((event[0], self._now, *event[1:]))

    def _scan_leaks(self) -> None:
        threshold = self.spec.leak_threshold_ns
        assert threshold is not None
        for rid in list(self.unreported):
            held = self._now - self.out[rid].leased
            if held <= threshold:
                return
            del self.unreported[rid]
            self.counts["leaked"] += 1
            self._event("leaked", rid, held)

    def _drop(self, res: Res, reason: str, error: str | None = None) -> Res:
        self.out.pop(res.rid, None)
        self.unreported.pop(res.rid, None)
        self.counts["destroyed"] += 1
        if reason in ("max_lifetime", "max_idle"):
            self.counts["expired"] += 1
        self._event("destroyed", res.rid, reason, error)
        return res

    def _destroy(self, doomed: list[Res]) -> None:
        """Destroy calls; a cancellation is reported, the rest still run, then it propagates."""
        if not self.spec.destroy:
            return
        cancelled = False
        for res in doomed:
            try:
                outcome = "scripted" if self._call("destroy", res.rid) != "ok" else "ok"
            except Cancelled:
                cancelled = True
                outcome = "cancelled"
            if outcome != "ok":
                self.counts["failed_destroys"] += 1
                self._event("destroy_failed", res.rid, outcome)
        if cancelled:
            raise Cancelled

    def _expired(self, res: Res) -> str | None:
        spec, now = self.spec, self._now
        if spec.max_lifetime_ns is not None and now - res.created > spec.max_lifetime_ns:
            return "max_lifetime"
        if spec.max_idle_ns is not None and now - res.returned > spec.max_idle_ns:
            return "max_idle"
        return None

    def _lend(self, res: Res) -> int:
        res.leased = self._now
        self.out[res.rid] = res
        self.counts["checked_out"] += 1
        if self.spec.leak_threshold_ns is not None:
            self.unreported[res.rid] = None
        self._event("out", res.rid, 0)
        return res.rid

    # ---------------------------------------------------------------- operations

    def checkout(self, now: int, cancel_at: int | None = None) -> int:
        """A checkout that may not wait: the rid lent, or ``Refused`` / ``Cancelled``."""
        self._begin(now, cancel_at)
        return self._checkout()

    def _checkout(self) -> int:
        while True:
            if self.closed:
                raise Refused("closed")
            doomed: list[Res] = []
            candidate = None
            while self.idle:
                res = self.idle.pop() if self.spec.lifo else self.idle.pop(0)
                reason = self._expired(res)
                if reason is None:
                    candidate = res
                    break
                doomed.append(self._drop(res, reason))
            creating = candidate is None and self.free_slots() > 0
            if candidate is None and not creating:
                self.counts["timeouts"] += 1
                self._event("timeout", 0)
                self._destroy(doomed)
                raise Refused("timeout")
            try:
                self._destroy(doomed)
            except Cancelled:
                if candidate is not None:
                    self._put_back(candidate)
                raise
            if creating:
                return self._create()
            assert candidate is not None
            lent = self._vet(candidate)
            if lent is not None:
                return lent

    def _vet(self, res: Res) -> int | None:
        """Validate a candidate and lend it (its rid), or destroy it (None). Cancelled while
        validating, it goes back where it was."""
        if not self.spec.validate:
            return self._lend(res)
        try:
            verdict = self._call("validate", res.rid)
        except Cancelled:
            self._put_back(res)
            raise
        if verdict == "ok":
            return self._lend(res)
        self.counts["failed_validations"] += 1
        self._drop(res, "invalid", "scripted" if verdict == "fail" else None)
        self._destroy([res])
        return None

    def _put_back(self, res: Res) -> None:
        if self.spec.lifo:
            self.idle.append(res)
        else:
            self.idle.insert(0, res)

    def _create(self) -> int:
        outcome = self._call("factory", None)
        if outcome != "ok":
            self.counts["failed_creates"] += 1
            self._event("create_failed", "scripted")
            self._dispatch()  # the slot is free again
            raise Refused("factory")
        res = Res(self.next_rid, self._now, self._now)
        self.next_rid += 1
        self.counts["created"] += 1
        self._event("created", res.rid)
        return self._lend(res)

    def checkin(self, now: int, rid: int, cancel_at: int | None = None) -> None:
        self._begin(now, cancel_at)
        res = self.out.get(rid)
        if res is None:
            raise Refused("not lent")
        self.unreported.pop(rid, None)
        self.counts["checked_in"] += 1
        self._event("in", rid, now - res.leased)
        failure = None
        cancelled = False
        if self.spec.reset:
            try:
                if self._call("reset", rid) != "ok":
                    failure = "scripted"
            except Cancelled:
                failure, cancelled = "cancelled", True
        if failure is not None:
            self.counts["failed_resets"] += 1
            doomed = [self._drop(res, "reset failed", failure)]
            self._dispatch()
        else:
            doomed = self._place(res)
        self._destroy(doomed)
        if cancelled:
            raise Cancelled

    def _place(self, res: Res) -> list[Res]:
        """A resource (in ``out``) is free again: destroyed (closed, past its lifetime), handed
        to the first waiter, destroyed as overflow, or idle; then free slots go to waiters."""
        spec, doomed = self.spec, []
        if self.closed:
            doomed.append(self._drop(res, "closed"))
        elif spec.max_lifetime_ns is not None and self._now - res.created > spec.max_lifetime_ns:
            doomed.append(self._drop(res, "max_lifetime"))
        elif self.waiting:
            res.returned = self._now  # handed over as it is: it stays in use
            self.granted[self.waiting.pop(0)] = res
        elif self.live() > spec.size:
            doomed.append(self._drop(res, "overflow"))
        else:
            del self.out[res.rid]
            res.returned = self._now
            self.idle.append(res)
        self._dispatch()
        return doomed

    def _dispatch(self) -> None:
        """Grant a free slot to each waiter, first come first served (nothing is idle while
        anyone waits: a returned resource goes straight to a waiter)."""
        while self.waiting:
            if self.closed:
                self.granted[self.waiting.pop(0)] = "closed"
            elif self.free_slots() > 0:
                self.reserved += 1
                self.granted[self.waiting.pop(0)] = "create"
            else:
                return

    # ---------------------------------------------------------------- waiting

    def wait(self, now: int) -> int:
        """A checkout with no time limit that finds nothing idle and no free slot: it waits.
        Returns the waiter's id."""
        self._begin(now, None)
        assert self.exhausted(), "a checkout now would not wait"
        wid, self.next_wid = self.next_wid, self.next_wid + 1
        self.waiting.append(wid)
        return wid

    def abandon(self, now: int, wid: int) -> None:
        """The waiter's task is cancelled while it waits: it leaves the queue, or passes on what
        it was granted (a resource is placed as if returned, a reserved slot is freed)."""
        self._now, self._cancel_at, self._made = now, None, 0
        if wid in self.waiting:
            self.waiting.remove(wid)
            return
        grant = self.granted.pop(wid)
        if grant == "create":
            self.reserved -= 1
            self._dispatch()
        elif isinstance(grant, Res):
            self._destroy(self._place(grant))

    def resume(self, now: int, wid: int) -> int:
        """A granted waiter wakes and carries its checkout on: the rid lent, or ``Refused``."""
        self._now, self._cancel_at, self._made = now, None, 0
        grant = self.granted.pop(wid)
        if grant == "closed":
            raise Refused("closed")
        if grant == "create":
            self.reserved -= 1
            return self._create()
        assert isinstance(grant, Res)
        reason = self._expired(grant)
        if reason is not None:  # its slot stays ours: the checkout goes on below
            self._destroy([self._drop(grant, reason)])
        else:
            lent = self._vet(grant)
            if lent is not None:
                return lent
        assert self.free_slots() > 0, "a waiter lost the slot it was granted"
        return self._checkout()

    def invalidate(self, now: int, rid: int, cancel_at: int | None = None) -> None:
        self._begin(now, cancel_at)
        res = self.out.get(rid)
        if res is None:
            raise Refused("not lent")
        self.counts["invalidated"] += 1
        doomed = [self._drop(res, "invalidated")]
        self._dispatch()
        self._destroy(doomed)

    def close(self, now: int, cancel_at: int | None = None) -> None:
        self._begin(now, cancel_at)
        self.closed = True
        doomed = [self._drop(res, "closed") for res in self.idle]
        self.idle.clear()
        self._dispatch()
        self._destroy(doomed)

    def check_leaks(self, now: int) -> None:
        self._begin(now, None)

    def expiries(self) -> list[int]:
        """The last instants the idle resource a checkout would take next may still be lent."""
        spec, found = self.spec, []
        for res in self.idle[-1:] if spec.lifo else self.idle[:1]:
            if spec.max_lifetime_ns is not None:
                found.append(res.created + spec.max_lifetime_ns)
            if spec.max_idle_ns is not None:
                found.append(res.returned + spec.max_idle_ns)
        return found

    def next_idle_fresh(self, now: int) -> bool:
        """A resource is idle, and the one a checkout takes next has not expired."""
        return bool(self.idle) and all(now <= instant for instant in self.expiries())

    def instants(self) -> list[int]:
        """When something changes by time alone: expiries and leak thresholds (the instant
        itself is the last one still inside the limit)."""
        spec, found = self.spec, []
        for res in [*self.idle, *self.out.values()]:
            if spec.max_lifetime_ns is not None:
                found.append(res.created + spec.max_lifetime_ns)
        for res in self.idle:
            if spec.max_idle_ns is not None:
                found.append(res.returned + spec.max_idle_ns)
        for rid in self.unreported:
            if spec.leak_threshold_ns is not None:
                found.append(self.out[rid].leased + spec.leak_threshold_ns)
        return found
