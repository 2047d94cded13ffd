"""AUT-6 Mensagens de despedida: title unique per company, body with known variables
only, active flag; offered to agents when closing a ticket."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, FarewellMessage
from backoffice.services import RuleError
from backoffice.services import farewells as rules
from backoffice.services import tickets
from tests.conftest import flashes, login
from tests.factories import (
    gen_agent_setup, gen_farewell, gen_group, gen_ticket, gen_user, sent_texts,
)


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(FarewellMessage.id)))


def _get(app, **where):
    with app.app_context():
        q = select(FarewellMessage)
        for key, value in where.items():
            q = q.where(getattr(FarewellMessage, key) == value)
        row = db.session.scalar(q)
        if row is not None:
            db.session.expunge(row)
        return row


def _form(title="Agradecimento", body="Obrigado, {{nome_cliente}}! Protocolo {{protocolo}}.",
          active=True):
    data = {"title": title, "body": body}
    if active:
        data["active"] = "y"
    return data


def test_AUT_6_farewell_is_created_for_the_company(app, tenants, a_client):
    resp = a_client.submit("/admin/farewells/new/", _form(title="  Agradecimento  "))
    assert resp.status_code == 302, flashes(resp.text)
    row = _get(app, title="Agradecimento")
    assert row.company_id == tenants["a"].company_id
    assert row.body == "Obrigado, {{nome_cliente}}! Protocolo {{protocolo}}."
    assert row.active is True
    listing = a_client.get("/admin/farewells/").text
    assert "Agradecimento" in listing


def test_AUT_6_form_shows_the_variables_help(app, tenants, a_client):
    page = html.unescape(a_client.get("/admin/farewells/new/").text)
    assert "{{nome_cliente}}: Nome do cliente" in page
    assert "{{protocolo}}: Número de protocolo do atendimento" in page


@pytest.mark.parametrize("body, unknown", [
    ("Tchau {{cliente}}!", "{{cliente}}"),
    ("Protocolo {{protocolo}", "{{protocolo}"),
])
def test_AUT_6_unknown_variables_are_refused(app, tenants, a_client, body, unknown):
    before = _count(app)
    page = a_client.submit("/admin/farewells/new/", _form(body=body))
    text = html.unescape(page.text)
    assert f"Variável desconhecida: {unknown}. Variáveis válidas:" in text
    assert _count(app) == before


def test_AUT_6_title_is_unique_per_company(app, tenants, a_client):
    before = _count(app)
    page = a_client.submit("/admin/farewells/new/", _form(title="DESPEDIDA exclusiva a"))
    assert "Já existe uma mensagem de despedida com este título." in html.unescape(page.text)
    assert _count(app) == before
    # the same title in another company is fine
    assert a_client.submit("/admin/farewells/new/",
                           _form(title="Despedida exclusiva B")).status_code == 302
    # editing a row keeps its own title
    fid = tenants["a"].ids["farewells"]
    resp = a_client.submit(f"/admin/farewells/edit/?id={fid}",
                           _form(title="Despedida exclusiva A", body="Até logo!", active=False))
    assert resp.status_code == 302
    row = _get(app, id=fid)
    assert (row.body, row.active) == ("Até logo!", False)


def test_AUT_6_title_and_body_are_required(app, tenants, a_client):
    before = _count(app)
    a_client.submit("/admin/farewells/new/", _form(title=""))
    a_client.submit("/admin/farewells/new/", _form(body=""))
    assert _count(app) == before


def test_AUT_6_service_rules_and_active_list(app, tenants):
    with app.app_context():
        cid = tenants["a"].company_id
        with pytest.raises(RuleError, match="Informe o título"):
            rules.check_farewell(FarewellMessage(company_id=cid, title=" ", body="x"))
        with pytest.raises(RuleError, match="Escreva a mensagem de despedida."):
            rules.check_farewell(FarewellMessage(company_id=cid, title="Novo", body="  "))
        with pytest.raises(RuleError, match="Variável desconhecida"):
            rules.check_farewell(FarewellMessage(company_id=cid, title="Novo", body="{{x}}"))
        company = db.session.get(Company, cid)
        gen_farewell(company, "Inativa", active=False)
        gen_farewell(company, "Boa noite")
        db.session.commit()
        assert [f.title for f in rules.active_farewells(cid)] == [
            "Boa noite", "Despedida exclusiva A"]


def test_AUT_6_only_groups_with_the_right_see_the_screen(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "sem@example.com", gen_group(company, "Sem despedidas", ["users.view"]))
        gen_user(company, "com@example.com", gen_group(company, "Com despedidas", ["farewells.view"]))
        db.session.commit()
    without, reader = app.test_client(), app.test_client()
    login(without, "sem@example.com")
    login(reader, "com@example.com")
    assert without.get("/admin/farewells/").status_code == 403
    page = reader.get("/admin/farewells/")
    assert page.status_code == 200 and "Despedida exclusiva A" in page.text
    assert "/admin/farewells/new/" not in page.text


def test_UX_6_a_chosen_farewell_replaces_the_department_close_message(app):
    """One goodbye per close: with a farewell chosen the customer gets it alone; without
    one, the department's closing message (DEP-6) is sent as before."""
    with app.app_context():
        setup = gen_agent_setup(key="f")
        company = db.session.get(Company, setup.company_id)
        setup.department.on_close_enabled = True
        setup.department.on_close_text = "Até logo! Protocolo {{protocolo}}."
        farewell = gen_farewell(company, "Obrigado", "Obrigado, {{nome_cliente}}!")
        db.session.flush()

        tickets.close(setup.ticket, setup.agent, farewell_id=farewell.id)
        assert sent_texts(setup.ticket, "system") == ["Obrigado, Maria Cliente F!"]

        plain = gen_ticket(setup.connection, department=setup.department, agent=setup.agent,
                           contact_name="Joana")
        tickets.close(plain, setup.agent, farewell_id="")
        assert sent_texts(plain, "system") == [f"Até logo! Protocolo {plain.protocol}."]
