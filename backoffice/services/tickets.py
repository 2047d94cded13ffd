"""Ticket lifecycle (TKT-1..3) and inbound messages.

Functions take the acting user and the ticket (already found through
services.visibility), change rows, queue outgoing messages, announce what happened with
backoffice.events (delivered after the commit by its listeners), and leave the commit to
the caller (`after_commit.commit()`), so a bulk action is one transaction per ticket and an
error leaves nothing half-done.
"""
from __future__ import annotations

import functools
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, inspect, literal, or_, select
from sqlalchemy.orm import aliased, joinedload

from .. import events
from ..extensions import db
from ..models import (
    Company, Connection, Contact, ContactAddress, Department, FarewellMessage, Message, Reason,
    Tag, Ticket, TicketEvent, User,
)
from ..models.base import utcnow
from ..models.departments import reason_department
from ..models.tickets import (
    AUTHOR_CONTACT, AUTHOR_SYSTEM, CLOSED, DELIVERED, IN, OPEN, OPEN_STATUSES, PENDING, WAITING,
)
from . import RuleError, as_id, attachments, messages, sending, visibility, window
from .catalog import chosen_tags
from ..lib import after_commit, rowwrite
from ..lib.phones import normalise_phone
from .messages import clean_text
from .protocols import next_protocol


# --- history (TicketEvent rows; what happened is announced with backoffice.events) ----------


def _event(ticket: Ticket, kind: str, user: User | None, **data) -> None:
    db.session.add(TicketEvent(company_id=ticket.company_id, ticket_id=ticket.id, kind=kind,
                               user_id=user.id if user else None, data=data))


# --- opening and inbound ----------------------------------------------------------------


def receiving_department(company_id: int, department_id) -> Department:
    """An active department of the company that receives tickets (DEP-2), or RuleError."""
    department_id = as_id(department_id)
    if department_id is None:
        raise RuleError(_("Escolha um departamento."))
    department = db.session.scalar(select(Department).where(
        Department.id == department_id, Department.company_id == company_id))
    if department is None:
        raise RuleError(_("Departamento não encontrado."))
    if not department.active:
        raise RuleError(_("O departamento %(name)s está inativo.", name=department.name))
    if not department.receives_tickets:
        raise RuleError(_("O departamento %(name)s não recebe atendimentos.", name=department.name))
    return department


def contact_for(connection: Connection, address: str, name: str | None = None,
                email: str | None = None, phone: str | None = None) -> Contact:
    """The contact behind `address` on `connection`, created on first contact.

    `phone` (a phone channel: WhatsApp) links a new address to the company's contact with
    that phone, in E.164: a Brazilian mobile that writes once without the ninth digit and
    once with it (WhatsApp gives both forms) is one contact with two addresses."""
    return _address_for(connection, address, name, email, phone).contact


def _address_for(connection: Connection, address: str, name: str | None = None,
                 email: str | None = None, phone: str | None = None) -> ContactAddress:
    name = name.replace("\x00", "") if isinstance(name, str) else None
    email = email.replace("\x00", "") if isinstance(email, str) else None
    phone = _phone_or_none(phone)
    found = known_address(connection.id, address)
    if found is None:
        found = db.session.scalar(select(ContactAddress).where(
            ContactAddress.connection_id == connection.id, ContactAddress.address == address))
        remember_address(found)
    if found is not None:
        contact = found.contact
        name = (name or "").strip()[:120]
        email = (email or "").strip()[:254]
        if name and contact.name != name and contact.name == _default_name(connection):
            contact.name = name
        if email and not contact.email:
            contact.email = email
        if phone and not contact.phone:
            contact.phone = phone
        return found
    contact = None
    if phone:
        contact = db.session.scalars(select(Contact).where(
            Contact.company_id == connection.company_id, Contact.phone == phone)
            .order_by(Contact.id)).first()
    if contact is None:
        contact = Contact(company_id=connection.company_id,
                          name=(name or "").strip()[:120] or _default_name(connection),
                          email=(email or "").strip()[:254] or None, phone=phone)
        db.session.add(contact)
    row = ContactAddress(company_id=connection.company_id, connection_id=connection.id,
                         address=address)
    contact.addresses.append(row)
    created = contact.id is None
    db.session.flush()
    remember_address(row)
    if created:
        events.emit("contact.created", contact=contact)
    return row


