"""ART-1: help articles end to end through HTTP: the sanitised rendering, the public help
center (/ajuda/<domain>/: published public articles only, everything else 404, bad input
400 in Portuguese), the portal's help pages for representatives, the "Isso resolveu?"
counters, the admin screens and their stats, and the website widget's suggestions."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company
from backoffice.models.articles import Article, ArticleFeedback
from backoffice.services import articles
from tests.conftest import login
from tests.factories import gen_company, gen_portal_world, portal_login
from tests.factories.articles import gen_article, gen_article_category

XSS = ("# Ajuda\n\n<script>alert('x')</script>\n\n[clique](javascript:alert(1)) "
       "[site](https://example.com) <img src=x onerror=alert(1)>\n\n"
       "<a href=\"javascript:alert(2)\">html cru</a>\n")


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict]]:
    """The elements a browser would build from `html` (escaped text builds none)."""
    parser = _Elements()
    parser.feed(html)
    return parser.found


def assert_harmless(html: str) -> None:
    """No script but the page's own static files, no event attribute, no javascript: link."""
    for tag, attrs in elements(html):
        assert tag != "script" or (attrs.get("src") or "").startswith("/static/help/"), html
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not any("javascript:" in (value or "").lower() for value in attrs.values()), attrs


@pytest.fixture
def world(app):
    """A portal world (company P) with articles, and another company with its own."""
    with app.app_context():
        portal = gen_portal_world("art")
        company = db.session.get(Company, portal.company_id)
        money = gen_article_category(company, "Financeiro", position=1)
        ids = {
            "public": gen_article(company, "Segunda via de boletos", XSS, category=money).id,
            "draft": gen_article(company, "Rascunho de boleto", "Rascunho.", category=money,
                                 status="draft").id,
            "portal": gen_article(company, "Boleto para representantes", "Só no portal.",
                                  category=money, audience="portal").id,
        }
        other, _admin = gen_company("Outra Empresa", "admin-outra-art@example.com")
        ids["other"] = gen_article(other, "Boletos da outra", "Outra empresa.").id
        db.session.commit()
        return {"portal": portal, "domain": portal.domain, "other_domain": other.domain,
                "ids": ids}


def test_ART1_markdown_is_rendered_and_sanitised():
    html = str(articles.render(XSS))
    # UX-2: the body's headings sit under the article's title, the page's one <h1>
    assert "<h2>Ajuda</h2>" in html and "<h1" not in html
    assert str(articles.render("## Passo 1\n\n###### Nota")) == "<h3>Passo 1</h3>\n<h6>Nota</h6>\n"
    # no script tag, no javascript: link, no element with an onerror attribute: the raw
    # HTML and the refused link show as text, nothing lost
    assert_harmless(html)
    assert "&lt;script&gt;" in html and "[clique](javascript:alert(1))" in html
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">site</a>' in html


def test_ART1_help_center_shows_only_published_public_articles(app, world):
    client = app.test_client()
    page = client.get(f"/ajuda/{world['domain']}/")
    assert page.status_code == 200
    assert "Segunda via de boletos" in page.text
    for hidden in ("Rascunho de boleto", "Boleto para representantes", "Boletos da outra"):
        assert hidden not in page.text
    found = client.get(f"/ajuda/{world['domain']}/?q=boleto")
    assert found.status_code == 200 and "Segunda via de boletos" in found.text
    assert "Boleto para representantes" not in found.text
    article = client.get(f"/ajuda/{world['domain']}/artigos/{world['ids']['public']}")
    assert article.status_code == 200
    assert_harmless(article.text)
    assert "&lt;script&gt;" in article.text
    assert "Isso resolveu?" in article.text
    assert article.text.count("<h1") == 1  # the title; the body's "# Ajuda" is an <h2>


def test_ART1_help_center_404_for_draft_portal_only_other_company_and_unknown(app, world):
    client = app.test_client()
    base = f"/ajuda/{world['domain']}"
    for name in ("draft", "portal", "other"):
        assert client.get(f"{base}/artigos/{world['ids'][name]}").status_code == 404, name
    assert client.get(f"{base}/artigos/999999").status_code == 404
    assert client.get(f"{base}/artigos/{2**63}").status_code == 404
    assert client.get("/ajuda/empresa-que-nao-existe/").status_code == 404
    with app.app_context():
        company = db.session.get(Company, world["portal"].company_id)
        company.active = False
        db.session.commit()
    assert client.get(f"{base}/").status_code == 404


