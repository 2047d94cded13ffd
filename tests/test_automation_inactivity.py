"""Inactivity auto-close (AUT-4, DEP-5): exactly at the configured minute, separately for
the queue and for tickets in progress, postponed by the customer's messages, recorded
as automatic; a chatbot's ticket is left to the flow."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from backoffice.automation import timers
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Ticket, TicketEvent
from backoffice.models.automation import Flow, FlowRun, FlowVersion
from backoffice.models.tickets import AUTHOR_SYSTEM, CLOSED, OPEN, WAITING
from backoffice.services import tickets as ticket_rules
from tests.factories import gen_agent_setup, gen_inbound, sent_texts

START = datetime(2026, 12, 1, 12, 0)


@pytest.fixture
def desk(app, timeline):
    """Company i: Suporte closes the queue after 30 minutes and tickets in progress after
    60, each with its message; its agent's accepted ticket (customer wrote at 12:00)."""
    with app.app_context():
        setup = gen_agent_setup(key="i")
        department = setup.department
        department.close_queue_after_minutes = 30
        department.close_queue_message = "Encerrado na fila, {{nome_cliente}}."
        department.close_in_progress_after_minutes = 60
        department.close_in_progress_message = "Encerrado por inatividade ({{protocolo}})."
        timers.reschedule(setup.ticket)
        db.session.commit()
        yield setup


def _inbound(setup, text="Oi", address="cliente-fila") -> Ticket:
    message = gen_inbound(setup.connection, text, address, setup.department)
    return db.session.get(Ticket, message.ticket_id)


def _tick_at(timeline, at: datetime) -> None:
    timeline.set(at)
    timers.tick()
    db.session.expire_all()


def _system_texts(ticket) -> list[str]:
    return sent_texts(ticket, AUTHOR_SYSTEM)


def test_DEP_5_queue_ticket_closes_at_the_exact_minute(desk, timeline):
    ticket = _inbound(desk)
    assert ticket.status == WAITING and ticket.due_at == datetime(2026, 12, 1, 12, 30)
    _tick_at(timeline, datetime(2026, 12, 1, 12, 29))
    assert db.session.get(Ticket, ticket.id).status == WAITING
    _tick_at(timeline, datetime(2026, 12, 1, 12, 30))
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == CLOSED and ticket.closed_at == datetime(2026, 12, 1, 12, 30)
    assert _system_texts(ticket) == [f"Encerrado na fila, {ticket.contact.name}."]
    closed = db.session.scalar(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                                         TicketEvent.kind == "closed"))
    assert closed.user_id is None
    assert closed.data["automatic"] is True and closed.data["source"] == "Inatividade"


def test_DEP_5_a_customer_message_postpones_the_close(desk, timeline):
    ticket = _inbound(desk)
    timeline.set(datetime(2026, 12, 1, 12, 20))
    ticket = _inbound(desk, "Ainda estou aqui")
    assert ticket.due_at == datetime(2026, 12, 1, 12, 50)
    _tick_at(timeline, datetime(2026, 12, 1, 12, 30))
    assert db.session.get(Ticket, ticket.id).status == WAITING
    _tick_at(timeline, datetime(2026, 12, 1, 12, 50))
    assert db.session.get(Ticket, ticket.id).status == CLOSED


def test_DEP_5_in_progress_minutes_count_from_the_customer(desk, timeline):
    """The accepted ticket uses the in-progress minutes (60), not the queue's (30)."""
    ticket = db.session.get(Ticket, desk.ticket.id)
    assert ticket.status == OPEN and ticket.due_at == datetime(2026, 12, 1, 13, 0)
    _tick_at(timeline, datetime(2026, 12, 1, 12, 59))
    assert db.session.get(Ticket, ticket.id).status == OPEN
    timeline.set(datetime(2026, 12, 1, 12, 59, 30))
    ticket = _inbound(desk, "Oi de novo", address="cliente-1")  # the same ticket
    assert ticket.id == desk.ticket.id and ticket.due_at == datetime(2026, 12, 1, 13, 59, 30)
    _tick_at(timeline, datetime(2026, 12, 1, 13, 59, 30))
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.status == CLOSED
    assert _system_texts(ticket)[-1] == f"Encerrado por inatividade ({ticket.protocol})."


def test_DEP_5_counts_from_acceptance_when_the_customer_did_not_write_since(desk, timeline):
    ticket = _inbound(desk, address="aceito-depois")
    timeline.set(datetime(2026, 12, 1, 12, 10))
    ticket_rules.accept(ticket, desk.agent)
    after_commit.commit()
    assert ticket.due_at == datetime(2026, 12, 1, 13, 10)


def test_DEP_5_empty_minutes_are_off_and_a_bot_ticket_is_left_to_its_flow(desk, timeline):
    desk.department.close_queue_after_minutes = None
    db.session.commit()
    assert _inbound(desk, address="sem-limite").due_at is None

    desk.department.close_queue_after_minutes = 30
    ticket = _inbound(desk, address="com-bot")
    flow = Flow(company_id=ticket.company_id, name="Bot", draft={})
    db.session.add(flow)
    db.session.flush()
    version = FlowVersion(company_id=ticket.company_id, flow_id=flow.id, number=1, graph={})
    db.session.add(version)
    db.session.flush()
    db.session.add(FlowRun(company_id=ticket.company_id, ticket_id=ticket.id,
                           flow_version_id=version.id, node_id="start"))
    db.session.flush()
    timers.reschedule(ticket)
    db.session.commit()
    _tick_at(timeline, datetime(2026, 12, 1, 13, 0))
    assert db.session.get(Ticket, ticket.id).status == WAITING