def _phone_or_none(phone: str | None) -> str | None:
    if not phone:
        return None
    try:
        return normalise_phone(phone)
    except RuleError:
        return None


def _default_name(connection: Connection) -> str:
    return _("Visitante do site") if connection.kind == "webchat" else _("Contato")


# Within one transaction an intake asks the same two questions more than once (the widget
# finds the visitor by token and checks the open ticket, then receive_inbound finds both
# again): the answers are kept for the transaction (after_commit.memo) and checked again
# against the row before use. The third: whether a message's external id is already
# stored (the widget asks it with the visitor, see remember_redelivery).
_ADDRESSES, _OPEN, _REDELIVERED = "tickets.address", "tickets.open", "tickets.redelivered"


def _alive(row) -> bool:
    """Still a row of this session: not rolled back, deleted or on its way out."""
    state = inspect(row)
    return state.persistent and row not in db.session.deleted


def remember_address(row: ContactAddress | None) -> None:
    if row is not None:
        after_commit.memo(_ADDRESSES)[(row.connection_id, row.address)] = row


def known_address(connection_id: int, address: str) -> ContactAddress | None:
    """The ContactAddress already read in this transaction for (connection, address)."""
    row = after_commit.memo(_ADDRESSES).get((connection_id, address))
    if (row is not None and _alive(row) and row.connection_id == connection_id
            and row.address == address):
        return row
    return None


# how open_ticket_of loads a ticket (also webchat.visitor.find_visitor_at, which reads it
# with the visitor): the department in the same statement (the inbox push names it, the
# flow engine reads its flow), without its members: selectin by default, they would be
# every agent of the department loaded on each message, and nothing on this path reads
# them; and its tags (the push shows them)
OPEN_TICKET_LOADS = (joinedload(Ticket.department).lazyload(Department.members),
                     joinedload(Ticket.tags))


def open_ticket_id(contact_id, connection_id):
    """The id of the contact's open ticket on the connection (the last one), as a scalar
    subquery correlated to the two column expressions given (of an aliased ticket: the
    enclosing statement may select tickets too)."""
    other = aliased(Ticket)
    return (select(func.max(other.id))
            .where(other.contact_id == contact_id, other.connection_id == connection_id,
                   other.status.in_([literal(s) for s in OPEN_STATUSES]))
            .correlate_except(other)
            .scalar_subquery())


@functools.cache
def _open_ticket_statement():
    """open_ticket_of's statement, built once: every inbound message runs it, and building
    it with its loader options each time was about a third of its time (SCL-3)."""
    return (select(Ticket).options(*OPEN_TICKET_LOADS)
            .where(Ticket.contact_id == bindparam("contact_id"),
                   Ticket.connection_id == bindparam("connection_id"),
                   Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.id.desc()).limit(1))


def _redelivery_select(connection_id, external_id, message=Message, ticket=Ticket):
    """The id of the incoming message of a connection stored under an external id (see
    receive_inbound): only the id, not the 22 columns of a message that is almost never
    there (SCL-3)."""
    return (select(message.id).join(ticket, ticket.id == message.ticket_id)
            .where(ticket.connection_id == connection_id, message.direction == IN,
                   message.external_id == external_id).limit(1))


@functools.cache
def _redelivery_statement():
    """_redelivery_select with bound values, built once (every message with an id)."""
    return _redelivery_select(bindparam("connection_id"), bindparam("external_id"))


def redelivery_id(connection_id, external_id):
    """_redelivery_select as a scalar subquery correlated to the column expression given,
    for a statement that selects tickets too (the widget's visitor lookup): the same
    question asked in that statement instead of a round trip of its own (SCL-3)."""
    message, ticket = aliased(Message), aliased(Ticket)
    return (_redelivery_select(connection_id, external_id, message, ticket)
            .correlate_except(message, ticket).scalar_subquery())


