"""The Hypothesis profiles, and which one a run loads.

| profile | derandomize | max_examples | stateful_step_count | database | why |
|---|---|---|---|---|---|
| dev | no | 100 | 50 | local `.hypothesis/` | fast feedback, new random cases each run |
| ci | yes | 200 | 50 | none | the same cases every run: a red CI is a real regression |
| nightly | no | 4000 | 100 | local (or the fuzz CLI's) | deep search; failures become regressions |
| replay | - | - | 50 | local `.hypothesis/` | re-run saved failures only (explicit + reuse) |
| mutation | yes | 50 | 50 | none | mutmut: no shrinking, a verdict independent of mutant order |

Choice: ``--hypothesis-profile`` (applied by Hypothesis' pytest plugin after us) beats
``HYPOTHESIS_PROFILE``, which beats ``CI`` (set and not ``0``/``false``/``no``: ``ci``), which beats
the default ``dev``.
Hypothesis auto-loads a built-in ``ci`` profile when ``CI`` is set; ours is registered under the
same name and loaded explicitly, so it wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import HealthCheck, Phase, settings

__all__ = ["COVERAGE_PROFILES", "PROFILES", "choose_profile", "register_profiles"]

# Fewer than 50 steps misses real breaker bugs (see the frozen-time notes): never below it in CI.
_COMMON = {"deadline": None, "stateful_step_count": 50, "print_blob": True}

PROFILES: dict[str, dict[str, object]] = {
    "dev": {**_COMMON, "max_examples": 100},
    "ci": {**_COMMON, "max_examples": 200, "derandomize": True, "database": None},
    "nightly": {
        **_COMMON,
        "max_examples": 4000,
        "stateful_step_count": 100,
        "suppress_health_check": [HealthCheck.too_slow],
    },
    "replay": {**_COMMON, "phases": [Phase.explicit, Phase.reuse]},
    # mutmut: a verdict per mutant that does not depend on the mutants run before it.
    # 50 examples: a survivor runs every test that reaches its function, so the machines' cost
    # decides whether a full run of the 6,800 mutants fits in an afternoon on 2 cores.
    "mutation": {
        **_COMMON,
        "max_examples": 50,
        "derandomize": True,
        "database": None,
        "phases": [Phase.explicit, Phase.generate],
        "print_blob": False,
        "report_multiple_bugs": False,
    },
}

#: Profiles in which every machine must reach every declared coverage target.
COVERAGE_PROFILES = frozenset({"ci", "nightly"})


def register_profiles() -> None:
    # The parent is Hypothesis' pristine "default" profile: without it a profile inherits from
    # whichever is loaded at registration time (under CI, Hypothesis' built-in "ci").
    pristine = settings.get_profile("default")
    for name, values in PROFILES.items():
        settings.register_profile(name, parent=pristine, **values)  # type: ignore[arg-type]


def choose_profile(environ: Mapping[str, str]) -> str:
    """The profile named by the environment (the command-line option is applied later)."""
    explicit = environ.get("HYPOTHESIS_PROFILE", "").strip()
    if explicit:
        if explicit not in PROFILES:
            choices = ", ".join(sorted(PROFILES))
            raise ValueError(
                f"HYPOTHESIS_PROFILE={explicit!r} is not a profile: use one of {choices}"
            )
        return explicit
    ci = environ.get("CI", "").strip().lower()
    return "ci" if ci not in ("", "0", "false", "no") else "dev"
