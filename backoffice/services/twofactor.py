"""TOTP two-factor login (SEC-6): enabling it with a code from the app, ten recovery
codes (kept hashed, each usable once, shown only when created), turning it off with the
password, and the company switch that requires it of administrators."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import pyotp
import segno
from flask_babel import gettext as _
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import or_, select, update

from .. import permissions
from ..extensions import db
from ..models import User, utcnow
from . import RuleError

ISSUER = "Atende"
RECOVERY_CODES = 10
# No 0/o, 1/l/i: codes are copied from paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_SEPARATORS = re.compile(r"[\s-]+")


def enabled(user: User) -> bool:
    return bool(user.totp_enabled_at and user.totp_secret)


def setup_required(user: User) -> bool:
    """An administrator of a company that requires a second factor, without one yet."""
    if user.is_superuser or enabled(user):
        return False
    company = user.company
    return bool(company is not None and company.require_2fa_admins
                and permissions.ADMIN_RIGHTS <= user.rights)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_code(uri: str) -> str:
    """The otpauth:// address as a QR code the authenticator app scans: an SVG data URI,
    made on the server (no script, nothing sent to a third party)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


def _normalise(code: str | None) -> str:
    return _SEPARATORS.sub("", code or "").lower()


def _hash(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_codes() -> list[str]:
    codes = []
    for _i in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def _totp_step(secret: str, code: str | None) -> int | None:
    """The time step whose code `code` is, or None when it is none of them. One step
    either side: phones whose clock is a little off still work."""
    code = _normalise(code)
    if not (code.isdigit() and len(code) == 6):
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, valid_window=1)
    except OTPVerificationError:
        return None


def _claim(user: User, step: int) -> bool:
    """Record `step` as the user's last accepted one, unless a code of it or of a later
    step was accepted already: one conditional UPDATE, so two requests racing with the
    same code cannot both pass (the second waits for the first's row lock, then finds the
    step taken). The caller commits."""
    done = db.session.execute(
        update(User).where(User.id == user.id,
                           or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return done.rowcount == 1


def enable(user: User, secret: str, code: str) -> list[str]:
    """Turn TOTP on once the app shows a valid code (which is then spent); returns the
    recovery codes in clear (the only time they exist outside the user's hands)."""
    step = _totp_step(secret, code) if secret else None
    if step is None:
        raise RuleError(_("Código inválido. Confira o horário do celular e tente de novo."))
    codes = _new_recovery_codes()
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    user.recovery_codes = [_hash(c) for c in codes]
    user.totp_last_step = step
    return codes


def disable(user: User, password: str) -> None:
    if not user.check_password(password or ""):
        raise RuleError(_("Senha incorreta."))
    company = user.company
    if (company is not None and company.require_2fa_admins
            and permissions.ADMIN_RIGHTS <= user.rights):
        raise RuleError(_("Sua empresa exige a verificação em duas etapas dos administradores."))
    user.totp_secret = None
    user.totp_enabled_at = None
    user.recovery_codes = None


def check(user: User, code: str | None) -> bool:
    """A code from the app, or one of the recovery codes (then spent)."""
    if not enabled(user) or not code:
        return False
    step = _totp_step(user.totp_secret, code)
    if step is not None:
        return _claim(user, step)
    digest = _hash(code)
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if hmac.compare_digest(stored, digest):
            remaining.remove(stored)
            user.recovery_codes = remaining  # a new list, so the JSON column is saved
            return True
    return False


def reused(user: User, code: str | None) -> bool:
    """Whether a refused `code` is a right code from the app that was used already (the
    answer then says to wait for the next one)."""
    if not enabled(user):
        return False
    step = _totp_step(user.totp_secret, code)
    last = db.session.scalar(select(User.totp_last_step).where(User.id == user.id))
    return step is not None and last is not None and step <= last


def recovery_codes_left(user: User) -> int:
    return len(user.recovery_codes or [])
