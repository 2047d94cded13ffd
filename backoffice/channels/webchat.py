"""Webchat (CHN-5): the visitor's browser is the provider; a message is "sent" once it is
emitted to the visitor's socket room. The widget acknowledges delivery and reading."""
from __future__ import annotations

from ..extensions import socketio
from .base import Adapter, PermanentSendError


def visitor_room(address_id: int) -> str:
    return f"visitor:{address_id}"


class WebchatAdapter(Adapter):
    kind = "webchat"

    def send(self, message) -> str | None:
        from ..models import ContactAddress
        from ..services import serialize
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
        socketio.emit("message", payload, to=visitor_room(address.id), namespace="/webchat")
        return None


def _show_agent_name(company_id: int) -> bool:
    from ..extensions import db
    from ..models import Company

    company = db.session.get(Company, company_id)
    return bool(company and company.show_agent_name)
