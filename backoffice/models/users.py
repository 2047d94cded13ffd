from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (JSON, BigInteger, Boolean, false, ForeignKey, true, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .. import permissions
from ..extensions import db
from ..lib import passwords
from ..lib.crypto import EncryptedText
from .base import TenantMixin, utcnow
from .company import Company


class PermissionGroup(TenantMixin, db.Model):
    """Permissões (PLT-3): a set of rights, of kind System (screens) or API (tokens)."""

    __tablename__ = "permission_group"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(10), default=permissions.KIND_SYSTEM)
    description: Mapped[str | None] = mapped_column(String(255))
    rights: Mapped[list] = mapped_column(JSON, default=list)

    company: Mapped[Company] = relationship()
    users: Mapped[list["User"]] = relationship(back_populates="group")

    def __str__(self) -> str:
        return self.name


class User(UserMixin, db.Model):
    """A person who logs in. The super user (SaaS operator) has no company."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    # Login is by e-mail alone, so it is unique across the installation.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("permission_group.id", ondelete="SET NULL"), index=True
    )
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))
    last_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # SEC-1: a password set by someone else must be replaced at the next login.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false())
    # SEC-4: every session carries the version it was opened with; raising it (logout
    # everywhere, password, group or active change) ends every older session.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # SEC-6: TOTP two-factor login. The secret is encrypted at rest; recovery codes are
    # kept hashed, each usable once.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_enabled_at: Mapped[datetime | None] = mapped_column()
    recovery_codes: Mapped[list | None] = mapped_column(JSON)
    # the time step of the last code from the app that was accepted: a code is good once
    # (RFC 6238 5.2), not for the rest of its minute and a half
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # UX-1: the inbox plays a sound on new tickets and messages unless the user turns it off.
    sound_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # UX-3: the agent's own switch, Disponível (True) or Ausente (False); an absent agent
    # stays connected but is shown as away to managers.
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # UX-5: an uploaded avatar, stored under instance/uploads/<company>/avatars/<key>;
    # without one the pages draw the user's initials.
    avatar_key: Mapped[str | None] = mapped_column(String(32))
    avatar_mime: Mapped[str | None] = mapped_column(String(40))

    company: Mapped[Company | None] = relationship()
    group: Mapped[PermissionGroup | None] = relationship(back_populates="users")

    def __str__(self) -> str:
        return self.name

    def set_password(self, password: str) -> None:
        self.password_hash = passwords.make(password)

    def check_password(self, password: str) -> bool:
        return passwords.matches(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        if not self.active:
            return False
        return self.is_superuser or (self.company is not None and self.company.active)

    @property
    def rights(self) -> frozenset[str]:
        """Read from the group on every request, so a change to a group applies at once."""
        group = self.group
        if group is None or group.kind != permissions.KIND_SYSTEM:
            return frozenset()
        return frozenset(group.rights or ())

    def can(self, area: str, action: str = "view") -> bool:
        return f"{area}.{action}" in self.rights


class PasswordReset(db.Model):
    """SEC-6: one "Esqueci minha senha" link. Only the SHA-256 of the token is stored;
    the link works once and until `expires_at`."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """SEC-4: one login on one device. The cookie carries a random token; only its
    SHA-256 is stored. Deleting the row ends that session (and its sockets)."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()


class SessionSocket(db.Model):
    """SEC-4: an open Socket.IO connection of a session. Socket ids live only in the
    process that owns them; keeping them here lets any process (web, worker, CLI) end
    them through the message queue."""

    __tablename__ = "session_socket"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("user_session.id", ondelete="CASCADE"), index=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
