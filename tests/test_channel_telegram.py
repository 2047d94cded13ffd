"""Issue 12, Telegram Bot API channel (CHN-1, CHN-2, CHN-3, CHN-4, MSG-1): updates posted
to /hooks/telegram/<key> with the secret token reach the inbox (media downloaded through
getFile), and agents' messages go out through sendMessage / sendPhoto with Telegram's
errors told in Portuguese. The provider is a local fake (pytest-httpserver) in the shapes
of the Bot API documentation.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from backoffice.channels import InboundError, adapter_for
from backoffice.channels.telegram import SECRET_HEADER, TelegramAdapter
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import ChannelEvent, Connection, ContactAddress, Message, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import EVENT_DONE, EVENT_PENDING
from backoffice.models.tickets import FAILED, IN, QUEUED, SENDING, SENT, AUTHOR_SYSTEM, OUT
from backoffice.services import RuleError, channel_events, sending, tickets
from backoffice.services.templates import Upload
from tests.conftest import client_as
from tests.factories import (
    PDF, PNG, gen_company, gen_connection, incoming_messages, row_count, stored_message,
)

TOKEN = "123456789:" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"[:34]
SECRET = "segredo_do-webhook_123"
CHAT = 4242
CREDENTIALS = json.dumps({"bot_token": TOKEN, "secret_token": SECRET})
HEADERS = {SECRET_HEADER: SECRET}

_updates = iter(range(900_000, 999_999))


def update(body: dict | None = None, update_id: int | None = None, chat: int = CHAT,
           key: str = "message", **fields) -> dict:
    """An update as the Bot API posts it: a private-chat message from Ana Souza."""
    update_id = update_id or next(_updates)
    message = {"message_id": update_id % 10_000,
               "from": {"id": chat, "is_bot": False, "first_name": "Ana",
                        "last_name": "Souza", "username": "anasouza"},
               "chat": {"id": chat, "type": "private", "first_name": "Ana"},
               "date": 1_765_000_000, **(body if body is not None else {"text": "Olá"}),
               **fields}
    return {"update_id": update_id, key: message}


def photo_sizes(file_id: str = "big") -> list[dict]:
    return [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90,
             "file_size": 100},
            {"file_id": file_id, "file_unique_id": "b", "width": 800, "height": 800,
             "file_size": len(PNG)}]


# --- what the contract tests get (tests/test_channel_contract.py) --------------------------


def _request(body, secret: str | None = SECRET, raw: bytes | None = None) -> dict:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return {"method": "POST", "headers": headers, "content_type": "application/json",
            "data": raw if raw is not None else json.dumps(body)}


def _simulated(text: str, external_id: str) -> dict:
    adapter = TelegramAdapter(Connection(kind="telegram", credentials=CREDENTIALS))
    raw, headers = adapter.simulated(str(CHAT), text, "Ana Souza", external_id)
    return {"method": "POST", "headers": headers, "data": raw}


def _deliver_telegram(app, request) -> None:
    """sendMessage gets the chat and the text; the provider id comes back."""
    httpserver = request.getfixturevalue("httpserver")
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/")
    httpserver.expect_oneshot_request(
        f"/bot{TOKEN}/sendMessage", method="POST",
        json={"chat_id": CHAT, "text": "Resposta do atendente"},
    ).respond_with_json({"ok": True, "result": {"message_id": 77, "chat": {"id": CHAT}}})
    with app.app_context():
        company, _admin = gen_company("Empresa contrato", "admin-contrato@example.com")
        connection = gen_connection(company, kind="telegram", credentials=CREDENTIALS)
        first = tickets.receive_inbound(connection, adapter_for(connection).inbound(update()))
        message = Message(company_id=company.id, ticket_id=first.ticket_id, direction=OUT,
                          author_kind=AUTHOR_SYSTEM, text="Resposta do atendente",
                          status=SENDING, created_at=utcnow())
        db.session.add(message)
        db.session.flush()
        assert adapter_for(connection).send(message) == f"{CHAT}:77"
        db.session.rollback()
    httpserver.check_assertions()


CONTRACT_CASE = {
    "good_config": {"settings": {}, "credentials": CREDENTIALS},
    "bad_config": [
        ({"credentials": json.dumps({"secret_token": SECRET})}, "Informe Token do bot."),
        ({"credentials": json.dumps({"bot_token": "123456:curto", "secret_token": SECRET})},
         "O token do bot não parece um token do Telegram: ele tem o formato "
         "123456789:AAE... (copie-o inteiro do @BotFather)."),
        ({"credentials": json.dumps({"bot_token": TOKEN, "secret_token": "com espaço"})},
         "O token secreto do webhook só pode ter letras sem acento, números, _ e -, até 256 "
         "caracteres."),
        ({"credentials": json.dumps({"bot_token": TOKEN, "secret_token": "s" * 257})},
         "Token secreto do webhook pode ter no máximo 256 caracteres."),
    ],
    "good_inbound": [
        (_simulated("Olá, preciso de ajuda", "1001"),
         {"address": str(CHAT), "name": "Ana Souza", "text": "Olá, preciso de ajuda",
          "external_id": f"{CHAT}:1001", "attachments": ()}),
        (_request(update({"location": {"latitude": -23.55, "longitude": -46.63}},
                         update_id=1002)),
         {"address": str(CHAT), "text": "Localização: -23.55, -46.63",
          "extra": {"location": {"latitude": -23.55, "longitude": -46.63}}}),
    ],
    "bad_inbound": {
        "wrong_secret": _request(update(), secret="outro"),
        "missing_secret": _request(update(), secret=None),
        "broken_json": _request(None, raw=b"{oops"),
        "not_an_update": _request([1, 2]),
        "message_without_chat": _request({"update_id": 5, "message": {"message_id": 1,
                                                                       "text": "oi"}}),
    },
    "deliver": _deliver_telegram,
}


# --- the world of these tests -------------------------------------------------------------


@pytest.fixture
def tg(app, httpserver):
    """A company with a Telegram connection whose Bot API is the local fake."""
    app.config["TELEGRAM_API_URL"] = httpserver.url_for("/")
    with app.app_context():
        company, admin = gen_company("Empresa Telegram", "admin-tg@example.com")
        connection = gen_connection(company, kind="telegram", credentials=CREDENTIALS)
        db.session.commit()
        world = type("World", (), {"company_id": company.id, "admin": admin.email,
                                   "connection_id": connection.id,
                                   "key": connection.public_key})
    return world


def post_update(app, world, body, headers=HEADERS, raw: bytes | None = None):
    return app.test_client().post(f"/hooks/telegram/{world.key}",
                                  data=raw if raw is not None else json.dumps(body),
                                  headers=headers, content_type="application/json")


def serve_file(httpserver, file_id: str, path: str, data: bytes) -> None:
    httpserver.expect_request(f"/bot{TOKEN}/getFile", method="POST",
                              json={"file_id": file_id}).respond_with_json(
        {"ok": True, "result": {"file_id": file_id, "file_unique_id": "u",
                                "file_size": len(data), "file_path": path}})
    httpserver.expect_request(f"/file/bot{TOKEN}/{path}", method="GET").respond_with_data(
        data, content_type="application/octet-stream")


# --- receiving (CHN-2) ----------------------------------------------------------------------


def test_CHN_2_signed_text_update_reaches_the_inbox(app, tg):
    r = post_update(app, tg, update({"text": "Meu pedido não chegou"}, update_id=500))
    assert r.status_code == 200 and r.get_json() == {"received": 1, "stored": 1}
    with app.app_context():
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == tg.connection_id))
        assert address.address == str(CHAT) and address.contact.name == "Ana Souza"
        assert address.last_inbound_at is not None  # CHN-4: the window is open
        ticket = db.session.scalar(select(Ticket))
        assert ticket.contact_id == address.contact_id
        assert db.session.scalar(select(ChannelEvent.status)) == EVENT_DONE
        ticket_id = ticket.id
    admin = client_as(app, tg.admin)
    r = admin.get(f"/inbox/api/tickets/{ticket_id}/messages")
    assert r.status_code == 200
    assert [(m["direction"], m["text"]) for m in r.get_json()["messages"]] == [
        (IN, "Meu pedido não chegou")]


def test_CHN_2_photo_is_downloaded_and_attached_with_its_caption(app, tg, httpserver):
    serve_file(httpserver, "big", "photos/file_7.png", PNG)
    r = post_update(app, tg, update({"photo": photo_sizes(), "caption": "A caixa chegou assim"}))
    assert r.status_code == 200
    [message] = incoming_messages(app)
    assert message.text == "A caixa chegou assim"
    assert (message.file_name, message.file_mime, message.file_size) == (
        "file_7.png", "image/png", len(PNG))
    # the largest size was asked for, never the thumbnail
    asked = [json.loads(req.data)["file_id"] for req, _resp in httpserver.log
             if req.path.endswith("/getFile")]
    assert asked == ["big"]


def test_CHN_2_document_keeps_its_file_name(app, tg, httpserver):
    serve_file(httpserver, "doc-1", "documents/file_3.pdf", PDF)
    post_update(app, tg, update({"document": {"file_id": "doc-1", "file_unique_id": "d",
                                              "file_name": "nota fiscal.pdf",
                                              "mime_type": "application/pdf",
                                              "file_size": len(PDF)}}))
    [message] = incoming_messages(app)
    assert (message.file_name, message.file_mime) == ("nota fiscal.pdf", "application/pdf")
    assert message.text is None


def test_CHN_2_media_telegram_will_not_give_becomes_a_placeholder_with_the_caption(
        app, tg, httpserver):
    httpserver.expect_request(f"/bot{TOKEN}/getFile", method="POST").respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: file is too big"},
        status=400)
    post_update(app, tg, update({"photo": photo_sizes(), "caption": "olha isso"}))
    [message] = incoming_messages(app)
    assert message.text == "[Imagem: arquivo não recebido — o provedor não entregou o arquivo]\nolha isso"
    assert message.file_key is None


def test_CHN_2_media_5xx_is_retried_later_and_nothing_is_lost(app, tg, httpserver):
    """The file server fails: the item stays pending with a next attempt; once the file
    can be read, processing it again stores the message with its file."""
    httpserver.expect_request(f"/bot{TOKEN}/getFile", method="POST").respond_with_json(
        {"ok": True, "result": {"file_id": "big", "file_path": "photos/file_9.png"}})
    httpserver.expect_oneshot_request(f"/file/bot{TOKEN}/photos/file_9.png").respond_with_data(
        "erro", status=502)
    r = post_update(app, tg, update({"photo": photo_sizes(), "caption": "segue"}))
    assert r.status_code == 200
    assert incoming_messages(app) == []
    with app.app_context():
        event = db.session.scalar(select(ChannelEvent))
        assert (event.status, event.attempts) == (EVENT_PENDING, 1)
        assert event.next_attempt_at > utcnow()
        event_id = event.id
    httpserver.expect_request(f"/file/bot{TOKEN}/photos/file_9.png").respond_with_data(PNG)
    with app.app_context():
        assert channel_events.process(event_id) == "done"
    [message] = incoming_messages(app)
    assert (message.text, message.file_name) == ("segue", "file_9.png")


def test_CHN_2_voice_note_is_kept_as_ogg_audio(app, tg, httpserver):
    ogg = b"OggS" + b"\x00" * 60
    serve_file(httpserver, "voz-1", "voice/file_4.oga", ogg)
    post_update(app, tg, update({"voice": {"file_id": "voz-1", "file_unique_id": "v",
                                           "duration": 3, "mime_type": "audio/ogg",
                                           "file_size": len(ogg)}}))
    [message] = incoming_messages(app)
    assert (message.file_name, message.file_mime, message.text) == (
        "file_4.oga", "audio/ogg", None)


def test_CHN_2_media_over_the_inbox_limit_or_of_a_refused_type_becomes_a_placeholder(
        app, tg, httpserver):
    """Over MESSAGE_MAX_BYTES nothing is downloaded; an animated sticker (.tgs) is not a
    type the inbox keeps. Either way the agent sees why."""
    app.config["MESSAGE_MAX_BYTES"] = 1024
    post_update(app, tg, update({"video": {"file_id": "v-1", "file_unique_id": "v",
                                           "mime_type": "video/mp4", "file_size": 5000}}))
    serve_file(httpserver, "stk-1", "stickers/file_2.tgs", b"\x1f\x8b" + b"x" * 40)
    post_update(app, tg, update({"sticker": {"file_id": "stk-1", "file_unique_id": "s",
                                             "type": "regular", "is_animated": True,
                                             "width": 512, "height": 512}}))
    found = [m.text for m in incoming_messages(app)]
    assert found[0] == "[Vídeo: arquivo não recebido — o arquivo passa do limite de 1 KB]"
    assert found[1].startswith("[Figurinha: arquivo não recebido — Tipo de arquivo não permitido: "
                               "file_2.tgs.")
    assert [req.path for req, _resp in httpserver.log if "v-1" in req.get_data(as_text=True)] == []


@pytest.mark.parametrize("headers", [{SECRET_HEADER: "outro-segredo"}, {}],
                         ids=["wrong", "missing"])
def test_CHN_2_wrong_or_missing_secret_is_403_and_nothing_is_stored(app, tg, headers):
    r = post_update(app, tg, update(), headers=headers)
    assert r.status_code == 403
    assert r.get_json() == {"error": "Assinatura inválida."}
    with app.app_context():
        assert (row_count(ChannelEvent), row_count(Message), row_count(ContactAddress)) == (0, 0, 0)


def test_CHN_2_replayed_update_stores_nothing_new(app, tg):
    body = update({"text": "uma vez só"})
    assert post_update(app, tg, body).get_json() == {"received": 1, "stored": 1}
    assert post_update(app, tg, body).get_json() == {"received": 1, "stored": 0}
    assert [m.text for m in incoming_messages(app)] == ["uma vez só"]


def test_CHN_2_malformed_json_is_400(app, tg):
    r = post_update(app, tg, None, raw=b'{"update_id": 1, "message": ')
    assert r.status_code == 400
    assert r.get_json() == {"error": "Requisição inválida: o corpo não é JSON."}
    with app.app_context():
        assert row_count(ChannelEvent) == 0


def test_CHN_2_unknown_type_becomes_a_visible_placeholder(app, tg):
    post_update(app, tg, update({"poll": {"id": "p1", "question": "Sim?", "options": []}}))
    assert [m.text for m in incoming_messages(app)] == [
        "[Mensagem do tipo poll não suportada pelo Atende]"]


def test_CHN_2_same_message_id_in_two_chats_is_two_messages(app, tg):
    """Telegram numbers messages per chat: message 5 of one customer must not be taken
    for a redelivery of another customer's message 5."""
    post_update(app, tg, update({"text": "da Ana"}, message_id=5))
    post_update(app, tg, update({"text": "do Bruno"}, chat=777, message_id=5))
    assert [(m.text, m.external_id) for m in incoming_messages(app)] == [
        ("da Ana", f"{CHAT}:5"), ("do Bruno", "777:5")]


