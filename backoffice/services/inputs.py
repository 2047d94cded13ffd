"""Typed readers of request input (ids, lists of ids, flags, text) for the small input
dataclasses of the rules (services.inbox.TransferInput, CloseInput, SendInput, ...).

They read a `Fields` (a JSON object or a form, read the same way) that the web layer
builds from the request (web.api.read_body), so the rules never touch the request
itself, and refuse a malformed value with a RuleError in Portuguese: the JSON routes'
guard answers it with a 400, never a 500.
"""
from __future__ import annotations

from flask_babel import gettext as _

from . import RuleError, as_id


class Fields:
    """The request's fields, from a JSON object or a form, read the same way."""

    def __init__(self, data, is_json: bool):
        self.data = data
        self.is_json = is_json

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str):
        return self.data.get(name)

    def getlist(self, name: str) -> list:
        """A list field: a JSON array, or a form field repeated (name or name[])."""
        if self.is_json:
            value = self.data.get(name, [])
            if not isinstance(value, list):
                raise RuleError(_("Campo %(name)s inválido: envie uma lista.", name=name))
            return [v for v in value if v != ""]
        values = self.data.getlist(name) or self.data.getlist(f"{name}[]")
        return [v for v in values if v != ""]


def opt_id(value, message: str) -> int | None:
    """An optional id: None when absent/empty, an int in range, else RuleError (a 400 from the JSON guard)."""
    if value is None or value == "":
        return None
    number = as_id(value)
    if number is None:
        raise RuleError(message)
    return number


def ids(values, message: str) -> list[int]:
    """Distinct ids in the order given; any malformed one refuses the whole list."""
    out = []
    for value in values:
        number = opt_id(value, message)
        if number is None:
            raise RuleError(message)
        if number not in out:
            out.append(number)
    return out


def list_field(data: Fields, *names) -> list:
    """The first of `names` present (also as name[] in a form), else an empty list."""
    for name in names:
        if name in data or f"{name}[]" in data:
            return data.getlist(name)
    return []


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters: drop them from what users type."""
    return value.replace("\x00", "")


def text(data: Fields, name: str, limit: int = 4096) -> str:
    """A text field ("" when absent); not a string: 400. Cut far beyond `limit` so an
    oversized value reaches the rule that names the limit, not the database."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RuleError(_("Campo %(name)s inválido.", name=name))
    return no_nul(value[:limit * 2])


def flag(value) -> bool:
    if isinstance(value, bool):
        return value
    if value in (1, 0):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "sim", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "nao", "não", "no", ""):
        return False
    raise RuleError(_("Valor inválido: use verdadeiro ou falso."))
