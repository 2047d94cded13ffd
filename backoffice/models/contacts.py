"""Contacts (clientes): minimal here; the import issue adds documents, tags, wallets.

A contact's address on a channel (a webchat visitor token, a WhatsApp id) is kept in
ContactAddress, apart from the canonical phone: one is never derived from the other.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .channels import Connection


class Contact(TenantMixin, db.Model):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    addresses: Mapped[list["ContactAddress"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", lazy="selectin")

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
