"""Atualizações (PLT-6, UX-7): the customer notes (backoffice/updates.md) shown as HTML,
and the versions a notes file lists.

No Markdown library is installed and the notes have a small, known shape, so a tiny
renderer does: "# " title (dropped: the page has its own), "## " version headings,
"- " bullets (indented lines continue them), paragraphs, and `code`. Every piece of text
is escaped; nothing in the file can inject markup. Cached by the file's mtime.
"""
from __future__ import annotations

import re
from pathlib import Path

from markupsafe import Markup, escape

_CODE = re.compile(r"`([^`]+)`")
# a heading's release date, written YYYY-MM-DD, reads dd/mm/aaaa on the page (UX-4)
_ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_VERSION = re.compile(r"^##\s+(\d+\.\d+\.\d+)", re.M)
_cache: dict[str, tuple[tuple[int, int], Markup]] = {}


def _inline(text: str) -> Markup:
    """Escape, then turn `code` spans into <code> (their content escaped too)."""
    out, last = [], 0
    for m in _CODE.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup("<code>{}</code>").format(m.group(1)))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def render(text: str) -> Markup:
    html: list[Markup] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush_paragraph():
        if paragraph:
            html.append(Markup("<p>{}</p>").format(_inline(" ".join(paragraph))))
            paragraph.clear()

    def flush_items():
        if items:
            lis = Markup("").join(Markup("<li>{}</li>").format(_inline(i)) for i in items)
            html.append(Markup('<ul class="changelog-items">{}</ul>').format(lis))
            items.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped:
            flush_paragraph()
            flush_items()
            continue
        if stripped.startswith("## "):
            flush_paragraph()
            flush_items()
            html.append(Markup('<h3 class="changelog-version">{}</h3>').format(
                _inline(_ISO_DAY.sub(r"\3/\2/\1", stripped[3:].strip()))))
        elif stripped.startswith("# "):
            flush_paragraph()
            flush_items()
        elif stripped.startswith(("- ", "* ")):
            flush_paragraph()
            items.append(stripped[2:].strip())
        elif items and line[:1] in (" ", "\t"):
            items[-1] += " " + stripped
        else:
            flush_items()
            paragraph.append(stripped)
    flush_paragraph()
    flush_items()
    return Markup("\n").join(html)


def versions(text: str) -> list[str]:
    """The version numbers of the "## <x.y.z> ..." headings, in file order."""
    return _VERSION.findall(text)


def render_file(path: str | Path) -> Markup:
    """The rendered notes; re-read only when the file changes. Missing file: empty."""
    path = Path(path)
    try:
        stat = path.stat()
        mtime = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return Markup("")
    key = str(path)
    cached = _cache.get(key)
    if cached is None or cached[0] != mtime:
        cached = (mtime, render(path.read_text(encoding="utf-8")))
        _cache[key] = cached
    return cached[1]
