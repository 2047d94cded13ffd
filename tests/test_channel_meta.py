"""Issue 12: Facebook Messenger and Instagram (backoffice/channels/meta.py), each test run
for both kinds against a local fake Graph API (pytest-httpserver), through the real
webhook route `/hooks/<kind>/<public key>` and the real sending queue.

CHN-2 webhooks (handshake, signature, items, media), CHN-3 sending (shape, retries,
errors), CHN-4 the window (HUMAN_AGENT tag within 7 days, refused after), MSG-1 receipts.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta, timezone

import pytest
from sqlalchemy import func, select
from werkzeug import Request, Response

from backoffice.channels import adapter_for
from backoffice.extensions import db
from backoffice.jobs.channels import process
from backoffice.jobs.sending import deliver
from backoffice.models import ChannelEvent, Connection, ContactAddress, Message, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import EVENT_DONE, EVENT_FAILED, EVENT_PENDING
from backoffice.models.tickets import AUTHOR_SYSTEM, DELIVERED, FAILED, IN, OUT, QUEUED, READ, SENT
from backoffice.services import RuleError, sending
from backoffice.tenancy import acting_for
from tests.factories import PNG, gen_agent_setup, upload

KINDS = ("messenger", "instagram")
PAGE = "1029384756"
PSID = "5566778899"
TOKEN = "EAAB-page-token"
APP_SECRET = "app-secret-123"
VERIFY = "verifica-123"
OBJECT = {"messenger": "page", "instagram": "instagram"}
PROFILE = {"messenger": ("name", {"name": "Maria Souza", "id": PSID}),
           "instagram": ("name,username", {"name": "Maria Souza", "username": "maria.s",
                                           "id": PSID})}
CREDENTIALS = json.dumps({"page_access_token": TOKEN, "app_secret": APP_SECRET,
                          "verify_token": VERIFY})
WINDOW_TEXT = ("Fora da janela de atendimento do Messenger/Instagram: o Meta só aceita "
               "respostas até 24 horas depois da última mensagem do cliente (7 dias como "
               "atendimento humano). Aguarde o cliente escrever de novo.")


# --- helpers ---------------------------------------------------------------------------------


def sign(raw: bytes, secret: str = APP_SECRET) -> dict:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def webhook(kind: str, *items: dict, object_: str | None = None) -> bytes:
    """A Meta webhook body with these messaging items (sender PSID unless given)."""
    messaging = [{"sender": {"id": PSID}, "recipient": {"id": PAGE}, "timestamp": 1764800000000,
                  **item} for item in items]
    return json.dumps({"object": object_ or OBJECT[kind],
                       "entry": [{"id": PAGE, "time": 1764800000000,
                                  "messaging": messaging}]}).encode()


def text_item(mid: str = "m_1", text: str = "Olá, tudo bem?", **message) -> dict:
    return {"message": {"mid": mid, "text": text, **message}}


@pytest.fixture
def graph(app, httpserver):
    """The fake Graph API; the customer's profile answers by default."""
    app.config["META_GRAPH_URL"] = httpserver.url_for("/v21.0")
    app.config["CHANNEL_EVENT_RETRY_DELAYS"] = (5, 30)
    app.config["SEND_RETRY_DELAYS"] = (5, 30)
    return httpserver


def profile(graph, kind: str):
    fields, body = PROFILE[kind]
    graph.expect_request(f"/v21.0/{PSID}", method="GET",
                         query_string={"fields": fields, "access_token": TOKEN}
                         ).respond_with_json(body)


@pytest.fixture
def world(app):
    """Per kind: a company with an agent and a configured connection (ids only)."""
    def build(kind: str) -> dict:
        with app.app_context():
            setup = gen_agent_setup(kind=kind, key=kind)
            connection = setup.connection
            connection.set_setting("page_id", PAGE)
            connection.credentials = CREDENTIALS
            db.session.commit()
            return {"company_id": setup.company_id, "connection_id": connection.id,
                    "key": connection.public_key, "agent_id": setup.agent.id,
                    "url": f"/hooks/{kind}/{connection.public_key}"}
    return build


def post_hook(client, w, raw: bytes, headers=None):
    return client.post(w["url"], data=raw, headers=sign(raw) if headers is None else headers)


