"""The inbox: contacts, tickets and messages, built through the same services the channels
use (services.tickets.contact_for / open_ticket / receive), and small files to attach.

They add and flush but never commit: the caller commits (db.session.commit()) when the
data is ready.
"""
from __future__ import annotations

import io
import itertools
from datetime import datetime, timedelta

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from backoffice.channels.base import Inbound
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Connection, Department, Message, Ticket, User
from backoffice.models.tickets import IN, OPEN, OUT
from backoffice.services import tickets as ticket_rules
from backoffice.services.templates import Upload

_seq = itertools.count(1)

# The smallest valid files of a few kinds (checked by content, not only by extension).
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00"
       b"\x00\x00\x00IEND\xaeB`\x82")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def gen_contact(connection: Connection, name: str | None = None, address: str | None = None,
                email: str | None = None, phone: str | None = None):
    """The contact behind `address` on `connection` (created on first use)."""
    contact = ticket_rules.contact_for(connection, address or f"addr-{next(_seq)}", name=name,
                                       email=email)
    if phone:
        contact.phone = phone
    db.session.flush()
    return contact


def gen_ticket(connection: Connection, contact=None, department: Department | None = None,
               agent: User | None = None, status: str | None = None, text: str | None = "Olá!",
               contact_name: str | None = None, last_activity_at: datetime | None = None,
               favourite: bool = False, tags=(), **fields) -> Ticket:
    """A ticket opened by the contact's first message (`text`, None for no message).

    With `agent` the ticket is accepted by them (status open, no DEP-6 message); `status`
    then sets it directly (pending, closed, ...). Other keyword arguments are set on the
    ticket as they are (has_failed, automated, ...).
    """
    if contact is None:
        contact = gen_contact(connection, name=contact_name)
    ticket = ticket_rules.open_ticket(contact, connection, department)
    if text:
        ticket_rules.receive(ticket, text)
    if agent is not None:
        ticket.agent_id = agent.id
        ticket.agent = agent
        ticket.status = OPEN
        ticket.accepted_at = ticket.created_at
    if status is not None:
        ticket.status = status
        if status == "closed":
            ticket.closed_at = ticket.last_activity_at
    if last_activity_at is not None:
        ticket.last_activity_at = last_activity_at
    ticket.favourite = favourite
    if tags:
        ticket.tags = list(tags)
    for key, value in fields.items():
        setattr(ticket, key, value)
    db.session.flush()
    return ticket


def gen_tickets(connection: Connection, n: int, start: datetime | None = None, step=timedelta(minutes=1),
                **kwargs) -> list[Ticket]:
    """`n` tickets whose last activity is `step` apart (the oldest first)."""
    start = start or datetime(2025, 1, 1, 12, 0, 0)
    out = []
    for i in range(n):
        out.append(gen_ticket(connection, contact_name=f"Cliente {i:03d}",
                              last_activity_at=start + step * i, **kwargs))
    return out


def gen_inbound(connection: Connection, text: str = "Oi", address: str = "cliente-1",
                department: Department | None = None, name: str | None = None) -> Message:
    """A customer's message by the channels' own path (services.tickets.receive_inbound:
    contact, ticket, automations), committed as the inbound job commits, so what the
    automations queued after the commit runs too."""
    message = ticket_rules.receive_inbound(
        connection, Inbound(address=address, name=name, text=text), department)
    after_commit.commit()
    return message


def sent_texts(ticket: Ticket, author_kind: str) -> list[str]:
    """The texts sent on the ticket by `author_kind` ("bot", "system", "agent"), in order."""
    return list(db.session.scalars(
        select(Message.text).where(Message.ticket_id == ticket.id, Message.direction == OUT,
                                   Message.author_kind == author_kind).order_by(Message.id)))


def gen_incoming(ticket: Ticket, text: str | None = "Oi", upload: Upload | None = None):
    """A message from the customer on an existing ticket."""
    return ticket_rules.receive(ticket, text, upload=upload)


def file_storage(data: bytes, name: str, mime: str = "application/octet-stream") -> FileStorage:
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type=mime)


def upload(data: bytes = PNG, name: str = "foto.png", mime: str = "image/png") -> Upload:
    return Upload(data=data, name=name, mime=mime)


def row_count(model) -> int:
    """Rows of `model` in the database (every company): "nothing stored" checks."""
    return db.session.scalar(select(func.count()).select_from(model))


def stored_message(app, message_id: int) -> Message:
    """The message row as stored now, read in its own app context and detached, so its
    columns can be checked after the context is gone."""
    with app.app_context():
        message = db.session.get(Message, message_id)
        db.session.expunge(message)
        return message


def incoming_messages(app) -> list[Message]:
    """Every message received from a contact, oldest first, detached from the session."""
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.direction == IN)
                                       .order_by(Message.id)))
        db.session.expunge_all()
        return rows
