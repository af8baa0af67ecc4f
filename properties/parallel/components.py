"""Every component the parallel checker covers, by name (the CLI and the tests use this)."""

from __future__ import annotations

from properties.parallel.breaker import BREAKER
from properties.parallel.bulkhead import BULKHEAD
from properties.parallel.harness import Component
from properties.parallel.pool import POOL
from properties.parallel.ratelimit import KEYED, TOKEN_BUCKET

__all__ = ["COMPONENTS"]

COMPONENTS: dict[str, Component] = {
    "breaker": BREAKER,
    "bulkhead": BULKHEAD,
    "token_bucket": TOKEN_BUCKET,
    "keyed": KEYED,
    "pool": POOL,
}


def planted() -> dict[str, Component]:
    """The planted concurrency bugs, by variant name: each a component over its variant."""
    import importlib

    from properties.mutants.zoo import RACE_MODULES

    found: dict[str, Component] = {}
    for module_name in RACE_MODULES:
        found.update(importlib.import_module(f"properties.mutants.{module_name}").RACES)
    return found


def targets() -> dict[str, Component]:
    """What ``python -m properties parallel --component`` accepts: components, then bugs."""
    return {**COMPONENTS, **planted()}