def test_CHN_2_edit_button_location_contact_and_quote_are_readable(app, tg):
    """An edit is a new message saying so; a button press shows the button's text; a
    location and a contact card become text and extra; a quote points at the message."""
    post_update(app, tg, update({"text": "Quero 2 caixas"}, message_id=10))
    post_update(app, tg, update({"text": "Quero 3 caixas", "edit_date": 1_765_000_100},
                                key="edited_message", message_id=10))
    post_update(app, tg, {"update_id": next(_updates), "callback_query": {
        "id": "cb-1", "from": {"id": CHAT, "first_name": "Ana"}, "data": "opt_sim",
        "message": {"message_id": 11, "chat": {"id": CHAT, "type": "private"},
                    "reply_markup": {"inline_keyboard": [[
                        {"text": "Sim, confirmo", "callback_data": "opt_sim"},
                        {"text": "Não", "callback_data": "opt_nao"}]]}}}})
    post_update(app, tg, update({"contact": {"phone_number": "+5511987654321",
                                             "first_name": "Bruno", "last_name": "Lima"}}))
    post_update(app, tg, update({"text": "isso aí"},
                                reply_to_message={"message_id": 10, "text": "Quero 2 caixas",
                                                  "chat": {"id": CHAT}}))
    found = incoming_messages(app)
    assert [m.text for m in found] == [
        "Quero 2 caixas", "(editada) Quero 3 caixas", "Botão: Sim, confirmo",
        "Contato: Bruno Lima +5511987654321", "isso aí"]
    assert found[2].extra["interactive"] == {"type": "callback_query", "id": "opt_sim",
                                             "title": "Sim, confirmo"}
    assert found[3].extra["contact"] == {"name": "Bruno Lima", "phone": "+5511987654321"}
    assert found[4].extra["reply_to"] == {"external_id": f"{CHAT}:10",
                                          "message_id": found[0].id}


