"""A WhatsApp conversation in real Chromium (CHN-1, CHN-2, CHN-3, CHN-4, TPL-3, MSG-1,
RTM-1): `flask channels simulate whatsapp` posts a signed Cloud API webhook to the live
server; the agent, with the inbox open, sees the customer's message arrive without a
reload, answers in the composer, the fake provider (pytest-httpserver) receives the text
at POST /{phone_number_id}/messages, and the signed "read" receipt turns the message's
icon to read. After 24 hours the composer offers only the approved templates. Quoted
replies, locations and contact cards render as text (MSG-5)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import ContactAddress, Message, Ticket
from backoffice.models.base import utcnow
from backoffice.models.channels import Connection, ProviderTemplate
from backoffice.models.tickets import OUT
from backoffice.services import tickets
from tests.e2e.steps import open_inbox
from tests.factories import gen_agent_setup

PHONE_NUMBER_ID = "1001"
CUSTOMER = "5511987654321"
WAMID = "wamid.RESPOSTA-DO-ATENDENTE"
BODY = "Olá {{1}}, seu pedido {{2}} está pronto."


@pytest.fixture
def whatsapp(app, httpserver):
    """A WhatsApp connection whose Cloud API is the local fake; its agent's e-mail and
    the ids the test needs."""
    app.config["WHATSAPP_API_URL"] = httpserver.url_for("/v21.0")
    httpserver.expect_request(f"/v21.0/{PHONE_NUMBER_ID}/messages", method="POST") \
        .respond_with_json({"messaging_product": "whatsapp",
                            "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
                            "messages": [{"id": WAMID}]})
    with app.app_context():
        setup = gen_agent_setup(kind="whatsapp", key="w")
        connection = db.session.get(Connection, setup.connection.id)
        connection.name = "Loja Centro"
        connection.settings = {"phone_number_id": PHONE_NUMBER_ID, "waba_id": "2002"}
        connection.credentials = json.dumps({"access_token": "token-de-teste",
                                             "app_secret": "segredo-do-app",
                                             "verify_token": "verifica"})
        db.session.commit()
        found = {"agent": setup.agent.email, "connection_id": connection.id,
                 "ticket_id": setup.ticket.id}
        db.session.remove()
    return found


def sent_texts(httpserver) -> list[dict]:
    return [json.loads(request.get_data()) for request, _response in httpserver.log
            if request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"]


def simulate(app, live_server, connection_id: int, *args: str) -> None:
    """`flask channels simulate whatsapp ...` against the live server."""
    result = app.test_cli_runner().invoke(args=[
        "channels", "simulate", "whatsapp", "--connection", str(connection_id),
        "--from", CUSTOMER, "--base-url", live_server, *args])
    assert result.exit_code == 0, result.output
    assert "Resposta: 200" in result.output, result.output


def test_chn2_msg1_whatsapp_message_live_answer_reaches_provider_and_read_receipt_shows(
        app, page, live_server, log_in, whatsapp, httpserver):
    errors: list[str] = []
    open_inbox(page, live_server, log_in, whatsapp["agent"], errors)
    expect(page.locator(".ticket-row")).to_have_count(1)  # the agent's earlier ticket

    # the customer writes on WhatsApp: a new ticket appears without a reload
    simulate(app, live_server, whatsapp["connection_id"], "--text", "<b>Oi</b>, meu pedido chegou?",
             "--name", "Joana Cliente")
    row = page.locator(".ticket-row", has_text="Joana Cliente")
    expect(row).to_have_count(1)
    expect(row.locator(".ticket-preview")).to_have_text("<b>Oi</b>, meu pedido chegou?")
    badge = row.locator(".channel-badge")  # CHN-1: the kind and the connection's name
    expect(badge).to_have_attribute("data-channel", "whatsapp")
    expect(badge).to_have_text("WhatsApp · Loja Centro")

    row.click()
    expect(page.locator("#conv-channel .channel-badge")).to_have_text("WhatsApp · Loja Centro")
    expect(page.locator(".msg-in .msg-text")).to_have_text(["<b>Oi</b>, meu pedido chegou?"])
    expect(page.locator(".msg-in b")).to_have_count(0)  # customer text stays text
    expect(page.locator("#window-banner")).to_be_hidden()  # the window is open (CHN-4)

    # the agent accepts and answers in the composer
    page.locator("#btn-accept").click()
    expect(page.locator("#btn-accept")).to_be_hidden()
    page.locator("#composer-text").fill("Chegou sim, Joana! Pode retirar hoje.")
    page.locator("#btn-send").click()
    answer = page.locator(".msg-out", has_text="Chegou sim, Joana! Pode retirar hoje.")
    expect(answer.locator(".msg-status")).to_have_attribute("data-status", "sent")
    assert [(b["to"], b["type"], b["text"]["body"]) for b in sent_texts(httpserver)] == [
        (CUSTOMER, "text", "Chegou sim, Joana! Pode retirar hoje.")]

    # WhatsApp reports the customer read it: the icon turns to read, live
    simulate(app, live_server, whatsapp["connection_id"], "--status", "read", "--message", WAMID)
    expect(answer.locator(".msg-status")).to_have_attribute("data-status", "read")
    expect(answer.locator(".msg-status")).to_have_text("✓✓")
    assert errors == []


def test_chn4_tpl3_after_24_hours_only_an_approved_template_goes(
        app, page, live_server, log_in, whatsapp, httpserver):
    with app.app_context():
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == whatsapp["connection_id"]))
        address.address = CUSTOMER
        address.last_inbound_at = utcnow() - timedelta(hours=25)
        db.session.add(ProviderTemplate(
            company_id=address.company_id, connection_id=whatsapp["connection_id"],
            name="pedido_pronto", language="pt_BR", category="UTILITY", status="APPROVED",
            body=BODY, variables=2, components=[{"type": "BODY", "text": BODY}]))
        db.session.commit()
        db.session.remove()
    errors: list[str] = []
    open_inbox(page, live_server, log_in, whatsapp["agent"], errors)
    page.locator(".ticket-row").click()

    banner = page.locator("#window-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Fora da janela de 24 horas do WhatsApp")
    expect(banner).to_contain_text("O cliente escreveu pela última vez há 25 hora(s).")
    expect(page.locator("#composer-text")).to_be_disabled()
    expect(page.locator("#btn-attach")).to_be_disabled()
    expect(page.locator("#btn-send")).to_be_disabled()

    picker = page.locator("#provider-templates")
    expect(picker).to_be_visible()
    page.get_by_label("Modelos aprovados").select_option(label="pedido_pronto (pt_BR) · UTILITY")
    expect(page.get_by_label("Variável {{1}}")).to_have_value("Maria")  # the contact's first name
    expect(page.locator("#pt-send")).to_be_disabled()  # {{2}} still empty
    page.get_by_label("Variável {{2}}").fill("A-123")
    expect(page.locator("#pt-preview")).to_have_text("Olá Maria, seu pedido A-123 está pronto.")
    page.locator("#pt-send").click()

    sent = page.locator(".msg-out", has_text="Olá Maria, seu pedido A-123 está pronto.")
    expect(sent.locator(".msg-template-badge")).to_have_text("Modelo WhatsApp: pedido_pronto (pt_BR)")
    expect(sent.locator(".msg-status")).to_have_attribute("data-status", "sent")
    [body] = sent_texts(httpserver)
    assert body["type"] == "template" and body["template"]["name"] == "pedido_pronto"
    assert body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Maria"}, {"type": "text", "text": "A-123"}]
    with app.app_context():
        assert db.session.scalar(select(Message.text).where(
            Message.direction == OUT, Message.ticket_id == whatsapp["ticket_id"])) == \
            "Olá Maria, seu pedido A-123 está pronto."
    assert errors == []


def test_msg5_quoted_reply_location_and_contact_card_render_as_text(
        app, page, live_server, log_in, whatsapp):
    """What a WhatsApp message carries besides its text shows in the panel, every
    customer string as text; the map link is built from the two coordinates only."""
    xss = "<img src=x onerror=alert(1)>"
    with app.app_context():
        ticket = db.session.get(Ticket, whatsapp["ticket_id"])
        quoted = tickets.receive(ticket, f"Pedido {xss}")
        tickets.receive(ticket, "Esse aí", extra={
            "reply_to": {"external_id": "wamid.Q", "message_id": quoted.id}})
        tickets.receive(ticket, "Localização", extra={"location": {
            "latitude": -23.55052, "longitude": -46.633308, "name": xss,
            "address": "Praça da Sé, 1"}})
        tickets.receive(ticket, "Contato", extra={"contact": {
            "name": xss, "phones": ["+55 11 91234-5678"]}})
        after_commit.commit()
        db.session.remove()
    errors: list[str] = []
    open_inbox(page, live_server, log_in, whatsapp["agent"], errors)
    page.locator(".ticket-row").click()

    quote = page.locator(".msg", has_text="Esse aí").locator(".msg-quote")
    expect(quote.locator(".msg-quote-author")).to_have_text("Em resposta a: Cliente")
    expect(quote.locator(".msg-quote-text")).to_have_text(f"Pedido {xss}")
    place = page.locator(".msg-location")
    expect(place.locator(".msg-location-name")).to_have_text(xss)
    expect(place.locator(".msg-location-address")).to_have_text("Praça da Sé, 1")
    expect(place.locator("a")).to_have_attribute(
        "href", "https://www.openstreetmap.org/?mlat=-23.550520&mlon=-46.633308"
                "#map=17/-23.550520/-46.633308")
    card = page.locator(".msg-contact-card")
    expect(card.locator(".msg-contact-name")).to_have_text(xss)
    expect(card.locator(".msg-contact-phones")).to_have_text("+55 11 91234-5678")
    expect(page.locator("#message-list img")).to_have_count(0)
    assert errors == []
