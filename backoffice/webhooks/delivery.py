"""Sending webhook deliveries (WHK-1): the job's work, "Reenviar", "Testar" and the sweep.

1. `deliver(id)` (the job backoffice.jobs.webhooks.deliver) claims the row with one
   conditional UPDATE (pending -> sending) that also requires no earlier delivery of the
   same webhook and order key ("ticket:12") to be pending or sending: a ticket's events
   reach the receiver in order. A delivery that has to wait stays pending with a
   `next_attempt_at` a little after its predecessor's; the predecessor enqueues it when it
   ends (delivered or failed), so the wait is normally shorter.
2. The stored body is POSTed through lib/outbound (SEC-2: no private address, no redirect
   followed) with a fresh signature (signing.py). The attempt is logged on the row: status
   code, the first KB of the answer, duration, a generic Portuguese error.
3. 2xx: delivered. Timeout, unreachable, 408, 429 and 5xx: pending again after
   WEBHOOK_RETRY_DELAYS (1 min, 5 min, 30 min, 2 h, 12 h), then failed. A redirect or
   another 4xx (and an address that is not allowed): failed at once.
4. A webhook whose deliveries have failed for 24 hours without a success in between
   (`failing_since`) is switched off at the next failure, and the company's admins (those
   who may edit webhooks) get an e-mail.
5. `sweep()` (periodic) sends what is due and was not enqueued (the queue was down), and
   returns to pending the rows left in sending by a worker that died.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from ..extensions import db
from ..lib import after_commit, outbound
from ..lib.clock import now as clock_now
from ..models import Company, User
from ..models.webhooks import DELIVERED, FAILED, PENDING, SENDING, Webhook, WebhookDelivery
from ..services import RuleError, mail, requeue
from ..services.hours import local_time
from ..version import VERSION
from . import payloads, signing
from .outbox import DELIVER_JOB, JOB_TIMEOUT, enqueue

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (60, 300, 1800, 7200, 43200)  # seconds before the 2nd..6th attempts
DEFAULT_TIMEOUT = 10.0       # seconds per attempt (WEBHOOK_TIMEOUT)
DISABLE_AFTER = timedelta(hours=24)
RESPONSE_BYTES = 1024        # of the receiver's answer, kept for the log
WAIT_AFTER_EARLIER = timedelta(seconds=60)
SWEEP_GRACE = timedelta(seconds=30)   # a fresh delivery's own job normally ran by then
STUCK_SENDING = timedelta(minutes=5)  # the job times out after JOB_TIMEOUT seconds
PING = "ping"
USER_AGENT = f"Atende-Webhooks/{VERSION}"

# outcomes of one attempt
OK, RETRY, GIVE_UP = "ok", "retry", "give_up"


def retry_delays() -> tuple[int, ...]:
    found = current_app.config.get("WEBHOOK_RETRY_DELAYS")
    return tuple(found if found is not None else DEFAULT_RETRY_DELAYS)


def _timeout() -> float:
    return float(current_app.config.get("WEBHOOK_TIMEOUT") or DEFAULT_TIMEOUT)


# --- the job -----------------------------------------------------------------------------


def deliver(delivery_id: int) -> str:
    """"delivered", "retry", "failed", "waiting" (an earlier one of its ticket is not done)
    or "skipped" (another job has it, or it is no longer pending, or gone)."""
    row = db.session.get(WebhookDelivery, delivery_id)
    if row is None or row.status != PENDING:
        db.session.rollback()
        return "skipped"
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(earlier.webhook_id == row.webhook_id,
                             earlier.order_key == row.order_key, earlier.id < row.id,
                             earlier.status.in_((PENDING, SENDING)))
    now = clock_now()
    claimed = db.session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == PENDING, ~blocked)
        .values(status=SENDING, attempts=WebhookDelivery.attempts + 1, next_attempt_at=None,
                last_attempt_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if claimed.rowcount != 1:
        db.session.refresh(row)
        if row.status != PENDING:
            return "skipped"
        _wait_for_earlier(row, now)
        return "waiting"
    db.session.refresh(row)
    webhook = row.webhook
    if not webhook.active:
        return _finish(row, FAILED, error=_("O webhook está desativado."))
    outcome, retry_after = _attempt(row, webhook)
    if outcome == OK:
        if webhook.failing_since is not None:
            db.session.execute(update(Webhook).where(Webhook.id == webhook.id)
                               .values(failing_since=None)
                               .execution_options(synchronize_session=False))
        return _finish(row, DELIVERED)
    disabled = _note_failure(webhook, clock_now())
    delays = retry_delays()
    if outcome == RETRY and not disabled and row.attempts <= len(delays):
        delay = delays[row.attempts - 1]
        if retry_after:  # the receiver's own wait (429), within reason
            delay = max(delay, min(retry_after, 3600))
        requeue.retry_later(row, PENDING, row.error, delay, DELIVER_JOB, JOB_TIMEOUT)
        return "retry"
    return _finish(row, FAILED)


def _wait_for_earlier(row: WebhookDelivery, now: datetime) -> None:
    """Pending until its predecessor ends, which enqueues it; the sweep's due time is set
    after the predecessor's own, in case that enqueue is lost."""
    theirs = db.session.scalar(
        select(WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.webhook_id == row.webhook_id,
               WebhookDelivery.order_key == row.order_key, WebhookDelivery.id < row.id,
               WebhookDelivery.status.in_((PENDING, SENDING)))
        .order_by(WebhookDelivery.id).limit(1))
    row.next_attempt_at = max(theirs or now, now) + WAIT_AFTER_EARLIER
    db.session.commit()


