"""Who may write in a ticket now, and the quick replies (MSG-1, MSG-2) an agent writes with;
outside the 24-hour window (CHN-4, TPL-3), which templates may still go: the company's of
the channel's kind, or the WhatsApp account's approved ones (ProviderTemplate).

Shared by the inbox API and, later, the public API and the socket handlers, so they refuse
and fill a reply the same way. The retry check lives here rather than in services.sending
(whose announce and deliver parts are being reshaped): `sending.retry` may take it over.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..extensions import db
from ..models import Message, MessageTemplate, Ticket, User
from ..models.channels import KIND_WHATSAPP, ProviderTemplate
from ..models.templates import KIND_ATTACHMENT, KIND_TEXT
from ..models.tickets import CLOSED, WAITING
from . import RuleError, provider_templates, tickets, window
from . import messages as message_vars
from . import templates as template_rules

QUICK_REPLIES = 10
QUICK_KINDS = (KIND_TEXT, KIND_ATTACHMENT)


def reply_refusal(user: User, ticket: Ticket) -> str | None:
    """Why `user` cannot write in `ticket` now (shown on the composer), or None."""
    if ticket.status == CLOSED:
        return _("Este atendimento já foi finalizado.")
    if ticket.status == WAITING:
        return _("Aceite o atendimento antes de responder.")
    if not tickets.may_act(user, ticket):
        return _("Este atendimento está com %(name)s.",
                 name=ticket.agent.name if ticket.agent else "")
    return None


def check_reply(user: User, ticket: Ticket) -> None:
    refused = reply_refusal(user, ticket)
    if refused:
        raise RuleError(refused)


def check_retry(user: User, message: Message) -> None:
    """Only who may act on the ticket sends a failed message again."""
    ticket = message.ticket
    if not tickets.may_act(user, ticket):
        raise RuleError(_("Este atendimento está com %(name)s.", name=ticket.agent.name))


def context(user: User, ticket: Ticket) -> dict:
    """The variables of a quick reply written by `user` in `ticket`."""
    # the same context as the rules' own messages: the ticket's agent, else the writer
    return tickets._context(ticket, ticket.agent or user)


def channel_kind(ticket: Ticket | None) -> str | None:
    """TPL-3: the company template kind of the ticket's channel (instagram, facebook,
    telegram), or None."""
    connection = ticket.connection if ticket is not None else None
    return window.TEMPLATE_KIND_OF.get(connection.kind) if connection is not None else None


def kinds_for(ticket: Ticket | None) -> tuple[str, ...]:
    kind = channel_kind(ticket)
    return QUICK_KINDS + ((kind,) if kind else ())


def find_template(user: User, template_id: int, ticket: Ticket | None = None) -> MessageTemplate | None:
    """An active text or attachment template of the user's company, or one of the
    ticket's channel kind (TPL-3); None else."""
    template = MessageTemplate.get_owned(user.company_id, template_id)
    if template is None or not template.active or template.kind not in kinds_for(ticket):
        return None
    return template


def template_upload(template: MessageTemplate):
    """The quick reply's file as an Upload, or None when it has none."""
    if not template.file_key:
        return None
    try:
        path = template_rules.file_path(template.company_id, template.file_key)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise RuleError(_("O arquivo do template %(shortcut)s não foi encontrado.",
                          shortcut=template.shortcut))
    return template_rules.Upload(data=path.read_bytes(), name=template.file_name or "arquivo",
                                 mime=template.file_mime or "application/octet-stream")


def apply_template(user: User, ticket: Ticket, template: MessageTemplate, text: str, upload):
    """(text, upload) of a reply written with `template`: what the agent typed wins, the
    template fills the rest."""
    if not text.strip():
        text = message_vars.render(template.body, context(user, ticket))
    if upload is None and template.kind == KIND_ATTACHMENT:
        upload = template_upload(template)
    return text, upload


def template_reply(user: User, ticket: Ticket, template: MessageTemplate, text: str,
                   upload) -> tuple[str, object, bool]:
    """(text, upload, template) of a reply written with a company template. Outside the
    window (TPL-3) a template of the channel's kind goes as the template alone, so typed
    words cannot ride on it; any other kind gets template=False and sending refuses it
    with the window's reason."""
    found = window.state(ticket)
    if found.open or not window.template_allowed(ticket, template.kind):
        text, upload = apply_template(user, ticket, template, text, upload)
        return text, upload, False
    text = message_vars.render(template.body or "", context(user, ticket))
    upload = template_upload(template) if template.kind == KIND_ATTACHMENT else None
    return text, upload, True


# --- WhatsApp approved templates (CHN-4) -----------------------------------------------------


def find_provider_template(ticket: Ticket, template_id: int) -> ProviderTemplate | None:
    """An approved template of the ticket's own WhatsApp connection, or None (another
    company's or connection's template is as missing as an unknown id)."""
    connection = ticket.connection
    if connection is None or connection.kind != KIND_WHATSAPP:
        return None
    template = db.session.scalar(select(ProviderTemplate).where(
        ProviderTemplate.id == template_id, ProviderTemplate.company_id == ticket.company_id,
        ProviderTemplate.connection_id == connection.id))
    return template if template is not None and template.approved else None


def first_name(ticket: Ticket) -> str:
    words = (ticket.contact.name or "").split()
    return words[0] if words else ""


def provider_template_list(ticket: Ticket) -> list[dict]:
    """The approved templates the ticket's WhatsApp connection may send, each with the
    values its variables start with (the first: the contact's first name)."""
    connection = ticket.connection
    if connection is None or connection.kind != KIND_WHATSAPP:
        return []
    name = first_name(ticket)
    return [{"id": t.id, "name": t.name, "language": t.language, "category": t.category,
             "body": t.body or "", "variables": t.variables or 0,
             "prefill": [name if i == 0 else "" for i in range(t.variables or 0)]}
            for t in provider_templates.approved(connection)]


def _like_prefix(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(user: User, q: str, ticket: Ticket | None = None,
           channel_only: bool = False) -> list[dict]:
    """MSG-2: the active text and attachment templates matching what follows "/", with
    their text filled in for `ticket` when given; with a ticket, also those of its
    channel's kind (TPL-3) — only those with `channel_only` (a closed window)."""
    term = q.strip().lower()[:40].lstrip("/")
    query = MessageTemplate.owned(user.company_id).where(
        MessageTemplate.active.is_(True), MessageTemplate.kind.in_(kinds_for(ticket)))
    if channel_only:
        query = query.where(MessageTemplate.kind == channel_kind(ticket))
    if term:
        escaped = _like_prefix(term)
        query = query.where(or_(
            MessageTemplate.shortcut.like("/" + escaped + "%", escape="\\"),
            MessageTemplate.title.ilike("%" + escaped + "%", escape="\\")))
    rows = list(db.session.scalars(query.order_by(MessageTemplate.shortcut).limit(QUICK_REPLIES)))
    variables = context(user, ticket) if ticket is not None else None
    return [{
        "id": t.id, "shortcut": t.shortcut, "title": t.title,
        "body": message_vars.render(t.body, variables) if variables else (t.body or ""),
        "kind": t.kind, "kind_label": t.kind_label,
        "attachment": ({"name": t.file_name, "mime": t.file_mime, "size": t.file_size}
                       if t.kind == KIND_ATTACHMENT and t.file_key else None),
    } for t in rows]
