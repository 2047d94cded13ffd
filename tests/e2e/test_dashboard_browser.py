"""PAU-4 in a real browser: the manager's dashboard follows the queue live. A visitor's
first message through the website chat (the widget's HTTP API) makes "Aguardando" go up
without a reload; an agent accepting it through the inbox API makes "Aguardando" go down
and "Em andamento" up."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

import backoffice.realtime  # noqa: F401  (socket handlers registered before any app exists)
from backoffice.extensions import db
from backoffice.models import Ticket
from tests.conftest import client_as, post
from tests.e2e.screens import save_screenshot
from tests.e2e.steps import conversation_starts_unheard, record_errors
from tests.factories import PASSWORD

MANAGER = "admin-wa@example.com"  # company A's admin of the webchat world: sees every department


def open_dashboard(page, live_server, log_in):
    """The manager's home, its socket connected; returns the "Aguardando" figure."""
    log_in(page, MANAGER, PASSWORD)
    page.goto(f"{live_server}/admin/")
    page.wait_for_function("() => window.atendeHomeSocket && window.atendeHomeSocket.connected")
    return page.get_by_test_id("counter-waiting").locator("dd")


def test_PAU_4_dashboard_counters_follow_a_webchat_ticket_live(app, webchat_world, live_server,
                                                               page, log_in):
    world = webchat_world
    errors: list[str] = []
    record_errors(page, errors)
    waiting = open_dashboard(page, live_server, log_in)
    in_progress = page.get_by_test_id("counter-in-progress").locator("dd")
    expect(waiting).to_have_text("0")
    expect(in_progress).to_have_text("0")

    visitor = app.test_client()
    started = visitor.post(f"/widget/{world.key}/api/start",
                           json={"text": "Oi, quero um orçamento",
                                 "department_id": world.departments["support"]})
    assert started.status_code == 201, started.get_json()
    expect(waiting).to_have_text("1")
    expect(page.get_by_test_id("counter-received-today").locator("dd")).to_have_text("1")
    expect(page.get_by_test_id("dashboard-departments").locator("tr", has_text="Suporte")
           .locator("td").first).to_have_text("1")

    with app.app_context():
        ticket_id = db.session.scalar(select(Ticket.id).where(
            Ticket.connection_id == world.connection_id))
        db.session.remove()
    agent = client_as(app, world.agents["support"])
    accepted = post(agent, f"/inbox/api/tickets/{ticket_id}/accept")
    assert accepted.status_code == 200, accepted.get_json()
    expect(waiting).to_have_text("0")
    expect(in_progress).to_have_text("1")
    save_screenshot(page, "dashboard")
    assert errors == []


def test_SCL_2_told_to_fetch_again_the_dashboard_counts_what_lost_pushes_carried(
        app, webchat_world, live_server, page, log_in, monkeypatch):
    """A conversation starts while the pushes between the server's processes are lost (a
    Redis outage: the dashboard's socket stays connected, nothing reaches it). When the
    server tells the page to fetch again (realtime/pubsub.py) "Aguardando" counts it,
    without waiting for the periodic refresh."""
    from backoffice.extensions import socketio
    from backoffice.realtime.pubsub import RESYNC_EVENT

    world = webchat_world
    errors: list[str] = []
    record_errors(page, errors)
    waiting = open_dashboard(page, live_server, log_in)
    expect(waiting).to_have_text("0")
    page.wait_for_timeout(1200)  # the fetch the page makes when its socket connects is done

    conversation_starts_unheard(app, world, monkeypatch)
    page.wait_for_timeout(1500)
    expect(waiting).to_have_text("0")

    socketio.emit(RESYNC_EVENT, {}, namespace="/")
    expect(waiting).to_have_text("1")
    assert errors == []
