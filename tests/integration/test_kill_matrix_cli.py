"""``python -m properties mutants``: the kill matrix as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from properties.cli import main
from properties.mutants.zoo import zoo


def test_a_killed_mutant_row_and_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json, out_md = tmp_path / "m.json", tmp_path / "m.md"
    code = main(
        [
            "mutants",
            "--mutant",
            "ResetKeepsFailures",
            "--trials",
            "3",
            "--workers",
            "1",
            "--json",
            str(out_json),
            "--markdown",
            str(out_md),
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    [row] = report["mutants"]
    assert row["name"] == "ResetKeepsFailures"
    assert (row["component"], row["bug_class"]) == ("breaker", "stale-state")
    assert row["killed"] is True
    assert row["kills"] == row["trials"] == 3
    assert row["killed_by"].startswith("failure_count_agrees (properties/machines/breaker.py:")
    assert 1 <= row["tests_to_failure"]["median"] <= row["tests_to_failure"]["max"] <= 1000
    assert report["components"]["breaker"]["kill_rate"] == 1.0
    assert "| ResetKeepsFailures | breaker | stale-state | yes |" in out_md.read_text()
    assert "mutants: 1 of 1 killed in every trial" in capsys.readouterr().out


def test_a_survivor_fails_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    """One test case per trial is too few for this bug: it survives, and the exit status says so."""
    code = main(
        [
            "mutants",
            "--mutant",
            "ForgetsEarlierProbes",
            "--trials",
            "2",
            "--workers",
            "1",
            "--max-examples",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "SURVIVED (0/2)" in out
    assert "survived: ForgetsEarlierProbes" in out


def test_the_zoo_lists_every_bug(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mutants", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(zoo())
    assert any(line.split()[:3] == ["keyed", "KeysTruncated", "key-collision"] for line in lines)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--mutant", "NoSuchBug"], "no planted bug named NoSuchBug"),
        (["--component", "kettle"], "no component 'kettle'"),
        (["--trials", "0"], "must be at least 1"),
    ],
)
def test_bad_command_lines_are_refused(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["mutants", *arguments])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