def incoming(w) -> list[Message]:
    """What the customer (PSID) sent, as the inbox holds it."""
    return list(db.session.scalars(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id)
        .join(ContactAddress, ContactAddress.contact_id == Ticket.contact_id)
        .where(Ticket.connection_id == w["connection_id"], Message.direction == IN,
               ContactAddress.connection_id == w["connection_id"],
               ContactAddress.address == PSID)
        .order_by(Message.id)))


def events(w) -> list[ChannelEvent]:
    return list(db.session.scalars(select(ChannelEvent).where(
        ChannelEvent.connection_id == w["connection_id"]).order_by(ChannelEvent.id)))


def customer_ticket(w) -> Ticket:
    return db.session.scalar(
        select(Ticket).join(ContactAddress, ContactAddress.contact_id == Ticket.contact_id)
        .where(ContactAddress.address == PSID, Ticket.connection_id == w["connection_id"]))


def customer_wrote(client, w, kind, graph, ago: timedelta | None = None) -> None:
    """The customer writes (through the webhook); `ago` moves the moment back."""
    profile(graph, kind)
    assert post_hook(client, w, webhook(kind, text_item("m_in_1"))).status_code == 200
    if ago is not None:
        with client.application.app_context():
            address = db.session.scalar(select(ContactAddress).where(
                ContactAddress.connection_id == w["connection_id"],
                ContactAddress.address == PSID))
            address.last_inbound_at = utcnow() - ago
            db.session.commit()


def reply(app, w, text="Olá, sou a Ana.", **kwargs) -> int:
    """The agent's reply, queued (sent at once: eager jobs); the message id."""
    from backoffice.models import User

    with app.app_context(), acting_for(w["company_id"]):
        ticket = customer_ticket(w)
        message = sending.queue(ticket, db.session.get(User, w["agent_id"]), text, **kwargs)
        message_id = message.id
        from backoffice.lib import after_commit
        after_commit.commit()
    return message_id


def send_path() -> str:
    return f"/v21.0/{PAGE}/messages"


def expect_send(graph, answer: dict | None = None, status: int = 200, oneshot=False):
    method = graph.expect_oneshot_request if oneshot else graph.expect_request
    method(send_path(), method="POST", query_string={"access_token": TOKEN}
           ).respond_with_json(answer or {"recipient_id": PSID, "message_id": "m_out_1"},
                               status=status)


def sent_requests(graph) -> list[Request]:
    return [request for request, _ in graph.log if request.path == send_path()]


# --- handshake and signature (CHN-2) -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_handshake_answers_the_challenge_and_refuses_a_wrong_token(app, client,
                                                                              world, kind):
    w = world(kind)
    ok = client.get(w["url"], query_string={"hub.mode": "subscribe", "hub.verify_token": VERIFY,
                                            "hub.challenge": "1158201444"})
    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "1158201444")
    wrong = client.get(w["url"], query_string={"hub.mode": "subscribe",
                                               "hub.verify_token": "outro",
                                               "hub.challenge": "1158201444"})
    assert wrong.status_code == 403 and "1158201444" not in wrong.get_data(as_text=True)
    no_mode = client.get(w["url"], query_string={"hub.verify_token": VERIFY,
                                                 "hub.challenge": "1"})
    assert no_mode.status_code == 403


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_bad_or_missing_signature_is_refused_and_nothing_stored(app, client, world,
                                                                          graph, kind):
    w = world(kind)
    raw = webhook(kind, text_item())
    assert post_hook(client, w, raw, headers={"Content-Type": "application/json"}).status_code == 403
    assert post_hook(client, w, raw, headers=sign(raw, "outro-segredo")).status_code == 403
    tampered = raw.replace(b"tudo bem", b"tudo mal")
    assert post_hook(client, w, tampered, headers=sign(raw)).status_code == 403
    with app.app_context():
        assert events(w) == [] and incoming(w) == []


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_malformed_or_foreign_body_signed_is_a_400(app, client, world, kind):
    w = world(kind)
    assert post_hook(client, w, b"{not json").status_code == 400
    other = "instagram" if kind == "messenger" else "page"
    answer = post_hook(client, w, webhook(kind, text_item(), object_=other))
    assert answer.status_code == 400 and answer.get_json()["error"]
    with app.app_context():
        assert events(w) == []


