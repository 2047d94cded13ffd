"""Queued sending (CHN-3): save first, then queue; a job delivers through the adapter.

1. `queue()` adds the message as `queued` and asks for a job *after commit*
   (after_commit.later), so the row exists before any worker looks for it, and nothing
   is lost when the queue is down: enqueueing errors are logged and the message stays
   `queued`.
2. `deliver()` (run by the job backoffice.jobs.sending.deliver) claims the message with
   one conditional UPDATE (queued -> sending). Only one job can win, so a message queued
   twice (by the sweep, a retry click, a duplicate job) is still sent once.
3. A failed attempt goes back to `queued` with a later `next_attempt_at` (backoff) until
   the attempts run out, then `failed` with the error, shown to the agent with a retry.
4. `sweep()` (periodic) re-enqueues messages left `queued` past their due time, e.g.
   because Redis was down when they were saved; and returns to `queued` those stuck in
   `sending` for long (a worker that died mid-send: at-least-once in that one case).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from .. import events
from ..channels import PermanentSendError, SendError, adapter_for
from ..extensions import db
from ..jobs.runner import tasks
from ..models import Message, Ticket, User
from ..models.base import utcnow
from ..models.tickets import (
    AUTHOR_AGENT, AUTHOR_BOT, DELIVERED, FAILED, OPEN, OUT, PENDING, QUEUED,
    READ, SENDING, SENT,
)
from . import RuleError, attachments, requeue, window
from ..lib import after_commit
from ..lib.outbound import OutboundError
from .catalog import chosen_tags
from .messages import clean_text

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (5, 30, 120)  # seconds before the 2nd, 3rd and 4th attempts
SWEEP_GRACE = timedelta(seconds=30)   # a fresh message's own job normally runs by then
STUCK_SENDING = timedelta(minutes=15)  # default of SEND_STUCK_SECONDS (config.py)
DELIVER_JOB = "backoffice.jobs.sending.deliver"  # by name: services never import jobs


def retry_delays() -> tuple[int, ...]:
    return tuple(d if (d := current_app.config.get("SEND_RETRY_DELAYS")) is not None else DEFAULT_RETRY_DELAYS)


# --- saving -----------------------------------------------------------------------------


def queue(ticket: Ticket, author: User | None, text: str | None, upload=None,
          author_kind: str = AUTHOR_AGENT, tag_ids=None, extra: dict | None = None,
          template: bool = False) -> Message:
    """An outgoing message, saved as queued; its job is enqueued after commit.

    CHN-4: an agent's or bot's message on a channel with a 24-hour window is refused
    here, before it is queued, when the window is closed, unless `template` says it is
    a template the channel allows then (the caller checked which: services.window).
    Within Meta's 7-day human-agent spell the message is tagged HUMAN_AGENT."""
    text = clean_text(text)
    if not text and upload is None:
        raise RuleError(_("Escreva uma mensagem ou anexe um arquivo."))
    extra = dict(extra or {})
    if author_kind in (AUTHOR_AGENT, AUTHOR_BOT):
        found = window.state(ticket)
        if not found.open and not template:
            raise RuleError(found.reason())
        if found.mode == window.HUMAN_AGENT:
            extra.setdefault("tag", window.HUMAN_AGENT_TAG)
    now = utcnow()
    message = Message(company_id=ticket.company_id, ticket_id=ticket.id, direction=OUT,
                      author_kind=author_kind, author_id=author.id if author else None,
                      text=text or None, status=QUEUED, created_at=now, extra=extra or None)
    if tag_ids and author is not None:
        message.tags = chosen_tags(author, tag_ids)  # before the file: no orphan on error
    if upload is not None:
        attachments.store(message, upload)
    db.session.add(message)
    if author_kind == AUTHOR_AGENT:
        ticket.first_response_at = ticket.first_response_at or now
        if ticket.status == OPEN:
            ticket.status = PENDING  # TKT-2: now waiting for the customer
    if author_kind == AUTHOR_BOT:
        ticket.automated = True
    ticket.touch(text, message.file_name)
    db.session.flush()
    message_id = message.id
    events.emit("message.created", message=message, ticket=ticket)
    events.emit("ticket.updated", ticket=ticket)
    after_commit.later(lambda: enqueue(message_id))
    return message


def enqueue(message_id: int) -> bool:
    """Ask for a delivery job; False when the queue is unreachable (the sweep retries)."""
    try:
        tasks.enqueue(DELIVER_JOB, message_id, job_timeout=60)
        return True
    except Exception as exc:  # Redis down, connection refused...: the row is safe
        log.warning("could not enqueue message %s: %s", message_id, exc)
        return False


def retry(message: Message, user: User) -> Message:
    """MSG-1: the agent retries a failed message; it goes back to the queue."""
    if message.direction != OUT or message.status != FAILED:
        raise RuleError(_("Só mensagens com falha no envio podem ser reenviadas."))
    message.status = QUEUED
    message.error = None
    message.attempts = 0
    message.next_attempt_at = None
    _refresh_failed_flag(message.ticket, exclude_id=message.id)
    db.session.flush()
    _announce_status(message)
    message_id = message.id
    after_commit.later(lambda: enqueue(message_id))
    return message


