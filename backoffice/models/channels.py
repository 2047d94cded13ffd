"""Conexões (CHN-1): the channels a company talks through.

Each connection has a kind; `backoffice.channels` holds one adapter per kind. The public
key identifies a connection to the outside world (the webchat widget's script tag), so it
is random and unguessable, never the row id.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..lib.crypto import EncryptedText
from .base import TenantMixin, utcnow

KIND_WEBCHAT = "webchat"
KIND_HTTP_API = "http_api"

# Later issues add whatsapp, telegram, instagram, messenger.
CONNECTION_KINDS: dict[str, str] = {
    KIND_WEBCHAT: _l("Webchat (site)"),
    KIND_HTTP_API: _l("API HTTP genérica"),
}


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
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def kind_label(self) -> str:
        return str(CONNECTION_KINDS.get(self.kind, self.kind))

    def __str__(self) -> str:
        return self.name
