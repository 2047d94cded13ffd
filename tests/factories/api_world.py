"""The rows the /api/v1 routes take ids of, for the generic API tests (PLT-1, API-1):
populate_company's rows plus a ticket with a message (with a file, for the media route)
and a webhook delivery.

The ticket and the message are plain rows, not made through the services: these emit
events, and the company's webhook (subscribed to ticket.created) would get a delivery and
a send attempt in every test of the `tenants` fixture. That is also why they are here and
not in populate_company, whose companies other tests count tickets of.
"""
from __future__ import annotations

import uuid

from backoffice.extensions import db
from backoffice.models import Message, Ticket
from backoffice.models.webhooks import FAILED, WebhookDelivery
from backoffice.services import attachments
from backoffice.services.templates import Upload

from .inbox import PNG

from .tenants import Tenant


def gen_api_rows(tenant: Tenant, key: str) -> dict[str, int]:
    """Path parameter name -> the id of one of the company's rows (flushed, not committed).
    `item_id` of the registry routes is per resource: "item_id:<resource>"."""
    ids = tenant.ids
    ticket = Ticket(company_id=tenant.company_id, protocol=f"API-{key.upper()}-1",
                    contact_id=ids["contacts"], connection_id=ids["connections"],
                    department_id=ids["departments"], status="waiting",
                    preview=f"Mensagem exclusiva {key.upper()}")
    db.session.add(ticket)
    db.session.flush()
    message = Message(company_id=tenant.company_id, ticket_id=ticket.id, direction="in",
                      author_kind="contact", text=f"Mensagem exclusiva {key.upper()}")
    attachments.store(message, Upload(PNG, f"exclusiva-{key}.png", "image/png"))
    delivery = WebhookDelivery(company_id=tenant.company_id, webhook_id=ids["webhooks"],
                               event_id=str(uuid.uuid4()), event="ticket.created",
                               order_key=f"ticket:{ticket.id}", body="{}", status=FAILED,
                               attempts=1, response_status=500, error="Erro do receptor")
    db.session.add_all([message, delivery])
    db.session.flush()
    return {
        "contact_id": ids["contacts"], "ticket_id": ticket.id, "message_id": message.id,
        "webhook_id": ids["webhooks"], "scheduled_id": ids["scheduled"],
        "connection_id": ids["connections"], "delivery_id": delivery.id,
        "item_id:departments": ids["departments"], "item_id:users": ids["users"],
        "item_id:tags": ids["tags"], "item_id:reasons": ids["reasons"],
        "item_id:connections": ids["connections"],
    }
