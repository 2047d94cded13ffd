"""SCL-2 / RTM-1: what meets a database restart (or failover) is tried again, and then
works; nothing waits for an answer that never comes or for the next sweep.

- sockets (backoffice/realtime/failures.py): a connect is refused with "retry" and the
  page connects again; an event answers "retry" and the page sends it again; a
  disconnect, which nobody can send again, is handled once more by the server; never a
  socket left connected with no room;
- jobs of a standalone worker (backoffice/jobs/runner.app_job): run once more at once
  after a lost connection, and again after short waits while the database is down.

The restart is tests.conftest.lose_the_pools_connections: the connections the pool keeps
are ended under it (PostgreSQL) or closed (SQLite), so the next statement of whoever
takes one fails as it would after a real restart. The pages' side (they connect again
by themselves) is in tests/e2e/test_inbox_browser.py and tests/e2e/test_webchat_browser.py;
the HTTP side (a 503 to send again) in tests/test_webchat.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.channels.webchat.adapter import NAMESPACE as WEBCHAT
from backoffice.extensions import db, socketio
from backoffice.lib import after_commit
from backoffice.models import Message, Ticket, User
from backoffice.realtime.names import department_room
from backoffice.realtime.panel import NAMESPACE as PANEL
from backoffice.services import presence, sending, tickets
from tests.factories import gen_panel_key
from tests.conftest import lose_the_pools_connections
from tests.test_webchat import new_visitor

RETRY = {"message": "retry", "data": {"retry": True}}


@pytest.fixture
def world(webchat_world):
    return webchat_world


@pytest.fixture
def refusals(monkeypatch):
    """The data of every connect refusal the server sends from now on."""
    from socketio import packet

    seen = []
    base = socketio.server.packet_class

    class Recorded(base):
        def __init__(self, packet_type=packet.EVENT, data=None, *args, **kwargs):
            if packet_type == packet.CONNECT_ERROR:
                seen.append(data)
            super().__init__(packet_type, data, *args, **kwargs)

    monkeypatch.setattr(socketio.server, "packet_class", Recorded)
    return seen


def _restart_database(app) -> None:
    with app.app_context():
        assert lose_the_pools_connections(db.engine) >= 2


def _ticket_id(app) -> int:
    with app.app_context():
        found = db.session.scalar(select(Ticket.id))
        db.session.remove()
    return found


def _reply(app, ticket_id: int, text: str) -> None:
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == "suporte@example.com"))
        sending.queue(db.session.get(Ticket, ticket_id), agent, text)
        after_commit.commit()
        db.session.remove()


def test_RTM_1_SCL_2_an_agents_connect_after_a_database_restart_is_refused_to_retry_then_joins(
        app, client, world, socket_for, refusals):
    """Before: the connect raised, python-socketio answered nothing, and the inbox page
    waited for ever, hearing nothing."""
    new_visitor(client, world)
    agent = socket_for(world.agents["support"], drain=True)
    agent.disconnect()

    _restart_database(app)
    agent.connect()
    assert not agent.is_connected()
    assert refusals == [RETRY]

    agent.connect()
    assert agent.is_connected()
    hello = [e for e in agent.get_received() if e["name"] == "hello"]
    assert department_room(world.departments["support"]) in hello[0]["args"][0]["rooms"]
    with app.app_context():  # its department's news reach it again
        ticket = db.session.get(Ticket, _ticket_id(app))
        tickets.receive(ticket, "Mais uma pergunta")
        after_commit.commit()
        db.session.remove()
    assert "ticket.updated" in [e["name"] for e in agent.get_received()]


def test_RTM_1_SCL_2_opening_a_conversation_during_a_database_restart_answers_retry_then_joins(
        app, client, world, socket_for):
    """Before: `ticket.join` raised and its ack never came, so the open conversation
    never joined its room and the customer's next messages did not show."""
    new_visitor(client, world)
    ticket_id = _ticket_id(app)
    agent = socket_for(world.agents["support"], drain=True)

    _restart_database(app)
    assert agent.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": False, "retry": True}
    assert agent.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": True}
    agent.get_received()
    with app.app_context():
        tickets.receive(db.session.get(Ticket, ticket_id), "Ainda está aí?")
        after_commit.commit()
        db.session.remove()
    assert "message.created" in [e["name"] for e in agent.get_received()]


