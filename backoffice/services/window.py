"""The 24-hour window (CHN-4, TPL-3): what an agent may send on a conversation.

WhatsApp, Messenger, Instagram and Telegram conversations are "open" for 24 hours after
the customer last wrote (ContactAddress.last_inbound_at, set by
services.tickets.receive_inbound). Outside it:
- WhatsApp delivers only approved templates (ProviderTemplate, synced from the WhatsApp
  Business account);
- Messenger and Instagram accept Meta's HUMAN_AGENT tag for 7 days after the customer
  wrote (the message is sent tagged); after that only the company's templates of the
  channel's kind (TPL-3: Instagram / Facebook templates);
- Telegram: the company's Telegram templates (TPL-3).
Free text outside the window is refused before it is queued, with the reason
(services.sending.queue asks `state`). Webchat and the HTTP API have no window.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from ..extensions import db
from ..models import ContactAddress, Ticket
from ..models.base import utcnow
from ..models.channels import KIND_INSTAGRAM, KIND_MESSENGER, KIND_TELEGRAM, KIND_WHATSAPP
from ..models.templates import KIND_FACEBOOK
from ..models.templates import KIND_INSTAGRAM as TEMPLATE_INSTAGRAM
from ..models.templates import KIND_TELEGRAM as TEMPLATE_TELEGRAM

WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
HUMAN_AGENT_TAG = "HUMAN_AGENT"

FREE, HUMAN_AGENT, TEMPLATES = "free", "human_agent", "templates"

# the company template kind (TPL-3) each channel may open a closed window with
TEMPLATE_KIND_OF = {
    KIND_INSTAGRAM: TEMPLATE_INSTAGRAM,
    KIND_MESSENGER: KIND_FACEBOOK,
    KIND_TELEGRAM: TEMPLATE_TELEGRAM,
}
WINDOWED = frozenset({KIND_WHATSAPP, *TEMPLATE_KIND_OF})


@dataclass(frozen=True)
class Window:
    applies: bool                      # the channel has a window at all
    mode: str                          # free, human_agent (Meta tag), templates
    last_inbound_at: datetime | None   # when the customer last wrote here
    closes_at: datetime | None         # when free text stops (None: no window / closed)
    template_kind: str | None          # the company template kind allowed when closed
    provider_templates: bool           # WhatsApp approved templates allowed

    @property
    def open(self) -> bool:
        return self.mode != TEMPLATES

    def reason(self) -> str:
        """Why free text is refused, in Portuguese (only meaningful when closed)."""
        if self.provider_templates:
            return _("Fora da janela de 24 horas do WhatsApp: o cliente não escreve há mais "
                     "de 24 horas. Envie um modelo aprovado (template) para retomar a "
                     "conversa.")
        return _("Fora da janela de atendimento deste canal: o cliente não escreve há mais "
                 "de 24 horas. Envie um template do tipo do canal para retomar a conversa.")

    def as_dict(self) -> dict:
        from .serialize import iso

        return {"applies": self.applies, "open": self.open, "mode": self.mode,
                "last_inbound_at": iso(self.last_inbound_at),
                "closes_at": iso(self.closes_at), "template_kind": self.template_kind,
                "provider_templates": self.provider_templates,
                "reason": None if self.open else self.reason()}


NO_WINDOW = Window(False, FREE, None, None, None, False)


def last_inbound(ticket: Ticket) -> datetime | None:
    if ticket.connection_id is None:
        return None
    return db.session.scalar(select(func.max(ContactAddress.last_inbound_at)).where(
        ContactAddress.contact_id == ticket.contact_id,
        ContactAddress.connection_id == ticket.connection_id))


def state(ticket: Ticket, now: datetime | None = None) -> Window:
    connection = ticket.connection
    kind = connection.kind if connection is not None else None
    if kind not in WINDOWED:
        return NO_WINDOW
    now = now or utcnow()
    wrote = last_inbound(ticket)
    template_kind = TEMPLATE_KIND_OF.get(kind)
    whatsapp = kind == KIND_WHATSAPP
    if wrote is not None and now < wrote + WINDOW:
        return Window(True, FREE, wrote, wrote + WINDOW, template_kind, whatsapp)
    if kind in (KIND_MESSENGER, KIND_INSTAGRAM) and wrote is not None \
            and now < wrote + HUMAN_AGENT_WINDOW:
        return Window(True, HUMAN_AGENT, wrote, wrote + HUMAN_AGENT_WINDOW, template_kind,
                      False)
    return Window(True, TEMPLATES, wrote, None, template_kind, whatsapp)


def template_allowed(ticket: Ticket, template_kind: str) -> bool:
    """TPL-3: a company template of `template_kind` may be sent outside the window."""
    found = state(ticket)
    return found.open or (found.template_kind is not None and template_kind == found.template_kind)
