"""ChainMachine: drives a real ``Pipeline`` (a token bucket, a bulkhead, a retry policy on
tenacity, a breaker on circuitbreaker, a pool) and ``ChainModel`` side by side under frozen time.

Each ``call`` runs one logical call whose operation follows a generated script (succeed, fail
retryably, fail fatally, raise ``RateLimited``, each taking a while with its lease held); other
rules let time pass, hold a pool resource or a bulkhead permit from outside the pipeline (so the
pool and the bulkhead fill up), and reset the breaker. After every call, the laws:

* while the breaker rejects, nothing reaches the operation or the pool, and no retry follows;
* every lease and every permit the call took is back (whatever the outcome);
* with the retry directly around the breaker (the default), the breaker records exactly one
  outcome per attempt;
* in the default order the limiter is charged exactly once per logical call;
* the result (or the error's kind), the resource the operation got, and the time that passed
  equal the model's; and after every step each layer's metrics equal the model's counters.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from properties.harness.coverage import CoverageTracker
from properties.harness.frozen import NS_PER_US, FrozenTime
from properties.harness.trace import TracedMachine
from properties.models.chain import ChainModel, ChainSpec, OpStep
from properties.models.pool import Refused
from properties.strategies import chain_specs, op_scripts
from properties.targets.chain import BudgetClock, Built, ChainTarget, Resource, error_for, kind_of
from resilience import (
    DEFAULT_ORDER,
    CallFailed,
    CallIgnored,
    CallRejected,
    CallSucceeded,
    PoolTimeout,
    ResourceCheckedOut,
    RetryAttempted,
    RetryScheduled,
)

__all__ = ["CHAIN_COVERAGE", "ChainMachine", "chain_machine"]

CHAIN_COVERAGE = frozenset(
    {
        "retried, then succeeded",
        "gave up: max_attempts",
        "gave up: deadline",
        "fatal error, not retried",
        "operation's RateLimited waited out",
        "breaker opened during a call",
        "rejected by the open breaker: no retry",
        "half-open probe closed the breaker",
        "refused by the limiter",
        "bulkhead full",
        "pool exhausted",
        "fallback answered",
        "explicit order",
        "async call",
    }
)

_OUTCOMES = (CallSucceeded, CallFailed, CallIgnored, CallRejected)
OP = "operation called"  # the marker the operation leaves in the trace


class ChainMachine(TracedMachine):
    """Set ``target`` (and optionally ``coverage``) on a subclass: see ``chain_machine``."""

    machine_id: ClassVar[str] = "chain"

    target: ClassVar[ChainTarget]
    coverage: ClassVar[CoverageTracker | None] = None

    spec: ChainSpec
    model: ChainModel
    built: Built

    def __init__(self) -> None:
        super().__init__()
        self.trace: list[Any] = []  # every event of the pipeline, and OP markers, in order
        self.script: list[OpStep] = []
        self.invocations = 0  # of the operation, in the current call
        self.resources: list[Resource] = []  # held from outside the pipeline
        self.permits: list[Any] = []
        self.reached: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.frozen = FrozenTime().start()  # last: nothing after it can fail and leak it

    def teardown(self) -> None:
        try:
            if self.loop is not None:
                self.loop.close()
        finally:
            self.frozen.stop()

    def reach(self, label: str) -> None:
        if label not in self.reached and self.coverage and label in self.coverage.targets:
            self.reached.add(label)
            self.coverage.reach(label)

    @property
    def now(self) -> int:
        return self.frozen.now_ns()

    def component(self, name: str) -> Any:
        return self.built.components[name]

    # ---------------------------------------------------------------- set-up

    @initialize(spec=chain_specs())
    def build(self, spec: ChainSpec) -> None:
        self.spec = spec
        self.clock = BudgetClock(self.frozen)
        self.built = self.target.build(spec, self.clock)
        self.model = ChainModel(spec, self.now)
        self.built.pipeline.subscribe(self.trace.append)
        if spec.asynchronous:
            self.loop = asyncio.new_event_loop()
        if spec.explicit_order and spec.order != tuple(n for n in DEFAULT_ORDER if n in spec.order):
            self.reach("explicit order")

    # ---------------------------------------------------------------- the operation

    def operation(self, *args: Any) -> Any:
        number = self.invocations
        self.invocations += 1
        self.trace.append(OP)
        step = self.script[number] if number < len(self.script) else OpStep()
        self.frozen.advance_us(step.duration_us)
        if step.kind != "ok":
            raise error_for(step, number)
        if self.spec.pool is None:
            assert not args, args
            return None
        (resource,) = args
        assert isinstance(resource, Resource), resource
        return resource.number

    async def async_operation(self, *args: Any) -> Any:
        await asyncio.sleep(0)
        return self.operation(*args)

    # ---------------------------------------------------------------- rules

    @rule(script=op_scripts)
    def call(self, script: list[OpStep]) -> None:
        self._call(script)

    @rule()
    def healthy_call(self) -> None:
        """The dependency answers at once (after an outage, this is what closes the circuit)."""
        self._call([])

    def _call(self, script: list[OpStep]) -> None:
        self.script, self.invocations, self.clock.reads = script, 0, 0
        start, first = self.now, len(self.trace)
        admitted_before = self._charges()
        pipeline = self.built.pipeline
        try:
            if self.loop is not None:
                self.reach("async call")
                got: tuple[str, Any] = (
                    "ok",
                    self.loop.run_until_complete(pipeline.aexecute(self.async_operation)),
                )
            else:
                got = ("ok", pipeline.execute(self.operation))
        except AssertionError:
            raise  # a check inside the call failed (the operation's, the clock's budget)
        except Exception as error:
            got = ("raised", kind_of(error))
        if isinstance(got[1], tuple) and got[1][:1] == ("fallback",):
            got = got[1]
        # The laws first (they hold whatever the model says), then the model.
        self._check_laws(self.trace[first:], self._charges() - admitted_before)
        state_before = self.model.breaker.state if self.model.breaker else None
        expected = self.model.call(start, script)
        assert got == expected, f"pipeline: {got}; model: {expected}"
        assert self.invocations == self.model.op_calls, (
            f"the operation ran {self.invocations} times; model {self.model.op_calls}"
        )
        self.model.op_calls = 0
        passed, modelled = self.now - start, self.model.now - start
        assert passed == modelled, f"{passed // NS_PER_US} us passed; model {modelled // NS_PER_US}"
        self._cover(expected, state_before)

    @rule(us=st.one_of(st.integers(0, 2_000), st.integers(0, 40_000)))
    def advance(self, us: int) -> None:
        self.frozen.advance_us(us)

    @precondition(lambda self: self.model.breaker is not None and self.model.breaker.due())
    @rule()
    def until_the_breaker_recovers(self) -> None:
        """Jump to exactly ``opened_at + recovery_timeout``: the next call is a probe."""
        assert self.model.breaker is not None
        due = self.model.breaker.due()
        assert due is not None
        if due > self.now:
            self.frozen.advance_ns(due - self.now)

    @precondition(lambda self: self.model.breaker is not None)
    @rule()
    def reset_breaker(self) -> None:
        assert self.model.breaker is not None
        self.component("breaker").reset()
        self.model.breaker.reset(self.now)

    @precondition(lambda self: self.model.pool is not None)
    @rule()
    def hold_resource(self) -> None:
        """Another user of the pool checks a resource out (the pipeline may then find none)."""
        assert self.model.pool is not None
        try:
            rid = self.model.pool.checkout(self.now)
        except Refused as refused:
            kind = refused.kind
            assert kind == "timeout", kind
            try:
                self.component("pool").checkout()
            except PoolTimeout:
                return
            raise AssertionError("the pool lent a resource; model: exhausted") from None
        resource = self.component("pool").checkout()
        assert resource.number == rid, f"lent {resource}; model: #{rid}"
        self.resources.append(resource)

    @precondition(lambda self: self.resources)
    @rule(data=st.data())
    def return_resource(self, data: st.DataObject) -> None:
        assert self.model.pool is not None
        resource = self.resources.pop(data.draw(st.integers(0, len(self.resources) - 1)))
        self.component("pool").checkin(resource)
        self.model.pool.checkin(self.now, resource.number)

    @precondition(lambda self: self.model.bulkhead is not None and self.model.bulkhead.free > 0)
    @rule()
    def hold_permit(self) -> None:
        """Another caller takes a bulkhead permit (the pipeline may then be refused)."""
        assert self.model.bulkhead is not None
        permit = self.component("bulkhead").permit()
        permit.__enter__()
        self.permits.append((permit, self.model.bulkhead.enter(self.now)))

    @precondition(lambda self: self.permits)
    @rule()
    def release_permit(self) -> None:
        assert self.model.bulkhead is not None
        permit, number = self.permits.pop(0)
        permit.__exit__(None, None, None)
        self.model.bulkhead.leave(self.now, number)

    # ---------------------------------------------------------------- laws

    def _charges(self) -> int:
        if self.spec.limit is None:
            return 0
        metrics = self.component("rate_limiter").metrics()
        return int(metrics["admitted"] + metrics["rejected"])

    def _check_laws(self, trace: list[Any], charges: int) -> None:
        rejected = [i for i, item in enumerate(trace) if isinstance(item, CallRejected)]
        if rejected:
            after = trace[rejected[0] + 1 :]
            reached = [
                item
                for item in after
                if item == OP or isinstance(item, ResourceCheckedOut | RetryScheduled)
            ]
            assert not reached, f"after the breaker rejected, the call went on: {reached}"
        if self.spec.pool is not None:
            in_use = self.component("pool").status()["in_use"]
            assert in_use == len(self.resources), (
                f"{in_use} resources in use after the call; only {len(self.resources)} are held "
                "from outside: the call kept a lease"
            )
        if self.spec.bulkhead is not None:
            in_flight = self.component("bulkhead").status()["in_flight"]
            assert in_flight == len(self.permits), (
                f"{in_flight} permits in use after the call; {len(self.permits)} held outside"
            )
        order = self.spec.order
        adjacent = "retry" in order and "breaker" in order
        if adjacent and order.index("breaker") == order.index("retry") + 1:
            outcomes = sum(isinstance(item, _OUTCOMES) for item in trace)
            attempts = sum(isinstance(item, RetryAttempted) for item in trace)
            assert outcomes == attempts, (
                f"the breaker recorded {outcomes} outcomes for {attempts} attempts"
            )
        if order[:1] == ("rate_limit",):
            assert charges == 1, f"the limiter was charged {charges} times for one call"

    @invariant()
    def metrics_agree(self) -> None:
        if not hasattr(self, "built"):
            return
        metrics = self.built.pipeline.metrics()
        expected = self.model.metrics()
        for name, counters in expected.items():
            assert metrics.get(name) == counters, (
                f"{name} metrics {metrics.get(name)}; model {counters}"
            )
        assert set(metrics) == set(expected), f"layers {set(metrics)}; model {set(expected)}"

    # ---------------------------------------------------------------- coverage

    def _cover(self, expected: tuple[str, Any], state_before: str | None) -> None:
        out = self.model.last_retry
        if out is not None:
            if out.result_at is not None and out.result_at > 1:
                self.reach("retried, then succeeded")
            if out.reason == "max_attempts":
                self.reach("gave up: max_attempts")
            if out.reason == "deadline":
                self.reach("gave up: deadline")
            if any(event[0] == "scheduled" and event[-1] == "limited" for event in out.events):
                self.reach("operation's RateLimited waited out")
        kind = expected[1] if expected[0] != "ok" else None
        labels = {"fatal": "fatal error, not retried", "full": "bulkhead full",
                  "timeout": "pool exhausted"}  # fmt: skip
        if kind in labels:
            self.reach(labels[kind])
        if expected[0] == "fallback":
            self.reach("fallback answered")
        breaker = self.model.breaker
        if breaker is not None:
            if state_before == "closed" and breaker.state == "open":
                self.reach("breaker opened during a call")
            if kind == "open" and breaker.state == "open":
                self.reach("rejected by the open breaker: no retry")
            if state_before != "closed" and breaker.state == "closed":
                self.reach("half-open probe closed the breaker")
        if self.model.counts["rate_limit"]["rejected"]:
            self.reach("refused by the limiter")


def chain_machine(
    target: ChainTarget, coverage: CoverageTracker | None = None
) -> type[ChainMachine]:
    """The machine class for ``target`` (a fresh subclass per target)."""
    return type(
        f"ChainMachine_{target.name}",
        (ChainMachine,),
        {"target": target, "coverage": coverage},
    )