def button_press(query_id: str) -> dict:
    return {"update_id": next(_updates), "callback_query": {
        "id": query_id, "from": {"id": CHAT, "first_name": "Ana"}, "data": "opt_sim",
        "message": {"message_id": 12, "chat": {"id": CHAT, "type": "private"},
                    "reply_markup": {"inline_keyboard": [[
                        {"text": "Sim, confirmo", "callback_data": "opt_sim"}]]}}}}


def test_CHN_2_a_button_press_is_answered_so_the_button_stops_loading(app, tg, httpserver):
    """Telegram shows the pressed button loading until the bot answers the press."""
    httpserver.expect_oneshot_request(
        f"/bot{TOKEN}/answerCallbackQuery", method="POST",
        json={"callback_query_id": "cb-answer-1"},
    ).respond_with_json({"ok": True, "result": True})
    assert post_update(app, tg, button_press("cb-answer-1")).status_code == 200
    httpserver.check_assertions()
    assert [(req.path, req.get_json()) for req, _resp in httpserver.log] == [
        (f"/bot{TOKEN}/answerCallbackQuery", {"callback_query_id": "cb-answer-1"})]
    assert [m.text for m in incoming_messages(app)] == ["Botão: Sim, confirmo"]


@pytest.mark.parametrize("answer", ["refused", "down"])
def test_CHN_2_a_press_telegram_will_not_let_us_answer_still_reaches_the_inbox(
        app, tg, httpserver, caplog, answer):
    if answer == "refused":
        httpserver.expect_request(f"/bot{TOKEN}/answerCallbackQuery").respond_with_json(
            {"ok": False, "error_code": 400, "description": "Bad Request: query is too old"},
            status=400)
    else:
        app.config["TELEGRAM_API_URL"] = "http://127.0.0.1:9/"  # nothing listens there
    assert post_update(app, tg, button_press("cb-old")).status_code == 200
    assert [m.text for m in incoming_messages(app)] == ["Botão: Sim, confirmo"]
    assert any("cb-old" in r.getMessage() for r in caplog.records
               if r.name == "backoffice.channels.telegram")