# --- inbound (CHN-2) ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_signed_text_reaches_the_inbox_with_the_profile_name(app, client, world,
                                                                      graph, kind):
    w = world(kind)
    profile(graph, kind)
    answer = post_hook(client, w, webhook(kind, text_item("m_abc", "Quero saber do pedido 42",
                                                          reply_to={"mid": "m_prev"},
                                                          quick_reply={"payload": "PEDIDO"})))
    assert answer.status_code == 200 and answer.get_json() == {"received": 1, "stored": 1}
    with app.app_context():
        [message] = incoming(w)
        assert (message.text, message.external_id) == ("Quero saber do pedido 42", "m_abc")
        assert message.extra["quick_reply"] == {"payload": "PEDIDO"}
        assert message.extra["reply_to"] == {"external_id": "m_prev", "message_id": None}
        ticket = db.session.get(Ticket, message.ticket_id)
        assert ticket.contact.name == "Maria Souza"
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.contact_id == ticket.contact_id))
        assert address.address == PSID and address.last_inbound_at is not None
        assert [e.status for e in events(w)] == [EVENT_DONE]


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_profile_failure_never_blocks_the_message(app, client, world, graph, kind):
    w = world(kind)
    graph.expect_request(f"/v21.0/{PSID}").respond_with_json(
        {"error": {"code": 230, "message": "Requires pages_messaging permission"}}, status=400)
    assert post_hook(client, w, webhook(kind, text_item())).status_code == 200
    with app.app_context():
        [message] = incoming(w)
        assert message.text == "Olá, tudo bem?"
        assert db.session.get(Ticket, message.ticket_id).contact.name == "Contato"


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_replay_stores_nothing_new(app, client, world, graph, kind):
    w = world(kind)
    profile(graph, kind)
    raw = webhook(kind, text_item("m_once"))
    assert post_hook(client, w, raw).get_json() == {"received": 1, "stored": 1}
    assert post_hook(client, w, raw).get_json() == {"received": 1, "stored": 0}
    with app.app_context():
        assert [m.text for m in incoming(w)] == ["Olá, tudo bem?"]
        assert len(events(w)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_echo_of_our_own_message_is_ignored(app, client, world, graph, kind):
    w = world(kind)
    echo = {"sender": {"id": PAGE}, "recipient": {"id": PSID},
            "message": {"mid": "m_echo", "text": "Resposta enviada", "is_echo": True}}
    assert post_hook(client, w, webhook(kind, echo)).status_code == 200
    with app.app_context():
        assert incoming(w) == []
        assert [(e.kind, e.status) for e in events(w)] == [("other", EVENT_DONE)]


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_image_is_downloaded_and_attached(app, client, world, graph, kind):
    w = world(kind)
    profile(graph, kind)
    graph.expect_request("/cdn/t39/12345_678_n.png").respond_with_data(
        PNG, content_type="image/png")
    item = {"message": {"mid": "m_img", "attachments": [
        {"type": "image", "payload": {"url": graph.url_for("/cdn/t39/12345_678_n.png")}}]}}
    assert post_hook(client, w, webhook(kind, item)).status_code == 200
    with app.app_context():
        from backoffice.services import attachments

        [message] = incoming(w)
        assert (message.file_name, message.file_mime, message.file_size) == (
            "12345_678_n.png", "image/png", len(PNG))
        assert attachments.file_of(message).read_bytes() == PNG


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_media_the_provider_does_not_give_becomes_a_placeholder(app, client, world,
                                                                          graph, kind):
    w = world(kind)
    profile(graph, kind)
    graph.expect_request("/cdn/gone.mp4").respond_with_data("", status=404)
    item = {"message": {"mid": "m_vid", "text": "olha isso", "attachments": [
        {"type": "video", "payload": {"url": graph.url_for("/cdn/gone.mp4")}}]}}
    assert post_hook(client, w, webhook(kind, item)).status_code == 200
    with app.app_context():
        [message] = incoming(w)
        assert message.text == ("olha isso\n[Vídeo: arquivo não recebido — o provedor não entregou o "
                                "arquivo]")
        assert message.file_key is None


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_media_5xx_is_retried_and_nothing_is_lost(app, client, world, graph, kind):
    w = world(kind)
    profile(graph, kind)
    graph.expect_oneshot_request("/cdn/voz.png").respond_with_data("", status=503)
    graph.expect_request("/cdn/voz.png").respond_with_data(PNG, content_type="image/png")
    item = {"message": {"mid": "m_retry", "attachments": [
        {"type": "image", "payload": {"url": graph.url_for("/cdn/voz.png")}}]}}
    assert post_hook(client, w, webhook(kind, item)).status_code == 200
    with app.app_context():
        [event] = events(w)
        assert (event.status, event.attempts) == (EVENT_PENDING, 1)
        assert event.next_attempt_at is not None and incoming(w) == []
        event_id = event.id
        assert process(event_id) == "done"  # the scheduled retry runs
        [message] = incoming(w)
        assert message.file_size == len(PNG)


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_media_failing_past_the_retries_is_kept_failed(app, client, world, graph,
                                                                 kind):
    w = world(kind)
    profile(graph, kind)
    graph.expect_request("/cdn/x.png").respond_with_data("", status=500)
    item = {"message": {"mid": "m_x", "attachments": [
        {"type": "image", "payload": {"url": graph.url_for("/cdn/x.png")}}]}}
    post_hook(client, w, webhook(kind, item))
    with app.app_context():
        event_id = events(w)[0].id
        assert [process(event_id) for _ in range(2)] == ["retry", "failed"]
        [event] = events(w)
        assert event.status == EVENT_FAILED and "HTTP 500" in event.error
        assert event.payload["message"]["mid"] == "m_x"  # the item is kept


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_media_behind_a_redirect_is_followed_hop_by_hop(app, client, world, graph,
                                                                  kind):
    """Meta's lookaside links may redirect to the CDN; each hop is a checked request."""
    w = world(kind)
    profile(graph, kind)
    graph.expect_request("/lookaside/ig_messaging_cdn/").respond_with_response(
        Response(status=302, headers={"Location": "/cdn/asset"}))
    graph.expect_request("/cdn/asset").respond_with_data(PNG, content_type="image/png")
    item = {"message": {"mid": "m_redir", "attachments": [
        {"type": "image", "payload": {"url": graph.url_for("/lookaside/ig_messaging_cdn/")
                                      + "?asset_id=1"}}]}}
    assert post_hook(client, w, webhook(kind, item)).status_code == 200
    with app.app_context():
        [message] = incoming(w)
        assert (message.file_name, message.file_size) == ("arquivo.png", len(PNG))


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_unknown_and_fallback_attachments_become_placeholders(app, client, world,
                                                                       graph, kind):
    w = world(kind)
    profile(graph, kind)
    item = {"message": {"mid": "m_unk", "attachments": [
        {"type": "story_mention", "payload": {"url": "https://lookaside.example/x"}},
        {"type": "fallback", "title": "Um link", "URL": "https://example.com", "payload": None},
    ]}}
    assert post_hook(client, w, webhook(kind, item)).status_code == 200
    with app.app_context():
        [message] = incoming(w)
        assert message.text == ("[Mensagem do tipo story_mention não suportada pelo Atende]\n"
                                "[Mensagem do tipo fallback não suportada pelo Atende]")


@pytest.mark.parametrize("kind", KINDS)
def test_CHN2_meta_location_reaction_and_postback_are_readable_text(app, client, world, graph,
                                                                    kind):
    w = world(kind)
    profile(graph, kind)
    items = [
        {"message": {"mid": "m_loc", "attachments": [
            {"type": "location", "title": "Casa",
             "payload": {"coordinates": {"lat": -23.5505, "long": -46.6333}}}]}},
        {"reaction": {"mid": "m_loc", "action": "react", "emoji": "👍"}},
        {"reaction": {"mid": "m_loc", "action": "unreact"}},
        {"postback": {"mid": "m_pb", "title": "Falar com atendente", "payload": "HUMANO"}},
    ]
    assert post_hook(client, w, webhook(kind, *items)).get_json()["stored"] == 4
    with app.app_context():
        found = incoming(w)
        assert [m.text for m in found] == ["Localização: -23.5505, -46.6333", "Reagiu com 👍",
                                           "Removeu a reação", "Falar com atendente"]
        assert found[0].extra["location"] == {"latitude": -23.5505, "longitude": -46.6333,
                                              "name": "Casa"}
        assert found[1].extra["reaction"]["emoji"] == "👍"
        assert found[1].extra["reply_to"] == {"external_id": "m_loc",
                                              "message_id": found[0].id}
        assert found[3].extra["postback"] == {"title": "Falar com atendente",
                                              "payload": "HUMANO"}


def test_CHN2_instagram_long_mids_stay_distinct(app, client, world, graph):
    """Instagram mids run past Message.external_id's 120 characters and share their start
    within a conversation: two messages of one chat must not look like a redelivery."""
    w = world("instagram")
    profile(graph, "instagram")
    base = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAxMjM0NTY3ODkwOjM0MDI4MjM2Njg0MTcx" * 2
    first, second = base + "MTExMQZDZD", base + "MjIyMgZDZD"
    raw = webhook("instagram", text_item(first, "um"), text_item(second, "dois"))
    assert post_hook(client, w, raw).get_json()["stored"] == 2
    with app.app_context():
        assert [m.text for m in incoming(w)] == ["um", "dois"]
        assert all(len(m.external_id) <= 120 for m in incoming(w))


# --- sending (CHN-3, CHN-4) --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_CHN3_meta_send_text_in_the_send_api_shape(app, client, world, graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph)
    message_id = reply(app, w, "Olá, sou a Ana.")
    [sent] = sent_requests(graph)
    assert sent.args.to_dict() == {"access_token": TOKEN}
    assert sent.get_json() == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                               "message": {"text": "Olá, sou a Ana."}}
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert (message.status, message.external_id) == (SENT, "m_out_1")


