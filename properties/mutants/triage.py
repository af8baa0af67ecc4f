"""The triage ledger of mutmut's survivors, ``properties/mutants/triage.tsv``, checked against the
last run: ``python -m properties.mutants.triage``.

Each line of the ledger is ``mutant<TAB>verdict<TAB>reason``, the mutant as mutmut names it
(``resilience.outcome.x_checked_timeout__mutmut_3``). The verdicts:

* ``equivalent``: no user could observe the change; the reason says why.
* ``property``: a property was missing; the reason names the test added, which kills it now.
* ``no-mutate``: code only run while the module is imported, where mutmut cannot switch a mutant
  on; the code is marked ``# pragma: no mutate`` and the import itself tests it.

The check prints every survivor of ``mutants/`` the ledger has no verdict for, and every
``equivalent`` verdict on a mutant the last run killed (the reason is then wrong); it exits 1 if
there is either. Lines starting with ``#`` are comments. ``--table`` prints, per module, the
run's score and the score after triage instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["LEDGER", "VERDICTS", "check", "ledger", "statuses", "table"]

LEDGER = Path(__file__).with_name("triage.tsv")
VERDICTS = ("equivalent", "property", "no-mutate")


def ledger(path: Path = LEDGER) -> dict[str, tuple[str, str]]:
    """Mutant -> (verdict, reason). A malformed line is an error naming its line number."""
    found: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or parts[1] not in VERDICTS or not parts[2].strip():
            raise ValueError(
                f"{path}:{number}: expected mutant<TAB>verdict<TAB>reason, the verdict one of "
                f"{', '.join(VERDICTS)}; got {line!r}"
            )
        if parts[0] in found:
            raise ValueError(f"{path}:{number}: {parts[0]} has a verdict already")
        found[parts[0]] = (parts[1], parts[2])
    return found


def statuses(root: Path = Path("mutants")) -> dict[str, str]:
    """Mutant -> its status in the last run (``survived``, ``killed``...)."""
    from properties.mutants.mutmut_summary import statuses_by_file

    return {m: state for found in statuses_by_file(root).values() for m, state in found.items()}


def check(verdicts: dict[str, tuple[str, str]], status: dict[str, str]) -> list[str]:
    """What is wrong between the ledger and the run, one line each."""
    problems = [
        f"untriaged survivor: {name}"
        for name, state in sorted(status.items())
        if state == "survived" and name not in verdicts
    ]
    problems += [
        f"killed, but the ledger calls it equivalent: {name}"
        for name, (verdict, _) in sorted(verdicts.items())
        if verdict == "equivalent" and status.get(name) == "killed"
    ]
    return problems


def table(verdicts: dict[str, tuple[str, str]], status: dict[str, str]) -> str:
    """Per file: the run's score, and the score once each verdict is counted (a ``property``
    survivor killed by the test added; a ``no-mutate`` one no longer a mutant), as Markdown."""
    rows: dict[str, dict[str, int]] = {}
    for name, state in status.items():
        module = name.split(".x", 1)[0]
        counts = rows.setdefault(module, dict.fromkeys(("caught", "survived", *VERDICTS), 0))
        if state in ("killed", "timeout"):
            counts["caught"] += 1
        elif state == "survived":
            counts["survived"] += 1
            verdict = verdicts.get(name, ("",))[0]
            if verdict:
                counts[verdict] += 1
    lines = [
        (
            "| module | caught | survived | property | equivalent | no-mutate | untriaged "
            "| score of the run | score after triage |"
        ),
        "|---|" + "---:|" * 8,
    ]
    total = dict.fromkeys(("caught", "survived", *VERDICTS), 0)

    def line(module: str, c: dict[str, int]) -> str:
        untriaged = c["survived"] - c["property"] - c["equivalent"] - c["no-mutate"]
        run = c["caught"] + c["survived"]
        after = run - c["no-mutate"]
        before_score = f"{c['caught'] / run:.1%}" if run else "-"
        after_score = f"{(c['caught'] + c['property']) / after:.1%}" if after else "-"
        cells = (c["caught"], c["survived"], c["property"], c["equivalent"], c["no-mutate"])
        shown = " | ".join(str(n) for n in cells)
        return f"| {module} | {shown} | {untriaged} | {before_score} | {after_score} |"

    for module, counts in sorted(rows.items()):
        if counts["caught"] + counts["survived"]:
            lines.append(line(module, counts))
            for key in total:
                total[key] += counts[key]
    lines.append(line("**all**", total))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--table"]:
        print(table(ledger(), statuses(Path(argv[1]) if argv[1:] else Path("mutants"))), end="")
        return 0
    root = Path(argv[0]) if argv else Path("mutants")
    if not root.is_dir():
        print(f"no {root}/ here: run `mutmut run` first", file=sys.stderr)
        return 2
    verdicts = ledger()
    status = statuses(root)
    problems = check(verdicts, status)
    for line in problems:
        print(line)
    survivors = [name for name, state in status.items() if state == "survived"]
    by_verdict = {v: sum(1 for n in survivors if verdicts.get(n, ("",))[0] == v) for v in VERDICTS}
    shown = ", ".join(f"{count} {verdict}" for verdict, count in by_verdict.items())
    print(f"{len(survivors)} survivors in {root}/: {shown}; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