def _finish(row: WebhookDelivery, status: str, error: str | None = None) -> str:
    row.status = status
    if error is not None:
        row.error = error
    if status == DELIVERED:
        row.delivered_at = clock_now()
        row.error = None
    row.next_attempt_at = None
    db.session.commit()
    _enqueue_next(row)
    return status


def _enqueue_next(row: WebhookDelivery) -> None:
    """The next delivery of the same ticket to the same webhook, now that this one ended."""
    if row.order_key is None:
        return
    next_id = db.session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.webhook_id == row.webhook_id,
               WebhookDelivery.order_key == row.order_key, WebhookDelivery.id > row.id,
               WebhookDelivery.status == PENDING)
        .order_by(WebhookDelivery.id).limit(1))
    if next_id is not None:
        enqueue(next_id)


# --- one attempt ---------------------------------------------------------------------------


def headers_for(row: WebhookDelivery, secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Atende-Event": row.event,
        "X-Atende-Delivery": row.event_id,
        signing.HEADER: signing.sign(secret, body, _unix(clock_now())),
    }


def _unix(naive_utc: datetime) -> int:
    return int((naive_utc - datetime(1970, 1, 1)).total_seconds())


def _shown(data: bytes) -> str | None:
    """The first KB of an answer as text (PostgreSQL refuses NUL in text)."""
    if not data:
        return None
    return data[:RESPONSE_BYTES].decode("utf-8", errors="replace").replace("\x00", "")


def _attempt(row: WebhookDelivery, webhook: Webhook) -> tuple[str, int | None]:
    """POST the stored body once and log the answer on the row (not committed); the
    outcome and the receiver's Retry-After in seconds, if any."""
    body = row.body.encode("utf-8")
    started = time.monotonic()
    outcome, retry_after = OK, None
    try:
        answer = outbound.post(webhook.url, body, headers_for(row, webhook.secret, body),
                               timeout=_timeout(), max_bytes=RESPONSE_BYTES)
        row.response_status, row.response_body, row.error = answer.status, _shown(answer.body), None
    except outbound.Refused as exc:
        row.response_status, row.response_body = exc.status, _shown(exc.body)
        if 300 <= exc.status < 400:
            row.error = _("O destino respondeu com um redirecionamento, que não é seguido: "
                          "use o endereço final na URL do webhook.")
        else:
            row.error = str(exc)
        outcome = GIVE_UP if exc.permanent else RETRY
        retry_after = _seconds(exc.headers.get("Retry-After") or exc.headers.get("retry-after"))
    except outbound.BlockedAddress as exc:  # will not change by retrying (SEC-2)
        row.response_status, row.response_body, row.error = None, None, str(exc)
        outcome = GIVE_UP
    except outbound.OutboundError as exc:  # timeout, unreachable
        row.response_status, row.response_body, row.error = None, None, str(exc)
        outcome = RETRY
    row.duration_ms = int((time.monotonic() - started) * 1000)
    row.error = row.error[:255] if row.error else None
    return outcome, retry_after


def _seconds(value) -> int | None:
    try:
        seconds = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


# --- the 24-hour switch -------------------------------------------------------------------


