"""PNL-1 in a real browser: the TV panel opened by its link follows the queue live, and
revoking the link stops it at once (the page says so and shows no numbers any more)."""
from __future__ import annotations

from playwright.sync_api import expect

import backoffice.realtime  # noqa: F401  (socket handlers registered before any app exists)
from backoffice.extensions import db
from backoffice.models import PanelKey
from backoffice.reports import panel
from tests.e2e.screens import save_screenshot
from tests.e2e.steps import conversation_starts_unheard, record_errors
from tests.factories import gen_panel_key


def test_PNL_1_tv_panel_follows_the_queue_and_stops_when_revoked(app, webchat_world, live_server,
                                                                  page):
    world = webchat_world
    with app.app_context():
        key, raw = gen_panel_key(world.company_id)
        db.session.commit()
        key_id = key.id
    errors: list[str] = []
    record_errors(page, errors)
    page.goto(f"{live_server}/tv/{raw}")
    waiting = page.locator('[data-total="waiting"]')
    expect(waiting).to_have_text("0")

    visitor = app.test_client()
    started = visitor.post(f"/widget/{world.key}/api/start",
                           json={"text": "Meu nome é Cliente Secreto",
                                 "department_id": world.departments["support"]})
    assert started.status_code == 201, started.get_json()
    expect(waiting).to_have_text("1")  # live: no reload
    assert "Cliente Secreto" not in page.content()  # no customer text on a wall
    save_screenshot(page, "tv-panel")

    with app.app_context():
        panel.revoke(db.session.get(PanelKey, key_id))
        db.session.commit()
        db.session.remove()
    gone = page.locator("#tv-gone")
    expect(gone).to_be_visible()
    expect(gone).to_contain_text("revogado")
    expect(page.locator("#tv-grid")).to_be_hidden()
    assert errors == []


def test_SCL_2_told_to_fetch_again_the_tv_panel_counts_what_lost_pushes_carried(
        app, webchat_world, live_server, page, monkeypatch):
    """A conversation starts while the pushes between the server's processes are lost (a
    Redis outage: the panel's socket stays connected, nothing reaches it). When the
    server tells the panel to fetch again (realtime/pubsub.py) it counts the new ticket,
    without waiting for its periodic refresh."""
    import time

    from backoffice.extensions import socketio
    from backoffice.realtime.panel import NAMESPACE
    from backoffice.realtime.pubsub import RESYNC_EVENT

    world = webchat_world
    with app.app_context():
        _key, raw = gen_panel_key(world.company_id)
        db.session.commit()
    errors: list[str] = []
    record_errors(page, errors)
    fetched: list[str] = []  # the panel's data requests: one at start, one when its socket connects
    page.on("response", lambda r: fetched.append(r.url)
            if r.request.resource_type == "fetch" else None)
    page.goto(f"{live_server}/tv/{raw}")
    waiting = page.locator('[data-total="waiting"]')
    expect(waiting).to_have_text("0")
    deadline = time.time() + 8
    while len(fetched) < 2 and time.time() < deadline:
        page.wait_for_timeout(50)
    assert len(fetched) >= 2, f"the panel's socket never connected: {fetched}"

    conversation_starts_unheard(app, world, monkeypatch)
    page.wait_for_timeout(1500)
    expect(waiting).to_have_text("0")

    socketio.emit(RESYNC_EVENT, {}, namespace=NAMESPACE)
    expect(waiting).to_have_text("1")
    assert errors == []
