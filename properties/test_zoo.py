"""The guard on the planted-bug zoo: every planted bug is named, classed and killed, under the
``ci`` profile (derandomized, 200 test cases, generation only), by the check the zoo names for
it. ``python -m properties mutants`` measures the same zoo over random seeds."""

from __future__ import annotations

from collections import Counter

import pytest

from properties.mutants.matrix import guard_settings, kill
from properties.mutants.zoo import BUG_CLASSES, REQUIRED, zoo

pytestmark = [pytest.mark.zoo, pytest.mark.teeth]

ZOO = zoo()


def test_the_zoo_holds_ten_bugs_per_component_each_named_and_classed() -> None:
    sizes = Counter(mutant.component for mutant in ZOO)
    assert len(ZOO) >= 60, f"the zoo holds {len(ZOO)} planted bugs; at least 60 are wanted"
    short = {component: sizes[component] for component in REQUIRED if sizes[component] < 10}
    assert not short, f"fewer than 10 planted bugs in: {short}"
    assert len({mutant.name for mutant in ZOO}) == len(ZOO)
    for mutant in ZOO:
        assert mutant.bug_class in BUG_CLASSES, f"{mutant.name}: bug class {mutant.bug_class!r}"
        assert len(mutant.slip) > 20, f"{mutant.name}: say what real-world slip it stands for"


@pytest.mark.parametrize("name", [mutant.name for mutant in ZOO])
def test_every_planted_bug_is_killed(name: str) -> None:
    mutant = next(m for m in ZOO if m.name == name)
    trial = kill(mutant, guard_settings())
    assert trial.error is None, f"the suite itself crashed: {trial.error}"
    assert trial.killed, (
        f"{name} ({mutant.slip}) survived {trial.tests} test cases of {mutant.killer}"
    )
    assert trial.tests >= 1
    assert trial.killed_by is not None
    assert "properties/" in trial.killed_by or " raised " in trial.killed_by, trial.killed_by
