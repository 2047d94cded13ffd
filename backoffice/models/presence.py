"""Agents at work (PAU-3, PAU-4): pauses taken and time connected to the inbox.

A pause runs until the agent ends it (the manual: it never ends by itself, even after
its window closes). Presence rows record when an agent was connected to the inbox, so
the agent home can show minutes per status today and this month.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .pauses import Pause
from .users import User


class PauseSession(TenantMixin, db.Model):
    __tablename__ = "pause_session"
    __table_args__ = (Index("ix_pause_session_user", "user_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    pause_id: Mapped[int] = mapped_column(ForeignKey("pause.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()
    pause: Mapped[Pause] = relationship()


class PresenceSession(TenantMixin, db.Model):
    __tablename__ = "presence_session"
    __table_args__ = (Index("ix_presence_session_user", "user_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    # the socket that opened it, so a reconnect elsewhere does not end it
    sid: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()
