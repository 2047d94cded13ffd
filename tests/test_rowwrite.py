"""SCL-3 (issue 17 point 3): an inbound message's rows written without the unit of work.

backoffice/lib/rowwrite.py writes a new message and its ticket's activity columns with
one statement each instead of a flush. These tests hold it to what the flush did: the
same rows, the objects in the same state, the same guards (tenancy, read-only requests),
a rollback that leaves nothing behind, and the flush itself whenever more than those two
statements is needed. The widget's own path through it is in tests/test_inbound_cost.py.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import g
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from backoffice.extensions import db
from backoffice.lib import rowwrite
from backoffice.lib.readonly import ReadOnlyWrite
from backoffice.models import Message, Ticket
from backoffice.models.automation import AutomationRule
from backoffice.models.tickets import AUTHOR_CONTACT, IN, OPEN, PENDING
from backoffice.services import tickets as ticket_rules
from backoffice.tenancy import TenantViolation, acting_for
from tests.conftest import sql_statements
from tests.factories import gen_company, gen_connection, gen_department, gen_tag, gen_ticket

COLUMNS = [c.key for c in Message.__table__.c if c.key not in ("id", "created_at", "sent_at")]


@pytest.fixture
def world(app):
    with app.app_context():
        company, _admin = gen_company("Direta", "admin@direta.test")
        other, _other_admin = gen_company("Outra", "admin@outra.test")
        db.session.flush()
        connection = gen_connection(company)
        department = gen_department(company, "Vendas")
        ticket = gen_ticket(connection, text="Olá")
        db.session.commit()
        built = SimpleNamespace(company=company.id, other=other.id, ticket=ticket.id,
                                department=department.id)
        db.session.remove()
    return built


@pytest.fixture
def flushes():
    """How many flushes ran while the test's block did."""
    counter = {"n": 0}

    def count(_session, _context, _instances):
        counter["n"] += 1

    event.listen(Session, "before_flush", count)
    yield counter
    event.remove(Session, "before_flush", count)


def _message(ticket, text="Oi"):
    return Message(company_id=ticket.company_id, ticket_id=ticket.id, direction=IN,
                   author_kind=AUTHOR_CONTACT, text=text)


def _row(message_id) -> dict:
    found = db.session.execute(select(Message.__table__).where(Message.id == message_id)).one()
    return {key: found._mapping[key] for key in COLUMNS}


def test_SCL_3_every_flush_listener_has_a_row_check(app):
    """SCL-3: each session-wide flush listener registered what it would do with a row
    written without a flush (tenancy, read-only requests, rooms, sessions, the company's
    configuration version); a new listener that did not is listed, and fails this test."""
    with app.app_context():
        session = db.session()
        assert rowwrite.flush_listeners_without_check(session) == []

        def newcomer(_session, _context, _instances):
            pass

        event.listen(Session, "before_flush", newcomer)
        try:
            assert rowwrite.flush_listeners_without_check(session) == [newcomer]
        finally:
            event.remove(Session, "before_flush", newcomer)


