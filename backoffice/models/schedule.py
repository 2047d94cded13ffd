"""Períodos de atendimento (PER-1, PER-2) and Feriados (HOL-1)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin


class Period(TenantMixin, db.Model):
    """A named set of opening hours ("Horário comercial"), used to tell in-hours from
    out-of-hours (services.hours)."""

    __tablename__ = "period"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    schedules: Mapped[list["PeriodSchedule"]] = relationship(
        back_populates="period", cascade="all, delete-orphan",
        order_by="PeriodSchedule.id",
        # Always needed with the period (is_open, the list, the streamed CSV export).
        lazy="selectin",
    )

    def __str__(self) -> str:
        return self.name


class PeriodSchedule(TenantMixin, db.Model):
    """One range of a period: the weekdays it applies to (0 = Monday .. 6 = Sunday) and
    the local start and end times. An end at or before the start is an overnight range:
    it belongs to the weekday where it starts and runs past midnight into the next day."""

    __tablename__ = "period_schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("period.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    weekdays: Mapped[list] = mapped_column(JSON, default=list)
    start_time: Mapped[dt.time] = mapped_column(Time)
    end_time: Mapped[dt.time] = mapped_column(Time)

    period: Mapped[Period] = relationship(back_populates="schedules")

    def __str__(self) -> str:
        return self.name


class Holiday(TenantMixin, db.Model):
    """A day on which every period of the company is closed; `every_year` repeats it on
    the same day and month."""

    __tablename__ = "holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    date: Mapped[dt.date] = mapped_column(Date)
    every_year: Mapped[bool] = mapped_column(Boolean, default=False)

    def __str__(self) -> str:
        return self.name