def _note_failure(webhook: Webhook, now: datetime) -> bool:
    """Record that the webhook is failing; True when this failure switched it off (one
    job only wins the conditional UPDATE, so the admins are told once)."""
    if webhook.failing_since is None:
        db.session.execute(update(Webhook).where(Webhook.id == webhook.id,
                                                 Webhook.failing_since.is_(None))
                           .values(failing_since=now)
                           .execution_options(synchronize_session=False))
        db.session.commit()
        return False
    if now - webhook.failing_since < DISABLE_AFTER:
        return False
    switched = db.session.execute(
        update(Webhook).where(Webhook.id == webhook.id, Webhook.active.is_(True))
        .values(active=False, disabled_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if switched.rowcount != 1:
        return False
    db.session.refresh(webhook)
    log.warning("webhook %s of company %s disabled after failing since %s",
                webhook.id, webhook.company_id, webhook.failing_since)
    _tell_admins(webhook)
    return True


def admins_of(company_id: int) -> list[User]:
    """Active users of the company who may edit webhooks."""
    users = db.session.scalars(select(User).where(User.company_id == company_id,
                                                  User.active.is_(True)).order_by(User.id))
    return [u for u in users if u.can("webhooks", "edit")]


def _tell_admins(webhook: Webhook) -> None:
    company = db.session.get(Company, webhook.company_id)
    zone = company.timezone if company is not None else None

    def shown(at: datetime) -> str:
        return local_time(at, zone).strftime("%d/%m/%Y %H:%M")

    subject = _("Webhook desativado: %(name)s", name=webhook.name)
    body = _("O webhook %(name)s (%(url)s) foi desativado automaticamente em %(when)s, porque "
             "as entregas para ele falham desde %(since)s.\n\n"
             "Corrija o serviço que recebe os eventos e ative o webhook de novo em "
             "Configurações > Webhooks. As entregas que falharam podem ser reenviadas em "
             "Entregas de webhooks.",
             name=webhook.name, url=webhook.url, when=shown(webhook.disabled_at),
             since=shown(webhook.failing_since))
    for user in admins_of(webhook.company_id):
        try:
            mail.send(user.email, subject, body)
        except Exception:  # a mail server down must not undo the switch
            log.exception("could not tell %s that webhook %s was disabled", user.id, webhook.id)


# --- "Reenviar" and "Testar" ------------------------------------------------------------------


def resend(delivery: WebhookDelivery) -> WebhookDelivery:
    """A new attempt of the same body, now (its retries start over); the caller commits
    with after_commit.commit()."""
    if delivery.status == SENDING:
        raise RuleError(_("Esta entrega está sendo enviada agora; aguarde o resultado."))
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = None
    delivery.delivered_at = None
    delivery_id = delivery.id
    after_commit.later(lambda: enqueue(delivery_id))
    return delivery


def ping(webhook: Webhook) -> WebhookDelivery:
    """Send a "ping" event to the webhook now, whether it is active or not, and return its
    logged delivery (delivered or failed; never retried)."""
    now = clock_now()
    event_id = str(uuid.uuid4())
    body = payloads.dumps(payloads.envelope(
        PING, webhook.company_id, {"webhook": {"id": webhook.id, "name": webhook.name}}, now,
        event_id))
    row = WebhookDelivery(company_id=webhook.company_id, webhook_id=webhook.id,
                          event_id=event_id, event=PING, order_key=None, body=body,
                          status=SENDING, attempts=1, last_attempt_at=now, created_at=now)
    db.session.add(row)
    db.session.commit()  # logged before the request, which may take the whole timeout
    outcome, _retry_after = _attempt(row, webhook)
    row.status = DELIVERED if outcome == OK else FAILED
    row.delivered_at = clock_now() if outcome == OK else None
    db.session.commit()
    return row


def result_text(row: WebhookDelivery) -> str:
    """What an attempt gave, for people: "Resposta 200 em 84 ms" or the error."""
    if row.status == DELIVERED:
        return _("Resposta %(status)s em %(ms)s ms", status=row.response_status,
                 ms=row.duration_ms or 0)
    text = row.error or _("Falha na entrega.")
    if row.response_status:
        text = _("%(error)s (resposta %(status)s)", error=text, status=row.response_status)
    return text


# --- the sweep ------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Re-enqueue due pending deliveries and those stuck in sending; how many."""
    return requeue.sweep_rows(WebhookDelivery, WebhookDelivery.created_at, PENDING, SENDING,
                              STUCK_SENDING, SWEEP_GRACE, enqueue, now or clock_now(),
                              claimed=WebhookDelivery.last_attempt_at)
