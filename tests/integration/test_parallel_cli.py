"""``python -m properties parallel``: deep runs of the parallel checker, as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

from properties.cli import main


def test_a_real_component_passes_and_reports_its_checker_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["parallel", "--component", "keyed", "--minutes", "0.02", "--runs", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("parallel: keyed for 0.02 min, 2 runs a program, seed ")
    line = next(line for line in out.splitlines() if line.startswith("keyed: "))
    assert line.startswith("keyed: ok, ")
    assert "checker median" in line
    assert line.endswith("0 unknown")


def test_a_planted_race_fails_with_its_timeline_written_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "reports"
    code = main(
        [
            "parallel",
            "--component",
            "KeyCreatedOutsideLock",
            "--minutes",
            "0.5",
            "--runs",
            "5",
            "--seed",
            "3",
            "--out",
            str(out_dir),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "KeyCreatedOutsideLock: FAILED at program " in out
    [report] = out_dir.iterdir()
    assert report.name == "parallel-KeyCreatedOutsideLock-3.txt"
    text = report.read_text()
    assert "keyed limiter history: not linearizable" in text
    assert "longest linearizable prefix" in text


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--component", "nope"], "invalid choice: 'nope'"),
        (["--minutes", "0"], "--minutes must be a positive, finite number"),
        (["--runs", "0"], "must be at least 1"),
        (["--seed", "-1"], "a seed is not negative"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["parallel", *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unwritable_out_directory_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exited:
        main(["parallel", "--out", str(blocker / "sub")])
    assert exited.value.code == 2
    assert "--out" in capsys.readouterr().err
