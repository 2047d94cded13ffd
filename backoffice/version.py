"""Version shown on the About page (PLT-6); CHANGELOG.md tells what each one brought."""
from __future__ import annotations

import os
import subprocess
from functools import cache
from pathlib import Path

VERSION = "0.14.7"


@cache
def build_date() -> str:
    """ATENDE_BUILD_DATE when packaged; else the date of the checked-out commit."""
    if os.environ.get("ATENDE_BUILD_DATE"):
        return os.environ["ATENDE_BUILD_DATE"]
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%cs"], cwd=Path(__file__).parent,
            capture_output=True, text=True, timeout=5,
        )
        return out.stdout.strip() or "—"
    except (OSError, subprocess.SubprocessError):
        return "—"
