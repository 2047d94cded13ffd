"""PLT-6: the About page (Sobre) shows the version, its build date, the company's plan
with each module enabled or not and the quantities used/allowed. UX-7: only the modules
this version has are listed, and the screens of a module the plan lacks are hidden from
the menu and refused (one rule, services.modules)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from backoffice import version
from backoffice.extensions import db
from backoffice.models import Plan, User
from backoffice.models.company import MODULES
from backoffice.services import modules
from tests.conftest import login
from tests.factories import PASSWORD, gen_company, gen_user


@pytest.fixture
def build_date(monkeypatch):
    monkeypatch.setenv("ATENDE_BUILD_DATE", "2026-11-20")
    version.build_date.cache_clear()
    yield "20/11/2026"  # as the page writes it (UX-4: pt-BR dates)
    monkeypatch.delenv("ATENDE_BUILD_DATE")
    version.build_date.cache_clear()


def module_lines(page_text: str) -> dict[str, str]:
    """Module label -> status, read from the modules list as the user sees it."""
    block = re.search(r'<ul data-testid="modules">(.*?)</ul>', page_text, re.S)
    assert block, "modules list missing"
    lines = {}
    for item in re.findall(r"<li[^>]*>(.*?)</li>", block.group(1), re.S):
        text = re.sub(r"<[^>]+>", "", item)
        label, _, status = (part.strip() for part in text.partition(":"))
        lines[label] = status
    return lines


def test_PLT_6_about_shows_version_build_date_plan_and_modules(app, tenants, client, build_date):
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        plan.modules = ["inbox", "reports", "api"]
        plan.max_users = 7
        plan.max_channels = 4
        db.session.commit()
    assert login(client, tenants["a"].admin_email).status_code == 302
    page = client.get("/admin/about/")
    assert page.status_code == 200
    text = page.text
    assert f'data-testid="version">{version.VERSION}<' in text
    assert build_date in text
    assert 'data-testid="plan">Plano A<' in text
    assert "Alfa Comércio" in text
    # Admin + one agent are active in company A.
    assert re.search(r"Usuários ativos</th><td>\s*2 / 7\s*<", text)
    assert re.search(r"Canais</th><td>\s*4\s*<", text)
    # UX-7: the modules of this version only (no Campanhas, CRM... yet)
    assert module_lines(text) == {
        "Atendimento": "habilitado", "Chatbot": "não contratado", "Relatórios": "habilitado",
        "Telefonia": "não contratado", "API": "habilitado", "Fale Conosco": "não contratado"}
    # Company B's plan is not shown to A.
    assert "Plano B" not in text


def test_PLT_6_users_used_counts_active_users_of_own_company_only(app, tenants, client):
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        company_a = db.session.get(User, tenants["a"].admin_id).company
        gen_user(company_a, "extra-a@example.com")
        gen_user(company_a, "inativo-a@example.com", active=False)
        company_b = db.session.get(User, tenants["b"].admin_id).company
        gen_user(company_b, "extra-b@example.com")
        db.session.commit()
        max_users = plan.max_users
    login(client, tenants["a"].admin_email)
    text = client.get("/admin/about/").text
    assert re.search(rf"Usuários ativos</th><td>\s*3 / {max_users}\s*<", text)


def test_PLT_6_plan_change_shows_at_once(app, tenants, client):
    login(client, tenants["a"].admin_email)
    assert module_lines(client.get("/admin/about/").text)["Chatbot"] == "habilitado"
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        plan.modules = ["inbox"]
        db.session.commit()
    assert module_lines(client.get("/admin/about/").text)["Chatbot"] == "não contratado"


def test_PLT_6_company_without_plan(app, client):
    with app.app_context():
        gen_company("Sem Plano Ltda", "sem-plano@example.com")
        db.session.commit()
    login(client, "sem-plano@example.com")
    page = client.get("/admin/about/")
    assert page.status_code == 200
    assert 'data-testid="plan">sem plano<' in page.text
    assert version.VERSION in page.text
    assert 'data-testid="modules"' not in page.text


def test_PLT_6_agent_without_rights_sees_about(app, tenants, client):
    login(client, "agente-a@example.com")
    page = client.get("/admin/about/")
    assert page.status_code == 200
    assert 'data-testid="plan">Plano A<' in page.text


def test_PLT_6_superuser_sees_version_without_company_data(app, tenants, client, build_date):
    with app.app_context():
        su = User(name="Operador SaaS", email="root@atende.example", is_superuser=True, company=None)
        su.set_password(PASSWORD)
        db.session.add(su)
        db.session.commit()
    assert login(client, "root@atende.example").status_code == 302
    page = client.get("/admin/about/")
    assert page.status_code == 200
    assert f'data-testid="version">{version.VERSION}<' in page.text
    assert build_date in page.text
    assert 'data-testid="plan"' not in page.text and 'data-testid="modules"' not in page.text
    for other in ("Alfa Comércio", "Beta Serviços", "Plano A", "Plano B", "Usuários ativos"):
        assert other not in page.text


def test_PLT_6_anonymous_is_sent_to_login(client):
    resp = client.get("/admin/about/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login")


def test_PLT_6_build_date_falls_back_without_git(monkeypatch):
    monkeypatch.delenv("ATENDE_BUILD_DATE", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    version.build_date.cache_clear()
    try:
        assert version.build_date() == "—"
    finally:
        version.build_date.cache_clear()


def _menu_links(page_text: str) -> set[str]:
    return set(re.findall(r'href="(/admin/[a-z_]+/)"', page_text))


def test_UX_7_a_module_the_plan_lacks_is_hidden_and_refused(app, tenants, client):
    """Today's complaint: Telefonia showed in the menu while Sobre said "não contratado".
    Now the menu, the screen and Sobre follow the same rule, and a plan change applies
    at once."""
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        plan.modules = ["inbox", "chatbot"]
        db.session.commit()
    login(client, tenants["a"].admin_email)
    home = client.get("/admin/")
    assert "/admin/telephony/" not in _menu_links(home.text)
    assert "/admin/flows/" in _menu_links(home.text)
    assert client.get("/admin/telephony/").status_code == 403
    assert client.get("/admin/telephony/edit/?id=1").status_code == 403
    assert client.post("/admin/telephony/edit/?id=1", data={"pbx_host": "x"}).status_code in (400, 403)
    assert module_lines(client.get("/admin/about/").text)["Telefonia"] == "não contratado"
    # company B's plan still has it
    other = app.test_client()
    login(other, tenants["b"].admin_email)
    assert "/admin/telephony/" in _menu_links(other.get("/admin/").text)
    assert other.get("/admin/telephony/").status_code in (200, 302)

    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        plan.modules = ["inbox", "telephony"]
        db.session.commit()
    home = client.get("/admin/")
    assert "/admin/telephony/" in _menu_links(home.text)
    assert "/admin/flows/" not in _menu_links(home.text)
    assert client.get("/admin/flows/").status_code == 403
    assert module_lines(client.get("/admin/about/").text) == {
        "Atendimento": "habilitado", "Chatbot": "não contratado", "Relatórios": "não contratado",
        "Telefonia": "habilitado", "API": "não contratado", "Fale Conosco": "não contratado"}


def test_UX_7_every_listed_module_exists_and_no_plan_limits_nothing(app):
    """Sobre lists what this version ships, in the catalogue's order; a company without a
    plan (and the SaaS operator) is not limited."""
    assert [m["key"] for m in modules.catalogue(None)] == [k for k in MODULES if k in modules.SHIPPED]
    assert all(m["included"] for m in modules.catalogue(None))
    with app.app_context():
        assert modules.area_enabled(None, "telephony") and modules.area_enabled(None, "users")
        company, _admin = gen_company("Sem Plano Ltda", "sem-plano-2@example.com")
        db.session.commit()
        assert all(modules.area_enabled(company.id, a) for a in ("telephony", "flows", "inbox"))
    client = app.test_client()
    login(client, "sem-plano-2@example.com")
    assert {"/admin/telephony/", "/admin/flows/"} <= _menu_links(client.get("/admin/").text)
