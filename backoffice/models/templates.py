"""Templates de mensagens (TPL-1..TPL-3) and Parâmetros (PAR-1)."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import TenantMixin, utcnow
from .company import Company

KIND_TEXT = "text"
KIND_ATTACHMENT = "attachment"
KIND_INSTAGRAM = "instagram"
KIND_FACEBOOK = "facebook"
KIND_TELEGRAM = "telegram"

# TPL-1: the five kinds, in the order the screen offers them.
TEMPLATE_KINDS: dict[str, str] = {
    KIND_TEXT: _l("Texto"),
    KIND_ATTACHMENT: _l("Anexo"),
    KIND_INSTAGRAM: _l("Instagram"),
    KIND_FACEBOOK: _l("Facebook"),
    KIND_TELEGRAM: _l("Telegram"),
}

# TPL-3: these may open or reopen a ticket after the channel's 24-hour window.
# TPL-2: text and attachment are message-bar shortcuts only.
TICKET_OPENING_KINDS = frozenset({KIND_INSTAGRAM, KIND_FACEBOOK, KIND_TELEGRAM})


class MessageTemplate(TenantMixin, db.Model):
    """A Template de mensagem. The shortcut ("/bomdia") is unique per company ignoring
    case: services.templates accepts ASCII letters, digits, "-" and "_" only and stores
    it lower-cased, so the plain unique constraint below is case-insensitive.

    An attachment template keeps its file under instance/uploads/<company>/templates/
    with a random name (`file_key`); the user's file name is only shown and sent back
    in Content-Disposition.
    """

    __tablename__ = "message_template"
    __table_args__ = (
        UniqueConstraint("company_id", "shortcut", name="uq_message_template_company_shortcut"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=KIND_TEXT)
    shortcut: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str | None] = mapped_column(Text)
    file_key: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_mime: Mapped[str | None] = mapped_column(String(100))
    file_size: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def can_open_ticket(self) -> bool:
        return self.kind in TICKET_OPENING_KINDS

    @property
    def kind_label(self) -> str:
        return str(TEMPLATE_KINDS.get(self.kind, self.kind))

    def __str__(self) -> str:
        return f"{self.shortcut} — {self.title}"


class CompanySettings(TenantMixin, db.Model):
    """Parâmetros (PAR-1): one row per company, created on first use
    (services.settings.get_settings). Show-agent-name stays on Company (CO-2)."""

    __tablename__ = "company_settings"
    __table_args__ = (UniqueConstraint("company_id", name="uq_company_settings_company"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cpf_required_pf: Mapped[bool] = mapped_column(Boolean, default=False)
    cnpj_required_pj: Mapped[bool] = mapped_column(Boolean, default=False)
    support_access_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    wallet_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # REP-1: the first-response target (minutes) of the reports' SLA share
    sla_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    company: Mapped[Company] = relationship()

    def __str__(self) -> str:
        return str(_l("Parâmetros de %(company)s", company=self.company.name if self.company else ""))
