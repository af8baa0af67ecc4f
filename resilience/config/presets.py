"""Three named presets: every retry, breaker and bulkhead setting, chosen for a kind of
dependency. Rate limits and pools are never preset: their numbers belong to the dependency.

* ``conservative`` protects a fragile or expensive dependency: two attempts with long back-off,
  a breaker that trips after 3 consecutive failures, stays open a minute and wants 2 good probes
  before closing, and at most 5 calls at once, none queued.
* ``balanced`` is the everyday choice: three attempts, the breaker's own defaults (5 failures,
  30 s), 10 calls at once, queued for at most 100 ms.
* ``aggressive`` favours getting an answer from a robust, elastic dependency: five quick
  attempts, a breaker that tolerates 10 failures and probes again after 10 s (3 probes at once),
  50 calls at once, queued for up to a second.

Every preset retries (and the breaker counts) any ``Exception``: narrow ``retry_on`` and
``expected_exception`` to the dependency's transient errors where they are known. Back-off is
capped, fully jittered and bounded by ``deadline``, so no preset retries for longer than that.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from resilience.config.fields import FIELDS
from resilience.config.schema import Value

__all__ = ["PRESETS", "presets_table"]


def _frozen(
    sections: dict[str, dict[str, Value]],
) -> Mapping[str, Mapping[str, Value]]:  # pragma: no mutate block
    return MappingProxyType({name: MappingProxyType(s) for name, s in sections.items()})


#: ``PRESETS[name][section][setting]``: plain data, in the units a file uses (seconds).
PRESETS: Mapping[str, Mapping[str, Mapping[str, Value]]] = MappingProxyType(
    {
        "conservative": _frozen(
            {
                "retry": {
                    "max_attempts": 2,
                    "deadline": 5.0,
                    "base_delay": 0.5,
                    "max_delay": 4.0,
                    "retry_on": ("Exception",),
                },
                "breaker": {
                    "failure_threshold": 3,
                    "recovery_timeout": 60.0,
                    "half_open_max_calls": 1,
                    "success_threshold": 2,
                    "expected_exception": ("Exception",),
                },
                "bulkhead": {"max_concurrent": 5, "max_wait": 0.0},
            }
        ),
        "balanced": _frozen(
            {
                "retry": {
                    "max_attempts": 3,
                    "deadline": 10.0,
                    "base_delay": 0.1,
                    "max_delay": 2.0,
                    "retry_on": ("Exception",),
                },
                "breaker": {
                    "failure_threshold": 5,
                    "recovery_timeout": 30.0,
                    "half_open_max_calls": 1,
                    "success_threshold": 1,
                    "expected_exception": ("Exception",),
                },
                "bulkhead": {"max_concurrent": 10, "max_wait": 0.1},
            }
        ),
        "aggressive": _frozen(
            {
                "retry": {
                    "max_attempts": 5,
                    "deadline": 15.0,
                    "base_delay": 0.05,
                    "max_delay": 1.0,
                    "retry_on": ("Exception",),
                },
                "breaker": {
                    "failure_threshold": 10,
                    "recovery_timeout": 10.0,
                    "half_open_max_calls": 3,
                    "success_threshold": 1,
                    "expected_exception": ("Exception",),
                },
                "bulkhead": {"max_concurrent": 50, "max_wait": 1.0},
            }
        ),
    }
)


def _shown(section: str, setting: str, value: Value) -> str:
    if isinstance(value, tuple):
        return ", ".join(f"`{name}`" for name in value)
    if value is None:
        return "no limit"
    return f"{value}{FIELDS[section][setting].unit}"


def presets_table() -> str:
    """Every setting of every preset as a Markdown table (one row per setting, one column per
    preset), generated from ``PRESETS`` so the README cannot drift from the code."""
    names = list(PRESETS)
    rows = [
        "| Setting | " + " | ".join(f"`{name}`" for name in names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    first = PRESETS[names[0]]
    for section, settings in first.items():
        for setting in settings:
            cells = [_shown(section, setting, PRESETS[name][section][setting]) for name in names]
            rows.append(f"| `{section}.{setting}` | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
