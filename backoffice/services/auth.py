"""Login rules (PLT-2, SEC-5, SEC-6).

- Passwords are hashed; an unknown e-mail costs the same hash check as a wrong password.
- SEC-5: failed attempts are counted per e-mail typed (whether or not it exists, so the
  answers cannot differ) and per address, with growing delays instead of a lock an
  attacker could hold. A browser where the user logged in before (the signed "known
  device" cookie) has a counter of its own instead of both, so an attacker elsewhere, or
  behind the same address, cannot keep the owner out, and an office of agents logging
  in at once from one address is not slowed; a password reset clears the account's
  counter.
- SEC-6: "Esqueci minha senha" links (only the SHA-256 of the token is stored; one use;
  they expire) and the second factor of the login (throttled like passwords).
"""
from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select, update

from ..extensions import db
from ..jobs.runner import tasks
from ..lib import passwords
from ..models import PasswordReset, User, utcnow
from . import RuleError, mail, ratelimit, twofactor

IP_SCOPE = "login-ip"
EMAIL_SCOPE = "login-email"
DEVICE_SCOPE = "login-device"
CODE_SCOPE = "login-2fa"
PASSWORD_MIN, PASSWORD_MAX = 8, 128


@cache
def _dummy_hash(method: str) -> str:
    return passwords.make("senha-que-ninguem-tem", method)


def check_unknown_password(password: str | None) -> None:
    """Checked when the e-mail is unknown, so both paths cost one hash check (the panel's
    login and the portal's, services/portal/accounts.py)."""
    passwords.matches(_dummy_hash(passwords.method()), password or "")


def check_new_password(password: str | None, confirm: str | None) -> str:
    """The password policy of every new password (panel reset, portal links and change):
    8 to 128 characters, typed twice alike. The password, or RuleError."""
    password = password or ""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RuleError(_("A senha deve ter de 8 a 128 caracteres."))
    if password != (confirm or ""):
        raise RuleError(_("As senhas não conferem."))
    return password


def normalise_email(email: str | None) -> str:
    return (email or "").strip().lower()


def _ident(email: str) -> str:
    # Counters are keyed by a digest: no e-mail addresses in Redis, fixed-size keys.
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]


def find_user(email: str | None) -> User | None:
    email = normalise_email(email)
    if not email or "\x00" in email:  # PostgreSQL refuses NUL in text: no such user
        return None
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def throttle_rules() -> tuple[ratelimit.Backoff, ratelimit.Backoff]:
    """The login throttle's rules (per address, per account), shared with the portal."""
    cfg = current_app.config
    cap = cfg["LOGIN_MAX_DELAY"]
    return (ratelimit.Backoff(cfg["LOGIN_IP_FREE_ATTEMPTS"], 1, cap),
            ratelimit.Backoff(cfg["LOGIN_FREE_ATTEMPTS"], 1, cap))


def throttled_message(wait: float) -> str:
    return _("Muitas tentativas sem sucesso. Aguarde %(seconds)d segundo(s) e tente novamente.",
             seconds=max(1, math.ceil(wait)))


# -- known devices -----------------------------------------------------------------------


@dataclass(frozen=True)
class KnownDevice:
    user_id: int
    device_id: str


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="atende-known-device")


def device_token(user: User, previous: KnownDevice | None) -> str:
    """The cookie value naming the user on this browser; a device keeps its id."""
    device_id = (previous.device_id if previous is not None and previous.user_id == user.id
                 else secrets.token_urlsafe(12))
    return _device_serializer().dumps({"u": user.id, "d": device_id})


def read_device_token(value: str | None) -> KnownDevice | None:
    if not value or len(value) > 500:
        return None
    try:
        data = _device_serializer().loads(
            value, max_age=current_app.config["LOGIN_DEVICE_DAYS"] * 86400)
    except BadData:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) \
            or not isinstance(data.get("d"), str):
        return None
    return KnownDevice(data["u"], data["d"])


# -- the password step ---------------------------------------------------------------------


@dataclass
class LoginResult:
    user: User | None
    error: str | None


def authenticate(email: str, password: str, ip: str | None = None,
                 device: KnownDevice | None = None) -> LoginResult:
    """Check e-mail and password under the throttle. Known and unknown e-mails take the
    same path (one lookup, one counter update, one hash check) and get the same answers."""
    user = find_user(email)
    ip_rule, account_rule = throttle_rules()
    ip = ip or "?"
    known = user is not None and device is not None and device.user_id == user.id
    if known:
        # A browser the user logged in from before has its own counter and no share of
        # the address's: colleagues behind one office address (or strangers behind one
        # carrier's) neither slow nor lock out a user on their own computer, however many
        # log in at once or fail meanwhile. The cookie is signed for this user only.
        account = (DEVICE_SCOPE, f"{user.id}:{device.device_id}")
        counters = [(*account, account_rule)]
    else:
        account = (EMAIL_SCOPE, _ident(email))
        counters = [(IP_SCOPE, ip, ip_rule), (*account, account_rule)]
    wait = ratelimit.attempt(counters)
    if wait:
        return LoginResult(None, throttled_message(wait))
    if user is None:
        check_unknown_password(password)
        return LoginResult(None, _("E-mail ou senha incorretos."))
    if not user.check_password(password or ""):
        return LoginResult(None, _("E-mail ou senha incorretos."))
    # The right password: this attempt was no failure.
    if not known:
        ratelimit.uncount(IP_SCOPE, ip)
    ratelimit.forget(*account)
    if not user.active:
        return LoginResult(None, _("Este usuário está desativado. Fale com o administrador da empresa."))
    if not user.is_superuser and (user.company is None or not user.company.active):
        return LoginResult(None, _("O acesso desta empresa está suspenso. Fale com o suporte."))
    return LoginResult(user, None)


