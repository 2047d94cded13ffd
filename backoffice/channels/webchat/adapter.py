"""The webchat's side of the provider contract (CHN-5, channels/base.py).

send: the visitor's browser is the provider; a message is "sent" once it is handed to
the visitor's socket room (the `webchat.message` event, pushed by the socket listener).
The widget acknowledges delivery and reading.

The push waits for the delivery job's commit (after_commit): the widget acknowledges the
instant a message arrives, and a receipt read while the row still says "sending" would be
ignored (and then overwritten by the job's "sent"). A visitor who misses the push (offline,
or the push itself failed) gets the message from the conversation on the next
(re)connect: sent messages are part of it.

validate_config: the widget's title, greeting and colour. parse_inbound: the visitor's
message (JSON, or multipart with a file) with the token in the X-Visitor-Token header.
"""
from __future__ import annotations

import hashlib
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ... import events
from ...extensions import db
from ...models import Company, ContactAddress
from ...services import RuleError, attachments, serialize
from ...services.catalog import DEFAULT_COLOR, normalise_color
from ...services.messages import clean_text
from ..base import Adapter, Inbound, InboundError, PermanentSendError, clean_field

NAMESPACE = "/webchat"
TOKEN_HEADER = "X-Visitor-Token"
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")


def visitor_room(address_id: int) -> str:
    return f"visitor:{address_id}"


# The widget names each message it sends (`client_id`, random, kept when the visitor
# sends the same text again after a failure): a resend whose first try was stored
# although its answer never arrived is stored once (services.tickets.receive_inbound
# returns the stored one; a unique index settles two racing tries).
CLIENT_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")
CLIENT_ID_PREFIX = "wc:"


def read_client_id(data) -> str | None:
    """The message's client id from the request's fields; None when absent, InboundError
    when malformed."""
    raw = data.get("client_id") if isinstance(data, dict) else None
    if raw in (None, ""):
        return None
    if not isinstance(raw, str) or not CLIENT_ID_RE.fullmatch(raw):
        raise InboundError(_("Identificador da mensagem inválido."))
    return raw


def client_message_id(scope: str, client_id: str | None) -> str | None:
    """The stored external id of a widget message: the client id within one visitor's
    token (or "start:" for a first message, which has none yet), hashed, so one visitor's
    id never matches another's and the token is not kept twice."""
    if client_id is None:
        return None
    return CLIENT_ID_PREFIX + hashlib.sha256(f"{scope}:{client_id}".encode()).hexdigest()[:40]


class WebchatAdapter(Adapter):
    kind = "webchat"

    def send(self, message) -> str | None:
        ticket = message.ticket
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.contact_id == ticket.contact_id,
            ContactAddress.connection_id == self.connection.id))
        if address is None:
            raise PermanentSendError("visitante sem endereço neste webchat")
        payload = serialize.visitor_message(message)
        if not _show_agent_name(ticket.company_id):
            payload["author"] = None
        events.emit("webchat.message", address_id=address.id, payload=payload)
        return None

    def validate_config(self, connection) -> None:
        """Title (80), greeting (255), colour (#rrggbb, the default when empty). The
        HTTP API's URL and secret are not kept: nothing is ever posted for a webchat."""
        connection.widget_title = clean_field(connection.widget_title)
        connection.widget_greeting = clean_field(connection.widget_greeting)
        if connection.widget_title and len(connection.widget_title) > 80:
            raise RuleError(_l("O título do widget pode ter no máximo 80 caracteres."))
        if connection.widget_greeting and len(connection.widget_greeting) > 255:
            raise RuleError(_l("A saudação do widget pode ter no máximo 255 caracteres."))
        connection.widget_color = (normalise_color(connection.widget_color)
                                   if clean_field(connection.widget_color) else DEFAULT_COLOR)
        connection.endpoint_url = None
        connection.endpoint_secret = None

    def parse_inbound(self, request) -> list[Inbound]:
        """One Inbound: the visitor's token (header), "name", "text" and the "file"."""
        if request.is_json:
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise InboundError(_("Requisição inválida."))
        else:
            data = request.form.to_dict()
        token = request.headers.get(TOKEN_HEADER)
        if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
            raise InboundError(_("Conversa não encontrada. Inicie uma nova conversa."))
        try:
            text = clean_text(data.get("text"))  # NUL removed; RuleError when too long
        except RuleError as exc:
            raise InboundError(str(exc)) from exc
        storage = request.files.get("file")
        upload = None
        if storage is not None and storage.filename:
            upload = attachments.read(storage)  # RuleError: size or type
        if not text and upload is None:
            raise InboundError(_("Escreva uma mensagem."))
        name = data.get("name")
        name = (" ".join(name.split())[:120] or None) if isinstance(name, str) else None
        return [Inbound(address=token, name=name, text=text,
                        attachments=(upload,) if upload is not None else (),
                        external_id=client_message_id(token, read_client_id(data)))]


def _show_agent_name(company_id: int) -> bool:
    company = db.session.get(Company, company_id)
    return bool(company and company.show_agent_name)
