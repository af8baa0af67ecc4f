"""The score of a ``mutmut run``, per file of ``resilience/``, read from the ``mutants/`` directory
mutmut leaves behind (its ``*.meta`` files): ``python -m properties.mutants.mutmut_summary``.

Statuses as mutmut 3 names them: killed, survived, no tests, timeout, not checked (the run was
stopped before it got there), and a few rare ones. The score is killed / (killed + survived +
timeout): a mutant no test reaches, or one not yet checked, says nothing either way."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

__all__ = ["STATUS", "score", "summary"]

STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout",
          None: "not checked"}  # fmt: skip


def summary(root: Path = Path("mutants")) -> dict[str, Counter[str]]:
    """File (relative to ``root``) -> how many of its mutants have each status."""
    found: dict[str, Counter[str]] = {}
    for meta in sorted(root.glob("resilience/**/*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if codes:
            name = meta.relative_to(root).as_posix().removesuffix(".meta")
            found[name] = Counter(STATUS.get(code, "suspicious") for code in codes.values())
    return found


def score(counts: Counter[str]) -> float | None:
    decided = counts["killed"] + counts["survived"] + counts["timeout"]
    return None if not decided else (counts["killed"] + counts["timeout"]) / decided


def markdown(found: dict[str, Counter[str]]) -> str:
    statuses = ("killed", "survived", "timeout", "no tests", "not checked")
    lines = [
        "| file | " + " | ".join(statuses) + " | score |",
        "|---|" + "---:|" * (len(statuses) + 1),
    ]
    total: Counter[str] = Counter()
    for name, counts in found.items():
        total.update(counts)
        value = score(counts)
        shown = "-" if value is None else f"{value:.1%}"
        lines.append(
            f"| {name} | " + " | ".join(str(counts[s]) for s in statuses) + f" | {shown} |"
        )
    value = score(total)
    shown = "-" if value is None else f"{value:.1%}"
    lines.append("| **all** | " + " | ".join(str(total[s]) for s in statuses) + f" | {shown} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("mutants")
    if not root.is_dir():
        sys.exit(f"no {root}/ here: run `mutmut run` first")
    print(markdown(summary(root)), end="")
