"""Webhook items of the provider channels (CHN-2): stored at once, processed by a job.

1. `store()` (the /hooks route, after the signature check) adds one ChannelEvent per item
   the adapter split out. The key is unique per connection, so a redelivered or replayed
   webhook adds nothing; the route commits and answers 200 at once, and the items' jobs
   are enqueued after the commit.
2. `process()` (the job) claims the item with one conditional UPDATE (pending ->
   processing; only one job wins), asks the adapter for an Inbound or a StatusUpdate,
   stores it and marks the item done. A TransientError (the media API timed out, a
   receipt came before its message was saved) goes back to pending with a later
   `next_attempt_at` until the attempts run out; any other error marks it failed with the
   reason, logged and kept (nothing is dropped silently).
3. `sweep()` (periodic) enqueues items left pending past their due time (the queue was
   down) and returns to pending those stuck processing (a worker died).
"""
from __future__ import annotations

import logging
from datetime import timedelta, timezone

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..jobs.runner import tasks
from ..lib import after_commit
from ..models import ChannelEvent, Connection, ContactAddress, Message, Ticket
from ..models.base import utcnow
from ..models.channels import EVENT_DONE, EVENT_FAILED, EVENT_PENDING, EVENT_PROCESSING
from ..models.tickets import DELIVERED, FAILED, OUT, READ, SENDING, SENT
from . import RuleError, requeue, sending, tickets

log = logging.getLogger(__name__)

PROCESS_JOB = "backoffice.jobs.channels.process"  # by name: services never import jobs
DEFAULT_RETRY_DELAYS = (5, 30, 120, 600)
SWEEP_GRACE = timedelta(seconds=30)
STUCK_PROCESSING = timedelta(minutes=15)


def retry_delays() -> tuple[int, ...]:
    found = current_app.config.get("CHANNEL_EVENT_RETRY_DELAYS")
    return tuple(found if found is not None else DEFAULT_RETRY_DELAYS)


# --- 1. storing -------------------------------------------------------------------------------


def store(connection: Connection, items) -> list[int]:
    """Add the items not stored yet (by key); the ids of the new rows. The caller
    commits (after_commit.commit) and their jobs are enqueued after it.

    One INSERT ... ON CONFLICT DO NOTHING for the whole webhook: a redelivery, even one
    arriving at the same instant in another process, hits the unique key and adds
    nothing, without a read first or a savepoint per item (the acknowledgment is on the
    provider's clock). A Core insert, so the flush guard does not see it: company_id is
    the connection's own."""
    if not items:
        return []
    insert_new = (pg_insert if db.session.get_bind().dialect.name == "postgresql"
                  else sqlite_insert)
    now, rows, seen = utcnow(), [], set()
    for item in items:
        key = item.key[:200]
        if key in seen:
            continue
        seen.add(key)
        rows.append({"company_id": connection.company_id, "connection_id": connection.id,
                     "key": key, "kind": item.kind[:20], "payload": item.data,
                     "status": EVENT_PENDING, "attempts": 0, "received_at": now})
    # the rows as parameters, not in the statement: its compiled form is cached
    new_ids = list(db.session.execute(_insert_new_events(insert_new), rows).scalars())
    if new_ids:
        ids = list(new_ids)
        after_commit.later(lambda: [enqueue(i) for i in ids])
    return new_ids


def _insert_new_events(insert_new):
    return (insert_new(ChannelEvent.__table__)
            .on_conflict_do_nothing(index_elements=["connection_id", "key"])
            .returning(ChannelEvent.__table__.c.id))


def enqueue(event_id: int) -> bool:
    try:
        tasks.enqueue(PROCESS_JOB, event_id, job_timeout=120)
        return True
    except Exception as exc:  # the queue is down: the row is safe, the sweep retries
        log.warning("could not enqueue channel event %s: %s", event_id, exc)
        return False


# --- 2. processing (the job) ------------------------------------------------------------------


