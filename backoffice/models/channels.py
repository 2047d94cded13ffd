"""Conexões (CHN-1): the channels a company talks through.

Each connection has a kind; `backoffice.channels` holds one adapter per kind. The public
key identifies a connection to the outside world (the webchat widget's script tag), so it
is random and unguessable, never the row id.
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..lib.crypto import EncryptedText
from .base import TenantMixin, utcnow

KIND_WEBCHAT = "webchat"
KIND_HTTP_API = "http_api"
KIND_WHATSAPP = "whatsapp"
KIND_TELEGRAM = "telegram"
KIND_MESSENGER = "messenger"
KIND_INSTAGRAM = "instagram"
# POR-1: the Fale Conosco portal; one per company, created when the portal is enabled
KIND_PORTAL = "portal"

CONNECTION_KINDS: dict[str, str] = {
    KIND_WHATSAPP: _l("WhatsApp (Cloud API)"),
    KIND_INSTAGRAM: _l("Instagram"),
    KIND_MESSENGER: _l("Facebook Messenger"),
    KIND_TELEGRAM: _l("Telegram"),
    KIND_WEBCHAT: _l("Webchat (site)"),
    KIND_HTTP_API: _l("API HTTP genérica"),
    # listed and filtered like the others, never created on the Conexões form: the portal
    # makes its own (services/portal/channel.ensure_connection)
    KIND_PORTAL: _l("Fale Conosco (portal)"),
}
# The kinds whose provider posts to /hooks/<kind>/<public key> (channels/provider.py).
HOOK_KINDS = (KIND_WHATSAPP, KIND_TELEGRAM, KIND_MESSENGER, KIND_INSTAGRAM)


def new_public_key() -> str:
    return secrets.token_urlsafe(18)


class Connection(TenantMixin, db.Model):
    __tablename__ = "connection"
    __table_args__ = (UniqueConstraint("company_id", "name", name="uq_connection_company_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20), default=KIND_WEBCHAT)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    public_key: Mapped[str] = mapped_column(String(40), unique=True, default=new_public_key)
    # webchat: greeting / title shown in the widget
    widget_title: Mapped[str | None] = mapped_column(String(80))
    widget_greeting: Mapped[str | None] = mapped_column(String(255))
    widget_color: Mapped[str] = mapped_column(String(7), default="#3c8dbc")
    # http_api: where outgoing messages are POSTed, and the secret that signs them
    endpoint_url: Mapped[str | None] = mapped_column(String(500))
    endpoint_secret: Mapped[str | None] = mapped_column(EncryptedText)  # SEC-8: at rest
    # provider channels: the public ids (phone_number_id, waba_id, page_id) in `settings`;
    # the tokens and app secrets as one JSON object, encrypted (SEC-8), never shown again
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    credentials: Mapped[str | None] = mapped_column(EncryptedText)
    # AUT-1: opening hours of the channel (None: always open) and the out-of-hours answer;
    # AUT-2: the entry chatbot flow a new conversation starts on
    period_id: Mapped[int | None] = mapped_column(ForeignKey("period.id", ondelete="SET NULL"))
    out_of_hours_message: Mapped[str | None] = mapped_column(Text)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    period = relationship("Period")
    flow = relationship("Flow")

    # -- provider credentials (write-only: read by the adapters, never by a page) --------
    def secrets(self) -> dict[str, str]:
        try:
            found = json.loads(self.credentials or "{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}

    def secret(self, name: str) -> str | None:
        return self.secrets().get(name) or None

    def set_secret(self, name: str, value: str | None) -> None:
        """Replace one credential (None removes it); the others are kept."""
        found = self.secrets()
        if value:
            found[name] = value
        else:
            found.pop(name, None)
        self.credentials = json.dumps(found, sort_keys=True) if found else None

    def setting(self, name: str) -> str | None:
        return (self.settings or {}).get(name) or None

    def set_setting(self, name: str, value: str | None) -> None:
        found = dict(self.settings or {})  # a new dict: JSON columns track assignment
        if value:
            found[name] = value
        else:
            found.pop(name, None)
        self.settings = found

    @property
    def kind_label(self) -> str:
        return str(CONNECTION_KINDS.get(self.kind, self.kind))

    def __str__(self) -> str:
        return self.name


class ProviderTemplate(TenantMixin, db.Model):
    """A WhatsApp message template approved (or not) in the company's WhatsApp Business
    account, as last synced (CHN-4, TPL-3). Outside the 24-hour window these are the only
    messages WhatsApp delivers. `components` is Meta's own list (HEADER/BODY/FOOTER/
    BUTTONS); `variables` is how many {{n}} the body has."""

    __tablename__ = "provider_template"
    __table_args__ = (UniqueConstraint("connection_id", "name", "language",
                                       name="uq_provider_template_connection_name_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"),
                                               index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(15))
    category: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(30))      # APPROVED, PENDING, REJECTED, PAUSED...
    body: Mapped[str | None] = mapped_column(Text)       # the BODY text, with {{1}} ...
    variables: Mapped[int] = mapped_column(Integer, default=0)
    components: Mapped[list] = mapped_column(JSON, default=list)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def approved(self) -> bool:
        return self.status == "APPROVED"

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


# ChannelEvent.status
EVENT_PENDING, EVENT_PROCESSING, EVENT_DONE, EVENT_FAILED = (
    "pending", "processing", "done", "failed")


class ChannelEvent(TenantMixin, db.Model):
    """One item a provider posted to /hooks/<kind>/<key> (a message, a status, ...), stored
    before the provider is answered and processed by a job (CHN-2).

    `key` is the provider's id of the item (wamid, update_id, mid, "status:<wamid>:read"):
    unique per connection, so a redelivered or replayed webhook stores nothing new. The
    payload is the item as the provider sent it (with the context the adapter needs, such
    as WhatsApp's contact profile)."""

    __tablename__ = "channel_event"
    __table_args__ = (
        UniqueConstraint("connection_id", "key", name="uq_channel_event_connection_key"),
        # the sweep: items left pending (queue down) or processing (worker died)
        Index("ix_channel_event_status", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))        # message, status, ...
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=EVENT_PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    processed_at: Mapped[datetime | None] = mapped_column()