@pytest.mark.parametrize("kind", KINDS)
def test_CHN4_meta_two_days_later_goes_tagged_human_agent(app, client, world, graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph, ago=timedelta(days=2))
    expect_send(graph)
    message_id = reply(app, w, "Retomando seu atendimento")
    [sent] = sent_requests(graph)
    assert sent.get_json() == {"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG",
                               "tag": "HUMAN_AGENT",
                               "message": {"text": "Retomando seu atendimento"}}
    with app.app_context():
        assert db.session.get(Message, message_id).status == SENT


@pytest.mark.parametrize("kind", KINDS)
def test_CHN4_meta_eight_days_later_free_text_is_refused_before_the_queue(app, client, world,
                                                                          graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph, ago=timedelta(days=8))
    with pytest.raises(RuleError) as refused:
        reply(app, w, "Oi?")
    assert str(refused.value) == (
        "Fora da janela de atendimento deste canal: o cliente não escreve há mais de 24 "
        "horas. Envie um template do tipo do canal para retomar a conversa.")
    assert sent_requests(graph) == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message).where(
            Message.direction == OUT, Message.text == "Oi?")) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_CHN3_meta_send_attachment_as_multipart_then_the_text(app, client, world, graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    graph.expect_ordered_request(send_path(), method="POST").respond_with_json(
        {"recipient_id": PSID, "message_id": "m_file"})
    graph.expect_ordered_request(send_path(), method="POST").respond_with_json(
        {"recipient_id": PSID, "message_id": "m_text"})
    message_id = reply(app, w, "Segue a foto", upload=upload())
    first, second = sent_requests(graph)
    assert first.args["access_token"] == TOKEN
    assert first.mimetype == "multipart/form-data"
    assert json.loads(first.form["recipient"]) == {"id": PSID}
    assert json.loads(first.form["message"]) == {
        "attachment": {"type": "image", "payload": {"is_reusable": False}}}
    assert first.form["messaging_type"] == "RESPONSE"
    upload_ = first.files["filedata"]
    assert (upload_.filename, upload_.mimetype, upload_.read()) == ("foto.png", "image/png", PNG)
    assert second.get_json()["message"] == {"text": "Segue a foto"}
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert (message.status, message.external_id) == (SENT, "m_file")


@pytest.mark.parametrize("kind", KINDS)
def test_CHN4_meta_outside_the_window_the_provider_refusal_fails_with_the_reason(
        app, client, world, graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph, {"error": {"message": "(#10) This message is sent outside of allowed "
                                             "window.", "type": "OAuthException", "code": 10,
                                  "error_subcode": 2018278, "fbtrace_id": "Ab1"}}, status=400)
    message_id = reply(app, w)
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert (message.status, message.error) == (FAILED, WINDOW_TEXT)
        assert message.ticket.has_failed
    assert len(sent_requests(graph)) == 1  # not retried


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("code,text", [
    (551, "O cliente não está disponível para receber mensagens (bloqueou a página ou "
          "desativou as mensagens)."),
    (190, "O token de acesso da página expirou ou é inválido: gere um novo token no Meta e "
          "atualize a conexão."),
    (100, "O Meta recusou a mensagem: (#100) Invalid parameter (código 100)"),
])
def test_CHN3_meta_permanent_errors_fail_with_a_reason_for_the_agent(app, client, world, graph,
                                                                     kind, code, text):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    messages = {551: "This person isn't available right now.", 190: "Error validating token",
                100: "(#100) Invalid parameter"}
    expect_send(graph, {"error": {"message": messages[code], "code": code}}, status=400)
    message_id = reply(app, w)
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert (message.status, message.error) == (FAILED, text)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status,answer", [
    (500, {"error": {"message": "An unexpected error has occurred.", "code": 2}}),
    (429, {}),
    (400, {"error": {"message": "(#613) Calls to this api have exceeded the rate limit.",
                     "code": 613}}),
])
def test_CHN3_meta_5xx_429_and_rate_limits_are_retried(app, client, world, graph, kind, status,
                                                       answer):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph, answer, status=status, oneshot=True)
    expect_send(graph)
    message_id = reply(app, w)
    with app.app_context():
        message = db.session.get(Message, message_id)
        assert (message.status, message.attempts) == (QUEUED, 1)
        assert message.next_attempt_at is not None
        assert deliver(message_id) == "sent"  # the scheduled retry
        db.session.expire_all()
        message = db.session.get(Message, message_id)
        assert (message.status, message.external_id) == (SENT, "m_out_1")
    assert len(sent_requests(graph)) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_CHN4_meta_code_10_without_the_window_subcode_is_a_permission_problem(
        app, client, world, graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph, {"error": {"message": "(#10) Application does not have permission",
                                  "code": 10, "error_subcode": 2018336}}, status=400)
    message_id = reply(app, w)
    with app.app_context():
        assert db.session.get(Message, message_id).error == (
            "O app do Meta não tem permissão para enviar por esta conta: revise as "
            "permissões do app (pages_messaging / instagram_manage_messages).")


