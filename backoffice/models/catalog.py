"""Etiquetas (TAG-1) and Motivos de atendimento (RSN-1): small per-company catalogues."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, and_, text
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .departments import Department, reason_department
from .users import User


class Tag(TenantMixin, db.Model):
    """An Etiqueta (TAG-1), used on tickets, contacts and messages.

    owner_id NULL: a company tag, seen by every user of the company.
    owner_id set: one of the owner's "Minhas etiquetas", seen by nobody else.

    Names are unique per scope, ignoring case. The unique constraint below does not
    cover company tags (NULL never equals NULL in SQL), hence the partial index; the
    case-insensitive check lives in services.catalog.
    """

    __tablename__ = "tag"
    __table_args__ = (
        UniqueConstraint("company_id", "owner_id", "name", name="uq_tag_company_owner_name"),
        Index("uq_tag_company_name_shared", "company_id", "name", unique=True,
              sqlite_where=text("owner_id IS NULL"),
              postgresql_where=text("owner_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    color: Mapped[str] = mapped_column(String(7), default="#3c8dbc")  # "#rrggbb"
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # A user's personal tags go with the user. The ORM cascade covers SQLite, where
    # foreign keys (and so ON DELETE CASCADE) are not enforced.
    owner: Mapped[User | None] = relationship(
        backref=backref("personal_tags", cascade="all, delete-orphan")
    )

    @property
    def personal(self) -> bool:
        return self.owner_id is not None

    def __str__(self) -> str:
        return self.name


class Reason(TenantMixin, db.Model):
    """A Motivo de atendimento (RSN-1), chosen when a ticket is closed.

    RSN-1 also links a reason to departments (many-to-many through `reason_department`,
    whose foreign keys include company_id on both sides), and the list is filtered by
    department.
    """

    __tablename__ = "reason"
    __table_args__ = (
        UniqueConstraint("company_id", "name", name="uq_reason_company_name"),
        # target of the company-safe composite foreign key of reason_department
        UniqueConstraint("company_id", "id", name="uq_reason_company_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Both joins carry company_id, so the link row gets it from both sides; a reason and
    # a department of different companies would break one of the composite foreign keys.
    departments: Mapped[list[Department]] = relationship(
        secondary=reason_department,
        primaryjoin=lambda: and_(Reason.id == reason_department.c.reason_id,
                                 Reason.company_id == reason_department.c.company_id),
        secondaryjoin=lambda: and_(Department.id == reason_department.c.department_id,
                                   Department.company_id == reason_department.c.company_id),
        order_by=lambda: (Department.order, Department.name),
        backref=backref("reasons", order_by=lambda: Reason.name),
    )

    def __str__(self) -> str:
        return self.name
