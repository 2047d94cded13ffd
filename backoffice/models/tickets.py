"""Atendimentos (TKT-1, TKT-2) and their messages (MSG-1).

A ticket gathers one contact's messages on one connection. Lifecycle timestamps are
stored when things happen (queued, accepted, first response, closed), so reports are
cheap aggregates; `last_activity_at` and `preview` are kept on the ticket so the inbox
list is one indexed query with no per-row lookups.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .catalog import Reason, Tag
from .channels import Connection
from .contacts import Contact
from .departments import Department
from .users import User

# TKT-2
WAITING = "waiting"    # sem atendente, in the department's queue
OPEN = "open"          # em andamento
PENDING = "pending"    # aguardando resposta do cliente
CLOSED = "closed"      # finalizado
TICKET_STATUSES: dict[str, str] = {
    WAITING: _l("Sem atendente"),
    OPEN: _l("Em andamento"),
    PENDING: _l("Aguardando resposta"),
    CLOSED: _l("Finalizado"),
}
OPEN_STATUSES = (WAITING, OPEN, PENDING)

# MSG-1
IN, OUT = "in", "out"
AUTHOR_CONTACT, AUTHOR_AGENT, AUTHOR_SYSTEM, AUTHOR_BOT = "contact", "agent", "system", "bot"
# Message.extra key naming the API token that sent a message (API-1): {"id", "name"}
API_SENDER = "api_token"
QUEUED, SENDING, SENT, DELIVERED, READ, FAILED = (
    "queued", "sending", "sent", "delivered", "read", "failed")
MESSAGE_STATUSES: dict[str, str] = {
    QUEUED: _l("Na fila"),
    SENDING: _l("Enviando"),
    SENT: _l("Enviada"),
    DELIVERED: _l("Entregue"),
    READ: _l("Lida"),
    FAILED: _l("Falha no envio"),
}

ticket_tag = Table(
    "ticket_tag",
    db.metadata,
    Column("ticket_id", ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)

message_tag = Table(
    "message_tag",
    db.metadata,
    Column("message_id", ForeignKey("message.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Ticket(TenantMixin, db.Model):
    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("company_id", "protocol", name="uq_ticket_company_protocol"),
        # the inbox list: newest/oldest within a company, optionally by status/department
        Index("ix_ticket_inbox", "company_id", "last_activity_at", "id"),
        Index("ix_ticket_inbox_status", "company_id", "status", "last_activity_at", "id"),
        Index("ix_ticket_inbox_department", "company_id", "department_id", "status",
              "last_activity_at", "id"),
        Index("ix_ticket_inbox_agent", "company_id", "agent_id", "status", "last_activity_at",
              "id"),
        # the default view, status "open" (OPEN_STATUSES): a few % of the tickets, all recent.
        # Read in order both ways (oldest first no longer walks the year of closed tickets),
        # and it bounds the scan of the filters no index serves (contact search, tag)
        Index("ix_ticket_inbox_open", "company_id", "last_activity_at", "id",
              postgresql_where=text("status IN ('waiting', 'open', 'pending')"),
              sqlite_where=text("status IN ('waiting', 'open', 'pending')")),
        # the automation tick (backoffice.automation.timers): what is due, few rows of all
        Index("ix_ticket_due", "due_at",
              postgresql_where=text("due_at IS NOT NULL"), sqlite_where=text("due_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    protocol: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"),
                                            index=True)
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"), index=True)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=WAITING)
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("reason.id", ondelete="SET NULL"))
    # POR-1: the classification a portal protocol was opened with (any ticket may carry one)
    classification_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_classification.id", ondelete="SET NULL"))
    subclassification_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_subclassification.id", ondelete="SET NULL"))
    close_note: Mapped[str | None] = mapped_column(Text)
    favourite: Mapped[bool] = mapped_column(Boolean, default=False)
    # FLT-1 "Falha no envio" and "Automações" without scanning messages
    has_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    preview: Mapped[str | None] = mapped_column(String(140))
    unread: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column()
    accepted_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # automation (backoffice.automation): the customer's last message (inactivity, DEP-5);
    # the next instant a timer has work on this ticket (NULL: none); when the out-of-hours
    # answer went out in the current closed spell (AUT-1; cleared when the period opens);
    # what automations recorded on the ticket (idle rules fired, ...)
    last_customer_at: Mapped[datetime | None] = mapped_column()
    due_at: Mapped[datetime | None] = mapped_column()
    out_of_hours_at: Mapped[datetime | None] = mapped_column()
    automation_marks: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    contact: Mapped[Contact] = relationship()
    connection: Mapped[Connection | None] = relationship()
    department: Mapped[Department | None] = relationship()
    agent: Mapped[User | None] = relationship()
    reason: Mapped[Reason | None] = relationship()
    classification = relationship("ServiceClassification")
    subclassification = relationship("ServiceSubclassification")
    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tag, lazy="selectin",
                                           order_by="Tag.name")

    PREVIEW = 120  # characters of the last message shown in the inbox list

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def touch(self, text: str | None, file_name: str | None = None) -> None:
        """A message came or went: the ticket moves up the inbox with it as preview."""
        for key, value in self.touched(text, file_name).items():
            setattr(self, key, value)

    def touched(self, text: str | None, file_name: str | None = None) -> dict:
        """What `touch` sets, as column values (services.tickets.receive writes them
        without the unit of work)."""
        shown = (text or "").strip() or (f"📎 {file_name}" if file_name else "")
        return {"last_activity_at": utcnow(), "preview": " ".join(shown.split())[:self.PREVIEW]}

    def __str__(self) -> str:
        return self.protocol


class Message(TenantMixin, db.Model):
    __tablename__ = "message"
    __table_args__ = (
        Index("ix_message_ticket", "ticket_id", "id"),
        # the sweep looks for messages left queued
        Index("ix_message_status", "status", "created_at"),
        # provider receipts and quoted replies find a message by the provider's id
        Index("ix_message_external_id", "external_id"),
        # a website visitor's message is stored once per client id, even when a resend
        # races its first try (channels/webchat/adapter.py; only those ids: "wc:...")
        Index("uq_message_webchat_client_id", "ticket_id", "external_id", unique=True,
              postgresql_where=text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'"),
              sqlite_where=text("direction = 'in' AND substr(external_id, 1, 3) = 'wc:'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))
    author_kind: Mapped[str] = mapped_column(String(10))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    # attachment: kept under instance/uploads/<company>/messages/ with a random key
    file_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_mime: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(Integer)

    status: Mapped[str] = mapped_column(String(10), default=SENT)
    error: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # when a queued message is due (a retry with backoff); the sweep skips it until then
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    claimed_at: Mapped[datetime | None] = mapped_column()  # when a job took it (sending)
    external_id: Mapped[str | None] = mapped_column(String(120))
    # what a provider message carries beyond text and file (channels/provider.py):
    # reply_to (quoted message id), location, contact card, reaction, the WhatsApp template
    # sent ({"template": {...}}), the Meta message tag
    extra: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()

    ticket: Mapped[Ticket] = relationship()
    author: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=message_tag, lazy="selectin",
                                           order_by="Tag.name")

    @property
    def api_sender(self) -> str | None:
        """The name of the API token that sent the message (API-1), or None."""
        sender = self.extra.get(API_SENDER) if isinstance(self.extra, dict) else None
        name = sender.get("name") if isinstance(sender, dict) else None
        return str(name)[:120] if name else None

    @property
    def kind(self) -> str:
        """image / audio / document / text, for the conversation panel."""
        if not self.file_key:
            return "text"
        mime = self.file_mime or ""
        if mime.startswith("image/"):
            return "image"
        if mime.startswith("audio/"):
            return "audio"
        return "document"


class TicketEvent(TenantMixin, db.Model):
    """What happened to a ticket (accepted, transferred with its observation, closed,
    reopened): the history panel and the reports read it."""

    __tablename__ = "ticket_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"),
                                           index=True)
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()
