"""Webhooks (WHK-1): where a company wants its events sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..lib.crypto import EncryptedText
from .base import TenantMixin, utcnow


class Webhook(TenantMixin, db.Model):
    """An endpoint of the company's integration and the events it subscribes to.

    `secret` signs each delivery (HMAC-SHA256 of the body, with a delivery id and retries),
    so it is kept as generated, not hashed. It is shown once, when it is generated, and
    never again: no list, form, details page or export includes it, and the audit log
    masks it (services.audit.MASKED).
    """

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(500))
    events: Mapped[list] = mapped_column(JSON, default=list)  # names from backoffice.events
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(EncryptedText)  # SEC-8: encrypted at rest
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # WHK-1: set at the first failed delivery, cleared by a success; a webhook failing for
    # 24 hours is switched off (`active` False, `disabled_at`) and the admins are told.
    failing_since: Mapped[datetime | None] = mapped_column()
    disabled_at: Mapped[datetime | None] = mapped_column()

    def __str__(self) -> str:
        return self.name


# WebhookDelivery.status
PENDING = "pending"      # waiting for its attempt (new, or retrying at next_attempt_at)
SENDING = "sending"      # claimed by a job
DELIVERED = "delivered"  # the receiver answered 2xx
FAILED = "failed"        # given up: a permanent refusal or the attempts ran out
DELIVERY_STATUSES = (PENDING, SENDING, DELIVERED, FAILED)


class WebhookDelivery(TenantMixin, db.Model):
    """One event for one webhook (WHK-1): the outbox row and its delivery log.

    Written by the event listener in the transaction of the change itself, so an event is
    never lost when Redis or the receiver is down: a job sends it after the commit and the
    periodic sweep sends whatever is due and was not. `body` is the exact JSON that is
    signed and sent, kept so a retry or "Reenviar" sends the same bytes (with a new
    signature time). `order_key` ("ticket:12") keeps the deliveries of one ticket in order:
    a delivery waits while an earlier one of the same key to the same webhook is pending.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_order", "webhook_id", "order_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))  # uuid4, the same for every webhook
    event: Mapped[str] = mapped_column(String(40))
    order_key: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)  # the first KB
    error: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()

    webhook: Mapped[Webhook] = relationship()

    def __str__(self) -> str:
        return f"{self.event} #{self.id}"
