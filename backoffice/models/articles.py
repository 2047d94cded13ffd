"""Artigos de ajuda (ART-1): what customers read and search before writing to the company.

- `ArticleCategory`: how the help center groups articles (name unique per company, order).
- `Article`: a Markdown body (rendered and sanitised by services/articles/render.py, never
  trusted as HTML), draft or published, public (help center, widget, portal) or portal
  only (logged-in representatives), with its counters: views and the "Isso resolveu?"
  answers.
- `ArticleFeedback`: one "Isso resolveu?" answer, and where it was given.

Search (services/articles/search.py) reads `search_text`: the title and body in lower
case without accents (unicodedata, in Python), so "devolução" and "devolucao" are one word
without PostgreSQL's unaccent extension. On PostgreSQL the GIN expression index below
serves `to_tsvector('portuguese', search_text)` (stemming: "boletos" -> "bolet"); on
SQLite the FTS5 table `article_fts` holds the same text stemmed by snowball's Portuguese
stemmer (FTS5 has none), written by the service when an article is saved or deleted.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (DDL, Boolean, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, event, func, literal_column)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow

STATUS_DRAFT = "draft"
STATUS_PUBLISHED = "published"
STATUSES = {STATUS_DRAFT: _l("Rascunho"), STATUS_PUBLISHED: _l("Publicado")}

AUDIENCE_PUBLIC = "public"
AUDIENCE_PORTAL = "portal"
AUDIENCES = {AUDIENCE_PUBLIC: _l("Público"), AUDIENCE_PORTAL: _l("Somente no portal")}

WHERE_WIDGET = "widget"
WHERE_PORTAL = "portal"
WHERE_HELP = "help_center"
WHERES = {WHERE_WIDGET: _l("Chat do site"), WHERE_PORTAL: _l("Portal"),
          WHERE_HELP: _l("Central de ajuda")}

# the FTS5 table of the embedded mode and the shadow tables SQLite makes for it: no
# model describes them, so the schema comparisons (tests/test_migrations.py) leave them out
FTS_TABLE = "article_fts"
FTS_TABLES = frozenset({FTS_TABLE} | {f"{FTS_TABLE}_{suffix}" for suffix in
                                      ("data", "idx", "content", "docsize", "config")})
FTS_CREATE = (f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
              "title, body, tokenize = 'unicode61 remove_diacritics 2')")
# the same expression in the index and in every query, or PostgreSQL cannot use the index
TSVECTOR = func.to_tsvector(literal_column("'portuguese'::regconfig"),
                            literal_column("search_text"))


class ArticleCategory(TenantMixin, db.Model):
    """Categoria de artigos."""

    __tablename__ = "article_category"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_article_category_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    articles: Mapped[list["Article"]] = relationship(back_populates="category")

    def __str__(self) -> str:
        return self.name


class Article(TenantMixin, db.Model):
    """Artigo de ajuda. `body` is Markdown as the author wrote it."""

    __tablename__ = "article"
    __table_args__ = (
        Index("ix_article_search", TSVECTOR, postgresql_using="gin").ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("article_category.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=STATUS_DRAFT)
    audience: Mapped[str] = mapped_column(String(10), default=AUDIENCE_PUBLIC)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # title and body, lower case, accents removed (services/articles/text.py)
    search_text: Mapped[str] = mapped_column(Text, default="")
    views: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    solved_yes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    solved_no: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    category: Mapped[ArticleCategory] = relationship(back_populates="articles")

    def __str__(self) -> str:
        return self.title

    @property
    def published(self) -> bool:
        return self.status == STATUS_PUBLISHED


class ArticleFeedback(TenantMixin, db.Model):
    """One "Isso resolveu?" answer (the article's counters add them up)."""

    __tablename__ = "article_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"),
                                            index=True)
    solved: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(12))  # WHERES: where it was answered
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()


# create_all (tests, benchmarks) makes the embedded mode's search table too; the
# migration 0017 creates it on SQLite
event.listen(Article.__table__, "after_create", DDL(FTS_CREATE).execute_if(dialect="sqlite"))
event.listen(Article.__table__, "after_drop",
             DDL(f"DROP TABLE IF EXISTS {FTS_TABLE}").execute_if(dialect="sqlite"))
