"""The outbox of webhook deliveries (WHK-1): one listener for every public event.

Inside the emitting transaction it looks up the company's active webhooks subscribed to
the event (one query; nothing more when there are none, which is the usual case: this runs
on every message) and adds one WebhookDelivery per webhook, all with the same event id and
the same body, built now from the rows as the change left them. The delivery jobs are
enqueued after the commit (after_commit.later): a rollback sends nothing, and when the
queue is down the rows stay pending and the periodic sweep sends them (delivery.sweep).

Installed by importing this module (create_app does), like the socket listeners.
"""
from __future__ import annotations

import logging
import uuid

from sqlalchemy import event as sa_event
from sqlalchemy import Integer, select
from sqlalchemy.orm import object_session, selectinload

from .. import events
from ..extensions import db
from ..jobs.runner import tasks
from ..lib import after_commit
from ..lib.bulk import among
from ..models import Contact
from ..services import company_config
from ..models.base import utcnow
from ..models.webhooks import PENDING, Webhook, WebhookDelivery
from . import payloads

log = logging.getLogger(__name__)

DELIVER_JOB = "backoffice.jobs.webhooks.deliver"  # by name, like services do
JOB_TIMEOUT = 60


_MEMO = "webhooks.active"


def subscribed(company_id: int, event: str) -> list[int]:
    """Ids of the company's active webhooks that receive `event`, in id order. Usually
    from what this process keeps of the company's configuration, checked against its
    config_version (services.company_config, SCL-3: no statement per message). A
    transaction that writes webhooks itself reads them once (a message emits
    message.created and ticket.updated, each asking); a webhook written in the
    transaction drops what was read (_written)."""
    kept = company_config.current(company_id)
    if kept is not None:
        return [hook_id for hook_id, names in kept.webhooks if event in names]
    known = after_commit.memo(_MEMO)
    rows = known.get(company_id)
    if rows is None:
        rows = known[company_id] = db.session.execute(
            select(Webhook.id, Webhook.events)
            .where(Webhook.company_id == company_id, Webhook.active.is_(True))
            .order_by(Webhook.id)).all()
    return [hook_id for hook_id, names in rows if event in (names or ())]


@sa_event.listens_for(Webhook, "after_insert")
@sa_event.listens_for(Webhook, "after_update")
@sa_event.listens_for(Webhook, "after_delete")
def _written(_mapper, _connection, webhook) -> None:
    session = object_session(webhook)
    if session is not None:
        after_commit.forget(_MEMO, session)


@events.listen(*events.EVENTS)
def record(event: str, **data) -> None:
    row = payloads.subject_of(event, **data)
    company_id = getattr(row, "company_id", None)
    if company_id is None:
        return
    hook_ids = subscribed(company_id, event)
    if not hook_ids:
        return
    _deliver(_deliveries(event, company_id, hook_ids, row, data, utcnow()))


@events.listen("contacts.imported")
def record_imported(_event: str, company_id: int, created_phones: list[str],
                    updated_ids: list[int]) -> None:
    """A contacts import's batch (IMP-2): contact.created and contact.updated for each
    contact it created or changed, exactly as if each had been saved on its own, built
    from the rows as the batch left them. One check of the subscriptions per batch; the
    contacts are read only when a webhook hears them (the import writes by COPY and holds
    no objects)."""
    created = subscribed(company_id, "contact.created") if created_phones else []
    updated = subscribed(company_id, "contact.updated") if updated_ids else []
    if not (created or updated):
        return
    loaded = selectinload(Contact.tags)
    now = utcnow()
    made = []
    for event, hook_ids, which in (
            ("contact.created", created, among(Contact.phone, created_phones)),
            ("contact.updated", updated, among(Contact.id, updated_ids, Integer))):
        if not hook_ids:
            continue
        rows = db.session.scalars(Contact.owned(company_id).where(which).options(loaded)
                                  .order_by(Contact.id))
        for contact in rows:
            made += _deliveries(event, company_id, hook_ids, contact, {"contact": contact}, now)
    _deliver(made)


def _deliveries(event: str, company_id: int, hook_ids: list[int], row, data: dict,
                now) -> list[WebhookDelivery]:
    """One event's deliveries, one per webhook, added to the session (not flushed)."""
    event_id = str(uuid.uuid4())
    try:
        body = payloads.dumps(payloads.envelope(event, company_id,
                                                payloads.data_of(event, **data), now, event_id))
    except Exception:  # a payload bug must not cost the customer's message its commit
        log.exception("webhook payload of %s failed; event not recorded", event)
        return []
    key = payloads.order_key(event, row)
    deliveries = [WebhookDelivery(company_id=company_id, webhook_id=hook_id, event_id=event_id,
                                  event=event, order_key=key, body=body, status=PENDING,
                                  attempts=0, created_at=now)
                  for hook_id in hook_ids]
    db.session.add_all(deliveries)
    return deliveries


def _deliver(deliveries: list[WebhookDelivery]) -> None:
    """Flush the rows (their ids) and enqueue each delivery's job after the commit."""
    if not deliveries:
        return
    db.session.flush()
    for delivery in deliveries:
        delivery_id = delivery.id
        after_commit.later(lambda delivery_id=delivery_id: enqueue(delivery_id))


def enqueue(delivery_id: int) -> bool:
    """Ask for a delivery job; False when the queue is unreachable (the sweep retries)."""
    try:
        tasks.enqueue(DELIVER_JOB, delivery_id, job_timeout=JOB_TIMEOUT)
        return True
    except Exception as exc:  # Redis down, connection refused...: the row is safe
        log.warning("could not enqueue webhook delivery %s: %s", delivery_id, exc)
        return False