def remember_redelivery(connection_id: int, external_id: str | None,
                        message_id: int | None) -> None:
    """The answer to receive_inbound's redelivery question (the id stored under
    `external_id` on the connection, or None), read by another statement of this
    transaction: receive_inbound then asks nothing. A concurrent resend that commits in
    between is the unique index's (uq_message_webchat_client_id), as it was before.
    Without an external id there is no question: nothing is kept."""
    if external_id:
        after_commit.memo(_REDELIVERED)[(connection_id, external_id)] = message_id


def _redelivered(connection: Connection, external_id: str) -> int | None:
    known = after_commit.memo(_REDELIVERED)
    key = (connection.id, external_id)
    if key in known:
        return known[key]
    # on the transaction's connection (Core), not through the ORM's execute: a bare id
    # needs none of its loading, which cost as much again as the statement (SCL-3); the
    # ORM's autoflush is kept (a no-op when nothing is pending)
    session = db.session()
    if session.autoflush:
        session.flush()
    return session.connection().scalar(_redelivery_statement(),
                                       {"connection_id": connection.id,
                                        "external_id": external_id})


def remember_open_ticket(ticket: Ticket) -> None:
    """The contact's open ticket on its connection, read by another statement of this
    transaction (the widget's visitor lookup): open_ticket_of answers with it."""
    after_commit.memo(_OPEN)[(ticket.contact_id, ticket.connection_id)] = ticket


def open_ticket_of(contact: Contact, connection: Connection) -> Ticket | None:
    key = (contact.id, connection.id)
    known = after_commit.memo(_OPEN)
    ticket = known.get(key)
    if (ticket is not None and _alive(ticket) and ticket.status in OPEN_STATUSES
            and ticket.contact_id == contact.id and ticket.connection_id == connection.id):
        return ticket
    ticket = db.session.execute(
        _open_ticket_statement(),
        {"contact_id": contact.id, "connection_id": connection.id}).unique().scalar_one_or_none()
    if ticket is not None:
        known[key] = ticket
    return ticket


# Automations that may take a customer's message into one of their CLOSED tickets instead
# of a new conversation: (contact, connection, text) -> Ticket | None. The satisfaction
# survey registers one (backoffice.automation.survey): services never import automation.
closed_ticket_claims: list[Callable[[Contact, Connection, str | None], Ticket | None]] = []


def _claimed_closed_ticket(contact: Contact, connection: Connection,
                           text: str | None) -> Ticket | None:
    for claim in closed_ticket_claims:
        ticket = claim(contact, connection, text)
        if ticket is not None:
            return ticket
    return None


def open_ticket(contact: Contact, connection: Connection | None,
                department: Department | None, **fields) -> Ticket:
    """A new ticket in the department's queue, with its protocol taken now (TKT-1).
    `fields`: more of the ticket's columns, set before anyone hears of it (a portal
    protocol's classification, which the reports' facts record at once)."""
    company = db.session.get(Company, contact.company_id)
    now = utcnow()
    ticket = Ticket(company_id=contact.company_id, contact_id=contact.id,
                    connection_id=connection.id if connection else None,
                    department_id=department.id if department else None,
                    protocol=next_protocol(company), status=WAITING, queued_at=now,
                    created_at=now, last_activity_at=now,
                    tags=[], **fields)  # no tags yet: the new ticket's pushes need no SELECT
    db.session.add(ticket)
    db.session.flush()
    if connection is not None:
        after_commit.memo(_OPEN)[(contact.id, connection.id)] = ticket
    _event(ticket, "created", None, department_id=ticket.department_id)
    events.emit("ticket.created", ticket=ticket)
    return ticket


