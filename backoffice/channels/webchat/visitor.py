"""The website chat seen from the visitor's side (CHN-5).

A visitor is a ContactAddress of a webchat connection whose address is a random token
made here (`secrets.token_urlsafe`) when their first conversation starts; the widget
keeps it and sends it back (header X-Visitor-Token, socket auth). A token made by a
client is never adopted, and a token is only ever looked up within its own connection:
one site's visitor token opens nothing on another connection or company.

The visitor sees their current ticket (or their last one, finished) and only what was
sent to them: incoming messages, and outgoing ones once the queue delivered them
(CHN-3: `queued`/`failed` ones are the agent's business, not yet the visitor's).
Functions leave the commit to the caller (`after_commit.commit()`), like services.tickets.
"""
from __future__ import annotations

import functools
import re
import secrets
from dataclasses import replace
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, lazyload
from sqlalchemy.orm.attributes import set_committed_value

from ... import events
from ...extensions import db
from ...models import (
    Company, Connection, Contact, ContactAddress, Department, Message, Tag, Ticket, ticket_tag,
)
from ...models.channels import KIND_WEBCHAT
from ...models.tickets import DELIVERED, IN, OUT, READ, SENT, TICKET_STATUSES
from ...services import (
    RuleError, as_id, company_config, departments, sending, serialize, tickets,
)
from ...services.catalog import safe_color
from ...services.messages import clean_text
from ..base import Inbound
from ...lib import clock, precompiled, rowload
from .adapter import TOKEN_RE, client_message_id
KEY_RE = re.compile(r"[A-Za-z0-9_-]{8,40}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
VISIBLE_OUT = (SENT, DELIVERED, READ)
MAX_HISTORY = 500
# A first message sent again with the same client id (its answer was lost, so the
# visitor has no token yet) resumes the conversation it started, within this window:
# the id is the only proof, so its use is short.
START_REPLAY = timedelta(minutes=10)


def new_token() -> str:
    return secrets.token_urlsafe(24)


# The chat frame hands each page that loads it a signed random key ("this browser loaded
# this connection's chat, at that time"); the widget sends it with its first start. It
# proves nothing about who is there (a script can load the frame too): it lets the start
# limits tell browsers apart behind one address (an office), see views._limit_start.
BROWSER_SALT = "atende-webchat-browser"
BROWSER_KEY_AGE = timedelta(days=1)
BROWSER_KEY_MAX = 200  # characters: a signed key is about 70


def _browser_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=BROWSER_SALT)


def browser_key(connection: Connection) -> str:
    return _browser_signer().dumps([connection.id, secrets.token_urlsafe(12)])


def browser_of(connection: Connection, raw) -> str | None:
    """The browser named by a key this server made for this connection's frame within
    BROWSER_KEY_AGE; None for anything else (absent, forged, expired, another chat's)."""
    if not isinstance(raw, str) or not raw or len(raw) > BROWSER_KEY_MAX:
        return None
    try:
        connection_id, browser = _browser_signer().loads(
            raw, max_age=int(BROWSER_KEY_AGE.total_seconds()))
    except (BadSignature, TypeError, ValueError):
        return None
    if connection_id != connection.id or not isinstance(browser, str):
        return None
    return browser


def find_connection(public_key) -> Connection | None:
    """The active webchat connection of an active company with this public key."""
    if not isinstance(public_key, str) or not KEY_RE.fullmatch(public_key):
        return None
    row = db.session.execute(
        select(Connection, Company.config_version)
        .join(Company, Company.id == Connection.company_id)
        .where(Connection.public_key == public_key, Connection.kind == KIND_WEBCHAT,
               Connection.active.is_(True), Company.active.is_(True))).first()
    if row is None:
        return None
    connection, version = row
    # a new conversation's automations and webhooks check what the process keeps of the
    # company against it (services.company_config): no statement of their own
    company_config.note_version(connection.company_id, version)
    return connection


