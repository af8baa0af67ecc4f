"""One Pipeline (rate limit, bulkhead, retry, breaker, pool: the default order) under
concurrent load on the real clock, through ``execute`` from 8 threads and through ``aexecute``
from 8 asyncio tasks: every call, attempt, breaker outcome, lease and permit is accounted for
exactly, and the counters of the layers agree with each other and with what the callers and
the operation observed. Then one sync ``Bulkhead`` serving threads and tasks with one set of
permits.

The retry policy backs off for 0 s (``base_delay=0``), so the tests take well under a second
each; the only real sleeps are the 0.2 ms an operation holds its permit in the shared-bulkhead
load test, so that threads and tasks overlap."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import tenacity

from resilience import (
    Bulkhead,
    CircuitBreaker,
    Pipeline,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)

WORKERS = 8  # threads, or tasks
CALLS = 250  # per worker: 2,000 in all
JOIN = 10.0  # seconds; only ever reached when something is broken


class Down(Exception):
    """Retryable, counted by the breaker."""


class Fatal(Exception):
    """Not retried (the policy's ``retry_if`` refuses it), counted by the breaker."""


# How each call's operation behaves, by call number: fail with Down that many times, then
# succeed; or raise Fatal once. With max_attempts=3, "5" never succeeds.
PLANS: tuple[int | str, ...] = (0, 0, 1, 2, 5, "fatal")


def expected_for(plan: int | str) -> tuple[int, int, str]:
    """(operation calls, breaker failures, how the call ends) for one call of ``plan``, with a
    breaker that stays closed."""
    if plan == "fatal":
        return 1, 1, "Fatal"
    assert isinstance(plan, int)
    if plan < 3:
        return plan + 1, plan, "ok"
    return 3, 3, "Down"


@pytest.fixture
def switchy() -> Iterator[None]:
    """A short GIL switch interval, so threads interleave inside the layers."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


class Observed:
    """What the operation sees, thread-safely: calls, how many run at once, and that no
    resource is ever used by two calls at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.inside = 0
        self.peak = 0
        self.busy: set[int] = set()
        self.shared = 0  # a resource found in use by another call: must stay 0

    def enter(self, resource: object) -> None:
        with self.lock:
            self.calls += 1
            self.inside += 1
            self.peak = max(self.peak, self.inside)
            if id(resource) in self.busy:
                self.shared += 1
            self.busy.add(id(resource))

    def leave(self, resource: object) -> None:
        with self.lock:
            self.inside -= 1
            self.busy.discard(id(resource))


class Plan:
    """One logical call: its plan, and how many attempts reached the operation."""

    __slots__ = ("attempts", "plan")

    def __init__(self, plan: int | str) -> None:
        self.plan = plan
        self.attempts = 0

    def attempt(self) -> str:
        self.attempts += 1
        if self.plan == "fatal":
            raise Fatal
        assert isinstance(self.plan, int)
        if self.attempts <= self.plan:
            raise Down
        return "ok"


def not_fatal(state: tenacity.RetryCallState) -> bool:
    return not isinstance(state.outcome.exception(), Fatal)  # type: ignore[union-attr]


def build(
    *, threshold: int, recovery: float = 30, pool_size: int = 2, bulkhead: int = 4
) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "limiter": TokenBucket(10**9, 10**9),
        "bulkhead": Bulkhead(bulkhead, max_wait=None),
        # retry_on is every Exception: only the policy's own rule keeps it from retrying a
        # CircuitOpenError.
        "retry": RetryPolicy(max_attempts=3, base_delay=0, retry_if=not_fatal),
        "breaker": CircuitBreaker(failure_threshold=threshold, recovery_timeout=recovery),
        # Legitimate waits last microseconds: a lost lease fails the test instead of hanging it.
        "pool": ResourcePool(object, size=pool_size, timeout=1.0),
    }
    parts["pipeline"] = Pipeline(
        rate_limiter=parts["limiter"],
        bulkhead=parts["bulkhead"],
        retry=parts["retry"],
        breaker=parts["breaker"],
        pool=parts["pool"],
    )
    return parts


def operations(observed: Observed) -> tuple[Callable[..., str], Callable[..., Any]]:
    def operation(resource: object, plan: Plan) -> str:
        observed.enter(resource)
        try:
            return plan.attempt()
        finally:
            observed.leave(resource)

    async def operation_async(resource: object, plan: Plan) -> str:
        observed.enter(resource)
        try:
            await asyncio.sleep(0)  # let other tasks in while this one holds its lease
            return plan.attempt()
        finally:
            observed.leave(resource)

    return operation, operation_async


