"""The triage ledger of mutmut's survivors (``properties/mutants/triage.py``): its format is
refused line by line when wrong, and the check finds every survivor without a verdict and every
``equivalent`` verdict the last run contradicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from properties.mutants.triage import LEDGER, check, ledger, main, statuses, table


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_ledger_in_the_repository_reads() -> None:
    verdicts = ledger(LEDGER)
    assert verdicts
    assert all(reason.strip() for _, reason in verdicts.values())


def test_a_ledger_line_gives_mutant_verdict_and_reason(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.tsv",
        "# a comment\n\nresilience.a.x_f__mutmut_1\tequivalent\tboth give 0 at 0\n",
    )
    assert ledger(path) == {"resilience.a.x_f__mutmut_1": ("equivalent", "both give 0 at 0")}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("m\tequivalent\n", "expected mutant<TAB>verdict<TAB>reason"),
        ("m\tfine\tbecause\n", "the verdict one of equivalent, property, no-mutate"),
        ("m\tproperty\t \n", "expected mutant<TAB>verdict<TAB>reason"),
        ("m\tequivalent\ta\nm\tproperty\tb\n", "t.tsv:2: m has a verdict already"),
    ],
)
def test_a_malformed_ledger_is_refused_naming_the_line(
    tmp_path: Path, text: str, says: str
) -> None:
    with pytest.raises(ValueError, match=r"t\.tsv:") as refused:
        ledger(_write(tmp_path / "t.tsv", text))
    assert says in str(refused.value)


def test_the_check_names_untriaged_survivors_and_contradicted_verdicts() -> None:
    verdicts = {
        "kept": ("equivalent", "why"),
        "now_killed": ("equivalent", "wrong"),
        "tested": ("property", "tests/x.py::test_y"),
    }
    status = {
        "kept": "survived",
        "now_killed": "killed",
        "tested": "killed",
        "new": "survived",
        "other": "killed",
    }
    assert check(verdicts, status) == [
        "untriaged survivor: new",
        "killed, but the ledger calls it equivalent: now_killed",
    ]


def test_statuses_are_read_from_mutmuts_meta_files(tmp_path: Path) -> None:
    meta = tmp_path / "resilience" / "pool" / "core.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"resilience.pool.core.x_f__mutmut_1": 0, "resilience.pool.core.x_f__mutmut_2": 1}
    meta.write_text(json.dumps({"exit_code_by_key": codes}), encoding="utf-8")
    assert statuses(tmp_path) == {
        "resilience.pool.core.x_f__mutmut_1": "survived",
        "resilience.pool.core.x_f__mutmut_2": "killed",
    }


def test_the_command_exits_2_without_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "nowhere")]) == 2
    assert "run `mutmut run` first" in capsys.readouterr().err


def test_the_table_scores_the_run_and_the_triage() -> None:
    """Caught = killed or timed out; after triage a ``property`` survivor counts as caught and a
    ``no-mutate`` one is no longer a mutant; ``equivalent`` ones stay survivors."""
    status = {
        "resilience.a.x_f__mutmut_1": "killed",
        "resilience.a.x_f__mutmut_2": "timeout",
        "resilience.a.x_f__mutmut_3": "survived",
        "resilience.a.x_f__mutmut_4": "survived",
        "resilience.a.x_f__mutmut_5": "survived",
        "resilience.a.x_f__mutmut_6": "survived",
        "resilience.a.x_f__mutmut_7": "not checked",
    }
    verdicts = {
        "resilience.a.x_f__mutmut_3": ("property", "tests/x.py::test_y"),
        "resilience.a.x_f__mutmut_4": ("equivalent", "why"),
        "resilience.a.x_f__mutmut_5": ("no-mutate", "import time"),
    }
    rows = table(verdicts, status).splitlines()
    assert rows[2] == "| resilience.a | 2 | 4 | 1 | 1 | 1 | 1 | 33.3% | 60.0% |"
    assert rows[3] == "| **all** | 2 | 4 | 1 | 1 | 1 | 1 | 33.3% | 60.0% |"
