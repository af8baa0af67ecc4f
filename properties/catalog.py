"""Every machine and every target it can run against, by name: how a regression program's
``machine`` and ``target`` fields become a machine class again (and what ``fuzz`` will run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis.stateful import RuleBasedStateMachine

__all__ = ["MACHINES", "machine_class", "targets"]

#: Machine ids, in the order a run visits them.
MACHINES = ("breaker", "bulkhead", "chain", "pool", "ratelimit")


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


def machine_class(machine: str, target: str) -> type[RuleBasedStateMachine]:
    """A fresh machine class checking ``target`` (no coverage tracking)."""
    found, factory = _load(machine)
    if target not in found:
        raise LookupError(
            f"machine {machine!r} has no target {target!r} (targets: {', '.join(sorted(found))})"
        )
    return factory(found[target])


def _load(machine: str) -> tuple[dict[str, Any], Callable[..., type[RuleBasedStateMachine]]]:
    try:
        loader = _LOADERS[machine]
    except KeyError:
        raise LookupError(f"no machine {machine!r} (machines: {', '.join(MACHINES)})") from None
    return loader()
