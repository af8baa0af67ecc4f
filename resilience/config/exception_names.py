"""Exception classes named in a file (``retry_on``, ``expected_exception``): looked up in
``builtins`` and ``resilience.errors`` only, never imported by a dotted path, so a configuration
file cannot make the library import arbitrary code."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from types import MappingProxyType

from resilience import errors
from resilience.errors import ConfigError

__all__ = ["EXCEPTIONS", "exception_classes"]


def _classes() -> Mapping[str, type[BaseException]]:  # pragma: no mutate block
    found: dict[str, type[BaseException]] = {}
    for name, value in vars(builtins).items():
        if isinstance(value, type) and issubclass(value, BaseException):
            found[name] = value
    for name in errors.__all__:
        found[name] = getattr(errors, name)
    return MappingProxyType(found)


#: Every exception class a file may name, by name.
EXCEPTIONS = _classes()


def exception_classes(field: str, names: tuple[str, ...]) -> tuple[type[BaseException], ...]:
    """The classes ``names`` stand for; ``ConfigError`` at ``field`` for a name that is neither
    a builtin exception nor one of ``resilience.errors``. Whether the classes suit the component
    (non-empty, ``Exception`` subclasses for a breaker) is the component's own check."""
    classes = []
    for name in names:
        found = EXCEPTIONS.get(name)
        if found is None:
            raise ConfigError(
                field,
                list(names),
                f"{name!r} is not an exception class of builtins or resilience.errors",
            )
        classes.append(found)
    return tuple(classes)
