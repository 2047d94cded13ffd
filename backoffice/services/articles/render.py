"""Markdown bodies to HTML that is safe to show (ART-1).

markdown-it-py renders CommonMark with raw HTML turned off (an author's `<script>` comes
out as text), and nh3 (ammonia) then keeps only the tags and attributes listed here and
links to http, https and mailto or relative ones: `javascript:` and `onerror=` never
survive, whatever the Markdown library lets through.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

from .text import plain_text

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}
                       ).enable(["table", "strikethrough"])

TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s",
        "code", "pre", "blockquote", "ul", "ol", "li", "a", "img", "table", "thead",
        "tbody", "tr", "th", "td"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"},
              "th": {"style"}, "td": {"style"}}
SCHEMES = {"http", "https", "mailto"}


def render(markdown: str | None) -> Markup:
    """The body as sanitised HTML, ready for a template. Its headings go one level down
    (`#` is an <h2>): the body always sits under the article's title, the page's one <h1>
    (UX-2), so an author's `# Título` neither makes a second <h1> nor skips a level."""
    tokens = _markdown.parse(markdown or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return Markup(nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                            link_rel="noopener noreferrer nofollow",
                            filter_style_properties={"text-align"}))


def summary(markdown: str | None, length: int = 160) -> str:
    """The first words of the body as plain text (escaped by the template, like any text)."""
    text = " ".join(plain_text(markdown).split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(".,;:") + "…"
