"""The regression corpus: ``properties/regressions/*.json``, one regression program per file.

``fuzz`` writes each failure it finds here (or to ``--out``); ``pytest properties/`` and
``python -m properties replay`` replay every file. A file's name says what it is:
``<machine>-<target>-<failure type>-<digest>.json``, the digest taken over the steps and the
failure, so the same program found twice is written once.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from properties.harness.trace import save

__all__ = ["PLANTED", "REGRESSIONS", "corpus_files", "program_filename", "write_program"]

#: Where the corpus lives (next to this package, whatever the working directory).
REGRESSIONS = Path(__file__).resolve().parent.parent / "regressions"

#: Where ``fuzz`` writes what it finds on a planted bug, unless ``--out`` says otherwise: such a
#: program fails by design, and must not land in the corpus (where it would fail every run).
PLANTED = Path(".hypothesis") / "planted-programs"


def corpus_files(directory: Path = REGRESSIONS) -> list[Path]:
    """Every program of the corpus, sorted by name."""
    return sorted(directory.glob("*.json"))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-") or "x"


def program_filename(program: dict[str, Any]) -> str:
    failure = program.get("failure") or {}
    kind = str(failure.get("type", "passing")).rsplit(".", 1)[-1]
    identity = json.dumps(
        {"steps": program.get("steps"), "failure": failure.get("type"), "in": failure.get("in")},
        sort_keys=True,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    parts = (program.get("machine") or "machine", program.get("target") or "target", kind)
    return "-".join(_slug(str(part)) for part in parts) + f"-{digest}.json"


def write_program(program: dict[str, Any], directory: Path) -> Path:
    """Write ``program`` into ``directory`` under its file name; the path written (an existing
    file of the same name holds the same program and is left as it is)."""
    path = directory / program_filename(program)
    if path.exists():
        return path
    return save(program, path)