@pytest.mark.parametrize("kind", KINDS)
def test_CHN3_meta_a_retry_after_the_file_went_sends_only_the_text(app, client, world, graph,
                                                                   kind):
    """The file and the text are two Send API calls: when the text fails after the file
    went, the retry does not send the customer the file twice."""
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    graph.expect_ordered_request(send_path(), method="POST").respond_with_json(
        {"recipient_id": PSID, "message_id": "m_file"})
    graph.expect_ordered_request(send_path(), method="POST").respond_with_json(
        {"error": {"message": "Service temporarily unavailable", "code": 2}}, status=503)
    graph.expect_ordered_request(send_path(), method="POST").respond_with_json(
        {"recipient_id": PSID, "message_id": "m_text"})
    message_id = reply(app, w, "Segue a foto", upload=upload())
    with app.app_context():
        assert db.session.get(Message, message_id).status == QUEUED
        assert deliver(message_id) == "sent"
        db.session.expire_all()
        message = db.session.get(Message, message_id)
        assert (message.status, message.external_id) == (SENT, "m_file")
    kinds = [r.mimetype for r in sent_requests(graph)]
    assert kinds == ["multipart/form-data", "application/json", "application/json"]


# --- receipts (MSG-1) --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_MSG1_meta_delivery_then_read_move_our_message_forward_never_back(app, client, world,
                                                                          graph, kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph)
    message_id = reply(app, w)

    def status_of() -> str:
        with app.app_context():
            return db.session.get(Message, message_id).status

    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, w["connection_id"]))
        delivered = adapter.simulated_status("m_out_1", "delivered", PSID)
        read = adapter.simulated_status("m_out_1", "read")  # the PSID found from the mid
    assert json.loads(delivered[0])["entry"][0]["messaging"][0]["delivery"]["mids"] == ["m_out_1"]
    assert post_hook(client, w, delivered[0], delivered[1]).status_code == 200
    assert status_of() == DELIVERED
    assert post_hook(client, w, read[0], read[1]).status_code == 200
    assert status_of() == READ
    late = webhook(kind, {"delivery": {"mids": ["m_out_1"], "watermark": 1764800009999}})
    assert post_hook(client, w, late).get_json()["stored"] == 1
    assert status_of() == READ
    with app.app_context():
        assert {e.status for e in events(w)} == {EVENT_DONE}


