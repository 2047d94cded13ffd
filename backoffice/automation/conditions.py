"""Conditions shared by the chatbot's condition node (AUT-2) and automation rules (AUT-8).

A condition is a dict with a "type" and that type's keys:

    {"type": "period", "period_id": 3, "inside": true}      inside (or outside) a period,
                                                             holidays included (PER-2, HOL-1)
    {"type": "channel", "kind": "whatsapp"}                  the ticket's connection kind
    {"type": "connection", "connection_id": 4}
    {"type": "department", "department_id": 2}               None/absent id: no department
    {"type": "tag", "tag_id": 5, "has": true}                the ticket has (or lacks) a tag
    {"type": "contact_field", "field": "email", "op": "equals", "value": "x"}
          field: name, phone, email, document, or "custom:<key>" (Campos de contato)
          op: equals, contains, empty, not_empty
    {"type": "message_contains", "text": "boleto"}           the message being handled
    {"type": "variable", "name": "cpf", "op": "equals", "value": "x"}   a flow variable

`check` validates one before it is saved (ids of the company only, known fields), with
the reason in Portuguese; `evaluate` answers it at run time and never raises: a row
deleted since the save makes the condition false.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..lib.ids import as_id
from ..models import Company, Connection, ContactField, Department, Message, Period, Tag, Ticket
from ..models.channels import CONNECTION_KINDS
from ..services import hours

CONDITION_TYPES: dict[str, str] = {
    "period": _l("Dentro/fora de um período"),
    "channel": _l("Canal"),
    "connection": _l("Conexão"),
    "department": _l("Departamento"),
    "tag": _l("Etiqueta"),
    "contact_field": _l("Campo do contato"),
    "message_contains": _l("Mensagem contém"),
    "variable": _l("Variável do fluxo"),
}
CONTACT_FIELDS: dict[str, str] = {
    "name": _l("Nome"),
    "phone": _l("Telefone"),
    "email": _l("E-mail"),
    "document": _l("CPF/CNPJ"),
}
OPERATORS: dict[str, str] = {
    "equals": _l("é igual a"),
    "contains": _l("contém"),
    "empty": _l("está vazio"),
    "not_empty": _l("está preenchido"),
}


@dataclass
class Context:
    """What a condition or an action looks at."""

    ticket: Ticket
    now: datetime
    message: Message | None = None
    variables: dict = field(default_factory=dict)


def fold(text) -> str:
    """Lower case without accents: "Boleto" matches "BOLETO" and "bolêto"."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().strip()


def compare(found, op: str, value) -> bool:
    found, value = fold(found), fold(value)
    if op == "empty":
        return not found
    if op == "not_empty":
        return bool(found)
    if op == "contains":
        return bool(value) and value in found
    return found == value


def contact_value(ticket: Ticket, name: str):
    contact = ticket.contact
    if name.startswith("custom:"):
        return (contact.custom_fields or {}).get(name[len("custom:"):])
    return getattr(contact, name, None) if name in CONTACT_FIELDS else None


def evaluate(cond: dict, ctx: Context) -> bool:
    kind = cond.get("type")
    ticket = ctx.ticket
    try:
        if kind == "period":
            period = Period.get_owned(ticket.company_id, cond.get("period_id"))
            company = db.session.get(Company, ticket.company_id)
            inside = period is not None and hours.company_is_open(company, period, ctx.now)
            return inside == bool(cond.get("inside", True))
        if kind == "channel":
            return ticket.connection is not None and ticket.connection.kind == cond.get("kind")
        if kind == "connection":
            return ticket.connection_id == as_id(cond.get("connection_id"))
        if kind == "department":
            return ticket.department_id == as_id(cond.get("department_id"))
        if kind == "tag":
            has = any(t.id == as_id(cond.get("tag_id")) for t in ticket.tags)
            return has == bool(cond.get("has", True))
        if kind == "contact_field":
            return compare(contact_value(ticket, str(cond.get("field") or "")),
                           cond.get("op") or "equals", cond.get("value"))
        if kind == "message_contains":
            text = ctx.message.text if ctx.message is not None else ""
            return compare(text, "contains", cond.get("text"))
        if kind == "variable":
            return compare(ctx.variables.get(str(cond.get("name") or "")),
                           cond.get("op") or "equals", cond.get("value"))
    except (TypeError, ValueError, AttributeError):
        return False
    return False


def matches(conditions: list, ctx: Context, match: str = "all") -> bool:
    """All (or any) of `conditions`; an empty list always matches."""
    if not conditions:
        return True
    results = (evaluate(c, ctx) for c in conditions if isinstance(c, dict))
    return any(results) if match == "any" else all(results)


def check(company_id: int, cond) -> list[str]:
    """Why `cond` cannot be saved for this company (empty list: it can)."""
    if not isinstance(cond, dict) or cond.get("type") not in CONDITION_TYPES:
        return [_("Condição desconhecida.")]
    kind = cond["type"]
    if kind == "period" and Period.get_owned(company_id, cond.get("period_id")) is None:
        return [_("Escolha um período de atendimento da empresa.")]
    if kind == "channel" and cond.get("kind") not in CONNECTION_KINDS:
        return [_("Escolha um canal.")]
    if kind == "connection" and Connection.get_owned(company_id, cond.get("connection_id")) is None:
        return [_("Escolha uma conexão da empresa.")]
    if kind == "department" and Department.get_owned(company_id, cond.get("department_id")) is None:
        return [_("Escolha um departamento da empresa.")]
    if kind == "tag":
        tag = Tag.get_owned(company_id, cond.get("tag_id"))
        if tag is None or tag.owner_id is not None:
            return [_("Escolha uma etiqueta da empresa.")]
    if kind in ("contact_field", "variable"):
        if (cond.get("op") or "equals") not in OPERATORS:
            return [_("Operador desconhecido.")]
    if kind == "contact_field" and not field_exists(company_id, str(cond.get("field") or "")):
        return [_("Escolha um campo do contato.")]
    if kind == "variable" and not str(cond.get("name") or "").strip():
        return [_("Informe o nome da variável.")]
    if kind == "message_contains" and not str(cond.get("text") or "").strip():
        return [_("Informe o texto procurado na mensagem.")]
    return []


def field_exists(company_id: int, name: str) -> bool:
    """A built-in contact field, or "custom:<key>" of an active field of the company."""
    if name in CONTACT_FIELDS:
        return True
    if not name.startswith("custom:"):
        return False
    key = name[len("custom:"):]
    return db.session.scalar(ContactField.owned(company_id, ContactField.id).where(
        ContactField.key == key, ContactField.active.is_(True))) is not None


def field_choices(company_id: int) -> list[tuple[str, str]]:
    """(value, label) of every contact field a condition or a question may use."""
    custom = db.session.execute(ContactField.owned(company_id, ContactField.key, ContactField.label)
                                .where(ContactField.active.is_(True))
                                .order_by(ContactField.order, ContactField.label)).all()
    return [(k, str(v)) for k, v in CONTACT_FIELDS.items()] + [(f"custom:{k}", l) for k, l in custom]