def receive(ticket: Ticket, text: str | None, upload=None, external_id: str | None = None,
            extra: dict | None = None) -> Message:
    """A message from the contact. Waiting-for-reply tickets go back to "em andamento"."""
    text = clean_text(text)
    if not text and upload is None:
        raise RuleError(_("Escreva uma mensagem."))
    message = Message(company_id=ticket.company_id, ticket_id=ticket.id, direction=IN,
                      author_kind=AUTHOR_CONTACT, text=text or None, status=DELIVERED,
                      external_id=external_id, extra=extra or None, sent_at=utcnow(),
                      created_at=utcnow(),
                      tags=[])  # a new message has none: known without a SELECT
    if upload is not None:
        attachments.store(message, upload)
    changes = {"last_customer_at": message.created_at,  # DEP-5: inactivity counts from here
               "unread": (ticket.unread or 0) + 1,
               **ticket.touched(text, message.file_name)}
    if ticket.status == PENDING:
        changes["status"] = OPEN
    # SCL-3: the two rows in two statements, without the unit of work, when nothing else
    # waits to be flushed (the widget's message); else the flush writes them
    if not rowwrite.write(new=(message,), changed={ticket: changes}):
        for key, value in changes.items():
            setattr(ticket, key, value)
        db.session.add(message)
        db.session.flush()
    events.emit("message.created", message=message, ticket=ticket)
    events.emit("ticket.updated", ticket=ticket)
    return message


def receive_inbound(connection: Connection, inbound, department: Department | None = None) -> Message:
    """What a channel received (a backoffice.channels.Inbound), stored: the contact
    behind `inbound.address` on the connection (created on first contact), their open
    ticket (else a new one in `department`; None waits unrouted) and the message, with
    the text and the first attachment; any further attachment is a message of its own.
    Returns the (first) message.

    A redelivery (an `external_id` already stored for an incoming message of this
    connection) stores nothing and returns the stored message. For the provider channels
    the database makes it certain: a webhook item is stored once (ChannelEvent's unique
    key) and processed by one job (services.channel_events)."""
    if inbound.external_id:
        found = _redelivered(connection, inbound.external_id)
        if found is not None:
            return db.session.get(Message, found)
    address = _address_for(connection, inbound.address, inbound.name,
                           phone=getattr(inbound, "phone", None))
    if connection.kind in window.WINDOWED:
        # CHN-4: the 24-hour window starts again. Only the channels with a window read it
        # (services.window, and ProviderAdapter.recipient, whose kinds all have one): on
        # the others (webchat, HTTP API, portal) it was an UPDATE per message for nothing
        # (SCL-3), so there it stays as it was.
        address.last_inbound_at = utcnow()
    contact = address.contact
    ticket = (open_ticket_of(contact, connection)
              or _claimed_closed_ticket(contact, connection, inbound.text))
    if ticket is None:
        ticket = open_ticket(contact, connection, department)
    extra = dict(getattr(inbound, "extra", None) or {})
    if inbound.reply_to:
        quoted = _by_external_id(connection, inbound.reply_to)
        extra["reply_to"] = {"external_id": inbound.reply_to,
                             "message_id": quoted.id if quoted is not None else None}
    uploads = list(inbound.attachments) or [None]
    message = receive(ticket, inbound.text, uploads[0], external_id=inbound.external_id,
                      extra=extra or None)
    # asked again in this transaction, the answer is this message (none without an id)
    remember_redelivery(connection.id, inbound.external_id, message.id)
    for upload in uploads[1:]:
        receive(ticket, None, upload)
    return message


def _by_external_id(connection: Connection, external_id: str) -> Message | None:
    """A message of this connection (either direction) by the provider's id."""
    return db.session.scalar(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.external_id == external_id, Ticket.connection_id == connection.id)
        .order_by(Message.id.desc()).limit(1))


# --- agent actions (TKT-3) -------------------------------------------------------------------


def _context(ticket: Ticket, agent: User | None, department: Department | None = None) -> dict:
    return messages.build_context(customer=ticket.contact, protocol=ticket.protocol,
                                  agent=agent, department=department or ticket.department,
                                  company=db.session.get(Company, ticket.company_id))


def _system_message(ticket: Ticket, text: str | None, author: User | None = None) -> None:
    if not text:
        return
    sending.queue(ticket, author, text, author_kind=AUTHOR_SYSTEM)


def _require_open(ticket: Ticket) -> None:
    if ticket.status == CLOSED:
        raise RuleError(_("Este atendimento já foi finalizado."))


