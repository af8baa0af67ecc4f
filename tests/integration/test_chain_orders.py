"""What a non-default ``order=`` changes, observably and with exact counts, against the same
components in the default order (rate_limit -> bulkhead -> retry -> breaker -> pool): real
circuitbreaker and tenacity underneath, time frozen (the retry's back-off advances it).

* retry outside the rate limit: every attempt is charged, and a refusal is waited out;
* the rate limit inside the breaker: refusals count as breaker failures;
* the breaker outside retry: one breaker outcome per logical call;
* the pool outside retry: one lease across all attempts (and a lease even for a rejected call);
* the bulkhead inside retry: a permit per attempt, free during back-off, a full bulkhead retried.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from properties.harness.frozen import FrozenClock, FrozenTime
from resilience import (
    DEFAULT_ORDER,
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    CircuitOpenError,
    Pipeline,
    RateLimited,
    ResourcePool,
    RetryPolicy,
    TokenBucket,
)

SEED = 7
BASE_US = 100_000
NS_PER_US = 1_000


class Down(Exception):
    """The dependency failed (retryable, counted by the breaker)."""


class ObservingClock(FrozenClock):
    """A FrozenClock that runs ``on_sleep`` (if set) at the start of each sleep: what the world
    looks like while the retry policy backs off."""

    __slots__ = ("on_sleep",)

    def __init__(self, frozen: FrozenTime) -> None:
        super().__init__(frozen)
        self.on_sleep: Any = None

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep()
        super().sleep(seconds)


class Chain:
    """All five components on one frozen clock, composed in ``order`` (None: the default)."""

    def __init__(
        self,
        frozen: FrozenTime,
        order: Sequence[str] | None = None,
        *,
        bucket: tuple[int, int] = (1_000, 1_000),
        bulkhead: int = 4,
        threshold: int = 100,
        lifo: bool = True,
    ) -> None:
        self.frozen = frozen
        self.clock = ObservingClock(frozen)
        self.limiter = TokenBucket(*bucket, clock=self.clock)
        self.bulkhead = Bulkhead(bulkhead, clock=self.clock)
        self.retry = RetryPolicy(
            max_attempts=3,
            base_delay=BASE_US / 1_000_000,
            max_delay=1.0,
            random=random.Random(SEED),
            clock=self.clock,
        )
        self.breaker = CircuitBreaker(
            failure_threshold=threshold, recovery_timeout=30, clock=self.clock
        )
        self.pool: ResourcePool[str] = ResourcePool(
            self._make, size=2, lifo=lifo, timeout=0, clock=self.clock
        )
        self.pipeline = Pipeline(
            rate_limiter=self.limiter,
            bulkhead=self.bulkhead,
            retry=self.retry,
            breaker=self.breaker,
            pool=self.pool,
            order=order,
            clock=self.clock,
        )
        self.start_ns = frozen.now_ns()
        self.made = 0

    def _make(self) -> str:
        self.made += 1
        return f"r{self.made - 1}"

    def elapsed_us(self) -> int:
        return (self.frozen.now_ns() - self.start_ns) // NS_PER_US

    def run(self, operation: Any) -> object:
        try:
            return self.pipeline.execute(operation)
        except Exception as error:
            return error


class Flaky:
    """Fails with ``Down`` ``failures`` times, then succeeds; records what it was given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.resources: list[object] = []

    def __call__(self, resource: object) -> str:
        self.calls += 1
        self.resources.append(resource)
        if self.calls <= self.failures:
            raise Down(f"call {self.calls}")
        return "ok"


def moved(order: Sequence[str], name: str, index: int) -> tuple[str, ...]:
    """The default order with ``name`` moved to position ``index``."""
    rest = [layer for layer in order if layer != name]
    rest.insert(index, name)
    return tuple(rest)


def test_the_default_order_is_the_documented_one() -> None:
    """With every component and no ``order``: rate_limit -> bulkhead -> retry -> breaker ->
    pool, outermost first; a non-default order is kept as given."""
    with FrozenTime() as frozen:
        assert Chain(frozen).pipeline.order == DEFAULT_ORDER
        assert DEFAULT_ORDER == ("rate_limit", "bulkhead", "retry", "breaker", "pool")
        custom = ("pool", "retry", "breaker", "bulkhead", "rate_limit")
        assert Chain(frozen, custom).pipeline.order == custom


