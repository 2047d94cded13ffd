"""Audit log (PLT-7): what changed in a row, before and after, and who did it."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, RelationshipProperty

from ..extensions import db
from ..models import AuditLog

# SEC-1: a secret is logged as changed ("***"), never its value or hash.
MASKED = {"password_hash", "secret", "secret_hash", "token_hash", "totp_secret",
          "recovery_codes"}
# must_change_password follows from who set the password, which the entry already says.
SKIPPED = {"failed_logins", "locked_until", "last_login_at", "must_change_password"}


def _plain(value):
    """A JSON-safe, human-readable value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _attrs(obj):
    mapper = inspect(type(obj))
    for prop in mapper.iterate_properties:
        if prop.key in SKIPPED:
            continue
        if isinstance(prop, ColumnProperty):
            yield prop.key, False
        elif isinstance(prop, RelationshipProperty) and prop.uselist and prop.secondary is not None:
            yield prop.key, True  # many-to-many membership lists


def _value(key, value):
    return "***" if key in MASKED and value is not None else _plain(value)


def pending_changes(obj, created: bool) -> dict:
    """Field -> [before, after]; call before the flush, while history is still there."""
    state = inspect(obj)
    changes = {}
    for key, is_list in _attrs(obj):
        hist = state.attrs[key].history
        if created:
            after = getattr(obj, key)
            if after not in (None, [], ""):
                changes[key] = [None, _value(key, list(after) if is_list else after)]
            continue
        if not hist.has_changes():
            continue
        if is_list:
            before = [*hist.unchanged, *hist.deleted]
            after = [*hist.unchanged, *hist.added]
        else:
            before = hist.deleted[0] if hist.deleted else None
            after = hist.added[0] if hist.added else None
        if _plain(before) != _plain(after):
            changes[key] = [_value(key, before), _value(key, after)]
    return changes


def snapshot(obj) -> dict:
    return {
        key: [_value(key, list(getattr(obj, key)) if is_list else getattr(obj, key)), None]
        for key, is_list in _attrs(obj)
        if getattr(obj, key) not in (None, [], "")
    }


def record(actor, action: str, obj, changes: dict, company_id: int | None) -> AuditLog | None:
    if action == "update" and not changes:
        return None
    pk = inspect(obj).identity or (getattr(obj, "id", None),)
    entry = AuditLog(
        company_id=company_id,
        user_id=getattr(actor, "id", None),
        user_name=getattr(actor, "name", None) or "sistema",
        action=action,
        table=type(obj).__tablename__,
        row_id=",".join(str(p) for p in pk),
        row_label=str(obj)[:255],
        changes=changes,
    )
    db.session.add(entry)
    return entry
