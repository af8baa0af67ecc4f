"""``python -m properties replay [FILE ...]``: replay regression programs (default: the whole
corpus) without the Hypothesis engine, and say for each whether it passed, failed (with every
step it ran, and the model's and the implementation's state where it failed), or no longer
applies to the machine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from properties.fuzz.corpus import REGRESSIONS, corpus_files
from properties.harness.replay import ProgramDoesNotApply, replay_file
from properties.harness.trace import ProgramError, type_name

__all__ = ["replay_programs"]


def replay_programs(
    files: Sequence[Path], *, verbose: bool = False, echo: Callable[[str], object] = print
) -> int:
    """Replay ``files`` (or the corpus); 0 if every one passed, else 1."""
    paths = [found for path in files for found in (corpus_files(path) if path.is_dir() else [path])]
    if not files:
        paths = corpus_files()
    if not paths:
        echo(f"no regression programs in {', '.join(map(str, files)) or REGRESSIONS}")
        return 0 if not files else 1
    failed = 0
    for path in paths:
        log: list[str] = []
        try:
            result = replay_file(path, echo=log.append)
        except ProgramError as error:
            failed += 1
            echo(f"NOT A PROGRAM {path}\n  {error}")
            continue
        except ProgramDoesNotApply as error:
            failed += 1
            echo(f"DOES NOT APPLY {path}\n  {error}")
            continue
        except Exception as error:  # the failure the program records (or another one)
            failed += 1
            first = (str(error).strip().splitlines() or [""])[0]
            echo(f"FAIL {path}: {type_name(type(error))}: {first}")
            echo("\n".join(f"    {line}" for line in log))
            continue
        note = " (got past where it failed when recorded)" if result.got_past_failure else ""
        echo(f"PASS {path}: {result.steps} steps{note}")
        if verbose:
            echo("\n".join(f"    {line}" for line in log))
    passed = len(paths) - failed
    echo(f"replay: {passed} passed, {failed} failed, no longer apply, or are not programs")
    return 1 if failed else 0