def test_SCL_3_a_message_without_a_flush_is_stored_as_the_flush_stores_it(app, world, flushes,
                                                                          monkeypatch):
    """SCL-3: receive() on a clean session writes the message and the ticket in two
    statements and no flush; the rows match those of the flush path message for message,
    the message is persistent with every column loaded, the ticket has nothing pending,
    and a pending ticket turns open (DEP-5) either way."""
    stored = {}
    for path in ("direct", "flush"):
        if path == "flush":
            monkeypatch.setattr(rowwrite, "write", lambda **_kw: False)
        with app.app_context():
            ticket = db.session.get(Ticket, world.ticket)
            ticket.status = PENDING
            db.session.commit()
            unread = ticket.unread
            flushes["n"] = 0
            with sql_statements(app) as seen:
                message = ticket_rules.receive(ticket, "  Bom   dia,\n tudo bem? ")
            state = inspect(message)
            assert state.persistent and message.id is not None
            assert not state.expired_attributes and not inspect(ticket).modified
            if path == "direct":
                assert flushes["n"] == 0
                writes = [" ".join(s.split()[:3]).upper() for s in seen
                          if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
                assert writes == ["UPDATE TICKET SET", "INSERT INTO MESSAGE"]
            else:
                assert flushes["n"] == 1
            assert (ticket.status, ticket.unread, ticket.preview) == (OPEN, unread + 1,
                                                                      "Bom dia, tudo bem?")
            assert ticket.last_customer_at == message.created_at
            db.session.commit()
            stored[path] = (_row(message.id), message.status, message.attempts)
            db.session.expire_all()
            again = db.session.get(Ticket, world.ticket)
            assert (again.status, again.unread, again.preview) == (OPEN, unread + 1,
                                                                   "Bom dia, tudo bem?")
            db.session.remove()
    assert stored["direct"] == stored["flush"]


def test_SCL_3_a_rollback_leaves_nothing_of_a_row_written_without_a_flush(app, world):
    """SCL-3: the transaction rolled back, the message is transient again (as a flushed
    new row is), the ticket reloads its stored values and no row is left."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        unread = ticket.unread
        message = ticket_rules.receive(ticket, "Desfeita")
        assert inspect(message).persistent
        db.session.rollback()
        assert inspect(message).transient and message not in db.session
        assert ticket.unread == unread
        assert db.session.scalar(select(func.count()).select_from(Message)
                                 .where(Message.text == "Desfeita")) == 0


def test_SCL_3_the_tenancy_guard_holds_without_a_flush(app, world):
    """PLT-1, SCL-3: acting for another company, a row of this one is refused before
    anything is written, as the flush guard refuses it."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        unread = ticket.unread
        with acting_for(world.other), sql_statements(app) as seen:
            with pytest.raises(TenantViolation):
                rowwrite.write(new=(_message(ticket),), changed={ticket: {"unread": 99}})
        assert seen == []
        db.session.rollback()
        assert db.session.get(Ticket, world.ticket).unread == unread


def test_SCL_3_a_read_only_request_refuses_a_row_without_a_flush(app, world):
    """SEC-8, SCL-5: a view marked read-only cannot write through this path either."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        with app.test_request_context("/"):
            g.atende_read_only = True
            with sql_statements(app) as seen, pytest.raises(ReadOnlyWrite):
                rowwrite.write(new=(_message(ticket),))
        assert seen == []


def test_SCL_3_what_needs_the_flush_is_left_to_it(app, world):
    """SCL-3: nothing is written, and the caller flushes, when the session holds other
    changes, a savepoint is open, the ticket changes department (sockets must follow), the
    message carries tags, the row is a watched automation setting, or the message's id was
    chosen by the caller."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        tag = gen_tag(ticket.company_id, "VIP")
        db.session.commit()
        with sql_statements(app) as seen:
            message = _message(ticket)
            ticket.favourite = True  # a change waiting for the flush
            assert rowwrite.write(new=(message,)) is False
            db.session.rollback()
            with db.session.begin_nested():
                assert rowwrite.write(new=(_message(ticket),)) is False
            db.session.rollback()
            assert rowwrite.write(changed={ticket: {"department_id": world.department}}) is False
            tagged = _message(ticket)
            tagged.tags = [tag]
            assert rowwrite.write(new=(tagged,)) is False
            rule = AutomationRule(company_id=ticket.company_id, name="Regra", trigger="x",
                                  actions=[])
            assert rowwrite.write(new=(rule,)) is False
            chosen = _message(ticket)
            chosen.id = 10 ** 9
            assert rowwrite.write(new=(chosen,)) is False
        # only the savepoint's own statements: no row written
        assert not [s for s in seen if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def test_SCL_3_a_ticket_gone_meanwhile_is_an_error_as_in_a_flush(app, world):
    """SCL-3: an UPDATE that matches no row raises StaleDataError, as the flush does."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        db.session.connection().execute(Ticket.__table__.delete()
                                        .where(Ticket.__table__.c.id == ticket.id))
        with pytest.raises(StaleDataError):
            rowwrite.write(changed={ticket: {"unread": 3}})
        db.session.rollback()


def test_SCL_3_an_expired_ticket_is_updated_without_loading_it_first(app, world):
    """SCL-3: a ticket expired by a commit is updated by its identity alone (one UPDATE,
    no SELECT to reload it), and the new value is what the next transaction reads."""
    with app.app_context():
        ticket = db.session.get(Ticket, world.ticket)
        db.session.commit()
        with sql_statements(app) as seen:
            assert rowwrite.write(changed={ticket: {"unread": 7}}) is True
        assert [s.split()[0].upper() for s in seen] == ["UPDATE"]
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(Ticket, world.ticket).unread == 7
