"""The validated configuration tree: immutable, plain data, exactly what the file said.

``ResilienceConfig(defaults, operations)`` holds one ``OperationConfig`` for the defaults and one
per named operation. An ``OperationConfig`` keeps only what was written: a field is ``None`` when
it was not given, ``False`` when it was switched off (``retry = false``), otherwise the value
(a ``Section`` of settings for a component). Merging presets and defaults into an operation is
``resolve``'s job (``merge.py``); the tree itself never invents a value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = ["SECTIONS", "OperationConfig", "ResilienceConfig", "Section", "Value"]

#: What a setting may hold: numbers, strings, flags, lists of names (as tuples), ``None``.
Value = int | float | str | bool | tuple[str, ...] | None

#: The component sections of an operation, outermost layer first (``Pipeline``'s layer names).
SECTIONS = ("rate_limit", "bulkhead", "retry", "breaker", "pool")


class Section(Mapping[str, Value]):
    """An immutable mapping of one component's settings (key -> value), hashable, and equal to
    any mapping of the same settings: that is how ``reconfigure`` knows a component did not
    change."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Value] | None = None) -> None:
        self._items: Mapping[str, Value] = MappingProxyType(dict(items or {}))

    def __getitem__(self, key: str) -> Value:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):  # equal to any mapping of the same settings
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Section({dict(self._items)!r})"


#: A section as written: settings, ``False`` (switched off), or ``None`` (not given).
Given = Section | Literal[False] | None


@dataclass(frozen=True, slots=True)
class OperationConfig:
    """One operation's settings (or the defaults'), as written. ``preset`` names a preset
    (``False``: none, even if the defaults name one); ``order`` lists layer names outermost
    first (``None``: ``Pipeline``'s default order)."""

    preset: str | Literal[False] | None = None
    order: tuple[str, ...] | None = None
    rate_limit: Given = None
    bulkhead: Given = None
    retry: Given = None
    breaker: Given = None
    pool: Given = None

    def section(self, name: str) -> Given:
        """The section called ``name`` (one of ``SECTIONS``)."""
        if name not in SECTIONS:
            raise KeyError(name)
        value: Given = getattr(self, name)
        return value


def _no_operations() -> Mapping[str, OperationConfig]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ResilienceConfig:
    """The whole configuration: ``defaults`` merged under every one of ``operations``."""

    defaults: OperationConfig = field(default_factory=OperationConfig)
    operations: Mapping[str, OperationConfig] = field(default_factory=_no_operations)

    def __post_init__(self) -> None:
        # A read-only copy: the caller's dict cannot change the tree afterwards.
        object.__setattr__(self, "operations", MappingProxyType(dict(self.operations)))
