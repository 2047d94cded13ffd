"""PAR-1 Parâmetros: one settings row per company, made at its first save, edited in place;
never created or deleted through the screen, and never another company's."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, func, select

from backoffice.extensions import db
from backoffice.models import AuditLog, CompanySettings
from backoffice.services.settings import get_settings
from tests.conftest import flashes, login

FIELDS = ("cpf_required_pf", "cnpj_required_pj", "support_access_allowed", "wallet_enabled")


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


@pytest.fixture
def b_client(app, tenants):
    client = app.test_client()
    assert login(client, tenants["b"].admin_email).status_code == 302
    return client


def _settings(app, company_id):
    with app.app_context():
        rows = db.session.scalars(select(CompanySettings).where(
            CompanySettings.company_id == company_id)).all()
        return [{f: getattr(r, f) for f in ("id", *FIELDS)} for r in rows]


def test_PAR_1_row_is_created_on_first_visit_and_only_once(app, tenants, a_client):
    a = tenants["a"]
    with app.app_context():
        db.session.execute(delete(CompanySettings).where(CompanySettings.company_id == a.company_id))
        db.session.commit()
    assert _settings(app, a.company_id) == []
    # UX-5: the menu's link opens the form of the defaults (no list of one row)
    page = a_client.get("/admin/parameters/")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/admin/parameters/edit/?id=padrao")
    form = a_client.get(page.headers["Location"])
    assert form.status_code == 200 and 'name="cpf_required_pf"' in form.text
    # SEC-8: showing the defaults writes nothing; the first save creates the row
    assert _settings(app, a.company_id) == []
    a_client.submit("/admin/parameters/edit/?id=padrao", {})
    (row,) = _settings(app, a.company_id)
    assert all(row[f] is False for f in FIELDS)  # defaults: nothing required, no support access
    page = a_client.get("/admin/parameters/")
    assert page.headers["Location"].endswith(f"/admin/parameters/edit/?id={row['id']}")
    a_client.submit("/admin/parameters/edit/?id=padrao", {})
    assert len(_settings(app, a.company_id)) == 1


def test_PAR_1_get_settings_makes_one_row_per_company(app, tenants):
    a = tenants["a"]
    with app.app_context():
        first = get_settings(a.company_id)
        second = get_settings(a.company_id)
        assert first is second
        db.session.commit()
        assert db.session.scalar(select(func.count(CompanySettings.id)).where(
            CompanySettings.company_id == a.company_id)) == 1


def test_PAR_1_admin_edits_the_switches(app, tenants, a_client):
    a = tenants["a"]
    page = a_client.get("/admin/parameters/", follow_redirects=True).text
    for label in ("CPF obrigatório no cadastro manual de pessoa física",
                  "CNPJ obrigatório no cadastro manual de pessoa jurídica",
                  "Permitir acesso do usuário de suporte",
                  "Carteira de clientes (cada atendente vê só seus contatos)"):
        assert label in page, label
    rid = a.ids["parameters"]
    resp = a_client.submit(f"/admin/parameters/edit/?id={rid}",
                           {"cpf_required_pf": "y", "support_access_allowed": "y"})
    assert resp.status_code == 302, flashes(resp.text)
    (row,) = _settings(app, a.company_id)
    assert row == {"id": rid, "cpf_required_pf": True, "cnpj_required_pj": False,
                   "support_access_allowed": True, "wallet_enabled": False}
    with app.app_context():
        assert get_settings(a.company_id).cpf_required_pf is True
        log = db.session.scalar(select(AuditLog).where(AuditLog.table == "company_settings"))
        assert log is not None and log.company_id == a.company_id
        assert log.changes["cpf_required_pf"] == [False, True]
    # and back off (an unchecked box is a False)
    a_client.submit(f"/admin/parameters/edit/?id={rid}", {"cnpj_required_pj": "y"})
    (row,) = _settings(app, a.company_id)
    assert (row["cpf_required_pf"], row["cnpj_required_pj"], row["support_access_allowed"]) == \
        (False, True, False)


def test_PAR_1_no_create_no_delete(app, tenants, a_client):
    a = tenants["a"]
    listing = a_client.get("/admin/parameters/", follow_redirects=True).text
    assert "/admin/parameters/new/" not in listing
    assert "/admin/parameters/delete/" not in listing
    assert a_client.get("/admin/parameters/new/").status_code == 302
    a_client.submit("/admin/parameters/new/", {"cpf_required_pf": "y"})
    a_client.submit("/admin/parameters/delete/", {"id": str(a.ids["parameters"])})
    a_client.submit("/admin/parameters/action/", {"action": "delete",
                                                  "rowid": str(a.ids["parameters"])})
    (row,) = _settings(app, a.company_id)
    assert row["id"] == a.ids["parameters"] and row["cpf_required_pf"] is False
    with app.app_context():
        assert db.session.scalar(select(func.count(CompanySettings.id))) == 2  # A and B


def test_PAR_1_other_company_row_is_invisible(app, tenants, b_client):
    a, b = tenants["a"], tenants["b"]
    location = b_client.get("/admin/parameters/").headers["Location"]
    assert location.endswith(f"/admin/parameters/edit/?id={b.ids['parameters']}")
    page = b_client.get(f"/admin/parameters/edit/?id={a.ids['parameters']}", follow_redirects=True)
    # A's row has no form: B lands on its own
    assert page.request.url.endswith(f"/admin/parameters/edit/?id={b.ids['parameters']}")
    b_client.submit(f"/admin/parameters/edit/?id={a.ids['parameters']}",
                    {"cpf_required_pf": "y", "wallet_enabled": "y"})
    (row,) = _settings(app, a.company_id)
    assert row["cpf_required_pf"] is False and row["wallet_enabled"] is False


def test_REP_1_first_response_target_saved_and_checked(app, tenants, a_client):
    """REP-1/PAU-4: the company's first-response target (SLA), 1 to 1440 minutes; empty
    keeps the default 15."""
    a = tenants["a"]
    rid = a.ids["parameters"]
    page = a_client.get(f"/admin/parameters/edit/?id={rid}").text
    assert "Meta de primeira resposta (minutos)" in page and "(SLA)" in page

    def target():
        with app.app_context():
            return get_settings(a.company_id).sla_minutes

    assert target() == 15
    resp = a_client.submit(f"/admin/parameters/edit/?id={rid}", {"sla_minutes": "45"})
    assert resp.status_code == 302, flashes(resp.text)
    assert target() == 45
    for value in ("0", "1441", "dez"):
        page = a_client.submit(f"/admin/parameters/edit/?id={rid}", {"sla_minutes": value})
        assert page.status_code == 200
        assert re.search("Informe um número inteiro de minutos entre 1 e 1440.|"
                         "O valor inteiro não é válido.", page.text), value
    assert target() == 45
    a_client.submit(f"/admin/parameters/edit/?id={rid}", {"sla_minutes": ""})
    assert target() == 15
