"""Rule arguments as JSON, and back: the value language of step traces and regression programs.

JSON's own values stand for themselves (``None``, ``bool``, ``int``, finite ``float``, ``str``,
``list``, and dicts whose keys are strings not starting with ``$``). Everything else is an object
with one ``$`` tag::

    {"$tuple": [1, "a"]}                 {"$fraction": "1/3"}          {"$float": "inf"}
    {"$dict": [[7, "x"], ...]}           {"$set": [...]}               {"$frozenset": [...]}
    {"$timedelta_us": 1500}
    {"$dataclass": "properties.strategies:BreakerCase", "fields": {"spec": ..., ...}}
    {"$enum": "module:Class", "name": "MEMBER"}
    {"$const": "resilience.bulkhead.base:DEFAULT"}   (a module-level object, class or function)
    {"$ref": "held_0"}                   a value a rule returned into a Bundle, by its name
    {"$choice": 2}                       the third of the options a ``sampled_from`` offered

Only frozen dataclasses are values: a mutable dataclass is state with an identity (a model's
record of a resource), so it is encoded as a ``$choice`` among the options it was drawn from, or
not at all. Classes, enums and constants are looked up only in ``ALLOWED_MODULES``: loading a
program never imports anything else.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import math
import sys
from datetime import timedelta
from fractions import Fraction
from typing import Any

__all__ = ["ALLOWED_MODULES", "Choice", "CodecError", "Ref", "decode", "encode"]

#: The packages whose classes, enums and constants a program may name.
ALLOWED_MODULES = ("properties", "resilience", "builtins")


class CodecError(ValueError):
    """A value that cannot be written as JSON, or JSON that no longer decodes to a value."""


class Ref:
    """A reference to a value a rule returned into a Bundle (``held_0``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def bundle(self) -> str:
        return self.name.rpartition("_")[0]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ref) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Ref", self.name))

    def __repr__(self) -> str:
        return self.name