def test_ART1_help_feedback_is_counted_once_per_click(app, world):
    client = app.test_client()
    url = f"/ajuda/{world['domain']}/artigos/{world['ids']['public']}/resolveu"
    assert client.submit(url, {"solved": "sim"}).status_code == 302
    assert client.submit(url, {"solved": "sim"}).status_code == 302
    assert client.submit(url, {"solved": "nao"}).status_code == 302
    # no CSRF token: refused, nothing counted
    assert client.post(url, data={"solved": "sim"}).status_code == 400
    # a draft cannot be answered either
    draft = f"/ajuda/{world['domain']}/artigos/{world['ids']['draft']}/resolveu"
    assert client.submit(draft, {"solved": "sim"}).status_code == 404
    bad = client.submit(url, {"solved": "talvez"}, follow_redirects=True)
    assert "Responda se o artigo resolveu" in bad.text
    with app.app_context():
        article = db.session.get(Article, world["ids"]["public"])
        assert (article.solved_yes, article.solved_no) == (2, 1)
        stats = articles.stats(article)
        assert stats.answers == 3 and round(stats.deflection, 2) == 0.67
        sources = db.session.scalars(select(ArticleFeedback.source)).all()
        assert sources == ["help_center"] * 3


def test_ART1_a_reader_is_counted_by_the_page_script_not_by_the_get(app, world):
    """Opening the article never writes (SEC-8); its script posts once per page shown
    (with the CSRF token the page carries), on the help center and on the portal."""
    ids, portal = world["ids"], world["portal"]
    views = lambda: db.session.get(Article, ids["public"]).views  # noqa: E731
    client = app.test_client()
    page = client.get(f"/ajuda/{world['domain']}/artigos/{ids['public']}")
    assert 'data-view-url="/ajuda/' in page.text and "help/view.js" in page.text
    with app.app_context():
        assert views() == 0
    counted = f"/ajuda/{world['domain']}/artigos/{ids['public']}/lido"
    assert client.post(counted).status_code == 400  # no CSRF token: nothing counted
    assert client.post(counted, headers={"X-CSRFToken": client.csrf_token()}).status_code == 204
    draft = f"/ajuda/{world['domain']}/artigos/{ids['draft']}/lido"
    assert client.post(draft, headers={"X-CSRFToken": client.csrf_token()}).status_code == 404
    rep = app.test_client()
    with app.app_context():
        portal_login(rep, portal.account_id)
    base = f"/portal/{world['domain']}/ajuda"
    assert 'data-view-url="/portal/' in rep.get(f"{base}/{ids['public']}").text
    assert rep.post(f"{base}/{ids['public']}/lido",
                    headers={"X-CSRFToken": rep.csrf_token()}).status_code == 204
    assert app.test_client().post(f"{base}/{ids['public']}/lido").status_code in (400, 401)
    with app.app_context():
        assert views() == 2


@pytest.mark.parametrize("query", ["", "x" * 10_000, "a" * 201])
def test_ART1_suggestion_endpoint_bad_input(app, world, query):
    client = app.test_client()
    answer = client.get(f"/ajuda/{world['domain']}/api/sugestoes", query_string={"q": query})
    if query:
        assert answer.status_code == 400
        assert "Busca longa demais" in answer.get_json()["error"]
    else:
        assert answer.status_code == 200 and answer.get_json() == {"articles": []}


def test_ART1_suggestion_endpoint_finds_and_is_rate_limited(app, world):
    app.config["HELP_RATE_LIMIT"] = "3/60"
    client = app.test_client()
    url = f"/ajuda/{world['domain']}/api/sugestoes"
    answer = client.get(url, query_string={"q": "segunda via de bol"})
    assert answer.status_code == 200
    assert [a["title"] for a in answer.get_json()["articles"]] == ["Segunda via de boletos"]
    assert answer.get_json()["articles"][0]["url"].endswith(f"/artigos/{world['ids']['public']}")
    assert client.get("/ajuda/nao-existe/api/sugestoes?q=boleto").status_code == 404
    client.get(url, query_string={"q": "boleto"})
    client.get(url, query_string={"q": "boleto"})
    limited = client.get(url, query_string={"q": "boleto"})
    assert limited.status_code == 429 and "Aguarde" in limited.get_json()["error"]


