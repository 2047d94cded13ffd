"""Artigos de ajuda (ART-1): the rules behind the admin screens, the public help center,
the portal's help pages and the suggestions of the website widget and of Novo contato.

- text.py: words without accents, snowball stems, the plain text of a Markdown body;
- render.py: Markdown to sanitised HTML (markdown-it-py, then nh3), summaries;
- search.py: Portuguese full-text search (PostgreSQL text search / SQLite FTS5);
- editing.py: saving and deleting categories and articles;
- reading.py: which articles a reader may open;
- feedback.py: "Isso resolveu?" answers, views and the admin's stats.
"""
from .editing import (MAX_BODY, MAX_TITLE, check_article, check_category, check_category_delete,  # noqa: F401
                      delete_article, save_article, save_category)
from .feedback import Stats, count_view, read_solved, record, stats  # noqa: F401
from .reading import PORTAL, PUBLIC, by_category, readable  # noqa: F401
from .render import render, summary  # noqa: F401
from .search import MAX_QUERY, read_query, reindex, search, suggest, unindex  # noqa: F401

__all__ = ["MAX_BODY", "MAX_TITLE", "check_article", "check_category", "check_category_delete", "delete_article",
           "save_article", "save_category", "Stats", "count_view", "read_solved", "record",
           "stats", "PORTAL", "PUBLIC", "by_category", "readable", "render", "summary",
           "MAX_QUERY", "read_query", "reindex", "search", "suggest", "unindex"]