def may_act(user: User, ticket: Ticket) -> bool:
    """Only the assigned agent, or a supervisor, works on an accepted ticket: replies,
    transfers, closes, and (SEC-8) reopens, tags and favourites it."""
    return ticket.agent_id in (None, user.id) or visibility.supervises(user)


def _require_actor(user: User, ticket: Ticket) -> None:
    if not may_act(user, ticket):
        raise RuleError(_("Este atendimento está com %(name)s.", name=ticket.agent.name))


def _on_behalf(user: User | None, ticket: Ticket, source: str | None) -> None:
    """A user acts on tickets they may act on (SEC-8). An integration (`source`, e.g.
    "API (token ERP)") acts for the whole company, like a supervisor: the token's API
    rights were checked by its caller; the history names the integration."""
    if user is None:
        if not source:
            raise ValueError("an action without a user needs its source")
        return
    _require_actor(user, ticket)


def _by(source: str | None) -> dict:
    """History data of an action asked by an integration: shown like an automation's."""
    return {"automatic": True, "source": source} if source else {}


def accept(ticket: Ticket, user: User, *, source: str | None = None) -> Ticket:
    """`user` takes the ticket. `source`: asked by an integration, not by `user` (see
    accept_for)."""
    _require_open(ticket)
    if ticket.agent_id == user.id and ticket.status != WAITING:
        if source:
            raise RuleError(_("O atendimento já está com %(name)s.", name=user.name))
        raise RuleError(_("Você já está neste atendimento."))
    if ticket.agent_id is not None and ticket.agent_id != user.id:
        raise RuleError(_("Este atendimento já foi aceito por %(name)s.", name=ticket.agent.name))
    ticket.agent_id = user.id
    ticket.agent = user
    ticket.status = OPEN
    ticket.accepted_at = ticket.accepted_at or utcnow()
    ticket.unread = 0
    if source:
        _event(ticket, "accepted", None, automatic=True, source=source, to_agent_id=user.id)
    else:
        _event(ticket, "accepted", user)
    if ticket.department is not None:  # DEP-6 start message
        _system_message(ticket, messages.action_message(ticket.department, "start",
                                                        _context(ticket, user)), user)
    events.emit("ticket.status_changed", ticket=ticket)
    return ticket


def transfer(ticket: Ticket, user: User | None, department_id=None, agent_id=None,
             observation: str | None = None, *, source: str | None = None) -> Ticket:
    """To a department (back to its queue) and/or an agent (assigned, open). Without a
    user, `source` names the integration that asked (see _on_behalf)."""
    _require_open(ticket)
    _on_behalf(user, ticket, source)
    if department_id in ("", None) and agent_id in ("", None):
        raise RuleError(_("Escolha o departamento ou o atendente de destino."))
    observation = (observation or "").strip()[:1000] if isinstance(observation, str) else ""
    origin = ticket.department
    if origin is not None and origin.observation_required_on_transfer and not observation:
        raise RuleError(_("O departamento %(name)s exige uma observação na transferência.",
                          name=origin.name))
    target_department = (receiving_department(ticket.company_id, department_id)
                         if department_id not in ("", None) else origin)
    target_agent = None
    if agent_id not in ("", None):
        target_agent = _agent_for(ticket.company_id, agent_id, target_department)
    if target_department is origin and target_agent is None:
        raise RuleError(_("O atendimento já está neste departamento."))
    if target_agent is not None and target_agent.id == ticket.agent_id and target_department is origin:
        raise RuleError(_("O atendimento já está com %(name)s.", name=target_agent.name))

    _move(ticket, target_department, target_agent, user, observation=observation,
          **_by(source))
    return ticket


