"""Assertion messages outside pytest: the command line rewrites the machines' and models' asserts
as pytest does (conftest.py registers the same modules), so a failing invariant found by
``fuzz``, ``replay`` or ``reproduce`` shows both sides (``assert 3 == 2``), not an empty message.
Must run before those modules are imported."""

from __future__ import annotations

import sys

__all__ = ["REWRITTEN", "rewrite_asserts"]

#: The packages whose asserts are the suite's checks (the same list as conftest.py's).
REWRITTEN = ("properties.machines", "properties.harness", "properties.models")

_installed = False


def rewrite_asserts() -> bool:
    """Install pytest's assertion rewriting for ``REWRITTEN``; whether it is active. Without
    pytest (it is a dev dependency) the asserts still check, with bare messages."""
    global _installed
    if _installed or ("pytest" in sys.modules and _under_pytest()):
        return True
    try:
        from _pytest.assertion import install_importhook
        from _pytest.config import get_config
    except ImportError:  # pragma: no cover - pytest comes with the dev install
        return False
    hook = install_importhook(get_config())
    hook.mark_rewrite(*REWRITTEN)
    _installed = True
    return True


def _under_pytest() -> bool:
    from _pytest.assertion.rewrite import AssertionRewritingHook

    return any(isinstance(finder, AssertionRewritingHook) for finder in sys.meta_path)
