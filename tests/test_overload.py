"""A web process out of database connections (issue 17, bad input; SCL-3): under an
overload every connection of the process's pool can stay busy for the pool's whole wait.
What the visitor, the agent and an integration get then is a 503 with Retry-After and a
message in Portuguese (the widget sends the message again with the same client id, and
it is stored once), never a 500, and no "unhandled error" in the log.

The pool here holds one connection and waits 0.3 s for it; the test holds that
connection, as a crowd of slower requests would."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Message
from tests.conftest import client_as
from tests.factories.api import ApiClient, gen_api_token

BUSY = "O servidor está ocupado. Tente de novo em instantes."


@pytest.fixture
def app_config(app_config):
    options = {**app_config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
               "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.3}
    return {**app_config, "SQLALCHEMY_ENGINE_OPTIONS": options}


def _messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Message))


def callers(app, world):
    """A visitor with a conversation (its client and token header), an agent's client, an
    integration's API client, and the messages stored so far."""
    visitor = app.test_client()
    started = visitor.post(f"/widget/{world.key}/api/start", json={
        "department_id": world.departments["support"], "text": "Olá", "client_id": "start-0001"})
    assert started.status_code == 201, started.get_json()
    agent = client_as(app, world.agents["support"])
    with app.app_context():
        integration = ApiClient(app, gen_api_token(db.session.get(Company, world.company_id)))
        db.session.commit()
        before = _messages()
        db.session.remove()
    return visitor, started.get_json()["token"], agent, integration, before


def test_SCL_3_no_free_database_connection_is_a_503_to_retry_never_a_500(
        app, webchat_world, caplog):
    world = webchat_world
    visitor, token, agent, integration, before = callers(app, world)

    said = {"text": "Ainda estou aqui", "client_id": "msg-overload-1"}
    caplog.set_level(logging.WARNING)
    with app.app_context():
        held = db.engine.connect()  # the pool's only connection, busy
        try:
            r = visitor.post(f"/widget/{world.key}/api/messages", json=said,
                             headers={"X-Visitor-Token": token})
            assert r.status_code == 503 and r.headers["Retry-After"] == "1"
            assert r.get_json() == {"error": BUSY, "status": 503}

            page = agent.get("/inbox/")  # the agent's user is loaded from the database
            assert page.status_code == 503 and page.headers["Retry-After"] == "1"
            assert page.mimetype == "text/html"
            assert BUSY in page.get_data(as_text=True)

            api = integration.get("/api/v1/contacts/")
            assert api.status_code == 503 and api.headers["Retry-After"] == "1"
            assert api.get_json()["title"] == "Servidor ocupado"
        finally:
            held.close()
    assert "unhandled error" not in caplog.text
    assert caplog.text.count("no free database connection on") == 3

    # the widget's resend, same client id: stored once
    for _attempt in range(2):
        again = visitor.post(f"/widget/{world.key}/api/messages", json=said,
                             headers={"X-Visitor-Token": token})
        assert again.status_code == 201, again.get_json()
    with app.app_context():
        assert _messages() == before + 1
