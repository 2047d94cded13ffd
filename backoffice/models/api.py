"""The public API (TOK-1, API-1): tokens, the answers kept for Idempotency-Key, and the
named outbound HTTP endpoints of the integrations (INT-1)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..lib.crypto import EncryptedText
from .base import TenantMixin, utcnow
from .users import PermissionGroup, User


class ApiToken(TenantMixin, db.Model):
    """A bearer token of one company (TOK-1), with an API permission group (PLT-3).

    The token is shown once; only its SHA-256 is kept (`token_hash`, unique: the lookup
    key), with the first characters (`prefix`, e.g. "atd_3fK9x2") to tell tokens apart
    in the list. A token is refused once `revoked_at` or `expires_at` is past, or when the
    caller's address is not in `allowed_ips` (addresses or CIDR blocks; empty = any).
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("permission_group.id", ondelete="SET NULL"), index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column()
    allowed_ips: Mapped[list] = mapped_column(JSON, default=list)
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    last_used_ip: Mapped[str | None] = mapped_column(String(45))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[PermissionGroup | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class IdempotentRequest(TenantMixin, db.Model):
    """A POST that created something, under the Idempotency-Key its caller sent (API-1).

    Written in the same transaction as what the request created, so a retried request
    finds either both or neither; the unique key makes two concurrent retries create one.
    `request_hash` tells a true retry from a reuse of the key with another body.
    """

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Integration(TenantMixin, db.Model):
    """A named outbound HTTP endpoint (INT-1), called by name by the chatbot's HTTP node
    and later features. `headers` (name -> value) often carry API keys: encrypted at rest
    as one JSON text, never shown back in full."""

    __tablename__ = "integration"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    url: Mapped[str] = mapped_column(String(500))
    method: Mapped[str] = mapped_column(String(8), default="POST")
    headers: Mapped[str | None] = mapped_column(EncryptedText)  # JSON object, encrypted
    timeout: Mapped[int] = mapped_column(Integer, default=10)  # seconds
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __str__(self) -> str:
        return self.name
