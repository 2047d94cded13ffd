"""The issue's two-page scenario in real Chromium (CHN-5, RTM-1, TKT-3, MSG-1, MSG-4,
MSG-5): a visitor on a shop's page writes in the widget; an agent in /inbox sees the
ticket appear without reloading, accepts and answers; the visitor sees the answer live;
the delivery status reaches the agent; HTML typed by the visitor stays text on both
sides; no console errors."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from backoffice.extensions import db

from tests.e2e.steps import pushes_lost, visitor_writes
from tests.factories import PASSWORD

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def world(webchat_world):
    return webchat_world


def watch_errors(page, errors):
    # a failed resource is logged by the console without its URL: record the URL
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))


def test_visitor_writes_agent_sees_live_accepts_answers_and_visitor_sees_it(
        app, browser, page, shop, world, live_server, log_in, console_errors):
    # the agent, in a browser context of their own (their own cookies)
    agent_context = browser.new_context(locale="pt-BR")
    agent = agent_context.new_page()
    agent.set_default_timeout(8_000)
    agent_errors: list[str] = []
    watch_errors(agent, agent_errors)
    log_in(agent, world.agents["support"], PASSWORD)
    agent.goto(f"{live_server}/inbox/")
    expect(agent.locator("#filter-view-all")).to_be_visible()
    expect(agent.locator(".ticket-row")).to_have_count(0)
    agent.wait_for_function("() => window.io && document.readyState === 'complete'")

    # the visitor, on the shop's page (another origin) with the one script tag
    chat = visitor_writes(page, shop, world.key, XSS, name="Maria Visitante")
    expect(chat.locator(".wc-msg.wc-mine .wc-text")).to_have_text(XSS)

    # the agent sees it arrive without reloading, as text
    row = agent.locator(".ticket-row")
    expect(row).to_have_count(1)
    expect(row.locator(".ticket-contact")).to_have_text("Maria Visitante")
    expect(row.locator(".ticket-preview")).to_have_text(XSS)
    row.click()
    incoming = agent.locator(".msg .msg-text")
    expect(incoming).to_have_text([XSS])
    expect(agent.locator(".msg img")).to_have_count(0)
    expect(agent.locator(".msg .msg-channel").first).to_contain_text("Webchat")  # MSG-4

    # accept and answer
    agent.locator("#btn-accept").click()
    expect(agent.locator("#btn-accept")).to_be_hidden()
    agent.locator("#composer-text").fill("Olá, Maria! Como posso ajudar?")
    agent.locator("#btn-send").click()
    answer = agent.locator(".msg", has_text="Olá, Maria! Como posso ajudar?")
    expect(answer).to_have_count(1)

    # the visitor sees the answer live, and the agent sees it was delivered / read
    theirs = chat.locator(".wc-msg:not(.wc-mine) .wc-text")
    expect(theirs).to_have_text(["Olá, Maria! Como posso ajudar?"])
    expect(answer.locator(".msg-status")).to_have_attribute("data-status", "read")

    # the visitor writes again: it appears in the open conversation at once
    chat.locator("#wc-text").fill("Meu óculos quebrou")
    chat.locator("#wc-text").press("Enter")
    expect(agent.locator(".msg .msg-text", has_text="Meu óculos quebrou")).to_have_count(1)

    assert console_errors == []
    assert [e for e in agent_errors if not e.endswith("/favicon.ico")] == []
    agent_context.close()


def test_agent_of_another_department_does_not_see_the_visitors_ticket(
        app, browser, page, shop, world, live_server, log_in):
    """RTM-1 in the browser: the Vendas agent's inbox stays empty while a Suporte ticket
    arrives, live or on reload."""
    other_context = browser.new_context(locale="pt-BR")
    seller = other_context.new_page()
    log_in(seller, world.agents["sales"], PASSWORD)
    seller.goto(f"{live_server}/inbox/")
    seller.wait_for_function("() => window.io && document.readyState === 'complete'")

    visitor_writes(page, shop, world.key, "Só para o suporte")

    seller.wait_for_timeout(1000)
    expect(seller.locator(".ticket-row")).to_have_count(0)
    seller.reload()
    seller.wait_for_load_state("networkidle")
    expect(seller.locator(".ticket-row")).to_have_count(0)
    other_context.close()


def _new_ticket(app, world, address: str, name: str, text: str) -> None:
    """A new ticket of contact `name` in Suporte with `text`, as an inbound message makes
    it (its events go out after the commit)."""
    with app.app_context():
        from backoffice.lib import after_commit
        from backoffice.models import Connection, Department
        from backoffice.services import tickets

        connection = db.session.get(Connection, world.connection_id)
        department = db.session.get(Department, world.departments["support"])
        ticket = tickets.open_ticket(tickets.contact_for(connection, address, name),
                                     connection, department)
        tickets.receive(ticket, text)
        after_commit.commit()
        db.session.remove()


def _empty_inbox_offline(page, world, live_server, log_in) -> None:
    """The support agent's inbox open, empty, then its connection down (_network_drops)."""
    log_in(page, world.agents["support"], PASSWORD)
    page.goto(f"{live_server}/inbox/")
    page.wait_for_function("() => window.atendeInboxSocket && window.atendeInboxSocket.connected")
    expect(page.locator(".ticket-row")).to_have_count(0)
    _network_drops(page)


def _network_drops(page) -> None:
    """The agent's connection goes down, and stays down until _network_back."""
    page.evaluate("() => { const s = window.atendeInboxSocket;"
                  " s.io.reconnection(false); s.io.engine.close(); }")
    page.wait_for_function("() => !window.atendeInboxSocket.connected")


def _network_back(page) -> None:
    page.evaluate("() => { const s = window.atendeInboxSocket;"
                  " s.io.reconnection(true); s.connect(); }")