# ---------------------------------------------------------------- retry outside the rate limit


def test_retry_outside_the_rate_limit_charges_every_attempt() -> None:
    """An operation that fails twice, then succeeds (3 attempts): in the default order the
    limiter is charged once for the logical call; with retry outside it, once per attempt."""
    with FrozenTime() as frozen:
        default, outside = Chain(frozen), Chain(frozen, moved(DEFAULT_ORDER, "retry", 0))
        assert outside.pipeline.order == ("retry", "rate_limit", "bulkhead", "breaker", "pool")
        for chain in (default, outside):
            assert chain.run(Flaky(2)) == "ok"
            assert chain.retry.metrics()["attempts"] == 3
            assert chain.breaker.metrics()["calls_failed"] == 2
        assert default.limiter.metrics() == {
            "admitted": 1,
            "admitted_cost": 1,
            "rejected": 0,
            "rejected_cost": 0,
        }
        assert outside.limiter.metrics() == {
            "admitted": 3,
            "admitted_cost": 3,
            "rejected": 0,
            "rejected_cost": 0,
        }
        assert default.bulkhead.metrics()["admitted"] == 1  # inside retry too in the other order
        assert outside.bulkhead.metrics()["admitted"] == 3


def test_retry_outside_the_rate_limit_waits_out_a_refusal() -> None:
    """A bucket of 1 token refilled at 1/s, an operation that fails once. Default order: the
    first call takes the token and, retrying inside the limiter, succeeds on attempt 2; a
    second call at once is refused (RateLimited, no operation call, the retry policy never
    sees it). Retry outside: attempt 1 takes the token and fails; attempt 2, after the jittered
    back-off d, is refused with retry_after = 1 s - d; the policy waits exactly that, and
    attempt 3 is admitted the instant the token is back: 1 s after the start, exactly."""
    with FrozenTime() as frozen:
        default = Chain(frozen, bucket=(1, 1))
        assert default.run(Flaky(1)) == "ok"
        refused = default.run(Flaky(0))
        assert isinstance(refused, RateLimited)
        assert default.limiter.metrics()["rejected"] == 1
        assert default.retry.metrics()["calls"] == 1  # only the first call reached it
        assert default.pipeline.metrics()["pipeline"]["rate_limited"] == 1

        outside = Chain(frozen, moved(DEFAULT_ORDER, "retry", 0), bucket=(1, 1))
        flaky = Flaky(1)
        assert outside.run(flaky) == "ok"
        assert flaky.calls == 2  # the refused attempt never reached the operation
        assert outside.elapsed_us() == 1_000_000
        (d,) = [random.Random(SEED).randint(0, BASE_US)]
        retry = outside.retry.metrics()
        assert retry["attempts"] == 3
        assert retry["retries"] == 2
        assert retry["slept_ns"] == 1_000_000 * NS_PER_US  # d, then 1 s - d
        assert outside.limiter.metrics() == {
            "admitted": 2,
            "admitted_cost": 2,
            "rejected": 1,
            "rejected_cost": 1,
        }
        assert 0 < d < 1_000_000
        assert outside.pipeline.metrics()["pipeline"]["rate_limited"] == 0  # the call succeeded