def find_visitor(connection: Connection, token) -> ContactAddress | None:
    """The visitor holding `token` on this connection (never on another one)."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    # with its contact, in one statement: every caller goes on to the visitor's tickets
    address = db.session.scalar(
        select(ContactAddress).options(joinedload(ContactAddress.contact))
        .where(ContactAddress.connection_id == connection.id, ContactAddress.address == token))
    tickets.remember_address(address)  # receive_inbound looks it up again by token
    return address


# find_visitor_at's objects, built from its row by lib.rowload (SCL-3): the connection, the
# visitor with its contact, and the open ticket with its department and tags
_VISITOR_AT = tuple(rowload.Entity(model)
                    for model in (Connection, ContactAddress, Contact, Ticket, Department, Tag))
_START = {e: sum(len(before.keys) for before in _VISITOR_AT[:i])  # where each one's columns begin
          for i, e in enumerate(_VISITOR_AT)}


@functools.cache
def _visitor_at_statement():
    """find_visitor_at's statement, built once (it runs on every message, SCL-3): table
    columns, not ORM entities with loader options, compiled once and run on the driver's
    cursor (lib/precompiled.py), the objects built from the row (lib/rowload.py). Through
    the ORM (its execution context, the loading of six entities) the lookup cost more than
    twice its statement's own execution on the driver, sampled in the web processes.

    The visitor's open ticket on the connection comes in the same row (the last one, as
    services.tickets.open_ticket_of picks it, with its department and its tags, a row per
    tag, in the relationship's order): every message asks for it next, and a statement of
    its own cost a round trip. Outer joins: no open ticket still finds the visitor.

    And the id of a message already stored under the external id the request declares
    (a resend of the widget's, receive_inbound's redelivery question), or NULL: that
    question too cost a statement of its own on every message (SCL-3)."""
    connections, addresses, contacts, tickets_, departments, tags = (
        e.model.__table__ for e in _VISITOR_AT)
    companies = Company.__table__
    return (select(*connections.c, *addresses.c, *contacts.c, *tickets_.c, *departments.c,
                   *tags.c, companies.c.config_version,
                   tickets.redelivery_id(connections.c.id, bindparam("external_id"))
                   .label("redelivered"))
            .select_from(
                connections.join(companies, companies.c.id == connections.c.company_id)
                .join(addresses, addresses.c.connection_id == connections.c.id)
                .join(contacts, contacts.c.id == addresses.c.contact_id)
                .outerjoin(tickets_, tickets_.c.id == tickets.open_ticket_id(
                    addresses.c.contact_id, connections.c.id))
                .outerjoin(departments, departments.c.id == tickets_.c.department_id)
                .outerjoin(ticket_tag, ticket_tag.c.ticket_id == tickets_.c.id)
                .outerjoin(tags, tags.c.id == ticket_tag.c.tag_id))
            .where(connections.c.public_key == bindparam("public_key"),
                   connections.c.kind == KIND_WEBCHAT, connections.c.active.is_(True),
                   companies.c.active.is_(True), addresses.c.address == bindparam("token"))
            .order_by(tags.c.name, tags.c.id))


def find_visitor_at(public_key, token,
                    external_id: str | None = None) -> tuple[Connection, ContactAddress] | None:
    """find_connection and find_visitor in one statement, for the widget's requests of a
    known visitor (each message): the connection and the visitor, with its contact; None
    when either is missing (the caller asks again to tell which). The company's
    config_version comes in the same row (services.company_config: the message's
    automation rules and webhooks are then known without a statement), the visitor's
    open ticket, kept for open_ticket_of (no statement of its own), and, given the
    message's `external_id`, whether it is already stored (tickets.remember_redelivery)."""
    if not isinstance(public_key, str) or not KEY_RE.fullmatch(public_key):
        return None
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    session = db.session()
    _keys, rows = precompiled.rows(session.connection(), _visitor_at_statement(),
                                   {"public_key": public_key, "token": token,
                                    "external_id": external_id})
    if not rows:
        return None
    row = rows[0]
    connections, addresses, contacts, tickets_, departments, tags = _VISITOR_AT
    connection = connections.take(session, row, 0)
    contact = contacts.take(session, row, _START[contacts])
    address = addresses.take(session, row, _START[addresses], {"contact": contact})
    ticket = tickets_.take(session, row, _START[tickets_],
                           {"department": departments.take(session, row, _START[departments])})
    if ticket is not None and "tags" not in ticket.__dict__:
        # a row per tag, in Tag.name's order (the relationship's); none: one row of NULLs
        set_committed_value(ticket, "tags", [tag for tag in (
            tags.take(session, each, _START[tags]) for each in rows) if tag is not None])
    version, redelivered = row[-2], row[-1]
    tickets.remember_address(address)
    if ticket is not None:
        tickets.remember_open_ticket(ticket)
    tickets.remember_redelivery(connection.id, external_id, redelivered)
    # the message's automations and webhooks check what the process keeps against it
    company_config.note_version(connection.company_id, version)
    return connection, address