class Choice:
    """The ``index``-th option of the ``sampled_from`` a value was drawn from."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Choice) and other.index == self.index

    def __hash__(self) -> int:
        return hash(("Choice", self.index))

    def __repr__(self) -> str:
        return f"<option {self.index}>"


# ---------------------------------------------------------------------------------- encoding


def encode(value: Any, where: str = "value") -> Any:
    """``value`` as JSON-able data; ``CodecError`` (naming ``where``) if it has no encoding."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list:
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if kind is tuple:
        return {"$tuple": [encode(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if kind is Fraction:
        return {"$fraction": str(value)}
    if kind is Ref:
        return {"$ref": value.name}
    if kind is Choice:
        return {"$choice": value.index}
    if kind is dict:
        if all(type(key) is str and not key.startswith("$") for key in value):
            return {key: encode(item, f"{where}[{key!r}]") for key, item in value.items()}
        return {
            "$dict": [
                [encode(key, f"{where} key"), encode(item, f"{where}[{key!r}]")]
                for key, item in value.items()
            ]
        }
    if kind is set or kind is frozenset:
        tag = "$set" if kind is set else "$frozenset"
        return {tag: [encode(item, f"{where} item") for item in value]}
    if kind is timedelta:
        return {"$timedelta_us": value // timedelta(microseconds=1)}
    if isinstance(value, enum.Enum):
        return {"$enum": _address(kind, where), "name": value.name}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        params = getattr(kind, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise CodecError(
                f"{where}: {value!r} is a mutable {kind.__qualname__} (state, not a value)"
            )
        fields = {
            field.name: encode(getattr(value, field.name), f"{where}.{field.name}")
            for field in dataclasses.fields(value)
            if field.init
        }
        return {"$dataclass": _address(kind, where), "fields": fields}
    constant = _constant_name(value)
    if constant is not None:
        return {"$const": constant}
    raise CodecError(
        f"{where}: no JSON form for {value!r} (a {kind.__module__}.{kind.__qualname__})"
    )


def _allowed(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ALLOWED_MODULES)


def _address(cls: type, where: str) -> str:
    module, qualname = cls.__module__, cls.__qualname__
    if not _allowed(module) or "<locals>" in qualname:
        raise CodecError(
            f"{where}: {module}.{qualname} cannot be named in a program (only module-level "
            f"classes of {', '.join(ALLOWED_MODULES)})"
        )
    return f"{module}:{qualname}"


def _constant_name(value: Any) -> str | None:
    """``module:name`` for a module-level class or function, or a module-level singleton such as
    a ``DEFAULT`` sentinel (found in the module that defines its class)."""
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        module, qualname = getattr(value, "__module__", None), value.__qualname__
        if module and _allowed(module) and "<" not in qualname:
            try:
                found = _lookup(module, qualname)
            except CodecError:
                return None
            return f"{module}:{qualname}" if found is value else None
        return None
    module = type(value).__module__
    if not _allowed(module) or module == "builtins":
        return None
    namespace = vars(sys.modules[module]) if module in sys.modules else {}
    for name, candidate in namespace.items():
        if candidate is value and not name.startswith("__"):
            return f"{module}:{name}"
    return None


# ---------------------------------------------------------------------------------- decoding


def decode(data: Any, where: str = "value") -> Any:
    """The value ``data`` encodes; ``CodecError`` (naming ``where``) if it no longer decodes."""
    kind = type(data)
    if data is None or kind in (bool, int, str, float):
        return data
    if kind is list:
        return [decode(item, f"{where}[{i}]") for i, item in enumerate(data)]
    if kind is not dict:
        raise CodecError(f"{where}: {data!r} is not JSON data")
    tags = [key for key in data if key.startswith("$")]
    if not tags:
        return {key: decode(item, f"{where}[{key!r}]") for key, item in data.items()}
    tag = tags[0]
    body = data[tag]
    try:
        decoder = _DECODERS[tag]
    except KeyError:
        raise CodecError(f"{where}: unknown tag {tag!r} in {data!r}") from None
    try:
        return decoder(data, body, where)
    except CodecError:
        raise
    except Exception as error:
        raise CodecError(f"{where}: {data!r} does not decode: {error!r}") from error


def _decode_dataclass(data: dict[str, Any], address: str, where: str) -> Any:
    cls = _class_at(address, where)
    if not dataclasses.is_dataclass(cls):
        raise CodecError(f"{where}: {address} is no longer a dataclass")
    raw = data.get("fields", {})
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise CodecError(
            f"{where}: {address} has no field {', '.join(map(repr, unknown))} any more "
            f"(its fields: {', '.join(fields)})"
        )
    missing = [
        name
        for name, field in fields.items()
        if name not in raw
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise CodecError(
            f"{where}: {address} now requires field {', '.join(map(repr, missing))}, "
            "which the program does not give"
        )
    values = {name: decode(item, f"{where}.{name}") for name, item in raw.items()}
    try:
        return cls(**values)
    except Exception as error:
        raise CodecError(f"{where}: {address}(**{values!r}) fails: {error!r}") from error


def _decode_enum(data: dict[str, Any], address: str, where: str) -> Any:
    cls = _class_at(address, where)
    try:
        return cls[data["name"]]
    except KeyError:
        raise CodecError(f"{where}: {address} has no member {data.get('name')!r}") from None


def _decode_float(_data: Any, body: str, where: str) -> float:
    if body not in ("inf", "-inf", "nan"):
        raise CodecError(f"{where}: {body!r} is not a special float")
    return float(body)


def _decode_const(_data: Any, address: str, where: str) -> Any:
    module, _, name = address.partition(":")
    return _lookup(module, name, where)


def _class_at(address: str, where: str) -> type:
    module, _, qualname = address.partition(":")
    found = _lookup(module, qualname, where)
    if not isinstance(found, type):
        raise CodecError(f"{where}: {address} is not a class")
    return found


def _lookup(module: str, qualname: str, where: str = "value") -> Any:
    if not _allowed(module):
        raise CodecError(f"{where}: {module} is not one of {', '.join(ALLOWED_MODULES)}")
    try:
        found: Any = importlib.import_module(module)
    except ImportError as error:
        raise CodecError(f"{where}: module {module} no longer imports: {error}") from None
    for part in qualname.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CodecError(f"{where}: {module} has no {qualname} any more") from None
    return found


def _items(body: Any, where: str) -> list[Any]:
    if type(body) is not list:
        raise CodecError(f"{where}: expected a list, got {body!r}")
    return [decode(item, f"{where}[{i}]") for i, item in enumerate(body)]


def _name(body: Any, where: str) -> str:
    if type(body) is not str or "_" not in body:
        raise CodecError(f"{where}: {body!r} is not a bundle value's name")
    return body


def _index(body: Any, where: str) -> int:
    if type(body) is not int or body < 0:
        raise CodecError(f"{where}: {body!r} is not an option number")
    return body


_DECODERS: dict[str, Any] = {
    "$tuple": lambda _d, body, where: tuple(_items(body, where)),
    "$fraction": lambda _d, body, _w: Fraction(body),
    "$float": _decode_float,
    "$dict": lambda _d, body, where: dict(_items(body, where)),
    "$set": lambda _d, body, where: set(_items(body, where)),
    "$frozenset": lambda _d, body, where: frozenset(_items(body, where)),
    "$timedelta_us": lambda _d, body, _w: timedelta(microseconds=body),
    "$dataclass": _decode_dataclass,
    "$enum": _decode_enum,
    "$const": _decode_const,
    "$ref": lambda _d, body, where: Ref(_name(body, where)),
    "$choice": lambda _d, body, where: Choice(_index(body, where)),
}
