""""Isso resolveu?" answers and what the admin sees of them (ART-1).

Each answer is a row (when, where: widget, portal or help center) and one atomic
increment of the article's counter, so two answers at once both count. The deflection
share is the part of the answers that said "Sim": contacts the article spared.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import update

from ...extensions import db
from ...models.articles import WHERES, Article, ArticleFeedback
from .. import RuleError


def read_solved(value) -> bool:
    """true/false, "sim"/"nao", 1/0 from a form or JSON; else RuleError."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("1", "true", "sim", "yes", "s", "y"):
        return True
    if text in ("0", "false", "nao", "não", "no", "n"):
        return False
    raise RuleError(_("Responda se o artigo resolveu: sim ou não."))


def record(article: Article, solved, where: str) -> ArticleFeedback:
    """One answer to "Isso resolveu?" (the caller commits)."""
    solved = read_solved(solved)
    if where not in WHERES:
        raise RuleError(_("Origem inválida."))
    row = ArticleFeedback(company_id=article.company_id, article_id=article.id,
                          solved=solved, source=where)
    db.session.add(row)
    column = Article.solved_yes if solved else Article.solved_no
    db.session.execute(update(Article).where(Article.id == article.id)
                       .values({column.key: column + 1})
                       .execution_options(synchronize_session=False))
    return row


def count_view(article: Article) -> None:
    """One more reader (an atomic increment; the caller commits)."""
    db.session.execute(update(Article).where(Article.id == article.id)
                       .values(views=Article.views + 1)
                       .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Stats:
    views: int
    yes: int
    no: int

    @property
    def answers(self) -> int:
        return self.yes + self.no

    @property
    def deflection(self) -> float | None:
        """Share of the answers that said it solved (None before any answer)."""
        return self.yes / self.answers if self.answers else None


def stats(article: Article) -> Stats:
    return Stats(article.views or 0, article.solved_yes or 0, article.solved_no or 0)