@pytest.mark.parametrize("kind", KINDS)
def test_MSG1_meta_read_watermark_covers_only_messages_sent_before_it(app, client, world, graph,
                                                                      kind):
    w = world(kind)
    customer_wrote(client, w, kind, graph)
    expect_send(graph)
    message_id = reply(app, w)
    with app.app_context():
        sent_at = db.session.get(Message, message_id).sent_at
    before = int((sent_at - timedelta(seconds=5)).replace(tzinfo=timezone.utc).timestamp() * 1000)
    assert post_hook(client, w, webhook(kind, {"read": {"watermark": before}})).status_code == 200
    with app.app_context():
        assert db.session.get(Message, message_id).status == SENT


def test_MSG1_instagram_read_receipt_naming_the_message_marks_it_read(app, client, world,
                                                                      graph):
    """Instagram's messaging_seen names the message read (mid) instead of a watermark."""
    w = world("instagram")
    customer_wrote(client, w, "instagram", graph)
    expect_send(graph)
    message_id = reply(app, w)
    raw = webhook("instagram", {"read": {"mid": "m_out_1"}})
    assert post_hook(client, w, raw).get_json()["stored"] == 1
    assert post_hook(client, w, webhook("instagram", {"read": {"mid": "m_other"}})
                     ).get_json()["stored"] == 1  # another mid: another item, not a replay
    with app.app_context():
        assert db.session.get(Message, message_id).status == READ


