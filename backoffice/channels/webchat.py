"""Webchat (CHN-5): the visitor's browser is the provider; a message is "sent" once it is
handed to the visitor's socket room. The widget acknowledges delivery and reading.

The emit waits for the delivery job's commit (after_commit): the widget acknowledges the
instant a message arrives, and a receipt read while the row still says "sending" would be
ignored (and then overwritten by the job's "sent"). A visitor who misses the emit (offline,
or the emit itself failed) gets the message from the conversation on the next
(re)connect: sent messages are part of it."""
from __future__ import annotations

from ..extensions import socketio
from .base import Adapter, PermanentSendError


def visitor_room(address_id: int) -> str:
    return f"visitor:{address_id}"


class WebchatAdapter(Adapter):
    kind = "webchat"

    def send(self, message) -> str | None:
        from ..models import ContactAddress
        from ..services import after_commit, serialize
        from ..extensions import db
        from sqlalchemy import select

        ticket = message.ticket
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.contact_id == ticket.contact_id,
            ContactAddress.connection_id == self.connection.id))
        if address is None:
            raise PermanentSendError("visitante sem endereço neste webchat")
        payload = serialize.visitor_message(message)
        if not _show_agent_name(ticket.company_id):
            payload["author"] = None
        # Through the message queue when one is configured (rq workers are separate
        # processes); the visitor's widget joins this room on connect.
        room = visitor_room(address.id)
        after_commit.later(lambda: socketio.emit("message", payload, to=room,
                                                 namespace="/webchat"))
        return None


def _show_agent_name(company_id: int) -> bool:
    from ..extensions import db
    from ..models import Company

    company = db.session.get(Company, company_id)
    return bool(company and company.show_agent_name)