def test_RTM_1_after_a_lost_connection_the_page_fetches_what_it_missed(
        app, page, webchat_world, live_server, log_in):
    """While the agent's connection is down a ticket arrives (its event is lost); when
    the connection comes back the list is fetched again and the ticket is there."""
    # the network drops (no automatic reconnection until we say so)
    _empty_inbox_offline(page, webchat_world, live_server, log_in)
    expect(page.locator("#connection-state")).to_be_visible()

    # its event goes out to nobody: the agent is disconnected
    _new_ticket(app, webchat_world, "visitante-offline", "Rosa Offline",
                "Chegou enquanto você estava sem conexão")
    page.wait_for_timeout(300)
    expect(page.locator(".ticket-row")).to_have_count(0)

    _network_back(page)
    row = page.locator(".ticket-row")
    expect(row).to_have_count(1)
    expect(row.locator(".ticket-contact")).to_have_text("Rosa Offline")
    expect(page.locator("#connection-state")).to_be_hidden()


def test_RTM_1_SCL_2_after_a_database_restart_the_page_connects_again_by_itself(
        app, page, webchat_world, live_server, log_in):
    """The database restarts while the agent's connection is down: the first connect
    meets a connection from before and is refused with "retry" (realtime/failures.py);
    the page connects again by itself (realtime/socket.js), fetches what it missed and
    hears what comes next. Before, that connect got no answer at all and the page stayed
    on "reconnecting" until a reload."""
    from tests.conftest import lose_the_pools_connections

    _empty_inbox_offline(page, webchat_world, live_server, log_in)

    _new_ticket(app, webchat_world, "durante-o-reinicio", "Sara Reinício", "Chegou no reinício")
    with app.app_context():
        assert lose_the_pools_connections(db.engine) >= 2
    _network_back(page)

    rows = page.locator(".ticket-row .ticket-contact")
    expect(rows).to_have_text(["Sara Reinício"], timeout=10_000)
    expect(page.locator("#connection-state")).to_be_hidden()
    _new_ticket(app, webchat_world, "depois-do-reinicio", "Davi Depois", "E agora?")
    expect(rows).to_have_count(2)


def test_SCL_3_a_list_the_server_was_too_busy_for_is_asked_again_without_an_alert(
        app, page, webchat_world, live_server, log_in, monkeypatch):
    """Every request slot of the process taken (an overload, or a database restart: the
    same 503 with Retry-After): the list the page fetches after a reconnect is asked
    again by the page itself, waiting a little longer each time, and shows once the
    server can answer; no alert for something that solved itself. Before, the page said
    "O servidor está ocupado..." and kept the old list until something else refreshed it."""
    _empty_inbox_offline(page, webchat_world, live_server, log_in)
    _new_ticket(app, webchat_world, "no-pico", "Paula Pico", "Chegou num pico")

    admission = app.wsgi_app
    monkeypatch.setattr(admission, "wait", 0.2)
    held = [admission._slots.acquire(timeout=5) for _ in range(admission.limit)]
    assert all(held)
    refused_before = admission.refused
    try:
        _network_back(page)  # the socket itself is not a request slot's business
        page.wait_for_function("() => window.atendeInboxSocket.connected")
        deadline = time.time() + 5
        while admission.refused == refused_before and time.time() < deadline:
            time.sleep(0.05)
        assert admission.refused > refused_before, "the list was never asked for"
    finally:
        for _ in held:
            admission._slots.release()
    expect(page.locator(".ticket-row .ticket-contact")).to_have_text(["Paula Pico"],
                                                                     timeout=8_000)
    expect(page.locator("#inbox-alert .alert")).to_have_count(0)


def test_SCL_2_told_to_fetch_again_the_page_shows_what_lost_pushes_carried(
        app, page, webchat_world, live_server, log_in, monkeypatch):
    """A ticket arrives while the pushes between the server's processes are lost (a
    Redis outage: the agent's socket stays connected, nothing reaches it). When the
    server tells the page to fetch again (realtime/pubsub.py, after Redis is back) the
    list shows the ticket, without a reload."""
    from backoffice.extensions import socketio
    from backoffice.realtime.pubsub import RESYNC_EVENT

    log_in(page, webchat_world.agents["support"], PASSWORD)
    page.goto(f"{live_server}/inbox/")
    page.wait_for_function("() => window.atendeInboxSocket && window.atendeInboxSocket.connected")
    expect(page.locator(".ticket-row")).to_have_count(0)
    page.wait_for_timeout(500)  # the list the page fetched when it opened is in

    with app.app_context(), pushes_lost(monkeypatch):
        from backoffice.lib import after_commit
        from backoffice.models import Connection, Department
        from backoffice.services import tickets

        connection = db.session.get(Connection, webchat_world.connection_id)
        department = db.session.get(Department, webchat_world.departments["support"])
        contact = tickets.contact_for(connection, "visitante-sem-redis", "Rita Sem Redis")
        ticket = tickets.open_ticket(contact, connection, department)
        tickets.receive(ticket, "Chegou enquanto o Redis estava fora")
        after_commit.commit()
        db.session.remove()
    page.wait_for_timeout(500)
    expect(page.locator(".ticket-row")).to_have_count(0)
    assert page.evaluate("() => window.atendeInboxSocket.connected")

    expect(page.locator("#view-unread-all")).to_be_hidden()

    socketio.emit(RESYNC_EVENT, {}, namespace="/")
    row = page.locator(".ticket-row")
    expect(row).to_have_count(1)
    expect(row.locator(".ticket-contact")).to_have_text("Rita Sem Redis")
    expect(page.locator("#view-unread-all")).to_have_text("1 1 não lida(s)")  # UX-1's counters
    expect(page.locator("#connection-state")).to_be_hidden()