def test_CHN_5_SCL_2_a_visitors_connect_after_a_database_restart_is_refused_to_retry_then_joins(
        app, client, world, refusals):
    """Before: the webchat's own error handler returned a value, which python-socketio
    takes as an accepted connect: the chat showed connected, in no room, and the agent's
    replies never reached it."""
    token = new_visitor(client, world)["token"]
    _restart_database(app)
    visitor = socketio.test_client(app, namespace=WEBCHAT, auth={"key": world.key, "token": token})
    try:
        assert not visitor.is_connected(WEBCHAT)
        assert refusals == [RETRY]
        visitor.connect(namespace=WEBCHAT, auth={"key": world.key, "token": token})
        assert visitor.is_connected(WEBCHAT)
        visitor.get_received(WEBCHAT)
        _reply(app, _ticket_id(app), "Estamos aqui")
        texts = [e["args"]["text"] for e in visitor.get_received(WEBCHAT) if e["name"] == "message"]
        assert texts == ["Estamos aqui"]
    finally:
        if visitor.is_connected(WEBCHAT):
            visitor.disconnect(WEBCHAT)


def test_PNL_1_SCL_2_a_tv_panels_connect_after_a_database_restart_is_refused_to_retry(
        app, world, socket_for, refusals):
    with app.app_context():
        _key, raw = gen_panel_key(world.company_id, "TV do corredor")
        db.session.commit()
    _restart_database(app)
    panel = socket_for(namespace=PANEL, auth={"key": raw})
    assert not panel.is_connected(PANEL)
    assert refusals == [RETRY]
    panel.connect(namespace=PANEL, auth={"key": raw})
    assert panel.is_connected(PANEL)


def _status_of(app, email: str) -> str:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        status = presence.current_status(user)["status"]
        db.session.remove()
    return status


def test_PAU_4_SCL_2_an_agent_who_leaves_during_a_database_restart_is_not_left_online(
        app, world, socket_for):
    """A disconnect has no client to send it again: the server tries its handler once
    more, on a new connection. Before, the presence session stayed open and managers saw
    the agent "Disponível" until the agent's next login, up to 12 hours later."""
    email = world.agents["support"]
    agent = socket_for(email, drain=True)
    assert _status_of(app, email) == presence.ONLINE
    _restart_database(app)
    agent.disconnect()
    assert _status_of(app, email) == presence.OFFLINE


def test_RTM_1_a_bug_in_a_socket_event_is_refused_plainly_and_logged(
        app, client, world, socket_for, refusals, monkeypatch, caplog):
    """Not the database: no retry offered (it would fail the same way), the trace logged;
    a connect is refused, not accepted with no room."""
    from backoffice.channels.webchat import visitor as rules

    token = new_visitor(client, world)["token"]
    ticket_id = _ticket_id(app)
    agent = socket_for(world.agents["support"], drain=True)

    def broken(*_args, **_kwargs):
        raise KeyError("defeito")

    monkeypatch.setattr(rules, "find_visitor", broken)
    visitor = socketio.test_client(app, namespace=WEBCHAT, auth={"key": world.key, "token": token})
    assert not visitor.is_connected(WEBCHAT)
    assert refusals == [{"message": "Connection rejected by server"}]
    monkeypatch.setattr("backoffice.services.visibility.find_ticket", broken)
    assert agent.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": False}
    failed = [r for r in caplog.records if r.name == "backoffice.realtime.failures"]
    assert len(failed) == 2 and all(r.exc_info for r in failed)


def _queued_for_a_worker(app, monkeypatch, text: str) -> int:
    """The support agent's reply `text` on the ticket, saved as queued; its job is left to
    a standalone worker, whose app is this one. Returns the message's id."""
    from backoffice.jobs import runner
    from backoffice.models.tickets import QUEUED

    monkeypatch.setattr(sending, "enqueue", lambda _message_id: True)
    with app.app_context():
        agent = db.session.scalar(select(User).where(User.email == "suporte@example.com"))
        ticket = db.session.scalar(select(Ticket))
        message_id = sending.queue(ticket, agent, text).id
        after_commit.commit()
        assert db.session.get(Message, message_id).status == QUEUED
        db.session.remove()
    monkeypatch.setattr(runner, "_worker_app", app)
    return message_id


