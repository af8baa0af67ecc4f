"""A failing dependency through the default-order Pipeline, on the real libraries underneath
(our CircuitBreaker on ``circuitbreaker``, our RetryPolicy on ``tenacity``), with time frozen by
freezegun and advanced only by the retry's back-off sleeps (``FrozenClock``) and by the test.

The full breaker cycle, CLOSED -> OPEN -> HALF_OPEN -> CLOSED, with exact operation-call counts,
exact ``StateChanged`` events and the exact ``pipeline.metrics()`` of every layer at each stage,
through ``execute`` and through ``aexecute``; the fallback (what it receives, what is counted,
what propagates when it raises); and every lease and permit returned whatever the outcome."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest
import tenacity

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    Event,
    FallbackUsed,
    Pipeline,
    ResourcePool,
    RetryGaveUp,
    RetryPolicy,
    RetryScheduled,
    StateChanged,
    TokenBucket,
)

SEED = 20_261_121
BASE_US = 100_000  # retry base_delay 0.1 s: full jitter in [0, 0.1 s], then [0, 0.2 s]
THRESHOLD = 5  # breaker failure_threshold: not a multiple of the 3 attempts, so it trips mid-call
RECOVERY_S = 30
NS_PER_US = 1_000


class Down(Exception):
    """The dependency is down (retryable, counted by the breaker)."""


class Fatal(Exception):
    """An error the retry policy does not retry (the breaker still counts it)."""


class Interrupt(BaseException):
    """Neither success nor failure: an interruption (as KeyboardInterrupt would be)."""


# ---------------------------------------------------------------- expected metrics


def pipeline_counts(**given: int) -> dict[str, int]:
    counts = dict.fromkeys(
        (
            "failed",
            "interrupted",
            "fell_back",
            "fallback_failed",
            "rate_limited",
            "bulkhead_full",
            "circuit_open",
            "pool_timeout",
            "succeeded",
        ),
        0,
    )
    counts.update(given)
    counts["calls"] = counts["succeeded"] + counts["failed"] + counts["interrupted"]
    return counts


def retry_counts(**given: int) -> dict[str, int]:
    keys = ("calls", "attempts", "successes", "failures", "retries", "gave_up", "not_retried")
    return {**dict.fromkeys(keys, 0), "slept_ns": 0, **given}


def breaker_counts(**given: int) -> dict[str, int]:
    keys = (
        "calls_succeeded",
        "calls_failed",
        "calls_ignored",
        "calls_rejected",
        "late_outcomes",
        "state_changes",
    )
    return {**dict.fromkeys(keys, 0), **given}


def pool_counts(**given: int) -> dict[str, int]:
    keys = (
        "created",
        "destroyed",
        "checked_out",
        "checked_in",
        "timeouts",
        "invalidated",
        "leaked",
        "expired",
        "failed_validations",
        "failed_resets",
        "failed_creates",
        "failed_destroys",
    )
    return {**dict.fromkeys(keys, 0), **given}


def limiter_counts(calls: int) -> dict[str, int]:
    return {"admitted": calls, "admitted_cost": calls, "rejected": 0, "rejected_cost": 0}


def bulkhead_counts(calls: int) -> dict[str, int]:
    return {"admitted": calls, "rejected": 0, "finished": calls, "abandoned": 0}


def jitter_us(seed: int, bounds: list[int]) -> list[int]:
    """The full-jitter delays a policy with ``random.Random(seed)`` draws, one per bound: the
    spec's uniform whole microseconds in ``[0, bound]`` from the same generator."""
    rng = random.Random(seed)
    return [rng.randint(0, bound) for bound in bounds]


def not_fatal(state: tenacity.RetryCallState) -> bool:
    return not isinstance(state.outcome.exception(), Fatal)  # type: ignore[union-attr]