def offered_departments(connection: Connection) -> list[Department]:
    """DEP-1/DEP-2: active departments that receive tickets, in their order."""
    return departments.ordered(connection.company_id, active_only=True, receiving_only=True)


def config(connection: Connection) -> dict:

    company = db.session.get(Company, connection.company_id)
    return {
        "title": connection.widget_title or company.name,
        "greeting": connection.widget_greeting or "",
        "color": safe_color(connection.widget_color),
        "departments": [{"id": d.id, "name": d.name} for d in offered_departments(connection)],
    }


def _department(connection: Connection, department_id) -> Department | None:
    offered = offered_departments(connection)
    if department_id is None or department_id == "":
        if len(offered) == 1:
            return offered[0]
        if not offered:
            return None  # no department configured: the ticket waits unrouted
        raise RuleError(_("Escolha um departamento."))
    wanted = as_id(department_id)
    if wanted is None:
        raise RuleError(_("Escolha um departamento."))
    # one of those just read is taken as it is (same company, active, receiving); any
    # other id gets receiving_department's own refusal (not found, inactive, no tickets)
    for department in offered:
        if department.id == wanted:
            return department
    return tickets.receiving_department(connection.company_id, wanted)


def _clean_name(name) -> str | None:
    if not isinstance(name, str):
        return None
    return " ".join(name.split())[:120] or None


def _clean_email(email) -> str | None:
    if email is None or (isinstance(email, str) and not email.strip()):
        return None
    email = email.strip() if isinstance(email, str) else ""
    if not email or len(email) > 254 or not EMAIL_RE.fullmatch(email):
        raise RuleError(_("Informe um e-mail válido ou deixe o campo em branco."))
    return email


def current_ticket(address: ContactAddress) -> Ticket | None:
    """The visitor's open ticket on the connection, else their last one."""
    found = tickets.open_ticket_of(address.contact, address.connection)
    if found is not None:
        return found
    return db.session.scalar(
        select(Ticket).where(Ticket.contact_id == address.contact_id,
                             Ticket.connection_id == address.connection_id)
        .order_by(Ticket.id.desc()).limit(1))


def _show_agent_name(company_id: int) -> bool:
    company = db.session.get(Company, company_id)
    return bool(company and company.show_agent_name)


def shown(message: Message, show_agent_name: bool | None = None) -> dict:
    """serialize.visitor_message, with the agent's name only when the company shows it
    (CO-2, as the adapter does) and, for outgoing messages, whether the visitor read it."""
    data = serialize.visitor_message(message)
    if data["author"] is not None:  # an agent's message: only then does the company matter
        if show_agent_name is None:
            show_agent_name = _show_agent_name(message.company_id)
        if not show_agent_name:
            data["author"] = None
    if message.direction == OUT:
        data["read"] = message.status == READ
    return data


def ticket_info(ticket: Ticket | None) -> dict | None:
    if ticket is None:
        return None
    return {"protocol": ticket.protocol, "status": ticket.status,
            "status_label": str(TICKET_STATUSES.get(ticket.status, ticket.status)),
            "open": ticket.is_open}


def history(ticket: Ticket | None) -> list[dict]:
    """What the visitor sees of one ticket, oldest first (the last MAX_HISTORY)."""
    if ticket is None:
        return []
    rows = list(db.session.scalars(
        select(Message).options(lazyload(Message.tags))  # the visitor sees no tags
        .where(Message.ticket_id == ticket.id,
               (Message.direction == IN) | Message.status.in_(VISIBLE_OUT))
        .order_by(Message.id.desc()).limit(MAX_HISTORY)))
    # the company's choice matters only for agents' messages
    show_name = (any(m.author_kind == "agent" for m in rows)
                 and _show_agent_name(ticket.company_id))
    return [shown(m, show_name) for m in reversed(rows)]


def _echo(address: ContactAddress, message: Message) -> None:
    """After commit: the visitor's own message to their other tabs too."""
    events.emit("webchat.message", address_id=address.id, payload=shown(message, True))


