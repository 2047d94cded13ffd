"""Mensagens de despedida (AUT-6): offered to the agent when closing a ticket."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import TenantMixin, utcnow


class FarewellMessage(TenantMixin, db.Model):
    __tablename__ = "farewell_message"
    __table_args__ = (UniqueConstraint("company_id", "title", name="uq_farewell_company_title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)  # may hold the variables of services.messages
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.title
