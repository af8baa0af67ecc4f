"""Precedence: what an operation ends up with, and where each of its values came from.

Three layers, lowest first, each overriding the one below it *setting by setting*:

1. the preset: the operation's ``preset`` if it names one, else the defaults' (``preset =
   false`` in the operation: no preset at all);
2. the defaults' explicit values;
3. the operation's explicit values.

``order`` is the operation's if given, else the defaults'. A section that any layer gives
exists (so a default ``rate_limit`` gives every operation its own limiter); ``false`` in a layer
removes that section together with everything below it, and a higher layer may start it afresh.

The breaker has two failure policies that exclude each other: ``failure_threshold`` (consecutive
failures) or ``failure_rate_threshold`` with ``window_size`` and ``minimum_calls``. A layer that
sets any setting of one policy drops the other policy's settings from the layers below it, so an
operation can choose a failure rate over its preset's threshold; within one layer, setting both
is an error (the breaker's own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from resilience.config.presets import PRESETS
from resilience.config.schema import SECTIONS, OperationConfig, Section, Value

__all__ = ["DEFAULTS", "OPERATION", "Resolved", "resolve"]

#: ``Resolved.sources`` values, besides ``"preset <name>"``.
OPERATION = "operation"
DEFAULTS = "defaults"

_CONSECUTIVE = frozenset({"failure_threshold"})
_RATE = frozenset({"failure_rate_threshold", "window_size", "minimum_calls"})
# (section, setting) -> the settings of the rival policy that setting it drops from below.
_DROPS: Mapping[tuple[str, str], frozenset[str]] = {
    **{("breaker", key): _RATE for key in _CONSECUTIVE},
    **{("breaker", key): _CONSECUTIVE for key in _RATE},
}


@dataclass(frozen=True, slots=True)
class Resolved:
    """Operation ``name`` with presets and defaults merged in (a section is ``None`` when absent
    or switched off); ``sources["retry.max_delay"]`` says which layer a value came from
    (``"operation"``, ``"defaults"`` or ``"preset <name>"``), for error messages."""

    name: str
    operation: OperationConfig
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def resolve(name: str, operation: OperationConfig, defaults: OperationConfig) -> Resolved:
    """Merge ``defaults`` and the preset under ``operation`` (see the module docstring)."""
    preset = operation.preset if operation.preset is not None else defaults.preset
    sources: dict[str, str] = {}
    layers: list[tuple[str, Mapping[str, object]]] = []
    if preset:
        layers.append((f"preset {preset}", PRESETS[preset]))
    layers += [(DEFAULTS, _given(defaults)), (OPERATION, _given(operation))]

    order = defaults.order
    if operation.order is not None:
        order, sources["order"] = operation.order, OPERATION
    elif order is not None:
        sources["order"] = DEFAULTS
    sections = {s: _merged(s, layers, sources) for s in SECTIONS}
    merged = OperationConfig(preset=preset or None, order=order, **sections)
    return Resolved(name, merged, MappingProxyType(sources))


def _given(operation: OperationConfig) -> Mapping[str, object]:
    return {s: operation.section(s) for s in SECTIONS if operation.section(s) is not None}


def _merged(
    section: str, layers: list[tuple[str, Mapping[str, object]]], sources: dict[str, str]
) -> Section | None:
    values: dict[str, Value] = {}
    origin: dict[str, str] = {}
    present = False
    for source, layer in layers:
        given = layer.get(section)
        if given is None:
            continue
        if given is False:  # switched off here: nothing below survives
            present = False
            values.clear()
            origin.clear()
            continue
        assert isinstance(given, Mapping)
        present = True
        for key in given:
            for dropped in _DROPS.get((section, key), frozenset()) - given.keys():
                values.pop(dropped, None)
                origin.pop(dropped, None)
        for key, value in given.items():
            values[key], origin[key] = value, source
    if not present:
        return None
    sources.update({f"{section}.{key}": source for key, source in origin.items()})
    return Section(values)
