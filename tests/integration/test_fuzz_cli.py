"""``python -m properties fuzz / replay / reproduce / report`` as a user runs them: a planted bug
found within a short budget and turned into a regression program that fails the same way on
replay and passes once the bug is removed; two workers sharing a directory database; Redis as
the shared corpus; reports from real summaries; bad command lines refused."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis.database import DirectoryBasedExampleDatabase, choices_from_bytes

from properties import catalog
from properties.cli import main
from properties.fuzz.database import KEY_PREFIX
from properties.fuzz.run import command_line, plan
from properties.fuzz.shard import reproduce
from properties.harness.replay import replay, replay_file, same_failure
from properties.harness.trace import load
from tests.integration.redis_server import RedisServer

PLANTED = ("breaker", "RecoveryBoundaryExclusive")  # the breaker opens 1 us late
REAL = "resilience.CircuitBreaker"
METAKEYS = b".hypothesis-keys"  # where a directory database lists its keys


def fuzz(
    tmp_path: Path, *extra: str, db: str | None = None, name: str = "run"
) -> tuple[int, dict[str, Any]]:
    summary = tmp_path / f"{name}.json"
    code = main(
        [
            "fuzz",
            "--db",
            db or str(tmp_path / "db"),
            "--out",
            str(tmp_path / "programs"),
            "--json",
            str(summary),
            "--progress",
            "0",
            *extra,
        ]
    )
    return code, json.loads(summary.read_text())


def planted(tmp_path: Path, *extra: str, **options: Any) -> tuple[int, dict[str, Any]]:
    machine, target = PLANTED
    return fuzz(
        tmp_path, "--machine", machine, "--target", target, "--minutes", "1", *extra, **options
    )


def test_fuzz_finds_a_planted_bug_and_writes_a_program_that_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = planted(tmp_path, "--workers", "1", "--seed", "1")
    out = capsys.readouterr().out
    assert code == 1
    assert summary["ok"] is False
    [failure] = summary["failures"]
    assert (failure["machine"], failure["target"]) == PLANTED
    assert failure["type"] == "AssertionError"
    assert failure["found_by"] == "generate"
    path = Path(failure["program"])
    assert path.parent == tmp_path / "programs"
    assert path.is_file()
    # What the user is told to run, printed as it is in the summary.
    assert failure["replay"] == f"python -m properties replay {path}"
    assert failure["reproduce"] == (
        f"python -m properties reproduce --machine breaker --target {PLANTED[1]} "
        f"--seed {failure['seed']}"
    )
    assert failure["replay"] in out
    assert failure["reproduce"] in out
    program = load(path)
    assert program["seed"] == failure["seed"]
    assert program["profile"] == "nightly"
    assert len(program["steps"]) <= 6, "the program is the shrunk one"
    assert summary["machines"]["breaker"]["examples"] >= 1

    # Replay fails the same way, and passes once the bug is removed (the real breaker).
    with pytest.raises(AssertionError) as caught:
        replay_file(path)
    assert same_failure(program, caught.value)
    result = replay(dict(program, target=REAL))
    assert result.steps == len(program["steps"])

    # The CLI replay says FAIL and shows the state where it failed; the seed reproduces it.
    assert main(["replay", str(path)]) == 1
    printed = capsys.readouterr().out
    assert f"FAIL {path}: AssertionError" in printed
    assert "# model: BreakerModel(" in printed
    assert "# implementation driver.breaker" in printed
    again = reproduce(*PLANTED, failure["seed"])
    assert again is not None
    assert again.type == failure["type"]


def test_the_same_base_seed_fuzzes_the_same_shards(tmp_path: Path) -> None:
    """--seed makes a run repeatable: the same shard seed meets the same failure, and both
    programs replay it. (Their steps usually match too, but shrinking may stop on a time limit,
    so the test does not rest on it.)"""
    first = planted(tmp_path / "a", "--workers", "1", "--seed", "5")[1]["failures"][0]
    second = planted(tmp_path / "b", "--workers", "1", "--seed", "5")[1]["failures"][0]
    assert first["seed"] == second["seed"]
    assert first["type"] == second["type"]
    for failure in (first, second):
        program = load(failure["program"])
        with pytest.raises(AssertionError) as caught:
            replay(program)
        assert same_failure(program, caught.value)


def test_real_targets_pass_with_coverage_and_the_report_renders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = fuzz(
        tmp_path,
        "--machine",
        "ratelimit",
        "--target",
        "gcra",
        "--minutes",
        "0.05",
        "--workers",
        "1",
        "--progress",
        "1",
    )
    out = capsys.readouterr().out
    assert re.search(r"^\[0m0\ds/0m03s\] ratelimit [\d,]+ ex [\d,]+ steps/s 0 failed$", out, re.M)
    assert "ratelimit / gcra: examples reaching each declared label" in out
    for label, hits in summary["machines"]["ratelimit"]["targets"]["gcra"]["coverage"].items():
        assert f"  {hits:>8,}  {label}" in out
    assert code == 0
    assert summary["ok"]
    assert summary["failures"] == []
    entry = summary["machines"]["ratelimit"]
    assert entry["examples"] > 0
    assert entry["steps"] > entry["examples"]
    assert entry["steps_per_second"] > 0
    assert entry["shards"] >= 1
    coverage = entry["targets"]["gcra"]["coverage"]
    assert coverage
    assert all(isinstance(hits, int) for hits in coverage.values())
    assert sum(entry["rules"].values()) == entry["steps"]
    assert summary["timeline"]
    assert summary["timeline"][0]["machine"] == "ratelimit"
    html, markdown = tmp_path / "r" / "report.html", tmp_path / "r" / "report.md"
    assert (
        main(
            ["report", str(tmp_path / "run.json"), "--html", str(html), "--markdown", str(markdown)]
        )
        == 0
    )
    assert "<svg" in html.read_text()
    assert "`ratelimit`" in markdown.read_text()
    assert "`retry_after then admitted`" in markdown.read_text()


def test_two_workers_share_one_directory_database(tmp_path: Path) -> None:
    """Two worker processes fuzz the same target with their own seeds into one directory: both
    fail, nothing in the directory is corrupt, and a later run finds the bug in the corpus."""
    code, summary = planted(tmp_path, "--workers", "2")
    assert code == 1
    assert summary["workers"] == 2
    # Each worker found the bug; one program found by both is one failure, with both seeds.
    failures = summary["failures"]
    assert sum(1 + len(f.get("also_seeds", [])) for f in failures) == 2, failures
    assert summary["machines"]["breaker"]["failures"] == len(failures)
    assert all(failure["program"] for failure in summary["failures"])
    database = DirectoryBasedExampleDatabase(tmp_path / "db")
    keys = list(database.fetch(METAKEYS))
    assert keys, "the workers saved nothing"
    for key in keys:
        for value in database.fetch(key):
            assert choices_from_bytes(value) is not None, f"a corrupt entry under {key!r}"
    leftovers = [path for path in (tmp_path / "db").rglob("*") if path.name.startswith(".")]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    code, later = planted(tmp_path, "--workers", "1", name="later")
    assert code == 1
    assert [f["found_by"] for f in later["failures"]] == ["database"]


def test_redis_is_a_shared_corpus(tmp_path: Path, redis_server: RedisServer) -> None:
    """--db redis://: one run's failing examples are in Redis, and another run (another machine,
    as far as it knows) replays them from there."""
    url = redis_server.url(6)
    code, summary = planted(tmp_path / "first", "--workers", "2", db=url)
    assert code == 1
    assert summary["database"] == url
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=6)
    try:
        keys = client.keys(f"{KEY_PREFIX.decode()}*")
    finally:
        client.close()
    assert keys, "nothing was written to Redis"
    code, later = planted(tmp_path / "second", "--workers", "1", db=url)
    assert code == 1
    assert [f["found_by"] for f in later["failures"]] == ["database"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--minutes", "0"], "--minutes must be a positive, finite number"),
        (["--minutes", "-1"], "--minutes must be a positive, finite number"),
        (["--minutes", "inf"], "--minutes must be a positive, finite number"),
        (["--minutes", "nan"], "--minutes must be a positive, finite number"),
        (["--minutes", "soon"], "not a number of minutes"),
        (["--workers", "0"], "must be at least 1"),
        (["--machine", "kettle"], "invalid choice: 'kettle'"),
        (["--machine", "pool", "--target", "gcra"], "no chosen machine has a target 'gcra'"),
        (["--seed", "-3"], "a seed is not negative"),
        (["--db", "redis://127.0.0.1:1/0"], "cannot reach Redis at redis://127.0.0.1:1/0"),
        (["--db", "http://example"], "http"),
    ],
)
def test_bad_command_lines_are_refused(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["fuzz", "--progress", "0", *arguments])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_reproduce_needs_a_target_when_a_machine_has_several(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["reproduce", "--machine", "pool", "--seed", "1"])
    assert caught.value.code == 2
    assert "give --target (sync, async)" in capsys.readouterr().err


def test_replay_of_a_program_that_no_longer_applies_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = next(Path("properties/regressions").glob("breaker-*.json"))
    program = json.loads(source.read_text())
    program["steps"][0]["rule"] = "build_differently"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(program))
    assert main(["replay", str(broken), str(source)]) == 1
    out = capsys.readouterr().out
    assert f"DOES NOT APPLY {broken}" in out
    assert "build_differently" in out
    assert f"PASS {source}" in out
    assert "1 passed, 1 failed, no longer apply, or are not programs" in out


def test_unwritable_outputs_are_refused_before_fuzzing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A found bug must never be lost at the end of a run: --out and --json are checked first."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for arguments, message in (
        (["--out", str(blocker / "programs")], f"--out {blocker / 'programs'}: cannot write there"),
        (["--json", str(tmp_path)], f"--json {tmp_path}: a directory, not a file"),
        (["--json", str(blocker / "s.json")], f"--json {blocker / 's.json'}: cannot write there"),
    ):
        with pytest.raises(SystemExit) as caught:
            main(["fuzz", "--machine", "chain", "--progress", "0", *arguments])
        assert caught.value.code == 2
        err = capsys.readouterr().err
        assert "python -m properties fuzz: error:" in err
        assert message in err


def test_planted_bug_programs_stay_out_of_the_corpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --out, what fuzz finds on a planted bug goes to .hypothesis/planted-programs/ (it
    fails by design and would fail every pytest run in the corpus)."""
    monkeypatch.chdir(tmp_path)
    machine, target = PLANTED
    code = main(
        [
            "fuzz",
            "--machine",
            machine,
            "--target",
            target,
            "--minutes",
            "1",
            "--workers",
            "1",
            "--seed",
            "1",
            "--progress",
            "0",
            "--db",
            str(tmp_path / "db"),
        ]
    )
    assert code == 1
    written = list((tmp_path / ".hypothesis" / "planted-programs").glob("*.json"))
    assert [load(path)["target"] for path in written] == [target]


