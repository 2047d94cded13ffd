"""Fale Conosco (POR-1): the portal where a client company's representatives open
protocols with the company, and what the company configures for it.

- `ServiceClassification` / `ServiceSubclassification`: "Classificações de atendimento"
  and their sub-classifications; a sub-classification routes the protocol to a department.
- `ContactMethod`: "Formas de contato" (telefone, e-mail, WhatsApp, ...).
- `PortalSettings`: one row per company (enabled, title, logo, colour, welcome text...).
- `CustomerOrganization`: a business customer of the company (name, CNPJ).
- `PortalAccount`: a representative of an organisation. Logs in to the portal only: it is
  not a `User`, so it can never open the panel or the inbox, and a panel user is no
  representative.
- `PortalToken`: a single-use link (invitation or password reset); only its SHA-256 is kept.
- `PortalRequest`: what the representative filled in when opening a protocol; the
  protocol itself is a `Ticket` of the company's `portal` connection.
"""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow


class ServiceClassification(TenantMixin, db.Model):
    """Classificação de atendimento. `in_portal`: offered on the portal's Novo contato."""

    __tablename__ = "service_classification"
    __table_args__ = (UniqueConstraint("company_id", "name",
                                       name="uq_service_classification_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    in_portal: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subclassifications: Mapped[list["ServiceSubclassification"]] = relationship(
        back_populates="classification", cascade="all, delete-orphan",
        order_by="(ServiceSubclassification.position, ServiceSubclassification.name)")

    def __str__(self) -> str:
        return self.name


class ServiceSubclassification(TenantMixin, db.Model):
    """Sub-classificação: belongs to one classification; `department_id` is where a
    protocol of it is routed (None: the connection's default routing)."""

    __tablename__ = "service_subclassification"
    __table_args__ = (UniqueConstraint("classification_id", "name",
                                       name="uq_service_subclassification_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    classification_id: Mapped[int] = mapped_column(
        ForeignKey("service_classification.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    classification: Mapped[ServiceClassification] = relationship(
        back_populates="subclassifications")
    department = relationship("Department")

    def __str__(self) -> str:
        return self.name


class ContactMethod(TenantMixin, db.Model):
    """Forma de contato: how the representative wants to be answered."""

    __tablename__ = "contact_method"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_contact_method_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.name


class PortalSettings(TenantMixin, db.Model):
    """The portal's own settings; one row per company, created on first use."""

    __tablename__ = "portal_settings"
    __table_args__ = (UniqueConstraint("company_id", name="uq_portal_settings_company"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    title: Mapped[str | None] = mapped_column(String(80))
    color: Mapped[str] = mapped_column(String(7), default="#3c8dbc", server_default="#3c8dbc")
    # an uploaded logo (the company's media store); None: the company's own logo
    logo_key: Mapped[str | None] = mapped_column(String(32))
    logo_mime: Mapped[str | None] = mapped_column(String(40))
    welcome_text: Mapped[str | None] = mapped_column(Text)
    ask_contact_method: Mapped[bool] = mapped_column(Boolean, default=True,
                                                     server_default=true())
    # a representative's reply to a finished protocol reopens it; False: it is refused
    # and the representative opens a new contact
    allow_reopen: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CustomerOrganization(TenantMixin, db.Model):
    """A business customer of the company, whose representatives use the portal."""

    __tablename__ = "customer_organization"
    __table_args__ = (UniqueConstraint("company_id", "cnpj", name="uq_customer_organization_cnpj"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    cnpj: Mapped[str | None] = mapped_column(String(14))  # digits only, check digits valid
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    accounts: Mapped[list["PortalAccount"]] = relationship(back_populates="organization")

    def __str__(self) -> str:
        return self.name


class PortalAccount(TenantMixin, db.Model):
    """A representative. `password_hash` is None until the invitation link is used.
    `auth_version` is in the portal session cookie: raising it (password change,
    deactivation) ends every session of the account."""

    __tablename__ = "portal_account"
    __table_args__ = (UniqueConstraint("company_id", "email", name="uq_portal_account_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("customer_organization.id", ondelete="CASCADE"), index=True)
    # the contact the protocols are tickets of (created with the account when missing)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))  # normalised: lower case, trimmed
    phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    invited_at: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[CustomerOrganization] = relationship(back_populates="accounts")
    contact = relationship("Contact")

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


TOKEN_INVITE = "invite"
TOKEN_RESET = "reset"
TOKEN_PURPOSES = {TOKEN_INVITE: _l("Convite"), TOKEN_RESET: _l("Redefinição de senha")}


class PortalToken(TenantMixin, db.Model):
    """A single-use link to set the account's password (invitation or reset)."""

    __tablename__ = "portal_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("portal_account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()

    account: Mapped[PortalAccount] = relationship()


class PortalRequest(TenantMixin, db.Model):
    """The Novo contato form of one protocol (the ticket `ticket_id`)."""

    __tablename__ = "portal_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"),
                                           unique=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("customer_organization.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("portal_account.id", ondelete="SET NULL"), index=True)
    contact_method_id: Mapped[int | None] = mapped_column(
        ForeignKey("contact_method.id", ondelete="SET NULL"))
    contact_person: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket = relationship("Ticket")
    organization: Mapped[CustomerOrganization] = relationship()
    account: Mapped[PortalAccount | None] = relationship()
    contact_method: Mapped[ContactMethod | None] = relationship()
