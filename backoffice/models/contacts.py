"""Contacts (clientes): minimal here; the import issue adds documents, tags, wallets.

A contact's address on a channel (a webchat visitor token, a WhatsApp id) is kept in
ContactAddress, apart from the canonical phone: one is never derived from the other.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .channels import Connection


class Contact(TenantMixin, db.Model):
    __tablename__ = "contact"
    __table_args__ = (
        # The inbox searches contacts by any part of the name (ILIKE '%maria%'): on
        # PostgreSQL a trigram index serves that instead of a scan of every contact
        # (elsewhere it is a plain index on the name).
        Index("ix_contact_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list["ContactAddress"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class ContactAddress(TenantMixin, db.Model):
    """Where a contact is reached on one connection (unique per connection)."""

    __tablename__ = "contact_address"
    __table_args__ = (
        UniqueConstraint("connection_id", "address", name="uq_contact_address_connection"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"),
                                            index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"),
                                               index=True)
    address: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contact: Mapped[Contact] = relationship(back_populates="addresses")
    connection: Mapped[Connection] = relationship()


# create_all (tests, benchmarks) needs the extension before the index; the migration
# creates it too.
event.listen(Contact.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
