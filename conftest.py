"""Root conftest: Hypothesis profiles, and no global state leaking between tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import circuitbreaker
import freezegun
import pytest

# Machines, models and the harness assert outside test modules: have pytest rewrite those asserts
# too, so a failing invariant shows both sides. Must run before they are imported (a process that
# runs pytest more than once, as mutmut does, has them imported already: nothing to do then).
_CHECKS = ("properties.machines", "properties.harness", "properties.models")
if not any(name in sys.modules for name in _CHECKS):
    pytest.register_assert_rewrite(*_CHECKS)

from hypothesis import settings  # noqa: E402

import resilience  # noqa: E402
from properties.harness.profiles import choose_profile, register_profiles  # noqa: E402

register_profiles()
settings.load_profile(choose_profile(os.environ))

# pytest times each test phase through ``_pytest.timing``, whose ``perf_counter`` freezegun
# rewrites like any other module's: a test that moves frozen time by an hour was reported as
# taking an hour (``--durations``), and mutmut, which orders mutants and sets its time limits
# from those durations, gave such tests hours.  Let pytest's own clock read real time.
freezegun.configure(extend_ignore_list=["_pytest.timing"])


def pytest_report_header(config: pytest.Config) -> str:
    active = settings.default
    return (
        f"hypothesis profile: {settings.get_current_profile_name()} "
        f"(derandomize={active.derandomize}, max_examples={active.max_examples}, "
        f"stateful_step_count={active.stateful_step_count})"
    )


@pytest.fixture(autouse=True)
def _no_global_breakers() -> Iterator[None]:
    """The base package's monitor and our default registry start and end every test empty."""
    circuitbreaker.CircuitBreakerMonitor.circuit_breakers.clear()
    resilience.breakers.clear()
    yield
    circuitbreaker.CircuitBreakerMonitor.circuit_breakers.clear()
    resilience.breakers.clear()


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Stable test ids: a parameter whose repr carries its address (``<object object at
    0x...>``, a lambda) is named by its type or qualified name instead, so a test keeps its id
    from one run to the next (mutmut and ``--lf`` match tests by id)."""
    if " at 0x" not in repr(val):
        return None
    return getattr(val, "__qualname__", None) or type(val).__name__
