"""The events the app emits to webhooks (WHK-1): name -> label shown to people.

The names are a public contract with the companies' integrations: add new ones, never
rename or remove one. Delivery (signing, retries, the log) comes with a later issue.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

EVENTS: dict[str, str] = {
    "ticket.created": _l("Atendimento criado"),
    "ticket.updated": _l("Atendimento alterado"),
    "ticket.status_changed": _l("Status do atendimento alterado"),
    "ticket.transferred": _l("Atendimento transferido"),
    "message.created": _l("Mensagem criada"),
    "message.status_changed": _l("Status da mensagem alterado"),
    "contact.created": _l("Contato criado"),
    "contact.updated": _l("Contato alterado"),
}


def choices() -> list[tuple[str, str]]:
    return list(EVENTS.items())


def label(name: str) -> str:
    """The label of an event; an unknown (retired) name is shown as is."""
    return str(EVENTS.get(name, name))
