"""The Fale Conosco portal as a channel (POR-1, channels/base.py).

send: an agent's answer is a message of the protocol's ticket, so the portal shows it as
soon as it is saved (the protocol page polls for new messages); "delivering" it means
telling the representative by e-mail (services.mail: SMTP, or the mail folder in the
embedded mode) with the protocol number and a link to the protocol page. The address is
the one typed on the Novo contato form, else the account's. A protocol without either is
delivered by the portal alone. A mail server that fails is retried (SendError).

The link is absolute: MAIL_BASE_URL when set (a worker has no request to take a host
from), else the request's own address, else the embedded server's.

validate_config: the portal connection has none of the other kinds' fields (widget,
endpoint). parse_inbound: nothing comes in through a route of this adapter; the
representative's messages are written by services.portal.protocols.
"""
from __future__ import annotations

import logging
import smtplib

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from ..extensions import db
from ..models import Company
from ..models.portal import PortalRequest
from ..services import mail
from ..services.catalog import DEFAULT_COLOR
from ..services.portal.settings import base_url
from .base import Adapter, SendError

log = logging.getLogger(__name__)

def protocol_link(company: Company, ticket_id: int) -> str:
    with current_app.test_request_context(base_url=base_url()):
        return url_for("portal.protocol", domain=company.domain, ticket_id=ticket_id,
                       _external=True)


class PortalAdapter(Adapter):
    kind = "portal"
    receives_inbound = False

    def validate_config(self, connection) -> None:
        connection.widget_title = connection.widget_greeting = None
        connection.widget_color = DEFAULT_COLOR
        connection.endpoint_url = None
        connection.endpoint_secret = None

    def parse_inbound(self, request):
        raise NotImplementedError("the portal's messages are written by its own pages")

    def recipient(self, ticket) -> tuple[str | None, str]:
        """(e-mail, name) of the representative who opened the protocol."""
        form = db.session.query(PortalRequest).filter_by(ticket_id=ticket.id).one_or_none()
        if form is None:
            return ticket.contact.email, ticket.contact.name
        account = form.account
        email = form.email or (account.email if account is not None else None)
        return email, form.contact_person

    def send(self, message) -> str | None:
        ticket = message.ticket
        to, name = self.recipient(ticket)
        if not to:
            return None  # shown in the portal; there is no one to notify
        company = db.session.get(Company, ticket.company_id)
        with force_locale(company.language or "pt_BR"):
            subject = _("Protocolo %(protocol)s: nova resposta", protocol=ticket.protocol)
            lines = [_("Olá, %(name)s.", name=name), "",
                     _("Há uma nova resposta no seu protocolo %(protocol)s:",
                       protocol=ticket.protocol), ""]
            if message.text:
                lines += [message.text, ""]
            if message.file_name:
                lines += [_("Anexo: %(name)s (disponível no portal)", name=message.file_name), ""]
            lines += [_("Para ver a conversa e responder, acesse:"),
                      protocol_link(company, ticket.id)]
        try:
            mail.send(to, subject, "\n".join(lines))
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("portal mail for message %s failed: %s", message.id, exc)
            raise SendError(_("Não foi possível enviar o e-mail de aviso.")) from exc
        return None