# --- test_connection ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind,answer,expected", [
    ("messenger", {"name": "Loja Alfa", "id": PAGE}, "Conectado à página Loja Alfa"),
    ("instagram", {"username": "loja.alfa", "name": "Loja Alfa", "id": PAGE},
     "Conectado a @loja.alfa"),
])
def test_CHN1_meta_test_connection_names_the_page_or_account(app, world, graph, kind, answer,
                                                             expected):
    w = world(kind)
    fields = PROFILE[kind][0] if kind == "messenger" else "username,name"
    graph.expect_request(f"/v21.0/{PAGE}", query_string={"fields": fields,
                                                        "access_token": TOKEN}
                         ).respond_with_json(answer)
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, w["connection_id"]))
        assert adapter.test_connection() == expected


@pytest.mark.parametrize("kind", KINDS)
def test_CHN1_meta_test_connection_explains_a_bad_token(app, world, graph, kind):
    w = world(kind)
    graph.expect_request(f"/v21.0/{PAGE}").respond_with_json(
        {"error": {"message": "Invalid OAuth access token.", "code": 190}}, status=400)
    with app.app_context():
        adapter = adapter_for(db.session.get(Connection, w["connection_id"]))
        with pytest.raises(RuleError) as refused:
            adapter.test_connection()
    assert str(refused.value) == ("O token de acesso da página é inválido ou expirou: gere "
                                  "um novo token no Meta e salve a conexão de novo.")


# --- what the contract tests (tests/test_channel_contract.py) run for these kinds -------------


def _good_config() -> dict:
    return {"settings": {"page_id": PAGE}, "credentials": CREDENTIALS}


def _signed_request(kind: str, raw: bytes, headers: dict | None = None) -> dict:
    return {"method": "POST", "data": raw, "headers": sign(raw) if headers is None else headers}