# --- delivering (the job) -------------------------------------------------------------------


def deliver(message_id: int) -> str:
    """Claim, send, and on failure back off or fail; "sent", "retry", "failed" or
    "skipped" (another job has it, or it is gone)."""
    claimed = db.session.execute(
        update(Message).where(Message.id == message_id, Message.status == QUEUED)
        .values(status=SENDING, attempts=Message.attempts + 1, next_attempt_at=None,
                claimed_at=utcnow())
        .execution_options(synchronize_session=False))
    db.session.commit()
    if claimed.rowcount != 1:
        return "skipped"  # already sent, being sent, or gone
    message = db.session.get(Message, message_id)
    ticket = message.ticket
    connection = ticket.connection
    try:
        if connection is None or not connection.active:
            raise PermanentSendError(_("A conexão deste atendimento está inativa ou foi removida."))
        external_id = adapter_for(connection).send(message)
    except PermanentSendError as exc:
        return _failed(message, str(exc))
    except Exception as exc:  # transient: network, 5xx, the socket server...
        delays = retry_delays()
        if message.attempts <= len(delays):
            delay = delays[message.attempts - 1]
            asked = getattr(exc, "retry_after", None)  # the provider's own wait (429)
            if asked:
                delay = max(delay, min(int(asked + 0.999), 3600))
            requeue.retry_later(message, QUEUED, _reason(exc), delay, DELIVER_JOB,
                                job_timeout=60)
            return "retry"
        return _failed(message, _reason(exc))
    # A receipt may land while the adapter sends, or until this commits (webchat acks at
    # once): never move a delivered or read message back to sent. A conditional UPDATE,
    # not a read then a write: a receipt committed between the two was overwritten (seen
    # under load: the agent's message stayed "Enviada" after the visitor read it). The
    # row stays locked until the commit, so a later receipt waits and moves it forward.
    db.session.execute(update(Message).where(Message.id == message.id, Message.status == SENDING)
                       .values(status=SENT).execution_options(synchronize_session=False))
    db.session.refresh(message, ["status"])
    message.sent_at = utcnow()
    message.error = None
    message.external_id = external_id
    if ticket.has_failed:  # only then can a success clear the "Falha no envio" flag
        _refresh_failed_flag(ticket)
    _announce_status(message)
    after_commit.commit()
    return "sent"


def _reason(exc: Exception) -> str:
    """What the agent reads about a failed attempt: a channel's own reason (SendError, and
    lib/outbound's OutboundError: written for them, in Portuguese). Anything else (a bug,
    the live channel's Redis away) goes to the log; the agent reads a sentence, never the
    exception's text (English, addresses, sometimes SQL)."""
    if isinstance(exc, (SendError, OutboundError)):
        return str(exc)
    log.warning("a delivery attempt failed: %r", exc, exc_info=exc)
    return _("Falha no envio.")


def mark_failed(message: Message, error: str) -> None:
    """The provider reported, after accepting it, that the message failed (MSG-1): shown
    to the agent with the reason and a retry, as a failed attempt of ours is. The caller
    commits."""
    _set_failed(message, error)


def _failed(message: Message, error: str) -> str:
    _set_failed(message, error)
    after_commit.commit()
    return "failed"


def _set_failed(message: Message, error: str) -> None:
    message.status = FAILED
    message.error = (error or _("Falha no envio."))[:500]
    ticket = message.ticket
    if not ticket.has_failed:
        ticket.has_failed = True
        events.emit("ticket.updated", ticket=ticket)
    _announce_status(message)
    events.emit("message.failed", message=message)


def _refresh_failed_flag(ticket: Ticket, exclude_id: int | None = None) -> None:
    q = select(func.count()).select_from(Message).where(
        Message.ticket_id == ticket.id, Message.status == FAILED)
    if exclude_id is not None:
        q = q.where(Message.id != exclude_id)
    still = db.session.scalar(q) > 0
    if ticket.has_failed != still:
        ticket.has_failed = still
        events.emit("ticket.updated", ticket=ticket)


def _announce_status(message: Message) -> None:
    events.emit("message.status_changed", message=message)


def acknowledge(message: Message, status: str) -> bool:
    """The channel reports delivery or reading; statuses only move forward."""
    order = {SENDING: 0, SENT: 1, DELIVERED: 2, READ: 3}
    if message.direction != OUT or status not in (DELIVERED, READ):
        return False
    if order.get(message.status, 0) >= order[status] or message.status not in order:
        return False
    now = utcnow()
    message.status = status
    message.delivered_at = message.delivered_at or now
    if status == READ:
        message.read_at = now
    _announce_status(message)
    return True


# --- the sweep ---------------------------------------------------------------------------------


def sweep(now=None) -> int:
    """Re-enqueue due messages left queued; returns how many were enqueued."""
    stuck = current_app.config.get("SEND_STUCK_SECONDS")
    stuck = timedelta(seconds=stuck) if stuck else STUCK_SENDING
    return requeue.sweep_rows(Message, Message.created_at, QUEUED, SENDING, stuck,
                              SWEEP_GRACE, enqueue, now or utcnow())