class Chain:
    """The five components in the default order, on one frozen clock, and what they report."""

    def __init__(self, frozen: FrozenTime, *, fallback: Callable[..., Any] | None = None) -> None:
        self.frozen = frozen
        clock = FrozenClock(frozen)
        self.limiter = TokenBucket(1_000, 1_000, name="limiter", clock=clock)
        self.bulkhead = Bulkhead(2, name="bulkhead", clock=clock)
        self.retry = RetryPolicy(
            max_attempts=3,
            base_delay=BASE_US / 1_000_000,
            max_delay=1.0,
            retry_if=not_fatal,  # retry_on is every Exception: only the policy's own rule
            # keeps it from retrying a CircuitOpenError
            random=random.Random(SEED),
            clock=clock,
            name="retry",
        )
        self.breaker = CircuitBreaker(
            failure_threshold=THRESHOLD, recovery_timeout=RECOVERY_S, name="dependency", clock=clock
        )
        self.made: list[object] = []
        # timeout=0: nothing here ever waits for a lease, so a lost one fails at once instead of
        # hanging on frozen time.
        self.pool: ResourcePool[object] = ResourcePool(self._make, size=2, timeout=0, clock=clock)
        self.pipeline = Pipeline(
            rate_limiter=self.limiter,
            bulkhead=self.bulkhead,
            retry=self.retry,
            breaker=self.breaker,
            pool=self.pool,
            fallback=fallback,
            name="chain",
            clock=clock,
        )
        self.events: list[Event] = []
        self.pipeline.subscribe(self.events.append)
        self.start_ns = frozen.now_ns()

    def _make(self) -> object:
        self.made.append(object())
        return self.made[-1]

    def elapsed_us(self) -> int:
        return (self.frozen.now_ns() - self.start_ns) // NS_PER_US

    def transitions(self) -> list[tuple[str, str, str, int]]:
        """Every breaker StateChanged as (old, new, reason, microseconds since the start)."""
        return [
            (e.old, e.new, e.reason, (e.at_ns - self.start_ns) // NS_PER_US)
            for e in self.events
            if isinstance(e, StateChanged)
        ]

    def of_type(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def assert_returned(self) -> None:
        """Every lease and every permit is back: nothing in use, nothing waiting."""
        pool = self.pool.status()
        assert pool["checked_out"] == pool["checked_in"], pool
        assert pool["in_use"] == 0, pool
        assert pool["idle"] == pool["created"] - pool["destroyed"], pool
        assert pool["waiting"] == 0, pool
        bulkhead = self.bulkhead.status()
        assert bulkhead["in_flight"] == 0, bulkhead
        assert bulkhead["admitted"] == bulkhead["finished"], bulkhead


# ---------------------------------------------------------------- the full cycle


class Dependency:
    """The operation's other end: fails with ``Down`` while ``down``; counts every call and
    remembers the resource each call was given and the last error it raised."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0
        self.resources: list[object] = []
        self.last_error: BaseException | None = None

    def __call__(self, resource: object) -> str:
        self.calls += 1
        self.resources.append(resource)
        if self.down:
            self.last_error = Down(f"call {self.calls}")
            raise self.last_error
        return f"ok {self.calls}"

    async def call_async(self, resource: object) -> str:
        await asyncio.sleep(0)  # a real suspension inside the chain
        return self(resource)


def check_cycle(chain: Chain, dependency: Dependency, stage: str, outcome: object) -> None:
    """Assert everything observable after ``stage`` of the cycle (see the test's docstring)."""
    d = jitter_us(SEED, [BASE_US, 2 * BASE_US, BASE_US, 2 * BASE_US, BASE_US, 2 * BASE_US])
    tripped_us = d[0] + d[1] + d[2]  # the 5th failure: call 2's second attempt
    rejected_us = tripped_us + d[3]  # call 2's third attempt, after one more back-off
    due_us = tripped_us + RECOVERY_S * 1_000_000
    opened = ("closed", "open", "failure_threshold", tripped_us)
    recovered = [("open", "half_open", "recovery_timeout", due_us)]
    closed = [("half_open", "closed", "success_threshold", due_us)]
    metrics = chain.pipeline.metrics()
    resource = chain.made[0]
    assert len(chain.made) == 1  # one resource serves every attempt (LIFO, one at a time)
    assert set(map(id, dependency.resources)) == {id(resource)}

    if stage == "1: three attempts fail":
        assert isinstance(outcome, Down)
        assert outcome is dependency.last_error
        assert dependency.calls == 3
        assert chain.elapsed_us() == d[0] + d[1]
        assert chain.breaker.state == "closed"
        assert chain.breaker.failure_count == 3
        assert chain.transitions() == []
        assert [(e.attempt, e.delay_ns) for e in chain.of_type(RetryScheduled)] == [
            (1, d[0] * NS_PER_US),
            (2, d[1] * NS_PER_US),
        ]
        assert [(e.attempts, e.reason) for e in chain.of_type(RetryGaveUp)] == [(3, "max_attempts")]
        assert metrics == {
            "pipeline": pipeline_counts(failed=1),
            "rate_limit": limiter_counts(1),
            "bulkhead": bulkhead_counts(1),
            "retry": retry_counts(
                calls=1,
                attempts=3,
                failures=1,
                retries=2,
                gave_up=1,
                slept_ns=(d[0] + d[1]) * NS_PER_US,
            ),
            "breaker": breaker_counts(calls_failed=3),
            "pool": pool_counts(created=1, checked_out=3, checked_in=3),
        }
    elif stage == "2: the breaker trips mid-call":
        # Attempts 4 and 5 fail; the 5th trips the breaker; the policy still backs off once
        # (it retries Down), then its third attempt meets the open circuit, which it never
        # retries: the call ends with CircuitOpenError, and the operation ran twice.
        assert isinstance(outcome, CircuitOpenError)
        assert outcome.state == "open"
        assert outcome.retry_after == pytest.approx(RECOVERY_S - d[3] / 1e6, abs=1e-9)
        assert dependency.calls == 5
        assert chain.elapsed_us() == rejected_us
        assert chain.breaker.state == "open"
        assert chain.transitions() == [opened]
        assert [e.attempt for e in chain.of_type(RetryScheduled)] == [1, 2, 1, 2]
        assert len(chain.of_type(RetryGaveUp)) == 1  # not for call 2: it was not retryable
        assert metrics == {
            "pipeline": pipeline_counts(failed=2, circuit_open=1),
            "rate_limit": limiter_counts(2),
            "bulkhead": bulkhead_counts(2),
            "retry": retry_counts(
                calls=2,
                attempts=6,
                failures=2,
                retries=4,
                gave_up=1,
                not_retried=1,
                slept_ns=rejected_us * NS_PER_US,
            ),
            "breaker": breaker_counts(calls_failed=5, calls_rejected=1, state_changes=1),
            "pool": pool_counts(created=1, checked_out=5, checked_in=5),
        }
    elif stage == "3: open, retries stop at once":
        # Exactly one attempt, rejected by the breaker: no operation call, no lease, no retry,
        # no back-off (time did not move).
        assert isinstance(outcome, CircuitOpenError)
        assert dependency.calls == 5
        assert chain.elapsed_us() == rejected_us
        assert chain.transitions() == [opened]
        assert len(chain.of_type(RetryScheduled)) == 4
        assert metrics == {
            "pipeline": pipeline_counts(failed=3, circuit_open=2),
            "rate_limit": limiter_counts(3),
            "bulkhead": bulkhead_counts(3),
            "retry": retry_counts(
                calls=3,
                attempts=7,
                failures=3,
                retries=4,
                gave_up=1,
                not_retried=2,
                slept_ns=rejected_us * NS_PER_US,
            ),
            "breaker": breaker_counts(calls_failed=5, calls_rejected=2, state_changes=1),
            "pool": pool_counts(created=1, checked_out=5, checked_in=5),
        }
    elif stage == "4: one microsecond before recovery":
        assert isinstance(outcome, CircuitOpenError)
        assert outcome.retry_after == pytest.approx(1e-6, abs=1e-12)
        assert dependency.calls == 5
        assert chain.elapsed_us() == due_us - 1
        assert chain.transitions() == [opened]
        assert metrics["breaker"] == breaker_counts(
            calls_failed=5, calls_rejected=3, state_changes=1
        )
        assert metrics["pipeline"] == pipeline_counts(failed=4, circuit_open=3)
        assert metrics["pool"] == pool_counts(created=1, checked_out=5, checked_in=5)
    elif stage == "5: the probe closes it":
        assert outcome == "ok 6"
        assert dependency.calls == 6
        assert chain.elapsed_us() == due_us  # the probe needed no back-off
        assert chain.breaker.state == "closed"
        assert chain.breaker.failure_count == 0
        assert chain.transitions() == [opened, *recovered, *closed]
        assert metrics == {
            "pipeline": pipeline_counts(failed=4, circuit_open=3, succeeded=1),
            "rate_limit": limiter_counts(5),
            "bulkhead": bulkhead_counts(5),
            "retry": retry_counts(
                calls=5,
                attempts=9,
                successes=1,
                failures=4,
                retries=4,
                gave_up=1,
                not_retried=3,
                slept_ns=rejected_us * NS_PER_US,
            ),
            "breaker": breaker_counts(
                calls_succeeded=1, calls_failed=5, calls_rejected=3, state_changes=3
            ),
            "pool": pool_counts(created=1, checked_out=6, checked_in=6),
        }
    elif stage == "6: closed for real":
        # The count started again from zero: three more failures leave it closed.
        assert isinstance(outcome, Down)
        assert dependency.calls == 9
        assert chain.elapsed_us() == due_us + d[4] + d[5]
        assert chain.breaker.state == "closed"
        assert chain.breaker.failure_count == 3
        assert chain.transitions() == [opened, *recovered, *closed]
        assert metrics["breaker"] == breaker_counts(
            calls_succeeded=1, calls_failed=8, calls_rejected=3, state_changes=3
        )
        assert metrics["retry"]["retries"] == 6
        assert metrics["pipeline"] == pipeline_counts(failed=5, circuit_open=3, succeeded=1)
        assert metrics["pool"] == pool_counts(created=1, checked_out=9, checked_in=9)
    else:  # pragma: no cover - a typo in a stage name
        raise AssertionError(stage)
    chain.assert_returned()


STAGES = (
    "1: three attempts fail",
    "2: the breaker trips mid-call",
    "3: open, retries stop at once",
    "4: one microsecond before recovery",
    "5: the probe closes it",
    "6: closed for real",
)


def advance_for(chain: Chain, dependency: Dependency, stage: str) -> None:
    """What the test does to the world before the call of ``stage``."""
    d = jitter_us(SEED, [BASE_US, 2 * BASE_US, BASE_US, 2 * BASE_US])
    due_us = d[0] + d[1] + d[2] + RECOVERY_S * 1_000_000
    if stage.startswith("4:"):
        chain.frozen.advance_us(due_us - 1 - chain.elapsed_us())
        assert chain.breaker.state == "open"
    elif stage.startswith("5:"):
        chain.frozen.advance_us(1)
        assert chain.breaker.state == "half_open"  # by time alone, before any call
        dependency.down = False
    elif stage.startswith("6:"):
        dependency.down = True


def test_full_breaker_cycle_through_execute() -> None:
    """Breaker threshold 5, 3 attempts per call, a dependency that is down: call 1 makes 3
    operation calls (2 jittered back-offs, exact); call 2 makes 2, trips the breaker on the 5th
    failure, backs off once more and ends with CircuitOpenError from its 3rd attempt; call 3
    makes 0 operation calls (one rejection, no retry, time does not move); 1 us before
    opened_at + 30 s it is still rejected; at exactly that instant a probe succeeds and closes
    the breaker (StateChanged closed->open failure_threshold, open->half_open recovery_timeout,
    half_open->closed success_threshold, at exact instants); then the failure count starts
    again from zero. The exact metrics of all five layers are checked at every stage."""
    with FrozenTime() as frozen:
        chain = Chain(frozen)
        dependency = Dependency()
        for stage in STAGES:
            advance_for(chain, dependency, stage)
            outcome: object
            try:
                outcome = chain.pipeline.execute(dependency)
            except Exception as error:
                outcome = error
            check_cycle(chain, dependency, stage, outcome)


def test_full_breaker_cycle_through_aexecute() -> None:
    """The same cycle, stage for stage and count for count, through ``aexecute`` with an async
    operation that suspends on every call, in asyncio under frozen time (the retry's back-off
    goes through FrozenClock.asleep, which advances frozen time)."""
    with FrozenTime() as frozen:
        chain = Chain(frozen)
        dependency = Dependency()

        async def main() -> None:
            for stage in STAGES:
                advance_for(chain, dependency, stage)
                outcome: object
                try:
                    outcome = await chain.pipeline.aexecute(dependency.call_async)
                except Exception as error:
                    outcome = error
                check_cycle(chain, dependency, stage, outcome)

        asyncio.run(main())


# ---------------------------------------------------------------- the fallback


@pytest.mark.parametrize("driver", ["execute", "aexecute"])
def test_fallback_answers_with_the_final_error_and_every_layer_counts_it(driver: str) -> None:
    """A fallback receives the exception the last attempt raised (that very object) and its
    answer is the call's result; the retry policy still counts the call as failed (3 attempts,
    gave up), the breaker its 3 failures, the pipeline one failed call answered by the
    fallback, and a FallbackUsed(error, failed=False) event is published. Once the breaker is
    open, the fallback receives the CircuitOpenError, counted as circuit_open. A call that
    succeeds never reaches the fallback."""
    with FrozenTime() as frozen:
        received: list[BaseException] = []

        def fallback(error: Exception) -> str:
            received.append(error)
            return f"cached ({type(error).__name__})"

        async def async_fallback(error: Exception) -> str:
            await asyncio.sleep(0)
            return fallback(error)

        chain = Chain(frozen, fallback=fallback if driver == "execute" else async_fallback)
        dependency = Dependency()

        def run() -> object:
            if driver == "execute":
                return chain.pipeline.execute(dependency)
            return asyncio.run(chain.pipeline.aexecute(dependency.call_async))

        assert run() == "cached (Down)"
        assert dependency.calls == 3
        assert received == [dependency.last_error]
        metrics = chain.pipeline.metrics()
        assert metrics["pipeline"] == pipeline_counts(failed=1, fell_back=1)
        assert metrics["retry"]["failures"] == 1
        assert metrics["retry"]["gave_up"] == 1
        assert metrics["retry"]["attempts"] == 3
        assert metrics["breaker"] == breaker_counts(calls_failed=3)
        (used,) = chain.of_type(FallbackUsed)
        assert used.error is dependency.last_error
        assert used.failed is False

        assert run() == "cached (CircuitOpenError)"  # attempts 4 and 5 trip it; the 3rd is rejected
        assert run() == "cached (CircuitOpenError)"  # rejected at once
        assert dependency.calls == 5
        assert [type(e) for e in received] == [Down, CircuitOpenError, CircuitOpenError]
        metrics = chain.pipeline.metrics()
        assert metrics["pipeline"] == pipeline_counts(failed=3, circuit_open=2, fell_back=3)
        assert metrics["breaker"] == breaker_counts(
            calls_failed=5, calls_rejected=2, state_changes=1
        )

        chain.breaker.reset()
        dependency.down = False
        assert run() == "ok 6"
        assert len(received) == 3
        assert chain.pipeline.metrics()["pipeline"] == pipeline_counts(
            failed=3, circuit_open=2, fell_back=3, succeeded=1
        )
        chain.assert_returned()


@pytest.mark.parametrize("driver", ["execute", "aexecute", "aexecute, async fallback"])
def test_a_fallback_that_raises_propagates_its_own_error(driver: str) -> None:
    """A fallback that raises: its exception is what the caller gets, with the call's final
    error as its ``__context__``; the pipeline counts the call as failed and fallback_failed
    (not fell_back), the layers count the failure as usual, a FallbackUsed(failed=True) is
    published, and every lease and permit is back."""
    with FrozenTime() as frozen:

        class FallbackBroke(Exception):
            pass

        def fallback(error: Exception) -> str:
            raise FallbackBroke(f"no cache for {error}")

        async def async_fallback(error: Exception) -> str:
            await asyncio.sleep(0)
            return fallback(error)

        chosen = async_fallback if driver.endswith("async fallback") else fallback
        chain = Chain(frozen, fallback=chosen)
        dependency = Dependency()

        def run() -> object:
            if driver == "execute":
                return chain.pipeline.execute(dependency)
            return asyncio.run(chain.pipeline.aexecute(dependency.call_async))

        with pytest.raises(FallbackBroke) as info:
            run()
        assert info.value.__context__ is dependency.last_error
        assert dependency.calls == 3
        metrics = chain.pipeline.metrics()
        assert metrics["pipeline"] == pipeline_counts(failed=1, fallback_failed=1)
        assert metrics["retry"]["failures"] == 1
        assert metrics["breaker"] == breaker_counts(calls_failed=3)
        (used,) = chain.of_type(FallbackUsed)
        assert used.error is dependency.last_error
        assert used.failed is True
        chain.assert_returned()


# ---------------------------------------------------------------- every lease comes back


def operation_for(outcome: str) -> Callable[[object], str]:
    """An operation ending the way ``outcome`` says (from its first attempt on)."""
    attempts = [0]

    def operation(_resource: object) -> str:
        attempts[0] += 1
        if outcome == "retryable failure, then success" and attempts[0] < 3:
            raise Down
        if outcome == "retryable failure":
            raise Down
        if outcome == "fatal failure":
            raise Fatal
        if outcome == "interrupted":
            raise Interrupt
        return "ok"

    return operation


OUTCOMES = {
    # outcome: (what the caller gets, operation calls, pipeline counters)
    "success": ("ok", 1, {"succeeded": 1}),
    "retryable failure, then success": ("ok", 3, {"succeeded": 1}),
    "retryable failure": (Down, 3, {"failed": 1}),
    "fatal failure": (Fatal, 1, {"failed": 1}),
    "interrupted": (Interrupt, 1, {"interrupted": 1}),
    "open circuit": (CircuitOpenError, 0, {"failed": 1, "circuit_open": 1}),
}


@pytest.mark.parametrize("driver", ["execute", "aexecute"])
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_lease_is_returned_whatever_the_outcome(outcome: str, driver: str) -> None:
    """Success, a retryable failure that recovers, one that does not, a failure the policy does
    not retry, an interruption (a BaseException), and an open circuit: pool checked_out ==
    checked_in == the operation calls (an open circuit leases nothing), nothing in use, every
    bulkhead permit back, and the pipeline counts the call once, under the right heading."""
    with FrozenTime() as frozen:
        chain = Chain(frozen)
        if outcome == "open circuit":
            chain.breaker.force_open()
        expected, calls, counters = OUTCOMES[outcome]
        operation = operation_for(outcome)
        seen = [0]

        def counted(resource: object) -> str:
            seen[0] += 1
            return operation(resource)

        async def counted_async(resource: object) -> str:
            await asyncio.sleep(0)
            return counted(resource)

        result: object
        try:
            if driver == "execute":
                result = chain.pipeline.execute(counted)
            else:
                result = asyncio.run(chain.pipeline.aexecute(counted_async))
        except BaseException as error:
            result = type(error)
        assert result == expected
        assert seen[0] == calls
        metrics = chain.pipeline.metrics()
        assert metrics["pool"]["checked_out"] == metrics["pool"]["checked_in"] == calls
        assert metrics["pipeline"] == pipeline_counts(**counters)
        chain.assert_returned()


def test_a_cancelled_aexecute_returns_its_lease_and_permit() -> None:
    """A task cancelled while its operation is suspended inside the chain: the cancellation
    propagates (never retried), the lease and the bulkhead permit come back, the breaker
    records it as ignored (neither success nor failure), and the pipeline counts the call as
    interrupted."""
    with FrozenTime() as frozen:
        chain = Chain(frozen)

        async def main() -> None:
            inside = asyncio.Event()

            async def hangs(_resource: object) -> str:
                inside.set()
                await asyncio.Event().wait()  # until cancelled
                return "never"

            task = asyncio.create_task(chain.pipeline.aexecute(hangs))
            await inside.wait()
            assert chain.pool.status()["in_use"] == 1
            assert chain.bulkhead.status()["in_flight"] == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        metrics = chain.pipeline.metrics()
        assert metrics["pipeline"] == pipeline_counts(interrupted=1)
        assert metrics["pool"] == pool_counts(created=1, checked_out=1, checked_in=1)
        assert metrics["breaker"] == breaker_counts(calls_ignored=1)  # not a failure
        assert metrics["retry"] == retry_counts(calls=1, attempts=1, failures=1, not_retried=1)
        chain.assert_returned()


def test_the_pipeline_keeps_the_name_it_was_given() -> None:
    """``Pipeline(name="chain")`` is named "chain": in its repr and in the FallbackUsed events
    it publishes (``source``), whatever components it holds.

    A regression test: an intermediate working-tree change to ``Pipeline.__init__`` looped
    ``for name, component in (...)`` over the layers before ``self.name = checked_name(name,
    ...)``, so the loop variable shadowed the ``name`` parameter and every pipeline was named
    "pool"."""
    with FrozenTime() as frozen:
        chain = Chain(frozen, fallback=lambda error: "cached")
        assert chain.pipeline.name == "chain"
        assert repr(chain.pipeline).startswith("<Pipeline 'chain' ")
        assert Pipeline(retry=RetryPolicy()).name == "pipeline"
        chain.pipeline.execute(Dependency())
        (used,) = chain.of_type(FallbackUsed)
        assert used.source == "chain"