def test_the_rate_limit_inside_the_breaker_counts_refusals_as_failures() -> None:
    """With the breaker outermost (the limiter inside it), each refusal is a breaker failure: a
    bucket of 1 token trips a threshold-3 breaker after 3 refused calls that never reached the
    operation, and the 5th call is rejected by the open breaker; in the default order the
    breaker never hears of refusals."""
    with FrozenTime() as frozen:
        inside = ("breaker", "rate_limit", "bulkhead", "retry", "pool")
        chain = Chain(frozen, inside, bucket=(1, 1), threshold=3)
        flaky = Flaky(0)
        assert chain.run(flaky) == "ok"  # takes the only token
        for failures in (1, 2, 3):  # no back-off here (retry is inside): time does not move
            assert isinstance(chain.run(flaky), RateLimited)
            assert chain.breaker.metrics()["calls_failed"] == failures
        assert chain.breaker.state == "open"
        assert isinstance(chain.run(flaky), CircuitOpenError)
        assert flaky.calls == 1
        assert chain.elapsed_us() == 0
        assert chain.limiter.metrics()["rejected"] == 3  # the rejected 5th call never reached it
        assert chain.pool.metrics()["checked_out"] == 1
        assert chain.pipeline.metrics()["pipeline"] == {
            "calls": 5,
            "succeeded": 1,
            "failed": 4,
            "rate_limited": 3,
            "circuit_open": 1,
            "bulkhead_full": 0,
            "pool_timeout": 0,
            "interrupted": 0,
            "fell_back": 0,
            "fallback_failed": 0,
        }

        default = Chain(frozen, bucket=(1, 1), threshold=3)
        assert default.run(Flaky(0)) == "ok"
        for _ in range(5):
            assert isinstance(default.run(Flaky(0)), RateLimited)
        assert default.breaker.metrics()["calls_failed"] == 0
        assert default.breaker.state == "closed"


# ---------------------------------------------------------------- the breaker outside retry


def test_the_breaker_outside_retry_records_one_outcome_per_logical_call() -> None:
    """An operation that fails twice, then succeeds: the default order gives the breaker 3
    outcomes (2 failures, 1 success); with the breaker outside retry it sees the logical call
    only: 1 success. A dependency that is down, breaker threshold 2: in the default order the
    first call trips it (its 3rd attempt is rejected: 2 operation calls); outside retry each
    call is one failure, so it takes 2 calls (6 operation calls) to trip, and the third call is
    rejected before retry even starts (the policy counts no call)."""
    with FrozenTime() as frozen:
        outside_order = ("rate_limit", "bulkhead", "breaker", "retry", "pool")
        default, outside = Chain(frozen), Chain(frozen, outside_order)
        for chain in (default, outside):
            assert chain.run(Flaky(2)) == "ok"
        assert default.breaker.metrics()["calls_failed"] == 2
        assert default.breaker.metrics()["calls_succeeded"] == 1
        assert outside.breaker.metrics()["calls_failed"] == 0
        assert outside.breaker.metrics()["calls_succeeded"] == 1

        down = Flaky(10**9)
        default = Chain(frozen, threshold=2)
        assert isinstance(default.run(down), CircuitOpenError)
        assert down.calls == 2
        assert default.breaker.metrics()["calls_failed"] == 2
        assert default.breaker.metrics()["calls_rejected"] == 1

        down = Flaky(10**9)
        outside = Chain(frozen, outside_order, threshold=2)
        assert isinstance(outside.run(down), Down)
        assert outside.breaker.state == "closed"
        assert isinstance(outside.run(down), Down)
        assert outside.breaker.state == "open"
        assert down.calls == 6
        assert isinstance(outside.run(down), CircuitOpenError)
        assert down.calls == 6
        assert outside.breaker.metrics()["calls_failed"] == 2
        assert outside.breaker.metrics()["calls_rejected"] == 1
        retry = outside.retry.metrics()
        assert retry["calls"] == 2  # the rejected call never reached the policy
        assert retry["attempts"] == 6


# ---------------------------------------------------------------- the pool outside retry


def test_the_pool_outside_retry_holds_one_lease_across_attempts() -> None:
    """A FIFO pool with two idle resources (r1 returned first, then r0), an operation that
    fails twice then succeeds: the default order leases per attempt (r1, r0, r1: 3 checkouts);
    the pool outside retry leases once and every attempt gets the same resource (r1, r1, r1:
    1 checkout)."""
    with FrozenTime() as frozen:
        pool_outside = ("pool", "rate_limit", "bulkhead", "retry", "breaker")
        results = {}
        for label, order in (("default", None), ("pool outside", pool_outside)):
            chain = Chain(frozen, order, lifo=False)
            with chain.pool.lease(), chain.pool.lease():  # two resources made, both idle after
                pass
            flaky = Flaky(2)
            assert chain.run(flaky) == "ok"
            results[label] = (flaky.resources, chain.pool.metrics()["checked_out"] - 2)
            assert chain.pool.status()["in_use"] == 0
        assert results["default"] == (["r1", "r0", "r1"], 3)
        assert results["pool outside"] == (["r1", "r1", "r1"], 1)


