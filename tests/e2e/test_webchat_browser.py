"""CHN-5 in a real browser: a shop's page (another origin) with the one script tag shows
the bubble; the visitor picks a department and writes; the agent's answer arrives live
(RTM-1) and is acknowledged as read; a reload resumes the conversation; HTML typed by the
visitor shows as text (MSG-5); a flood is refused in Portuguese with the text kept; no
console errors anywhere."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Connection, Message, Ticket, User
from backoffice.models.tickets import READ
from backoffice.services import sending, tickets
from backoffice.lib import after_commit
from tests.e2e.steps import pushes_lost, visitor_writes
from tests.factories import WEBCHAT_PNG as PNG

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def world(webchat_world):
    return webchat_world


def _reply(app, text):
    with app.app_context():
        ticket = db.session.scalar(select(Ticket))
        agent = db.session.scalar(select(User).where(User.email == "suporte@example.com"))
        message = sending.queue(ticket, agent, text)
        after_commit.commit()
        message_id = message.id
        db.session.remove()
    return message_id


def _status(app, message_id):
    with app.app_context():
        status = db.session.get(Message, message_id).status
        db.session.remove()
    return status


def test_CHN_5_RTM_1_MSG_5_visitor_and_agent_talk_live(app, page, shop, world, console_errors):
    shop(world.key)
    bubble = page.locator("#atende-bubble")
    expect(bubble).to_be_visible()
    assert bubble.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(170, 51, 102)"
    expect(page.locator("#atende-frame")).to_be_hidden()
    bubble.click()
    expect(page.locator("#atende-frame")).to_be_visible()
    chat = page.frame_locator("#atende-frame")

    expect(chat.locator(".wc-greeting")).to_have_text("Olá! Como podemos ajudar?")
    options = chat.locator("#wc-department option").all_inner_texts()
    assert options[1:] == ["Vendas", "Suporte"]
    chat.locator("#wc-text").fill("Sem departamento")
    chat.locator("#wc-send").click()
    expect(chat.locator("#wc-alert")).to_have_text("Escolha o departamento")
    expect(chat.locator("#wc-text")).to_have_value("Sem departamento")

    chat.locator("#wc-name").fill("Maria Visitante")
    chat.locator("#wc-department").select_option(label="Suporte")
    chat.locator("#wc-text").fill(XSS)
    chat.locator("#wc-send").click()
    mine = chat.locator(".wc-msg.wc-mine .wc-text")
    expect(mine).to_have_text(XSS)           # the literal characters, not an image
    expect(chat.locator(".wc-msg img")).to_have_count(0)
    expect(chat.locator("#wc-alert")).to_be_hidden()
    expect(chat.locator("#wc-department")).to_be_hidden()
    expect(chat.locator("#wc-text")).to_have_value("")

    answer = _reply(app, "Olá, Maria! Em que posso ajudar?")
    theirs = chat.locator(".wc-msg:not(.wc-mine)")
    expect(theirs.locator(".wc-text")).to_have_text("Olá, Maria! Em que posso ajudar?")
    expect(theirs.locator(".wc-author")).to_have_text("Ana Suporte")
    deadline = time.time() + 5
    while _status(app, answer) != READ and time.time() < deadline:
        time.sleep(0.1)
    assert _status(app, answer) == READ   # open and visible: read receipt

    chat.locator("#wc-text").fill("Obrigada!")
    chat.locator("#wc-text").press("Enter")  # Enter sends
    expect(mine).to_have_count(2)

    page.reload()                            # the conversation survives a reload
    chat = page.frame_locator("#atende-frame")
    expect(page.locator("#atende-frame")).to_be_visible()  # it was open: it reopens
    expect(chat.locator(".wc-msg .wc-text")).to_have_text(
        [XSS, "Olá, Maria! Em que posso ajudar?", "Obrigada!"])
    expect(chat.locator("#wc-department")).to_be_hidden()
    assert console_errors == []


def test_CHN_5_flood_is_refused_in_portuguese_and_the_text_stays(app, page, shop, world,
                                                                 console_errors):
    app.config["WEBCHAT_RATE_LIMIT"] = "1/60"
    shop(world.key)
    page.locator("#atende-bubble").click()
    chat = page.frame_locator("#atende-frame")
    chat.locator("#wc-department").select_option(label="Vendas")
    chat.locator("#wc-text").fill("Primeira")
    chat.locator("#wc-send").click()
    expect(chat.locator(".wc-msg.wc-mine")).to_have_count(1)
    chat.locator("#wc-text").fill("Segunda")
    chat.locator("#wc-send").click()
    expect(chat.locator(".wc-msg.wc-mine")).to_have_count(2)
    chat.locator("#wc-text").fill("Terceira, rápido demais")
    chat.locator("#wc-send").click()
    expect(chat.locator("#wc-alert")).to_have_text(
        "Muitas mensagens em pouco tempo. Aguarde alguns segundos e tente de novo.")
    expect(chat.locator("#wc-text")).to_have_value("Terceira, rápido demais")
    expect(chat.locator(".wc-msg.wc-mine")).to_have_count(2)
    # a 429 is logged by the browser as a failed resource; nothing else may be
    assert [e for e in console_errors if "429" not in e] == []


def test_CHN_5_unknown_key_draws_no_bubble(page, shop, world, console_errors):
    warnings = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    shop("chave-que-nao-existe")
    page.wait_for_timeout(1500)
    expect(page.locator("#atende-bubble")).to_have_count(0)
    assert any("chat indisponível" in w for w in warnings), warnings


def test_CHN_5_attachment_and_a_new_conversation_after_the_ticket_is_finished(
        app, page, shop, world, console_errors, tmp_path):
    shop(world.key)
    page.locator("#atende-bubble").click()
    chat = page.frame_locator("#atende-frame")
    chat.locator("#wc-department").select_option(label="Suporte")
    chat.locator("#wc-text").fill("Segue o comprovante")
    photo = tmp_path / "comprovante.png"
    photo.write_bytes(PNG)
    chat.locator("#wc-file").set_input_files(str(photo))
    expect(chat.locator("#wc-file-name")).to_have_text("comprovante.png")
    # the frame's socket connects after the first message and then reads the conversation
    # once; wait for that, so the frame learns of the closing below only by writing again
    with page.expect_response(lambda r: r.url.endswith("/api/conversation")):
        chat.locator("#wc-send").click()
    expect(chat.locator(".wc-msg.wc-mine .wc-file-link")).to_contain_text("comprovante.png")
    expect(chat.locator("#wc-file-chip")).to_be_hidden()

    with app.app_context():  # the agent finishes the ticket
        ticket = db.session.scalar(select(Ticket))
        agent = db.session.scalar(select(User).where(User.email == "suporte@example.com"))
        tickets.close(ticket, agent)
        after_commit.commit()
        db.session.remove()

    chat.locator("#wc-text").fill("Mais uma dúvida")
    chat.locator("#wc-send").click()
    expect(chat.locator("#wc-alert")).to_have_text(
        "Seu atendimento foi finalizado. Escolha um departamento para iniciar um novo.")
    expect(chat.locator("#wc-text")).to_have_value("Mais uma dúvida")   # nothing lost
    expect(chat.locator("#wc-department")).to_be_visible()
    expect(chat.locator("#wc-name")).to_be_hidden()                     # already known
    chat.locator("#wc-department").select_option(label="Vendas")
    chat.locator("#wc-send").click()
    expect(chat.locator(".wc-msg.wc-mine .wc-text").last).to_have_text("Mais uma dúvida")
    expect(chat.locator("#wc-department")).to_be_hidden()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)) == 2
        db.session.remove()
    # a 409 is logged by the browser as a failed resource; nothing else may be
    assert [e for e in console_errors if "409" not in e] == []


def test_UX_2_phone_widget_send_button_uncovered_title_whole_reopen_shows_newest(
        app, page, shop, world, console_errors):
    """UX-2 at 390×844: the open chat is full-screen and the launcher bubble steps aside,
    so it never covers the send button; the title is never cut by the protocol; closed
    and reopened, the chat shows the newest message."""
    long_title = "Fale com a Loja Alfa Eletrodomésticos"
    with app.app_context():  # a title that fills the header once the protocol is shown
        db.session.get(Connection, world.connection_id).widget_title = long_title
        db.session.commit()
        db.session.remove()
    page.set_viewport_size({"width": 390, "height": 844})
    chat = visitor_writes(page, shop, world.key, "Oi, pelo celular")
    expect(chat.locator("#wc-protocol")).to_be_visible()  # the ticket's protocol is shown

    # what is drawn at the send button's centre is the button: in the page, the chat's
    # frame (not the bubble); in the frame, the button itself
    frame = page.locator("#atende-frame").element_handle().content_frame()
    box = chat.locator("#wc-send").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    assert page.evaluate("([x, y]) => document.elementFromPoint(x, y).id", [x, y]) == "atende-frame"
    assert frame.evaluate("""() => {
        const send = document.getElementById("wc-send"), r = send.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return send === hit || send.contains(hit);
    }""")
    title = chat.locator("#wc-title")
    expect(title).to_have_text(long_title)
    assert title.evaluate("t => t.scrollWidth <= t.clientWidth && t.clientWidth > 0")

    # closed with the chat's own ×, answers arrive; reopened, the newest one is in view
    chat.locator("#wc-close").click()
    expect(page.locator("#atende-frame")).to_be_hidden()
    for n in range(1, 9):
        _reply(app, f"Resposta {n}\numa linha\noutra linha\nmais uma linha")
    expect(chat.locator(".wc-msg .wc-text").last).to_contain_text("Resposta 8")
    expect(page.locator("#atende-badge")).to_have_text("8")
    page.locator("#atende-bubble").click()
    expect(page.locator("#atende-frame")).to_be_visible()
    expect(page.locator("#atende-bubble")).to_be_hidden()
    frame.wait_for_function("""() => {
        const list = document.getElementById("wc-messages");
        const last = list.querySelector(".wc-msg:last-child");
        const a = list.getBoundingClientRect(), b = last.getBoundingClientRect();
        return list.scrollHeight > list.clientHeight + 100
            && b.top >= a.top - 1 && b.bottom <= a.bottom + 1;
    }""")
    assert console_errors == []


def test_SCL_2_told_to_fetch_again_the_visitor_sees_a_reply_whose_push_was_lost(
        app, page, shop, world, console_errors, monkeypatch):
    """The agent answers while the pushes between the server's processes are lost (a
    Redis outage: the visitor's socket stays connected, nothing reaches it). When the
    server tells the chat to fetch again (realtime/pubsub.py, once Redis is back) the
    answer shows, without a reload."""
    from backoffice.channels.webchat.adapter import NAMESPACE
    from backoffice.extensions import socketio
    from backoffice.realtime.pubsub import RESYNC_EVENT

    chat = visitor_writes(page, shop, world.key, "Alguém me responde?")
    deadline = time.time() + 8
    while not socketio.server.manager.rooms.get(NAMESPACE) and time.time() < deadline:
        time.sleep(0.05)
    assert socketio.server.manager.rooms.get(NAMESPACE), "the chat's socket never connected"
    page.wait_for_timeout(500)  # the fetch the chat makes when its socket connects is in

    with pushes_lost(monkeypatch):
        _reply(app, "Respondido durante a queda")
    page.wait_for_timeout(500)
    theirs = chat.locator(".wc-msg:not(.wc-mine) .wc-text")
    expect(theirs).to_have_count(0)

    fetches: list[str] = []
    page.on("request", lambda r: fetches.append(r.url) if r.method == "GET"
            and r.url.endswith("/api/conversation") else None)
    # told twice (the process's own listener back on Redis, then another process that
    # could not publish): one fetch, planned at the first and covering both
    socketio.emit(RESYNC_EVENT, {}, namespace=NAMESPACE)
    socketio.emit(RESYNC_EVENT, {}, namespace=NAMESPACE)
    # the chat waits up to 5 s before it fetches (frame.js): thousands hear it at once
    expect(theirs).to_have_text(["Respondido durante a queda"], timeout=10_000)
    page.wait_for_timeout(5_500)  # any second fetch would have come by now
    assert len(fetches) == 1, fetches
    assert console_errors == []


_TRANSPORT_400 = "Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"


def test_CHN_5_SCL_2_after_a_database_restart_the_chat_connects_again_and_hears_the_reply(
        app, page, shop, world, console_errors):
    """The chat's connection drops and the database restarts meanwhile: its reconnect
    meets a connection from before and is refused with "retry" (realtime/failures.py); the
    chat connects again by itself (realtime/socket.js) and the agent's reply shows live.
    Before, that connect was accepted with no room joined: the chat looked connected and
    the reply never came."""
    from tests.conftest import lose_the_pools_connections

    chat = visitor_writes(page, shop, world.key, "Tem alguém aí?")
    frame = page.locator("#atende-frame").element_handle().content_frame()
    frame.wait_for_function("() => window.atendeChatSocket && window.atendeChatSocket.connected")
    page.wait_for_timeout(500)  # the fetch the chat makes when its socket connects is in
    assert console_errors == []
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status >= 400 else None)

    # the network drops (no automatic reconnection until we say so)
    frame.evaluate("() => { const s = window.atendeChatSocket;"
                   " s.io.reconnection(false); s.io.engine.close(); }")
    frame.wait_for_function("() => !window.atendeChatSocket.connected")
    with app.app_context():
        assert lose_the_pools_connections(db.engine) >= 2
    frame.evaluate("() => { const s = window.atendeChatSocket; s.io.reconnection(true); s.connect(); }")
    frame.wait_for_function("() => window.atendeChatSocket.connected", timeout=10_000)
    page.wait_for_timeout(500)  # the fetch the chat makes when its socket connects is in
    # What the cut itself may leave in the browser's log: the transport it closed
    # answered 400 for a poll still on its way, or a WebSocket broken mid-frame. Nothing
    # else, and nothing from the pages themselves.
    assert all("/socket.io/" in url for url in refused), refused
    assert all(e.startswith("WebSocket connection to") or e == _TRANSPORT_400
               for e in console_errors), console_errors
    seen = len(console_errors)

    _reply(app, "Voltamos, pode falar")
    theirs = chat.locator(".wc-msg:not(.wc-mine) .wc-text")
    expect(theirs).to_have_text(["Voltamos, pode falar"])
    assert console_errors[seen:] == []


def test_SCL_3_an_overloaded_server_is_asked_again_and_the_message_arrives_once(
        app, page, shop, world, console_errors):
    """Every request slot of the process taken (web/admission.py): the visitor's message
    is answered 503 with Retry-After; the widget says so and sends it again by itself,
    with the same client id, and once a slot frees it arrives, stored once."""
    admission = app.wsgi_app
    shop(world.key)
    page.locator("#atende-bubble").click()
    chat = page.frame_locator("#atende-frame")
    chat.locator("#wc-department").select_option(label="Suporte")
    chat.locator("#wc-text").fill("Chegou numa hora de pico")
    admission.wait = 0.2
    held = [admission._slots.acquire(timeout=5) for _ in range(admission.limit)]
    assert all(held)
    try:
        chat.locator("#wc-send").click()
        expect(chat.locator("#wc-alert")).to_have_text("O servidor está ocupado. Tentando de novo…")
        expect(chat.locator("#wc-text")).to_have_value("Chegou numa hora de pico")
        assert admission.refused >= 1
    finally:
        for _ in held:
            admission._slots.release()
    expect(chat.locator(".wc-msg.wc-mine .wc-text")).to_have_text(["Chegou numa hora de pico"])
    expect(chat.locator("#wc-alert")).to_be_hidden()
    expect(chat.locator("#wc-text")).to_have_value("")
    with app.app_context():
        texts = db.session.scalars(select(Message.text)).all()
        db.session.remove()
    assert texts.count("Chegou numa hora de pico") == 1
    # a 503 is logged by the browser as a failed resource; nothing else may be
    assert [e for e in console_errors if "503" not in e] == []