def record_login(user: User) -> None:
    user.last_login_at = utcnow()
    db.session.commit()


def second_factor(user: User, code: str, ip: str | None,
                  device: KnownDevice | None = None) -> str | None:
    """None when the code (or a recovery code) is right, else the message to show.
    Codes are throttled like passwords: six digits must not be guessed in bulk. On the
    user's known device, as for the password, only the account's counter applies."""
    ip_rule, account_rule = throttle_rules()
    ip = ip or "?"
    known = device is not None and device.user_id == user.id
    counters = [(CODE_SCOPE, str(user.id), account_rule)]
    if not known:
        counters.insert(0, (IP_SCOPE, ip, ip_rule))
    wait = ratelimit.attempt(counters)
    if wait:
        return throttled_message(wait)
    if not twofactor.check(user, code):
        db.session.rollback()
        if twofactor.reused(user, code):
            return _("Este código já foi usado. Aguarde o próximo código do aplicativo.")
        return _("Código inválido.")
    db.session.commit()  # a recovery code is spent
    if not known:
        ratelimit.uncount(IP_SCOPE, ip)
    ratelimit.forget(CODE_SCOPE, str(user.id))
    return None


# -- password reset ------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ask_password_reset(email: str, ip: str | None, site_url: str) -> str | None:
    """Queue the "Esqueci minha senha" mail. The answer never depends on the e-mail
    existing: the lookup happens in the background job. Returns an error only when the
    address asks too often (which says nothing about the e-mail). The link points to
    MAIL_BASE_URL, else to `site_url` (the address the request came to)."""
    if ratelimit.hit("reset-ip", ip or "?", ratelimit.parse(current_app.config["PASSWORD_RESET_LIMIT"])):
        return _("Muitas solicitações. Tente novamente mais tarde.")
    email = normalise_email(email)
    # Per e-mail, silently: a victim's inbox must not be flooded, and a visible refusal
    # would tell which e-mails were asked for.
    if ratelimit.hit("reset-email", _ident(email), [(3, 3600)]):
        return None
    base_url = current_app.config.get("MAIL_BASE_URL") or site_url
    tasks.enqueue("backoffice.jobs.mail.password_reset", email, base_url)  # by name: no cycle
    return None


def send_password_reset(email: str, base_url: str) -> None:
    """The background half of ask_password_reset: a link for an active user, else nothing."""
    user = find_user(email)
    if user is None or not user.is_active:
        return
    token = secrets.token_urlsafe(32)
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    db.session.add(PasswordReset(user_id=user.id, token_hash=_token_hash(token),
                                 expires_at=utcnow() + timedelta(minutes=minutes)))
    db.session.commit()
    with current_app.test_request_context(base_url=base_url):
        link = url_for("auth.reset_password", token=token, _external=True)
    language = user.language or (user.company.language if user.company else None) or "pt_BR"
    with force_locale(language):
        subject = _("Atende: redefinição de senha")
        body = _("Olá, %(name)s.\n\nRecebemos um pedido para criar uma nova senha para a sua "
                 "conta no Atende. Abra o link abaixo; ele vale por %(minutes)d minutos e "
                 "uma única vez:\n\n%(link)s\n\nSe não foi você, ignore este e-mail: a sua "
                 "senha continua a mesma.",
                 name=user.name, minutes=minutes, link=link)
    mail.send(user.email, subject, body)


def find_reset(token: str | None) -> PasswordReset | None:
    """The reset a link names, while it can still be used."""
    if not token or len(token) > 128:
        return None
    row = db.session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _token_hash(token)))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    return row if row.user.is_active else None


def reset_password(token: str, password: str, confirm: str) -> User:
    row = find_reset(token)
    if row is None:
        raise RuleError(_("Este link é inválido ou expirou. Peça um novo."))
    password = check_new_password(password, confirm)
    now = utcnow()
    # Claimed with a conditional UPDATE: two submits of one link cannot both pass.
    claimed = db.session.execute(
        update(PasswordReset).where(PasswordReset.id == row.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)).rowcount
    if claimed != 1:
        db.session.rollback()
        raise RuleError(_("Este link é inválido ou expirou. Peça um novo."))
    user = row.user
    # Every other link of the user dies with this one.
    db.session.execute(update(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None)).values(used_at=now))
    user.set_password(password)
    user.must_change_password = False
    db.session.commit()
    ratelimit.forget(EMAIL_SCOPE, _ident(user.email))
    return user