def _simulated(kind: str, text: str) -> dict:
    adapter = adapter_for(Connection(kind=kind, **_good_config()))
    raw, headers = adapter.simulated(PSID, text, external_id="m_contract")
    return {"method": "POST", "data": raw, "headers": headers}


def _deliver(kind: str):
    def run(app, request) -> None:
        """The fake Graph API gets the Send API call; its message_id comes back."""
        from backoffice.lib import after_commit

        graph = request.getfixturevalue("httpserver")
        app.config["META_GRAPH_URL"] = graph.url_for("/v21.0")
        expect_send(graph)
        with app.app_context():
            setup = gen_agent_setup(kind=kind, key=f"contract-{kind}")
            setup.connection.set_setting("page_id", PAGE)
            setup.connection.credentials = CREDENTIALS
            message = Message(company_id=setup.company_id, ticket_id=setup.ticket.id,
                              direction=OUT, author_kind=AUTHOR_SYSTEM, text="Resposta",
                              status="sending", created_at=utcnow())
            db.session.add(message)
            db.session.flush()
            assert adapter_for(setup.connection).send(message) == "m_out_1"
            after_commit.commit()
        [sent] = sent_requests(graph)
        assert sent.get_json()["message"] == {"text": "Resposta"}
        assert sent.get_json()["recipient"] == {"id": "cliente-1"}
    return run


def _case(kind: str) -> dict:
    label = ("ID da página do Facebook" if kind == "messenger"
             else "ID da conta do Instagram (ou da página)")
    no_secret = json.dumps({"page_access_token": TOKEN, "verify_token": VERIFY})
    return {
        "good_config": _good_config(),
        "bad_config": [
            ({"settings": {}}, f"Informe {label}."),
            ({"settings": {"page_id": "minha-pagina"}}, f"{label} deve ter só números."),
            ({"credentials": no_secret}, "Informe Chave secreta do app."),
            ({"credentials": json.dumps({"page_access_token": "t" * 1001,
                                         "app_secret": APP_SECRET, "verify_token": VERIFY})},
             "Token de acesso da página pode ter no máximo 1000 caracteres."),
        ],
        "good_inbound": [
            (_simulated(kind, "  Olá  "), {"address": PSID, "text": "Olá",
                                           "external_id": "m_contract", "attachments": ()}),
        ],
        "bad_inbound": {
            "unsigned": _signed_request(kind, webhook(kind, text_item()),
                                        {"Content-Type": "application/json"}),
            "wrong_signature": _signed_request(kind, webhook(kind, text_item()),
                                               sign(b"other body")),
            "broken_json": _signed_request(kind, b"{oops"),
            "foreign_object": _signed_request(kind, webhook(
                kind, text_item(), object_="whatsapp_business_account")),
            "message_without_mid": _signed_request(kind, webhook(kind, {"message": {"text": "x"}})),
        },
        "deliver": _deliver(kind),
    }


CONTRACT_CASES = {"messenger": _case("messenger"), "instagram": _case("instagram")}


@pytest.mark.parametrize("kind", KINDS)
def test_CHN1_meta_contract_cases_hold_here_too(app, request, kind):
    """The entries the contract suite will run, checked against the adapter now."""
    from flask import request as flask_request

    case = CONTRACT_CASES[kind]
    with app.app_context():
        connection = Connection(name="Canal", kind=kind, **case["good_config"])
        adapter_for(connection).validate_config(connection)
        for fields, expected in case["bad_config"]:
            connection = Connection(name="Canal", kind=kind, **{**case["good_config"], **fields})
            with pytest.raises(RuleError) as refused:
                adapter_for(connection).validate_config(connection)
            assert str(refused.value) == expected
    for kwargs, expected in case["good_inbound"]:
        with app.test_request_context("/", **kwargs):
            [found] = adapter_for(Connection(kind=kind, **case["good_config"])).parse_inbound(
                flask_request)
        assert {name: getattr(found, name) for name in expected} == expected
    for label, kwargs in case["bad_inbound"].items():
        with app.test_request_context("/", **kwargs):
            from backoffice.channels import InboundError

            with pytest.raises(InboundError):
                adapter_for(Connection(kind=kind, **case["good_config"])).parse_inbound(
                    flask_request)
    case["deliver"](app, request)
