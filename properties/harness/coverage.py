"""Coverage targets: a machine names the transitions and outcomes it must reach, and fails if a
full run of the profile did not reach each one (no vacuous properties). ``fuzz`` reports, per
label, how many examples reached it."""

from __future__ import annotations

from collections import Counter

from hypothesis import event
from hypothesis.control import _current_build_context

__all__ = ["CoverageTracker"]


class CoverageTracker:
    """Collects reached labels across the examples of one run, and how many examples reached
    each (an example that reaches a label several times counts once)."""

    def __init__(self, targets: frozenset[str]) -> None:
        self.targets = targets
        self.reached: set[str] = set()
        self.hits: Counter[str] = Counter()
        self._example: object = None  # the build context of the example being counted
        self._this_example: set[str] = set()

    def reach(self, label: str) -> None:
        """Record ``label`` (and report it to Hypothesis' statistics)."""
        if label not in self.targets:
            raise KeyError(f"{label!r} is not a declared coverage target")
        event(label)
        self.reached.add(label)
        example = _current_build_context.value
        if example is not self._example or example is None:
            self._example = example
            self._this_example = set()
        if label not in self._this_example:
            self._this_example.add(label)
            self.hits[label] += 1

    def missing(self) -> list[str]:
        return sorted(self.targets - self.reached)
