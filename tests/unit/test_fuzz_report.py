"""The fuzz report: summaries checked on load, rendered as Markdown and as one HTML page."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from properties.fuzz.report import (
    FORMAT,
    ReportError,
    load_summary,
    render_html,
    render_markdown,
    write_report,
)

REPLAY = "python -m properties replay properties/regressions/breaker-Recovery-1a2b3c4d.json"
REPRODUCE = (
    "python -m properties reproduce --machine breaker --target RecoveryBoundaryExclusive "
    "--seed 123456789"
)


def make_summary(
    started: str = "2026-11-21T12:00:00+00:00",
    *,
    message: str = "state: open != half_open\nsecond line of the message",
) -> dict[str, Any]:
    """A valid summary: breaker (one target, one label never reached, one failure) and chain (two
    targets), with a timeline for each."""
    breaker = {
        "examples": 5120,
        "steps": 402311,
        "seconds": 118.2,
        "steps_per_second": 3403.6,
        "shards": 3,
        "failures": 1,
        "targets": {
            "resilience.CircuitBreaker": {
                "examples": 5120,
                "steps": 402311,
                "seconds": 118.2,
                "shards": 3,
                "failures": 1,
                "coverage": {"closed->open": 4100, "half_open->closed": 2231},
                "never_reached": ["open->closed"],
            }
        },
        "rules": {"call": 300000, "advance": 102311, "reset": 0},
        "rules_never_run": ["reset"],
        "never_reached": [{"target": "resilience.CircuitBreaker", "label": "open->closed"}],
    }
    chain = {
        "examples": 777,
        "steps": 9001,
        "seconds": 60.5,
        "steps_per_second": 148.8,
        "shards": 2,
        "failures": 0,
        "targets": {
            "resilience.Chain": {
                "examples": 400,
                "steps": 5000,
                "seconds": 30.0,
                "shards": 1,
                "failures": 0,
                "coverage": {"retried": 390, "fell_back": 12},
                "never_reached": [],
            },
            "base.Chain": {
                "examples": 377,
                "steps": 4001,
                "seconds": 30.5,
                "shards": 1,
                "failures": 0,
                "coverage": {"retried": 300},
                "never_reached": [],
            },
        },
        "rules": {"call": 9001},
        "rules_never_run": [],
        "never_reached": [],
    }
    return {
        "format": FORMAT,
        "started": started,
        "finished": started,
        "seconds": 121.3,
        "budget_minutes": 2.0,
        "workers": 2,
        "database": ".hypothesis/examples",
        "profile": "nightly",
        "seed": None,
        "command": "python -m properties fuzz --minutes 2",
        "versions": {"python": "3.11.7", "hypothesis": "6.170.15"},
        "ok": False,
        "machines": {"breaker": breaker, "chain": chain},
        "timeline": [
            {"t": t, "machine": "breaker", "examples": 40 * t, "steps": 3000 * t}
            | {"reached": min(2, t // 30), "declared": 3}
            for t in (5, 30, 60, 118)
        ]
        + [{"t": 10.0, "machine": "chain", "examples": 777, "reached": 3, "declared": 3}],
        "failures": [
            {
                "machine": "breaker",
                "target": "RecoveryBoundaryExclusive",
                "seed": 123456789,
                "type": "AssertionError",
                "message": message,
                "program": "properties/regressions/breaker-Recovery-1a2b3c4d.json",
                "replay": REPLAY,
                "reproduce": REPRODUCE,
                "found_by": "generate",
            }
        ],
    }


class TagBalance(HTMLParser):
    """Every element opened is closed, in order (void elements and self-closed SVG aside)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def check_balanced(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.open == []
    return parser


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


# --- Markdown -----------------------------------------------------------------------------------


def test_markdown_machine_table_has_the_numbers() -> None:
    markdown = render_markdown([make_summary()])
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if "| `" in line}
    assert re.search(r"5,120 \| 402,311 \| 3,403\.6 \| 3 \| 1 \| 2/3", rows["`breaker`"])
    assert re.search(r"777 \| 9,001 \| 148\.8 \| 2 \| 0 \| 3/3", rows["`chain`"])


def test_markdown_heading_names_time_duration_workers_database_and_result() -> None:
    markdown = render_markdown([make_summary()])
    heading = next(line for line in markdown.splitlines() if line.startswith("## "))
    assert "2026-11-21 12:00:00 UTC" in heading
    assert "2m 01s" in heading
    assert "2 workers" in heading
    assert "`.hypothesis/examples`" in heading
    assert "FAILED" in heading
    ok = render_markdown([make_summary() | {"ok": True, "database": None}])
    assert "database none · **OK**" in ok


