"""Saving and deleting categories and articles, with their rules (ART-1).

The admin screens call these from validate_change / validate_delete; each raises
RuleError with a Portuguese message. Saving an article keeps its search text (and the
embedded mode's FTS5 row) up to date; deleting one removes that row.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import func, select

from ...extensions import db
from ...models.articles import AUDIENCES, STATUSES, Article, ArticleCategory
from .. import RuleError
from .search import reindex, unindex

MAX_TITLE = 160
MAX_BODY = 100_000
MAX_CATEGORY_NAME = 80


def _clean(value) -> str:
    return " ".join(str(value or "").replace("\x00", "").split())


def check_category(category: ArticleCategory, company_id: int) -> None:
    """Name present, short enough and unique in the company."""
    category.name = _clean(category.name)
    if not category.name:
        raise RuleError(_("Informe o nome da categoria."))
    if len(category.name) > MAX_CATEGORY_NAME:
        raise RuleError(_("Nome longo demais: use no máximo %(n)s caracteres.",
                          n=MAX_CATEGORY_NAME))
    clash = db.session.scalar(
        ArticleCategory.owned(company_id, ArticleCategory.id)
        .where(func.lower(ArticleCategory.name) == category.name.lower(),
               ArticleCategory.id != (category.id or 0)))
    if clash is not None:
        raise RuleError(_("Já existe uma categoria com esse nome."))
    category.position = category.position or 0


def check_category_delete(category: ArticleCategory) -> None:
    """A category with articles stays: its articles would go with it unseen."""
    count = db.session.scalar(select(func.count(Article.id))
                              .where(Article.category_id == category.id))
    if count:
        raise RuleError(_("A categoria tem %(n)s artigo(s): mova-os para outra categoria ou "
                          "exclua-os antes.", n=count))


def check_article(article: Article, company_id: int) -> None:
    """Title, body, a category of the company, a known status and audience; then the
    search text is brought up to date (the caller commits)."""
    article.title = _clean(article.title)
    article.body = (article.body or "").replace("\x00", "").replace("\r\n", "\n")
    if not article.title:
        raise RuleError(_("Informe o título do artigo."))
    if len(article.title) > MAX_TITLE:
        raise RuleError(_("Título longo demais: use no máximo %(n)s caracteres.", n=MAX_TITLE))
    if not article.body.strip():
        raise RuleError(_("Escreva o texto do artigo."))
    if len(article.body) > MAX_BODY:
        raise RuleError(_("Texto longo demais: use no máximo %(n)s caracteres.", n=MAX_BODY))
    category_id = article.category.id if article.category is not None else article.category_id
    if ArticleCategory.get_owned(company_id, category_id) is None:
        raise RuleError(_("Escolha uma categoria da sua empresa."))
    if article.status not in STATUSES:
        raise RuleError(_("Situação inválida."))
    if article.audience not in AUDIENCES:
        raise RuleError(_("Público inválido."))
    article.position = article.position or 0
    article.company_id = company_id
    reindex(article)


def save_article(company_id: int, *, title, body, category_id, status="draft",
                 audience="public", position=0, article: Article | None = None) -> Article:
    """Create (or change) an article through the rules; used by the CLI, seed and tests."""
    article = article or Article(company_id=company_id)
    article.title, article.body, article.category_id = title, body, category_id
    article.status, article.audience, article.position = status, audience, position
    if article.id is None:
        db.session.add(article)
    with db.session.no_autoflush:
        check_article(article, company_id)
    return article


def save_category(company_id: int, name: str, position: int = 0,
                  active: bool = True) -> ArticleCategory:
    category = ArticleCategory(company_id=company_id, name=name, position=position,
                               active=active)
    with db.session.no_autoflush:
        check_category(category, company_id)
    db.session.add(category)
    db.session.flush()
    return category


def delete_article(article: Article) -> None:
    unindex(article.id)
    db.session.delete(article)