def _move(ticket: Ticket, department: Department | None, agent: User | None,
          user: User | None, **history) -> None:
    """Put the ticket in `department`'s queue, or with `agent` (open), with its history
    line, the source department's DEP-6 transfer message and the event."""
    source = ticket.department
    previous_agent_id = ticket.agent_id
    ticket.department_id = department.id if department else None
    ticket.department = department
    ticket.agent_id = agent.id if agent else None
    ticket.agent = agent
    if agent is None:
        ticket.status = WAITING
        ticket.queued_at = utcnow()
    else:
        ticket.status = OPEN
    _event(ticket, "transferred", user, from_department_id=source.id if source else None,
           to_department_id=ticket.department_id, to_agent_id=ticket.agent_id, **history)
    if source is not None and department is not source:  # DEP-6 transfer message
        _system_message(ticket, messages.action_message(
            source, "transfer", _context(ticket, agent, department)), user)
    events.emit("ticket.transferred", ticket=ticket,
                from_department_id=source.id if source else None, from_agent_id=previous_agent_id)


def _agent_for(company_id: int, agent_id, department: Department | None) -> User:
    agent_id = as_id(agent_id)
    if agent_id is None:
        raise RuleError(_("Atendente não encontrado."))
    agent = db.session.scalar(select(User).where(User.id == agent_id,
                                                 User.company_id == company_id))
    if agent is None or not agent.active or not agent.can("inbox", "view"):
        raise RuleError(_("Atendente não encontrado ou inativo."))
    if department is not None and department.id not in visibility.department_ids(agent) \
            and not agent.can("inbox", "supervise"):
        raise RuleError(_("%(agent)s não faz parte do departamento %(department)s.",
                          agent=agent.name, department=department.name))
    return agent


def reasons_for(ticket: Ticket) -> list[Reason]:
    """RSN-1: active reasons linked to the ticket's department, plus those linked to
    no department (offered everywhere)."""
    linked = select(reason_department.c.reason_id)
    q = select(Reason).where(Reason.company_id == ticket.company_id, Reason.active.is_(True))
    if ticket.department_id is None:
        q = q.where(Reason.id.not_in(linked))
    else:
        mine = linked.where(reason_department.c.department_id == ticket.department_id)
        q = q.where(or_(Reason.id.in_(mine), Reason.id.not_in(linked)))
    return list(db.session.scalars(q.order_by(Reason.name)))


def farewells(company_id: int) -> list[FarewellMessage]:
    return list(db.session.scalars(select(FarewellMessage).where(
        FarewellMessage.company_id == company_id, FarewellMessage.active.is_(True))
        .order_by(FarewellMessage.title)))


def close(ticket: Ticket, user: User | None, reason_id=None, farewell_id=None,
          note: str | None = None, *, source: str | None = None) -> Ticket:
    """Close honouring DEP-2 (reason required), with one goodbye (UX-6): the farewell the
    agent chose (AUT-6) replaces the department's DEP-6 close message, which is sent
    when none was chosen. Without a user, `source` names the integration that asked."""
    _require_open(ticket)
    _on_behalf(user, ticket, source)
    reason = None
    if reason_id not in (None, ""):
        wanted = as_id(reason_id)
        reason = next((r for r in reasons_for(ticket) if r.id == wanted), None)
        if reason is None:
            raise RuleError(_("Motivo não encontrado para este departamento."))
    elif ticket.department is not None and ticket.department.reason_required_to_close:
        raise RuleError(_("O departamento %(name)s exige um motivo para finalizar.",
                          name=ticket.department.name))
    farewell = None
    if farewell_id not in (None, ""):
        wanted = as_id(farewell_id)
        farewell = next((f for f in farewells(ticket.company_id) if f.id == wanted), None)
        if farewell is None:
            raise RuleError(_("Mensagem de despedida não encontrada."))

    context = _context(ticket, ticket.agent or user)
    if farewell is not None:
        _system_message(ticket, messages.render(farewell.body, context), user)
    elif ticket.department is not None:
        _system_message(ticket, messages.action_message(ticket.department, "close", context), user)
    ticket.reason_id = reason.id if reason else None
    ticket.close_note = (note.strip()[:1000] or None) if isinstance(note, str) else None
    ticket.status = CLOSED
    ticket.closed_at = utcnow()
    ticket.unread = 0
    if ticket.agent_id is None and user is not None:
        ticket.agent_id = user.id
        ticket.agent = user
    _event(ticket, "closed", user, reason_id=ticket.reason_id,
           farewell_id=farewell.id if farewell else None, **_by(source))
    events.emit("ticket.status_changed", ticket=ticket)
    events.emit("ticket.closed", ticket=ticket)
    return ticket


