"""INT-1 Integrações: named outbound HTTP endpoints with encrypted headers, a "Testar"
button, and the chatbot's HTTP node calling one by name (PLT-1: only the company's own)."""
from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, text

from backoffice.automation import actions
from backoffice.automation.flows import service
from backoffice.extensions import db
from backoffice.models import AuditLog, Flow, Integration, Ticket
from backoffice.models.tickets import AUTHOR_BOT
from tests.conftest import flashes as raw_flashes
from tests.conftest import login
from tests.factories import gen_company, gen_connection, gen_inbound, gen_integration, sent_texts

TOKEN = "Bearer segredo-do-erp-123"
API_KEY = "chave-api-456"


@pytest.fixture
def world(app):
    with app.app_context():
        a, admin = gen_company("Alfa Comércio", "admin-a@example.com")
        b, _admin_b = gen_company("Beta Serviços", "admin-b@example.com")
        connection = gen_connection(a, "Site", kind="webchat")
        gen_integration(b, "ERP da Beta", "https://erp.beta.example.com/api",
                        [("Authorization", "Bearer da-beta")])
        db.session.commit()
        return SimpleNamespace(a=a.id, b=b.id, admin=admin.email, connection=connection.id)


@pytest.fixture
def a_client(app, world, client):
    assert login(client, world.admin).status_code == 302
    return client


def _form(url="https://erp.example.com/api/clientes", headers="", name="ERP", **extra):
    return {"name": name, "method": "POST", "url": url, "timeout": "10", "active": "y",
            "header_lines": headers, **extra}


def flashes(page_text: str) -> list[str]:
    """The flashed messages as read (without the close button)."""
    return [html.unescape(re.sub(r"(?s)<button.*?</button>", "", m)).strip()
            for m in raw_flashes(page_text)]


def _one(app, name="ERP") -> Integration | None:
    with app.app_context():
        row = db.session.scalar(select(Integration).where(Integration.name == name))
        if row is not None:
            db.session.expunge(row)
        return row


def test_INT_1_SEC_8_header_values_encrypted_at_rest_and_never_shown(app, a_client):
    page = a_client.submit("/admin/integrations/new/", _form(
        headers=f"Authorization: {TOKEN}\nX-Api-Key: {API_KEY}"))
    assert page.status_code == 302, flashes(page.text)
    row = _one(app)
    with app.app_context():
        raw = db.session.execute(text("SELECT headers FROM integration WHERE id = :i"),
                                 {"i": row.id}).scalar_one()
    assert "segredo-do-erp" not in raw and API_KEY not in raw and "Authorization" not in raw

    # edit keeping the masks, changing the URL and adding a header: values stay
    edit = a_client.get(f"/admin/integrations/edit/?id={row.id}").text
    assert "Authorization: ••••" in html.unescape(edit)
    page = a_client.submit(f"/admin/integrations/edit/?id={row.id}", _form(
        url="https://erp.example.com/api/v2",
        headers="Authorization: ••••\nX-Api-Key: ••••\nX-Origem: atende"))
    assert page.status_code == 302, flashes(page.text)
    from backoffice.services import integrations

    with app.app_context():
        stored = integrations.headers_of(db.session.get(Integration, row.id))
    assert stored == {"Authorization": TOKEN, "X-Api-Key": API_KEY, "X-Origem": "atende"}

    pages = {
        "list": a_client.get("/admin/integrations/"),
        "edit": a_client.get(f"/admin/integrations/edit/?id={row.id}"),
        "details": a_client.get(f"/admin/integrations/details/?id={row.id}"),
        "export": a_client.get("/admin/integrations/export/csv/"),
        "audit": a_client.get("/admin/audit/"),
    }
    with app.app_context():
        entries = db.session.scalars(select(AuditLog).where(AuditLog.table == "integration")).all()
        assert [e.action for e in entries] == ["create", "update"]
        assert entries[0].changes["headers"] == [None, "***"]
        pages["audit details"] = a_client.get(f"/admin/audit/details/?id={entries[1].id}")
        logged = str([e.changes for e in entries])
    for where, response in pages.items():
        shown = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 200, where
        for secret in ("segredo-do-erp", API_KEY, "X-Origem: atende"):
            assert secret not in shown, (where, secret)
    assert "Authorization: ••••" in html.unescape(pages["list"].text)
    assert "Cabeçalhos" in pages["audit details"].text
    assert "segredo-do-erp" not in logged and API_KEY not in logged


def test_INT_1_SEC_2_private_url_bad_scheme_and_bad_headers_are_refused(app, a_client):
    app.config["ALLOW_PRIVATE_URLS"] = False
    cases = {
        "http://127.0.0.1:8080/interno": ("", "Use um endereço público da internet"),
        "ftp://erp.example.com/arquivo": ("", "Informe uma URL http:// ou https://."),
        "https://erp.example.com/a": ("Host: interno", "O cabeçalho Host é definido pelo sistema"),
        "https://erp.example.com/b": ("X-Bad: a\rb", "não pode ter quebras de linha"),
        "https://erp.example.com/c": ("Authorization: ••••", "Informe o valor do cabeçalho"),
    }
    for url, (headers, message) in cases.items():
        page = a_client.submit("/admin/integrations/new/", _form(url=url, headers=headers))
        assert page.status_code == 200, url
        assert any(message in m for m in flashes(page.text)) or \
            message in html.unescape(page.text), (url, flashes(page.text))
    with app.app_context():
        assert db.session.scalar(select(func.count(Integration.id))) == 1  # Beta's only


