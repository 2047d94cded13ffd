"""API tokens (TOK-1): issued once, kept as a hash, checked on every API request.

A token reads `atd_<43 URL-safe characters>` (256 random bits). Only its SHA-256 is
stored: a leaked database gives no usable token, and a plain hash is enough because the
secret is random, not a password a person chose (no need for a slow KDF, and the lookup
by hash stays one indexed query). The first characters are kept in clear (`prefix`) so
the "Tokens de API" screen can tell tokens apart.

What the API answers to a refused token is deliberately the same 401 for an unknown,
revoked or expired token; the address check is a 401 too, with its own text, because
the integrator must know to update the allowed list.
"""
from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sqlalchemy import delete

from .. import permissions
from ..extensions import db
from ..lib import clock
from ..models import PermissionGroup
from ..models.api import ApiToken, IdempotentRequest
from . import RuleError
from .telephony import parse_ip_list

PREFIX = "atd_"
PREFIX_SHOWN = 10          # "atd_" and six characters of the secret
TOKEN_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)  # last use is written at most this often per token

INVALID = _l("Token de API inválido, revogado ou expirado.")
MISSING = _l("Envie o token no cabeçalho Authorization: Bearer <token>.")
ADDRESS = _l("Este token não pode ser usado a partir do endereço %(address)s.")


class TokenRefused(Exception):
    """The request carries no usable token: a 401 with this (Portuguese) text."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def check_group(company_id: int, group_id) -> PermissionGroup:
    """The company's API permission group `group_id` (PLT-3), or RuleError."""
    group = PermissionGroup.get_owned(company_id, group_id)
    if group is None or group.kind != permissions.KIND_API:
        raise RuleError(_("Escolha um grupo de permissões do tipo API."))
    return group


def check_ips(value) -> list[str]:
    """Allowed addresses (IPs or CIDR blocks), one per line or a list; normalised."""
    text = "\n".join(value) if isinstance(value, (list, tuple)) else (value or "")
    entries, errors = parse_ip_list(text)
    if errors:
        raise RuleError(" ".join(errors))
    return entries


def check_expiry(expires_at, before=None):
    """`expires_at` (naive UTC) or None; a new or changed expiry must be in the future,
    while an unchanged one may have passed (renaming an expired token stays possible)."""
    if expires_at is not None and expires_at != before and expires_at <= clock.now():
        raise RuleError(_("A validade precisa ser uma data futura."))
    return expires_at


def apply(token: ApiToken, company_id: int, name: str, group_id, *, expires_at=None,
          allowed_ips=()) -> None:
    """Check and set what a person chooses about a token (on issue and on edit); the
    token itself is never among them."""
    name = (name or "").strip()
    if not name:
        raise RuleError(_("Informe o nome do token."))
    group = check_group(company_id, group_id)
    token.expires_at = check_expiry(expires_at, token.expires_at if token.id else None)
    token.allowed_ips = check_ips(allowed_ips)
    token.name = name[:80]
    token.group_id, token.group = group.id, group


def assign_secret(token: ApiToken) -> str:
    """A new random token for `token`: its hash and prefix are set, the token returned
    (to be shown once, then forgotten)."""
    raw = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    token.prefix = raw[:PREFIX_SHOWN]
    token.token_hash = digest(raw)
    return raw


def issue(company_id: int, name: str, group_id, *, expires_at=None, allowed_ips=(),
          created_by=None) -> tuple[ApiToken, str]:
    """A new token row (added to the session) and the token itself, to show once."""
    token = ApiToken(company_id=company_id, created_by=created_by)
    apply(token, company_id, name, group_id, expires_at=expires_at, allowed_ips=allowed_ips)
    raw = assign_secret(token)
    db.session.add(token)
    return token, raw


def tokens_of(group: PermissionGroup) -> list[ApiToken]:
    """The tokens not revoked that take their rights from `group`: deleting it or making it
    a System group would silently break their integrations."""
    return list(db.session.scalars(ApiToken.owned(group.company_id).where(
        ApiToken.group_id == group.id, ApiToken.revoked_at.is_(None))))


def revoke(token: ApiToken) -> None:
    """Refused from the next request on (TOK-1: revocable at once)."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()


def status(token: ApiToken) -> str:
    """"active", "revoked" or "expired"."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= clock.now():
        return "expired"
    return "active"


def _address_allowed(token: ApiToken, address: str) -> bool:
    if not token.allowed_ips:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in token.allowed_ips)


def authenticate(header: str | None, address: str) -> ApiToken:
    """The token of an `Authorization` header value, or TokenRefused."""
    scheme, _sep, raw = (header or "").strip().partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise TokenRefused(str(MISSING))
    if not raw.startswith(PREFIX) or len(raw) > 100:
        raise TokenRefused(str(INVALID))
    token = db.session.query(ApiToken).filter_by(token_hash=digest(raw)).one_or_none()
    if token is None or status(token) != "active" or token.group is None:
        raise TokenRefused(str(INVALID))
    if not _address_allowed(token, address):
        raise TokenRefused(_("Este token não pode ser usado a partir do endereço %(address)s.",
                             address=address))
    return token


def rights(token: ApiToken) -> frozenset[str]:
    """The API rights of the token's group, read at each request: a change to the group
    applies at once (PLT-3)."""
    group = token.group
    if group is None or group.kind != permissions.KIND_API:
        return frozenset()
    return frozenset(group.rights or ())


def touch(token: ApiToken, address: str) -> bool:
    """Record the last use (time and address), at most once a minute per token so a busy
    integration does not write a row on every call; True when something changed."""
    now = clock.now()
    if (token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY
            and token.last_used_ip == address):
        return False
    token.last_used_at = now
    token.last_used_ip = address[:45]
    return True


KEEP_REQUESTS = timedelta(hours=24)  # how long an Idempotency-Key answer is replayed


def forget_old_requests(now=None) -> int:
    """Drop the Idempotency-Key answers older than KEEP_REQUESTS (periodic)."""
    cutoff = (now or clock.now()) - KEEP_REQUESTS
    result = db.session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < cutoff))
    db.session.commit()
    return result.rowcount or 0
