"""``python -m properties mutants``: the kill matrix over the zoo, in worker processes, with a
line per mutant as it finishes, a table per component at the end, and ``--json`` /
``--markdown`` files. Exit status 1 when any mutant survives."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from properties.mutants.matrix import components, mutant_result, row_line
from properties.mutants.zoo import Mutant

__all__ = ["markdown", "run_matrix"]


def _one(job: tuple[str, int, int]) -> dict[str, Any]:
    from properties.fuzz.process import prepare

    prepare()
    from properties.mutants.zoo import zoo

    name, trials, max_examples = job
    mutant = next(m for m in zoo() if m.name == name)
    return mutant_result(mutant, trials, max_examples)


def run_matrix(
    mutants: list[Mutant],
    *,
    trials: int,
    max_examples: int,
    workers: int,
    echo: Callable[[str], object],
) -> list[dict[str, Any]]:
    """One row per mutant, in the zoo's order."""
    jobs = [(mutant.name, trials, max_examples) for mutant in mutants]
    rows: dict[str, dict[str, Any]] = {}
    if workers == 1:
        results: Any = map(_one, jobs)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_one, jobs)
    try:
        for row in results:
            rows[row["name"]] = row
            echo(row_line(row))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    return [rows[mutant.name] for mutant in mutants]


def summary(rows: list[dict[str, Any]], trials: int, max_examples: int) -> dict[str, Any]:
    return {
        "format": "properties.kill-matrix/1",
        "trials": trials,
        "max_examples": max_examples,
        "mutants": rows,
        "components": components(rows),
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    """The matrix as Markdown: per component, then per mutant."""
    lines = [
        "# Kill matrix",
        "",
        (
            f"{len(report['mutants'])} planted bugs, {report['trials']} trials each, at most "
            f"{report['max_examples']} test cases per trial. Tests-to-failure counts generated "
            "test cases up to and including the first failing one."
        ),
        "",
        "| component | mutants | killed | kill rate | median tests-to-failure | worst |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, part in report["components"].items():
        lines.append(
            f"| {name} | {part['mutants']} | {part['killed']} | {part['kill_rate']:.0%} | "
            f"{_cell(part['median_tests_to_failure'])} | {_cell(part['worst_tests_to_failure'])} |"
        )
    lines += [
        "",
        "| mutant | component | bug class | killed | killed by | tests (median / max) | s |",
        "|---|---|---|---|---|---:|---:|",
    ]
    for row in report["mutants"]:
        ttf = row["tests_to_failure"]
        tests = "-" if ttf["median"] is None else f"{ttf['median']:g} / {ttf['max']}"
        killed = "yes" if row["killed"] else f"**no** ({row['kills']}/{row['trials']})"
        lines.append(
            f"| {_cell(row['name'])} | {row['component']} | {row['bug_class']} | {killed} | "
            f"{_cell(row['killed_by'] or '')} | {tests} | {row['seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"
