"""``load_config``: a dict, or a ``.json`` or ``.toml`` file, into a validated, immutable tree.

Validation is complete: the shape and types are checked as the tree is built (``parse.py``),
then every operation is resolved (``merge.py``) and its components and pipeline are built once
and thrown away (``build.py``), so every range and combination the components check is checked
here too, with the full path of the setting. A pool is built with a stand-in factory (never
called): the real one is code, given later (``Resilience(factories=...)``).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from resilience.clock import SystemClock
from resilience.config.build import PoolCallbacks, build_operation
from resilience.config.merge import resolve
from resilience.config.parse import parse_config
from resilience.config.schema import ResilienceConfig
from resilience.errors import ConfigError

__all__ = ["load_config", "validate_config"]

#: The ``field`` of an error about the file itself (missing, unreadable, malformed).
SOURCE = "source"


def _never_called() -> Any:
    raise AssertionError("validation never leases from a pool")


_STAND_IN = PoolCallbacks(factory=_never_called)


def validate_config(config: ResilienceConfig) -> ResilienceConfig:
    """``config`` itself, once every operation's components and pipeline have been built from
    it without error (``ConfigError`` with the full path otherwise)."""
    clock = SystemClock()
    for name, operation in config.operations.items():
        resolved = resolve(name, operation, config.defaults)
        build_operation(resolved, callbacks=_STAND_IN, clock=clock)
    return config


def load_config(source: object) -> ResilienceConfig:
    """A validated ``ResilienceConfig`` from a mapping, a ``ResilienceConfig``, or the path (a
    ``str`` or ``os.PathLike``) of a UTF-8 ``.json`` or ``.toml`` file. Every error is a
    ``ConfigError``: a missing or unreadable file, another suffix, or malformed JSON or TOML
    (naming the file, with the parser's line and column) at ``source``, and a bad setting at
    its full dotted path."""
    if isinstance(source, ResilienceConfig):
        return validate_config(source)
    if isinstance(source, str | os.PathLike):
        return validate_config(parse_config(_read(Path(source))))
    return validate_config(parse_config(source))


def _read(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(SOURCE, str(path), "must be a .json or .toml file")
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(SOURCE, str(path), "no such file") from None
    except OSError as error:
        raise ConfigError(SOURCE, str(path), f"cannot be read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(SOURCE, str(path), f"is not UTF-8 text: {error}") from None
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            rule = f"malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            raise ConfigError(SOURCE, str(path), rule) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:  # its message ends "(at line L, column C)"
        raise ConfigError(SOURCE, str(path), f"malformed TOML: {error}") from None
