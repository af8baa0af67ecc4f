"""``EventLogger``'s refusal of a logger that is not one: the message, word for word."""

from __future__ import annotations

from typing import Any

import pytest

from resilience import EventLogger


@pytest.mark.parametrize(
    ("logger", "message"),
    [
        ("resilience", "logger must be a logging.Logger or None, not 'resilience'"),
        (3, "logger must be a logging.Logger or None, not 3"),
    ],
)
def test_a_logger_that_is_not_one_is_refused_saying_what_it_must_be(
    logger: Any, message: str
) -> None:
    with pytest.raises(TypeError) as caught:
        EventLogger(logger)
    assert str(caught.value) == message
