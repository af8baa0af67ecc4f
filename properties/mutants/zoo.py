"""The zoo: every planted bug, with its component, its bug class and the slip it stands for, and
how the suite kills it (the machine it runs against, or the property it must falsify).

The variants themselves live next to their component (``breaker.py``, ``ratelimit.py``, ...);
this module only names them. ``python -m properties mutants`` runs the kill matrix over the
zoo, and ``properties/test_zoo.py`` guards it under the ``ci`` profile. A new variant is added to
its component's table and given a bug class below; ``test_zoo.py`` fails until it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis.stateful import get_state_machine_test

__all__ = ["BUG_CLASSES", "COMPONENTS", "REQUIRED", "CaseCounter", "Mutant", "zoo"]

#: The component families, in report order, and the ones the zoo must hold at least ten of.
COMPONENTS = (
    "breaker",
    "token_bucket_gcra",
    "window",
    "keyed",
    "pool",
    "retry",
    "chain",
    "bulkhead",
)
REQUIRED = ("breaker", "token_bucket_gcra", "window", "keyed", "pool", "retry", "chain")

#: The slips, as ../shared/notes/bug-classes.md and the peers' trackers name them.
BUG_CLASSES = {
    "boundary": "`>` for `>=`, or off by one",
    "stale-state": "state kept past the point it stops being true (after a reset, a gap, a change)",
    "lost-update": "an update lost, or read from a copy that went stale",
    "leak-on-error": "a permit, slot or resource kept when the call raises or is cancelled",
    "double-release": "released twice, or released without being held",
    "missed-wakeup": "a grant or a return that wakes nobody",
    "unfair": "a newcomer overtakes a waiter, or the wrong end of a queue is served",
    "missing-cap": "a bound that is not enforced",
    "unchecked-input": "input outside the contract accepted silently",
    "arithmetic": "float, rounding or an inverted formula",
    "wrong-clock": "time measured from the wrong origin or restarted",
    "ignored-setting": "a configured option or predicate never consulted",
    "query-mutates": "a read-only question that changes state",
    "wrong-accounting": "a counter or event that does not follow what happened",
    "wrong-order": "layers composed in the wrong order",
    "wrong-error": "the wrong exception reaches the caller",
    "key-collision": "two keys share one state",
    "deadline-ignored": "a wait that runs past its deadline",
    "missing-gate": "a concurrency gate that admits everyone",
    "check-then-act": "a check and the act it justifies in separate critical sections (a race)",
}

_CLASS_OF: dict[str, str] = {
    # breaker
    "RecoveryBoundaryExclusive": "boundary",
    "IgnoredExceptionResetsCount": "ignored-setting",
    "HalfOpenAdmitsEveryone": "missing-gate",
    "ForgetsEarlierProbes": "stale-state",
    "SuccessThresholdOffByOne": "boundary",
    "RateWindowNeverEvicts": "stale-state",
    "LateOutcomesCount": "stale-state",
    "IgnoredProbeKeepsSlot": "leak-on-error",
    "ResetKeepsFailures": "stale-state",
    "QuietSuccessGoesStale": "lost-update",
    "StatusPolicyMislabelled": "wrong-accounting",
    # bulkhead
    "AdmitsOneTooMany": "boundary",
    "CountedOnlyWhenListened": "wrong-accounting",
    "ReleaseSkippedOnError": "leak-on-error",
    "ExitReleasesTwice": "double-release",
    "CancelledWaiterKeepsPermit": "leak-on-error",
    "GrantWithoutWakeUp": "missed-wakeup",
    "Barging": "unfair",
    "TimedOutWaiterStaysQueued": "leak-on-error",
    "CancellationLeaksPermit": "leak-on-error",
    # pool
    "DoubleCheckinAccepted": "double-release",
    "OverflowKeptIdle": "missing-cap",
    "FactoryFailureLeaksSlot": "leak-on-error",
    "ExpiredHandedOut": "stale-state",
    "LifoFifoSwapped": "unfair",
    "QuietReturnKeepsOverflow": "missing-cap",
    "CancelledCreateKeepsSlot": "leak-on-error",
    "CancelledValidationLosesResource": "leak-on-error",
    "CancelledWaiterKeepsSlot": "leak-on-error",
    "ReturnIgnoresWaiters": "missed-wakeup",
    # rate limiters
    "CostAboveLimitClamped": "unchecked-input",
    "RefillNotCapped": "missing-cap",
    "BucketFloatArithmetic": "arithmetic",
    "RetryAfterRoundedDown": "arithmetic",
    "AcquireDeadlineInclusive": "boundary",
    "GcraToleranceExclusive": "boundary",
    "RejectionDrainsBucket": "wrong-accounting",
    "RemainingRoundedUp": "arithmetic",
    "GcraIdleBanksCredit": "missing-cap",
    "GcraRetryAfterWholeCost": "arithmetic",
    "StatusRatePerNanosecond": "arithmetic",
    "StatusTokensTruncated": "arithmetic",
    "DeadlineResetEachLoop": "wrong-clock",
    "DeadlineOnlyFirstLoop": "deadline-ignored",
    "RejectionsCountInFixedWindow": "wrong-accounting",
    "FixedWindowFromFirstRequest": "wrong-clock",
    "FixedWindowLimitExclusive": "boundary",
    "LogBoundaryInclusive": "boundary",
    "LogRetryFromNewest": "wrong-order",
    "LogCheckConsumes": "query-mutates",
    "LogCompactionKeepsTotals": "stale-state",
    "CounterWeightInverted": "arithmetic",
    "CounterFloatTime": "arithmetic",
    "CounterStaleAfterGap": "stale-state",
    "EvictsThrottledKey": "stale-state",
    "KeysTruncated": "key-collision",
    "SharedStateAcrossKeys": "key-collision",
    "EvictionNotCounted": "wrong-accounting",
    "EvictionNotAnnounced": "wrong-accounting",
    "SweepDropsThrottledKeys": "stale-state",
    "EvictsWhenDisabled": "ignored-setting",
    "KeyedCostIgnored": "unchecked-input",
    "KeyedCheckConsumes": "query-mutates",
    "KeyedRejectionCountedAsAdmission": "wrong-accounting",
    "HalfOpenCheckSplit": "check-then-act",
    "ProbeSlotFreedBeforeOutcome": "wrong-order",
    "SplitAdmissionCheck": "check-then-act",
    "WaitDecidedUnlocked": "missed-wakeup",
    "StaleReturnDecision": "missed-wakeup",
    "ValidatedBeforeTaken": "check-then-act",
    "PeekedIdleCandidate": "check-then-act",
    "SlotCheckedBeforeLock": "check-then-act",
    "ReleaseChecksQueueUnlocked": "missed-wakeup",
    "UnlockedTokenDecrement": "lost-update",
    "KeyCreatedOutsideLock": "check-then-act",
    # retry
    "CircuitOpenRetried": "wrong-order",
    "RateLimitedPastDeadline": "deadline-ignored",
    "UncappedBackoff": "missing-cap",
    "OneAttemptTooMany": "boundary",
    "GlobalRandomJitter": "ignored-setting",
    "DeadlineIgnoresNextDelay": "deadline-ignored",
    "LastErrorWrapped": "wrong-error",
    "RetryAfterIgnored": "ignored-setting",
    "PredicateIgnored": "ignored-setting",
    "FatalRetried": "ignored-setting",
    # chain
    "RetryWrapsOpenBreaker": "wrong-order",
    "FallbackSwallowsInside": "wrong-order",
    "ReversedRetryBreaker": "wrong-order",
    "LimiterChargedPerAttempt": "wrong-order",
    "LeaseNotReturnedOnRaise": "leak-on-error",
    "BulkheadInsideRetry": "wrong-order",
    "PoolOutsideRetry": "wrong-order",
    "BulkheadBeforeRateLimit": "wrong-order",
    "FallbackCountedAsSuccess": "wrong-accounting",
    "FallbackSkipsRefusals": "wrong-order",
    "LeaseCachedAcrossCalls": "stale-state",
}


class CaseCounter:
    """Counts the test cases a check runs, and notes how many had run when the first one failed
    (Hypothesis runs a failing case again to report it: that rerun is not a new test case)."""

    def __init__(self) -> None:
        self.runs = 0
        self.first_failure: int | None = None

    def wrap(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.runs += 1
            try:
                return inner(*args, **kwargs)
            except UnsatisfiedAssumption:  # an example Hypothesis throws away, not a failure
                raise
            except Exception:  # (StopTest, a BaseException, ends an example that ran out of data)
                if self.first_failure is None:
                    self.first_failure = self.runs
                raise

        return counted

    @property
    def to_failure(self) -> int:
        """Test cases up to and including the first failing one (all of them, if none failed)."""
        return self.runs if self.first_failure is None else self.first_failure


#: A run of the check that must fail: called with the settings to run under, the counter of its
#: test cases, and a seed (None: as the settings say).
Runner = Callable[[settings, CaseCounter, int | None], None]


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str  # unique across the zoo (a component's name when two share one: "pool.X")
    variant: str  # the variant's own name in its component's table
    component: str
    bug_class: str
    slip: str  # one line: the real-world slip it stands for
    killer: str  # "machine <id>" or "property <name>"
    concurrency: bool  # killed by threads (issue 8's checker), not by a sequential machine
    run: Runner = dataclasses.field(repr=False, compare=False)


def _slip(cls: type, variant: str) -> str:
    """The first sentence of the docstring of the class the variant is named after (a pool or
    bulkhead variant is a core class, wrapped in a front class built for it)."""
    core = getattr(cls, "_core_class", None)
    candidates = (*cls.__mro__, *(core.__mro__ if isinstance(core, type) else ()))
    named = next((klass for klass in candidates if klass.__name__ == variant), cls)
    doc = " ".join((named.__doc__ or "").split())
    if not doc:
        raise ValueError(f"the planted bug {cls.__name__} has no docstring saying what it is")
    end = doc.find(". ")
    return doc if end < 0 else doc[: end + 1]


def _machine(machine: str, target: str) -> Runner:
    def run(options: settings, counter: CaseCounter, seed: int | None) -> None:
        from properties import catalog

        test = get_state_machine_test(catalog.machine_class(machine, target), settings=options)
        _count_cases(test, counter)
        test._hypothesis_internal_use_seed = seed  # what @seed sets
        test()

    return run


def _property(build: Callable[[], Callable[..., None]]) -> Runner:
    def run(options: settings, counter: CaseCounter, seed: int | None) -> None:
        test = options(build())
        _count_cases(test, counter)
        test._hypothesis_internal_use_seed = seed  # what @seed sets
        test()

    return run


def _count_cases(test: Any, counter: CaseCounter) -> None:
    """Count the test cases ``test`` (a ``@given`` test) runs: Hypothesis lets plugins replace
    ``test.hypothesis.inner_test``."""
    test.hypothesis.inner_test = counter.wrap(test.hypothesis.inner_test)


def _retry_property(variant: type) -> Callable[[], Callable[..., None]]:
    def build() -> Callable[..., None]:
        from properties.test_retry_properties import check_retry, retry_cases

        @given(retry_cases(variant))
        def falsify(case: Any) -> None:
            check_retry(case)

        return falsify

    return build


def _deadline_property(variant: type) -> Callable[[], Callable[..., None]]:
    def build() -> Callable[..., None]:
        from properties.test_ratelimit_waiting import deadline_kept

        return deadline_kept(variant)

    return build


#: The parallel components' names (``Component.name``) -> the zoo's component families.
_PARALLEL_FAMILY = {
    "breaker": "breaker",
    "token bucket": "token_bucket_gcra",
    "keyed limiter": "keyed",
    "pool": "pool",
    "bulkhead": "bulkhead",
}
#: The modules of planted concurrency bugs: each has ``RACES``, variant name -> component over it.
RACE_MODULES = ("race_breaker", "race_ratelimit", "race_pool", "race_bulkhead")


#: Runs of each program when a race is the mutant: a race shows in some runs of the program
#: that can show it, so more runs per program make the guard's verdict depend less on the
#: machine's thread scheduling (10 seeds: every race within 265 programs of 5 runs).
RACE_RUNS = 20


def _parallel(component: Any) -> Runner:
    def build() -> Callable[..., None]:
        from properties.parallel.property import effort, given_programs

        return given_programs(component, max(effort()[1], RACE_RUNS))

    return _property(build)


def _races() -> list[tuple[str, str, type, str, Runner]]:
    """The concurrency bugs: killed by the parallel checker (issue 8), on real threads."""
    import importlib

    found = []
    for module_name in RACE_MODULES:
        module = importlib.import_module(f"properties.mutants.{module_name}")
        for name, component in module.RACES.items():
            family = _PARALLEL_FAMILY[component.name]
            killer = f"parallel {component.name}"
            found.append((family, name, getattr(module, name), killer, _parallel(component)))
    return found


def _entries() -> list[Mutant]:
    from properties.mutants.breaker import BREAKER_MUTANTS
    from properties.mutants.bulkhead import BULKHEAD_MUTANTS
    from properties.mutants.chain import CHAIN_MUTANTS, VARIANT_CLASSES
    from properties.mutants.pool import POOL_MUTANTS
    from properties.mutants.ratelimit import (
        RATELIMIT_MUTANTS,
        DeadlineOnlyFirstLoop,
        DeadlineResetEachLoop,
    )
    from properties.mutants.retry import RETRY_MUTANTS
    from resilience import KeyedLimiter

    found: list[tuple[str, str, type, str, Runner]] = []  # component, variant, class, killer
    for name, cls in BREAKER_MUTANTS.items():
        found.append(("breaker", name, cls, "machine breaker", _machine("breaker", name)))
    for name, (_, cls) in BULKHEAD_MUTANTS.items():
        found.append(("bulkhead", name, cls, "machine bulkhead", _machine("bulkhead", name)))
    for name, (_, cls) in POOL_MUTANTS.items():
        found.append(("pool", name, cls, "machine pool", _machine("pool", name)))
    for name, (algorithm, cls) in RATELIMIT_MUTANTS.items():
        if issubclass(cls, KeyedLimiter):
            component = "keyed"
        elif algorithm in ("token_bucket", "gcra"):
            component = "token_bucket_gcra"
        else:
            component = "window"
        found.append((component, name, cls, "machine ratelimit", _machine("ratelimit", name)))
    for cls in (DeadlineResetEachLoop, DeadlineOnlyFirstLoop):
        run = _property(_deadline_property(cls))
        found.append(("token_bucket_gcra", cls.__name__, cls, "property deadline_kept", run))
    for name, cls in RETRY_MUTANTS.items():
        found.append(("retry", name, cls, "property check_retry", _property(_retry_property(cls))))
    for name in CHAIN_MUTANTS:
        found.append(
            ("chain", name, VARIANT_CLASSES[name], "machine chain", _machine("chain", name))
        )
    found += _races()
    names = [variant for _, variant, *_ in found]
    mutants = []
    for component, variant, cls, killer, run in found:
        unique = variant if names.count(variant) == 1 else f"{component}.{variant}"
        mutants.append(
            Mutant(
                name=unique,
                variant=variant,
                component=component,
                bug_class=_CLASS_OF.get(variant, ""),
                slip=_slip(cls, variant),
                killer=killer,
                concurrency=bool(getattr(cls, "concurrency", False)),
                run=run,
            )
        )
    return mutants


_ZOO: list[Mutant] | None = None


def zoo() -> list[Mutant]:
    """Every planted bug, by component then name."""
    global _ZOO
    if _ZOO is None:
        order = {component: index for index, component in enumerate(COMPONENTS)}
        _ZOO = sorted(_entries(), key=lambda m: (order[m.component], m.name))
    return _ZOO
