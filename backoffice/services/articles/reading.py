"""What readers may open (ART-1): published articles of active categories; the public
(help center, website widget) reads public ones only, a logged-in representative of the
portal public and portal-only ones. Anything else is None: the caller answers 404, the
same as for another company's or a missing article.
"""
from __future__ import annotations

from ...extensions import db
from ...lib.ids import as_id
from ...models.articles import AUDIENCE_PORTAL, AUDIENCE_PUBLIC, Article, ArticleCategory
from .search import _visible

PUBLIC = (AUDIENCE_PUBLIC,)
PORTAL = (AUDIENCE_PUBLIC, AUDIENCE_PORTAL)


def readable(company_id: int, article_id, audiences) -> Article | None:
    article_id = as_id(article_id)
    if article_id is None or company_id is None:
        return None
    return db.session.scalar(_visible(company_id, audiences).where(Article.id == article_id))


def by_category(company_id: int, audiences) -> list[tuple[ArticleCategory, list[Article]]]:
    """The index of the help center: active categories in order, each with its published
    articles in order; categories left empty are not shown."""
    rows = db.session.scalars(_visible(company_id, audiences)
                              .order_by(ArticleCategory.position, ArticleCategory.name,
                                        Article.position, Article.title))
    index: dict[int, tuple[ArticleCategory, list[Article]]] = {}
    for article in rows:
        index.setdefault(article.category_id, (article.category, []))[1].append(article)
    return list(index.values())
