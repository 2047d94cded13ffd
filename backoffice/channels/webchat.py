"""Webchat (CHN-5): the visitor's browser is the provider; a message is "sent" once it is
handed to the visitor's socket room (the `webchat.message` event, pushed by the socket
listener). The widget acknowledges delivery and reading.

The push waits for the delivery job's commit (after_commit): the widget acknowledges the
instant a message arrives, and a receipt read while the row still says "sending" would be
ignored (and then overwritten by the job's "sent"). A visitor who misses the push (offline,
or the push itself failed) gets the message from the conversation on the next
(re)connect: sent messages are part of it."""
from __future__ import annotations

from sqlalchemy import select

from .. import events
from ..extensions import db
from ..models import Company, ContactAddress
from ..services import serialize
from .base import Adapter, PermanentSendError


def visitor_room(address_id: int) -> str:
    return f"visitor:{address_id}"


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


def _show_agent_name(company_id: int) -> bool:
    company = db.session.get(Company, company_id)
    return bool(company and company.show_agent_name)
