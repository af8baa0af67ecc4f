"""The protection chain, as a model composed of the component models (no import from
``resilience``): ``TokenBucketModel``, ``BulkheadModel``, ``RetryModel``, ``BreakerModel`` and
``PoolModel``, each asked exactly what the real layer asks its component, in the spec's order.

A model layer is a function of the layer inside it, as in the pipeline; a failure travels as a
``Failure`` carrying its kind, which each layer classifies the way its component does:

=============  ============================  ==================  =========================
kind           raised by                     retry               breaker
=============  ============================  ==================  =========================
retryable      the operation                 retried             failure
limited        the operation, the limiter    waits retry_after   failure
fatal          the operation                 propagates          ignored
open           the breaker                   never retried       (it raised it)
full           the bulkhead                  retried             failure
timeout        the pool                      retried             failure
=============  ============================  ==================  =========================

Time is the model's ``now`` (integer ns): the operation's steps take their duration and retry
delays are slept; the machine keeps the frozen clock equal to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from properties.models.breaker import BreakerModel, BreakerSpec, Outcome
from properties.models.bulkhead import BulkheadModel, BulkheadSpec, Full
from properties.models.pool import PoolModel, PoolSpec, Refused
from properties.models.ratelimit import LimitSpec, TokenBucketModel
from properties.models.retry import Attempt, RetryModel, RetryOutcome, RetrySpec

__all__ = ["ChainModel", "ChainSpec", "Failure", "OpStep"]

NS_PER_US = 1_000

# How the retry policy and the breaker see each kind of failure (see the table above).
RETRY_KIND = {"retryable": "retryable", "limited": "limited", "fatal": "fatal", "open": "open",
              "full": "retryable", "timeout": "retryable"}  # fmt: skip
REFUSALS = {"limited": "rate_limited", "full": "bulkhead_full", "open": "circuit_open",
            "timeout": "pool_timeout"}  # fmt: skip
BREAKER_OUTCOME = {"fatal": Outcome.IGNORED}  # every other kind is a counted failure


@dataclass(frozen=True)
class OpStep:
    """What one invocation of the operation does: takes ``duration_us``, then returns ("ok") or
    raises ("retryable", "fatal", "limited" with ``retry_after_ns``)."""

    kind: str = "ok"
    duration_us: int = 0
    retry_after_ns: int = 0


@dataclass(frozen=True)
class ChainSpec:
    order: tuple[str, ...]  # the layers present, outermost first
    explicit_order: bool  # the pipeline is given ``order=`` (else it must use its default)
    limit: LimitSpec | None
    bulkhead: BulkheadSpec | None
    retry: RetrySpec | None
    breaker: BreakerSpec | None
    pool: PoolSpec | None
    fallback: bool
    asynchronous: bool


class Failure(Exception):
    def __init__(self, kind: str, retry_after_ns: int = 0) -> None:
        super().__init__(kind)
        self.kind = kind
        self.retry_after_ns = retry_after_ns


Run = Callable[[tuple[Any, ...]], Any]


@dataclass
class ChainModel:
    spec: ChainSpec
    now: int
    limiter: TokenBucketModel | None = None
    bulkhead: BulkheadModel | None = None
    retry: RetryModel | None = None
    breaker: BreakerModel | None = None
    pool: PoolModel | None = None
    counts: dict[str, int] = field(default_factory=dict)
    op_calls: int = 0
    last_retry: RetryOutcome | None = None  # the last call's retry run, for coverage
    _script: Iterator[OpStep] = field(default_factory=lambda: iter(()))

    def __post_init__(self) -> None:
        spec = self.spec
        self.limiter = None if spec.limit is None else TokenBucketModel(spec.limit)
        self.bulkhead = None if spec.bulkhead is None else BulkheadModel(spec.bulkhead)
        self.retry = None if spec.retry is None else RetryModel(spec.retry)
        self.breaker = None if spec.breaker is None else BreakerModel(spec.breaker, "breaker")
        self.pool = None if spec.pool is None else PoolModel(spec.pool)
        self.counts = {
            "pipeline": dict.fromkeys(
                ("failed", "interrupted", "fell_back", "fallback_failed", "rate_limited",
                 "bulkhead_full", "circuit_open", "pool_timeout", "succeeded", "calls"), 0),
            # cost is always 1: the cost counters equal the counts
            "rate_limit": {"admitted": 0, "admitted_cost": 0, "rejected": 0, "rejected_cost": 0},
            "retry": dict.fromkeys(
                ("calls", "attempts", "successes", "failures", "retries", "gave_up",
                 "not_retried", "slept_ns"), 0),
        }  # fmt: skip

    # ---------------------------------------------------------------- one logical call

    def call(self, now: int, script: list[OpStep]) -> tuple[str, Any]:
        """("ok", resource id or None) or ("raised", kind) or ("fallback", kind)."""
        self.now = now
        self._script = iter(script)
        self.last_retry = None
        run: Run = self._operation
        for name in reversed(self.spec.order):
            run = getattr(self, f"_{name}")(run)
        own = self.counts["pipeline"]
        own["calls"] += 1
        try:
            value = run(())
        except Failure as failure:
            own["failed"] += 1
            # An operation's own RateLimited counts as "rate_limited" too.
            refusal = REFUSALS.get(failure.kind)
            if refusal is not None:
                own[refusal] += 1
            if self.spec.fallback:
                own["fell_back"] += 1
                return "fallback", failure.kind
            return "raised", failure.kind
        own["succeeded"] += 1
        return "ok", value

    # ---------------------------------------------------------------- the layers

    def _operation(self, args: tuple[Any, ...]) -> Any:
        step = next(self._script, OpStep())
        self.op_calls += 1
        self.now += step.duration_us * NS_PER_US
        if step.kind != "ok":
            raise Failure(step.kind, step.retry_after_ns)
        return args[0] if args else None

    def _rate_limit(self, inner: Run) -> Run:
        def run(args: tuple[Any, ...]) -> Any:
            assert self.limiter is not None
            verdict = self.limiter.decide(self.now, 1, True)
            if not verdict.admitted:
                self._charge("rejected")
                raise Failure("limited", verdict.retry_after_ns)
            self._charge("admitted")
            return inner(args)

        return run

    def _charge(self, verdict: str) -> None:
        counts = self.counts["rate_limit"]
        counts[verdict] += 1
        counts[f"{verdict}_cost"] += 1

    def _bulkhead(self, inner: Run) -> Run:
        def run(args: tuple[Any, ...]) -> Any:
            assert self.bulkhead is not None
            try:
                number = self.bulkhead.enter(self.now)
            except Full:
                raise Failure("full") from None
            try:
                return inner(args)
            finally:
                self.bulkhead.leave(self.now, number)

        return run

    def _retry(self, inner: Run) -> Run:
        def run(args: tuple[Any, ...]) -> Any:
            assert self.retry is not None
            counts, out, start = self.counts["retry"], RetryOutcome(), self.now
            self.last_retry = out
            counts["calls"] += 1
            k = 0
            while True:
                k += 1
                out.calls += 1
                counts["attempts"] += 1
                try:
                    value = inner(args)
                except Failure as failure:
                    out.elapsed_us = (self.now - start) // NS_PER_US
                    attempt = Attempt(
                        RETRY_KIND[failure.kind], retry_after_ns=failure.retry_after_ns
                    )
                    delay = self.retry.failed(out, k, attempt)
                    if delay is None:
                        counts["failures"] += 1
                        reason = "not_retried" if out.reason == "not retryable" else "gave_up"
                        counts[reason] += 1
                        raise
                    counts["retries"] += 1
                    counts["slept_ns"] += delay * NS_PER_US
                    self.now += delay * NS_PER_US
                    continue
                out.elapsed_us = (self.now - start) // NS_PER_US
                self.retry.succeeded(out, k)
                counts["successes"] += 1
                return value

        return run

    def _breaker(self, inner: Run) -> Run:
        def run(args: tuple[Any, ...]) -> Any:
            assert self.breaker is not None
            admitted, epoch = self.breaker.admit(self.now)
            if not admitted:
                raise Failure("open")
            try:
                value = inner(args)
            except Failure as failure:
                outcome = BREAKER_OUTCOME.get(failure.kind, Outcome.FAILURE)
                self.breaker.finish(int(epoch), outcome, self.now, failure.kind)
                raise
            self.breaker.finish(int(epoch), Outcome.SUCCESS, self.now)
            return value

        return run

    def _pool(self, inner: Run) -> Run:
        def run(args: tuple[Any, ...]) -> Any:
            assert self.pool is not None
            try:
                rid = self.pool.checkout(self.now)
            except Refused as refused:
                kind = refused.kind
                assert kind == "timeout", kind
                raise Failure("timeout") from None
            try:
                return inner((rid, *args))
            finally:
                self.pool.checkin(self.now, rid)

        return run

    # ---------------------------------------------------------------- metrics

    def metrics(self) -> dict[str, dict[str, int]]:
        """What ``pipeline.metrics()`` must equal (each layer present, in the spec's order)."""
        snapshot = {"pipeline": dict(self.counts["pipeline"])}
        for name in self.spec.order:
            if name == "rate_limit":
                snapshot[name] = dict(self.counts["rate_limit"])
            elif name == "bulkhead":
                assert self.bulkhead is not None
                snapshot[name] = dict(self.bulkhead.counts)
            elif name == "retry":
                snapshot[name] = dict(self.counts["retry"])
            elif name == "breaker":
                assert self.breaker is not None
                snapshot[name] = dict(self.breaker.counters)
            else:
                assert self.pool is not None
                snapshot[name] = dict(self.pool.counts)
        return snapshot
