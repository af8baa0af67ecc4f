"""Every machine and every target it can run against, by name: how a regression program's
``machine`` and ``target`` fields become a machine class again (and what ``fuzz`` will run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine

from properties.harness.coverage import CoverageTracker

__all__ = ["MACHINES", "REAL_TARGETS", "coverage_labels", "machine_class", "rule_names", "targets"]

#: Machine ids, in the order a run visits them.
MACHINES = ("breaker", "bulkhead", "chain", "pool", "ratelimit")

#: The targets that are our real implementations (what ``fuzz`` runs by default): every other
#: target is a planted bug, or the unfixed base package the breaker machine is known to fail.
REAL_TARGETS: dict[str, tuple[str, ...]] = {
    "breaker": ("resilience.CircuitBreaker",),
    "bulkhead": ("sync", "async"),
    "chain": ("resilience",),
    "pool": ("sync", "async"),
    "ratelimit": ("fixed_window", "gcra", "sliding_counter", "sliding_log", "token_bucket"),
}


def _breaker() -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    from properties.machines.breaker import breaker_machine
    from properties.mutants.breaker import BREAKER_MUTANTS
    from properties.targets.breaker import BASE_PACKAGE, RESILIENCE, resilience_target

    found = {RESILIENCE.name: RESILIENCE, BASE_PACKAGE.name: BASE_PACKAGE}
    found |= {name: resilience_target(name, cls) for name, cls in BREAKER_MUTANTS.items()}
    return found, breaker_machine


def _bulkhead() -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    from properties.machines.bulkhead import bulkhead_machine
    from properties.mutants.bulkhead import BULKHEAD_MUTANTS
    from properties.targets.bulkhead import BULKHEAD_TARGETS, bulkhead_target

    found = dict(BULKHEAD_TARGETS)
    found |= {name: bulkhead_target(a, cls, name) for name, (a, cls) in BULKHEAD_MUTANTS.items()}
    return found, bulkhead_machine


def _chain() -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    from properties.machines.chain import chain_machine
    from properties.mutants.chain import CHAIN_MUTANTS
    from properties.targets.chain import RESILIENCE

    return {RESILIENCE.name: RESILIENCE, **CHAIN_MUTANTS}, chain_machine


def _pool() -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    from properties.machines.pool import pool_machine
    from properties.mutants.pool import POOL_MUTANTS
    from properties.targets.pool import POOL_TARGETS, pool_target

    found = dict(POOL_TARGETS)
    found |= {name: pool_target(a, cls, name) for name, (a, cls) in POOL_MUTANTS.items()}
    return found, pool_machine


def _ratelimit() -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    import resilience
    from properties.machines.ratelimit import rate_limit_machine
    from properties.mutants.ratelimit import RATELIMIT_MUTANTS
    from properties.targets.ratelimit import LIMITER_TARGETS, limiter_target

    found = dict(LIMITER_TARGETS)
    for name, (algorithm, variant) in RATELIMIT_MUTANTS.items():
        keyed = issubclass(variant, resilience.KeyedLimiter)
        found[name] = (
            limiter_target(algorithm, keyed_class=variant, name=name)
            if keyed
            else limiter_target(algorithm, limiter_class=variant, name=name)
        )
    return found, rate_limit_machine


_LOADERS = {
    "breaker": _breaker,
    "bulkhead": _bulkhead,
    "chain": _chain,
    "pool": _pool,
    "ratelimit": _ratelimit,
}


def targets(machine: str) -> dict[str, Any]:
    """The targets of ``machine`` by name: the real implementations and every planted bug."""
    return _load(machine)[0]


def machine_class(
    machine: str, target: str, coverage: CoverageTracker | None = None
) -> type[RuleBasedStateMachine]:
    """A fresh machine class checking ``target``, recording coverage into ``coverage`` if given."""
    found, factory = _load(machine)
    return factory(_target(machine, found, target), coverage)


def rule_names(cls: type[RuleBasedStateMachine]) -> tuple[str, ...]:
    """Every rule and initialize rule of the machine class ``cls``, sorted."""
    setup = cls.setup_state()
    return tuple(sorted({rule.function.__name__ for rule in (*setup.rules, *setup.initializers)}))


def coverage_labels(machine: str, target: str) -> frozenset[str]:
    """The coverage labels ``machine`` declares when it checks ``target``."""
    found = targets(machine)
    return _COVERAGE[machine](_target(machine, found, target))


def _target(machine: str, found: dict[str, Any], target: str) -> Any:
    if target not in found:
        raise LookupError(
            f"machine {machine!r} has no target {target!r} (targets: {', '.join(sorted(found))})"
        )
    return found[target]


def _breaker_labels(target: Any) -> frozenset[str]:
    from properties.machines.breaker import BREAKER_COVERAGE

    return BREAKER_COVERAGE


def _bulkhead_labels(target: Any) -> frozenset[str]:
    from properties.machines.bulkhead import bulkhead_coverage

    return bulkhead_coverage(target.asynchronous)


def _chain_labels(target: Any) -> frozenset[str]:
    from properties.machines.chain import CHAIN_COVERAGE

    return CHAIN_COVERAGE


def _pool_labels(target: Any) -> frozenset[str]:
    from properties.machines.pool import pool_coverage

    return pool_coverage(target.asynchronous)


def _ratelimit_labels(target: Any) -> frozenset[str]:
    from properties.machines.ratelimit import limit_coverage

    return limit_coverage(target.algorithm)


_COVERAGE: dict[str, Callable[[Any], frozenset[str]]] = {
    "breaker": _breaker_labels,
    "bulkhead": _bulkhead_labels,
    "chain": _chain_labels,
    "pool": _pool_labels,
    "ratelimit": _ratelimit_labels,
}


def _load(machine: str) -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    try:
        loader = _LOADERS[machine]
    except KeyError:
        raise LookupError(f"no machine {machine!r} (machines: {', '.join(MACHINES)})") from None
    return loader()
