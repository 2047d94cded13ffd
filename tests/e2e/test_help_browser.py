"""ART-1 in a real browser, on the demo: a visitor of the shop's site types in the chat
widget and is offered the matching help article (accents and plural: "devolucao" finds
"Política de trocas e devoluções"), answers "Isso resolveu?" and the answer is recorded
as the widget's; the article's own page on the help center counts the reader."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company, Connection
from backoffice.models.articles import Article, ArticleFeedback
from tests.e2e.steps import record_errors

TITLE = "Política de trocas e devoluções"


def _demo(app, company_id: int) -> tuple[str, str, int]:
    with app.app_context():
        key = db.session.scalar(select(Connection.public_key).where(
            Connection.company_id == company_id, Connection.kind == "webchat"))
        domain = db.session.scalar(select(Company.domain).where(Company.id == company_id))
        article_id = db.session.scalar(select(Article.id).where(Article.title == TITLE))
        db.session.remove()
    return key, domain, article_id


def test_ART1_widget_suggests_an_article_and_records_the_answer(
        app, page, demo, shop, live_server):
    errors: list[str] = []
    record_errors(page, errors)
    key, domain, article_id = _demo(app, demo.company_id)
    shop(key)
    page.locator("#atende-bubble").click()
    chat = page.frame_locator("#atende-frame")
    chat.locator("#wc-text").press_sequentially("quero fazer uma devolucao")
    box = chat.get_by_test_id("help-suggest")
    expect(box.get_by_role("link", name=TITLE)).to_be_visible()
    item = box.locator(".help-suggest-item", has_text=TITLE)
    item.get_by_role("button", name="Sim").click()
    expect(item).to_contain_text("Obrigado pela resposta!")
    with app.app_context():
        assert db.session.scalars(select(ArticleFeedback.source).where(
            ArticleFeedback.article_id == article_id)).all() == ["widget"]
        db.session.remove()

    # the help center's page of the article: the reader is counted once it is shown
    page.goto(f"{live_server}/ajuda/{domain}/artigos/{article_id}")
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()
    page.wait_for_load_state("networkidle")
    with app.app_context():
        assert db.session.get(Article, article_id).views == 1
        db.session.remove()
    assert errors == []
