"""What a machine's model and implementation look like right now, as a few readable lines: what
``replay`` prints when a step fails.

Every machine keeps its model as ``model`` (``models`` for the rate-limit machine, one per key)
and drives the implementation through ``driver`` (the chain machine: ``built``). Each component
of the library found there is shown by its ``metrics()`` and, for a breaker, its state.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["state_lines"]

LIMIT = 600  # characters per line


def _short(text: str) -> str:
    return text if len(text) <= LIMIT else text[:LIMIT] + f"... ({len(text) - LIMIT} more)"


def _fields(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(
            f"{field.name}={getattr(value, field.name)!r}" for field in dataclasses.fields(value)
        )
        return f"{type(value).__name__}({inner})"
    public = {key: item for key, item in vars(value).items() if not key.startswith("_")}
    if public:
        inner = ", ".join(f"{key}={item!r}" for key, item in public.items())
        return f"{type(value).__name__}({inner})"
    return repr(value)


def _describe(value: Any) -> str:
    try:
        return _short(_fields(value) if hasattr(value, "__dict__") else repr(value))
    except Exception as error:  # a half-built object must not hide the failure being shown
        return f"<{type(value).__name__}: cannot be shown: {error!r}>"


def _is_component(value: Any) -> bool:
    """A library object, or a planted variant of one."""
    if isinstance(value, type):
        return False
    packages = {klass.__module__.split(".")[0] for klass in type(value).__mro__}
    return bool(packages & {"resilience", "circuitbreaker"})


def _component(name: str, value: Any) -> str:
    parts = []
    state = getattr(value, "state", None)
    if state is not None and not callable(state):
        parts.append(f"state={state!r}")
    metrics = getattr(value, "metrics", None)
    if callable(metrics):
        try:
            parts.append(f"metrics={metrics()!r}")
        except Exception as error:
            parts.append(f"metrics() raised {error!r}")
    shown = " ".join(parts) or _describe(value)
    return _short(f"implementation {name} ({type(value).__name__}): {shown}")


def state_lines(machine: Any) -> list[str]:
    """The model(s) and the library components of ``machine``, one line each."""
    lines = []
    models = getattr(machine, "models", None)
    if isinstance(models, dict):
        lines += [f"model [{key!r}]: {_describe(model)}" for key, model in models.items()]
    model = getattr(machine, "model", None)
    if model is not None and not callable(model):
        lines.append(f"model: {_describe(model)}")
    for holder_name in ("driver", "built"):
        holder = getattr(machine, holder_name, None)
        if holder is None:
            continue
        found = [
            (name, value)
            for name, value in vars(holder).items()
            if _is_component(value) and not name.startswith("_")
        ]
        lines += [_component(f"{holder_name}.{name}", value) for name, value in found]
        if not found:
            lines.append(f"implementation {holder_name}: {_describe(holder)}")
    return lines or ["(this machine has no model or implementation set up yet)"]