# --- the same actions taken by an automation (no user; recorded as automatic) -----------


def route(ticket: Ticket, department: Department | None, agent: User | None = None, *,
          source: str) -> Ticket:
    """Move the ticket to `department`'s queue, or to `agent` (open), on behalf of an
    automation (chatbot transfer node, automation rule): no user is checked, the history
    says which automation did it (`source`, e.g. "Fluxo Atendimento v3")."""
    _require_open(ticket)
    if agent is not None:  # no one accepts it: it is the agent's from now on
        ticket.accepted_at = ticket.accepted_at or utcnow()
    _move(ticket, department or ticket.department, agent, None, automatic=True, source=source)
    return ticket


def close_automatically(ticket: Ticket, *, source: str, message: str | None = None,
                        reason: Reason | None = None) -> Ticket:
    """Close on behalf of an automation (inactivity, chatbot end, rule): `message` (already
    rendered) goes to the customer first; the reason-required rule does not apply (no one
    is there to choose), the history records the ticket as closed automatically."""
    _require_open(ticket)
    _system_message(ticket, message)
    ticket.reason_id = reason.id if reason else None
    ticket.status = CLOSED
    ticket.closed_at = utcnow()
    ticket.unread = 0
    _event(ticket, "closed", None, automatic=True, source=source,
           reason_id=ticket.reason_id)
    events.emit("ticket.status_changed", ticket=ticket)
    events.emit("ticket.closed", ticket=ticket)
    return ticket


def add_tags_automatically(ticket: Ticket, tags: list, *, source: str) -> list[int]:
    """Company tags put on the ticket by an automation; returns the ids newly added."""
    have = {t.id for t in ticket.tags}
    added = [t for t in tags if t.id not in have and t.owner_id is None
             and t.company_id == ticket.company_id]
    if not added:
        return []
    ticket.tags = list(ticket.tags) + added
    _event(ticket, "tagged", None, automatic=True, source=source, tag_ids=[t.id for t in added])
    events.emit("ticket.updated", ticket=ticket)
    events.emit("ticket.tags_added", ticket=ticket, tag_ids=[t.id for t in added])
    return [t.id for t in added]


def remove_tags_automatically(ticket: Ticket, tag_ids, *, source: str) -> list[int]:
    wanted = set(tag_ids)
    removed = [t.id for t in ticket.tags if t.id in wanted]
    if removed:
        ticket.tags = [t for t in ticket.tags if t.id not in wanted]
        _event(ticket, "untagged", None, automatic=True, source=source, tag_ids=removed)
        events.emit("ticket.updated", ticket=ticket)
    return removed


def history(ticket: Ticket, kind: str, **data) -> None:
    """A line in the ticket's history written by an automation ("automação X")."""
    _event(ticket, kind, None, automatic=True, **data)


def reopen(ticket: Ticket, user: User, *, source: str | None = None) -> Ticket:
    """`user` reopens the ticket and has it. `source`: asked by an integration for
    `user` (see reopen_for)."""
    if ticket.status != CLOSED:
        raise RuleError(_("Este atendimento não está finalizado."))
    if not source:
        _require_actor(user, ticket)  # SEC-8: reopening takes the ticket from its agent
    ticket.status = OPEN
    ticket.agent_id = user.id
    ticket.agent = user
    ticket.closed_at = None
    ticket.last_activity_at = utcnow()
    if source:
        _event(ticket, "reopened", None, automatic=True, source=source, to_agent_id=user.id)
    else:
        _event(ticket, "reopened", user)
    events.emit("ticket.status_changed", ticket=ticket)
    return ticket


