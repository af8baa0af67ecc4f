"""Plain data (a dict, or what JSON or TOML decoded) into the configuration tree, checking its
shape: tables where tables belong, no unknown key anywhere, every setting of the right type, and
presets that exist. Each error names the full dotted path of what is wrong, e.g.
``operations.search.retry.max_attempts``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Literal

from resilience.chain import DEFAULT_ORDER
from resilience.config.fields import FIELDS, checked_value
from resilience.config.presets import PRESETS
from resilience.config.schema import SECTIONS, Given, OperationConfig, ResilienceConfig, Section
from resilience.errors import ConfigError

__all__ = [
    "ROOT",
    "checked_operation_name",
    "parse_config",
    "parse_operation",
    "unknown_operation",
]

#: The ``field`` of an error about the whole document (not a table, unknown top-level key).
ROOT = "config"

_TOP = ("defaults", "operations")
_OPERATION = ("preset", "order", *SECTIONS)
# Letters, digits, "_" and "-": a dot or a space would make error paths ambiguous.
_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _table(path: str, value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ConfigError(path, value, "must be a table (a JSON object)")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(path, key, "keys must be strings")
    return value


def _join(path: str, key: str) -> str:
    return key if path == ROOT else f"{path}.{key}"


def _unknown(path: str, key: str, value: object, known: tuple[str, ...]) -> ConfigError:
    rule = f"unknown key; expected one of: {', '.join(known)}"
    if key == "fallback":
        rule = "cannot come from a file: a fallback is code (Pipeline(fallback=...))"
    return ConfigError(_join(path, key), value, rule)


def checked_operation_name(name: object) -> str:
    """An operation's name: a non-empty string of letters, digits, ``_`` and ``-``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            "operations" if not isinstance(name, str) else f"operations.{name}",
            name,
            "an operation's name must be a non-empty string of letters, digits, '_' and '-'",
        )
    return name


def unknown_operation(name: object, known: Iterable[str]) -> KeyError:
    """The error for a name that is not an operation, listing the ones that are."""
    listed = ", ".join(repr(k) for k in known) or "none"
    return KeyError(f"no operation named {name!r}; known operations: {listed}")


def parse_config(raw: object) -> ResilienceConfig:
    """``{"defaults": {...}, "operations": {name: {...}}}`` (both optional) as a tree."""
    top = _table(ROOT, raw)
    for key, value in top.items():
        if key not in _TOP:
            raise _unknown(ROOT, key, value, _TOP)
    defaults = parse_operation("defaults", top.get("defaults", {}))
    operations = {}
    for name, section in _table("operations", top.get("operations", {})).items():
        operations[checked_operation_name(name)] = parse_operation(f"operations.{name}", section)
    return ResilienceConfig(defaults, operations)


def parse_operation(path: str, raw: object) -> OperationConfig:
    """One operation's table (or the defaults'), found at ``path``."""
    table = _table(path, raw)
    for key, value in table.items():
        if key not in _OPERATION:
            raise _unknown(path, key, value, _OPERATION)
    sections = {name: _section(f"{path}.{name}", name, table.get(name)) for name in SECTIONS}
    return OperationConfig(
        preset=_preset(f"{path}.preset", table.get("preset")),
        order=_order(f"{path}.order", table.get("order")),
        **sections,
    )


def _preset(path: str, value: object) -> str | Literal[False] | None:
    if value is None or value is False:
        return value
    if not isinstance(value, str) or value not in PRESETS:
        raise ConfigError(path, value, f"must be one of {', '.join(PRESETS)}, or false")
    return value


def _order(path: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(path, value, f"must be a list of layer names from {DEFAULT_ORDER}")
    return tuple(value)  # which names, and whether each layer is configured: Pipeline checks


def _section(path: str, name: str, value: object) -> Given:
    if value is None or value is False:
        return value
    if value is True:
        raise ConfigError(path, value, "must be a table of settings, or false to leave it out")
    table = _table(path, value)
    kinds = FIELDS[name]
    settings = {}
    for key, setting in table.items():
        kind = kinds.get(key)
        if kind is None:
            raise _unknown(path, key, setting, tuple(kinds))
        settings[key] = checked_value(f"{path}.{key}", kind, setting)
    return Section(settings)