def _stored(connection: Connection, external_id: str, since=None) -> Message | None:
    """The incoming message of this connection stored under `external_id`."""
    q = (select(Message).join(Ticket, Ticket.id == Message.ticket_id)
         .where(Ticket.connection_id == connection.id, Message.direction == IN,
                Message.external_id == external_id))
    if since is not None:
        q = q.where(Message.created_at >= since)
    return db.session.scalar(q.order_by(Message.id).limit(1))


def start(connection: Connection, address: ContactAddress | None, *, text, upload=None,
          department_id=None, name=None, email=None,
          client_id: str | None = None) -> tuple[ContactAddress, Ticket, Message]:
    """The visitor's first message, or the first of a new conversation after the last
    one was finished: a new visitor (new token) when `address` is None, a ticket in the
    chosen department when the visitor has none open, then the message
    (services.tickets.receive_inbound). The same `client_id` again (the answer to the
    first try was lost) gives back what the first try made, not a second visitor."""
    text = clean_text(text)
    if not text and upload is None:
        raise RuleError(_("Escreva uma mensagem."))
    external_id = client_message_id(address.address if address is not None else "start",
                                    client_id)
    if external_id is not None:
        first = _stored(connection, external_id, since=clock.now() - START_REPLAY)
        if first is not None:
            ticket = db.session.get(Ticket, first.ticket_id)
            replayed = db.session.scalar(select(ContactAddress).where(
                ContactAddress.connection_id == connection.id,
                ContactAddress.contact_id == ticket.contact_id))
            if replayed is not None and (address is None or replayed.id == address.id):
                return replayed, ticket, first
    name, email = _clean_name(name), _clean_email(email)
    new_visitor = address is None
    token = address.address if address is not None else new_token()
    contact = tickets.contact_for(connection, token, name, email)
    if address is None:
        address = next(a for a in contact.addresses if a.connection_id == connection.id)
    department = None
    # a new visitor's contact was made just now: no ticket to look for
    if new_visitor or tickets.open_ticket_of(contact, connection) is None:
        department = _department(connection, department_id)
    inbound = Inbound(address=token, name=name, text=text,
                      attachments=(upload,) if upload is not None else (),
                      external_id=external_id)
    message = tickets.receive_inbound(connection, inbound, department)
    _echo(address, message)
    return address, db.session.get(Ticket, message.ticket_id), message


class TicketClosed(RuleError):
    """The visitor's last ticket is finished: a new one starts with a department."""


def say(address: ContactAddress, inbound: Inbound) -> Message:
    """The visitor's message (WebchatAdapter.parse_inbound) into their open ticket;
    TicketClosed when it was finished (a new one starts with a department).

    The transaction must hold this message only (the widget's request): a resend that
    races its first try past receive_inbound's own check is refused by the unique index
    at the message's flush, before any event of it, and then the whole transaction is
    rolled back and the stored message is the answer. A savepoint around every message
    would cost two more statements each, for a race that almost never happens."""
    if tickets.open_ticket_of(address.contact, address.connection) is None:
        raise TicketClosed(_("Seu atendimento foi finalizado. Escolha um departamento para "
                             "iniciar um novo."))
    # the visitor gives their name when a conversation starts, not with each message
    inbound = replace(inbound, name=None)
    try:
        message = tickets.receive_inbound(address.connection, inbound)
    except IntegrityError:
        if inbound.external_id is None:
            raise
        db.session.rollback()
        message = _stored(address.connection, inbound.external_id)
        if message is None:
            raise
    _echo(address, message)
    return message


def _message_id(value) -> int | None:
    return as_id(value)


def own_message(address: ContactAddress, message_id) -> Message | None:
    """A message of one of this visitor's tickets on this connection that the visitor
    may see; None for anyone else's, alike (no oracle)."""
    message_id = _message_id(message_id)
    if message_id is None:
        return None
    return db.session.scalar(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.id == message_id, Ticket.contact_id == address.contact_id,
               Ticket.connection_id == address.connection_id,
               (Message.direction == IN) | Message.status.in_(VISIBLE_OUT)))


def acknowledge(connection_id: int, contact_id: int, message_id, status) -> bool:
    """The widget reports an outgoing message delivered/read (only the visitor's own)."""
    if status not in (DELIVERED, READ):
        return False
    message_id = _message_id(message_id)
    if message_id is None:
        return False
    message = db.session.scalar(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.id == message_id, Message.direction == OUT,
               Ticket.contact_id == contact_id, Ticket.connection_id == connection_id))
    if message is None:
        return False
    return sending.acknowledge(message, status)
