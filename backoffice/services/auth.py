"""Login rules (PLT-2): hashed passwords, a lock after repeated failures, and the same
answer for an unknown e-mail and a wrong password (no account probing)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User, utcnow



@cache
def _dummy_hash() -> str:
    """Checked when the e-mail is unknown, so both paths cost one hash check."""
    return generate_password_hash("senha-que-ninguem-tem")


@dataclass
class LoginResult:
    user: User | None
    error: str | None


def authenticate(email: str, password: str) -> LoginResult:
    email = (email or "").strip().lower()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    now = utcnow()
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        return LoginResult(None, _("E-mail ou senha incorretos."))
    if user.locked_until and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(None, _(
            "Muitas tentativas sem sucesso. Tente novamente em %(minutes)d minuto(s).",
            minutes=minutes))
    if not user.check_password(password or ""):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= current_app.config["LOGIN_MAX_ATTEMPTS"]:
            user.locked_until = now + timedelta(minutes=current_app.config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
        db.session.commit()
        return LoginResult(None, _("E-mail ou senha incorretos."))
    if not user.active:
        return LoginResult(None, _("Este usuário está desativado. Fale com o administrador da empresa."))
    if not user.is_superuser and (user.company is None or not user.company.active):
        return LoginResult(None, _("O acesso desta empresa está suspenso. Fale com o suporte."))
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.commit()
    return LoginResult(user, None)
