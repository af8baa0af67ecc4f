"""``python -m properties report``: fuzz summaries (``properties.fuzz-summary/1`` JSON files) as
one self-contained HTML page and a Markdown summary, for a nightly job to publish.

The HTML page has no JavaScript and no external references (inline CSS, charts as inline SVG);
every string taken from a summary is escaped. Both renderers show the same content; the page adds
one chart per machine of examples and coverage over time.

Coverage is counted per (target, label): a machine run against two targets that both declare
``open`` declares two labels, and each can be reached or not.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = [
    "FORMAT",
    "ReportError",
    "load_summary",
    "render_html",
    "render_markdown",
    "write_report",
]

#: The ``format`` a summary must declare.
FORMAT = "properties.fuzz-summary/1"

StrPath: TypeAlias = str | os.PathLike[str]
Summary: TypeAlias = Mapping[str, Any]

TITLE = "Fuzz report"
MESSAGE_LIMIT = 200  # characters of a failure message's first line shown


class ReportError(ValueError):
    """A summary that cannot be reported on: unreadable, not JSON, or not the expected format.
    The message names the file (or the summary's position) and what is wrong."""

    def __init__(self, source: StrPath | None, problem: str) -> None:
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(problem if self.source is None else f"{self.source}: {problem}")


# --- loading and validation -------------------------------------------------------------------

Kind: TypeAlias = Literal[
    "an object", "an array", "a string", "a string or null", "a number", "a boolean"
]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_KINDS: dict[Kind, Callable[[object], bool]] = {
    "an object": lambda value: isinstance(value, dict),
    "an array": lambda value: isinstance(value, list),
    "a string": lambda value: isinstance(value, str),
    "a string or null": lambda value: value is None or isinstance(value, str),
    "a number": _is_number,
    "a boolean": lambda value: isinstance(value, bool),
}

_TOP_LEVEL: tuple[tuple[str, Kind], ...] = (
    ("started", "a string"),
    ("seconds", "a number"),
    ("workers", "a number"),
    ("database", "a string or null"),
    ("ok", "a boolean"),
    ("machines", "an object"),
    ("failures", "an array"),
    ("timeline", "an array"),
)
_MACHINE: tuple[tuple[str, Kind], ...] = (
    ("examples", "a number"),
    ("steps", "a number"),
    ("steps_per_second", "a number"),
    ("shards", "a number"),
    ("failures", "a number"),
    ("targets", "an object"),
    ("rules_never_run", "an array"),
    ("never_reached", "an array"),
)
_TARGET: tuple[tuple[str, Kind], ...] = (("coverage", "an object"), ("never_reached", "an array"))
_NEVER_REACHED: tuple[tuple[str, Kind], ...] = (("target", "a string"), ("label", "a string"))
_FAILURE: tuple[tuple[str, Kind], ...] = (
    ("machine", "a string"),
    ("target", "a string"),
    ("type", "a string"),
    ("message", "a string"),
    ("replay", "a string or null"),
    ("reproduce", "a string or null"),
)
_POINT: tuple[tuple[str, Kind], ...] = (
    ("t", "a number"),
    ("machine", "a string"),
    ("examples", "a number"),
    ("reached", "a number"),
    ("declared", "a number"),
)


def _json_type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number" if math.isfinite(value) else f"{value!r}"
    return names.get(type(value), type(value).__name__)


@dataclass(frozen=True)
class _Checker:
    """Checks the shape of one summary; errors name ``source`` and the JSON path."""

    source: StrPath

    def fail(self, problem: str) -> ReportError:
        return ReportError(self.source, problem)

    def value(self, value: object, kind: Kind, where: str) -> Any:
        if not _KINDS[kind](value):
            raise self.fail(f"{where}: expected {kind}, got {_json_type(value)}")
        return value

    def fields(self, obj: object, spec: Iterable[tuple[str, Kind]], where: str) -> None:
        self.value(obj, "an object", where)
        assert isinstance(obj, dict)
        for key, kind in spec:
            if key not in obj:
                raise self.fail(f"missing required key {key!r}" + (f" in {where}" if where else ""))
            self.value(obj[key], kind, f"{where}.{key}" if where else key)

    def items(self, values: list[Any], kind: Kind, where: str) -> None:
        for index, value in enumerate(values):
            self.value(value, kind, f"{where}[{index}]")


def _check_summary(data: object, check: _Checker) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise check.fail(f"expected a JSON object at the top level, got {_json_type(data)}")
    if "format" not in data:
        raise check.fail(f"missing required key 'format' (expected {FORMAT!r})")
    if data["format"] != FORMAT:
        raise check.fail(f"unsupported format {data['format']!r}, expected {FORMAT!r}")
    check.fields(data, _TOP_LEVEL, "")
    errors = data.get("errors", [])
    if not isinstance(errors, list) or not all(isinstance(error, str) for error in errors):
        raise check.fail(f"errors: expected an array of strings, got {_json_type(errors)}")
    if not isinstance(data.get("interrupted", False), bool):
        raise check.fail("interrupted: expected a boolean")
    try:
        _parse_time(data["started"])
    except ValueError:
        raise check.fail(f"started: not an ISO 8601 time: {data['started']!r}") from None
    for name, machine in data["machines"].items():
        _check_machine(machine, check, f"machines.{name}")
    for index, failure in enumerate(data["failures"]):
        check.fields(failure, _FAILURE, f"failures[{index}]")
    for index, point in enumerate(data["timeline"]):
        check.fields(point, _POINT, f"timeline[{index}]")
    return data


def _check_machine(machine: object, check: _Checker, where: str) -> None:
    check.fields(machine, _MACHINE, where)
    assert isinstance(machine, dict)
    check.items(machine["rules_never_run"], "a string", f"{where}.rules_never_run")
    for index, entry in enumerate(machine["never_reached"]):
        check.fields(entry, _NEVER_REACHED, f"{where}.never_reached[{index}]")
    for name, target in machine["targets"].items():
        target_where = f"{where}.targets.{name}"
        check.fields(target, _TARGET, target_where)
        for label, hits in target["coverage"].items():
            check.value(hits, "a number", f"{target_where}.coverage.{label}")
        check.items(target["never_reached"], "a string", f"{target_where}.never_reached")


def load_summary(path: StrPath) -> dict[str, Any]:
    """Read and check one summary file; raise ``ReportError`` saying what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise ReportError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise ReportError(path, problem) from exc
    return _check_summary(data, _Checker(path))


def _checked(summaries: Sequence[Summary]) -> list[Summary]:
    """The summaries, checked like loaded files (named by position), oldest first."""
    for index, summary in enumerate(summaries):
        _check_summary(summary, _Checker(f"summary #{index + 1}"))
    return sorted(summaries, key=lambda summary: _parse_time(summary["started"]))


# --- numbers, times and counts ----------------------------------------------------------------


def _parse_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # the format says UTC
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _when(summary: Summary, *, seconds: bool = True) -> str:
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return _parse_time(summary["started"]).strftime(pattern)


def _duration(seconds: float) -> str:
    if seconds < 59.95:  # what would print as 60.0s prints as 1m 00s
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def _count(value: float) -> str:
    return f"{round(value):,}"


def _compact(value: float) -> str:
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{round(value / size, 3):g}{suffix}"
    return f"{round(value, 3):g}"


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    line = lines[0].strip() if lines else ""
    if not line:
        return "(no message)"
    if len(line) > MESSAGE_LIMIT:
        return line[: MESSAGE_LIMIT - 1].rstrip() + "…"
    return line


def _target_labels(target: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Every label the target declares, with the examples that reached it (0: never)."""
    labels = {label: round(hits) for label, hits in target["coverage"].items()}
    for label in target["never_reached"]:
        labels.setdefault(label, 0)
    return list(labels.items())


def _labels(machine: Mapping[str, Any]) -> tuple[int, int]:
    """(reached, declared), over (target, label) pairs."""
    pairs = [hits for target in machine["targets"].values() for _, hits in _target_labels(target)]
    return sum(1 for hits in pairs if hits > 0), len(pairs)


def _run_labels(summary: Summary) -> tuple[int, int]:
    counts = [_labels(machine) for machine in summary["machines"].values()]
    return sum(reached for reached, _ in counts), sum(declared for _, declared in counts)


def _never_reached(machine: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(target, label) of every declared label no example reached, as listed or as counted."""
    found = [(entry["target"], entry["label"]) for entry in machine["never_reached"]]
    for name, target in machine["targets"].items():
        found.extend((name, label) for label, hits in _target_labels(target) if hits == 0)
    return list(dict.fromkeys(found))


# --- content shared by both renderers ---------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """Inline code: a command, a label, a path."""

    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Status:
    ok: bool


Part: TypeAlias = str | Code | Strong | Status
Line: TypeAlias = tuple[Part, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Part, ...], ...]
    numeric: frozenset[int] = frozenset()  # right-aligned columns


@dataclass(frozen=True)
class FailureItem:
    title: Line
    details: tuple[tuple[str, Part], ...]


def _run_heading(summary: Summary) -> Line:
    database: Part = "none" if summary["database"] is None else Code(summary["database"])
    workers = round(summary["workers"])
    plural = "s" if workers != 1 else ""
    lead = f"{_when(summary)} · {_duration(summary['seconds'])} · {workers} worker{plural}"
    return (
        f"{lead} · database ",
        database,
        " · ",
        Status(bool(summary["ok"])),
    )


def _run_meta(summary: Summary) -> Line:
    """Profile, seed, command and versions, as far as the summary gives them."""
    parts: list[Part] = []
    for key in ("profile", "seed", "command"):
        if summary.get(key) is not None:
            parts += ["; " if parts else "", f"{key} ", Code(str(summary[key]))]
    versions = summary.get("versions")
    if isinstance(versions, dict) and versions:
        text = ", ".join(f"{name} {version}" for name, version in versions.items())
        parts += ["; " if parts else "", "versions ", Code(text)]
    return tuple(parts)


def _history_table(summaries: Sequence[Summary]) -> Table:
    rows = []
    for summary in summaries:
        reached, declared = _run_labels(summary)
        examples = sum(machine["examples"] for machine in summary["machines"].values())
        rows.append(
            (
                _when(summary, seconds=False),
                Status(bool(summary["ok"])),
                _duration(summary["seconds"]),
                _count(examples),
                _count(len(summary["failures"])),
                f"{reached}/{declared}",
            )
        )
    headers = ("Run", "Result", "Duration", "Examples", "Failures", "Labels reached")
    return Table(headers, tuple(rows), frozenset({3, 4, 5}))


def _machine_table(summary: Summary) -> Table:
    rows = []
    for name, machine in summary["machines"].items():
        reached, declared = _labels(machine)
        rows.append(
            (
                Code(name),
                _count(machine["examples"]),
                _count(machine["steps"]),
                f"{machine['steps_per_second']:,.1f}",
                _count(machine["shards"]),
                _count(machine["failures"]),
                f"{reached}/{declared}",
            )
        )
    headers = ("Machine", "Examples", "Steps", "Steps/s", "Shards", "Failures", "Labels reached")
    return Table(headers, tuple(rows), frozenset(range(1, 7)))


def _coverage_table(machine: Mapping[str, Any]) -> Table | None:
    """Hits per label; one column per target when the machine ran against several."""
    targets = {name: dict(_target_labels(target)) for name, target in machine["targets"].items()}
    labels = list(dict.fromkeys(label for hits in targets.values() for label in hits))
    if not labels:
        return None
    headers = ("Label", "Hits") if len(targets) == 1 else ("Label", *targets)
    rows: list[tuple[Part, ...]] = []
    for label in labels:
        counts = (_count(hits[label]) if label in hits else "—" for hits in targets.values())
        rows.append((Code(label), *counts))
    return Table(headers, tuple(rows), frozenset(range(1, len(headers))))


def _machine_title(name: str, machine: Mapping[str, Any]) -> Line:
    reached, declared = _labels(machine)
    return (Code(name), f" — {reached} of {declared} coverage labels reached")


def _rules_line(machine: Mapping[str, Any]) -> Line:
    rules: list[str] = machine["rules_never_run"]
    if not rules:
        return ("Rules never run: none.",)
    parts: list[Part] = ["Rules never run: "]
    for index, rule in enumerate(rules):
        parts += [", " if index else "", Code(rule)]
    return tuple(parts)


def _warning_lines(machine: Mapping[str, Any]) -> list[Line]:
    return [
        (
            Strong("⚠ WARNING:"),
            " coverage label ",
            Code(label),
            " of target ",
            Code(target),
            " was declared but never reached.",
        )
        for target, label in _never_reached(machine)
    ]


def _command(command: str | None, otherwise: str) -> Part:
    return otherwise if command is None else Code(command)


def _failure_items(summary: Summary) -> list[FailureItem]:
    items = []
    for failure in summary["failures"]:
        title: list[Part] = [
            Code(failure["machine"]),
            " / ",
            Code(failure["target"]),
            ": ",
            Strong(failure["type"]),
        ]
        if isinstance(failure.get("found_by"), str):
            title.append(f" (found by {failure['found_by']})")
        details = (
            ("Message", Code(_first_line(failure["message"]))),
            (
                "Replay",
                _command(failure["replay"], "no program (the failure came before any step)"),
            ),
            ("Reproduce", _command(failure["reproduce"], "no seed (found in the database)")),
        )
        items.append(FailureItem(tuple(title), details))
    return items


# --- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>~&])")


def _md_text(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", re.sub(r"\s*[\r\n]+\s*", " ", text))


def _md_code(text: str) -> str:
    text = " ".join(text.splitlines())
    if not text.strip():
        return "(empty)"
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_part(part: Part) -> str:
    if isinstance(part, Code):
        return _md_code(part.text)
    if isinstance(part, Strong):
        return f"**{_md_text(part.text)}**"
    if isinstance(part, Status):
        return "**OK**" if part.ok else "**FAILED**"
    return _md_text(part)


def _md_line(parts: Iterable[Part]) -> str:
    return "".join(_md_part(part) for part in parts)


def _md_table(table: Table) -> list[str]:
    def row(cells: Iterable[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    rule = ("---:" if index in table.numeric else "---" for index in range(len(table.headers)))
    lines = [row(_md_text(header) for header in table.headers), row(rule)]
    lines += [row(_md_part(cell) for cell in cells) for cells in table.rows]
    return [*lines, ""]


def _md_machine(name: str, machine: Mapping[str, Any]) -> list[str]:
    lines = [f"#### {_md_line(_machine_title(name, machine))}", ""]
    coverage = _coverage_table(machine)
    lines += _md_table(coverage) if coverage else ["No coverage labels declared.", ""]
    lines += [_md_line(_rules_line(machine)), ""]
    warnings = [f"- {_md_line(line)}" for line in _warning_lines(machine)]
    return lines + ([*warnings, ""] if warnings else [])


def _problems(summary: Summary) -> list[str]:
    """What went wrong besides failures: an interruption, workers that crashed."""
    lines = []
    if summary.get("interrupted"):
        lines.append("The run was interrupted: the figures are what it counted until then.")
    for error in summary.get("errors", []):
        last = (error.strip().splitlines() or ["(no message)"])[-1]
        lines.append(f"A worker failed: {last[:300]} (the whole traceback is in the summary)")
    return lines


def _md_failures(summary: Summary) -> list[str]:
    items = _failure_items(summary)
    lines = [f"### Failures ({len(items)})", ""]
    if not items:
        return [*lines, "No failures.", ""]
    for number, item in enumerate(items, 1):
        lines.append(f"{number}. {_md_line(item.title)}")
        lines += [f"   - {label}: {_md_part(value)}" for label, value in item.details]
    return [*lines, ""]


def _md_run(summary: Summary) -> list[str]:
    lines = [f"## {_md_line(_run_heading(summary))}", ""]
    meta = _run_meta(summary)
    if meta:
        lines += [_md_line(meta), ""]
    problems = [f"- **⚠ {_md_text(line)}**" for line in _problems(summary)]
    lines += [*problems, ""] if problems else []
    lines += ["### Machines", ""]
    lines += _md_table(_machine_table(summary)) if summary["machines"] else ["No machines ran.", ""]
    lines += _md_failures(summary)
    if summary["machines"]:
        lines += ["### Coverage", ""]
    for name, machine in summary["machines"].items():
        lines += _md_machine(name, machine)
    return lines


def render_markdown(summaries: Sequence[Summary]) -> str:
    """The runs as Markdown, oldest first, after a history table when there are several."""
    runs = _checked(summaries)
    lines = [f"# {TITLE}", ""]
    if not runs:
        lines += ["No fuzz runs to report.", ""]
    if len(runs) > 1:
        lines += ["## History", "", *_md_table(_history_table(runs))]
    for summary in runs:
        lines += _md_run(summary)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- HTML -------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light dark; --muted: #6b7280; --line: #d1d5db; --ok: #15803d;
  --bad: #b91c1c; --warn-bg: #fef3c7; --warn-fg: #78350f; --code-bg: rgba(127,127,127,.14); }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 1.5rem; }
h1 { margin-top: 0; }
h2 { border-top: 2px solid var(--line); padding-top: 1rem; margin-top: 2.5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .25rem .6rem; text-align: left; }
th { background: var(--code-bg); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: var(--code-bg); padding: .05em .3em; border-radius: 3px; word-break: break-all; }
.status { font-weight: 700; padding: 0 .4em; border-radius: 3px; color: #fff; }
.status.ok { background: var(--ok); }
.status.failed { background: var(--bad); }
.meta, .muted { color: var(--muted); }
.warning { background: var(--warn-bg); color: var(--warn-fg); padding: .3rem .6rem;
  border-left: 4px solid #d97706; margin: .3rem 0; list-style: none; }
ul.warnings { padding: 0; }
ol.failures > li { margin-bottom: .75rem; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; }
svg.chart text { fill: currentColor; }
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_part(part: Part) -> str:
    if isinstance(part, Code):
        return f"<code>{_esc(part.text)}</code>"
    if isinstance(part, Strong):
        return f"<strong>{_esc(part.text)}</strong>"
    if isinstance(part, Status):
        return (
            '<span class="status ok">OK</span>'
            if part.ok
            else '<span class="status failed">FAILED</span>'
        )
    return _esc(part)


def _html_line(parts: Iterable[Part]) -> str:
    return "".join(_html_part(part) for part in parts)


def _html_table(table: Table) -> list[str]:
    def cell(tag: str, index: int, content: str) -> str:
        kind = ' class="num"' if index in table.numeric else ""
        return f"<{tag}{kind}>{content}</{tag}>"

    header = "".join(cell("th", index, _esc(text)) for index, text in enumerate(table.headers))
    lines = ["<table>", f"<thead><tr>{header}</tr></thead>", "<tbody>"]
    for cells in table.rows:
        row = "".join(cell("td", index, _html_part(part)) for index, part in enumerate(cells))
        lines.append(f"<tr>{row}</tr>")
    return [*lines, "</tbody>", "</table>"]


def _html_machine(name: str, machine: Mapping[str, Any], timeline: Sequence[Any]) -> list[str]:
    lines = ['<section class="machine">', f"<h4>{_html_line(_machine_title(name, machine))}</h4>"]
    coverage = _coverage_table(machine)
    lines += _html_table(coverage) if coverage else ['<p class="muted">No coverage labels.</p>']
    lines.append(f"<p>{_html_line(_rules_line(machine))}</p>")
    warnings = _warning_lines(machine)
    if warnings:
        lines.append('<ul class="warnings">')
        lines += [f'<li class="warning">{_html_line(line)}</li>' for line in warnings]
        lines.append("</ul>")
    lines.append(_chart(name, [point for point in timeline if point["machine"] == name]))
    return [*lines, "</section>"]


def _html_failures(summary: Summary) -> list[str]:
    items = _failure_items(summary)
    lines = [f"<h3>Failures ({len(items)})</h3>"]
    if not items:
        return [*lines, "<p>No failures.</p>"]
    lines.append('<ol class="failures">')
    for item in items:
        details = "".join(
            f"<li>{_esc(label)}: {_html_part(value)}</li>" for label, value in item.details
        )
        lines.append(f"<li>{_html_line(item.title)}<ul>{details}</ul></li>")
    return [*lines, "</ol>"]


def _html_run(summary: Summary) -> list[str]:
    status = "ok" if summary["ok"] else "failed"
    lines = [f'<section class="run {status}">', f"<h2>{_html_line(_run_heading(summary))}</h2>"]
    meta = _run_meta(summary)
    if meta:
        lines.append(f'<p class="meta">{_html_line(meta)}</p>')
    problems = [f'<li class="warning">{_esc(line)}</li>' for line in _problems(summary)]
    if problems:
        lines += ['<ul class="warnings">', *problems, "</ul>"]
    lines.append("<h3>Machines</h3>")
    machines = summary["machines"]
    lines += _html_table(_machine_table(summary)) if machines else ["<p>No machines ran.</p>"]
    lines += _html_failures(summary)
    if machines:
        lines.append("<h3>Coverage</h3>")
    for name, machine in machines.items():
        lines += _html_machine(name, machine, summary["timeline"])
    return [*lines, "</section>"]


def render_html(summaries: Sequence[Summary]) -> str:
    """One self-contained page: the Markdown's content, plus a chart per machine."""
    runs = _checked(summaries)
    body = [f"<h1>{TITLE}</h1>"]
    if not runs:
        body.append("<p>No fuzz runs to report.</p>")
    if len(runs) > 1:
        body += ["<h2>History</h2>", *_html_table(_history_table(runs))]
    for summary in runs:
        body += _html_run(summary)
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{TITLE}</title>",
        f"<style>{_CSS}</style>",
    ]
    page = ["<!DOCTYPE html>", '<html lang="en">', "<head>", *head, "</head>"]
    page += ["<body>", "<main>", *body, "</main>", "</body>", "</html>"]
    return "\n".join(page) + "\n"


# --- chart ------------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 34, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
EXAMPLES_COLOUR, LABELS_COLOUR, GRID_COLOUR = "#2563eb", "#d97706", "#9ca3af"


def _nice_ticks(maximum: float, *, integer: bool = False, count: int = 4) -> list[float]:
    """0, step, 2 step, ... up to the first tick at or above ``maximum``."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * magnitude for m in steps if m * magnitude >= raw)
    if integer:
        step = float(max(1, math.ceil(step)))
    return [index * step for index in range(math.ceil(maximum / step - 1e-9) + 1)]


def _f(value: float) -> str:
    return f"{value:.1f}"


def _svg_text(x: float, y: float, text: str, anchor: str = "middle", extra: str = "") -> str:
    return f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}"{extra}>{_esc(text)}</text>'


def _svg_axes(x_ticks: list[float], left: list[float], right: list[float]) -> list[str]:
    """Frame, grid, ticks and tick labels (the right axis' ticks on its own scale)."""
    bottom, right_x = TOP + PLOT_H, LEFT + PLOT_W
    frame = (
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        f'stroke="{GRID_COLOUR}"/>'
    )
    lines = [frame]
    for tick in left:
        y = bottom - tick / left[-1] * PLOT_H
        lines.append(
            f'<line x1="{LEFT}" y1="{_f(y)}" x2="{right_x}" y2="{_f(y)}" '
            f'stroke="{GRID_COLOUR}" stroke-opacity="0.35"/>'
        )
        lines.append(_svg_text(LEFT - 6, y + 4, _compact(tick), "end"))
    for tick in right:
        y = bottom - tick / right[-1] * PLOT_H
        lines.append(_svg_text(right_x + 6, y + 4, _compact(tick), "start"))
    for tick in x_ticks:
        x = LEFT + tick / x_ticks[-1] * PLOT_W
        lines.append(
            f'<line x1="{_f(x)}" y1="{bottom}" x2="{_f(x)}" y2="{bottom + 4}" '
            f'stroke="{GRID_COLOUR}"/>'
        )
        lines.append(_svg_text(x, bottom + 16, _compact(tick)))
    return lines


def _svg_axis_labels(declared: int) -> list[str]:
    middle_y = TOP + PLOT_H / 2
    left = f' transform="rotate(-90 14 {_f(middle_y)})"'
    right = f' transform="rotate(90 {WIDTH - 14} {_f(middle_y)})"'
    return [
        _svg_text(LEFT + PLOT_W / 2, HEIGHT - 6, "seconds since start"),
        _svg_text(14, middle_y, "examples (cumulative)", extra=left),
        _svg_text(WIDTH - 14, middle_y, f"labels reached (of {declared} declared)", extra=right),
    ]


def _svg_legend() -> list[str]:
    entries = (
        (EXAMPLES_COLOUR, "examples (left axis)"),
        (LABELS_COLOUR, "labels reached (right axis)"),
    )
    lines = []
    for index, (colour, text) in enumerate(entries):
        x = LEFT + index * 200
        lines.append(f'<rect x="{x}" y="10" width="14" height="4" fill="{colour}"/>')
        lines.append(_svg_text(x + 20, 16, text, "start"))
    return lines


def _svg_series(points: list[tuple[float, float]], colour: str) -> list[str]:
    coords = " ".join(f"{_f(x)},{_f(y)}" for x, y in points)
    line = (
        f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2" '
        f'stroke-linejoin="round"/>'
    )
    lines = [line]
    if len(points) == 1:  # a line of one point is invisible: mark it
        (x, y), *_ = points
        lines.append(f'<circle cx="{_f(x)}" cy="{_f(y)}" r="3.5" fill="{colour}"/>')
    return lines


def _chart(machine: str, timeline: Sequence[Mapping[str, Any]]) -> str:
    """Examples (left axis) and labels reached (right axis) against seconds since start."""
    points = sorted(timeline, key=lambda point: point["t"])
    if not points:
        return '<p class="muted">No timeline samples for this machine.</p>'
    declared = round(max(point["declared"] for point in points))
    x_ticks = _nice_ticks(max(point["t"] for point in points))
    left = _nice_ticks(max(point["examples"] for point in points))
    right = _nice_ticks(max([declared, *(point["reached"] for point in points)]), integer=True)
    bottom = TOP + PLOT_H

    def at(point: Mapping[str, Any], key: str, ticks: list[float]) -> tuple[float, float]:
        x = LEFT + point["t"] / x_ticks[-1] * PLOT_W
        return x, bottom - point[key] / ticks[-1] * PLOT_H

    description = f"{machine}: examples and coverage labels reached over time"
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{_esc(description)}">'
    )
    lines = [
        svg,
        f"<title>{_esc(description)}</title>",
        *_svg_axes(x_ticks, left, right),
    ]
    if declared > 0:
        y = bottom - declared / right[-1] * PLOT_H
        lines.append(
            f'<line x1="{LEFT}" y1="{_f(y)}" x2="{LEFT + PLOT_W}" y2="{_f(y)}" '
            f'stroke="{LABELS_COLOUR}" stroke-dasharray="4 3" stroke-opacity="0.7"/>'
        )
    lines += _svg_series([at(point, "examples", left) for point in points], EXAMPLES_COLOUR)
    lines += _svg_series([at(point, "reached", right) for point in points], LABELS_COLOUR)
    lines += [*_svg_axis_labels(declared), *_svg_legend(), "</svg>"]
    return "\n".join(lines)


# --- files ------------------------------------------------------------------------------------


def _write(path: StrPath, text: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReportError(path, f"cannot write the report: {exc.strerror or exc}") from exc


def write_report(
    summary_paths: Iterable[StrPath],
    html_path: StrPath | None = None,
    markdown_path: StrPath | None = None,
) -> None:
    """Load every summary (all are checked before anything is written), then write the HTML
    page and/or the Markdown summary, creating parent directories."""
    paths = list(summary_paths)
    if not paths:
        raise ReportError(None, "no summary files given")
    if html_path is None and markdown_path is None:
        raise ReportError(None, "nothing to write: give an HTML path or a Markdown path")
    summaries = [load_summary(path) for path in paths]
    if html_path is not None:
        _write(html_path, render_html(summaries))
    if markdown_path is not None:
        _write(markdown_path, render_markdown(summaries))