def outcome_name(result: object) -> str:
    return result if isinstance(result, str) else type(result).__name__


def drive_threads(pipeline: Pipeline, operation: Callable[..., str]) -> list[tuple[Plan, str]]:
    """WORKERS threads x CALLS calls through ``execute``; every call's plan and outcome."""
    results: list[list[tuple[Plan, str]]] = [[] for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)

    def work(index: int) -> None:
        barrier.wait(JOIN)
        for n in range(CALLS):
            plan = Plan(PLANS[(index * CALLS + n) % len(PLANS)])
            try:
                result: object = pipeline.execute(operation, plan)
            except Exception as error:
                result = error
            results[index].append((plan, outcome_name(result)))

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "deadlock: threads still running"
    return list(itertools.chain.from_iterable(results))


def drive_tasks(pipeline: Pipeline, operation: Callable[..., Any]) -> list[tuple[Plan, str]]:
    """WORKERS tasks x CALLS calls through ``aexecute``; every call's plan and outcome."""

    async def work(index: int) -> list[tuple[Plan, str]]:
        done = []
        for n in range(CALLS):
            plan = Plan(PLANS[(index * CALLS + n) % len(PLANS)])
            try:
                result: object = await pipeline.aexecute(operation, plan)
            except Exception as error:
                result = error
            done.append((plan, outcome_name(result)))
        return done

    async def main() -> list[list[tuple[Plan, str]]]:
        return await asyncio.wait_for(
            asyncio.gather(*(work(i) for i in range(WORKERS))), timeout=JOIN
        )

    return list(itertools.chain.from_iterable(asyncio.run(main())))


def drive(
    driver: str, parts: dict[str, Any], observed: Observed
) -> tuple[list[tuple[Plan, str]], float]:
    operation, operation_async = operations(observed)
    began = time.perf_counter()
    if driver == "threads":
        results = drive_threads(parts["pipeline"], operation)
    else:
        results = drive_tasks(parts["pipeline"], operation_async)
    return results, time.perf_counter() - began


def assert_books_balance(parts: dict[str, Any], observed: Observed, calls: int) -> None:
    """The cross-layer identities that hold whatever the breaker did."""
    m = parts["pipeline"].metrics()
    pipeline, retry, breaker = m["pipeline"], m["retry"], m["breaker"]
    pool, bulkhead, limiter = m["pool"], m["bulkhead"], m["rate_limit"]
    assert pipeline["calls"] == calls
    assert pipeline["succeeded"] + pipeline["failed"] + pipeline["interrupted"] == calls
    assert pipeline["interrupted"] == 0
    assert limiter["admitted"] == calls
    assert bulkhead == {"admitted": calls, "rejected": 0, "finished": calls, "abandoned": 0}
    assert retry["calls"] == calls
    assert retry["successes"] == pipeline["succeeded"]
    assert retry["failures"] == pipeline["failed"]
    # Every attempt the policy counted is one breaker outcome: run (success, failure) or
    # rejected; every run is one operation call on one lease.
    ran = breaker["calls_succeeded"] + breaker["calls_failed"] + breaker["calls_ignored"]
    assert ran + breaker["calls_rejected"] == retry["attempts"]
    assert ran == observed.calls
    assert pool["checked_out"] == pool["checked_in"] == observed.calls
    assert retry["attempts"] == retry["calls"] + retry["retries"]
    status = parts["pool"].status()
    assert status["in_use"] == 0, status
    assert status["waiting"] == 0, status
    assert parts["bulkhead"].status()["in_flight"] == 0
    assert observed.inside == 0
    assert observed.shared == 0, "a resource was used by two calls at once"
    assert observed.peak <= status["size"]


