"""RateLimitMachine: drives a plain and a keyed limiter next to one model per key, under frozen
time, and checks three things after every step:

* exact agreement: every decision, ``remaining`` and ``retry_after_ns`` equals the model's, for
  every entry point (``try_acquire``, ``check``, blocking ``acquire``, ``acquire_async``), and
  ``check`` for *every* key after every step equals the model (so an operation on one key that
  changed another key's answers, or an eviction that forgot a throttled key, shows at once);
* the algorithm's safety bound over each key's whole admission history (independent of the model);
* honest ``retry_after``: after a rejection, waiting exactly ``retry_after`` (rounded up to frozen
  time's microsecond) admits the same request; waiting one nanosecond less (rounded down) does not.

Counters and events are compared too. ``rate_limit_machine(target)`` makes the machine for a target.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

import resilience
from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import NS_PER_US, FrozenTime
from properties.harness.trace import TracedMachine
from properties.models.ratelimit import LimitModel, Verdict, configuration, description, model_for
from properties.models.ratelimit_bounds import violation
from properties.strategies import (
    LIMITER_KEYS,
    PLAIN,
    LimitCase,
    limiter_keys,
    time_steps_us,
)
from properties.targets.ratelimit import GuardedClock, LimiterDriver, LimiterTarget, Outcome

__all__ = ["RateLimitMachine", "limit_coverage", "rate_limit_machine"]

ALL_KEYS: tuple[object, ...] = tuple(dict.fromkeys(LIMITER_KEYS))


def limit_coverage(algorithm: str) -> frozenset[str]:
    """What every run of the machine for ``algorithm`` must reach."""
    refill = "refilled to full" if algorithm in ("token_bucket", "gcra") else "window rolled over"
    return frozenset(
        {
            "admitted",
            "admitted at exactly the limit's cost",
            "rejected",
            refill,
            "key evicted after a decision",
            "key evicted by sweep()",
            "retry_after then admitted",
            "one ns before retry_after: still rejected",
            "acquire waited then admitted",
            "acquire_async waited then admitted",
            "acquire timed out",
        }
    )


def _ceil_us(ns: int) -> int:
    return -(-ns // NS_PER_US)


class RateLimitMachine(TracedMachine):
    """Set ``target`` (and optionally ``coverage``) on a subclass: see ``rate_limit_machine``."""

    machine_id: ClassVar[str] = "ratelimit"

    target: ClassVar[LimiterTarget]
    coverage: ClassVar[CoverageTracker | None] = None

    # Set by the `build` initialize rule, which Hypothesis runs before any rule or invariant.
    case: LimitCase
    driver: LimiterDriver

    def __init__(self) -> None:
        super().__init__()
        self.models: dict[object, LimitModel] = {}
        self.history: dict[object, list[tuple[int, int]]] = {}
        self.expected_metrics = {which: dict.fromkeys(
            ("admitted", "admitted_cost", "rejected", "rejected_cost"), 0)
            for which in ("plain", "keyed")}  # fmt: skip
        self.expected_events: dict[str, list[Any]] = {"plain": [], "keyed": []}
        self.last_rejection: tuple[object, int, int, int] | None = None  # key, cost, at, wait
        self.evicted = 0  # evictions seen so far
        self.swept = 0  # of which by sweep()
        self.keyed_used: set[object] = set()  # keys the keyed limiter has decided for
        # Last: nothing after the freeze starts can fail and leak it (teardown stops it).
        self.frozen = FrozenTime().start()

    def teardown(self) -> None:
        try:
            driver = getattr(self, "driver", None)
            if driver is not None:
                driver.close()
        finally:
            self.frozen.stop()

    # ---------------------------------------------------------------- helpers

    def reach(self, label: str) -> None:
        if self.coverage is not None and label in self.coverage.targets:
            self.coverage.reach(label)

    @property
    def limit(self) -> int:
        return self.case.spec.limit

    def model(self, key: object) -> LimitModel:
        if key not in self.models:
            self.models[key] = model_for(self.case.spec)
        return self.models[key]

    def _costs(self) -> st.SearchStrategy[int]:
        return st.one_of(st.just(1), st.integers(1, self.limit), st.just(self.limit))

    def _decide(self, key: object, cost: int, at: int | None = None) -> Verdict:
        """The model's decision (now, or at instant ``at``), committed, with its coverage."""
        now = self.frozen.now_ns() if at is None else at
        model = self.model(key)
        self._note_refill(key, model, now)
        verdict = model.decide(now, cost, True)
        self.reach("admitted" if verdict.admitted else "rejected")
        if verdict.admitted and cost == self.limit:
            self.reach("admitted at exactly the limit's cost")
        return verdict

    def _note_refill(self, key: object, model: LimitModel, now: int) -> None:
        history = self.history.get(key)
        if not history:
            return
        spec = self.case.spec
        if spec.window_ns is not None:
            if history[-1][0] // spec.window_ns < now // spec.window_ns:
                self.reach("window rolled over")
        elif model.decide(now, self.limit, False).admitted:
            # Below full right after every admission, so full now means refilled to full.
            self.reach("refilled to full")

    def _record(self, key: object, cost: int, verdict: Verdict, outcome: Outcome) -> None:
        """Compare one committed decision, then account for it as the model says."""
        assert outcome.admitted == verdict.admitted, (
            f"key {key!r} cost {cost}: model {verdict}, implementation {outcome}"
        )
        assert outcome.remaining == verdict.remaining, (
            f"key {key!r} cost {cost}: remaining {outcome.remaining}, model {verdict}"
        )
        assert outcome.retry_after_ns == verdict.retry_after_ns, (
            f"key {key!r} cost {cost}: retry_after_ns {outcome.retry_after_ns}, model {verdict}"
        )
        self._account(key, cost, verdict, at=self.frozen.now_ns())

    def _account(self, key: object, cost: int, verdict: Verdict, at: int) -> None:
        """Expected counters, events, history (with its safety bound) and last rejection."""
        now = at
        which = "plain" if key == PLAIN else "keyed"
        source_key = None if key == PLAIN else key
        if key != PLAIN:
            self.keyed_used.add(key)
        metrics = self.expected_metrics[which]
        if verdict.admitted:
            metrics["admitted"] += 1
            metrics["admitted_cost"] += cost
            event: Any = resilience.RequestAdmitted(which, now, source_key, cost, verdict.remaining)
            history = self.history.setdefault(key, [])
            history.append((now, cost))
            broken = violation(self.case.spec, history)
            assert broken is None, f"key {key!r}: safety bound broken: {broken}"
            if self.last_rejection is not None and self.last_rejection[0] == key:
                self.last_rejection = None
        else:
            metrics["rejected"] += 1
            metrics["rejected_cost"] += cost
            event = resilience.RequestRejected(which, now, source_key, cost, verdict.retry_after_ns)
            self.last_rejection = (key, cost, now, verdict.retry_after_ns)
        self.expected_events[which].append(event)

    def _advance_to(self, instant: int, *, up: bool) -> None:
        """Move to ``instant`` rounded to a microsecond (up or down), never backwards."""
        delta = instant - self.frozen.now_ns()
        steps = _ceil_us(delta) if up else delta // NS_PER_US
        if steps > 0:
            self.frozen.advance_us(steps)

    # ---------------------------------------------------------------- rules

    @initialize(data=st.data())
    def build(self, data: st.DataObject) -> None:
        self.case = data.draw(self.target.cases, label="case")
        self.driver = self.target.build(self.case, GuardedClock(self.frozen))
        if self.case.listen:
            self.driver.subscribe()

    @rule(data=st.data(), key=limiter_keys, check_first=st.booleans())
    def request(self, data: st.DataObject, key: object, check_first: bool) -> None:
        """One request of a random cost; optionally ``check`` first (which must agree and take
        nothing)."""
        cost = data.draw(self._costs(), label="cost")
        if check_first:
            peek = self.model(key).decide(self.frozen.now_ns(), cost, False)
            looked = self.driver.check(key, cost)
            assert (looked.admitted, looked.remaining, looked.retry_after_ns) == peek, (
                f"check({key!r}, {cost}) = {looked}, model {peek}"
            )
        verdict = self._decide(key, cost)
        self._record(key, cost, verdict, self.driver.try_acquire(key, cost))

    @rule(key=limiter_keys, count=st.integers(min_value=2, max_value=8))
    def burst(self, key: object, count: int) -> None:
        """Traffic at one instant: unit requests until some are refused."""
        for _ in range(count):
            verdict = self._decide(key, 1)
            self._record(key, 1, verdict, self.driver.try_acquire(key, 1))

    @rule(
        data=st.data(),
        asynchronous=st.booleans(),
        timeout=st.sampled_from(["none", "zero", "random", "wait", "wait", "wait - 1ns"]),
        spell=st.sampled_from(["seconds", "timedelta", "fraction"]),
    )
    def blocking(self, data: st.DataObject, asynchronous: bool, timeout: str, spell: str) -> None:
        """``acquire`` (or ``acquire_async``) with a timeout: the driver sleeps through the frozen
        clock until admitted, or raises ``RateLimited`` at once when that would take too long.
        Timeouts are biased to the first wait itself, to the nanosecond, and keys to those with
        something to wait for (a key that admits at once tests no deadline)."""
        now = self.frozen.now_ns()
        waiting = [k for k in ALL_KEYS if not self.model(k).decide(now, self.limit, False).admitted]
        keys = st.one_of(st.sampled_from(waiting), limiter_keys) if waiting else limiter_keys
        key = data.draw(keys, label="key")
        cost = data.draw(self._costs(), label="cost")
        first_wait = self.model(key).decide(self.frozen.now_ns(), cost, False).retry_after_ns
        timeout_ns = {
            "none": None,
            "zero": 0,
            "random": data.draw(st.integers(0, 2_000_000), label="timeout_us") * NS_PER_US,
            "wait": first_wait,
            "wait - 1ns": max(0, first_wait - 1),
        }[timeout]
        self._blocking(key, cost, asynchronous, timeout_ns, spell)

    def _blocking(
        self, key: object, cost: int, asynchronous: bool, timeout_ns: int | None, spell: str
    ) -> None:
        timeout: object = None
        if timeout_ns is not None:
            if timeout_ns % NS_PER_US or spell == "fraction":
                timeout = Fraction(timeout_ns, 10**9)  # exact to the nanosecond
            elif spell == "seconds":
                timeout = timeout_ns / 10**9
            else:
                timeout = timedelta(microseconds=timeout_ns // NS_PER_US)
        start = self.frozen.now_ns()
        expected = self._expect_blocking(key, cost, timeout_ns)
        run = self.driver.acquire_async if asynchronous else self.driver.acquire
        outcome = run(key, cost, timeout)
        assert (outcome.raised, outcome.admitted) == (expected[0], not expected[0]), (
            f"acquire({key!r}, {cost}, timeout={timeout!r}) -> {outcome}; model expects "
            f"{'RateLimited' if expected[0] else 'admission'} after waits {expected[1]}"
        )
        waited = self.frozen.now_ns() - start
        assert waited == sum(_ceil_us(w) * NS_PER_US for w in expected[1]), (
            f"acquire slept {waited} ns; the model's waits were {expected[1]} (rounded up to us)"
        )
        assert outcome.remaining == expected[3], (
            f"acquire returned remaining={outcome.remaining}, model {expected[3]}"
        )
        if outcome.raised:
            assert outcome.retry_after_ns == expected[2], (
                f"RateLimited.retry_after_ns {outcome.retry_after_ns}, model {expected[2]}"
            )
            self.reach("acquire timed out")
        elif expected[1]:
            self.reach(f"{'acquire_async' if asynchronous else 'acquire'} waited then admitted")

    def _expect_blocking(
        self, key: object, cost: int, timeout_ns: int | None
    ) -> tuple[bool, list[int], int, int | None]:
        """The driver's plan, walked on the model at the instants the implementation will reach
        (frozen time cannot rewind, so the model goes first, with explicit instants). Returns
        (raises ``RateLimited``, the waits slept, the last ``retry_after_ns``, the admission's
        ``remaining`` or None)."""
        now = self.frozen.now_ns()
        deadline = None if timeout_ns is None else now + timeout_ns
        waits: list[int] = []
        while True:
            verdict = self._decide(key, cost, at=now)
            self._account(key, cost, verdict, at=now)
            if verdict.admitted:
                return False, waits, 0, verdict.remaining
            wait = verdict.retry_after_ns
            if deadline is not None and now + wait > deadline:
                return True, waits, wait, None
            waits.append(wait)
            now += _ceil_us(wait) * NS_PER_US  # what FrozenClock.sleep does

    @rule(
        key=limiter_keys,
        how=st.sampled_from(["try_acquire", "check", "acquire", "acquire_async"]),
        data=st.data(),
    )
    def bad_cost(self, key: object, how: str, data: st.DataObject) -> None:
        """A cost that could never be admitted (above the limit) or is not a positive int:
        ``ValueError``, and nothing is taken or counted (the invariants see to the latter)."""
        cost = data.draw(st.one_of(
            st.integers(self.limit + 1, self.limit + 3), st.sampled_from([0, -1, True, 1.0, "1"])
        ), label="bad cost")  # fmt: skip
        call = {
            "try_acquire": lambda: self.driver.try_acquire(key, cost),
            "check": lambda: self.driver.check(key, cost),
            "acquire": lambda: self.driver.acquire(key, cost, 0),
            "acquire_async": lambda: self.driver.acquire_async(key, cost, 0),
        }[how]
        try:
            outcome = call()
        except ValueError as refused:
            message = str(refused)
        else:
            raise AssertionError(f"{how}({key!r}, cost={cost!r}) returned {outcome}")
        assert f"cost={cost!r}" in message, f"the error does not name the cost: {message}"

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        """Time passes, biased to the instants where answers change (refills, window ends,
        entries ageing out, the last retry_after)."""
        now = self.frozen.now_ns()
        instants = [t for model in self.models.values() for t in model.instants(now)]
        if self.last_rejection is not None:
            _, _, at, wait = self.last_rejection
            instants.append(at + wait)
        boundaries = sorted({(t - now) // NS_PER_US for t in instants if t >= now})[:8]
        if self.case.period_us <= 10**7:
            boundaries.append(self.case.period_us)
        self.frozen.advance_us(data.draw(time_steps_us(*boundaries), label="advance_us"))

    @precondition(lambda self: self.last_rejection is not None)
    @rule(exact=st.booleans())
    def retry_after_is_honest(self, exact: bool) -> None:
        """Wait out the last rejection's ``retry_after`` (or stop one nanosecond short, rounded
        down to frozen time's microsecond) and ask again."""
        assert self.last_rejection is not None
        key, cost, at, wait = self.last_rejection
        if exact:
            self._advance_to(at + wait, up=True)
            verdict = self._decide(key, cost)
            outcome = self.driver.try_acquire(key, cost)
            assert outcome.admitted, (
                f"retry_after was not honest: key {key!r} cost {cost} rejected at {at} with "
                f"retry_after_ns={wait}, and rejected again {self.frozen.now_ns() - at} ns later "
                f"({outcome})"
            )
            self._record(key, cost, verdict, outcome)
            self.reach("retry_after then admitted")
        elif at + wait - 1 >= self.frozen.now_ns():
            self._advance_to(at + wait - 1, up=False)
            outcome = self.driver.check(key, cost)
            assert not outcome.admitted, (
                f"retry_after overstated: key {key!r} cost {cost} rejected at {at} with "
                f"retry_after_ns={wait}, but admitted {self.frozen.now_ns() - at} ns later"
            )
            self.reach("one ns before retry_after: still rejected")

    @rule()
    def sweep(self) -> None:
        """Drop every fresh key at once (unobservable, like the eviction after each decision)."""
        before = self.driver.metrics("keyed")["evicted"]
        swept = self.driver.sweep()
        assert self.driver.metrics("keyed")["evicted"] == before + swept
        self.swept += swept
        self.evicted += swept  # the invariant after this step labels only automatic evictions
        if swept:
            self.reach("key evicted by sweep()")
        # Every key still throttled is held; every key as good as fresh is gone.
        now = self.frozen.now_ns()
        throttled = [key for key in self.keyed_used
                     if not self.model(key).decide(now, self.limit, False).admitted]  # fmt: skip
        assert self.driver.keys() == len(throttled), (
            f"after sweep() {self.driver.keys()} keys held; throttled per the model: {throttled}"
        )

    # ---------------------------------------------------------------- invariants

    @invariant()
    def every_key_agrees(self) -> None:
        """``check`` for every key (used or not), at cost 1 and at the limit, equals the model."""
        now = self.frozen.now_ns()
        for key in ALL_KEYS:
            for cost in {1, self.limit}:
                peek = self.model(key).decide(now, cost, False)
                looked = self.driver.check(key, cost)
                assert (looked.admitted, looked.remaining, looked.retry_after_ns) == peek, (
                    f"check({key!r}, {cost}) = {looked}, model {peek}"
                )

    @invariant()
    def status_agrees(self) -> None:
        """``status()`` and ``status_of(key)`` report the configuration given and each key's
        state as the model has it (free units, tokens, window use, estimate...)."""
        now = self.frozen.now_ns()
        spec = self.case.spec
        config = configuration(spec)
        for key in ALL_KEYS:
            status = self.driver.status(key)
            expected = description(self.model(key), now)
            if key == PLAIN:
                expected |= config | {"algorithm": spec.algorithm}
            else:
                expected["key"] = key
            shown = {name: status.get(name, "(missing)") for name in expected}
            assert shown == expected, f"status of {key!r}: {shown}; the model says {expected}"
        keyed = self.driver.keyed_status()
        shown = {name: keyed.get(name, "(missing)") for name in config}
        assert shown == config, f"keyed status(): {shown}; configured {config}"
        assert keyed.get("algorithm") == spec.algorithm

    @invariant()
    def metrics_agree(self) -> None:
        for which in ("plain", "keyed"):
            metrics = self.driver.metrics(which)
            counters = {name: metrics[name] for name in self.expected_metrics[which]}
            assert counters == self.expected_metrics[which], f"{which} metrics: {metrics}"
        keyed = self.driver.metrics("keyed")
        if keyed["evicted"] > self.evicted:
            self.reach("key evicted after a decision")  # sweep() counts its own in self.swept
            self.evicted = keyed["evicted"]
        if not self.case.evict_idle:
            assert self.evicted == self.swept, "evict_idle=False, yet a key went without sweep()"

    @invariant()
    def events_agree(self) -> None:
        if not self.case.listen:
            return
        assert self.driver.events["plain"] == self.expected_events["plain"]
        keyed = self.driver.events["keyed"]
        decisions = [e for e in keyed if not isinstance(e, resilience.KeyEvicted)]
        assert decisions == self.expected_events["keyed"]
        evicted = [e for e in keyed if isinstance(e, resilience.KeyEvicted)]
        assert len(evicted) == self.driver.metrics("keyed")["evicted"]


def rate_limit_machine(
    target: LimiterTarget, coverage: CoverageTracker | None = None
) -> type[RateLimitMachine]:
    """The machine checking ``target`` (recording coverage into ``coverage`` if given)."""
    return type(
        f"RateLimitMachine[{target.name}]",
        (RateLimitMachine,),
        {"target": target, "coverage": coverage, "__module__": __name__},
    )