def test_targets_the_budget_never_reached_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = fuzz(tmp_path, "--machine", "ratelimit", "--minutes", "0.005", "--workers", "1")
    out = capsys.readouterr().out
    assert code == 0
    assert "warning: about 0.1 s per target" in out
    targets = summary["machines"]["ratelimit"]["targets"]
    assert sorted(targets) == sorted(catalog.REAL_TARGETS["ratelimit"])
    unrun = [name for name, counted in targets.items() if counted["examples"] == 0]
    assert unrun, "a 0.3 s budget cannot reach five targets"
    for name in unrun:
        assert f"warning: ratelimit / {name}: never ran (the run ended before its turn)" in out


def test_a_repeated_machine_or_target_is_fuzzed_once() -> None:
    assert plan(("chain", "chain"), ()) == [("chain", "resilience")]
    assert plan(("pool",), ("sync", "sync")) == [("pool", "sync")]


def test_passwords_never_reach_the_summary() -> None:
    shown = command_line(["fuzz", "--db", "redis://:secret@example:6379/2", "--minutes", "1"])
    assert "secret" not in shown
    assert "redis://:***@example:6379/2" in shown


def test_replay_says_what_is_not_a_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "summary.json").write_text(json.dumps({"format": "properties.fuzz-summary/1"}))
    assert main(["replay", str(tmp_path)]) == 1  # a directory replays the programs in it
    out = capsys.readouterr().out
    assert f"NOT A PROGRAM {tmp_path / 'garbage.json'}" in out
    assert "not a readable JSON file" in out
    assert "a fuzz summary (read it with `python -m properties report`)" in out
    assert main(["replay", str(tmp_path / "empty-dir-that-is-missing")]) == 1