@pytest.mark.parametrize("driver", ["threads", "tasks"])
def test_load_with_a_closed_breaker_is_counted_exactly(switchy: None, driver: str) -> None:
    """8 workers x 250 calls, each call following one of six plans (succeed; fail once or
    twice, then succeed; fail every attempt; fail once with an error not retried), with a
    breaker that never opens: every count is known in advance. The operation runs exactly the
    planned number of times (retry attempts == operation calls == leases == breaker
    outcomes), each caller gets the planned outcome, and the pipeline, retry, breaker, pool,
    bulkhead and limiter counters agree with them and with each other."""
    parts = build(threshold=10**9)
    observed = Observed()
    results, elapsed = drive(driver, parts, observed)
    calls = WORKERS * CALLS
    assert len(results) == calls
    planned_calls = planned_failures = 0
    planned_outcomes: Counter[str] = Counter()
    for plan, outcome in results:
        attempts, failures, ending = expected_for(plan.plan)
        assert (plan.attempts, outcome) == (attempts, ending), plan.plan
        planned_calls += attempts
        planned_failures += failures
        planned_outcomes[ending] += 1
    assert observed.calls == planned_calls

    assert_books_balance(parts, observed, calls)
    m = parts["pipeline"].metrics()
    assert m["pipeline"]["succeeded"] == planned_outcomes["ok"]
    assert m["pipeline"]["failed"] == planned_outcomes["Down"] + planned_outcomes["Fatal"]
    assert m["retry"]["attempts"] == planned_calls
    assert m["retry"]["gave_up"] == planned_outcomes["Down"]
    assert m["retry"]["not_retried"] == planned_outcomes["Fatal"]
    assert m["breaker"] == {
        "calls_succeeded": planned_outcomes["ok"],
        "calls_failed": planned_failures,
        "calls_ignored": 0,
        "calls_rejected": 0,
        "late_outcomes": 0,
        "state_changes": 0,
    }
    assert m["pool"]["created"] <= 2
    assert elapsed < 2.0, f"{driver}: {elapsed:.2f} s"


@pytest.mark.parametrize("driver", ["threads", "tasks"])
def test_load_with_a_breaker_that_opens_accounts_for_every_rejection(
    switchy: None, driver: str
) -> None:
    """The same load with a breaker that trips after 2 consecutive failures and recovers after
    1 ms, so it opens, half-opens and closes again and again while calls are in flight: the
    outcomes are no longer known in advance, but every rejection is accounted for (breaker
    successes + failures + rejections == retry attempts; operation calls == leases == outcomes
    of admitted attempts), and the CircuitOpenErrors the callers received are exactly the
    pipeline's circuit_open count."""
    parts = build(threshold=2, recovery=0.001)
    observed = Observed()
    results, elapsed = drive(driver, parts, observed)
    calls = WORKERS * CALLS
    assert len(results) == calls
    assert sum(plan.attempts for plan, _ in results) == observed.calls
    assert_books_balance(parts, observed, calls)
    outcomes = Counter(outcome for _, outcome in results)
    assert set(outcomes) <= {"ok", "Down", "Fatal", "CircuitOpenError"}
    m = parts["pipeline"].metrics()
    assert m["pipeline"]["succeeded"] == outcomes["ok"]
    assert m["pipeline"]["failed"] == calls - outcomes["ok"]
    assert m["pipeline"]["circuit_open"] == outcomes["CircuitOpenError"]
    assert m["breaker"]["calls_rejected"] > 0
    assert m["breaker"]["state_changes"] >= 2
    assert outcomes["CircuitOpenError"] > 0
    # A rejected attempt ends its call: the policy never retries CircuitOpenError.
    assert m["retry"]["not_retried"] == outcomes["Fatal"] + outcomes["CircuitOpenError"]
    assert elapsed < 2.0, f"{driver}: {elapsed:.2f} s"


