"""ART-1: the help articles' full-text search in Portuguese, on the current backend
(SQLite FTS5 with snowball stems in the embedded pass, PostgreSQL's `portuguese` text
search in the services pass): accents both ways, plurals, the title first, drafts and
portal-only articles where they belong, bad queries refused in Portuguese."""
from __future__ import annotations

import pytest

from backoffice.extensions import db
from backoffice.services import RuleError, articles
from tests.factories import gen_company
from tests.factories.articles import gen_article, gen_article_category


@pytest.fixture
def shop(app):
    with app.app_context():
        company, _admin = gen_company("Loja Search", "admin-busca@example.com")
        other, _ = gen_company("Outra Loja", "admin-outra@example.com")
        money = gen_article_category(company, "Financeiro")
        gen_article(company, "Segunda via de boletos",
                    "Entre em Minha conta e clique em Boletos para emitir a segunda via.",
                    category=money)
        gen_article(company, "Como pedir a devolução de um produto",
                    "A devolução é gratuita em até 7 dias.", category=money)
        gen_article(company, "Prazo de entrega",
                    "O prazo de entrega depende do CEP. Pague o boleto antes: a entrega "
                    "começa depois do pagamento do boleto, boleto compensado em 2 dias.",
                    category=money)
        gen_article(company, "Rascunho sobre boleto", "Ainda não publicado: boleto.",
                    category=money, status="draft")
        gen_article(company, "Boleto para clientes do portal", "Só representantes veem.",
                    category=money, audience="portal")
        gen_article(other, "Boletos da outra empresa", "Boleto de outra empresa.")
        db.session.commit()
        return company.id


def titles(found) -> list[str]:
    return [a.title for a in found]


def test_ART1_accents_are_found_both_ways(app, shop):
    with app.app_context():
        assert titles(articles.search(shop, "devolucao", articles.PUBLIC)) == [
            "Como pedir a devolução de um produto"]
        assert titles(articles.search(shop, "DEVOLUÇÃO", articles.PUBLIC)) == [
            "Como pedir a devolução de um produto"]
        # the plural, with and without its accents
        assert titles(articles.search(shop, "devoluções", articles.PUBLIC)) == [
            "Como pedir a devolução de um produto"]


def test_ART1_accentless_article_is_found_by_accented_query(app, shop):
    with app.app_context():
        company = db.session.get(__import__("backoffice.models", fromlist=["Company"]).Company, shop)
        gen_article(company, "Politica de devolucao", "Texto escrito sem acentos: devolucao.")
        db.session.commit()
        found = titles(articles.search(shop, "devolução", articles.PUBLIC))
        assert "Politica de devolucao" in found
        assert "Como pedir a devolução de um produto" in found


def test_ART1_plural_and_singular_find_each_other_and_title_comes_first(app, shop):
    with app.app_context():
        found = titles(articles.search(shop, "boleto", articles.PUBLIC))
        # "boletos" in the title wins over "boleto" three times in a body
        assert found == ["Segunda via de boletos", "Prazo de entrega"]
        assert titles(articles.search(shop, "boletos", articles.PUBLIC))[0] == \
            "Segunda via de boletos"


def test_ART1_every_word_must_match_in_search(app, shop):
    with app.app_context():
        assert titles(articles.search(shop, "boleto entrega", articles.PUBLIC)) == [
            "Prazo de entrega"]
        assert articles.search(shop, "boleto girafa", articles.PUBLIC) == []


def test_ART1_drafts_never_found_portal_only_only_by_the_portal(app, shop):
    with app.app_context():
        public = titles(articles.search(shop, "boleto", articles.PUBLIC))
        portal = titles(articles.search(shop, "boleto", articles.PORTAL))
        assert "Rascunho sobre boleto" not in public + portal
        assert "Boleto para clientes do portal" not in public
        assert "Boleto para clientes do portal" in portal
        assert "Boletos da outra empresa" not in public + portal


def test_ART1_suggest_takes_any_word_and_a_half_typed_last_word(app, shop):
    with app.app_context():
        # the customer is still typing "devolu..."
        assert titles(articles.suggest(shop, "quero fazer a devolu", articles.PUBLIC)) == [
            "Como pedir a devolução de um produto"]
        found = titles(articles.suggest(shop, "meu boleto venceu e a entrega", articles.PUBLIC))
        assert found[:2] == ["Prazo de entrega", "Segunda via de boletos"] or \
            set(found[:2]) == {"Prazo de entrega", "Segunda via de boletos"}
        assert articles.suggest(shop, "de a o e", articles.PUBLIC) == []
        assert articles.suggest(shop, "", articles.PUBLIC) == []


def test_ART1_saving_and_deleting_keep_the_index(app, shop):
    with app.app_context():
        found = articles.search(shop, "entrega", articles.PUBLIC)
        article = found[0]
        article.body = "Agora falamos de frete."
        articles.check_article(article, shop)
        db.session.commit()
        assert titles(articles.search(shop, "frete", articles.PUBLIC)) == ["Prazo de entrega"]
        assert articles.search(shop, "compensado", articles.PUBLIC) == []
        articles.delete_article(article)
        db.session.commit()
        assert articles.search(shop, "frete", articles.PUBLIC) == []


@pytest.mark.parametrize("bad", ["x" * 201, "x" * 10_000, 12, ["boleto"]])
def test_ART1_bad_queries_are_refused_in_portuguese(app, shop, bad):
    with app.app_context(), pytest.raises(RuleError) as refused:
        articles.search(shop, bad, articles.PUBLIC)
    assert "Busca" in str(refused.value)


def test_ART1_query_syntax_is_text_not_operators(app, shop):
    """FTS5 and tsquery operators typed by a customer are words, never syntax errors."""
    with app.app_context():
        for raw in ['boleto" OR "x', "boleto & !entrega", "NEAR(boleto", "bol*", "'; --",
                    "(boleto) | :*"]:
            found = titles(articles.suggest(shop, raw, articles.PUBLIC))
            assert all("outra" not in t for t in found), raw