def process(event_id: int) -> str:
    """"done", "retry", "failed" or "skipped" (another job has it, or it is gone)."""
    from ..channels import adapter_for
    from ..channels.provider import TransientError

    claimed = db.session.execute(
        update(ChannelEvent).where(ChannelEvent.id == event_id,
                                   ChannelEvent.status == EVENT_PENDING)
        .values(status=EVENT_PROCESSING, attempts=ChannelEvent.attempts + 1,
                claimed_at=utcnow(), next_attempt_at=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if claimed.rowcount != 1:
        return "skipped"
    event = db.session.get(ChannelEvent, event_id)
    connection = db.session.get(Connection, event.connection_id)
    try:
        if connection is None or not connection.active:
            raise RuleError("connection inactive or removed")
        adapter = adapter_for(connection)
        if event.kind == "message":
            inbound = adapter.inbound(event.payload)
            if inbound is not None:
                tickets.receive_inbound(connection, inbound)
        elif event.kind == "status":
            update_ = adapter.status(event.payload)
            if update_ is not None:
                apply_status(connection, update_)
        else:
            adapter.other(event.payload)
    except TransientError as exc:
        db.session.rollback()
        return _retry_later(event_id, str(exc))
    except Exception as exc:
        db.session.rollback()
        log.exception("channel event %s (%s) failed", event_id, event.kind)
        _finish(event_id, EVENT_FAILED, str(exc))
        return "failed"
    _finish(event_id, EVENT_DONE, None)
    return "done"


def _finish(event_id: int, status: str, error: str | None) -> None:
    event = db.session.get(ChannelEvent, event_id)
    event.status = status
    event.error = (error or "")[:500] or None
    event.processed_at = utcnow()
    after_commit.commit()


def _retry_later(event_id: int, error: str) -> str:
    event = db.session.get(ChannelEvent, event_id)
    delays = retry_delays()
    if event.attempts > len(delays):
        log.warning("channel event %s gave up after %s attempts: %s", event_id,
                    event.attempts, error)
        if event.kind == "status":
            # a receipt for a message we never stored (Meta also reports replies typed
            # in its own Page Inbox): nothing of ours is lost, so it is not a failure
            _finish(event_id, EVENT_DONE, error)
            return "done"
        _finish(event_id, EVENT_FAILED, error)
        return "failed"
    requeue.retry_later(event, EVENT_PENDING, error, delays[event.attempts - 1], PROCESS_JOB,
                        job_timeout=120)
    return "retry"


# --- receipts (MSG-1) -------------------------------------------------------------------------


def apply_status(connection: Connection, update_) -> int:
    """A provider's receipt on our messages; how many changed. Statuses only move
    forward (a late "delivered" after "read" changes nothing); "failed" ends a message
    not yet delivered, with the provider's reason. A receipt for a message not saved yet
    (the provider was faster than our commit) is a TransientError: retried."""
    from ..channels.provider import TransientError

    messages = _receipt_targets(connection, update_)
    if not messages:
        if update_.external_ids:
            raise TransientError("receipt for a message not stored (yet)")
        return 0
    changed = 0
    for message in messages:
        if update_.status in (DELIVERED, READ):
            changed += sending.acknowledge(message, update_.status)
        elif update_.status == FAILED and message.status in (SENDING, SENT):
            sending.mark_failed(message, update_.error or "")
            changed += 1
    return changed


def _receipt_targets(connection: Connection, update_) -> list[Message]:
    q = (select(Message).join(Ticket, Ticket.id == Message.ticket_id)
         .where(Ticket.connection_id == connection.id, Message.direction == OUT))
    if update_.external_ids:
        ids = [str(i)[:120] for i in update_.external_ids]
        return list(db.session.scalars(q.where(Message.external_id.in_(ids))))
    if update_.watermark is None or not update_.address:
        return []
    contact_ids = select(ContactAddress.contact_id).where(
        ContactAddress.connection_id == connection.id,
        ContactAddress.address == update_.address)
    watermark = update_.watermark
    if watermark.tzinfo is not None:
        watermark = watermark.astimezone(timezone.utc).replace(tzinfo=None)
    return list(db.session.scalars(
        q.where(Ticket.contact_id.in_(contact_ids), Message.sent_at.is_not(None),
                Message.sent_at <= watermark,
                Message.status.in_((SENT, DELIVERED)))
        .order_by(Message.id.desc()).limit(500)))


# --- 3. the sweep -----------------------------------------------------------------------------


def sweep(now=None) -> int:
    """Re-enqueue items left pending (queue down) or processing (worker died)."""
    return requeue.sweep_rows(ChannelEvent, ChannelEvent.received_at, EVENT_PENDING,
                              EVENT_PROCESSING, STUCK_PROCESSING, SWEEP_GRACE, enqueue,
                              now or utcnow())
