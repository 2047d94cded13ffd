from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import utcnow


class AuditLog(db.Model):
    """Who changed which configuration row, when, and what (PLT-7).

    company_id is NULL for the SaaS operator's own changes (plans, companies).
    The user's name is copied so the log still reads after the user is deleted.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    user_name: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(10))  # create / update / delete
    table: Mapped[str] = mapped_column(String(60))
    row_id: Mapped[str] = mapped_column(String(60))
    row_label: Mapped[str] = mapped_column(String(255))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # field -> [before, after]
