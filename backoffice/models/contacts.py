"""Contacts (clientes): who the company talks to, and the custom fields it keeps on them.

A contact's address on a channel (a webchat visitor token, a WhatsApp id) is kept in
ContactAddress, apart from the canonical phone: one is never derived from the other.

Duplicate rules: one contact per phone and one per CPF/CNPJ within a company (unique
constraints; NULLs do not collide). The document is stored normalised (digits, or the
2026 alphanumeric CNPJ upper-cased) and formatted only for display.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DDL, JSON, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .catalog import Tag
from .channels import Connection
from .users import User

PERSON_PF = "PF"
PERSON_PJ = "PJ"

contact_tag = Table(
    "contact_tag",
    db.metadata,
    Column("contact_id", ForeignKey("contact.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Contact(TenantMixin, db.Model):
    __tablename__ = "contact"
    __table_args__ = (
        # The inbox searches contacts by any part of the name (ILIKE '%maria%'): on
        # PostgreSQL a trigram index serves that instead of a scan of every contact
        # (elsewhere it is a plain index on the name).
        Index("ix_contact_name_trgm", "name", postgresql_using="gin",
              postgresql_ops={"name": "gin_trgm_ops"}),
        UniqueConstraint("company_id", "phone", name="uq_contact_company_phone"),
        UniqueConstraint("company_id", "document", name="uq_contact_company_document"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # E.164; looked up through uq_contact_company_phone (company_id, phone)
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    person_type: Mapped[str | None] = mapped_column(String(2))  # PF / PJ
    document: Mapped[str | None] = mapped_column(String(14))  # CPF or CNPJ, normalised
    # Carteira (WAL-1): the user who owns the contact; NULL = everybody's.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"),
                                                 index=True)
    # ContactField.key -> text; None is SQL NULL (not JSON null) from every writer
    custom_fields: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=contact_tag, order_by=lambda: Tag.name)
    addresses: Mapped[list["ContactAddress"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.name


class ContactField(TenantMixin, db.Model):
    """A custom field the company keeps on its contacts ("Código no ERP", "Aniversário").

    `key` is the label folded (no accents, lower case, "_" for spaces): the import maps a
    column whose folded header equals it, whatever the file's case or accents.
    """

    __tablename__ = "contact_field"
    __table_args__ = (UniqueConstraint("company_id", "key", name="uq_contact_field_company_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(60))
    order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.label


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
    # CHN-4: when the contact last wrote on this connection (the 24-hour window); kept
    # for the channels that have a window only (services.window.WINDOWED: WhatsApp,
    # Messenger, Instagram, Telegram), not written on the others (SCL-3)
    last_inbound_at: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship(back_populates="addresses")
    connection: Mapped[Connection] = relationship()


# create_all (tests, benchmarks) needs the extension before the index; the migration
# creates it too.
event.listen(Contact.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))
