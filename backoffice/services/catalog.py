"""Rules for Etiquetas (TAG-1) and Motivos de atendimento (RSN-1)."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..models import Reason, Tag
from . import RuleError

# \Z, not $: "$" also matches before a trailing newline.
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}\Z")
COLOR_MESSAGE = _l("Cor inválida: use o formato #RRGGBB.")
DEFAULT_COLOR = "#3c8dbc"


def is_color(value) -> bool:
    return isinstance(value, str) and COLOR_RE.match(value) is not None


def text_color_on(hex_color: str) -> str:
    """Black or white, whichever contrasts more with `hex_color` (#rrggbb) as a background
    (WCAG relative luminance: black wins above 0.179, and either then reaches 4.5:1). For
    what a company paints in its own colours: tags, the portal's bar."""
    def channel(i: int) -> float:
        c = int(hex_color[i:i + 2], 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    return "#000" if luminance > 0.179 else "#fff"


def normalise_color(value: str | None) -> str:
    """'#AABBCC' -> '#aabbcc' (the form an <input type="color"> uses); else RuleError."""
    value = (value or "").strip()
    if not is_color(value):
        raise RuleError(COLOR_MESSAGE)
    return value.lower()


def safe_color(value) -> str:
    """A colour fit to put in a style attribute, whatever the row holds."""
    return value.lower() if is_color(value) else DEFAULT_COLOR


def visible_tags(query, user_id: int):
    """Company tags plus the user's own; never another user's personal tags."""
    return query.filter((Tag.owner_id.is_(None)) | (Tag.owner_id == user_id))


def chosen_tags(user, tag_ids) -> list[Tag]:
    """The tags `tag_ids` names, each a company tag or the user's own; RuleError else."""
    if not isinstance(tag_ids, (list, tuple)):
        raise RuleError(_("Etiquetas inválidas."))
    ids = set()
    for raw in tag_ids:
        try:
            ids.add(int(raw))
        except (TypeError, ValueError):
            raise RuleError(_("Etiquetas inválidas."))
    if not ids:
        return []
    found = list(db.session.scalars(Tag.owned(user.company_id).where(
        Tag.id.in_(ids), (Tag.owner_id.is_(None)) | (Tag.owner_id == user.id))))
    if len(found) != len(ids):
        raise RuleError(_("Etiqueta não encontrada."))
    return found


def _name_in(names_query, name: str) -> bool:
    """Case-insensitive in Python: SQLite's lower() folds ASCII only ("AÇÃO" != "ação")."""
    wanted = name.casefold()
    return any((n or "").strip().casefold() == wanted for n in db.session.scalars(names_query))


def check_tag_name(company_id: int, owner_id: int | None, name: str,
                   exclude_id: int | None = None) -> str:
    """The tidied name, or RuleError when the scope (company / owner) already has it."""
    name = (name or "").strip()
    if not name:
        raise RuleError(_l("Informe o nome da etiqueta."))
    q = Tag.owned(company_id, Tag.name)
    q = q.where(Tag.owner_id.is_(None) if owner_id is None else Tag.owner_id == owner_id)
    if exclude_id is not None:
        q = q.where(Tag.id != exclude_id)
    if _name_in(q, name):
        raise RuleError(_l("Já existe uma etiqueta com este nome."))
    return name


def check_reason_name(company_id: int, name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise RuleError(_l("Informe o nome do motivo."))
    q = Reason.owned(company_id, Reason.name)
    if exclude_id is not None:
        q = q.where(Reason.id != exclude_id)
    if _name_in(q, name):
        raise RuleError(_l("Já existe um motivo com este nome."))
    return name
