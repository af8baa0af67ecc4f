"""Every regression program of ``properties/regressions/`` replays green, each as its own test,
without the Hypothesis engine (so it keeps replaying after the machine class is edited or
Hypothesis is upgraded). A program that no longer applies fails, saying why; never skipped.

A program that records where it was first found (``found_against``: a planted bug it was
recorded on before being pointed at the real implementation) must also still fail there, the
same way: the regression keeps its teeth."""

from __future__ import annotations

from pathlib import Path

import pytest

from properties.fuzz.corpus import REGRESSIONS, corpus_files
from properties.harness.replay import replay, same_failure
from properties.harness.trace import load

PROGRAMS = corpus_files()


def test_the_corpus_is_not_empty() -> None:
    """The replay below must have something to replay (an empty corpus is a lost directory)."""
    assert PROGRAMS, f"no regression programs in {REGRESSIONS}"


@pytest.mark.parametrize("path", PROGRAMS, ids=[path.stem for path in PROGRAMS])
def test_regression_replays_green(path: Path) -> None:
    program = load(path)  # a file that is not a program fails here, and only here
    result = replay(program, name=path.name)
    assert result.steps + result.got_past_failure >= 1, f"{path.name} ran no step"
    against = program.get("found_against")
    if against is None:
        return
    with pytest.raises(Exception) as caught:
        replay(dict(program, target=against), name=f"{path.name} against {against}")
    assert same_failure(program, caught.value), (
        f"{path.name} failed against {against} with {type(caught.value).__name__}, not the "
        f"recorded {program['failure']['type']}"
    )