def test_markdown_warns_of_every_label_never_reached() -> None:
    markdown = render_markdown([make_summary()])
    warnings = [line for line in markdown.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert "`open->closed`" in warnings[0]
    assert "`resilience.CircuitBreaker`" in warnings[0]
    assert "never reached" in warnings[0]


def test_markdown_lists_coverage_hits_and_rules_never_run() -> None:
    markdown = render_markdown([make_summary()])
    assert "| `closed->open` | 4,100 |" in markdown
    assert "| `open->closed` | 0 |" in markdown
    assert "Rules never run: `reset`" in markdown
    assert "Rules never run: none." in markdown  # chain ran all its rules


def test_markdown_coverage_has_a_column_per_target_when_several() -> None:
    markdown = render_markdown([make_summary()])
    assert "| Label | resilience.Chain | base.Chain |" in markdown
    assert "| `fell_back` | 12 | — |" in markdown  # base.Chain does not declare it


def test_markdown_failure_shows_type_first_line_and_commands() -> None:
    markdown = render_markdown([make_summary()])
    assert "**AssertionError**" in markdown
    assert "`state: open != half_open`" in markdown
    assert "second line of the message" not in markdown
    assert f"Replay: `{REPLAY}`" in markdown
    assert f"Reproduce: `{REPRODUCE}`" in markdown


def test_markdown_long_message_is_trimmed_and_backticks_keep_the_code_span() -> None:
    markdown = render_markdown([make_summary(message="x" * 500 + " `tick` end")])
    line = next(line for line in markdown.splitlines() if "Message:" in line)
    assert "…" in line
    assert len(line) < 260
    tricky = render_markdown([make_summary(message="got `a` <b> & c")])
    assert "Message: ``got `a` <b> & c``" in tricky


def test_history_table_appears_with_several_summaries_oldest_first() -> None:
    newer = make_summary("2026-11-22T12:00:00+00:00") | {"ok": True, "failures": []}
    older = make_summary("2026-11-21T12:00:00+00:00")
    markdown = render_markdown([newer, older])
    assert "## History" in markdown
    assert "| 2026-11-21 12:00 UTC | **FAILED** | 2m 01s | 5,897 | 1 | 5/6 |" in markdown
    assert "| 2026-11-22 12:00 UTC | **OK** | 2m 01s | 5,897 | 0 | 5/6 |" in markdown
    headings = [line for line in markdown.splitlines() if line.startswith("## 2026")]
    assert [heading[3:13] for heading in headings] == ["2026-11-21", "2026-11-22"]
    assert "## History" not in render_markdown([older])


# --- HTML ---------------------------------------------------------------------------------------


def test_html_is_balanced_and_has_a_chart_per_machine() -> None:
    page = render_html([make_summary()])
    parser = check_balanced(page)
    assert {"html", "head", "style", "body", "table", "svg", "polyline"} <= parser.seen
    assert page.count("<svg") == 2
    assert "seconds since start" in page
    assert "labels reached (of 3 declared)" in page
    assert "examples (left axis)" in page


def test_html_has_the_same_content_as_the_markdown() -> None:
    page = render_html([make_summary(), make_summary("2026-11-22T00:00:00Z")])
    for text in ("5,120", "402,311", "3,403.6", "History", "WARNING", "open-&gt;closed"):
        assert text in page
    assert REPLAY in page
    assert REPRODUCE in page


def test_html_escapes_text_from_the_summary() -> None:
    summary = make_summary(message="<script>alert('x')</script> & more")
    summary["machines"]["<img src=x>"] = summary["machines"].pop("chain")
    page = render_html([summary])
    check_balanced(page)
    assert "<script" not in page.lower()
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page
    assert "&lt;img src=x&gt;" in page


def test_html_is_self_contained() -> None:
    page = render_html([make_summary()])
    assert "http://" not in page
    assert "https://" not in page
    assert "<script" not in page
    assert "<link" not in page
    assert "<style>" in page


@pytest.mark.parametrize("points", [0, 1])
def test_html_with_zero_or_one_timeline_point(points: int) -> None:
    summary = make_summary()
    summary["timeline"] = summary["timeline"][-points:] if points else []
    page = render_html([summary])
    check_balanced(page)
    assert page.count("No timeline samples for this machine.") == 2 - points
    assert page.count("<svg") == points
    if points:
        assert "<circle" in page  # a single sample is still visible


def test_html_chart_when_nothing_was_declared_or_run() -> None:
    summary = make_summary()
    summary["timeline"] = [{"t": 0, "machine": "chain", "examples": 0, "reached": 0, "declared": 0}]
    page = render_html([summary])
    check_balanced(page)
    assert "labels reached (of 0 declared)" in page


def test_no_summaries_renders_a_note() -> None:
    assert "No fuzz runs to report." in render_markdown([])
    check_balanced(render_html([]))


# --- loading ------------------------------------------------------------------------------------


def test_load_summary_round_trips(tmp_path: Path) -> None:
    summary = make_summary()
    assert load_summary(write_json(tmp_path / "s.json", summary)) == summary


def test_load_rejects_non_json_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "properties.fuzz-summary/1",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(ReportError, match=r"not valid JSON: .* line 3, column 3") as caught:
        load_summary(path)
    assert str(path) in str(caught.value)


def test_load_rejects_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot read the file"):
        load_summary(tmp_path / "absent.json")
    (tmp_path / "latin1.json").write_bytes(b'{"x": "\xe9"}')
    with pytest.raises(ReportError, match="not UTF-8"):
        load_summary(tmp_path / "latin1.json")


def test_load_rejects_the_wrong_format(tmp_path: Path) -> None:
    path = write_json(tmp_path / "s.json", make_summary() | {"format": "properties.fuzz/0"})
    with pytest.raises(ReportError, match=r"unsupported format 'properties\.fuzz/0'"):
        load_summary(path)
    with pytest.raises(ReportError, match="top level, got an array"):
        load_summary(write_json(tmp_path / "list.json", [make_summary()]))


@pytest.mark.parametrize("key", ["format", "machines", "failures", "timeline", "ok", "seconds"])
def test_load_rejects_a_missing_key(tmp_path: Path, key: str) -> None:
    summary = make_summary()
    del summary[key]
    with pytest.raises(ReportError, match=f"missing required key '{key}'"):
        load_summary(write_json(tmp_path / "s.json", summary))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ok": "yes"}, "ok: expected a boolean, got a string"),
        ({"seconds": True}, "seconds: expected a number, got a boolean"),
        ({"machines": []}, "machines: expected an object, got an array"),
        ({"started": "yesterday"}, "started: not an ISO 8601 time"),
    ],
)
def test_load_rejects_a_wrong_type(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ReportError, match=re.escape(expected)):
        load_summary(write_json(tmp_path / "s.json", make_summary() | change))


