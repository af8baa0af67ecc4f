"""Small objects mutation testing found no test for: a ConfigError survives pickling whole (it
crosses process boundaries, e.g. from a fuzz worker), and the system clock says what it is."""

from __future__ import annotations

import pickle

from resilience import ConfigError
from resilience.clock import SystemClock


def test_a_config_error_pickles_with_its_field_value_and_rule() -> None:
    error = ConfigError("retry.max_attempts", 0, "must be at least 1")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ConfigError
    assert (copy.field, copy.value, copy.rule) == ("retry.max_attempts", 0, "must be at least 1")
    assert str(copy) == str(error) == "retry.max_attempts=0 is invalid: must be at least 1"


def test_the_system_clock_says_what_it_is() -> None:
    assert repr(SystemClock()) == "SystemClock()"
