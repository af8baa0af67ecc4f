"""Which settings each section takes, and the type each must have in a file.

Only types are checked here, and only where the components would accept something a file must
not hold (a ``timedelta``, a ``Fraction``, a tuple of classes): whether a value is in range is
the component's own check, made by building it (``build.py``). ``True`` is never an integer and
``"5"`` is never a number. ``nullable`` settings accept ``null`` (JSON; TOML has no null), which
means what ``None`` means to the component: no limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from resilience.config.exception_names import exception_classes
from resilience.config.schema import Value
from resilience.errors import ConfigError

__all__ = ["ALGORITHMS", "FIELDS", "REQUIRED", "Kind", "checked_value"]

#: The rate limiting algorithms, by the name a file uses (each class's ``algorithm``).
ALGORITHMS = ("token_bucket", "gcra", "fixed_window", "sliding_log", "sliding_counter")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_flag(value: object) -> bool:
    return isinstance(value, bool)


def _is_names(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _is_algorithm(value: object) -> bool:
    return isinstance(value, str) and value in ALGORITHMS


@dataclass(frozen=True, slots=True)
class Kind:
    """A setting's type: ``noun`` says what it must be, ``unit`` is shown after its values in
    the README's tables."""

    noun: str
    test: Callable[[object], bool]
    nullable: bool = False
    unit: str = ""

    def or_null(self) -> Kind:  # pragma: no mutate block
        return Kind(self.noun + " or null (no limit)", self.test, True, self.unit)


COUNT = Kind("an integer", _is_int)
SECONDS = Kind("a number of seconds", _is_number, unit=" s")
NUMBER = Kind("a number", _is_number)
FLAG = Kind("true or false", _is_flag)
NAMES = Kind("a list of exception class names", _is_names)
ALGORITHM = Kind(f"one of {', '.join(ALGORITHMS)}", _is_algorithm)

#: Every setting of every section, with its kind.
FIELDS: Mapping[str, Mapping[str, Kind]] = MappingProxyType(
    {
        "rate_limit": {
            "algorithm": ALGORITHM,
            "limit": COUNT,
            "per": SECONDS,
            "burst": COUNT,
            "cost": COUNT,
            "wait": SECONDS.or_null(),
        },
        "bulkhead": {"max_concurrent": COUNT, "max_wait": SECONDS.or_null()},
        "retry": {
            "max_attempts": COUNT.or_null(),
            "deadline": SECONDS.or_null(),
            "base_delay": SECONDS,
            "max_delay": SECONDS,
            "retry_on": NAMES,
        },
        "breaker": {
            "failure_threshold": COUNT,
            "recovery_timeout": SECONDS,
            "half_open_max_calls": COUNT,
            "success_threshold": COUNT,
            "failure_rate_threshold": NUMBER,
            "window_size": COUNT,
            "minimum_calls": COUNT,
            "expected_exception": NAMES,
        },
        "pool": {
            "size": COUNT,
            "max_overflow": COUNT,
            "timeout": SECONDS.or_null(),
            "lifo": FLAG,
            "max_lifetime": SECONDS.or_null(),
            "max_idle": SECONDS.or_null(),
            "leak_threshold": SECONDS.or_null(),
        },
    }
)

#: Settings a section cannot do without (once presets and defaults are merged in): the
#: component has no default for them.
REQUIRED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "rate_limit": ("algorithm", "limit", "per"),
        "bulkhead": ("max_concurrent",),
        "pool": ("size",),
    }
)


def checked_value(field: str, kind: Kind, value: object) -> Value:
    """``value`` if it is of ``kind`` (a list of names becomes a tuple, each name resolved
    once so an unknown one is reported where it is written); else ``ConfigError`` at
    ``field``."""
    if value is None and kind.nullable:
        return None
    if not kind.test(value):
        raise ConfigError(field, value, f"must be {kind.noun}")
    if kind is NAMES:
        names: tuple[str, ...] = tuple(value)  # type: ignore[arg-type]  # list/tuple of str
        exception_classes(field, names)
        return names
    return value  # type: ignore[return-value]  # a number, str or bool: just tested
