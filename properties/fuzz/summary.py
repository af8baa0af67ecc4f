"""The fuzz summary (``--json FILE``, format ``properties.fuzz-summary/1``, read by ``report``),
the progress line, and the closing table ``fuzz`` prints."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from properties.fuzz.database import redact
from properties.fuzz.tally import Tally
from properties.harness.trace import versions

__all__ = ["FORMAT", "build_summary", "closing_lines", "progress_line", "write_summary"]

FORMAT = "properties.fuzz-summary/1"


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).isoformat(timespec="seconds")


def _rate(steps: int, seconds: float) -> float:
    return round(steps / seconds, 1) if seconds > 0 else 0.0


def _target_entry(tally: Tally) -> dict[str, Any]:
    return {
        "examples": tally.examples,
        "steps": tally.steps,
        "seconds": round(tally.seconds, 2),
        "steps_per_second": _rate(tally.steps, tally.seconds),
        "shards": tally.shards,
        "failures": tally.failures,
        "coverage": {label: tally.hits[label] for label in sorted(tally.declared)},
        "never_reached": sorted(label for label in tally.declared if not tally.hits[label]),
    }


def _machines(
    totals: dict[tuple[str, str], Tally], failures: list[dict[str, Any]]
) -> dict[str, Any]:
    machines: dict[str, Any] = {}
    for (machine, target), tally in totals.items():
        entry = machines.setdefault(
            machine,
            {
                "examples": 0,
                "steps": 0,
                "seconds": 0.0,
                "steps_per_second": 0.0,
                "shards": 0,
                "failures": 0,
                "targets": {},
                "rules": {},
                "rules_never_run": [],
                "never_reached": [],
            },
        )
        found = sum(1 for f in failures if (f["machine"], f["target"]) == (machine, target))
        for field in ("examples", "steps", "seconds", "shards"):
            entry[field] += getattr(tally, field)
        entry["failures"] += found  # distinct failures: workers sharing a target find one once
        entry["targets"][target] = _target_entry(tally) | {"failures": found}
        for rule in tally.rules:
            entry["rules"][rule] = entry["rules"].get(rule, 0) + tally.rule_steps[rule]
        entry["never_reached"] += [
            {"target": target, "label": label}
            for label in entry["targets"][target]["never_reached"]
        ]
    for entry in machines.values():
        entry["seconds"] = round(entry["seconds"], 2)
        entry["steps_per_second"] = _rate(entry["steps"], entry["seconds"])
        entry["rules"] = dict(sorted(entry["rules"].items()))
        entry["rules_never_run"] = [rule for rule, steps in entry["rules"].items() if not steps]
    return machines


def build_summary(
    options: Any,
    *,
    started: float,
    seconds: float,
    interrupted: bool,
    totals: dict[tuple[str, str], Tally],
    timeline: list[dict[str, Any]],
    failures: list[dict[str, Any]],
    errors: list[str],
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "started": _iso(started),
        "finished": _iso(started + seconds),
        "seconds": round(seconds, 1),
        "budget_minutes": options.minutes,
        "workers": options.workers,
        "database": None if options.database is None else redact(options.database),
        "profile": "nightly",
        "seed": options.seed,
        "command": options.command,
        "versions": versions(),
        "ok": not failures and not errors and not interrupted,
        "interrupted": interrupted,
        "machines": _machines(totals, failures),
        "timeline": timeline,
        "failures": failures,
        "errors": errors,
    }


def write_summary(summary: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def progress_line(
    elapsed: float,
    budget: float,
    totals: dict[tuple[str, str], Tally],
    rates: dict[str, float],
) -> str:
    """``[1m10s/5m00s] breaker 1,204 ex 3,410 steps/s 0 failed | bulkhead ...``"""
    examples: dict[str, int] = {}
    failures: dict[str, int] = {}
    for (machine, _), tally in totals.items():
        examples[machine] = examples.get(machine, 0) + tally.examples
        failures[machine] = failures.get(machine, 0) + tally.failures
    parts = [
        f"{machine} {count:,} ex {rates.get(machine, 0):,.0f} steps/s {failures[machine]} failed"
        for machine, count in examples.items()
    ]
    return f"[{_minutes(elapsed)}/{_minutes(budget)}] " + " | ".join(parts)


def _coverage_lines(machine: str, entry: dict[str, Any]) -> list[str]:
    """Every declared label with the number of examples that reached it, per target."""
    lines = []
    for target, counted in entry["targets"].items():
        lines.append(f"{machine} / {target}: examples reaching each declared label")
        lines += [f"  {hits:>8,}  {label}" for label, hits in counted["coverage"].items()]
    return lines


def closing_lines(summary: dict[str, Any]) -> list[str]:
    """The table ``fuzz`` prints at the end, then every coverage gap as a warning."""
    lines = [
        "",
        (
            f"{'machine':<10} {'examples':>9} {'steps':>10} {'steps/s':>8} {'shards':>6} "
            f"{'failures':>8}  coverage"
        ),
    ]
    for machine, entry in summary["machines"].items():
        declared = sum(len(target["coverage"]) for target in entry["targets"].values())
        reached = declared - len(entry["never_reached"])
        lines.append(
            f"{machine:<10} {entry['examples']:>9,} {entry['steps']:>10,} "
            f"{entry['steps_per_second']:>8,.0f} {entry['shards']:>6} {entry['failures']:>8}  "
            f"{reached}/{declared} labels"
        )
    lines.append("")
    for machine, entry in summary["machines"].items():
        lines += _coverage_lines(machine, entry)
    lines.append("")
    for machine, entry in summary["machines"].items():
        unrun = [target for target, counted in entry["targets"].items() if not counted["examples"]]
        for target in unrun:
            lines.append(
                f"warning: {machine} / {target}: never ran (the run ended before its turn)"
            )
        for gap in entry["never_reached"]:
            if gap["target"] in unrun:
                continue
            lines.append(
                f"warning: {machine} / {gap['target']}: declared but never reached: {gap['label']}"
            )
        if entry["rules_never_run"] and entry["examples"]:
            never = ", ".join(entry["rules_never_run"])
            lines.append(
                f"note: {machine}: rules never run (never enabled, or never chosen): {never}"
            )
    verdict = f"{len(summary['failures'])} failure(s)" if summary["failures"] else "no failures"
    if summary.get("interrupted"):
        verdict += ", interrupted"
    if summary.get("errors"):
        verdict += f", {len(summary['errors'])} worker error(s)"
    lines.append(f"fuzz: {verdict} in {summary['seconds']:.0f} s")
    return lines
