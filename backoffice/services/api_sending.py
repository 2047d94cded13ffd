"""Messages sent through the public API (API-1): the same queue as the inbox
(services.sending), on behalf of an API token instead of a user.

- Author: the bot kind (`AUTHOR_BOT`), as every message no person typed; the token is
  named in Message.extra["api_token"] so the agent sees "API: <token>" on the bubble
  (services.serialize). Being a bot's message, the 24-hour window is checked by
  `sending.queue` (CHN-4) and the ticket counts as automated (FLT-1 "Automações").
- A ticket that is closed refuses the message, as the inbox's composer does.
- To a phone on a WhatsApp connection: the contact behind that number (found by its
  address or its phone, else created) and their open ticket, else a new one with no
  department, as an inbound message would open it (services.tickets).
- A WhatsApp approved template: its variables come by number ({"1": "Maria"}); missing
  and unknown ones are refused together, by name.

Nothing here commits: the API commits on success and rolls back on a refusal, so a
refused message leaves no contact, ticket or file row behind.
"""
from __future__ import annotations

import binascii
import base64
import io

from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from ..extensions import db
from ..lib.phones import normalise_phone
from ..models import Connection, Message, ProviderTemplate, Ticket
from ..models.channels import KIND_WHATSAPP
from ..models.tickets import API_SENDER, AUTHOR_BOT, CLOSED
from . import RuleError, as_id, attachments, provider_templates, sending, tickets


def sender_extra(token) -> dict:
    """Message.extra naming the token that sent the message (kept as it was then: a token
    renamed or revoked later does not change who sent it)."""
    return {API_SENDER: {"id": token.id, "name": token.name}}


# --- where the message goes --------------------------------------------------------------


def writable(ticket: Ticket) -> Ticket:
    if ticket.status == CLOSED:
        raise RuleError(_("Este atendimento já foi finalizado."))
    return ticket


def phone_connection(connection: Connection) -> Connection:
    """A connection that can start a conversation with a phone number."""
    if not connection.active:
        raise RuleError(_("A conexão %(name)s está inativa.", name=connection.name))
    if connection.kind != KIND_WHATSAPP:
        raise RuleError(_("Só conexões do WhatsApp enviam para um número de telefone."))
    return connection


def contact_for_phone(connection: Connection, phone: str):
    """The contact behind `phone` on the WhatsApp `connection`, created on first use
    (its address is the number as WhatsApp writes it: E.164 without the "+")."""
    phone_connection(connection)
    e164 = normalise_phone(phone)
    if e164 is None:
        raise RuleError(_("Informe o telefone."))
    return tickets.contact_for(connection, e164.lstrip("+"), phone=e164)


def ticket_for_phone(connection: Connection, phone: str) -> Ticket:
    """The contact's open ticket on the connection, else a new one (no department: it
    waits for the automations or an agent, as an inbound conversation does)."""
    contact = contact_for_phone(connection, phone)
    return (tickets.open_ticket_of(contact, connection)
            or tickets.open_ticket(contact, connection, None))


# --- what the message carries ---------------------------------------------------------------


def decode_file(filename: str, content_base64: str):
    """A file sent as base64, checked like an inbox attachment (type by content and
    extension, size): services.templates.Upload, or RuleError in Portuguese."""
    try:
        data = base64.b64decode(content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise RuleError(_("O conteúdo do arquivo não é base64 válido."))
    return attachments.read(FileStorage(stream=io.BytesIO(data), filename=filename or ""))


def provider_template(connection: Connection | None, template_id=None, name: str | None = None,
                      language: str | None = None) -> ProviderTemplate:
    """An approved template of the WhatsApp `connection`, by id or by name (and language
    when the name has more than one)."""
    if connection is None or connection.kind != KIND_WHATSAPP:
        raise RuleError(_("Modelos aprovados só podem ser enviados em conexões do WhatsApp."))
    query = select(ProviderTemplate).where(ProviderTemplate.company_id == connection.company_id,
                                           ProviderTemplate.connection_id == connection.id,
                                           ProviderTemplate.status == "APPROVED")
    if template_id is not None:
        query = query.where(ProviderTemplate.id == (as_id(template_id) or 0))
    else:
        query = query.where(ProviderTemplate.name == (name or ""))
        if language:
            query = query.where(ProviderTemplate.language == language)
    found = list(db.session.scalars(query.order_by(ProviderTemplate.id).limit(2)))
    if not found:
        raise RuleError(_("Modelo aprovado não encontrado para esta conexão."))
    if len(found) > 1:
        raise RuleError(_("O modelo %(name)s existe em mais de um idioma: informe o idioma "
                          "(language).", name=found[0].name))
    return found[0]


def template_values(template: ProviderTemplate, variables: dict | None) -> list[str]:
    """The values of {{1}}..{{n}} in order; RuleError naming every missing and every
    unknown variable."""
    variables = {str(k).strip(): v for k, v in (variables or {}).items()}
    expected = [str(n) for n in range(1, (template.variables or 0) + 1)]
    missing = [n for n in expected if not str(variables.get(n) or "").strip()]
    unknown = sorted(k for k in variables if k not in expected)
    problems = []
    if missing:
        problems.append(_("faltam as variáveis %(names)s",
                          names=", ".join("{{%s}}" % n for n in missing)))
    if unknown:
        problems.append(_("o modelo não tem as variáveis %(names)s",
                          names=", ".join(unknown)))
    if problems:
        raise RuleError(_("Modelo %(name)s: %(problems)s.", name=template.name,
                          problems="; ".join(problems)))
    return [str(variables[n]) for n in expected]


# --- sending ------------------------------------------------------------------------------------


def send(ticket: Ticket, token, *, text: str | None = None, upload=None,
         template: ProviderTemplate | None = None, variables: dict | None = None) -> Message:
    """Queue the message on the ticket (services.sending: saved as queued, delivered by
    the job after the commit). RuleError in Portuguese when refused."""
    writable(ticket)
    extra = sender_extra(token)
    if template is not None:
        text, template_extra = provider_templates.render(template,
                                                         template_values(template, variables))
        extra.update(template_extra)
    return sending.queue(ticket, None, text, upload=upload, author_kind=AUTHOR_BOT,
                         extra=extra, template=template is not None)