def test_ART1_portal_help_needs_a_representative_and_shows_portal_only(app, world):
    portal, ids = world["portal"], world["ids"]
    base = f"/portal/{world['domain']}/ajuda"
    anonymous = app.test_client()
    assert anonymous.get(f"{base}/").status_code == 302
    assert anonymous.get(f"{base}/{ids['portal']}").status_code == 302
    assert anonymous.get(f"{base}/sugestoes?q=boleto").status_code == 401
    # a panel user of the company is no representative
    panel = app.test_client()
    assert login(panel, portal.admin_email).status_code == 302
    assert panel.get(f"{base}/sugestoes?q=boleto").status_code == 401
    client = app.test_client()
    with app.app_context():
        portal_login(client, portal.account_id)
    page = client.get(f"{base}/")
    assert page.status_code == 200 and "Boleto para representantes" in page.text
    assert "Rascunho de boleto" not in page.text
    assert client.get(f"{base}/{ids['portal']}").status_code == 200
    for name in ("draft", "other"):
        assert client.get(f"{base}/{ids[name]}").status_code == 404, name
    found = client.get(f"{base}/sugestoes?q=boleto").get_json()["articles"]
    assert {a["title"] for a in found} == {"Segunda via de boletos", "Boleto para representantes"}
    # feedback from the suggestions: JSON with the CSRF header
    answer = client.post(f"{base}/resolveu", json={"article": ids["portal"], "solved": True},
                         headers={"X-CSRFToken": client.csrf_token()})
    assert answer.status_code == 201
    assert client.post(f"{base}/resolveu", json={"article": ids["draft"], "solved": True},
                       headers={"X-CSRFToken": client.csrf_token()}).status_code == 404
    assert client.post(f"{base}/resolveu", json={"article": ids["portal"], "solved": True}
                       ).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.get(Article, ids["portal"]).solved_yes == 1
        assert db.session.scalar(select(ArticleFeedback.source)) == "portal"


def test_ART1_portal_of_another_company_does_not_open_the_article(app, world):
    with app.app_context():
        other = gen_portal_world("art2")
    client = app.test_client()
    with app.app_context():
        portal_login(client, other.account_id)
    assert client.get(f"/portal/{other.domain}/ajuda/{world['ids']['portal']}").status_code == 404
    # the session of company art2 is no session on company art's portal
    assert client.get(f"/portal/{world['domain']}/ajuda/{world['ids']['portal']}"
                      ).status_code == 302


def test_ART1_SEC_8_an_article_s_images_hosted_elsewhere_show_on_its_pages_only(app, world):
    """An author may put in an image hosted on another site (the renderer keeps http and
    https images): the pages that show an article's body (help center, portal, the admin's
    editor and preview) let the browser load it, where `img-src 'self'` gave the reader a
    broken image. Every other page keeps images to this origin, and no page gains
    scripts (SEC-8)."""
    from tests.test_sec_headers import csp

    image = "https://imagens.example.com/boleto.png"
    with app.app_context():
        for name in ("public", "portal"):
            db.session.get(Article, world["ids"][name]).body = (
                f"Veja a tela:\n\n![Tela do boleto]({image})")
        db.session.commit()
    own_only = {"'self'", "data:", "blob:"}
    elsewhere = own_only | {"https:", "http:"}

    def shows_image(page) -> bool:
        return ("img", {"src": image, "alt": "Tela do boleto"}) in elements(page.text)

    visitor = app.test_client()
    article = visitor.get(f"/ajuda/{world['domain']}/artigos/{world['ids']['public']}")
    assert article.status_code == 200 and shows_image(article)
    assert csp(article)["img-src"] == elsewhere
    assert csp(article)["script-src"] == {"'self'"}
    assert csp(visitor.get(f"/ajuda/{world['domain']}/"))["img-src"] == own_only

    representative = app.test_client()
    with app.app_context():
        portal_login(representative, world["portal"].account_id)
    base = f"/portal/{world['domain']}/ajuda"
    article = representative.get(f"{base}/{world['ids']['portal']}")
    assert article.status_code == 200 and shows_image(article)
    assert csp(article)["img-src"] == elsewhere
    assert csp(representative.get(f"{base}/"))["img-src"] == own_only

    admin = app.test_client()
    assert login(admin, world["portal"].admin_email).status_code == 302
    editor = admin.get(f"/admin/articles/edit/?id={world['ids']['public']}")
    assert editor.status_code == 200 and shows_image(editor)
    assert csp(editor)["img-src"] == elsewhere
    for other in ("/admin/users/", "/inbox/"):
        assert csp(admin.get(other))["img-src"] == own_only, other


