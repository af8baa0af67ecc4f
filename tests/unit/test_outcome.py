"""``run_all``'s time limit: the message a refused ``timeout`` reads, word for word, in one
table (the refusal's field and value are checked by ``assert_refused``)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from fractions import Fraction

import pytest

from resilience import ConfigError, Resilience
from tests.refusals import assert_refused

CONFIG = {"operations": {"ok": {"retry": {"max_attempts": 1}}}}
RULE = "must be a positive number of seconds, or None (no limit)"

#: (timeout, the message of its refusal word for word)
REFUSED = [
    pytest.param(0, f"timeout=0 is invalid: {RULE}", id="zero"),
    pytest.param(-1, f"timeout=-1 is invalid: {RULE}", id="negative"),
    pytest.param(1e-400, f"timeout=0.0 is invalid: {RULE}", id="float-zero"),
    pytest.param(float("inf"), f"timeout=inf is invalid: {RULE}", id="infinite"),
    pytest.param(True, f"timeout=True is invalid: {RULE}", id="bool"),
    pytest.param("1", f"timeout='1' is invalid: {RULE}", id="string"),
    pytest.param(
        Decimal("1e400"),
        f"timeout=Decimal('1E+400') is invalid: {RULE}",
        id="decimal-too-large-for-a-float",
    ),
    pytest.param(
        Fraction(1, 10**400),
        f"timeout=Fraction(1, 1{'0' * 400}) is invalid: {RULE}",
        id="fraction-too-small-for-a-float",
    ),
]


@pytest.mark.parametrize(("timeout", "message"), REFUSED)
def test_a_refused_timeout_says_what_a_timeout_must_be(timeout: object, message: str) -> None:
    ran: list[str] = []
    with pytest.raises(ConfigError) as caught:
        asyncio.run(Resilience(CONFIG).run_all({"ok": lambda: ran.append("ok")}, timeout=timeout))
    assert_refused(caught.value, "timeout", timeout)
    assert str(caught.value) == message
    assert ran == []