def test_CHN_2_a_text_longer_than_the_inbox_allows_is_cut_not_lost(app, tg):
    post_update(app, tg, update({"text": "a" * 4096}, key="edited_message",
                                edit_date=1_765_000_100))
    [message] = incoming_messages(app)
    assert message.text.startswith("(editada) aaa") and len(message.text) == 4096


# --- sending (CHN-3, MSG-1) -------------------------------------------------------------------


def open_conversation(app, world) -> int:
    """The customer writes first (CHN-4: the window opens); the ticket's id."""
    assert post_update(app, world, update({"text": "Oi"}, message_id=10)).status_code == 200
    with app.app_context():
        return db.session.scalar(select(Ticket.id))


def queue(app, world, ticket_id: int, text: str | None, upload=None, extra=None) -> int:
    from backoffice.models import User

    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        admin = db.session.scalar(select(User).where(User.email == world.admin))
        message = sending.queue(ticket, admin, text, upload=upload, extra=extra)
        after_commit.commit()  # eager tasks: delivered right here
        return message.id


def test_CHN_3_text_is_sent_with_sendMessage_quoting_the_customer(app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    httpserver.expect_oneshot_request(
        f"/bot{TOKEN}/sendMessage", method="POST",
        json={"chat_id": CHAT, "text": "Já verifico",
              "reply_parameters": {"message_id": 10, "allow_sending_without_reply": True}},
    ).respond_with_json({"ok": True, "result": {"message_id": 88, "chat": {"id": CHAT},
                                                 "date": 1_765_000_200, "text": "Já verifico"}})
    message_id = queue(app, tg, ticket_id, "Já verifico",
                       extra={"reply_to": {"external_id": f"{CHAT}:10", "message_id": 1}})
    httpserver.check_assertions()
    message = stored_message(app, message_id)
    assert (message.status, message.external_id) == (SENT, f"{CHAT}:88")


def test_CHN_3_photo_is_sent_as_multipart_with_chat_id_and_caption(app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    seen = {}

    def handler(request):
        seen.update(form=dict(request.form), file=request.files["photo"].read(),
                    name=request.files["photo"].filename,
                    type=request.content_type.split(";")[0])
        return Response(json.dumps({"ok": True, "result": {"message_id": 90}}),
                        content_type="application/json")

    httpserver.expect_oneshot_request(f"/bot{TOKEN}/sendPhoto", method="POST") \
        .respond_with_handler(handler)
    message_id = queue(app, tg, ticket_id, "Seu comprovante",
                       upload=Upload(data=PNG, name="comprovante.png", mime="image/png"))
    assert seen == {"form": {"chat_id": str(CHAT), "caption": "Seu comprovante"},
                    "file": PNG, "name": "comprovante.png", "type": "multipart/form-data"}
    assert stored_message(app, message_id).external_id == f"{CHAT}:90"


def test_CHN_3_pdf_goes_with_sendDocument_and_a_text_too_long_for_a_caption_follows_it(
        app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    seen = []

    def handler(request):
        seen.append((dict(request.form), request.files["document"].filename))
        return Response(json.dumps({"ok": True, "result": {"message_id": 91}}),
                        content_type="application/json")

    httpserver.expect_oneshot_request(f"/bot{TOKEN}/sendDocument", method="POST") \
        .respond_with_handler(handler)
    long_text = "x" * 1500  # Telegram's captions stop at 1024 characters
    httpserver.expect_oneshot_request(f"/bot{TOKEN}/sendMessage", method="POST",
                                      json={"chat_id": CHAT, "text": long_text}) \
        .respond_with_json({"ok": True, "result": {"message_id": 92}})
    message_id = queue(app, tg, ticket_id, long_text,
                       upload=Upload(data=PDF, name="boleto.pdf", mime="application/pdf"))
    httpserver.check_assertions()
    assert seen == [({"chat_id": str(CHAT)}, "boleto.pdf")]
    assert stored_message(app, message_id).status == SENT


def test_CHN_3_rate_limit_429_goes_back_to_the_queue_noting_the_wait(app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json(
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 30",
         "parameters": {"retry_after": 30}}, status=429)
    message = stored_message(app, queue(app, tg, ticket_id, "Olá"))
    assert (message.status, message.attempts) == (QUEUED, 1)
    # the first retry delay is 5 seconds, but Telegram asked for 30
    assert message.next_attempt_at > utcnow() + timedelta(seconds=25)
    assert message.error == ("O Telegram limitou os envios do bot: nova tentativa após "
                             "30 segundos.")


def test_CHN_3_server_error_500_goes_back_to_the_queue(app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json(
        {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500)
    message = stored_message(app, queue(app, tg, ticket_id, "Olá"))
    assert (message.status, message.attempts) == (QUEUED, 1)
    assert message.next_attempt_at > utcnow() + timedelta(seconds=1)


def test_MSG_1_bot_blocked_by_the_customer_fails_with_the_reason(app, tg, httpserver):
    ticket_id = open_conversation(app, tg)
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json(
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        status=403)
    message = stored_message(app, queue(app, tg, ticket_id, "Olá"))
    assert (message.status, message.error) == (FAILED, "O cliente bloqueou o bot no Telegram.")
    with app.app_context():
        assert db.session.get(Ticket, ticket_id).has_failed is True


@pytest.mark.parametrize("status,description,expected", [
    (400, "Bad Request: chat not found",
     "Chat não encontrado no Telegram: o cliente precisa iniciar uma conversa com o bot."),
    (401, "Unauthorized", "O token do bot é inválido."),
])
def test_MSG_1_refusals_are_explained_in_portuguese(app, tg, httpserver, status, description,
                                                    expected):
    ticket_id = open_conversation(app, tg)
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json(
        {"ok": False, "error_code": status, "description": description}, status=status)
    message = stored_message(app, queue(app, tg, ticket_id, "Olá"))
    assert (message.status, message.error) == (FAILED, expected)


def test_CHN_4_no_free_text_before_the_customer_writes(app, tg, httpserver):
    """A contact who never wrote to the bot (or not for 24 hours) gets no free text."""
    with app.app_context():
        connection = db.session.get(Connection, tg.connection_id)
        contact = tickets.contact_for(connection, str(CHAT), "Ana")
        ticket = tickets.open_ticket(contact, connection, None)
        after_commit.commit()
        ticket_id = ticket.id
    with pytest.raises(RuleError) as refused:
        queue(app, tg, ticket_id, "Olá")
    assert "Fora da janela de atendimento deste canal" in str(refused.value)
    assert httpserver.log == []


# --- configuration (CHN-1) ----------------------------------------------------------------


def test_CHN_1_blank_webhook_secret_is_generated(app):
    with app.app_context():
        connection = Connection(name="Bot", kind="telegram",
                                credentials=json.dumps({"bot_token": f" {TOKEN} "}))
        adapter_for(connection).validate_config(connection)
        secret = connection.secret("secret_token")
        assert connection.secret("bot_token") == TOKEN
        assert len(secret) >= 40 and set(secret) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def test_CHN_1_test_connection_names_the_bot_or_says_the_token_is_wrong(app, tg, httpserver):
    httpserver.expect_oneshot_request(f"/bot{TOKEN}/getMe").respond_with_json(
        {"ok": True, "result": {"id": 123456789, "is_bot": True, "first_name": "Loja",
                                "username": "loja_atende_bot"}})
    httpserver.expect_oneshot_request(f"/bot{TOKEN}/getMe").respond_with_json(
        {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, tg.connection_id))
        assert adapter.test_connection() == "Conectado ao bot @loja_atende_bot"
        with pytest.raises(RuleError) as refused:
            adapter.test_connection()
    assert str(refused.value).startswith("O token do bot é inválido")


def test_CHN_1_register_webhook_sends_the_url_and_the_secret(app, tg, httpserver):
    url = f"https://atende.example.com/hooks/telegram/{tg.key}"
    httpserver.expect_oneshot_request(
        f"/bot{TOKEN}/setWebhook", method="POST",
        json={"url": url, "secret_token": SECRET,
              "allowed_updates": ["message", "edited_message", "callback_query"]},
    ).respond_with_json({"ok": True, "result": True, "description": "Webhook was set"})
    httpserver.expect_oneshot_request(f"/bot{TOKEN}/setWebhook").respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: "
                                                        "Failed to resolve host"}, status=400)
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, tg.connection_id))
        assert adapter.registers_webhook is True
        assert adapter.register_webhook(url) == "Webhook registrado no Telegram."
        with pytest.raises(RuleError) as refused:
            adapter.register_webhook(url)
        assert "precisa ser um endereço https público" in str(refused.value)
        assert "Failed to resolve host" in str(refused.value)
        with pytest.raises(RuleError) as refused:  # never asked: Telegram wants https
            adapter.register_webhook(url.replace("https://", "http://"))
        assert "precisa ser um endereço https público" in str(refused.value)
    assert len(httpserver.log) == 2


def test_CHN_1_register_webhook_generates_a_missing_secret_and_sends_it(app, tg, httpserver):
    seen = []
    httpserver.expect_oneshot_request(f"/bot{TOKEN}/setWebhook", method="POST") \
        .respond_with_handler(lambda request: seen.append(request.get_json()) or Response(
            json.dumps({"ok": True, "result": True}), content_type="application/json"))
    with app.app_context():
        connection = db.session.get(Connection, tg.connection_id)
        connection.set_secret("secret_token", None)
        adapter_for(connection).register_webhook("https://atende.example.com/hooks/x")
        secret = connection.secret("secret_token")
    assert len(secret) >= 40 and seen[0]["secret_token"] == secret


def test_CHN_2_simulated_update_is_accepted_by_the_route_and_receipts_do_not_exist(app, tg):
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, tg.connection_id))
        raw, headers = adapter.simulated("555", "Teste de carga", "Carlos Dias")
        with pytest.raises(NotImplementedError):
            adapter.simulated_status(f"{CHAT}:1", "read")
        assert adapter.status({"update_id": 1}) is None
    r = app.test_client().post(f"/hooks/telegram/{tg.key}", data=raw, headers=headers)
    assert r.get_json() == {"received": 1, "stored": 1}
    [message] = incoming_messages(app)
    assert message.text == "Teste de carga"
    with app.app_context():
        assert db.session.scalar(select(ContactAddress.address)) == "555"


def test_CHN_2_handshake_is_not_used(app, tg):
    r = app.test_client().get(f"/hooks/telegram/{tg.key}?hub.challenge=x")
    assert r.status_code == 400


def test_CHN_2_split_refuses_what_telegram_never_sends(app):
    with app.app_context():
        adapter = TelegramAdapter(Connection(kind="telegram", credentials=CREDENTIALS))
        for payload in ([], {"message": {}}, {"update_id": "1"},
                        {"update_id": 1, "callback_query": {"id": "x"}}):
            with pytest.raises(InboundError):
                adapter.split(payload)
        assert [(e.key, e.kind) for e in adapter.split({"update_id": 7, "poll": {}})] == [
            ("update:7", "other")]
