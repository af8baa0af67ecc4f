"""Test ids that stay the same from run to run (mutmut and ``--lf`` match tests by id)."""

from __future__ import annotations


def stable_id(value: object) -> str:
    """``repr(value)``, except for objects whose repr carries their address (``<object object at
    0x...>``, a lambda): those are named by their qualified name or type."""
    text = repr(value)
    if " at 0x" not in text:
        return text
    return str(getattr(value, "__qualname__", None) or type(value).__name__)
