"""The score of a ``mutmut run``, per file of ``resilience/``, read from the ``mutants/`` directory
mutmut leaves behind (its ``*.meta`` files): ``python -m properties.mutants.mutmut_summary``.

Statuses as mutmut 3 names them (its own table when it is installed): killed, survived, no
tests, timeout, not checked (the run stopped before it got there), and rarer ones (counted under
"other"). The score is (killed + timeout) / (killed + survived + timeout): a mutant that makes
the tests run past mutmut's time limit is caught, as mutmut counts it; one no test reaches, or
one not yet checked, says nothing either way."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

__all__ = ["STATUS", "markdown", "score", "statuses_by_file", "summary"]

STATUS: dict[int | None, str] = {1: "killed", 3: "killed", 0: "survived", 5: "no tests",
    33: "no tests", 34: "skipped", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout",
    255: "timeout", None: "not checked"}  # fmt: skip
try:  # mutmut's own table, when it is installed (the `mutation` extra)
    from mutmut.stats import status_by_exit_code

    STATUS = dict(status_by_exit_code)
except ImportError:  # pragma: no cover - the table above is a copy of mutmut 3.8's
    pass

SHOWN = ("killed", "survived", "timeout", "no tests", "not checked")


def statuses_by_file(root: Path = Path("mutants")) -> dict[str, dict[str, str]]:
    """File (relative to ``root``) -> mutant -> its status, from mutmut's ``*.meta`` files."""
    found: dict[str, dict[str, str]] = {}
    for meta in sorted(root.glob("resilience/**/*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8")).get("exit_code_by_key", {})
        if codes:
            name = meta.relative_to(root).as_posix().removesuffix(".meta")
            found[name] = {mutant: STATUS.get(code, "other") for mutant, code in codes.items()}
    return found


def summary(root: Path = Path("mutants")) -> dict[str, Counter[str]]:
    """File (relative to ``root``) -> how many of its mutants have each status."""
    return {name: Counter(found.values()) for name, found in statuses_by_file(root).items()}


def score(counts: Counter[str]) -> float | None:
    decided = counts["killed"] + counts["survived"] + counts["timeout"]
    return None if not decided else (counts["killed"] + counts["timeout"]) / decided


def _row(name: str, counts: Counter[str]) -> str:
    other = sum(n for status, n in counts.items() if status not in SHOWN)
    value = score(counts)
    cells = [*(str(counts[status]) for status in SHOWN), str(other)]
    return f"| {name} | {' | '.join(cells)} | {'-' if value is None else f'{value:.1%}'} |"


def markdown(found: dict[str, Counter[str]]) -> str:
    lines = [
        "| file | " + " | ".join(SHOWN) + " | other | score |",
        "|---|" + "---:|" * (len(SHOWN) + 2),
    ]
    total: Counter[str] = Counter()
    for name, counts in found.items():
        total.update(counts)
        lines.append(_row(name, counts))
    lines.append(_row("**all**", total))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("mutants")
    if not root.is_dir():
        sys.exit(f"no {root}/ here: run `mutmut run` first")
    print(markdown(summary(root)), end="")
