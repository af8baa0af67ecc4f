"""What fuzzing one target counted: examples, steps, time, rules run, coverage hits. Workers keep
one ``Tally`` per (machine, target) and send snapshots; the parent adds them up."""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

__all__ = ["Tally"]


@dataclasses.dataclass
class Tally:
    machine: str
    target: str
    declared: frozenset[str]  # the coverage labels the machine declares for this target
    rules: tuple[str, ...]  # every rule and initialize rule the machine has
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0  # time spent running this target's shards
    shards: int = 0  # seeded Hypothesis runs started
    failures: int = 0
    rule_steps: Counter[str] = dataclasses.field(default_factory=Counter)
    hits: Counter[str] = dataclasses.field(default_factory=Counter)  # label -> examples

    @property
    def key(self) -> tuple[str, str]:
        return (self.machine, self.target)

    def count_example(self, steps: list[Any]) -> None:
        """One example ran these (trace) steps."""
        self.examples += 1
        self.steps += len(steps)
        for step in steps:
            self.rule_steps[step.rule] += 1

    def snapshot(self) -> dict[str, Any]:
        """A picklable, JSON-ready copy (what a worker sends)."""
        return {
            "machine": self.machine,
            "target": self.target,
            "declared": sorted(self.declared),
            "rules": list(self.rules),
            "examples": self.examples,
            "steps": self.steps,
            "seconds": self.seconds,
            "shards": self.shards,
            "failures": self.failures,
            "rule_steps": dict(self.rule_steps),
            "hits": dict(self.hits),
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Tally:
        return cls(
            machine=snapshot["machine"],
            target=snapshot["target"],
            declared=frozenset(snapshot["declared"]),
            rules=tuple(snapshot["rules"]),
            examples=snapshot["examples"],
            steps=snapshot["steps"],
            seconds=snapshot["seconds"],
            shards=snapshot["shards"],
            failures=snapshot["failures"],
            rule_steps=Counter(snapshot["rule_steps"]),
            hits=Counter(snapshot["hits"]),
        )

    def add(self, other: Tally) -> None:
        """Add ``other`` (the same target, counted elsewhere) to this one."""
        if other.key != self.key:
            raise ValueError(f"cannot add the tally of {other.key} to that of {self.key}")
        self.examples += other.examples
        self.steps += other.steps
        self.seconds += other.seconds
        self.shards += other.shards
        self.failures += other.failures
        self.rule_steps.update(other.rule_steps)
        self.hits.update(other.hits)

    @property
    def reached(self) -> int:
        return sum(1 for label in self.declared if self.hits[label])
