"""Help articles (ART-1): categories and articles made through the articles service, so
the search index is written as the admin screens write it."""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.models.articles import Article, ArticleCategory
from backoffice.services import articles


def gen_article_category(company, name: str = "Financeiro", position: int = 0,
                         active: bool = True) -> ArticleCategory:
    return articles.save_category(company.id, name, position=position, active=active)


def gen_article(company, title: str, body: str = "Texto do artigo.", *, category=None,
                status: str = "published", audience: str = "public",
                position: int = 0) -> Article:
    if category is None:
        category = (db.session.scalar(ArticleCategory.owned(company.id).limit(1))
                    or gen_article_category(company))
    article = articles.save_article(company.id, title=title, body=body,
                                    category_id=category.id, status=status,
                                    audience=audience, position=position)
    db.session.flush()
    return article


def gen_article_admin_rows(company, admin, key: str) -> dict[str, tuple[str, int]]:
    """A category and an article for the generic admin tests (tests/admin_registry.py)."""
    category = gen_article_category(company, f"Categoria exclusiva {key.upper()}")
    article = gen_article(company, f"Artigo exclusivo {key.upper()}", "Texto exclusivo.",
                          category=category)
    return {"article_categories": (category.name, category.id),
            "articles": (article.title, article.id)}
