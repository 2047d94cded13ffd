"""API-1: messages and scheduled messages through /api/v1, against a local fake WhatsApp
Cloud API (pytest-httpserver, as tests/test_inbox_channels.py): sending goes through the
inbox's queue (CHN-3) and the 24-hour window (CHN-4), every id is the token company's
(PLT-1), a refused request leaves nothing behind, and an Idempotency-Key retry sends once.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from backoffice import events
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import (
    AuditLog, Company, Connection, Contact, ContactAddress, Message, ProviderTemplate, Ticket,
)
from backoffice.models.automation import ScheduledMessage
from backoffice.models.base import utcnow
from backoffice.services import attachments, serialize, tickets
from backoffice.services.templates import Upload
from backoffice.webhooks import payloads
from tests.factories import (
    PDF, PNG, ApiClient, gen_api_token, gen_company, gen_connection, gen_plan,
)

PNID = "1001"
PHONE = "5511987654321"      # the customer who wrote (a WhatsApp wa_id)
NEW_PHONE = "(11) 91234-5678"  # nobody yet
CONFIG = {"settings": {"phone_number_id": PNID, "waba_id": "2002"},
          "credentials": json.dumps({"access_token": "token", "app_secret": "segredo",
                                     "verify_token": "verifica"})}
SEND = "/api/v1/messages/"


@dataclass
class World:
    token: str
    company_id: int
    connection_id: int
    ticket_id: int
    contact_id: int
    template_id: int
    other_ticket_id: int
    other_connection_id: int
    other_message_id: int


@pytest.fixture
def world(app, httpserver) -> World:
    """Company A with a WhatsApp connection, a customer who wrote a minute ago (open
    ticket), an approved template with two variables and an API token "ERP"; company B
    with a ticket of its own."""
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    httpserver.expect_request(f"/v21.0/{PNID}/messages", method="POST").respond_with_json(
        {"messaging_product": "whatsapp", "messages": [{"id": "wamid.ENVIADA"}]})
    with app.app_context():
        company, _admin = gen_company("Loja A", "admin-a@example.com", gen_plan("Plano A"))
        connection = gen_connection(company, "WhatsApp Loja", kind="whatsapp", **CONFIG)
        contact = tickets.contact_for(connection, PHONE, "Maria Souza", phone="+" + PHONE)
        ticket = tickets.open_ticket(contact, connection, None)
        tickets.receive(ticket, "Oi, meu pedido chegou?")
        contact.addresses[0].last_inbound_at = utcnow() - timedelta(minutes=1)
        template = ProviderTemplate(company_id=company.id, connection_id=connection.id,
                                    name="pedido_enviado", language="pt_BR", status="APPROVED",
                                    body="Olá {{1}}, seu pedido {{2}} saiu.", variables=2,
                                    components=[])
        db.session.add(template)
        other, _b = gen_company("Loja B", "admin-b@example.com", gen_plan("Plano B"))
        other_connection = gen_connection(other, "WhatsApp B", kind="whatsapp", **CONFIG)
        other_ticket = tickets.open_ticket(
            tickets.contact_for(other_connection, PHONE, "Cliente B"), other_connection, None)
        other_message = tickets.receive(other_ticket, "Oi B")
        token = gen_api_token(company, name="ERP")
        after_commit.commit()
        return World(token, company.id, connection.id, ticket.id, contact.id, template.id,
                     other_ticket.id, other_connection.id, other_message.id)


def sent_to_whatsapp(httpserver) -> list[dict]:
    return [json.loads(r.get_data()) for r, _ in httpserver.log
            if r.path == f"/v21.0/{PNID}/messages"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def refused(response, status: int = 422) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.get_json()["detail"]


def test_API_1_text_to_a_ticket_is_queued_then_sent_and_announced(app, world, httpserver,
                                                                   monkeypatch):
    """API-1/CHN-3: 202 with the message queued; the job sends it through the provider;
    message.created is emitted as for an inbox reply; the agent sees "API: ERP"."""
    monkeypatch.setattr(events, "_LISTENERS",
                        {k: list(v) for k, v in events._LISTENERS.items()})
    created = []
    events.listen("message.created")(lambda name, message, **_: created.append(message.id))
    api = ApiClient(app, world.token)

    answer = api.post(SEND, json={"ticket_id": world.ticket_id, "text": "Seu pedido saiu!"})

    assert answer.status_code == 202, answer.get_data(as_text=True)
    body = answer.get_json()
    assert (body["status"], body["ticket_id"], body["contact_id"]) == (
        "queued", world.ticket_id, world.contact_id)
    assert (body["author_kind"], body["author"]) == ("bot", "API: ERP")
    assert created == [body["id"]]
    assert [m["text"]["body"] for m in sent_to_whatsapp(httpserver)] == ["Seu pedido saiu!"]
    shown = api.get(f"/api/v1/messages/{body['id']}").get_json()
    assert (shown["status"], shown["status_label"], shown["sent_at"] is not None) == (
        "sent", "Enviada", True)
    conversation = api.get(f"/api/v1/tickets/{world.ticket_id}/messages?limit=1").get_json()
    assert [m["text"] for m in conversation["data"]] == ["Seu pedido saiu!"]  # newest first
    older = api.get(f"/api/v1/tickets/{world.ticket_id}/messages"
                    f"?cursor={conversation['next_cursor']}").get_json()
    assert [(m["text"], m["direction"]) for m in older["data"]] == [
        ("Oi, meu pedido chegou?", "in")]
    with app.app_context():  # the inbox's conversation panel names the token too
        assert serialize.message(db.session.get(Message, body["id"]))["author"] == "API: ERP"


def test_API_1_a_phone_gets_one_contact_and_ticket_and_a_retried_key_sends_once(
        app, world, httpserver):
    """API-1: to a new number on the WhatsApp connection (a template: the window is
    closed for someone who never wrote, CHN-4): contact and ticket created once, found
    again by the next send; an Idempotency-Key retry answers the first result."""
    api = ApiClient(app, world.token)
    contacts, ticket_rows = count(app, Contact), count(app, Ticket)
    request = {"connection_id": world.connection_id, "phone": NEW_PHONE,
               "template": {"name": "pedido_enviado",
                            "variables": {"1": "João", "2": "#77"}}}
    first = api.post(SEND, json=request, headers={"Idempotency-Key": "pedido-77"})
    again = api.post(SEND, json=request, headers={"Idempotency-Key": "pedido-77"})
    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["text"] == "Olá João, seu pedido #77 saiu."

    request["template"]["variables"]["2"] = "#78"
    later = api.post(SEND, json={**request, "phone": "+55 11 91234-5678"})
    assert later.status_code == 202
    assert later.get_json()["ticket_id"] == first.get_json()["ticket_id"]
    assert (count(app, Contact), count(app, Ticket)) == (contacts + 1, ticket_rows + 1)
    sent = sent_to_whatsapp(httpserver)
    assert [(m["to"], m["template"]["components"][0]["parameters"][1]["text"])
            for m in sent] == [("5511912345678", "#77"), ("5511912345678", "#78")]
    with app.app_context():
        contact = db.session.get(Contact, first.get_json()["contact_id"])
        assert contact.phone == "+5511912345678"


def test_CHN_4_outside_the_window_only_a_complete_template_goes(app, world, httpserver):
    """CHN-4: two days after the customer wrote, text is refused with the reason; a
    template with a missing and an unknown variable is refused naming both; a text to a
    number that never wrote leaves no contact or ticket behind."""
    with app.app_context():
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == world.connection_id))
        address.last_inbound_at = utcnow() - timedelta(days=2)
        db.session.commit()
    api = ApiClient(app, world.token)
    messages = count(app, Message)

    detail = refused(api.post(SEND, json={"ticket_id": world.ticket_id, "text": "Oi de novo"}))
    assert detail.startswith("Fora da janela de 24 horas do WhatsApp")
    detail = refused(api.post(SEND, json={"ticket_id": world.ticket_id, "template": {
        "template_id": world.template_id, "variables": {"1": "Maria", "9": "x"}}}))
    assert detail == ("Modelo pedido_enviado: faltam as variáveis {{2}}; o modelo não tem "
                      "as variáveis 9.")
    contacts, ticket_rows = count(app, Contact), count(app, Ticket)
    detail = refused(api.post(SEND, json={"connection_id": world.connection_id,
                                          "phone": NEW_PHONE, "text": "Olá!"}))
    assert detail.startswith("Fora da janela de 24 horas do WhatsApp")
    assert (count(app, Contact), count(app, Ticket), count(app, Message)) == (
        contacts, ticket_rows, messages)

    sent = api.post(SEND, json={"ticket_id": world.ticket_id, "template": {
        "template_id": world.template_id, "variables": {"1": "Maria", "2": "#9"}}})
    assert sent.status_code == 202
    assert sent_to_whatsapp(httpserver)[-1]["template"]["name"] == "pedido_enviado"


def test_API_1_bad_input_is_refused_in_portuguese_with_nothing_created(app, world):
    """API-1 bad input: file type, base64, phone, length, targets and contents, a closed
    ticket, an inactive connection: 4xx problem documents in Portuguese; a good file
    goes."""
    api = ApiClient(app, world.token)
    ticket = {"ticket_id": world.ticket_id}
    by_phone = {"connection_id": world.connection_id}
    fake_png = base64.b64encode(b"MZ not an image").decode()
    contacts, messages = count(app, Contact), count(app, Message)
    cases = [
        ({**ticket, "media": {"filename": "foto.png", "content_base64": fake_png}},
         "Tipo de arquivo não permitido: foto.png"),
        ({**ticket, "media": {"filename": "foto.png", "content_base64": "não é base64"}},
         "O conteúdo do arquivo não é base64 válido."),
        ({**by_phone, "phone": "123", "text": "Oi"}, "Telefone inválido"),
        ({**ticket, "text": "x" * 4097}, "Dados inválidos: corpo.text: Texto longo demais"),
        ({**ticket, **by_phone, "phone": NEW_PHONE, "text": "Oi"},
         "Dados inválidos: corpo: Informe ticket_id, ou connection_id e phone"),
        ({**ticket, "text": "Oi", "template": {"name": "pedido_enviado"}},
         "Dados inválidos: corpo: Informe um conteúdo: text, media ou template (só um)."),
        ({**ticket, "text": "Oi", "extra": 1}, "Dados inválidos: corpo.extra: Campo desconhecido."),
        ({"ticket_id": "1", "text": "Oi"}, "Dados inválidos: corpo.ticket_id: Informe um número inteiro."),
    ]
    for body, expected in cases:
        assert refused(api.post(SEND, json=body)).startswith(expected), body
    with app.app_context():
        db.session.get(Ticket, world.ticket_id).status = "closed"
        db.session.get(Connection, world.connection_id).active = False
        db.session.commit()
    assert refused(api.post(SEND, json={**ticket, "text": "Oi"})) == (
        "Este atendimento já foi finalizado.")
    assert refused(api.post(SEND, json={**by_phone, "phone": NEW_PHONE, "text": "Oi"})) == (
        "A conexão WhatsApp Loja está inativa.")
    assert (count(app, Contact), count(app, Message)) == (contacts, messages)
    with app.app_context():
        db.session.get(Ticket, world.ticket_id).status = "open"
        db.session.commit()
    sent = api.post(SEND, json={**ticket, "media": {
        "filename": "foto.png", "content_base64": base64.b64encode(PNG).decode(),
        "caption": "Sua nota"}})
    assert sent.status_code == 202
    media_id = sent.get_json()["id"]
    assert (sent.get_json()["media"], sent.get_json()["text"]) == (
        {"name": "foto.png", "mime": "image/png", "size": len(PNG),
         "url": f"http://localhost/api/v1/messages/{media_id}/media"}, "Sua nota")


def test_PLT_1_another_companys_rows_are_not_found_and_rights_are_checked(app, world):
    """PLT-1: another company's ticket, connection, message and schedule are as missing
    as unknown ones; a token without api:messages.send gets 403 (PLT-3)."""
    api = ApiClient(app, world.token)
    assert refused(api.post(SEND, json={"ticket_id": world.other_ticket_id, "text": "Oi"})) == (
        "Atendimento não encontrado.")
    assert refused(api.post(SEND, json={"connection_id": world.other_connection_id,
                                        "phone": NEW_PHONE, "text": "Oi"})) == (
        "Conexão não encontrada.")
    refused(api.get(f"/api/v1/messages/{world.other_message_id}"), 404)
    refused(api.get(f"/api/v1/tickets/{world.other_ticket_id}/messages"), 404)
    with app.app_context():
        reader = gen_api_token(db.session.get(Company, world.company_id),
                               rights=("api:messages.read",), name="Leitura")
        db.session.commit()
    reading = ApiClient(app, reader)
    refused(reading.post(SEND, json={"ticket_id": world.ticket_id, "text": "Oi"}), 403)
    assert reading.get(f"/api/v1/tickets/{world.ticket_id}/messages").status_code == 200


def test_API_1_a_message_s_file_is_downloaded_with_the_token(app, world):
    """API-1: a message's file (the customer's photo, a PDF sent) is named in its JSON
    with the URL that serves it to a token with api:messages.read, byte for byte, as a
    download that no browser renders; the webhook payload points to the same route. A
    message without a file, a file gone from the disk and another company's message get
    a 404 in Portuguese."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket_id)
        photo = tickets.receive(ticket, "Segue a foto", Upload(PNG, "foto do produto.png",
                                                               "image/png"))
        document = tickets.receive(ticket, None, Upload(PDF, "boleto.pdf", "application/pdf"))
        text_only = tickets.receive(ticket, "Só texto")
        after_commit.commit()
        photo_id, document_id, text_id = photo.id, document.id, text_only.id
        webhook_path = payloads.message(photo)["attachment"]["path"]
    api = ApiClient(app, world.token)
    shown = api.get(f"/api/v1/messages/{photo_id}").get_json()["media"]
    assert shown["name"] == "foto do produto.png" and shown["size"] == len(PNG)
    assert urlsplit(shown["url"]).path == webhook_path == f"/api/v1/messages/{photo_id}/media"
    listed = api.get(f"/api/v1/tickets/{world.ticket_id}/messages").get_json()["data"]
    assert {m["id"]: (m["media"] or {}).get("url") for m in listed}[document_id].endswith(
        f"/api/v1/messages/{document_id}/media")

    got = api.get(urlsplit(shown["url"]).path)
    assert got.status_code == 200 and got.get_data() == PNG
    assert got.mimetype == "image/png"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "foto" in got.headers["Content-Disposition"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    assert "no-store" in got.headers["Cache-Control"]
    pdf = api.get(f"/api/v1/messages/{document_id}/media")
    assert (pdf.status_code, pdf.mimetype, pdf.get_data()) == (200, "application/pdf", PDF)

    assert refused(api.get(f"/api/v1/messages/{text_id}/media"), 404) == (
        "Esta mensagem não tem arquivo para baixar.")
    with app.app_context():
        attachments.file_of(db.session.get(Message, document_id)).unlink()
    assert refused(api.get(f"/api/v1/messages/{document_id}/media"), 404) == (
        "O arquivo desta mensagem não está mais disponível.")
    assert refused(api.get(f"/api/v1/messages/{world.other_message_id}/media"), 404) == (
        "Recurso não encontrado.")
    with app.app_context():
        sender = gen_api_token(db.session.get(Company, world.company_id),
                               rights=("api:messages.send",), name="Só envio")
        db.session.commit()
    assert refused(ApiClient(app, sender).get(f"/api/v1/messages/{photo_id}/media"), 403)


def test_AUT_5_scheduled_messages_are_created_listed_and_cancelled(app, world, timeline):
    """API-1/AUT-5: a schedule for a contact in the future (the company's rules: a past
    time is refused), listed by status, cancelled once; a new phone gets its contact and
    the 24-hour warning; another company's schedule is not found (PLT-1)."""
    api = ApiClient(app, world.token)
    base = {"connection_id": world.connection_id, "text": "Lembrete da consulta"}
    assert refused(api.post("/api/v1/scheduled/", json={
        **base, "contact_id": world.contact_id, "send_at": "2026-12-01T08:59:00-03:00"})) == (
        "A data e o horário do envio já passaram.")
    created = api.post("/api/v1/scheduled/", json={
        **base, "contact_id": world.contact_id, "send_at": "2026-12-05T09:00:00-03:00"})
    assert created.status_code == 201, created.get_data(as_text=True)
    item = created.get_json()
    assert (item["status"], item["send_at"], item["repeat"]) == (
        "scheduled", "2026-12-05T12:00:00+00:00", "none")
    by_phone = api.post("/api/v1/scheduled/", json={
        **base, "phone": NEW_PHONE, "send_at": "2026-12-02T12:00:00Z"})
    assert by_phone.status_code == 201
    assert by_phone.get_json()["warning"].startswith("Atenção: no horário agendado")

    listed = api.get(f"/api/v1/scheduled/?status=scheduled&contact_id={world.contact_id}")
    assert [i["id"] for i in listed.get_json()["data"]] == [item["id"]]
    cancelled = api.post(f"/api/v1/scheduled/{item['id']}/cancel")
    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")
    assert refused(api.post(f"/api/v1/scheduled/{item['id']}/cancel")) == (
        "Só agendamentos ainda não enviados podem ser cancelados.")
    with app.app_context():  # PLT-7: created and cancelled by the token, in the audit log
        logged = db.session.execute(select(AuditLog.action, AuditLog.user_name, AuditLog.changes)
                                    .where(AuditLog.table == "scheduled_message",
                                           AuditLog.row_id == str(item["id"]))
                                    .order_by(AuditLog.id)).all()
        assert [(a, n) for a, n, _c in logged] == [("create", "API: ERP"), ("update", "API: ERP")]
        assert logged[1][2] == {"status": ["scheduled", "cancelled"]}
        theirs = db.session.get(Ticket, world.other_ticket_id)
        other = ScheduledMessage(company_id=theirs.company_id, contact_id=theirs.contact_id,
                                 connection_id=theirs.connection_id, send_at=utcnow(),
                                 text="Deles")
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    refused(api.get(f"/api/v1/scheduled/{other_id}"), 404)
    refused(api.post(f"/api/v1/scheduled/{other_id}/cancel"), 404)
