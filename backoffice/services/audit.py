"""Audit log (PLT-7): what changed in a row, before and after, and who did it.

Entries keep the raw column names and JSON values (what tests and exports rely on);
`describe` reads one in people's words (UX-4): the screen's name, the field labels the
screen shows, and each value as the screens show it. The admin fills the screens'
registry (`register_screen`) as it registers its views, so this layer never imports it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, DateTime, Time, inspect
from sqlalchemy.orm import ColumnProperty, RelationshipProperty

from ..extensions import db
from ..models import AuditLog
from .hours import local_time

# SEC-1: a secret is logged as changed ("***"), never its value or hash.
MASKED = {"password_hash", "secret", "secret_hash", "token_hash", "totp_secret",
          "recovery_codes", "headers"}  # headers: an integration's API keys (INT-1)
# must_change_password follows from who set the password, which the entry already says.
# totp_last_step is the login's bookkeeping (SEC-6: each code from the app counts once).
SKIPPED = {"failed_logins", "locked_until", "last_login_at", "must_change_password",
           "totp_last_step"}


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


# -- reading an entry (UX-4) -----------------------------------------------------------


@dataclass
class Screen:
    """What a screen calls its rows' fields: its menu name, the label of each field and,
    for fields with a fixed list of values, the label of each value."""

    name: object
    labels: Mapping[str, object] = field(default_factory=dict)
    choices: Mapping[str, Callable[[object], object] | Mapping] = field(default_factory=dict)


# A secret's field rarely has a label of its own on its screen (it is generated, or typed
# under another name): its change is still told.
SECRET_LABELS = {"password_hash": _l("Senha"), "secret": _l("Segredo"),
                 "secret_hash": _l("Segredo"), "token_hash": _l("Token"),
                 "totp_secret": _l("Verificação em duas etapas"),
                 "recovery_codes": _l("Códigos de recuperação"),
                 "headers": _l("Cabeçalhos")}

# (table, is the SaaS operator's screen) -> Screen; filled by backoffice.admin
_SCREENS: dict[tuple[str, bool], Screen] = {}


def register_screen(table: str, screen: Screen, saas: bool = False) -> None:
    """The first screen registered for a table names it (a table may have two: Empresa
    and the operator's Empresas)."""
    _SCREENS.setdefault((table, saas), screen)


def screen_for(table: str, saas: bool = False) -> Screen | None:
    return _SCREENS.get((table, saas)) or _SCREENS.get((table, not saas))


def screen_name(table: str, saas: bool = False) -> str:
    screen = screen_for(table, saas)
    return str(screen.name) if screen else _("Outros registros")


def screens(saas: bool = False) -> list[tuple[str, str]]:
    """(table, screen name) of every registered screen, by name: the audit filter."""
    found = {t: str(s.name) for (t, is_saas), s in _SCREENS.items() if is_saas == saas}
    return sorted(found.items(), key=lambda item: item[1].lower())


def _model_of(table: str):
    for mapper in db.Model.registry.mappers:
        if getattr(mapper.class_, "__tablename__", None) == table:
            return mapper.class_
    return None


def _label(screen: Screen | None, model, key: str):
    """The screen's label for `key`; a foreign key reads as its relationship's label, a
    masked secret as the form field it comes from (password_hash -> password)."""
    if screen is None:
        return None
    names = [key]
    if model is not None:
        mapper = inspect(model)
        names += [rel.key for rel in mapper.relationships
                  if any(c.key == key for c in rel.local_columns)]
    if key.endswith("_hash"):
        names.append(key[: -len("_hash")])
    for name in names:
        if screen.labels.get(name):
            return screen.labels[name]
    return SECRET_LABELS.get(key)


def _related(model, key: str):
    if model is None:
        return None
    for rel in inspect(model).relationships:
        if not rel.uselist and any(c.key == key for c in rel.local_columns):
            return rel.mapper.class_
    return None


def _column_type(model, key: str):
    if model is None:
        return None
    column = inspect(model).columns.get(key)
    return None if column is None else column.type


def _as_moment(value):
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.removesuffix("Z"))
        except ValueError:
            return None
    return value if isinstance(value, (date, time)) else None


def shown(value, kind=None, tz=None, choices=None, related=None, company_id=None) -> str:
    """One recorded value as the screens show it: Sim/Não, dd/mm/aaaa hh:mm on the
    company's clock, a choice's label, a related row's name, "—" for nothing."""
    if value is None or value == "" or value == []:
        # a choice left empty reads as the screen's blank choice ("Idioma da empresa")
        blank = choices.get("") if isinstance(choices, Mapping) else None
        return str(blank) if blank else "—"
    if value == "***":
        return "••••••"
    if isinstance(value, list):
        return ", ".join(shown(v, kind, tz, choices, related, company_id) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown(v, None, tz)}" for k, v in value.items())
    if choices is not None:
        label = choices(value) if callable(choices) else choices.get(value, choices.get(str(value)))
        if label:
            return str(label)
    if isinstance(value, bool) or isinstance(kind, Boolean):
        return _("Sim") if value else _("Não")
    if related is not None and isinstance(value, int):
        row = db.session.get(related, value)
        if row is not None and getattr(row, "company_id", company_id) == company_id:
            return str(row)
        return _("nº %(id)s (excluído)", id=value)
    moment = _as_moment(value) if isinstance(kind, (DateTime, Date, Time)) else None
    if isinstance(moment, datetime) and isinstance(kind, DateTime):
        return local_time(moment, tz).strftime("%d/%m/%Y %H:%M")
    if isinstance(moment, date) and not isinstance(moment, datetime):
        return moment.strftime("%d/%m/%Y")
    if isinstance(moment, time):
        return moment.strftime("%H:%M")
    return str(value)


def describe(entry: AuditLog, tz=None) -> list[tuple[str, str, str]]:
    """(field label, before, after) of an entry, as the screen names and shows them.
    Fields the screen does not show (the company, ids, counters) are the system's
    bookkeeping and are left out."""
    saas = entry.company_id is None
    screen = screen_for(entry.table, saas)
    model = _model_of(entry.table)
    rows = []
    for key, pair in (entry.changes or {}).items():
        label = _label(screen, model, key)
        if label is None:
            continue
        before, after = (list(pair) + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        options = dict(kind=_column_type(model, key), tz=tz,
                       choices=screen.choices.get(key) if screen else None,
                       related=_related(model, key), company_id=entry.company_id)
        rows.append((str(label), shown(before, **options), shown(after, **options)))
    return rows


def summary(entry: AuditLog, tz=None) -> str:
    """The entry's changes on one line: "Campo: antes → depois; ..." (a create shows the
    new values, a delete the old ones)."""
    parts = []
    for label, before, after in describe(entry, tz):
        if entry.action == "create":
            parts.append(f"{label}: {after}")
        elif entry.action == "delete":
            parts.append(f"{label}: {before}")
        else:
            parts.append(f"{label}: {before} → {after}")
    return "; ".join(parts)
