"""Screenshots of the browser tests, kept as artefacts a reviewer can open without running
anything (README.md, "Capturas de tela").

`save_screenshot(page, "inbox")` writes docs/screenshots/inbox-1440x900.png (the name
ends with the page's viewport size, so one walk at each size never overwrites the other).
ATENDE_SCREENSHOTS_DIR sends them elsewhere, e.g. a CI artefact folder.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / "docs" / "screenshots"

# The two sizes of issue 14: a common phone and a laptop screen.
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def screenshots_dir() -> Path:
    folder = Path(os.environ.get("ATENDE_SCREENSHOTS_DIR") or DEFAULT_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def save_screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save what `page` shows as <name>-<width>x<height>.png and return the file's path.

    Only the viewport by default: what the person sees without scrolling, at a steady
    size in the repository. Animations are stopped and the caret hidden so that a second
    run draws the same picture."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise ValueError(f"screenshot name {name!r}: lower-case letters, digits and '-' only")
    size = page.viewport_size or {}
    path = screenshots_dir() / f"{name}-{size.get('width')}x{size.get('height')}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
