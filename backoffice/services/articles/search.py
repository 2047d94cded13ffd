"""Full-text search of published articles in Portuguese (ART-1), one behaviour on two
backends:

- PostgreSQL: `to_tsvector('portuguese', search_text)` (the expression of the GIN index
  ix_article_search) matched against a `to_tsquery` built from the query's words;
  ranked by `ts_rank`.
- SQLite: the FTS5 table `article_fts` (title and body as snowball stems, written here
  by `reindex` when an article is saved); ranked by bm25 with the title weighing more.

Both read words normalised by text.py (no accents, "-ões" folded), so "devolução" finds
"devolucao" and "boleto" finds "boletos". An article whose title holds a word of the
query comes first. `search` wants every word (the help center's search box); `suggest`
wants any word and takes the last one as a prefix (the customer is still typing).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, literal_column, select, text

from ...extensions import db
from ...models.articles import (FTS_TABLE, STATUS_PUBLISHED, TSVECTOR, Article,
                                ArticleCategory)
from .. import RuleError
from .text import normalise, plain_text, stem, stems, words

MAX_QUERY = 200      # characters of a query; a longer one is refused, not cut
MAX_TERMS = 12       # words of a query that are searched
CANDIDATES = 50      # rows ranked by the database before the title-first order


@dataclass(frozen=True)
class Query:
    """The words to look for (stems), and whether the last is a prefix."""

    terms: tuple[str, ...]
    prefix: bool = False


def read_query(raw, *, prefix: bool = False) -> Query:
    """A query from the request: text of at most MAX_QUERY characters, else RuleError."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise RuleError(_("Busca inválida."))
    raw = raw.replace("\x00", "").strip()
    if len(raw) > MAX_QUERY:
        raise RuleError(_("Busca longa demais: use no máximo %(n)s caracteres.", n=MAX_QUERY))
    found = words(raw)
    terms = tuple(dict.fromkeys(found))[:MAX_TERMS]
    # the last word is still being typed when the text ends inside it (not after a space
    # or a stopword, which words() left out)
    typing = prefix and bool(found) and normalise(raw)[-1:].isalnum() and words(
        raw.split()[-1])[-1:] == [found[-1]]
    return Query(terms, typing and terms[-1] == found[-1])


def search_text(article: Article) -> str:
    """The normalised words the PostgreSQL index reads (title, then body)."""
    return " ".join(words(article.title)) + "\n" + " ".join(words(plain_text(article.body)))


# --- the embedded mode's FTS5 table ------------------------------------------------------


def _sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def reindex(article: Article) -> None:
    """Keep the article's search text (and, on SQLite, its FTS5 row) as it now reads."""
    article.search_text = search_text(article)
    if not _sqlite():
        return
    db.session.flush()
    unindex(article.id)
    db.session.execute(
        text(f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (:id, :title, :body)"),
        {"id": article.id, "title": " ".join(stems(article.title)),
         "body": " ".join(stems(plain_text(article.body)))})


def unindex(article_id: int) -> None:
    if _sqlite():
        db.session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"),
                           {"id": article_id})


# --- search ----------------------------------------------------------------------------


def _visible(company_id: int, audiences):
    return (Article.owned(company_id)
            .join(ArticleCategory, ArticleCategory.id == Article.category_id)
            .where(Article.status == STATUS_PUBLISHED, Article.audience.in_(list(audiences)),
                   ArticleCategory.active.is_(True)))


def _fts_match(query: Query, any_word: bool) -> str:
    quoted = [f'"{term}"' for term in query.terms]  # terms are [a-z0-9]+: nothing to escape
    if query.prefix:
        quoted[-1] += "*"
    return (" OR " if any_word else " AND ").join(quoted)


def _pg_tsquery(query: Query, any_word: bool) -> str:
    parts = list(query.terms)
    if query.prefix:
        parts[-1] += ":*"
    return (" | " if any_word else " & ").join(parts)


def _ranked_ids(company_id: int, query: Query, audiences, any_word: bool) -> list[int]:
    if _sqlite():
        fts = text(f"SELECT rowid AS id, bm25({FTS_TABLE}, 5.0, 1.0) AS score FROM {FTS_TABLE} "
                   f"WHERE {FTS_TABLE} MATCH :match").columns(
            literal_column("id"), literal_column("score")).subquery("fts")
        match = [stem(t) for t in query.terms]
        stmt = (_visible(company_id, audiences).with_only_columns(Article.id)
                .join(fts, fts.c.id == Article.id)
                .order_by(fts.c.score, Article.position, Article.id).limit(CANDIDATES)
                .params(match=_fts_match(Query(tuple(match), query.prefix), any_word)))
        return list(db.session.scalars(stmt))
    tsquery = func.to_tsquery(literal_column("'portuguese'::regconfig"),
                              bindparam("tsquery", _pg_tsquery(query, any_word)))
    stmt = (_visible(company_id, audiences).with_only_columns(Article.id)
            .where(TSVECTOR.op("@@")(tsquery))
            .order_by(func.ts_rank(TSVECTOR, tsquery).desc(), Article.position, Article.id)
            .limit(CANDIDATES))
    return list(db.session.scalars(stmt))


def _title_hit(article: Article, query: Query) -> bool:
    title = set(stems(article.title))
    wanted = [stem(t) for t in query.terms]
    if any(w in title for w in (wanted[:-1] if query.prefix else wanted)):
        return True
    return query.prefix and any(s.startswith(wanted[-1]) for s in title)


def _run(company_id: int, query: Query, audiences, limit: int, any_word: bool) -> list[Article]:
    if not query.terms or company_id is None:
        return []
    ids = _ranked_ids(company_id, query, audiences, any_word)
    if not ids:
        return []
    rows = {a.id: a for a in db.session.scalars(select(Article).where(Article.id.in_(ids)))}
    ranked = [rows[i] for i in ids if i in rows]
    # stable sort: the database's rank stays the order inside each group
    ranked.sort(key=lambda a: not _title_hit(a, query))
    return ranked[:max(1, limit)]


def search(company_id: int, raw, audiences, limit: int = 20) -> list[Article]:
    """Published articles of `audiences` holding every word of `raw`, best first.
    RuleError for a query that is no text or too long."""
    return _run(company_id, read_query(raw), audiences, limit, any_word=False)


def suggest(company_id: int, raw, audiences, limit: int = 5) -> list[Article]:
    """Articles for what the customer is typing: any word counts, the last one may be
    half written."""
    return _run(company_id, read_query(raw, prefix=True), audiences, limit, any_word=True)

