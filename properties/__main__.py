"""``python -m properties``: fuzz, replay, reproduce, report (see properties/cli.py)."""

from __future__ import annotations

import sys

from properties.cli import main

sys.exit(main())
