"""RTM-1 / SCL-2: a socket that meets a database restart is told to try again, and then
works; it is never left connected with no room, nor waiting for an answer that never
comes (backoffice/realtime/failures.py).

The restart is tests.conftest.lose_the_pools_connections: the connections the pool keeps
are ended under it (PostgreSQL) or closed (SQLite), so the next statement of whoever
takes one fails as it would after a real restart. The pages' side of
it (they connect again by themselves) is in tests/e2e/test_inbox_browser.py and
tests/e2e/test_webchat_browser.py.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.channels.webchat.adapter import NAMESPACE as WEBCHAT
from backoffice.extensions import db, socketio
from backoffice.lib import after_commit
from backoffice.models import Ticket, User
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