# ---------------------------------------------------------------- one bulkhead, two fronts


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    """Poll ``condition`` from the event loop (letting threads and tasks run meanwhile)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.0005)


def test_threads_and_tasks_share_the_permits_of_one_bulkhead() -> None:
    """A Pipeline with a sync ``Bulkhead(3, max_wait=None)``: a thread in ``execute`` holds one
    permit, two tasks in ``aexecute`` take the other two; then a third task and a second thread
    both wait (in_flight 3, waiting 2). When the first thread's operation ends, its permit goes
    to the first waiter, the task (arrival order across both fronts); when a task's ends, the
    waiting thread gets it. Never more than 3 inside; every permit comes back."""
    bulkhead = Bulkhead(3, max_wait=None)
    pipeline = Pipeline(bulkhead=bulkhead, retry=RetryPolicy(max_attempts=1))
    lock = threading.Lock()
    inside: list[str] = []
    peak = [0]
    order: list[str] = []

    def enter(who: str) -> None:
        with lock:
            inside.append(who)
            order.append(who)
            peak[0] = max(peak[0], len(inside))

    def leave(who: str) -> None:
        with lock:
            inside.remove(who)

    gates = {name: threading.Event() for name in ("thread-1", "thread-2")}

    def in_thread(who: str) -> str:
        enter(who)
        try:
            assert gates[who].wait(JOIN)
            return who
        finally:
            leave(who)

    async def main() -> None:
        task_gates = {name: asyncio.Event() for name in ("task-1", "task-2", "task-3")}

        async def in_task(who: str) -> str:
            enter(who)
            try:
                await task_gates[who].wait()
                return who
            finally:
                leave(who)

        loop = asyncio.get_running_loop()
        try:
            first = loop.run_in_executor(None, pipeline.execute, in_thread, "thread-1")
            await until(lambda: "thread-1" in inside)
            tasks = [asyncio.create_task(pipeline.aexecute(in_task, f"task-{i}")) for i in (1, 2)]
            await until(lambda: len(inside) == 3)
            third = asyncio.create_task(pipeline.aexecute(in_task, "task-3"))
            await until(lambda: bulkhead.status()["waiting"] == 1)
            second = loop.run_in_executor(None, pipeline.execute, in_thread, "thread-2")
            await until(lambda: bulkhead.status()["waiting"] == 2)
            assert sorted(inside) == ["task-1", "task-2", "thread-1"]
            assert bulkhead.status()["in_flight"] == 3

            gates["thread-1"].set()  # its permit goes to task-3, the first waiter
            assert await first == "thread-1"
            await until(lambda: "task-3" in inside)
            assert sorted(inside) == ["task-1", "task-2", "task-3"]
            assert bulkhead.status()["waiting"] == 1

            task_gates["task-1"].set()  # its permit goes to thread-2
            assert await tasks[0] == "task-1"
            await until(lambda: "thread-2" in inside)
            assert sorted(inside) == ["task-2", "task-3", "thread-2"]

            for gate in (*task_gates.values(), gates["thread-2"]):
                gate.set()
            assert await asyncio.gather(tasks[1], third, second) == ["task-2", "task-3", "thread-2"]

        finally:  # whatever failed, let every operation end: no thread is left blocked
            for gate in (*gates.values(), *task_gates.values()):
                gate.set()

    asyncio.run(main())
    assert order == ["thread-1", "task-1", "task-2", "task-3", "thread-2"]
    assert peak[0] == 3
    status = bulkhead.status()
    assert (status["admitted"], status["finished"], status["in_flight"]) == (5, 5, 0)
    assert status["waiting"] == 0
    assert pipeline.metrics()["pipeline"]["succeeded"] == 5


def test_threads_and_tasks_under_load_never_exceed_the_shared_limit(switchy: None) -> None:
    """4 threads x 100 ``execute`` calls and 40 tasks x 10 ``aexecute`` calls at once, on one
    sync ``Bulkhead(3, max_wait=None)``, each call holding its permit for 0.2 ms: never more
    than 3 operations inside at once (a counter under a lock, across both fronts), 3 at some
    point, threads and tasks inside together at some point, and every permit back."""
    limit = 3
    bulkhead = Bulkhead(limit, max_wait=None)
    pipeline = Pipeline(bulkhead=bulkhead)
    lock = threading.Lock()
    counts = {"thread": 0, "task": 0}
    peak = [0]
    mixed = [0]

    def enter(kind: str) -> None:
        with lock:
            counts[kind] += 1
            peak[0] = max(peak[0], counts["thread"] + counts["task"])
            if counts["thread"] and counts["task"]:
                mixed[0] += 1

    def leave(kind: str) -> None:
        with lock:
            counts[kind] -= 1

    def in_thread() -> None:
        enter("thread")
        try:
            time.sleep(0.0002)
        finally:
            leave("thread")

    async def in_task() -> None:
        enter("task")
        try:
            await asyncio.sleep(0.0002)
        finally:
            leave("task")

    def thread_work() -> None:
        for _ in range(100):
            pipeline.execute(in_thread)

    async def task_work() -> None:
        for _ in range(10):
            await pipeline.aexecute(in_task)

    async def main() -> None:
        threads = [threading.Thread(target=thread_work, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        await asyncio.wait_for(asyncio.gather(*(task_work() for _ in range(40))), JOIN)
        for thread in threads:
            await asyncio.get_running_loop().run_in_executor(None, thread.join, JOIN)
            assert not thread.is_alive()

    began = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - began
    assert peak[0] == limit
    assert mixed[0] > 0, "threads and tasks were never inside together"
    status = bulkhead.status()
    assert (status["admitted"], status["finished"]) == (800, 800)
    assert (status["in_flight"], status["waiting"], status["rejected"]) == (0, 0, 0)
    assert pipeline.metrics()["pipeline"]["succeeded"] == 800
    assert elapsed < 2.0, f"{elapsed:.2f} s"
