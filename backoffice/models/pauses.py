"""Controle de pausa (PAU-1, PAU-2): pauses agents may start, by department and window."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Column, ForeignKey, String, Table, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin
from .departments import Department

pause_department = Table(
    "pause_department",
    db.metadata,
    Column("pause_id", ForeignKey("pause.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class Pause(TenantMixin, db.Model):
    """A pause ("Almoço", "Banheiro"). Never deleted, only made inactive (PAU-2), so the
    time agents spent in it stays reportable."""

    __tablename__ = "pause"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    departments: Mapped[list[Department]] = relationship(secondary=pause_department)
    windows: Mapped[list["PauseWindow"]] = relationship(
        back_populates="pause", cascade="all, delete-orphan", order_by="PauseWindow.id",
        lazy="selectin",
    )

    def __str__(self) -> str:
        return self.name


class PauseWindow(TenantMixin, db.Model):
    """When the pause may be started: weekdays (0 = Monday) and local start/end times;
    an end before the start runs past midnight, as in services.hours."""

    __tablename__ = "pause_window"

    id: Mapped[int] = mapped_column(primary_key=True)
    pause_id: Mapped[int] = mapped_column(ForeignKey("pause.id", ondelete="CASCADE"), index=True)
    weekdays: Mapped[list] = mapped_column(JSON, default=list)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)

    pause: Mapped[Pause] = relationship(back_populates="windows")
