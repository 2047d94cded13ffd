"""A web process works on a bounded number of requests at once (issue 17, overload;
SCL-3; web/admission.py): the next ones wait their turn, and one that waits
WEB_QUEUE_SECONDS is answered 503 with Retry-After and the busy message in Portuguese,
having done nothing (nothing stored, no database connection taken). Socket.IO and static
files are never held back. Here the process has two request slots, both taken, as two
slow requests would take them."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from backoffice.extensions import db
from backoffice.web.admission import Admission
from tests.test_overload import BUSY, _messages, callers


@pytest.fixture
def app_config(app_config, request):
    extra = dict(getattr(request, "param", {}))
    options = {**app_config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
               **extra.pop("SQLALCHEMY_ENGINE_OPTIONS", {})}
    return {**app_config, "WEB_MAX_REQUESTS": 2, "WEB_QUEUE_SECONDS": 0.2,
            "SQLALCHEMY_ENGINE_OPTIONS": options, **extra}


def test_SCL_3_past_the_process_s_requests_at_once_a_503_to_retry_that_did_nothing(
        app, webchat_world, caplog):
    world = webchat_world
    admission = app.wsgi_app
    assert isinstance(admission, Admission) and admission.limit == 2
    visitor, token, agent, integration, before = callers(app, world)
    token = {"X-Visitor-Token": token}
    said = {"text": "Ainda estou aqui", "client_id": "msg-busy-1"}
    caplog.set_level(logging.WARNING)

    taken = [admission._slots.acquire(timeout=1) for _ in range(2)]
    assert taken == [True, True]
    try:
        started = time.monotonic()
        r = visitor.post(f"/widget/{world.key}/api/messages", json=said, headers=token)
        waited = time.monotonic() - started
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.get_json() == {"error": BUSY, "status": 503}
        assert waited >= 0.15  # it waited its turn before being refused
        # SEC-8 on an answer built outside the app's dispatch too; the widget may be framed
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors" not in r.headers["Content-Security-Policy"]

        page = agent.get("/inbox/")
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert BUSY in page.get_data(as_text=True)
        assert page.headers["X-Frame-Options"] == "DENY"

        api = integration.get("/api/v1/contacts/")
        assert api.status_code == 503 and api.headers["Retry-After"] == "1"
        assert api.get_json()["title"] == "Servidor ocupado"

        # never held back: the agents' live connection and the pages' static files
        assert agent.get("/static/inbox/inbox.css").status_code == 200
        handshake = agent.get("/socket.io/?EIO=4&transport=polling")
        assert handshake.status_code == 200 and b'"sid"' in handshake.data
    finally:
        for _ in taken:
            admission._slots.release()

    assert admission.refused == 3
    busy_lines = [r for r in caplog.records if "Servidor ocupado" in r.getMessage()]
    assert len(busy_lines) == 1  # one line per minute, with the count, not one per request
    assert "unhandled error" not in caplog.text
    with app.app_context():
        assert _messages() == before  # nothing of the refused message was stored

    # the widget's resend, same client id: stored once
    for _attempt in range(2):
        again = visitor.post(f"/widget/{world.key}/api/messages", json=said, headers=token)
        assert again.status_code == 201, again.get_json()
    with app.app_context():
        assert _messages() == before + 1


@pytest.mark.parametrize("app_config", [{"WEB_QUEUE_SECONDS": 10.0}], indirect=True)
def test_SCL_3_a_request_that_finds_every_slot_taken_waits_its_turn(app, webchat_world):
    """Within WEB_QUEUE_SECONDS a request is served when a slot frees, not refused; while
    it waits it has done nothing."""
    world = webchat_world
    admission = app.wsgi_app
    visitor, token, _agent, _integration, before = callers(app, world)
    token = {"X-Visitor-Token": token}
    answers = []
    for _ in range(2):
        assert admission._slots.acquire(timeout=1)
    waiting = threading.Thread(target=lambda: answers.append(visitor.post(
        f"/widget/{world.key}/api/messages", json={"text": "Na fila", "client_id": "msg-queue-1"},
        headers=token)))
    waiting.start()
    try:
        time.sleep(0.4)
        assert waiting.is_alive() and not answers
        with app.app_context():
            assert _messages() == before
            db.session.remove()
    finally:
        admission._slots.release()
    waiting.join(timeout=10)
    admission._slots.release()
    assert [a.status_code for a in answers] == [201]
    assert admission.refused == 0
    with app.app_context():
        assert _messages() == before + 1


def test_SCL_3_a_request_that_fails_gives_its_slot_back(app):
    def failing(environ, start_response):
        raise RuntimeError("view failed")

    def fine(environ, start_response):
        start_response("204 No Content", [])
        return [b""]

    admission = Admission(app, failing, limit=1, wait=0.1)
    environ = {"PATH_INFO": "/inbox/", "REQUEST_METHOD": "GET"}
    for _ in range(3):
        with pytest.raises(RuntimeError):
            admission(environ, lambda *a: None)
    admission.wsgi_app = fine
    statuses = []
    assert admission(environ, lambda status, headers: statuses.append(status)) == [b""]
    assert statuses == ["204 No Content"] and admission.refused == 0


@pytest.mark.parametrize("app_config", [{"WEB_MAX_REQUESTS": 0}], indirect=True)
def test_SCL_3_no_limit_when_web_max_requests_is_zero(app):
    admission = app.wsgi_app
    assert admission.limit is None and admission._slots is None
    assert app.test_client().get("/login").status_code == 200


@pytest.mark.parametrize("app_config", [
    {"WEB_MAX_REQUESTS": None, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3}}], indirect=True)
def test_SCL_3_unset_as_many_requests_at_once_as_the_pool_keeps_connections(app):
    """A request beyond the pool's kept connections would wait for one, or make the pool
    open one more and close it when returned (DB_POOL_SIZE)."""
    assert app.wsgi_app.limit == 3
