"""The agent's side of the provider channels in the inbox API (issue 12): the 24-hour
window in the composer (CHN-4, TPL-3), approved WhatsApp templates, the company templates
a closed Instagram window still allows, what a provider message carries besides its text
(quoted reply, location, contact card, reaction, template badge) and the channel badges.

The fake WhatsApp / Graph API is pytest-httpserver; sending jobs run eagerly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import ContactAddress, Message, MessageTemplate, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import Connection, ProviderTemplate
from backoffice.models.tickets import OUT
from backoffice.services import serialize, tickets
from tests.conftest import client_as, post
from tests.factories import gen_agent_setup, gen_connection

PHONE = "5511987654321"
BODY = "Olá {{1}}, seu pedido {{2}} está pronto para retirada."


@dataclass
class World:
    agent: str
    ticket_id: int
    connection_id: int
    company_id: int


def build(app, kind: str, key: str, wrote_ago: timedelta | None) -> World:
    """A company `key` whose agent accepted a ticket on a `kind` connection; the customer
    last wrote `wrote_ago` ago (None: never)."""
    with app.app_context():
        setup = gen_agent_setup(kind=kind, key=key)
        connection = db.session.get(Connection, setup.connection.id)
        connection.name = f"Loja {key.upper()}"
        connection.settings = {"phone_number_id": "1001", "waba_id": "2002", "page_id": "3003"}
        connection.credentials = json.dumps({"access_token": "token", "app_secret": "segredo",
                                             "verify_token": "verifica",
                                             "page_access_token": "token"})
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == connection.id))
        address.address = PHONE if kind == "whatsapp" else "PSID-1"
        address.last_inbound_at = None if wrote_ago is None else utcnow() - wrote_ago
        db.session.commit()
        world = World(setup.agent.email, setup.ticket.id, connection.id, setup.company_id)
        db.session.remove()
    return world


@pytest.fixture
def provider(app, httpserver):
    """The fake WhatsApp Cloud API and Graph API: every send answers with an id."""
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    app.config["META_GRAPH_URL"] = httpserver.url_for("/graph")
    httpserver.expect_request("/v21.0/1001/messages", method="POST").respond_with_json(
        {"messaging_product": "whatsapp", "contacts": [{"wa_id": PHONE}],
         "messages": [{"id": "wamid.ENVIADA"}]})
    httpserver.expect_request("/graph/3003/messages", method="POST").respond_with_json(
        {"recipient_id": "PSID-1", "message_id": "mid.ENVIADA"})
    httpserver.expect_request("/graph/me/messages", method="POST").respond_with_json(
        {"recipient_id": "PSID-1", "message_id": "mid.ENVIADA"})
    return httpserver


def sent_to_whatsapp(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _response in httpserver.log
            if request.path == "/v21.0/1001/messages"]


def outgoing(app, ticket_id: int) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(
            Message.ticket_id == ticket_id, Message.direction == OUT).order_by(Message.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def add_provider_template(app, world: World, name="pedido_pronto", status="APPROVED",
                          body=BODY, connection_id=None, company_id=None) -> int:
    with app.app_context():
        row = ProviderTemplate(company_id=company_id or world.company_id,
                               connection_id=connection_id or world.connection_id,
                               name=name, language="pt_BR", category="UTILITY", status=status,
                               body=body, variables=body.count("{{"),
                               components=[{"type": "BODY", "text": body}])
        db.session.add(row)
        db.session.commit()
        return row.id


def add_company_template(app, world: World, kind: str, shortcut: str, body: str) -> int:
    with app.app_context():
        row = MessageTemplate(company_id=world.company_id, kind=kind, shortcut=shortcut,
                              title=shortcut.strip("/").title(), body=body, active=True)
        db.session.add(row)
        db.session.commit()
        return row.id


# --- CHN-4: free text and the 24-hour window ------------------------------------------------


def test_chn4_window_open_free_text_is_queued_and_reaches_whatsapp(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=2))
    agent = client_as(app, world.agent)
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages", json={"text": "Bom dia!"})
    assert r.status_code == 201, r.get_json()
    [message] = outgoing(app, world.ticket_id)
    assert message.text == "Bom dia!"
    assert [b["text"]["body"] for b in sent_to_whatsapp(provider)] == ["Bom dia!"]
    assert message.status == "sent" and message.external_id == "wamid.ENVIADA"


def test_chn4_closed_whatsapp_window_refuses_free_text_with_the_reason(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    agent = client_as(app, world.agent)
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages", json={"text": "Oi?"})
    assert r.status_code == 400
    assert "Fora da janela de 24 horas do WhatsApp" in r.get_json()["error"]
    assert "modelo aprovado" in r.get_json()["error"]
    assert outgoing(app, world.ticket_id) == []
    assert sent_to_whatsapp(provider) == []


def test_chn4_ticket_json_carries_the_window(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    agent = client_as(app, world.agent)
    window = agent.get(f"/inbox/api/tickets/{world.ticket_id}").get_json()["window"]
    assert window["applies"] is True and window["open"] is False
    assert window["mode"] == "templates" and window["provider_templates"] is True
    assert window["last_inbound_at"].endswith("Z")
    assert window["reason"].startswith("Fora da janela de 24 horas do WhatsApp")

    fresh = build(app, "whatsapp", "b", timedelta(minutes=5))
    other = client_as(app, fresh.agent)
    window = other.get(f"/inbox/api/tickets/{fresh.ticket_id}").get_json()["window"]
    assert window["open"] is True and window["reason"] is None and window["closes_at"]


def test_chn4_webchat_ticket_has_no_window(app, provider):
    world = build(app, "webchat", "a", None)
    agent = client_as(app, world.agent)
    window = agent.get(f"/inbox/api/tickets/{world.ticket_id}").get_json()["window"]
    assert window["applies"] is False and window["open"] is True


# --- CHN-4 / TPL-3: approved WhatsApp templates ---------------------------------------------


def test_tpl3_approved_templates_listed_with_the_contacts_first_name(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    approved = add_provider_template(app, world)
    add_provider_template(app, world, name="em_analise", status="PENDING")
    agent = client_as(app, world.agent)
    r = agent.get(f"/inbox/api/tickets/{world.ticket_id}/provider-templates")
    assert r.status_code == 200
    assert r.get_json()["templates"] == [{
        "id": approved, "name": "pedido_pronto", "language": "pt_BR", "category": "UTILITY",
        "body": BODY, "variables": 2, "prefill": ["Maria", ""]}]


def test_tpl3_approved_template_with_variables_is_queued_and_sent_as_template(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    template_id = add_provider_template(app, world)
    agent = client_as(app, world.agent)
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
             json={"provider_template_id": template_id, "variables": ["Maria", "A-123"]})
    assert r.status_code == 201, r.get_json()
    shown = r.get_json()["message"]
    assert shown["text"] == "Olá Maria, seu pedido A-123 está pronto para retirada."
    assert shown["extra"]["template"] == {"name": "pedido_pronto", "language": "pt_BR"}
    [message] = outgoing(app, world.ticket_id)
    assert message.extra["template"]["name"] == "pedido_pronto"
    assert message.extra["template"]["components"] == [{"type": "body", "parameters": [
        {"type": "text", "text": "Maria"}, {"type": "text", "text": "A-123"}]}]
    [body] = sent_to_whatsapp(provider)
    assert body["type"] == "template" and body["to"] == PHONE
    assert body["template"]["name"] == "pedido_pronto"


def test_tpl3_a_missing_variable_is_a_400_and_nothing_is_queued(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    template_id = add_provider_template(app, world)
    agent = client_as(app, world.agent)
    for variables in (["Maria"], ["Maria", "  "], ["", "A-123"]):
        r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
                 json={"provider_template_id": template_id, "variables": variables})
        assert r.status_code == 400, variables
        assert "Preencha a variável {{" in r.get_json()["error"]
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
             json={"provider_template_id": template_id, "variables": "Maria"})
    assert r.status_code == 400
    assert outgoing(app, world.ticket_id) == []
    assert sent_to_whatsapp(provider) == []


def test_tpl3_template_of_another_company_or_connection_is_404(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=25))
    stranger = build(app, "whatsapp", "b", timedelta(hours=25))
    theirs = add_provider_template(app, stranger)
    with app.app_context():
        second = gen_connection(world.company_id, "Outro número", kind="whatsapp")
        db.session.commit()
        second_id = second.id
    other_number = add_provider_template(app, world, connection_id=second_id)
    pending = add_provider_template(app, world, name="pendente", status="PENDING")
    agent = client_as(app, world.agent)
    for template_id in (theirs, other_number, pending, 999999):
        r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
                 json={"provider_template_id": template_id, "variables": ["Maria", "1"]})
        assert r.status_code == 404, template_id
        assert r.get_json()["error"] == "Modelo aprovado não encontrado."
    # and the other company's ticket is not listed to this agent either
    r = agent.get(f"/inbox/api/tickets/{stranger.ticket_id}/provider-templates")
    assert r.status_code == 404
    assert outgoing(app, world.ticket_id) == []


# --- TPL-3: Instagram (Meta) after the window ------------------------------------------------


def test_tpl3_instagram_closed_window_allows_its_kind_and_refuses_a_text_template(app, provider):
    world = build(app, "instagram", "a", timedelta(days=8))
    instagram = add_company_template(app, world, "instagram", "/retomar",
                                     "Oi {{nome_cliente}}, podemos continuar o atendimento?")
    text = add_company_template(app, world, "text", "/bomdia", "Bom dia!")
    agent = client_as(app, world.agent)

    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
             json={"template_id": text, "text": ""})
    assert r.status_code == 400
    assert "Fora da janela de atendimento deste canal" in r.get_json()["error"]
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages", json={"text": "Oi?"})
    assert r.status_code == 400
    assert outgoing(app, world.ticket_id) == []

    # typed words cannot ride on an allowed template: the template's own text goes
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages",
             json={"template_id": instagram, "text": "qualquer texto livre"})
    assert r.status_code == 201, r.get_json()
    [message] = outgoing(app, world.ticket_id)
    assert message.text == "Oi Maria Cliente A, podemos continuar o atendimento?"
    assert not (message.extra or {}).get("tag")


def test_tpl3_quick_replies_of_a_closed_instagram_window_are_its_kind_only(app, provider):
    world = build(app, "instagram", "a", timedelta(days=8))
    add_company_template(app, world, "instagram", "/retomar", "Podemos continuar?")
    add_company_template(app, world, "facebook", "/face", "Mensagem do Facebook")
    add_company_template(app, world, "text", "/bomdia", "Bom dia!")
    agent = client_as(app, world.agent)
    r = agent.get(f"/inbox/api/quick-replies?channel=1&q=&ticket={world.ticket_id}")
    assert [x["shortcut"] for x in r.get_json()["replies"]] == ["/retomar"]
    r = agent.get(f"/inbox/api/quick-replies?q=&ticket={world.ticket_id}")
    assert [x["shortcut"] for x in r.get_json()["replies"]] == ["/bomdia", "/retomar"]


def test_chn4_instagram_within_seven_days_goes_tagged_human_agent(app, provider):
    world = build(app, "instagram", "a", timedelta(days=3))
    agent = client_as(app, world.agent)
    window = agent.get(f"/inbox/api/tickets/{world.ticket_id}").get_json()["window"]
    assert window["open"] is True and window["mode"] == "human_agent"
    r = post(agent, f"/inbox/api/tickets/{world.ticket_id}/messages", json={"text": "Voltei!"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["message"]["extra"]["tag"] == "HUMAN_AGENT"
    [message] = outgoing(app, world.ticket_id)
    assert message.extra["tag"] == "HUMAN_AGENT"


# --- MSG-1, MSG-4: what a provider message carries, as data ------------------------------------


def test_msg_quoted_reply_location_contact_and_reaction_are_serialized(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=1))
    stranger = build(app, "whatsapp", "b", timedelta(hours=1))
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket_id)
        ours = tickets.receive(ticket, "Qual o horário de funcionamento da loja hoje?")
        theirs = db.session.scalar(select(Message.id).where(
            Message.ticket_id == stranger.ticket_id).limit(1))
        quoting = tickets.receive(ticket, "Essa mesma", extra={
            "reply_to": {"external_id": "wamid.X", "message_id": ours.id}})
        leaking = tickets.receive(ticket, "Outra", extra={
            "reply_to": {"external_id": "wamid.Y", "message_id": theirs}})
        neighbour = tickets.open_ticket(
            tickets.contact_for(ticket.connection, "5511900000000", "Outro Cliente"),
            ticket.connection, ticket.department)
        private = tickets.receive(neighbour, "Conversa de outro cliente")
        crossing = tickets.receive(ticket, "Cruzada", extra={
            "reply_to": {"external_id": "wamid.Z", "message_id": private.id}})
        place = tickets.receive(ticket, "Localização", extra={"location": {
            "latitude": -23.55052, "longitude": -46.633308,
            "name": "<b>Loja</b> Centro", "address": "Praça da Sé, 1"}})
        forged = tickets.receive(ticket, "Localização", extra={"location": {
            "latitude": "1&x=<script>", "longitude": 2}})
        card = tickets.receive(ticket, "Contato", extra={"contact": {
            "name": "João Silva", "phones": ["+55 11 91234-5678"]}})
        reaction = tickets.receive(ticket, "Reagiu", extra={"reaction": {
            "message_id": "wamid.X", "emoji": "👍"}})
        after_commit.commit()
        data = {m.id: serialize.message(m)["extra"] for m in (
            quoting, leaking, place, forged, card, reaction, crossing)}
        crossing_id = crossing.id
        ids = (ours.id, quoting.id, leaking.id, place.id, forged.id, card.id, reaction.id)

    assert data[ids[1]]["reply_to"] == {"found": True, "id": ids[0], "direction": "in",
                                        "text": "Qual o horário de funcionamento da loja hoje?"}
    # another company's or another contact's message id quoted: nothing of it comes out
    for leak in (ids[2], crossing_id):
        assert data[leak]["reply_to"] == {"found": False, "id": None, "text": None,
                                          "direction": None}
    location = data[ids[3]]["location"]
    assert location["url"] == ("https://www.openstreetmap.org/?mlat=-23.550520&mlon=-46.633308"
                               "#map=17/-23.550520/-46.633308")
    assert location["name"] == "<b>Loja</b> Centro"  # data, shown with textContent
    assert "location" not in data[ids[4]]
    assert data[ids[5]]["contacts"] == [{"name": "João Silva", "phones": ["+55 11 91234-5678"]}]
    assert data[ids[6]]["reaction"] == {"emoji": "👍", "removed": False}

    # the panel gets the same through the API
    agent = client_as(app, world.agent)
    shown = agent.get(f"/inbox/api/tickets/{world.ticket_id}").get_json()["messages"]
    by_id = {m["id"]: m for m in shown}
    assert by_id[ids[1]]["extra"]["reply_to"]["text"].startswith("Qual o horário")


def test_msg_long_quote_is_cut(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=1))
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket_id)
        long = tickets.receive(ticket, "x" * 500)
        quoting = tickets.receive(ticket, "isso", extra={"reply_to": {"message_id": long.id}})
        after_commit.commit()
        text = serialize.message(quoting)["extra"]["reply_to"]["text"]
    assert len(text) == serialize.QUOTE_CHARS and text.endswith("…")


def test_chn1_ticket_list_and_header_show_the_channel_kind_and_connection(app, provider):
    world = build(app, "whatsapp", "a", timedelta(hours=1))
    agent = client_as(app, world.agent)
    [row] = agent.get("/inbox/api/tickets").get_json()["tickets"]
    assert row["connection"]["kind_short"] == "WhatsApp"
    assert row["connection"]["name"] == "Loja A"
    detail = agent.get(f"/inbox/api/tickets/{world.ticket_id}").get_json()
    assert detail["ticket"]["connection"]["kind_short"] == "WhatsApp"
    assert detail["ticket"]["connection"]["name"] == "Loja A"


def test_msg_a_pages_quotes_are_read_in_one_query_with_the_same_answers(app, provider):
    """MSG-1: the conversation page reads the messages its replies quote in one query
    (not one per quoting message), and the batch keeps the one-by-one rule: a quote of
    another contact's message shows nothing of it."""
    from sqlalchemy import event

    world = build(app, "whatsapp", "a", timedelta(hours=1))
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket_id)
        originals = [tickets.receive(ticket, f"Pergunta {n}") for n in range(3)]
        neighbour = tickets.open_ticket(
            tickets.contact_for(ticket.connection, "5511900000001", "Outro Cliente"),
            ticket.connection, ticket.department)
        private = tickets.receive(neighbour, "Conversa de outro cliente")
        page = [tickets.receive(ticket, f"Resposta {n}", extra={
            "reply_to": {"message_id": original.id}}) for n, original in enumerate(originals)]
        page.append(tickets.receive(ticket, "Cruzada", extra={
            "reply_to": {"message_id": private.id}}))
        after_commit.commit()
        one_by_one = [serialize.message(m)["extra"]["reply_to"] for m in page]
        statements = []
        listen = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            quotes = serialize.quoted_messages(page)
            batched = [serialize.message(m, quotes=quotes)["extra"]["reply_to"] for m in page]
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
    assert len([s for s in statements if "message" in s.lower()]) == 1
    assert batched == one_by_one
    assert [q["text"] for q in batched] == ["Pergunta 0", "Pergunta 1", "Pergunta 2", None]