def test_CHN_3_SCL_2_a_delivery_job_that_meets_a_database_restart_sends_at_once(
        app, client, world, monkeypatch, caplog):
    """A standalone worker's job (no app context of its own) whose first statement meets a
    connection from before the restart runs once more on a new one: the reply goes out
    now. Before, the job failed and the message waited, queued, for the sweep (up to a
    minute and a half)."""
    from backoffice.jobs.sending import deliver
    from backoffice.models.tickets import SENT

    token = new_visitor(client, world)["token"]
    message_id = _queued_for_a_worker(app, monkeypatch, "Já volto")
    _restart_database(app)

    assert deliver(message_id) == "sent"
    with app.app_context():
        assert db.session.get(Message, message_id).status == SENT
        db.session.remove()
    texts = [m["text"] for m in client.get(f"/widget/{world.key}/api/conversation",
                                           headers={"X-Visitor-Token": token}).get_json()["messages"]]
    assert texts.count("Já volto") == 1
    assert [r.getMessage() for r in caplog.records if r.name == "backoffice.jobs.runner"] == [
        "job deliver: database not available (lost), tried again in 0.0 s"]


@pytest.fixture
def database_down(app):
    """database_down(True): no new connection can be opened, as while the database
    restarts (the pool's are dropped, so every request needs one); False: back."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    dbapi = engine.dialect.loaded_dbapi

    def refused(*_args):
        # raised where opening a connection fails, before any statement (psycopg's own
        # connect is not reached on the services backend: its tests keep connections)
        raise dbapi.OperationalError("connection failed: the database system is shutting down")

    def switch(down: bool) -> None:
        engine.dispose()
        if down:
            event.listen(engine, "connect", refused)
        elif event.contains(engine, "connect", refused):
            event.remove(engine, "connect", refused)

    yield switch
    switch(False)


def test_SCL_2_while_the_database_is_down_pages_get_a_503_and_sockets_are_asked_to_retry(
        app, client, world, socket_for, refusals, database_down):
    """The seconds a restart lasts: nothing can connect. A request is answered the busy 503
    (the widget sends again, with the same client id), not 500 "Erro interno"; a socket's
    connect is refused with "retry" (the page waits longer after each refusal), not for
    good; and once the database is back both go through."""
    token = new_visitor(client, world)["token"]
    agent = socket_for(world.agents["support"], drain=True)
    agent.disconnect()
    body = {"text": "Enviada com o banco fora", "client_id": "cid-banco-fora"}

    database_down(True)
    r = client.post(f"/widget/{world.key}/api/messages", json=body,
                    headers={"X-Visitor-Token": token})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["error"] == "O servidor está ocupado. Tente de novo em instantes."
    agent.connect()
    assert not agent.is_connected()
    assert refusals == [RETRY]

    database_down(False)
    again = client.post(f"/widget/{world.key}/api/messages", json=body,
                        headers={"X-Visitor-Token": token})
    assert again.status_code == 201
    agent.connect()
    assert agent.is_connected()


def test_API_1_SCL_2_an_api_call_that_meets_a_database_restart_is_a_503_to_retry(app, world):
    """The API's routes answer every exception themselves (problem documents), so they
    need the same rule: a 503 problem with Retry-After, not a 500."""
    from backoffice.models import Company
    from tests.factories import ApiClient, gen_api_token

    with app.app_context():
        raw = gen_api_token(db.session.get(Company, world.company_id), name="ERP")
        db.session.commit()
    api = ApiClient(app, raw)
    assert api.get("/api/v1/contacts/").status_code == 200
    _restart_database(app)
    r = api.get("/api/v1/contacts/")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["title"] == "Servidor ocupado"
    assert api.get("/api/v1/contacts/").status_code == 200


def test_CHN_3_SCL_2_a_delivery_job_that_finds_the_database_down_waits_for_it(
        app, client, world, monkeypatch, database_down):
    """A restart lasts seconds: a standalone worker's job that cannot connect waits a
    little (runner.DATABASE_WAITS) and tries again, and the reply goes out as soon as the
    database is back. Before, it failed and the message waited, queued, for the sweep."""
    import threading

    from backoffice.jobs.sending import deliver
    from backoffice.models.tickets import SENT

    new_visitor(client, world)
    message_id = _queued_for_a_worker(app, monkeypatch, "Voltei")
    database_down(True)
    back = threading.Timer(1.2, database_down, (False,))
    back.start()
    try:
        assert deliver(message_id) == "sent"
    finally:
        back.join()
    with app.app_context():
        assert db.session.get(Message, message_id).status == SENT
        db.session.remove()
