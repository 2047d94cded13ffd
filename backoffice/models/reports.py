"""Reports (REP-1) and the TV panel (PNL-1).

`TicketReport` is one row per ticket holding the facts the reports aggregate: when it
arrived (as a local day and hour of the company), where it ended up (department, agent,
connection, reason), the times of its life in seconds (calendar and business hours) and
how often it was transferred or reopened. Listeners (backoffice.reports.facts) keep it as
the ticket's life happens, so a report never reads the messages table and never computes a
time at request time; grouping a year of tickets is one indexed scan of narrow rows.

`PanelKey` opens the TV panel without a login: a random key shown once (only its
SHA-256 is kept), read only, revocable.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .users import User


class TicketReport(TenantMixin, db.Model):
    """The facts of one ticket. Times are seconds; `*_bh` are the same spans counted only
    inside the department's opening hours (its period, the company's holidays).

    - wait: arrival -> first acceptance (or routing to an agent);
    - first_response: arrival -> the first message an agent wrote;
    - resolution: arrival -> the close that stands (a reopened ticket: its last close);
    - handle: first acceptance -> that close.
    A reopened ticket counts once, under its arrival day, with `reopens` > 0; `day` and
    `hour` are the arrival on the company's wall clock, `closed_day` the close's.
    """

    __tablename__ = "ticket_report"
    __table_args__ = (
        Index("ix_ticket_report_day", "company_id", "day"),
        Index("ix_ticket_report_closed_day", "company_id", "closed_day"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"),
                                           primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    hour: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column()
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(20))  # the connection's kind
    reason_id: Mapped[int | None] = mapped_column(ForeignKey("reason.id", ondelete="SET NULL"))
    classification_id: Mapped[int | None] = mapped_column(  # POR-1
        ForeignKey("service_classification.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10))
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_day: Mapped[date | None] = mapped_column(Date)
    wait_s: Mapped[int | None] = mapped_column(Integer)
    wait_bh: Mapped[int | None] = mapped_column(Integer)
    first_response_s: Mapped[int | None] = mapped_column(Integer)
    first_response_bh: Mapped[int | None] = mapped_column(Integer)
    resolution_s: Mapped[int | None] = mapped_column(Integer)
    resolution_bh: Mapped[int | None] = mapped_column(Integer)
    handle_s: Mapped[int | None] = mapped_column(Integer)
    transfers: Mapped[int] = mapped_column(SmallInteger, default=0)
    reopens: Mapped[int] = mapped_column(SmallInteger, default=0)
    survey_scale: Mapped[str | None] = mapped_column(String(4))
    survey_score: Mapped[int | None] = mapped_column(SmallInteger)


class PanelKey(TenantMixin, db.Model):
    """A read-only link to the TV panel (PNL-1). `department_ids` empty: every
    department of the company."""

    __tablename__ = "panel_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    department_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    created_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
