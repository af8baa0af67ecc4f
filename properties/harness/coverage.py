"""Coverage targets: a machine names the transitions and outcomes it must reach, and fails if a
full run of the profile did not reach each one (no vacuous properties)."""

from __future__ import annotations

from hypothesis import event

__all__ = ["CoverageTracker"]


class CoverageTracker:
    """Collects reached labels across the examples of one run."""

    def __init__(self, targets: frozenset[str]) -> None:
        self.targets = targets
        self.reached: set[str] = set()

    def reach(self, label: str) -> None:
        """Record ``label`` (and report it to Hypothesis' statistics)."""
        if label not in self.targets:
            raise KeyError(f"{label!r} is not a declared coverage target")
        event(label)
        self.reached.add(label)

    def missing(self) -> list[str]:
        return sorted(self.targets - self.reached)
