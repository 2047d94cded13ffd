"""What happened in the app: the one catalogue of event names, `emit` and `listen`.

Services announce a change with one call, `emit(name, **data)`, and know nothing of who
listens: the socket pushes (backoffice.realtime.listeners) today, webhooks, automations
and reports later. Every listener is called synchronously, inside the caller's
transaction, so it can read rows and build its payload while they are as the change left
them; a listener queues its delivery with `lib.after_commit.later`, so nothing is
delivered before the commit, and nothing at all on a rollback.

The names are one list for sockets and webhooks. `EVENTS` are those offered to the
companies' integrations (WHK-1), name -> label shown to people: a public contract, so add
new ones, never rename or remove one. `INTERNAL` are the ones only the app listens to.
An unknown name is refused, by `emit` and `listen` alike: a typo fails at once.
"""
from __future__ import annotations

from typing import Callable

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
    "survey.answered": _l("Pesquisa de satisfação respondida"),
    "ticket.closed": _l("Atendimento finalizado"),
    "message.failed": _l("Falha no envio de mensagem"),
    "contact.deleted": _l("Contato excluído"),
}

INTERNAL: frozenset[str] = frozenset({
    "message.tags",      # MSG-3: a message's tags changed (message)
    "agent.status",      # PAU-4: an agent's presence or pause changed (user)
    "webchat.message",   # CHN-5: a message for the visitor's widget (address_id, payload)
    "session.ended",     # SEC-4: sessions ended (session_ids, their sockets' sids, db_session)
    "ticket.tags_added",  # AUT-8 "tag added": tags newly put on a ticket (ticket, tag_ids)
    "queue.opened",      # AUT-1: a period opened on tickets held out of hours (company_id,
                         # tickets): the agents are told they are waiting
    "contacts.imported",  # IMP-2: one batch of a contacts import was written (company_id,
                          # created_phones, updated_ids): the webhooks' contact events
})

NAMES: frozenset[str] = frozenset(EVENTS) | INTERNAL

Listener = Callable[..., None]
_LISTENERS: dict[str, list[Listener]] = {}


def _known(name: str) -> str:
    if name not in NAMES:
        raise ValueError(f"unknown event {name!r}: add it to backoffice.events first")
    return name


def listen(*names: str) -> Callable[[Listener], Listener]:
    """Decorator: call `fn(name, **data)` on every emit of one of `names`."""
    for name in names:
        _known(name)

    def register(fn: Listener) -> Listener:
        for name in names:
            registered = _LISTENERS.setdefault(name, [])
            if fn not in registered:  # a module imported twice registers once
                registered.append(fn)
        return fn

    return register


def emit(name: str, **data) -> None:
    """Tell every listener of `name`, now, in registration order."""
    for fn in list(_LISTENERS.get(_known(name), ())):
        fn(name, **data)


def choices() -> list[tuple[str, str]]:
    return list(EVENTS.items())


def label(name: str) -> str:
    """The label of an event; an unknown (retired) name is shown as is."""
    return str(EVENTS.get(name, name))
