"""What every process of the command line sets up before it runs a machine (the parent, and each
fuzz worker it spawns)."""

from __future__ import annotations

import logging

__all__ = ["prepare"]


def prepare() -> None:
    """Assertion messages (before any machine is imported), the Hypothesis profiles, and the
    library's logs kept quiet: the library logs what a callback raised, and planted failures are
    the machines' to judge (Python's last-resort handler would print each to stderr)."""
    from properties.fuzz.assertions import rewrite_asserts

    rewrite_asserts()
    from properties.harness.profiles import register_profiles

    register_profiles()
    library = logging.getLogger("resilience")
    if not any(isinstance(handler, logging.NullHandler) for handler in library.handlers):
        library.addHandler(logging.NullHandler())
    library.propagate = False
