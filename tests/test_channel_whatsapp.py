"""The WhatsApp Cloud API channel (issue 12: CHN-1, CHN-2, CHN-3, CHN-4, MSG-1, TPL-3),
end to end against a local fake Graph API (pytest-httpserver): webhooks signed as Meta
signs them go through the real route /hooks/whatsapp/<public key>, their items are
processed by the (eager) job, and the agent's messages leave in the exact request shape
the Cloud API documents.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from backoffice.channels import Inbound, InboundError, PermanentSendError, SendError, adapter_for
from backoffice.channels.provider import Reply
from backoffice.channels.whatsapp import WhatsAppAdapter
from backoffice.extensions import db
from backoffice.jobs import channels as channel_jobs
from backoffice.lib import after_commit
from backoffice.models import (
    ChannelEvent, Connection, Contact, ContactAddress, Message, ProviderTemplate, Ticket, User,
)
from backoffice.models.base import utcnow
from backoffice.models.channels import EVENT_DONE, EVENT_PENDING
from backoffice.models.tickets import (
    AUTHOR_SYSTEM, DELIVERED, FAILED, IN, OUT, QUEUED, READ, SENDING, SENT,
)
from backoffice.services import RuleError, attachments, provider_templates, sending, tickets
from backoffice.services.templates import Upload
from tests.factories import (
    PDF, PNG, gen_company, gen_connection, gen_plan, incoming_messages, row_count,
    stored_message,
)

API = "/v21.0"
PNID = "106540352242922"
WABA = "102290129340398"
TOKEN = "EAAG-token-de-teste"
APP_SECRET = "segredo-do-aplicativo"
VERIFY_TOKEN = "verifica-atende-123"
WA_ID = "5511987654321"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CONFIG = {"settings": {"phone_number_id": PNID, "waba_id": WABA},
          "credentials": json.dumps({"access_token": TOKEN, "app_secret": APP_SECRET,
                                     "verify_token": VERIFY_TOKEN})}
OUTSIDE_WINDOW = "Fora da janela de 24 horas: envie um modelo aprovado."


# --- the provider's side: webhooks as Meta posts them -------------------------------------------


def sign(raw: bytes, secret: str = APP_SECRET) -> dict:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def webhook(value: dict) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{
        "id": WABA, "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "551140000000", "phone_number_id": PNID},
            **value}}]}]}).encode()


def message_value(message: dict, wa_id: str = WA_ID, name: str = "Maria Souza") -> dict:
    return {"contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "timestamp": "1733300000", **message}]}


def text_message(text: str = "Olá, quero ajuda", wamid: str = "wamid.IN1", **kw) -> dict:
    return {"id": wamid, "type": "text", "text": {"body": text}, **kw}


def status_value(wamid: str, status: str, errors=None) -> dict:
    item = {"id": wamid, "status": status, "timestamp": "1733300100", "recipient_id": WA_ID}
    if errors:
        item["errors"] = errors
    return {"statuses": [item]}


def sent_reply(wamid: str) -> dict:
    return {"messaging_product": "whatsapp", "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
            "messages": [{"id": wamid}]}


def graph_error(code: int, message: str, details: str = "", status: int = 400):
    return {"error": {"message": message, "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": details},
                      "fbtrace_id": "AbCdEf"}}, status


# --- our side ----------------------------------------------------------------------------------


@dataclass
class World:
    company_id: int
    connection_id: int
    key: str
    agent_id: int


@pytest.fixture
def wa(app, httpserver) -> World:
    app.config["WHATSAPP_API_URL"] = httpserver.url_for(API)
    with app.app_context():
        company, admin = gen_company("Empresa WA", "admin-wa@example.com", gen_plan("Plano WA"))
        connection = gen_connection(company, "WhatsApp Vendas", kind="whatsapp", **CONFIG)
        after_commit.commit()
        return World(company.id, connection.id, connection.public_key, admin.id)


def hook(client, wa: World, raw: bytes, headers=None):
    return client.post(f"/hooks/whatsapp/{wa.key}", data=raw,
                       headers=sign(raw) if headers is None else headers)


def receive(client, wa, message: dict, **kw):
    r = hook(client, wa, webhook(message_value(message, **kw)))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r


def agent_sends(app, wa, text: str | None, upload=None, extra=None, template=False) -> int:
    with app.app_context():
        ticket = db.session.scalar(select(Ticket).where(Ticket.connection_id == wa.connection_id))
        agent = db.session.get(User, wa.agent_id)
        message = sending.queue(ticket, agent, text, upload=upload, extra=extra,
                                template=template)
        after_commit.commit()  # the eager job delivers it now
        return message.id


def text_request(text: str, to: str = WA_ID) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
            "type": "text", "text": {"body": text, "preview_url": False}}


def messages_uri() -> str:
    return f"{API}/{PNID}/messages"


# --- CHN-2: the webhook ------------------------------------------------------------------------


def test_CHN2_handshake_answers_the_challenge_only_with_the_right_verify_token(client, wa):
    args = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    r = client.get(f"/hooks/whatsapp/{wa.key}",
                   query_string={**args, "hub.verify_token": VERIFY_TOKEN})
    assert (r.status_code, r.get_data(as_text=True)) == (200, "1158201444")
    r = client.get(f"/hooks/whatsapp/{wa.key}",
                   query_string={**args, "hub.verify_token": "outro"})
    assert r.status_code == 403 and "1158201444" not in r.get_data(as_text=True)
    r = client.get(f"/hooks/whatsapp/{wa.key}", query_string=args)
    assert r.status_code == 403


def test_CHN2_signed_text_reaches_the_inbox_with_contact_ticket_and_phone(app, client, wa):
    receive(client, wa, text_message("Olá, quero ajuda", context={"id": "wamid.OLD"}))
    with app.app_context():
        message = db.session.scalar(select(Message).where(Message.direction == IN))
        ticket = db.session.get(Ticket, message.ticket_id)
        address = db.session.scalar(select(ContactAddress))
        assert (message.text, message.external_id) == ("Olá, quero ajuda", "wamid.IN1")
        assert message.extra == {"reply_to": {"external_id": "wamid.OLD", "message_id": None}}
        assert ticket.connection_id == wa.connection_id
        assert (ticket.contact.name, ticket.contact.phone) == ("Maria Souza", "+5511987654321")
        assert (address.address, address.contact_id) == (WA_ID, ticket.contact_id)
        assert address.last_inbound_at is not None  # CHN-4: the window is open
        assert db.session.scalar(select(ChannelEvent.status)) == EVENT_DONE


def test_CHN2_simulated_text_is_what_the_route_accepts(app, client, wa):
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, wa.connection_id))
        raw, headers = adapter.simulated(WA_ID, "Simulado", name="Ana", external_id="wamid.S1")
    assert hook(client, wa, raw, headers).status_code == 200
    assert [(m.text, m.external_id) for m in incoming_messages(app)] == [("Simulado", "wamid.S1")]


def test_CHN2_ninth_digit_forms_of_a_number_end_on_one_contact(app, client, wa):
    """WhatsApp gives an old Brazilian mobile's wa_id without the ninth digit; the same
    customer may later write with it: one contact, one ticket, two addresses."""
    receive(client, wa, text_message("sem o nove", "wamid.A"), wa_id="551187654321")
    receive(client, wa, text_message("com o nove", "wamid.B"), wa_id="5511987654321")
    with app.app_context():
        assert row_count(Contact) == 1 and row_count(Ticket) == 1
        contact = db.session.scalar(select(Contact))
        assert contact.phone == "+5511987654321"
        assert sorted(a.address for a in contact.addresses) == ["551187654321", "5511987654321"]
    assert [m.text for m in incoming_messages(app)] == ["sem o nove", "com o nove"]


def test_CHN2_bad_or_missing_signature_is_refused_and_nothing_stored(app, client, wa):
    raw = webhook(message_value(text_message()))
    assert hook(client, wa, raw, sign(raw, "outro-segredo")).status_code == 403
    assert hook(client, wa, raw, {"Content-Type": "application/json"}).status_code == 403
    tampered = raw.replace(b"quero ajuda", b"quero ajuda!")
    assert hook(client, wa, tampered, sign(raw)).status_code == 403
    with app.app_context():
        assert row_count(ChannelEvent) == 0 and row_count(Message) == 0


def test_CHN2_replayed_body_stores_nothing_new(app, client, wa):
    receive(client, wa, text_message())
    r = receive(client, wa, text_message())
    assert r.get_json() == {"received": 1, "stored": 0}
    with app.app_context():
        assert (row_count(ChannelEvent), row_count(Message)) == (1, 1)


def test_CHN2_malformed_signed_json_is_400_and_nothing_stored(app, client, wa):
    for raw in (b"{oops", json.dumps({"object": "page", "entry": []}).encode()):
        r = hook(client, wa, raw)
        assert r.status_code == 400 and r.get_json()["error"]
    with app.app_context():
        assert row_count(ChannelEvent) == 0


def test_CHN2_another_numbers_events_are_not_this_connections(app, client, wa):
    raw = webhook(message_value(text_message())).replace(PNID.encode(), b"999")
    assert hook(client, wa, raw).get_json() == {"received": 0, "stored": 0}


# --- CHN-2: every message type -------------------------------------------------------------------


def test_CHN2_image_is_downloaded_with_the_token_and_kept_as_attachment(app, client, wa,
                                                                        httpserver):
    httpserver.expect_oneshot_request(f"{API}/4001", method="GET", headers=AUTH) \
        .respond_with_json({"url": httpserver.url_for("/media/4001"), "mime_type": "image/png",
                            "file_size": len(PNG), "id": "4001"})
    httpserver.expect_oneshot_request("/media/4001", method="GET", headers=AUTH) \
        .respond_with_data(PNG, content_type="image/png")
    receive(client, wa, {"id": "wamid.IMG", "type": "image",
                         "image": {"id": "4001", "mime_type": "image/png", "sha256": "x",
                                   "caption": "Olha a foto"}})
    httpserver.check_assertions()
    [message] = incoming_messages(app)
    assert (message.text, message.file_name, message.file_mime) == (
        "Olha a foto", "imagem.png", "image/png")
    with app.app_context():
        assert attachments.file_of(db.session.get(Message, message.id)).read_bytes() == PNG


def test_CHN2_media_the_provider_will_not_give_becomes_a_placeholder(app, client, wa,
                                                                     httpserver):
    httpserver.expect_oneshot_request(f"{API}/4002", method="GET").respond_with_json(
        *graph_error(100, "Unsupported get request.", status=404))
    receive(client, wa, {"id": "wamid.DOC", "type": "document",
                         "document": {"id": "4002", "mime_type": "application/pdf",
                                      "filename": "boleto.pdf", "caption": "segue"}})
    [message] = incoming_messages(app)
    assert message.text == ("[Documento: arquivo não recebido — o provedor não entregou o arquivo]\n"
                            "segue")
    assert message.file_key is None


@pytest.mark.parametrize("failure", ["5xx", "no answer"])
def test_CHN2_media_timeout_or_5xx_is_retried_not_lost(app, client, wa, httpserver, failure):
    if failure == "5xx":
        httpserver.expect_oneshot_request(f"{API}/4003").respond_with_data("", status=503)
    else:
        with socket.socket() as s:  # a port nobody listens on: connection refused
            s.bind(("127.0.0.1", 0))
            closed = s.getsockname()[1]
        httpserver.expect_oneshot_request(f"{API}/4003").respond_with_json(
            {"url": f"http://127.0.0.1:{closed}/media/4003", "mime_type": "audio/ogg"})
    receive(client, wa, {"id": "wamid.VOICE", "type": "audio",
                         "audio": {"id": "4003", "mime_type": "audio/ogg; codecs=opus",
                                   "voice": True}})
    with app.app_context():
        event = db.session.scalar(select(ChannelEvent))
        assert (event.status, event.attempts, row_count(Message)) == (EVENT_PENDING, 1, 0)
        assert event.next_attempt_at is not None and event.error
        event_id = event.id
    ogg = b"OggS" + b"\x00" * 60
    httpserver.expect_oneshot_request(f"{API}/4003").respond_with_json(
        {"url": httpserver.url_for("/media/4003"), "mime_type": "audio/ogg"})
    httpserver.expect_oneshot_request("/media/4003").respond_with_data(ogg)
    with app.app_context():
        assert channel_jobs.process(event_id) == "done"  # the retry the job scheduled
    [message] = incoming_messages(app)
    assert (message.file_name, message.file_mime, message.text) == ("audio.ogg", "audio/ogg",
                                                                    None)


def test_CHN2_media_the_inbox_refuses_becomes_a_placeholder_with_the_caption(app, client, wa,
                                                                            httpserver):
    httpserver.expect_oneshot_request(f"{API}/4004").respond_with_json(
        {"url": httpserver.url_for("/media/4004"), "mime_type": "video/3gpp"})
    httpserver.expect_oneshot_request("/media/4004").respond_with_data(b"\x00" * 40)
    receive(client, wa, {"id": "wamid.VID", "type": "video",
                         "video": {"id": "4004", "mime_type": "video/3gpp", "caption": "vídeo"}})
    [message] = incoming_messages(app)
    assert message.text.startswith("[Vídeo: arquivo não recebido — Tipo de arquivo não permitido")
    assert message.text.endswith("]\nvídeo") and message.file_key is None


@pytest.mark.parametrize("message,text,extra", [
    ({"type": "location", "location": {"latitude": -23.56, "longitude": -46.65,
                                       "name": "Loja Paulista", "address": "Av. Paulista, 1000"}},
     "Localização: Loja Paulista — Av. Paulista, 1000 (-23.56, -46.65)\n"
     "https://www.google.com/maps?q=-23.56,-46.65",
     {"location": {"latitude": -23.56, "longitude": -46.65, "name": "Loja Paulista",
                   "address": "Av. Paulista, 1000"}}),
    ({"type": "contacts", "contacts": [{"name": {"formatted_name": "João Lima"},
                                        "phones": [{"phone": "+55 11 91234-5678"}]}]},
     "Contato compartilhado: João Lima +55 11 91234-5678",
     {"contact": {"name": "João Lima", "phones": ["+55 11 91234-5678"]}}),
    ({"type": "reaction", "reaction": {"message_id": "wamid.OUT9", "emoji": "👍"}},
     "Reagiu com 👍 a uma mensagem.",
     {"reaction": {"message_id": "wamid.OUT9", "emoji": "👍"},
      "reply_to": {"external_id": "wamid.OUT9", "message_id": None}}),
    ({"type": "interactive", "interactive": {"type": "button_reply",
                                             "button_reply": {"id": "sim", "title": "Sim"}}},
     "Resposta escolhida: Sim",
     {"interactive": {"type": "button_reply", "id": "sim", "title": "Sim",
                      "description": None}}),
    ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {
        "id": "p2", "title": "Plano Pro", "description": "R$ 99"}}},
     "Resposta escolhida: Plano Pro",
     {"interactive": {"type": "list_reply", "id": "p2", "title": "Plano Pro",
                      "description": "R$ 99"}}),
    ({"type": "button", "button": {"text": "Quero falar", "payload": "FALAR"}},
     "Resposta escolhida: Quero falar",
     {"interactive": {"type": "button", "id": "FALAR", "title": "Quero falar"}}),
    ({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
     "[Mensagem do tipo unsupported não suportada pelo Atende]", None),
    ({"type": "poll_v9", "poll_v9": {"question": "?"}},
     "[Mensagem do tipo poll_v9 não suportada pelo Atende]", None),
], ids=["location", "contacts", "reaction", "button_reply", "list_reply", "button",
        "unsupported", "unknown"])
def test_CHN2_every_message_type_becomes_readable_text_and_extra(app, client, wa, message,
                                                                  text, extra):
    receive(client, wa, {"id": "wamid.T", **message})
    [stored] = incoming_messages(app)
    assert (stored.text, stored.extra) == (text, extra)


def test_CHN2_text_over_the_inbox_limit_is_cut_never_lost(app, client, wa):
    receive(client, wa, text_message("a" * 5000))
    [stored] = incoming_messages(app)
    assert stored.text == "a" * 4096


# --- MSG-1: receipts -----------------------------------------------------------------------------


def open_conversation(client, wa):
    receive(client, wa, text_message("Oi", "wamid.HELLO"))


def test_MSG1_statuses_only_move_forward(app, client, wa, httpserver):
    """delivered then read; and a "delivered" that arrives after "read" (Meta does not
    promise the order) leaves the message read."""
    open_conversation(client, wa)
    for wamid in ("wamid.OUT1", "wamid.OUT2"):
        httpserver.expect_oneshot_request(messages_uri(), method="POST").respond_with_json(
            sent_reply(wamid))
    first = agent_sends(app, wa, "Posso ajudar?")
    second = agent_sends(app, wa, "Mais alguma coisa?")
    assert [stored_message(app, i).status for i in (first, second)] == [SENT, SENT]
    hook(client, wa, webhook(status_value("wamid.OUT1", "delivered")))
    assert stored_message(app, first).status == DELIVERED
    for wamid, status in (("wamid.OUT1", "read"), ("wamid.OUT2", "read"),
                          ("wamid.OUT2", "delivered")):
        assert hook(client, wa, webhook(status_value(wamid, status))).status_code == 200
    for message_id in (first, second):
        found = stored_message(app, message_id)
        assert found.status == READ and found.read_at is not None


def test_CHN2_odd_shapes_in_a_signed_body_never_crash(app, client, wa):
    value = {"metadata": ["?"], "contacts": ["x", {"profile": "y", "wa_id": WA_ID}],
             "messages": [{"from": WA_ID, "id": "wamid.ODD", "type": "interactive",
                           "interactive": "botão", "context": "z"}, "lixo"],
             "statuses": ["lixo"]}
    raw = json.dumps({"object": "whatsapp_business_account",
                      "entry": [{"changes": [{"field": "messages", "value": value}, "x"]},
                                "y"]}).encode()
    assert hook(client, wa, raw).status_code == 200
    assert [m.text for m in incoming_messages(app)] == [
        "[Mensagem do tipo interactive não suportada pelo Atende]"]


def test_MSG1_failed_status_fails_the_message_with_the_portuguese_reason(app, client, wa,
                                                                        httpserver):
    open_conversation(client, wa)
    httpserver.expect_oneshot_request(messages_uri(), method="POST").respond_with_json(
        sent_reply("wamid.OUT2"))
    message_id = agent_sends(app, wa, "Vai falhar depois")
    errors = [{"code": 131047, "title": "Re-engagement message",
               "message": "Re-engagement message",
               "error_data": {"details": "More than 24 hours have passed."}}]
    hook(client, wa, webhook(status_value("wamid.OUT2", "failed", errors)))
    found = stored_message(app, message_id)
    assert found.status == FAILED
    assert found.error == f"{OUTSIDE_WINDOW} (código 131047: Re-engagement message)"
    with app.app_context():
        assert db.session.get(Ticket, found.ticket_id).has_failed


# --- CHN-3: sending ------------------------------------------------------------------------------


def test_CHN3_text_is_sent_in_the_cloud_api_shape_with_the_token(app, client, wa, httpserver):
    open_conversation(client, wa)
    httpserver.expect_oneshot_request(messages_uri(), method="POST", headers=AUTH,
                                      json=text_request("Olá! Como posso ajudar?")) \
        .respond_with_json(sent_reply("wamid.OUT3"))
    message_id = agent_sends(app, wa, "Olá! Como posso ajudar?")
    httpserver.check_assertions()
    found = stored_message(app, message_id)
    assert (found.status, found.external_id) == (SENT, "wamid.OUT3")


@pytest.mark.parametrize("data,name,mime,kind", [
    (PNG, "foto.png", "image/png", "image"),
    (PDF, "boleto.pdf", "application/pdf", "document"),
])
def test_CHN3_a_file_is_uploaded_then_sent_by_id_with_its_caption(app, client, wa, httpserver,
                                                                  data, name, mime, kind):
    open_conversation(client, wa)
    uploads = []

    def media(request):
        file = request.files["file"]
        uploads.append((dict(request.form), file.filename, file.mimetype, file.read(),
                        request.headers.get("Authorization")))
        return Response(json.dumps({"id": "media-77"}), content_type="application/json")

    httpserver.expect_oneshot_request(f"{API}/{PNID}/media", method="POST") \
        .respond_with_handler(media)
    expected = {"id": "media-77", "caption": "Segue o arquivo"}
    if kind == "document":
        expected["filename"] = name
    httpserver.expect_oneshot_request(
        messages_uri(), method="POST", headers=AUTH,
        json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
              "type": kind, kind: expected}).respond_with_json(sent_reply("wamid.OUT4"))
    message_id = agent_sends(app, wa, "Segue o arquivo", upload=Upload(data, name, mime))
    httpserver.check_assertions()
    assert uploads == [({"messaging_product": "whatsapp", "type": mime}, name, mime, data,
                        f"Bearer {TOKEN}")]
    assert stored_message(app, message_id).external_id == "wamid.OUT4"


def test_CHN3_audio_has_no_caption_so_its_text_follows_as_a_message(app, client, wa,
                                                                     httpserver):
    open_conversation(client, wa)
    mp3 = b"ID3" + b"\x00" * 60
    httpserver.expect_oneshot_request(f"{API}/{PNID}/media", method="POST", headers=AUTH) \
        .respond_with_json({"id": "media-88"})
    audio = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
             "type": "audio", "audio": {"id": "media-88"}}
    httpserver.expect_oneshot_request(messages_uri(), method="POST", json=audio) \
        .respond_with_json(sent_reply("wamid.AUD"))
    httpserver.expect_oneshot_request(messages_uri(), method="POST",
                                      json=text_request("Ouça o recado")) \
        .respond_with_json(sent_reply("wamid.TXT"))
    message_id = agent_sends(app, wa, "Ouça o recado",
                             upload=Upload(mp3, "recado.mp3", "audio/mpeg"))
    httpserver.check_assertions()
    sent = [json.loads(r.get_data()) for r, _ in httpserver.log if r.path == messages_uri()]
    assert sent == [audio, text_request("Ouça o recado")]  # the file first, then its text
    assert stored_message(app, message_id).external_id == "wamid.AUD"


def test_CHN4_template_is_sent_outside_the_window(app, client, wa, httpserver):
    open_conversation(client, wa)
    with app.app_context():  # the customer wrote two days ago: free text is refused
        address = db.session.scalar(select(ContactAddress))
        address.last_inbound_at = utcnow() - timedelta(days=2)
        template = ProviderTemplate(company_id=wa.company_id, connection_id=wa.connection_id,
                                    name="pedido_enviado", language="pt_BR", status="APPROVED",
                                    category="UTILITY", body="Olá {{1}}, seu pedido {{2}} saiu.",
                                    variables=2, components=[])
        db.session.add(template)
        after_commit.commit()
        text, extra = provider_templates.render(template, ["Maria", "#123"])
    with pytest.raises(RuleError):
        agent_sends(app, wa, "texto livre")
    httpserver.expect_oneshot_request(
        messages_uri(), method="POST", headers=AUTH,
        json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
              "type": "template", "template": {
                  "name": "pedido_enviado", "language": {"code": "pt_BR"},
                  "components": [{"type": "body", "parameters": [
                      {"type": "text", "text": "Maria"}, {"type": "text", "text": "#123"}]}]}}) \
        .respond_with_json(sent_reply("wamid.OUT5"))
    message_id = agent_sends(app, wa, text, extra=extra, template=True)
    httpserver.check_assertions()
    found = stored_message(app, message_id)
    assert (found.text, found.status) == ("Olá Maria, seu pedido #123 saiu.", SENT)


def test_CHN3_provider_refusal_fails_the_message_with_the_reason(app, client, wa, httpserver):
    open_conversation(client, wa)
    httpserver.expect_oneshot_request(messages_uri(), method="POST").respond_with_json(
        *graph_error(131047, "Re-engagement message", "More than 24 hours have passed"))
    message_id = agent_sends(app, wa, "Oi de novo")
    found = stored_message(app, message_id)
    assert found.status == FAILED
    assert found.error == f"{OUTSIDE_WINDOW} (código 131047: More than 24 hours have passed)"


@pytest.mark.parametrize("answer", [
    ({"error": {"message": "Internal", "code": 1}}, 500),
    ({"error": {"message": "Too many requests"}}, 429),
    graph_error(130429, "Rate limit hit", "Cloud API message throughput has been reached."),
], ids=["500", "429", "130429"])
def test_CHN3_5xx_and_rate_limits_are_retried(app, client, wa, httpserver, answer):
    open_conversation(client, wa)
    httpserver.expect_oneshot_request(messages_uri(), method="POST").respond_with_json(*answer)
    message_id = agent_sends(app, wa, "Tentativa")
    found = stored_message(app, message_id)
    assert (found.status, found.attempts) == (QUEUED, 1)
    assert found.next_attempt_at is not None and found.error


def test_CHN3_a_retry_after_from_the_provider_is_passed_on(app):
    with app.app_context(), pytest.raises(SendError) as retried:
        WhatsAppAdapter._raise_for(Reply(429, {}, {"Retry-After": "30"}))
    assert retried.value.retry_after == 30.0
    assert not isinstance(retried.value, PermanentSendError)


def test_CHN3_a_token_refused_is_a_permanent_failure_saying_what_to_do(app, client, wa,
                                                                       httpserver):
    open_conversation(client, wa)
    httpserver.expect_oneshot_request(messages_uri(), method="POST").respond_with_json(
        *graph_error(190, "Error validating access token", status=401))
    found = stored_message(app, agent_sends(app, wa, "Oi"))
    assert found.status == FAILED and found.error.startswith(
        "O token de acesso do WhatsApp é inválido ou expirou")


# --- CHN-1: configuration and "testar conexão" ----------------------------------------------------


def test_CHN1_ids_must_be_digits_they_go_in_the_api_paths(app):
    with app.app_context():
        conn = Connection(name="W", kind="whatsapp",
                          settings={"phone_number_id": "../me", "waba_id": WABA},
                          credentials=CONFIG["credentials"])
        with pytest.raises(RuleError) as refused:
            adapter_for(conn).validate_config(conn)
        assert str(refused.value) == ("ID do número de telefone (Phone number ID) deve ter "
                                      "apenas números.")


def test_CHN1_test_connection_reports_the_number_or_what_is_wrong(app, wa, httpserver):
    uri, query = f"{API}/{PNID}", {"fields": "display_phone_number,verified_name"}
    httpserver.expect_oneshot_request(uri, query_string=query, headers=AUTH).respond_with_json(
        {"display_phone_number": "55 11 4000-0000", "verified_name": "Loja Exemplo",
         "id": PNID})
    httpserver.expect_oneshot_request(uri, query_string=query).respond_with_json(
        *graph_error(190, "Error validating access token", status=401))
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, wa.connection_id))
        assert adapter.test_connection() == "Conectado ao número +55 11 4000-0000 (Loja Exemplo)."
        with pytest.raises(RuleError) as refused:
            adapter.test_connection()
        assert str(refused.value).startswith("O token de acesso é inválido ou expirou.")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            app.config["WHATSAPP_API_URL"] = f"http://127.0.0.1:{s.getsockname()[1]}/v21.0"
        with pytest.raises(RuleError) as refused:
            adapter.test_connection()
        assert str(refused.value).startswith("O WhatsApp não respondeu.")


# --- TPL-3: templates ----------------------------------------------------------------------------


def template_item(name, body, status="APPROVED", language="pt_BR"):
    return {"name": name, "language": language, "status": status, "category": "UTILITY",
            "id": f"id-{name}", "components": [{"type": "HEADER", "format": "TEXT",
                                                "text": "Aviso"},
                                               {"type": "BODY", "text": body}]}


def test_TPL3_templates_sync_every_page_and_drop_the_gone(app, wa, httpserver):
    uri = f"{API}/{WABA}/message_templates"
    first_query = {"fields": "name,language,status,category,components", "limit": "100"}
    next_url = httpserver.url_for(uri) + \
        "?fields=name,language,status,category,components&limit=100&after=CUR2"
    httpserver.expect_oneshot_request(uri, query_string=first_query, headers=AUTH) \
        .respond_with_json({"data": [template_item("boas_vindas", "Olá {{1}}! {{1}}, bem-vindo."),
                                     template_item("pedido", "Pedido {{1}} em {{2}}.")],
                            "paging": {"cursors": {"after": "CUR2"}, "next": next_url}})
    httpserver.expect_oneshot_request(uri, query_string={**first_query, "after": "CUR2"},
                                      headers=AUTH) \
        .respond_with_json({"data": [template_item("promo", "Oferta", status="REJECTED")],
                            "paging": {"cursors": {"before": "CUR2"}}})
    with app.app_context():
        connection = db.session.get(Connection, wa.connection_id)
        db.session.add(ProviderTemplate(company_id=wa.company_id, connection_id=connection.id,
                                        name="antigo", language="pt_BR", status="APPROVED",
                                        variables=0, components=[]))
        after_commit.commit()
        assert provider_templates.sync(connection) == 3
        after_commit.commit()
        httpserver.check_assertions()
        rows = {t.name: t for t in db.session.scalars(select(ProviderTemplate))}
        assert sorted(rows) == ["boas_vindas", "pedido", "promo"]
        assert (rows["boas_vindas"].variables, rows["pedido"].variables) == (1, 2)
        assert rows["pedido"].body == "Pedido {{1}} em {{2}}."
        assert [t.name for t in provider_templates.approved(connection)] == ["boas_vindas",
                                                                              "pedido"]


@pytest.mark.parametrize("answer", [graph_error(100, "Invalid parameter", "Unknown WABA"),
                                    ({"result": "cortado"}, 200)], ids=["error", "odd"])
def test_TPL3_sync_refusal_is_explained_and_keeps_the_rows(app, wa, httpserver, answer):
    httpserver.expect_oneshot_request(f"{API}/{WABA}/message_templates") \
        .respond_with_json(*answer)
    with app.app_context():
        db.session.add(ProviderTemplate(company_id=wa.company_id, connection_id=wa.connection_id,
                                        name="antigo", language="pt_BR", status="APPROVED",
                                        variables=0, components=[]))
        after_commit.commit()
        with pytest.raises(RuleError) as refused:
            provider_templates.sync(db.session.get(Connection, wa.connection_id))
        db.session.rollback()
        assert row_count(ProviderTemplate) == 1
    assert str(refused.value).startswith("Não foi possível sincronizar os modelos:")


def test_TPL3_render_fills_the_body_and_refuses_blank_or_long_values(app):
    template = ProviderTemplate(name="pedido", language="pt_BR", status="APPROVED",
                                body="Pedido {{1}} em {{2}}.", variables=2, components=[])
    text, extra = provider_templates.render(template, [" #9 ", "rota\nde entrega"])
    assert text == "Pedido #9 em rota de entrega."
    assert extra == {"template": {"name": "pedido", "language": "pt_BR", "components": [
        {"type": "body", "parameters": [{"type": "text", "text": "#9"},
                                        {"type": "text", "text": "rota de entrega"}]}]}}
    with app.app_context():
        with pytest.raises(RuleError) as blank:
            provider_templates.render(template, ["#9", "  "])
        assert str(blank.value) == "Preencha a variável {{2}} do modelo pedido."
        with pytest.raises(RuleError) as long:
            provider_templates.render(template, ["#9", "x" * 1025])
        assert str(long.value) == ("A variável {{2}} do modelo pedido pode ter no máximo 1024 "
                                   "caracteres.")


@pytest.mark.parametrize("body,components", [
    ("Olá {{nome}}", []),
    ("Olá", [{"type": "HEADER", "format": "IMAGE", "example": {}}]),
    ("Olá", [{"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"}]),
    ("Olá", [{"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Ver",
                                              "url": "https://loja.example/p/{{1}}"}]}]),
], ids=["named", "header_image", "header_variable", "button_variable"])
def test_TPL3_render_refuses_a_template_it_cannot_fill(app, body, components):
    template = ProviderTemplate(name="promo", language="pt_BR", status="APPROVED", body=body,
                                variables=0, components=components)
    with app.app_context(), pytest.raises(RuleError) as refused:
        provider_templates.render(template, [])
    assert str(refused.value).startswith("O modelo promo pede arquivo ou variáveis")


# --- the contract's case (tests/test_channel_contract.py) -----------------------------------------


def _contract_connection() -> Connection:
    return Connection(name="Canal", kind="whatsapp", **CONFIG)


def _signed_request(raw: bytes, headers: dict) -> dict:
    return {"method": "POST", "data": raw, "headers": headers}


def _good_inbound():
    raw, headers = WhatsAppAdapter(_contract_connection()).simulated(
        "551187654321", " Olá ", name="Ana Paula", external_id="wamid.C1")
    return [(_signed_request(raw, headers),
             {"address": "551187654321", "name": "Ana Paula", "text": "Olá",
              "phone": "+551187654321", "external_id": "wamid.C1", "attachments": ()})]


def _bad_inbound():
    good = webhook(message_value(text_message()))
    return {
        "bad_signature": _signed_request(good, sign(good, "outro")),
        "missing_signature": _signed_request(good, {"Content-Type": "application/json"}),
        "broken_json": _signed_request(b"{oops", sign(b"{oops")),
        "not_whatsapp": _signed_request(b'{"object": "page"}', sign(b'{"object": "page"}')),
    }


def _deliver(app, request) -> None:
    """The fake Graph API gets the text with the token; its wamid comes back."""
    httpserver = request.getfixturevalue("httpserver")
    app.config["WHATSAPP_API_URL"] = httpserver.url_for(API)
    httpserver.expect_oneshot_request(messages_uri(), method="POST", headers=AUTH,
                                      json=text_request("Resposta do atendente")) \
        .respond_with_json(sent_reply("wamid.C2"))
    with app.app_context():
        company, _admin = gen_company("Empresa C", "admin-c@example.com", gen_plan("Plano C"))
        connection = gen_connection(company, "WhatsApp", kind="whatsapp", **CONFIG)
        first = tickets.receive_inbound(connection, Inbound(address=WA_ID, text="Oi",
                                                            phone="+" + WA_ID))
        message = Message(company_id=company.id, ticket_id=first.ticket_id, direction=OUT,
                          author_kind=AUTHOR_SYSTEM, text="Resposta do atendente",
                          status=SENDING, created_at=utcnow())
        db.session.add(message)
        db.session.flush()
        assert adapter_for(connection).send(message) == "wamid.C2"
        after_commit.commit()
    httpserver.check_assertions()


CONTRACT_CASE = {
    "good_config": CONFIG,
    "bad_config": [
        ({"settings": {"waba_id": WABA}},
         "Informe ID do número de telefone (Phone number ID)."),
        ({"settings": {"phone_number_id": "12a", "waba_id": WABA}},
         "ID do número de telefone (Phone number ID) deve ter apenas números."),
        ({"settings": {"phone_number_id": PNID}},
         "Informe ID da conta do WhatsApp Business (WABA ID)."),
        ({"settings": {"phone_number_id": PNID, "waba_id": "1" * 41}},
         "ID da conta do WhatsApp Business (WABA ID) pode ter no máximo 40 caracteres."),
        ({"credentials": json.dumps({"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN})},
         "Informe Token de acesso."),
        ({"credentials": json.dumps({"access_token": TOKEN, "verify_token": VERIFY_TOKEN})},
         "Informe Chave secreta do aplicativo (App Secret)."),
        ({"credentials": json.dumps({"access_token": TOKEN, "app_secret": APP_SECRET})},
         "Informe Token de verificação do webhook."),
    ],
    "good_inbound": _good_inbound(),
    "bad_inbound": _bad_inbound(),
    "deliver": _deliver,
}


@pytest.mark.parametrize("label", sorted(CONTRACT_CASE["bad_inbound"]))
def test_CHN2_contract_bad_inbound_is_refused(app, label):
    with app.test_request_context("/", **CONTRACT_CASE["bad_inbound"][label]):
        from flask import request

        with pytest.raises(InboundError):
            adapter_for(_contract_connection()).parse_inbound(request)


def test_CHN2_contract_good_inbound_and_deliver(app, request):
    [(kwargs, expected)] = CONTRACT_CASE["good_inbound"]
    with app.test_request_context("/", **kwargs):
        from flask import request as current

        [found] = adapter_for(_contract_connection()).parse_inbound(current)
    assert {name: getattr(found, name) for name in expected} == expected
    CONTRACT_CASE["deliver"](app, request)


@pytest.mark.parametrize("index", range(len(CONTRACT_CASE["bad_config"])))
def test_CHN1_contract_bad_config_is_refused_in_portuguese(app, index):
    fields, expected = CONTRACT_CASE["bad_config"][index]
    with app.app_context():
        conn = Connection(name="Canal", kind="whatsapp", **{**CONFIG, **fields})
        with pytest.raises(RuleError) as refused:
            adapter_for(conn).validate_config(conn)
        assert str(refused.value) == expected
        good = _contract_connection()
        adapter_for(good).validate_config(good)
