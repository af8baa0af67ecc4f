"""``python -m properties``: the suite beyond ``pytest properties/``.

* ``fuzz``: deep fuzzing for a time budget, in worker processes sharing an example database; a
  failure becomes a regression program in ``properties/regressions/``.
* ``replay [FILE ...]``: replay regression programs without the Hypothesis engine.
* ``reproduce --machine M --target T --seed N``: rerun one fuzz shard from its seed.
* ``report SUMMARY.json ... --html F --markdown F``: turn fuzz summaries into a report.

Exit status: 0 when everything passed, 1 when something failed, 2 for a bad command line.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _number(
    kind: Callable[[str], float], what: str, valid: Callable[[float], bool], rule: str
) -> Callable[[str], Any]:
    """An argparse type: ``text`` read with ``kind`` (refused unless finite and ``valid``)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not (math.isfinite(value) and valid(value)):
            raise argparse.ArgumentTypeError(f"{rule}: {text!r}")
        return value

    return parse


_minutes = _number(
    float, "a number of minutes", lambda v: v > 0, "--minutes must be a positive, finite number"
)
_workers = _number(int, "a whole number", lambda v: v >= 1, "must be at least 1")
_seconds = _number(float, "a number of seconds", lambda v: v >= 0, "must be finite, not negative")
_seed = _number(int, "a whole number (a seed)", lambda v: v >= 0, "a seed is not negative")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser, and the parser of each command (whose ``error`` names the command)."""
    from properties.catalog import MACHINES

    parser = argparse.ArgumentParser(
        prog="python -m properties",
        description="Deep fuzzing, regression replay and reports for the property suite.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fuzz = commands.add_parser("fuzz", help="fuzz the machines for a time budget")
    fuzz.add_argument(
        "--machine",
        action="append",
        choices=MACHINES,
        help="a machine to fuzz (repeatable; default: all)",
    )
    fuzz.add_argument(
        "--target",
        action="append",
        default=[],
        help="a target of the chosen machines (repeatable; default: every real implementation; "
        "a planted bug's name fuzzes that bug)",
    )
    fuzz.add_argument("--minutes", type=_minutes, default=1.0, help="time budget (default 1)")
    fuzz.add_argument("--workers", type=_workers, default=None, help="processes (default: cores)")
    fuzz.add_argument(
        "--db",
        default=".hypothesis/examples",
        help="example database shared by the workers: a directory, or redis://host:port/n "
        "(default .hypothesis/examples)",
    )
    fuzz.add_argument(
        "--out",
        type=Path,
        help="where failing programs go (default: properties/regressions/ for the real "
        "implementations, .hypothesis/planted-programs/ for planted bugs)",
    )
    fuzz.add_argument("--json", type=Path, help="write the run's summary here")
    fuzz.add_argument("--seed", type=_seed, help="base seed: the same shard seeds every run")
    fuzz.add_argument(
        "--progress", type=_seconds, default=10.0, help="seconds between progress lines (0: none)"
    )

    replay = commands.add_parser("replay", help="replay regression programs")
    replay.add_argument("files", nargs="*", type=Path, help="programs (default: the whole corpus)")
    replay.add_argument("-v", "--verbose", action="store_true", help="print every step")

    reproduce = commands.add_parser("reproduce", help="rerun one fuzz shard from its seed")
    reproduce.add_argument("--machine", required=True, choices=MACHINES)
    reproduce.add_argument("--target", help="default: the machine's only real target")
    reproduce.add_argument("--seed", type=_seed, required=True)
    reproduce.add_argument(
        "--out", type=Path, help="also write the failing program into this directory"
    )

    report = commands.add_parser("report", help="turn fuzz summaries into HTML and Markdown")
    report.add_argument("summaries", nargs="+", type=Path, help="fuzz --json files")
    report.add_argument("--html", type=Path, help="write the HTML page here")
    report.add_argument("--markdown", type=Path, help="write the Markdown summary here")
    parallel = commands.add_parser(
        "parallel", help="run the parallel linearizability checker for a time budget"
    )
    parallel.add_argument(
        "--component",
        action="append",
        choices=_parallel_components(),
        help="a component to check, or a planted concurrency bug's name (repeatable; "
        "default: every component)",
    )
    parallel.add_argument("--minutes", type=_minutes, default=1.0, help="time budget (default 1)")
    parallel.add_argument(
        "--runs", type=_workers, default=20, help="runs of each program (default 20)"
    )
    parallel.add_argument("--seed", type=_seed, help="the programs' seed (default: random)")
    parallel.add_argument("--out", type=Path, help="write failure reports into this directory")
    mutants = commands.add_parser("mutants", help="the kill matrix: every planted bug, killed?")
    mutants.add_argument(
        "--mutant", action="append", default=[], help="one planted bug (repeatable)"
    )
    mutants.add_argument(
        "--component", action="append", default=[], help="one component's bugs (repeatable)"
    )
    mutants.add_argument("--trials", type=_workers, default=5, help="seeds per mutant (default 5)")
    mutants.add_argument(
        "--max-examples", type=_workers, default=1000, help="test cases per trial (default 1000)"
    )
    mutants.add_argument(
        "--workers", type=_workers, default=None, help="processes (default: cores)"
    )
    mutants.add_argument("--json", type=Path, help="write the matrix here")
    mutants.add_argument("--markdown", type=Path, help="write the matrix as a Markdown table")
    mutants.add_argument("--list", action="store_true", help="list the zoo and stop")
    return parser, {
        "fuzz": fuzz,
        "replay": replay,
        "reproduce": reproduce,
        "report": report,
        "mutants": mutants,
        "parallel": parallel,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from properties.fuzz.process import prepare

    prepare()  # before anything imports a machine
    parser, commands = _parser()
    arguments = parser.parse_args(argv)
    command = arguments.command
    try:
        if command == "fuzz":
            return _fuzz(commands["fuzz"], arguments)
        if command == "replay":
            from properties.fuzz.replaying import replay_programs

            return replay_programs(arguments.files, verbose=arguments.verbose)
        if command == "reproduce":
            return _reproduce(commands["reproduce"], arguments)
        if command == "mutants":
            return _mutants(commands["mutants"], arguments)
        if command == "parallel":
            return _parallel(commands["parallel"], arguments)
        return _report(commands["report"], arguments)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130


def _fuzz(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from properties import catalog
    from properties.fuzz.database import DatabaseError, close_database, open_database
    from properties.fuzz.run import (
        FuzzError,
        FuzzOptions,
        command_line,
        default_workers,
        fuzz,
        plan,
    )

    options = FuzzOptions(
        machines=tuple(arguments.machine or catalog.MACHINES),
        targets=tuple(arguments.target),
        minutes=arguments.minutes,
        workers=arguments.workers or default_workers(),
        database=arguments.db or None,
        out=arguments.out,
        json=arguments.json,
        seed=arguments.seed,
        progress=arguments.progress,
        command=command_line(),
    )
    try:
        plan(options.machines, options.targets)
        if options.database:
            close_database(open_database(options.database))  # refuse a bad --db at once
        if options.out is not None:
            _writable_directory(options.out, "--out")
        if options.json is not None:
            _writable_file(options.json, "--json")
    except (FuzzError, DatabaseError, OSError) as error:
        parser.error(str(error))
    return fuzz(options)


def _parallel_components() -> list[str]:
    from properties.parallel.components import targets

    return list(targets())


def _parallel(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from properties.parallel.deep import run_parallel

    if arguments.out is not None:
        try:
            _writable_directory(arguments.out, "--out")
        except OSError as error:
            parser.error(str(error))
    from properties.parallel.components import COMPONENTS

    names = list(dict.fromkeys(arguments.component or sorted(COMPONENTS)))
    return run_parallel(names, arguments.minutes, arguments.runs, arguments.seed, arguments.out)


def _writable_directory(path: Path, option: str, shown: Path | None = None) -> None:
    """Refuse, before any fuzzing, a directory that cannot be written (a found bug's program
    must not be lost at the end of a run); ``shown`` is the path the user gave, if another."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise OSError(f"{option} {shown or path}: cannot write there: {reason}") from None


