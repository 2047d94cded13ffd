"""CHN-1 Conexões for the provider kinds (WhatsApp, Telegram, Messenger, Instagram): each
kind's own fields (public ones in `settings`, secret ones encrypted in `credentials`,
write-only), the webhook URL for the provider's panel, the buttons that ask the provider
("Testar conexão", "Registrar webhook no Telegram", "Sincronizar modelos") against a
local fake provider, and the read-only "Modelos do WhatsApp" list (CHN-4, TPL-3)."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select, text

from backoffice.extensions import db
from backoffice.models import AuditLog, Company, Connection, ProviderTemplate
from tests.conftest import flashes, login
from tests.factories import gen_connection, gen_group, gen_user

# typed on the form: public ids and secrets that must never be seen again
FORMS = {
    "whatsapp": {"phone_number_id": "1234567890", "waba_id": "9876543210",
                 "access_token": "EAAG-segredo-token-wa", "app_secret": "segredo-app-wa",
                 "verify_token": "segredo-verifica-wa"},
    "telegram": {"bot_token": "123456789:AAE-segredo-bot-token-telegram-xyz",
                 "secret_token": "segredo-webhook-tg"},
    "messenger": {"page_id": "111222333", "page_access_token": "EAAG-segredo-token-fb",
                  "app_secret": "segredo-app-fb", "verify_token": "segredo-verifica-fb"},
    "instagram": {"page_id": "444555666", "page_access_token": "EAAG-segredo-token-ig",
                  "app_secret": "segredo-app-ig", "verify_token": "segredo-verifica-ig"},
}
PUBLIC = {"whatsapp": ("phone_number_id", "waba_id"), "telegram": (),
          "messenger": ("page_id",), "instagram": ("page_id",)}


def _secrets(kind):
    return {k: v for k, v in FORMS[kind].items() if k not in PUBLIC[kind]}


@pytest.fixture
def a_client(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _form(kind, name=None, **over):
    data = {"name": name or f"Canal {kind}", "kind": kind, "active": "y",
            # the webchat's fields are on the create form too (hidden by the page)
            "widget_color": "#3c8dbc"}
    data.update({f"{kind}__{k}": v for k, v in FORMS[kind].items()})
    data.update(over)
    return data


def _conn(app, name) -> Connection:
    with app.app_context():
        row = db.session.scalar(select(Connection).where(Connection.name == name))
        assert row is not None, name
        row.secrets()  # load the credentials before leaving the session
        db.session.expunge(row)
        return row


def _create(app, client, kind, name=None, **over) -> Connection:
    resp = client.submit("/admin/connections/new/", _form(kind, name, **over))
    assert resp.status_code == 302, flashes(resp.text)
    return _conn(app, name or f"Canal {kind}")


def _seen(client, conn) -> str:
    """Every page a user can open about connections: list, export, edit, details."""
    pages = [client.get("/admin/connections/"), client.get("/admin/connections/export/csv/"),
             client.get(f"/admin/connections/edit/?id={conn.id}"),
             client.get(f"/admin/connections/details/?id={conn.id}")]
    assert all(p.status_code == 200 for p in pages)
    return "\n".join(html.unescape(p.get_data(as_text=True)) for p in pages)


# -- the form's fields -----------------------------------------------------------------

def test_CHN_1_create_form_offers_every_provider_kinds_fields_tagged_by_kind(a_client):
    page = a_client.get("/admin/connections/new/").text
    for kind, values in FORMS.items():
        for name in values:
            assert f'id="{kind}__{name}"' in page, (kind, name)
        assert f'data-kind="{kind}"' in page
    # the script that shows only the chosen kind's fields
    assert 'querySelectorAll("[data-kind]")' in page
    assert 'type="password"' in page  # secrets are typed blind


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_CHN_1_provider_connection_saves_public_fields_in_settings_and_secrets_encrypted(
        app, tenants, a_client, kind):
    conn = _create(app, a_client, kind)
    assert conn.kind == kind and conn.active and conn.company_id == tenants["a"].company_id
    assert conn.settings == {k: FORMS[kind][k] for k in PUBLIC[kind]}
    assert conn.secrets() == _secrets(kind)
    # at rest the credentials are ciphertext (SEC-8)
    with app.app_context():
        raw = db.session.execute(text("SELECT credentials FROM connection WHERE id = :id"),
                                 {"id": conn.id}).scalar()
    raw = raw if isinstance(raw, str) else raw.decode()
    assert all(secret not in raw for secret in _secrets(kind).values())
    # never shown again: list, export, edit and details pages
    seen = _seen(a_client, conn)
    for secret in _secrets(kind).values():
        assert secret not in seen, secret
    for value in (FORMS[kind][k] for k in PUBLIC[kind]):
        assert value in seen
    details = html.unescape(a_client.get(f"/admin/connections/details/?id={conn.id}").text)
    assert details.count("<td>Cadastrado</td>") == len(_secrets(kind))
    assert re.search(r"<b>Ativa</b>\s*</td>\s*<td>\s*Sim\s*</td>", details)
    # the audit log says the secrets changed, never what they are
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "connection", AuditLog.row_id == str(conn.id),
            AuditLog.action == "create"))
        assert entry.changes["credentials"] == [None, "***"]
        assert entry.changes["settings"][1] == conn.settings
        assert all(s not in json.dumps(entry.changes) for s in _secrets(kind).values())


def test_CHN_1_only_the_chosen_kinds_fields_are_kept(app, tenants, a_client):
    """What was typed under another kind (hidden by the page) is dropped."""
    conn = _create(app, a_client, "whatsapp", telegram__bot_token="1:outro-segredo",
                   messenger__page_id="999", widget_title="Título do widget",
                   endpoint_url="https://erp.example.com/x")
    assert set(conn.settings) == {"phone_number_id", "waba_id"}
    assert set(conn.secrets()) == {"access_token", "app_secret", "verify_token"}
    assert conn.widget_title is None and conn.endpoint_url is None


def test_CHN_1_edit_shows_only_the_kinds_own_fields_and_blank_secret_keeps_it(
        app, tenants, a_client):
    conn = _create(app, a_client, "messenger")
    page = a_client.get(f"/admin/connections/edit/?id={conn.id}").text
    assert 'id="messenger__page_id"' in page and 'value="111222333"' in page
    assert 'id="messenger__app_secret"' in page
    for other in ("whatsapp__", "telegram__", "instagram__", 'id="widget_title"',
                  'id="endpoint_url"'):
        assert other not in page, other
    assert "Cadastrado: deixe em branco para manter o atual." in html.unescape(page)

    # blank secrets keep the stored ones; a typed one replaces it; public fields change
    resp = a_client.submit(f"/admin/connections/edit/?id={conn.id}", {
        "name": "Canal messenger", "active": "y", "messenger__page_id": "777888999",
        "messenger__page_access_token": "", "messenger__app_secret": "novo-segredo-fb",
        "messenger__verify_token": ""})
    assert resp.status_code == 302, flashes(resp.text)
    after = _conn(app, "Canal messenger")
    assert after.settings == {"page_id": "777888999"}
    assert after.secrets() == {**_secrets("messenger"), "app_secret": "novo-segredo-fb"}
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "connection", AuditLog.action == "update",
            AuditLog.row_id == str(conn.id)))
        assert entry.changes["credentials"] == ["***", "***"]
        assert "novo-segredo-fb" not in json.dumps(entry.changes)
    assert "novo-segredo-fb" not in _seen(a_client, after)


@pytest.mark.parametrize("kind,field,message", [
    ("whatsapp", "access_token", "Informe Token de acesso."),
    ("whatsapp", "phone_number_id", "Informe ID do número de telefone"),
    ("telegram", "bot_token", "Informe Token do bot."),
    ("instagram", "page_id", "Informe ID da conta do Instagram"),
])
def test_CHN_1_a_required_provider_field_is_asked_for(app, tenants, a_client, kind, field,
                                                       message):
    page = a_client.submit("/admin/connections/new/", _form(kind, **{f"{kind}__{field}": ""}))
    assert page.status_code == 200
    assert any(message in m for m in flashes(html.unescape(page.text))), flashes(page.text)
    with app.app_context():
        assert db.session.scalar(select(Connection).where(
            Connection.name == f"Canal {kind}")) is None


def test_CHN_1_provider_ids_must_be_digits(app, tenants, a_client):
    page = a_client.submit("/admin/connections/new/",
                           _form("whatsapp", whatsapp__phone_number_id="12/../me"))
    assert "deve ter apenas números" in html.unescape(page.text)


def test_PLT_5_plan_limit_applies_to_provider_kinds(app, tenants, a_client):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        company.plan.max_channels = 1  # the tenant already has one active connection
        db.session.commit()
    page = a_client.submit("/admin/connections/new/", _form("telegram"))
    assert "permite no máximo 1 conexões ativas" in html.unescape(page.text)
    resp = a_client.submit("/admin/connections/new/", _form("telegram", active=""))
    assert resp.status_code == 302  # an inactive one does not count


# -- webhook URL -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(FORMS))
def test_CHN_1_edit_and_details_show_the_absolute_webhook_url(app, tenants, a_client, kind):
    conn = _create(app, a_client, kind)
    url = f"http://localhost/hooks/{kind}/{conn.public_key}"
    for page in (a_client.get(f"/admin/connections/edit/?id={conn.id}").text,
                 a_client.get(f"/admin/connections/details/?id={conn.id}").text):
        assert f'value="{url}" data-testid="webhook-url"' in page
        assert 'data-testid="embed-snippet"' not in page  # the webchat's, not for this kind
        meta = kind != "telegram"
        assert ('data-testid="verify-token-reminder"' in page) is meta
        assert ("Registrar webhook no Telegram" in page) is (kind == "telegram")
        assert ("Sincronizar modelos" in page) is (kind == "whatsapp")
        assert "Testar conexão" in page
        # the buttons post this connection's id, with the CSRF token
        assert page.count(f'name="id" value="{conn.id}"') == (2 if kind in ("telegram", "whatsapp")
                                                               else 1)
        assert page.count('action="/admin/connections/test/"') == 1
    # the URL is the app's own route: the provider's GET handshake reaches this connection
    if kind != "telegram":
        answer = a_client.get(f"/hooks/{kind}/{conn.public_key}?hub.mode=subscribe&"
                              f"hub.verify_token={FORMS[kind]['verify_token']}"
                              "&hub.challenge=desafio-123")
        assert answer.status_code == 200 and answer.text == "desafio-123"


def test_CHN_1_webchat_pages_keep_the_snippet_and_no_webhook(app, tenants, a_client):
    conn_id = tenants["a"].ids["connections"]
    page = a_client.get(f"/admin/connections/edit/?id={conn_id}").text
    assert 'data-testid="embed-snippet"' in page and 'data-testid="webhook-url"' not in page
    assert "Testar conexão" not in page


def test_CHN_1_new_key_warns_that_the_webhook_url_changes(app, tenants, a_client):
    conn = _create(app, a_client, "whatsapp")
    page = a_client.get(f"/admin/connections/edit/?id={conn.id}").text
    assert "A URL do webhook muda e as mensagens deixam de chegar" in html.unescape(page)
    resp = a_client.submit("/admin/connections/action/", {
        "action": "regenerate_key", "rowid": str(conn.id)}, follow_redirects=True)
    after = _conn(app, conn.name)
    assert after.public_key != conn.public_key
    text = html.unescape(resp.text)
    assert any("A URL do webhook mudou: cadastre a nova URL no painel do provedor" in m
               for m in flashes(text))
    assert f"/hooks/whatsapp/{after.public_key}" in text


# -- asking the provider ---------------------------------------------------------------

def _press(client, button, conn, **kwargs):
    resp = client.submit(f"/admin/connections/{button}/", {"id": str(conn.id)},
                         follow_redirects=True, **kwargs)
    assert resp.status_code == 200
    return [html.unescape(m) for m in flashes(resp.text)], resp


def test_CHN_1_test_connection_whatsapp_success_names_the_number(app, tenants, a_client,
                                                                   httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    conn = _create(app, a_client, "whatsapp")
    httpserver.expect_request(
        "/v21.0/1234567890", method="GET",
        query_string={"fields": "display_phone_number,verified_name"},
        headers={"Authorization": "Bearer EAAG-segredo-token-wa"},
    ).respond_with_json({"display_phone_number": "55 11 3456-7890",
                         "verified_name": "Óticas Boa Vista", "id": "1234567890"})
    messages, resp = _press(a_client, "test", conn)
    assert any("Conectado ao número +55 11 3456-7890 (Óticas Boa Vista)" in m
               for m in messages), messages
    assert "alert-success" in resp.text
    httpserver.check_assertions()


def test_CHN_1_test_connection_failure_is_flashed_as_an_error(app, tenants, a_client,
                                                              httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    conn = _create(app, a_client, "whatsapp")
    httpserver.expect_request("/v21.0/1234567890").respond_with_json(
        {"error": {"message": "Error validating access token", "type": "OAuthException",
                   "code": 190, "fbtrace_id": "x"}}, status=401)
    messages, resp = _press(a_client, "test", conn)
    assert any("O token de acesso é inválido ou expirou" in m for m in messages), messages
    assert "alert-danger" in resp.text and "Error validating" not in resp.text


def test_CHN_1_test_connection_telegram_and_messenger(app, tenants, a_client, httpserver):
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    app.config["META_GRAPH_URL"] = httpserver.url_for("/graph")
    tg = _create(app, a_client, "telegram")
    fb = _create(app, a_client, "messenger")
    httpserver.expect_request(f"/tg/bot{FORMS['telegram']['bot_token']}/getMe").respond_with_json(
        {"ok": True, "result": {"id": 123456789, "is_bot": True, "username": "oticas_bot"}})
    httpserver.expect_request("/graph/111222333").respond_with_json(
        {"name": "Óticas Boa Vista", "id": "111222333"})
    assert any("Conectado ao bot @oticas_bot" in m for m in _press(a_client, "test", tg)[0])
    assert any("Conectado à página Óticas Boa Vista" in m
               for m in _press(a_client, "test", fb)[0])


def test_CHN_1_provider_unreachable_is_an_error_message_not_a_500(app, tenants, a_client):
    app.config["WHATSAPP_API_URL"] = "http://127.0.0.1:9/v21.0"  # nothing listens there
    app.config["OUTBOUND_TIMEOUT"] = 1
    conn = _create(app, a_client, "whatsapp")
    messages, resp = _press(a_client, "test", conn)
    assert "alert-danger" in resp.text
    assert any("WhatsApp não respondeu" in m for m in messages), messages


def test_CHN_1_register_webhook_on_telegram(app, tenants, a_client, httpserver):
    """The URL registered is this connection's, over https, with the stored secret token
    the webhook then has to carry."""
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    conn = _create(app, a_client, "telegram")
    httpserver.expect_request(
        f"/tg/bot{FORMS['telegram']['bot_token']}/setWebhook", method="POST",
    ).respond_with_json({"ok": True, "result": True, "description": "Webhook was set"})
    # the site served over https (the Telegram accepts no other webhook)
    messages, _resp = _press(a_client, "register-webhook", conn, base_url="https://localhost",
                             headers={"Referer": "https://localhost/admin/connections/"})
    assert any("Webhook registrado no Telegram." in m for m in messages), messages
    (request, _answer), = httpserver.log
    sent = json.loads(request.get_data())
    assert sent["url"] == f"https://localhost/hooks/telegram/{conn.public_key}"
    assert sent["secret_token"] == FORMS["telegram"]["secret_token"]


def test_CHN_1_register_webhook_refused_over_http_says_why(app, tenants, a_client, httpserver):
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/tg")
    conn = _create(app, a_client, "telegram")
    messages, resp = _press(a_client, "register-webhook", conn)  # http://localhost
    assert "alert-danger" in resp.text and any("https" in m for m in messages), messages
    assert httpserver.log == []  # not even asked


def test_CHN_1_register_webhook_is_only_for_telegram(app, tenants, a_client):
    conn = _create(app, a_client, "whatsapp")
    messages, _resp = _press(a_client, "register-webhook", conn)
    assert any("cadastre a URL no painel do provedor" in m for m in messages), messages


def test_CHN_4_sync_templates_button_fills_the_whatsapp_templates_list(app, tenants, a_client,
                                                                        httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    conn = _create(app, a_client, "whatsapp")
    httpserver.expect_request("/v21.0/9876543210/message_templates").respond_with_json({
        "data": [
            {"name": "pedido_pronto", "language": "pt_BR", "status": "APPROVED",
             "category": "UTILITY", "id": "1",
             "components": [{"type": "BODY", "text": "Olá {{1}}, seu pedido está pronto."}]},
            {"name": "oferta", "language": "pt_BR", "status": "REJECTED",
             "category": "MARKETING", "id": "2",
             "components": [{"type": "BODY", "text": "Oferta da semana"}]},
        ], "paging": {"cursors": {}}})
    messages, _resp = _press(a_client, "sync-templates", conn)
    assert any(m.endswith("Modelos sincronizados: 2.") for m in messages), messages
    assert "alert-success" in _resp.text
    listing = html.unescape(a_client.get("/admin/whatsapp_templates/").text)
    assert "pedido_pronto" in listing and "Olá {{1}}, seu pedido está pronto." in listing
    assert "Aprovado" in listing and "Rejeitado" in listing
    assert "Utilidade" in listing and "Canal whatsapp" in listing


def test_CHN_4_sync_templates_failure_is_flashed(app, tenants, a_client, httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    conn = _create(app, a_client, "whatsapp")
    _templates(app, tenants["a"].company_id, conn.id)  # from an earlier sync
    httpserver.expect_request("/v21.0/9876543210/message_templates").respond_with_json(
        {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                   "code": 190}}, status=401)
    messages, resp = _press(a_client, "sync-templates", conn)
    assert "alert-danger" in resp.text
    assert any("O token de acesso é inválido ou expirou" in m for m in messages), messages
    with app.app_context():  # a failed sync leaves the list as it was
        assert sorted(db.session.scalars(select(ProviderTemplate.name).where(
            ProviderTemplate.connection_id == conn.id))) == ["antiga", "boas_vindas", "cobranca"]


def test_CHN_1_provider_buttons_need_the_edit_right_and_a_post(app, tenants, a_client,
                                                               httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    conn = _create(app, a_client, "whatsapp")
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        group = gen_group(company, "Só vê conexões", ["connections.view"])
        gen_user(company, "ve-conexoes@example.com", group)
        db.session.commit()
    viewer = app.test_client()
    assert login(viewer, "ve-conexoes@example.com").status_code == 302
    details = viewer.get(f"/admin/connections/details/?id={conn.id}").text
    assert "webhook-url" in details and "Testar conexão" not in details
    for button in ("test", "register-webhook", "sync-templates"):
        assert viewer.submit(f"/admin/connections/{button}/",
                             {"id": str(conn.id)}).status_code == 403
        assert a_client.get(f"/admin/connections/{button}/?id={conn.id}").status_code == 405
    assert httpserver.log == []


def test_CHN_1_buttons_refuse_another_companys_connection(app, tenants, a_client, httpserver):
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    with app.app_context():
        other = gen_connection(tenants["b"].company_id, "WhatsApp de B", kind="whatsapp",
                               settings={"phone_number_id": "555"},
                               credentials=json.dumps({"access_token": "tok-b"}))
        db.session.commit()
        other_id = other.id
    for button in ("test", "sync-templates"):
        resp = a_client.submit(f"/admin/connections/{button}/", {"id": str(other_id)},
                               follow_redirects=True)
        assert any("Conexão não encontrada." in m for m in flashes(resp.text))
    assert httpserver.log == []


# -- Modelos do WhatsApp ------------------------------------------------------------------

def _templates(app, company_id, conn_id):
    with app.app_context():
        for name, status, body in (("boas_vindas", "APPROVED", "Olá {{1}}!"),
                                   ("cobranca", "PENDING", "Sua fatura vence amanhã"),
                                   ("antiga", "PAUSED", "Texto antigo")):
            db.session.add(ProviderTemplate(
                company_id=company_id, connection_id=conn_id, name=name, language="pt_BR",
                category="UTILITY", status=status, body=body, components=[],
                synced_at=datetime(2026, 3, 10, 15, 30)))
        db.session.commit()


def test_TPL_3_whatsapp_templates_list_is_read_only_in_portuguese(app, tenants, a_client):
    conn = _create(app, a_client, "whatsapp")
    _templates(app, tenants["a"].company_id, conn.id)
    page = html.unescape(a_client.get("/admin/whatsapp_templates/").text)
    for text in ("boas_vindas", "Aprovado", "Em análise", "Pausado", "Utilidade",
                 "Canal whatsapp", "Olá {{1}}!"):
        assert text in page, text
    assert "<td>APPROVED" not in page.replace(" ", "")
    # synced_at in the company's time zone (São Paulo, UTC-3), pt-BR style
    assert "10/03/2026 12:30" in page
    assert "/admin/whatsapp_templates/new/" not in page
    assert a_client.get("/admin/whatsapp_templates/new/").status_code in (302, 403)
    with app.app_context():
        tpl = db.session.scalar(select(ProviderTemplate).where(
            ProviderTemplate.name == "boas_vindas"))
        tpl_id = tpl.id
    a_client.submit("/admin/whatsapp_templates/delete/", {"id": str(tpl_id)})
    with app.app_context():
        assert db.session.get(ProviderTemplate, tpl_id) is not None


def test_TPL_3_whatsapp_templates_search_and_filters(app, tenants, a_client):
    conn = _create(app, a_client, "whatsapp")
    second = _create(app, a_client, "whatsapp", name="Outro WhatsApp",
                     whatsapp__phone_number_id="222")
    _templates(app, tenants["a"].company_id, conn.id)
    with app.app_context():
        db.session.add(ProviderTemplate(
            company_id=tenants["a"].company_id, connection_id=second.id, name="so_do_outro",
            language="en_US", category="MARKETING", status="APPROVED", body="Hello",
            components=[]))
        db.session.commit()
    page = a_client.get("/admin/whatsapp_templates/?search=fatura").text
    assert "cobranca" in page and "boas_vindas" not in page
    listing = a_client.get("/admin/whatsapp_templates/").text
    # the filters' options: this company's WhatsApp connections, the statuses in Portuguese
    assert "Outro WhatsApp" in listing and "Em análise" in html.unescape(listing)
    status_filter = _filter_index(a_client, "Situação")
    conn_filter = _filter_index(a_client, "Conexão")
    page = a_client.get(f"/admin/whatsapp_templates/?flt0_{status_filter}=APPROVED").text
    assert "boas_vindas" in page and "so_do_outro" in page and "cobranca" not in page
    page = a_client.get(f"/admin/whatsapp_templates/?flt0_{conn_filter}={second.id}").text
    assert "so_do_outro" in page and "boas_vindas" not in page
    # an unknown status is no filter at all, not an error
    assert a_client.get(f"/admin/whatsapp_templates/?flt0_{status_filter}=x'").status_code == 200


def _filter_index(client, label) -> int:
    page = client.get("/admin/whatsapp_templates/").text
    groups = json.loads(html.unescape(
        page.split('id="filter-groups-data"')[1].split(">", 1)[1].split("</")[0]))
    return groups[label][0]["index"]
