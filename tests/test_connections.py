"""CHN-1 Conexões (webchat and generic HTTP API) and PLT-5, the plan's limit of active
connections: the screen's rules, the public key with its embed snippet, "Gerar nova
chave", and the write-only signing secret."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import (
    AuditLog, Company, Connection, Contact, Plan, Ticket,
)
from backoffice.services import RuleError
from backoffice.services import connections as rules
from tests.conftest import flashes, login
from tests.factories import gen_connection, gen_group, gen_user

KEY_RE = re.compile(r"[A-Za-z0-9_-]{24}")


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _form(name="Site da loja", kind="webchat", active=True, **over):
    data = {"name": name, "kind": kind, "widget_title": "Fale conosco",
            "widget_greeting": "Olá! Como podemos ajudar?", "widget_color": "#1F6F8B",
            "endpoint_url": "", "endpoint_secret": ""}
    if active:
        data["active"] = "y"
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _get(app, **where) -> Connection | None:
    with app.app_context():
        q = select(Connection)
        for key, value in where.items():
            q = q.where(getattr(Connection, key) == value)
        row = db.session.scalar(q)
        if row is not None:
            db.session.expunge(row)
        return row


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Connection.id)))


def _set_plan_limit(app, company_id, max_channels):
    with app.app_context():
        company = db.session.get(Company, company_id)
        company.plan.max_channels = max_channels
        db.session.commit()


def _text(page) -> str:
    return html.unescape(page.text)


# -- creating and editing ------------------------------------------------------------------

def test_CHN_1_webchat_connection_is_created_with_a_generated_key(app, tenants, a_client):
    resp = a_client.submit("/admin/connections/new/", _form())
    assert resp.status_code == 302, flashes(resp.text)
    conn = _get(app, name="Site da loja")
    assert conn.company_id == tenants["a"].company_id
    assert conn.kind == "webchat" and conn.active is True
    assert conn.widget_color == "#1f6f8b"  # normalised
    assert KEY_RE.fullmatch(conn.public_key)
    assert conn.endpoint_url is None and conn.endpoint_secret is None
    listing = a_client.get("/admin/connections/").text
    assert "Site da loja" in listing and "Webchat (site)" in listing


def test_CHN_1_http_api_connection_requires_an_http_url(app, tenants, a_client):
    before = _count(app)
    page = a_client.submit("/admin/connections/new/", _form("ERP", kind="http_api"))
    assert page.status_code == 200
    assert "Informe a URL de envio" in _text(page)
    for bad in ("javascript:alert(1)", "ftp://erp.example.com/x", "erp.example.com/x"):
        page = a_client.submit("/admin/connections/new/",
                               _form("ERP", kind="http_api", endpoint_url=bad))
        assert "Informe uma URL http:// ou https://." in _text(page), bad
    assert _count(app) == before
    resp = a_client.submit("/admin/connections/new/", _form(
        "ERP", kind="http_api", endpoint_url="https://erp.example.com/atende",
        endpoint_secret="segredo-do-erp"))
    assert resp.status_code == 302, flashes(resp.text)
    conn = _get(app, name="ERP")
    assert conn.endpoint_url == "https://erp.example.com/atende"
    assert conn.endpoint_secret == "segredo-do-erp"


@pytest.mark.parametrize("color", ["red", "#12345", "#1234567", "12345g"])
def test_CHN_1_widget_color_must_be_rrggbb(app, tenants, a_client, color):
    before = _count(app)
    page = a_client.submit("/admin/connections/new/", _form(widget_color=color))
    assert "Cor inválida: use o formato #RRGGBB." in _text(page)
    assert _count(app) == before


def test_CHN_1_name_is_required_and_unique_per_company(app, tenants, a_client):
    before = _count(app)
    page = a_client.submit("/admin/connections/new/", _form(name="conexão EXCLUSIVA a"))
    assert "Já existe uma conexão com este nome." in _text(page)
    assert _count(app) == before
    # company B's name is free for company A
    resp = a_client.submit("/admin/connections/new/", _form(name="Conexão exclusiva B"))
    assert resp.status_code == 302


def test_CHN_1_unknown_kind_is_refused(app, tenants, a_client):
    before = _count(app)
    page = a_client.submit("/admin/connections/new/", _form(kind="telepatia"))
    assert page.status_code == 200 and "Escolha inválida." in _text(page)
    assert _count(app) == before


def test_CHN_1_check_connection_service_rules(app, tenants):
    with app.app_context():
        cid = tenants["a"].company_id
        conn = rules.check_connection(Connection(company_id=cid, name="  Loja  ", kind=None,
                                                 widget_color="#ABCDEF"))
        assert (conn.name, conn.kind, conn.active, conn.widget_color) == (
            "Loja", "webchat", True, "#abcdef")
        assert KEY_RE.fullmatch(conn.public_key)
        with pytest.raises(RuleError, match="Informe o nome da conexão."):
            rules.check_connection(Connection(company_id=cid, name="  "))
        with pytest.raises(RuleError, match="Tipo de conexão inválido."):
            rules.check_connection(Connection(company_id=cid, name="X", kind="fax"))
        with pytest.raises(RuleError, match="Informe a URL de envio"):
            rules.check_connection(Connection(company_id=cid, name="X", kind="http_api"))


# -- public key, snippet and "Gerar nova chave" ---------------------------------------------

def test_CHN_1_embed_snippet_format(app):
    conn = Connection(name="Site", public_key="abc_DEF-123")
    assert rules.embed_snippet(conn, "https://atende.example.com/webchat/") == (
        '<script src="https://atende.example.com/webchat/widget.js" data-key="abc_DEF-123" '
        'async></script>')
    assert rules.embed_snippet(conn, "x", script_url="https://cdn.example.com/w.js") == (
        '<script src="https://cdn.example.com/w.js" data-key="abc_DEF-123" async></script>')


def test_CHN_1_edit_and_details_show_key_and_snippet_read_only(app, tenants, a_client):
    cid = tenants["a"].ids["connections"]
    key = _get(app, id=cid).public_key
    snippet = f'<script src="http://localhost/widget.js" data-key="{key}" async></script>'
    for url in (f"/admin/connections/edit/?id={cid}", f"/admin/connections/details/?id={cid}"):
        page = a_client.get(url)
        assert page.status_code == 200
        assert f'data-testid="public-key">{key}</code>' in page.text
        assert snippet in _text(page), url
        assert 'name="public_key"' not in page.text  # not an input: generated, read-only
    # a forged public_key in the form is ignored
    resp = a_client.submit(f"/admin/connections/edit/?id={cid}", _form(
        name="Conexão exclusiva A", public_key="forjada-forjada-forjada"))
    assert resp.status_code == 302
    assert _get(app, id=cid).public_key == key


def test_CHN_1_http_api_connection_shows_no_snippet(app, tenants, a_client):
    with app.app_context():
        conn = gen_connection(db.session.get(Company, tenants["a"].company_id), "ERP",
                              kind="http_api")
        db.session.commit()
        cid = conn.id
    page = a_client.get(f"/admin/connections/edit/?id={cid}")
    assert 'data-testid="public-key"' in page.text
    assert "widget.js" not in page.text


def test_CHN_1_regenerate_key_replaces_it_and_is_audited(app, tenants, a_client):
    cid = tenants["a"].ids["connections"]
    old = _get(app, id=cid).public_key
    page = a_client.get(f"/admin/connections/edit/?id={cid}")
    assert "Gerar nova chave" in page.text and 'value="regenerate_key"' in page.text
    resp = a_client.submit("/admin/connections/action/",
                           {"action": "regenerate_key", "rowid": str(cid)})
    assert resp.status_code == 302 and f"/admin/connections/edit/?id={cid}" in resp.location
    new = _get(app, id=cid).public_key
    assert new != old and KEY_RE.fullmatch(new)
    page = a_client.get(resp.location)
    assert "Nova chave gerada para Conexão exclusiva A" in _text(page)
    assert f'data-key="{new}"' in _text(page)
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "connection", AuditLog.row_id == str(cid)))
        assert entry.changes == {"public_key": [old, new]}


def test_CHN_1_regenerate_key_needs_csrf_and_the_edit_right(app, tenants, a_client):
    cid = tenants["a"].ids["connections"]
    old = _get(app, id=cid).public_key
    resp = a_client.post("/admin/connections/action/",
                         data={"action": "regenerate_key", "rowid": str(cid)})
    assert resp.status_code == 400
    assert _get(app, id=cid).public_key == old
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "leitor@example.com", gen_group(company, "Leitor", ["connections.view"]))
        db.session.commit()
    reader = app.test_client()
    login(reader, "leitor@example.com")
    assert "Gerar nova chave" not in reader.get(f"/admin/connections/edit/?id={cid}").text
    reader.submit("/admin/connections/action/", {"action": "regenerate_key", "rowid": str(cid)})
    assert _get(app, id=cid).public_key == old


def test_CHN_1_regenerate_key_of_another_company_does_nothing(app, tenants, a_client):
    b_id = tenants["b"].ids["connections"]
    old = _get(app, id=b_id).public_key
    a_client.submit("/admin/connections/action/", {"action": "regenerate_key", "rowid": str(b_id)})
    a_client.submit("/admin/connections/action/", {"action": "regenerate_key", "rowid": "abc"})
    assert _get(app, id=b_id).public_key == old


# -- the signing secret is write-only ------------------------------------------------------

def test_CHN_1_endpoint_secret_is_write_only_and_masked_in_audit(app, tenants, a_client):
    resp = a_client.submit("/admin/connections/new/", _form(
        "ERP", kind="http_api", endpoint_url="https://erp.example.com/a",
        endpoint_secret="segredo-muito-secreto"))
    assert resp.status_code == 302
    cid = _get(app, name="ERP").id
    for url in ("/admin/connections/", f"/admin/connections/details/?id={cid}",
                f"/admin/connections/edit/?id={cid}", "/admin/connections/export/csv/"):
        assert "segredo-muito-secreto" not in a_client.get(url).text, url
    # blank keeps it; a typed value replaces it; "Remover" clears it
    edit = f"/admin/connections/edit/?id={cid}"
    base = _form("ERP", kind="http_api", endpoint_url="https://erp.example.com/a")
    assert a_client.submit(edit, base).status_code == 302
    assert _get(app, id=cid).endpoint_secret == "segredo-muito-secreto"
    a_client.submit(edit, {**base, "endpoint_secret": "outro-segredo"})
    assert _get(app, id=cid).endpoint_secret == "outro-segredo"
    a_client.submit(edit, {**base, "remove_secret": "y"})
    assert _get(app, id=cid).endpoint_secret is None
    with app.app_context():
        logs = db.session.scalars(select(AuditLog).where(AuditLog.table == "connection")).all()
        assert logs and all("segredo" not in str(entry.changes) for entry in logs)
        assert any(entry.changes.get("endpoint_secret") == [None, "***"] for entry in logs)


# -- PLT-5: the plan's limit of active connections ------------------------------------------

LIMIT_MESSAGE = "O plano Plano A permite no máximo 2 conexões ativas."


def test_PLT_5_plan_limits_active_connections_on_create(app, tenants, a_client):
    _set_plan_limit(app, tenants["a"].company_id, 2)  # the fixture has 1 active already
    assert a_client.submit("/admin/connections/new/", _form("Segunda")).status_code == 302
    before = _count(app)
    page = a_client.submit("/admin/connections/new/", _form("Terceira"))
    assert page.status_code == 200 and LIMIT_MESSAGE in _text(page)
    assert _count(app) == before
    # an inactive one does not count
    resp = a_client.submit("/admin/connections/new/", _form("Reserva", active=False))
    assert resp.status_code == 302
    assert _get(app, name="Reserva").active is False


def test_PLT_5_plan_limit_applies_when_reactivating(app, tenants, a_client):
    _set_plan_limit(app, tenants["a"].company_id, 1)
    with app.app_context():
        conn = gen_connection(db.session.get(Company, tenants["a"].company_id), "Antiga",
                              active=False)
        db.session.commit()
        cid = conn.id
    page = a_client.submit(f"/admin/connections/edit/?id={cid}", _form("Antiga"))
    assert "O plano Plano A permite no máximo 1 conexões ativas." in _text(page)
    assert _get(app, id=cid).active is False
    # editing an already active connection is fine even at (or over) the limit
    _set_plan_limit(app, tenants["a"].company_id, 1)
    first = tenants["a"].ids["connections"]
    resp = a_client.submit(f"/admin/connections/edit/?id={first}",
                           _form("Conexão exclusiva A", widget_title="Novo título"))
    assert resp.status_code == 302
    assert _get(app, id=first).widget_title == "Novo título"
    # after switching the first one off, the other may be switched on
    a_client.submit(f"/admin/connections/edit/?id={first}",
                    _form("Conexão exclusiva A", active=False))
    assert a_client.submit(f"/admin/connections/edit/?id={cid}", _form("Antiga")).status_code == 302
    assert _get(app, id=cid).active is True


def test_PLT_5_limit_service_counts_only_own_company_and_no_plan_means_no_limit(app, tenants):
    with app.app_context():
        a = db.session.get(Company, tenants["a"].company_id)
        a.plan.max_channels = 1
        db.session.flush()
        with pytest.raises(RuleError, match="no máximo 1 conexões ativas"):
            rules.check_channel_limit(a.id, adding=1)
        rules.check_channel_limit(a.id, adding=0)
        a.plan = None
        db.session.flush()
        rules.check_channel_limit(a.id, adding=10)  # no plan: no limit
        # company B's connections are not counted against A
        a.plan = db.session.scalar(select(Plan).where(Plan.name == "Plano A"))
        a.plan.max_channels = 2
        db.session.flush()
        rules.check_channel_limit(a.id, adding=1)
        db.session.rollback()


# -- delete -----------------------------------------------------------------------------

def test_CHN_1_connection_with_tickets_is_not_deleted(app, tenants, a_client):
    cid = tenants["a"].ids["connections"]
    with app.app_context():
        contact = Contact(company_id=tenants["a"].company_id, name="Cliente")
        db.session.add(contact)
        db.session.flush()
        db.session.add(Ticket(company_id=tenants["a"].company_id, protocol="20260101000001",
                              contact_id=contact.id, connection_id=cid))
        db.session.commit()
    page = a_client.submit("/admin/connections/delete/", {"id": str(cid)}, follow_redirects=True)
    assert "Esta conexão tem atendimentos. Desative-a em vez de excluí-la." in _text(page)
    assert _get(app, id=cid) is not None


def test_CHN_1_connection_without_tickets_is_deleted(app, tenants, a_client):
    cid = tenants["a"].ids["connections"]
    resp = a_client.submit("/admin/connections/delete/", {"id": str(cid)})
    assert resp.status_code == 302
    assert _get(app, id=cid) is None


def test_CHN_1_AUT_6_demo_company_has_connections_farewells_and_a_supervisor(app):
    from backoffice.models import FarewellMessage, PermissionGroup
    from backoffice.seed import load_demo

    with app.app_context():
        assert load_demo() is True
        conns = {c.name: c for c in db.session.scalars(select(Connection))}
        assert conns["Site Óticas Boa Vista"].kind == "webchat"
        assert conns["Site Óticas Boa Vista"].widget_color == "#1f6f8b"
        api = [c for c in conns.values() if c.kind == "http_api"]
        assert api and all(c.endpoint_url.startswith("https://") for c in api)
        assert all(KEY_RE.fullmatch(c.public_key) for c in conns.values())
        assert db.session.scalar(select(func.count(FarewellMessage.id))) >= 2
        supervisor = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.name == "Supervisor"))
        assert {"inbox.view", "inbox.supervise"} <= set(supervisor.rights)
        agent = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.name == "Atendente"))
        assert "inbox.view" in agent.rights