def test_the_pool_outside_the_breaker_leases_even_for_a_rejected_call() -> None:
    """With the breaker open, the default order reaches neither the pool nor the operation;
    with the pool outside retry and breaker, a rejected call still checks a resource out (and
    in): the breaker no longer protects the pool."""
    with FrozenTime() as frozen:
        pool_outside = ("pool", "rate_limit", "bulkhead", "retry", "breaker")
        leases = {}
        for label, order in (("default", None), ("pool outside", pool_outside)):
            chain = Chain(frozen, order)
            chain.breaker.force_open()
            flaky = Flaky(0)
            assert isinstance(chain.run(flaky), CircuitOpenError)
            assert flaky.calls == 0
            metrics = chain.pool.metrics()
            assert metrics["checked_out"] == metrics["checked_in"]
            leases[label] = (metrics["created"], metrics["checked_out"])
        assert leases == {"default": (0, 0), "pool outside": (1, 1)}


# ---------------------------------------------------------------- the bulkhead inside retry


def test_the_bulkhead_inside_retry_takes_a_permit_per_attempt() -> None:
    """An operation that fails twice, then succeeds. Default order: one permit, held through
    both back-off sleeps (1 in flight while sleeping). Bulkhead inside retry: a permit per
    attempt (3 admitted), none held while the policy sleeps."""
    with FrozenTime() as frozen:
        inside = ("rate_limit", "retry", "bulkhead", "breaker", "pool")
        seen = {}
        for label, order in (("default", None), ("inside", inside)):
            chain = Chain(frozen, order)
            in_flight: list[int] = []
            chain.clock.on_sleep = lambda c=chain, log=in_flight: log.append(  # type: ignore[misc]
                c.bulkhead.status()["in_flight"]
            )
            assert chain.run(Flaky(2)) == "ok"
            metrics = chain.bulkhead.metrics()
            assert metrics["admitted"] == metrics["finished"]
            seen[label] = (in_flight, metrics["admitted"])
        assert seen == {"default": ([1, 1], 1), "inside": ([0, 0], 3)}


def test_a_full_bulkhead_inside_retry_is_retried() -> None:
    """A bulkhead of 1 (max_wait 0) whose permit the test holds. Default order: BulkheadFull at
    once, nothing reaches the retry policy or the operation. Bulkhead inside retry: attempt 1
    is refused, the policy backs off (the test releases its permit meanwhile), and attempt 2
    runs the operation and succeeds."""
    with FrozenTime() as frozen:
        inside = ("rate_limit", "retry", "bulkhead", "breaker", "pool")

        default = Chain(frozen, bulkhead=1)
        with default.bulkhead.permit():
            flaky = Flaky(0)
            assert isinstance(default.run(flaky), BulkheadFull)
        assert flaky.calls == 0
        assert default.retry.metrics()["calls"] == 0
        assert default.pipeline.metrics()["pipeline"]["bulkhead_full"] == 1

        chain = Chain(frozen, inside, bulkhead=1)
        held = chain.bulkhead.permit()
        held.__enter__()
        chain.clock.on_sleep = lambda: held.__exit__(None, None, None) if held.held else None
        flaky = Flaky(0)
        assert chain.run(flaky) == "ok"
        assert flaky.calls == 1
        assert chain.retry.metrics()["attempts"] == 2
        assert chain.retry.metrics()["retries"] == 1
        assert chain.bulkhead.metrics() == {
            "admitted": 2,
            "rejected": 1,
            "finished": 2,
            "abandoned": 0,
        }
        assert chain.pipeline.metrics()["pipeline"]["bulkhead_full"] == 0
        # The breaker sits inside the bulkhead here: it never saw the refusal.
        assert chain.breaker.metrics()["calls_failed"] == 0
