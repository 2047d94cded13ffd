"""Steps several browser tests share: an agent's inbox page, open and connected, a
visitor's first message through the website widget, and pushes lost as during a Redis
outage."""
from __future__ import annotations

from contextlib import contextmanager

from playwright.sync_api import expect

from tests.factories import PASSWORD


def record_errors(page, errors: list[str]) -> None:
    """Page errors and console errors (not failed resources) go to `errors`."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)


def open_inbox(page, live_server, log_in, email: str, errors: list[str]) -> None:
    """Log `email` in and open the inbox, its socket connected."""
    record_errors(page, errors)
    log_in(page, email, PASSWORD)
    page.goto(f"{live_server}/inbox/")
    page.wait_for_function("() => window.atendeInboxSocket && window.atendeInboxSocket.connected")


def visitor_writes(page, shop, key: str, text: str, department: str = "Suporte",
                   name: str | None = None):
    """On the shop's page, open the widget of connection `key` and send `text` to
    `department`; returns the widget's frame once the message shows there."""
    shop(key)
    page.locator("#atende-bubble").click()
    chat = page.frame_locator("#atende-frame")
    if name is not None:
        chat.locator("#wc-name").fill(name)
    chat.locator("#wc-department").select_option(label=department)
    chat.locator("#wc-text").fill(text)
    chat.locator("#wc-send").click()
    expect(chat.locator(".wc-msg.wc-mine")).to_have_count(1)
    return chat


@contextmanager
def pushes_lost(monkeypatch):
    """Inside the block no live push reaches any socket, as when Redis is down for the
    sockets of another process: their pages stay connected and hear nothing."""
    from backoffice.extensions import socketio

    with monkeypatch.context() as lost:
        lost.setattr(socketio, "emit", lambda *args, **kwargs: None)
        yield


def conversation_starts_unheard(app, world, monkeypatch, text: str = "Durante a queda") -> None:
    """A visitor of the webchat world starts a conversation in Suporte, its pushes lost;
    then the page under test is given time to (not) show it."""
    with pushes_lost(monkeypatch):
        started = app.test_client().post(f"/widget/{world.key}/api/start",
                                         json={"text": text,
                                               "department_id": world.departments["support"]})
        assert started.status_code == 201, started.get_json()