def test_INT_1_testar_sends_the_stored_headers_and_tells_the_answer(app, world, a_client,
                                                                    httpserver):
    httpserver.expect_request("/ping", method="PUT").respond_with_json({"ok": True})
    with app.app_context():
        from backoffice.models import Company

        row = gen_integration(db.session.get(Company, world.a), "ERP", httpserver.url_for("/ping"),
                              [("Authorization", TOKEN)], method="PUT")
        db.session.commit()
        row_id = row.id
    listing = html.unescape(a_client.get("/admin/integrations/").text)
    assert "modelActions.execute('test')" in listing  # a POST of the list's action form
    confirmations = json.loads(re.search(
        r'id="actions-confirmation-data"[^>]*>(.*?)</div>', listing).group(1))
    assert confirmations["test"].startswith("Enviar agora uma requisição de teste")
    page = a_client.submit("/admin/integrations/action/", {"action": "test", "rowid": str(row_id)},
                           follow_redirects=True)
    assert any("ERP: Resposta 200 em" in m and m.endswith("ms") for m in flashes(page.text)), \
        flashes(page.text)
    (request, _response), = httpserver.log
    assert request.headers["Authorization"] == TOKEN
    # a receiver that is down: the generic sentence, nothing else
    httpserver.clear()
    httpserver.expect_request("/ping").respond_with_data("falhou", status=500)
    page = a_client.submit("/admin/integrations/action/", {"action": "test", "rowid": str(row_id)},
                           follow_redirects=True)
    assert "ERP: O destino recusou a mensagem." in flashes(page.text)


def test_INT_1_flow_http_node_calls_the_integration_by_name(app, world, a_client, httpserver):
    """The node names the integration: its URL, method and headers are used, with the
    node's body; the answer fills a variable. Deleting a used integration is refused."""
    httpserver.expect_request("/clientes", method="POST").respond_with_json(
        {"cliente": {"nome": "Maria"}})
    with app.app_context():
        from backoffice.models import Company, Connection

        company = db.session.get(Company, world.a)
        row = gen_integration(company, "ERP", httpserver.url_for("/clientes"),
                              [("Authorization", TOKEN), ("X-Api-Key", API_KEY)])
        flow = Flow(company_id=world.a, name="Boas-vindas", draft={})
        db.session.add(flow)
        db.session.flush()
        graph = {"nodes": {
            "start": {"type": "start", "data": {}, "next": {"next": "call"}},
            "call": {"type": "http", "data": {"integration": "ERP", "body": '{"canal": "site"}',
                                              "map": {"nome": "cliente.nome"}},
                     "next": {"next": "bye"}},
            "bye": {"type": "end", "data": {"text": "Olá, {{nome}}!", "close": False}},
        }}
        service.save_draft(flow, graph)
        service.publish(flow)
        db.session.get(Connection, world.connection).flow_id = flow.id
        db.session.commit()
        message = gen_inbound(db.session.get(Connection, world.connection), "Oi", "visitante-1")
        ticket = db.session.get(Ticket, message.ticket_id)
        assert sent_texts(ticket, AUTHOR_BOT) == ["Olá, Maria!"]
        row_id = row.id
    (request, _response), = httpserver.log
    assert request.method == "POST" and request.get_json() == {"canal": "site"}
    assert request.headers["Authorization"] == TOKEN and request.headers["X-Api-Key"] == API_KEY

    page = a_client.submit("/admin/integrations/delete/", {"id": str(row_id)},
                           follow_redirects=True)
    assert "Não é possível excluir a integração: ela é chamada por Boas-vindas." in flashes(page.text)
    assert _one(app) is not None


def test_PLT_1_INT_1_another_companys_integration_name_is_unknown(app, world):
    reason = "Integração desconhecida: «ERP da Beta». Cadastre-a em Configurações > Integrações"
    node = {"type": "http", "data": {"integration": "ERP da Beta", "map": {}},
            "next": {"next": "bye"}}
    graph = {"nodes": {"start": {"type": "start", "data": {}, "next": {"next": "call"}},
                       "call": node, "bye": {"type": "end", "data": {"close": False}}}}
    with app.app_context():
        reasons = service.check(world.a, graph)
        assert len(reasons) == 1 and reason in reasons[0], reasons
        assert reasons[0].startswith("Requisição HTTP «ERP da Beta»")
        assert service.check(world.b, graph) == []
        rule_action = {"type": "http", "integration": "ERP da Beta"}
        assert any(reason in r for r in actions.check(world.a, rule_action))
        # and at run time, a rule saved before the name was taken elsewhere finds nothing
        ctx = SimpleNamespace(ticket=SimpleNamespace(company_id=world.a), variables={})
        with pytest.raises(actions.ActionError, match="Integração não encontrada"):
            actions.call_http(rule_action, ctx)