def reopen_by_contact(ticket: Ticket, *, source: str) -> Ticket:
    """The customer writes again on a finished ticket where the channel's rules let that
    reopen it (POR-1: the portal's allow_reopen): back to its department's queue with no
    agent, as a new arrival waits; the history names the channel (`source`)."""
    if ticket.status != CLOSED:
        raise RuleError(_("Este atendimento não está finalizado."))
    now = utcnow()
    ticket.status = WAITING
    ticket.agent_id = None
    ticket.agent = None
    ticket.closed_at = None
    ticket.queued_at = now
    ticket.last_activity_at = now
    _event(ticket, "reopened", None, automatic=True, source=source)
    events.emit("ticket.status_changed", ticket=ticket)
    return ticket


def set_favourite(ticket: Ticket, user: User, value: bool) -> Ticket:
    _require_actor(user, ticket)  # SEC-8: the star is the ticket's, not the user's
    ticket.favourite = bool(value)
    events.emit("ticket.updated", ticket=ticket)
    return ticket


def set_tags(ticket: Ticket, user: User, tag_ids) -> Ticket:
    """Replace the tags this user can see; another user's personal tags stay."""
    _require_actor(user, ticket)  # SEC-8
    chosen = chosen_tags(user, tag_ids)
    hidden = [t for t in ticket.tags if t.owner_id not in (None, user.id)]
    before = {t.id for t in ticket.tags}
    ticket.tags = hidden + chosen
    events.emit("ticket.updated", ticket=ticket)
    added = [t.id for t in chosen if t.id not in before]
    if added:
        events.emit("ticket.tags_added", ticket=ticket, tag_ids=added)
    return ticket


def set_message_tags(message: Message, user: User, tag_ids) -> Message:
    """MSG-3: tags on one message."""
    _require_actor(user, message.ticket)  # SEC-8
    chosen = chosen_tags(user, tag_ids)
    hidden = [t for t in message.tags if t.owner_id not in (None, user.id)]
    message.tags = hidden + chosen
    db.session.flush()
    events.emit("message.tags", message=message)
    return message


def mark_read(ticket: Ticket) -> None:
    if ticket.unread:
        ticket.unread = 0
        events.emit("ticket.updated", ticket=ticket)


# --- the same actions asked by an integration (the API): `source` names it in the history --


def accept_for(ticket: Ticket, agent_id, *, source: str) -> Ticket:
    """The agent `agent_id` (active, of the company, who works in the ticket's
    department) takes the ticket, at the request of `source`."""
    return accept(ticket, _agent_for(ticket.company_id, agent_id, ticket.department),
                  source=source)


def reopen_for(ticket: Ticket, agent_id, *, source: str) -> Ticket:
    """Reopen the ticket for the agent `agent_id` (checked as in accept_for)."""
    if ticket.status != CLOSED:
        raise RuleError(_("Este atendimento não está finalizado."))
    return reopen(ticket, _agent_for(ticket.company_id, agent_id, ticket.department),
                  source=source)


def set_company_tags(ticket: Ticket, tag_ids, *, source: str) -> Ticket:
    """The ticket's company tags become `tag_ids` (company tags only; the users' personal
    tags on it stay), with a history line for what was added and removed."""
    wanted = {as_id(raw) for raw in tag_ids}
    if None in wanted:
        raise RuleError(_("Etiqueta não encontrada."))
    chosen = list(db.session.scalars(select(Tag).where(
        Tag.company_id == ticket.company_id, Tag.owner_id.is_(None), Tag.id.in_(wanted)))
        ) if wanted else []
    if len(chosen) != len(wanted):
        raise RuleError(_("Etiqueta não encontrada."))
    before = {t.id for t in ticket.tags if t.owner_id is None}
    added = sorted(t.id for t in chosen if t.id not in before)
    removed = sorted(before - wanted)
    if not added and not removed:
        return ticket
    ticket.tags = [t for t in ticket.tags if t.owner_id is not None] + chosen
    if added:
        _event(ticket, "tagged", None, tag_ids=added, **_by(source))
    if removed:
        _event(ticket, "untagged", None, tag_ids=removed, **_by(source))
    events.emit("ticket.updated", ticket=ticket)
    if added:
        events.emit("ticket.tags_added", ticket=ticket, tag_ids=added)
    return ticket