def test_load_names_the_nested_key_that_is_wrong(tmp_path: Path) -> None:
    summary = make_summary()
    del summary["machines"]["chain"]["targets"]["base.Chain"]["coverage"]
    with pytest.raises(ReportError, match=r"'coverage' in machines\.chain\.targets\.base\.Chain"):
        load_summary(write_json(tmp_path / "s.json", summary))


def test_render_checks_summaries_built_in_code() -> None:
    summary = copy.deepcopy(make_summary())
    del summary["failures"][0]["replay"]
    with pytest.raises(ReportError, match=r"summary #1: missing required key 'replay'"):
        render_markdown([summary])


# --- writing ------------------------------------------------------------------------------------


def test_write_report_writes_both_files_creating_directories(tmp_path: Path) -> None:
    first = write_json(tmp_path / "a.json", make_summary())
    second = write_json(tmp_path / "b.json", make_summary("2026-11-22T12:00:00+00:00"))
    html_path, markdown_path = tmp_path / "out" / "site" / "index.html", tmp_path / "md" / "x.md"
    write_report([first, second], html_path=html_path, markdown_path=markdown_path)
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "## History" in markdown_path.read_text(encoding="utf-8")


def test_write_report_checks_every_summary_before_writing(tmp_path: Path) -> None:
    good = write_json(tmp_path / "good.json", make_summary())
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    out = tmp_path / "report.html"
    with pytest.raises(ReportError, match=r"bad\.json: not valid JSON"):
        write_report([good, bad], html_path=out)
    assert not out.exists()
    with pytest.raises(ReportError, match="nothing to write"):
        write_report([good])
    with pytest.raises(ReportError, match="no summary files"):
        write_report([], html_path=out)


def test_a_failure_without_program_or_seed_says_so() -> None:
    """A failure before any step has no program (replay null); one found in the database has no
    seed (reproduce null): both render, saying why, in Markdown and HTML."""
    summary = make_summary()
    summary["failures"][0].update(replay=None, reproduce=None, program=None, seed=None)
    markdown, page = render_markdown([summary]), render_html([summary])
    for text in (markdown, page):
        assert "no program (the failure came before any step)" in text
        assert "no seed (found in the database)" in text


def test_an_interrupted_run_and_a_crashed_worker_are_shown() -> None:
    summary = make_summary()
    summary.update(
        interrupted=True,
        errors=["Traceback (most recent call last):\n  ...\nOSError: [Errno 28] No space left"],
    )
    markdown, page = render_markdown([summary]), render_html([summary])
    for text in (markdown, page):
        assert "The run was interrupted" in text
        assert "A worker failed: OSError: " in text
        assert "No space left (the whole traceback is in the summary)" in text


def test_load_rejects_errors_that_are_not_strings(tmp_path: Path) -> None:
    summary = make_summary()
    summary["errors"] = [3]
    with pytest.raises(ReportError, match="errors: expected an array of strings"):
        load_summary(write_json(tmp_path / "s.json", summary))