def test_ART1_admin_screens_create_validate_and_show_stats(app, world):
    portal = world["portal"]
    client = app.test_client()
    assert login(client, portal.admin_email).status_code == 302
    with app.app_context():
        category_id = db.session.scalar(select(func.min(Article.category_id)))
    empty = client.submit("/admin/articles/new/", {
        "category": str(category_id), "title": "  ", "body": "Texto", "status": "published",
        "audience": "public", "position": "0"})
    assert empty.status_code == 200
    with app.app_context():  # nothing saved, and the form says why
        assert db.session.scalar(select(func.count(Article.id)).where(Article.title == "")) == 0
    assert "Informe o título do artigo" in empty.text
    created = client.submit("/admin/articles/new/", {
        "category": str(category_id), "title": "Troca de senha",
        "body": "Use **Esqueci a senha**. <script>alert(1)</script>", "status": "published",
        "audience": "public", "position": "2"})
    assert created.status_code == 302
    with app.app_context():
        assert [a.title for a in articles.search(portal.company_id, "senhas",
                                                 articles.PUBLIC)] == ["Troca de senha"]
        new_id = db.session.scalar(select(Article.id).where(Article.title == "Troca de senha"))
        articles.record(db.session.get(Article, new_id), True, "widget")
        db.session.commit()
    listing = client.get("/admin/articles/")
    assert "Troca de senha" in listing.text and "Contatos evitados" in listing.text
    assert "100%" in listing.text
    details = client.get(f"/admin/articles/details/?id={new_id}")
    assert "<strong>Esqueci a senha</strong>" in details.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in details.text
    preview = client.post("/admin/articles/preview/", data={"body": XSS},
                          headers={"X-CSRFToken": client.csrf_token()})
    assert preview.status_code == 200
    assert_harmless(preview.get_json()["html"])
    # a category of another company is refused (a forged id)
    with app.app_context():
        foreign = db.session.scalar(select(Article.category_id).where(
            Article.id == world["ids"]["other"]))
    forged = client.submit("/admin/articles/new/", {
        "category": str(foreign), "title": "Forjado", "body": "x", "status": "draft",
        "audience": "public", "position": "0"})
    assert forged.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Article.id).where(Article.title == "Forjado")) is None


def test_ART1_category_with_articles_is_not_deleted(app, world):
    client = app.test_client()
    assert login(client, world["portal"].admin_email).status_code == 302
    with app.app_context():
        category_id = db.session.get(Article, world["ids"]["public"]).category_id
    page = client.submit("/admin/article_categories/delete/", {"id": str(category_id)},
                         follow_redirects=True)
    assert "A categoria tem 3 artigo(s)" in page.text
    with app.app_context():
        assert db.session.get(Article, world["ids"]["public"]) is not None


def test_ART1_website_widget_suggests_public_articles_and_records_feedback(app, world):
    from tests.factories import gen_connection

    with app.app_context():
        key = gen_connection(world["portal"].company_id, "Chat do site").public_key
        db.session.commit()
    client = app.test_client()
    frame = client.get(f"/widget/{key}/")
    assert frame.status_code == 200 and "data-help-suggest" in frame.text
    assert 'data-target="wc-text"' in frame.text and "data-csrf" not in frame.text
    found = client.get(f"/widget/{key}/api/articles", query_string={"q": "boleto"}).get_json()
    assert [a["title"] for a in found["articles"]] == ["Segunda via de boletos"]
    assert found["articles"][0]["url"] == \
        f"/ajuda/{world['domain']}/artigos/{world['ids']['public']}"
    assert client.get(f"/widget/{key}/api/articles", query_string={"q": "x" * 10_000}
                      ).status_code == 400
    url = f"/widget/{key}/api/articles/feedback"
    assert client.post(url, json={"article": world["ids"]["public"], "solved": False}
                       ).status_code == 201
    for hidden in ("portal", "draft", "other"):
        assert client.post(url, json={"article": world["ids"][hidden], "solved": True}
                           ).status_code == 404, hidden
    assert client.post(url, json={"article": world["ids"]["public"], "solved": "?"}
                       ).status_code == 400
    assert client.post(url, data="[]", content_type="application/json").status_code == 400
    with app.app_context():
        article = db.session.get(Article, world["ids"]["public"])
        assert (article.solved_yes, article.solved_no) == (0, 1)
        assert db.session.scalar(select(ArticleFeedback.source)) == "widget"