def _writable_file(path: Path, option: str) -> None:
    if path.is_dir():
        raise OSError(f"{option} {path}: a directory, not a file")
    _writable_directory(path.parent, option, shown=path)


def _reproduce(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from hypothesis import settings

    from properties import catalog
    from properties.fuzz.corpus import write_program
    from properties.fuzz.shard import PROFILE, reproduce

    machine, target = arguments.machine, arguments.target
    if target is None:
        real = catalog.REAL_TARGETS[machine]
        if len(real) != 1:
            parser.error(
                f"machine {machine!r} has several targets: give --target ({', '.join(real)})"
            )
        target = real[0]
    if target not in catalog.targets(machine):
        known = ", ".join(sorted(catalog.targets(machine)))
        parser.error(f"machine {machine!r} has no target {target!r}; its targets are: {known}")
    examples = settings.get_profile(PROFILE).max_examples
    print(
        f"reproducing {machine} / {target} from seed {arguments.seed}: the {PROFILE} profile, up "
        f"to {examples} examples, then shrinking (Ctrl-C stops)",
        flush=True,
    )
    found = reproduce(machine, target, arguments.seed)
    if found is None:
        print("passed: this seed finds no failure")
        return 0
    print(f"FAILURE {machine} / {target}: {found.type}: {found.message}")
    if found.program is not None:
        for index, step in enumerate(found.program["steps"]):
            print(f"  step {index}: {step}")
        if arguments.out is not None:
            print(f"program: {write_program(found.program, arguments.out)}")
    return 1


def _report(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    from properties.fuzz.report import ReportError, write_report

    if arguments.html is None and arguments.markdown is None:
        parser.error("report: give --html FILE, --markdown FILE, or both")
    try:
        write_report(
            arguments.summaries, html_path=arguments.html, markdown_path=arguments.markdown
        )
    except ReportError as error:
        print(f"report: {error}", file=sys.stderr)
        return 1
    for path in (arguments.html, arguments.markdown):
        if path is not None:
            print(f"wrote {path}")
    return 0


def _mutants(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> int:
    import os

    from properties.mutants.matrix import select
    from properties.mutants.run import markdown, run_matrix, summary, write_json
    from properties.mutants.zoo import COMPONENTS

    unknown = [c for c in arguments.component if c not in COMPONENTS]
    if unknown:
        parser.error(f"no component {unknown[0]!r}; the components are: {', '.join(COMPONENTS)}")
    try:
        chosen = select(arguments.mutant, arguments.component)
        for path in (arguments.json, arguments.markdown):
            if path is not None:
                _writable_file(path, "--json" if path is arguments.json else "--markdown")
    except (LookupError, OSError) as error:
        parser.error(str(error))
    if arguments.list:
        for mutant in chosen:
            print(f"{mutant.component:<17} {mutant.name:<34} {mutant.bug_class:<16} {mutant.slip}")
        return 0
    workers = arguments.workers or os.cpu_count() or 1
    print(
        f"kill matrix: {len(chosen)} planted bugs x {arguments.trials} trials, at most "
        f"{arguments.max_examples} test cases each, {workers} worker(s)",
        flush=True,
    )
    rows = run_matrix(
        chosen,
        trials=arguments.trials,
        max_examples=arguments.max_examples,
        workers=workers,
        echo=lambda line: print(line, flush=True),
    )
    report = summary(rows, arguments.trials, arguments.max_examples)
    print()
    print(f"{'component':<17} {'mutants':>7} {'killed':>6} {'rate':>6} {'median':>7} {'worst':>6}")
    for name, part in report["components"].items():
        median = part["median_tests_to_failure"]
        print(
            f"{name:<17} {part['mutants']:>7} {part['killed']:>6} {part['kill_rate']:>6.0%} "
            f"{'-' if median is None else format(median, 'g'):>7} "
            f"{part['worst_tests_to_failure'] or '-':>6}"
        )
    if arguments.json is not None:
        write_json(report, arguments.json)
    if arguments.markdown is not None:
        arguments.markdown.write_text(markdown(report), encoding="utf-8")
    survivors = [row["name"] for row in rows if not row["killed"]]
    print(f"mutants: {len(rows) - len(survivors)} of {len(rows)} killed in every trial")
    if survivors:
        print(f"survived: {', '.join(survivors)}")
    return 1 if survivors else 0
