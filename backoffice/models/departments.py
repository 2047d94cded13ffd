"""Departamentos (DEP-1..DEP-7) and their members (DEP-4)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .users import User


class Department(TenantMixin, db.Model):
    """A department (setor) groups agents; tickets are queued, transferred and closed
    according to its parameters.

    The tabs of the manual map to column groups: main (name .. order), Parâmetros
    (DEP-2), Inatividade (DEP-5, minutes NULL = off), Mensagens de ação (DEP-6, text
    NULL with the checkbox on = the system's default text), Telefonia (DEP-7).
    Messages may hold the variables of services.messages (DEP-8).
    """

    __tablename__ = "department"
    __table_args__ = (
        UniqueConstraint("company_id", "name", name="uq_department_company_name"),
        # target of the company-safe composite foreign keys (reason_department)
        UniqueConstraint("company_id", "id", name="uq_department_company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # DEP-1: filled with max + 1 within the company when left empty ("order" is SQL)
    order: Mapped[int] = mapped_column("sort_order", Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # DEP-2 Parâmetros
    notify_on_ticket: Mapped[bool] = mapped_column(Boolean, default=True)
    reason_required_to_close: Mapped[bool] = mapped_column(Boolean, default=False)
    receives_tickets: Mapped[bool] = mapped_column(Boolean, default=True)
    observation_required_on_transfer: Mapped[bool] = mapped_column(Boolean, default=False)
    direct_to_wallet_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    survey_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    survey_flow: Mapped[str | None] = mapped_column(Text)
    survey_timeout_message: Mapped[str | None] = mapped_column(Text)
    survey_max_inactivity_minutes: Mapped[int | None] = mapped_column(Integer)
    # AUT-3: "csat" (1-5) or "nps" (0-10), models.automation.SURVEY_SCALES
    survey_scale: Mapped[str] = mapped_column(String(4), default="csat", server_default="csat")

    # AUT-1: the department's opening hours (None: always open) and its out-of-hours answer;
    # AUT-2: the chatbot flow run on a ticket that arrives in its queue
    period_id: Mapped[int | None] = mapped_column(ForeignKey("period.id", ondelete="SET NULL"))
    out_of_hours_message: Mapped[str | None] = mapped_column(Text)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"))

    # DEP-5 Inatividade
    close_queue_after_minutes: Mapped[int | None] = mapped_column(Integer)
    close_queue_message: Mapped[str | None] = mapped_column(Text)
    close_in_progress_after_minutes: Mapped[int | None] = mapped_column(Integer)
    close_in_progress_message: Mapped[str | None] = mapped_column(Text)

    # DEP-6 Mensagens de ação
    on_start_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    on_start_text: Mapped[str | None] = mapped_column(Text)
    on_transfer_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    on_transfer_text: Mapped[str | None] = mapped_column(Text)
    on_close_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    on_close_text: Mapped[str | None] = mapped_column(Text)

    # PAU-4: a ticket waiting longer than this (minutes) is an alert on the managers'
    # dashboard; None: the company's first-response target (CompanySettings.sla_minutes)
    wait_alert_minutes: Mapped[int | None] = mapped_column(Integer)

    # DEP-7 Telefonia
    overflow_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    overflow_department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"), index=True
    )

    overflow_department: Mapped[Department | None] = relationship(
        remote_side=[id], foreign_keys=[overflow_department_id]
    )
    period = relationship("Period")
    flow = relationship("Flow")
    members: Mapped[list[DepartmentMember]] = relationship(
        back_populates="department", cascade="all, delete-orphan",
        order_by="DepartmentMember.id", lazy="selectin",
    )

    def __str__(self) -> str:
        return self.name


class DepartmentMember(TenantMixin, db.Model):
    """A user in a department (DEP-4): whether they receive its tickets and whether they
    are responsible for it (a responsible user gets the manager home)."""

    __tablename__ = "department_member"
    __table_args__ = (
        UniqueConstraint("department_id", "user_id", name="uq_department_member_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("department.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    receives_tickets: Mapped[bool] = mapped_column(Boolean, default=True)
    responsible: Mapped[bool] = mapped_column(Boolean, default=False)

    department: Mapped[Department] = relationship(back_populates="members")
    # The ORM cascade covers deleting a user where ON DELETE CASCADE is not enforced.
    user: Mapped[User] = relationship(
        backref=backref("department_memberships", cascade="all, delete-orphan")
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.department})" if self.user and self.department else ""


# RSN-1: reasons offered per department. Both foreign keys carry company_id, so a link
# between a reason and a department of different companies cannot exist in the database.
reason_department = Table(
    "reason_department",
    db.metadata,
    Column("company_id", Integer, ForeignKey("company.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("reason_id", Integer, primary_key=True),
    Column("department_id", Integer, primary_key=True, index=True),
    ForeignKeyConstraint(["company_id", "reason_id"], ["reason.company_id", "reason.id"],
                         ondelete="CASCADE", name="fk_reason_department_reason"),
    ForeignKeyConstraint(["company_id", "department_id"],
                         ["department.company_id", "department.id"],
                         ondelete="CASCADE", name="fk_reason_department_department"),
)
