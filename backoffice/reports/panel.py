"""The TV panel's links (PNL-1): issued once, kept as a hash, revocable at once.

A link reads `https://HOST/tv/tv_<43 URL-safe characters>` (256 random bits). As for the
API tokens (services/api_tokens.py), only the key's SHA-256 is stored (a plain hash is
enough for a random secret, and the lookup stays one indexed query) and its first
characters in clear (`prefix`), so the "Painel TV" screen tells links apart.

Whoever holds a link sees the queues of its departments and nothing else: no login, no
customer data. An unknown key, a revoked one, and one whose company is disabled or whose
plan lost the reports module all get the same refusal (`authenticate` answers None), so
the answer tells nothing about which keys exist.

Revoking marks the key in the session (`REVOKED_INFO`); the socket layer
(realtime/panel.py) closes its sockets once the commit is done. Nothing here talks to
sockets or to the request.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..lib import clock
from ..models import Company, Department, PanelKey
from ..services import RuleError, modules

PREFIX = "tv_"
PREFIX_SHOWN = 9          # "tv_" and six characters of the secret
KEY_BYTES = 32
MAX_KEY_LENGTH = 100
TOUCH_EVERY = timedelta(minutes=1)  # last use written at most this often per key
# session.info entry: ids of keys revoked in the transaction (read after the commit)
REVOKED_INFO = "atende_panel_revoked"

REFUSED = _l("Este link do painel foi revogado ou não existe.")


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def check_departments(company_id: int, department_ids) -> list[int]:
    """The ids of `department_ids` that are the company's departments, sorted; RuleError
    when one is not (a forged id of another company)."""
    wanted = {int(i) for i in department_ids or ()}
    if not wanted:
        return []
    found = set(db.session.scalars(Department.owned(company_id, Department.id)
                                   .where(Department.id.in_(wanted))))
    if found != wanted:
        raise RuleError(_("Escolha inválida: o registro não existe ou não pertence à sua empresa."))
    return sorted(found)


def apply(key: PanelKey, company_id: int, name: str, department_ids=()) -> None:
    """Check and set what a person chooses about a link: its name and departments."""
    name = (name or "").strip()
    if not name:
        raise RuleError(_("Informe o nome do painel."))
    key.name = name[:80]
    key.department_ids = check_departments(company_id, department_ids)


def assign_secret(key: PanelKey) -> str:
    """A new random key for `key`: hash and prefix set, the key itself returned (to be
    shown once, then forgotten)."""
    raw = PREFIX + secrets.token_urlsafe(KEY_BYTES)
    key.prefix = raw[:PREFIX_SHOWN]
    key.key_hash = digest(raw)
    return raw


def issue(company_id: int, name: str, department_ids=(), *, created_by=None) -> tuple[PanelKey, str]:
    """A new link row (added to the session) and its key, to show once."""
    key = PanelKey(company_id=company_id, created_by=created_by)
    apply(key, company_id, name, department_ids)
    raw = assign_secret(key)
    db.session.add(key)
    return key, raw


def revoke(key: PanelKey) -> bool:
    """Refused from now on; its open panels are closed after the commit. False when it
    was already revoked."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = clock.now()
    db.session.info.setdefault(REVOKED_INFO, set()).add(key.id)
    return True


def authenticate(raw) -> PanelKey | None:
    """The active key `raw` is, or None (unknown, revoked, company disabled, module off:
    one answer for all)."""
    if not isinstance(raw, str) or not raw.startswith(PREFIX) or len(raw) > MAX_KEY_LENGTH:
        return None
    key = db.session.query(PanelKey).filter_by(key_hash=digest(raw)).one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    company = db.session.get(Company, key.company_id)
    if company is None or not company.active or not modules.area_enabled(company.id, "panel"):
        return None
    return key


def touch(key: PanelKey) -> bool:
    """Record the last use, at most once a minute per key: a TV refreshing all day does
    not write a row on every refresh. True when something changed."""
    now = clock.now()
    if key.last_used_at is not None and now - key.last_used_at < TOUCH_EVERY:
        return False
    key.last_used_at = now
    return True


def departments_of(key: PanelKey) -> list[int] | None:
    """The departments the key shows: None for every department of the company."""
    return list(key.department_ids) if key.department_ids else None
