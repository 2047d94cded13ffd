"""Webhooks (WHK-1): where a company wants its events sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

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

    def __str__(self) -> str:
        return self.name
