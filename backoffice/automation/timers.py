"""Time-driven automation on tickets: one indexed column, one periodic tick, a job per
ticket that is due.

Each kind of timed work (inactivity, the survey's expiry, a chatbot's wait node or
timeout, the opening of a period for tickets held out of hours, idle automation rules)
registers a `Timer`: `due(ticket)` says when it next has something to do on that ticket
(None: nothing), `fire(ticket, now)` does it. `reschedule(ticket)` stores the earliest of
them in `Ticket.due_at`, so the tick reads only what is due through the partial index
`ix_ticket_due`: its cost follows the due tickets, never the idle ones, and no job is
scheduled ahead of time for a ticket.

The tick only dispatches: one UPDATE leases the due tickets (due_at moves LEASE ahead,
`WHERE due_at <= now`, so two overlapping ticks never take the same ticket) and one job
per ticket does the work on the RQ workers (`backoffice.jobs.automation.fire`). The job
claims the ticket with `UPDATE ... SET due_at = NULL WHERE due_at = <lease>` in the same
transaction as the work: a duplicate job finds nothing to claim, and a job lost with its
worker (or never queued: Redis down) leaves the lease to expire, so the next tick after it
dispatches the ticket again. Nothing is lost and nothing runs twice.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, NamedTuple

from sqlalchemy import select, update

from ..extensions import db
from ..jobs.runner import tasks
from ..lib import after_commit, clock
from ..models import Ticket
from ..models.tickets import OPEN_STATUSES

log = logging.getLogger(__name__)

TICK_BATCH = 2000  # tickets dispatched per tick; the rest stay due for the next one
LEASE = timedelta(minutes=5)        # a dispatched ticket's job must have run by then
RETRY_AFTER = timedelta(minutes=5)  # a ticket whose timer failed is tried again then
FIRE_JOB = "backoffice.jobs.automation.fire"  # by name: this layer never imports jobs
RESCHEDULE_JOB = "backoffice.jobs.automation.reschedule"


class Timer(NamedTuple):
    name: str
    due: Callable[[Ticket], datetime | None]
    fire: Callable[[Ticket, datetime], None]


TIMERS: list[Timer] = []


def register(name: str, due: Callable[[Ticket], datetime | None],
             fire: Callable[[Ticket, datetime], None]) -> None:
    if any(t.name == name for t in TIMERS):
        return  # a module imported twice registers once
    TIMERS.append(Timer(name, due, fire))


def next_due(ticket: Ticket) -> datetime | None:
    found = [when for t in TIMERS if (when := t.due(ticket)) is not None]
    return min(found) if found else None


def reschedule(ticket: Ticket) -> None:
    """Store when the ticket next needs a timer; call after any change a timer reads."""
    due = next_due(ticket)
    # Only a change is set: assigning the same value still marks the ticket modified, and
    # the next query of the transaction would flush it (a whole unit of work, every message)
    if ticket.due_at != due:
        ticket.due_at = due


def reschedule_open(company_id: int, department_id: int | None = None) -> int:
    """A setting a timer reads has changed (a department's inactivity minutes or period,
    an idle rule): the company's open tickets (of that department) get their due instant
    again. Open tickets are a few % of all, read through ix_ticket_inbox_open. Screens call
    `reschedule_open_soon` instead: the job does this after their commit."""
    query = select(Ticket).where(Ticket.company_id == company_id,
                                 Ticket.status.in_(OPEN_STATUSES))
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    count = 0
    for ticket in db.session.scalars(query.execution_options(yield_per=500)):
        reschedule(ticket)
        count += 1
    return count


def reschedule_open_soon(company_id: int, department_id: int | None = None) -> None:
    """reschedule_open in a job (jobs/automation.reschedule), so saving a setting does not
    wait for every open ticket; call it after the setting is committed."""
    try:
        tasks.enqueue(RESCHEDULE_JOB, company_id, department_id, job_timeout=600)
    except Exception as exc:  # the queue is down: tickets take the change at their next event
        log.warning("could not enqueue the rescheduling of company %s: %s", company_id, exc)


def run_due(ticket: Ticket, now: datetime) -> list[str]:
    """Fire every timer of `ticket` that is due at `now`; returns their names."""
    fired = []
    for t in TIMERS:
        when = t.due(ticket)
        if when is not None and when <= now:
            t.fire(ticket, now)
            fired.append(t.name)
    reschedule(ticket)
    return fired


def tick(now: datetime | None = None, limit: int = TICK_BATCH) -> int:
    """Dispatch what is due on every company's tickets; returns how many were dispatched."""
    now = now or clock.now()
    due = db.session.execute(
        select(Ticket.id, Ticket.company_id)
        .where(Ticket.due_at.is_not(None), Ticket.due_at <= now)
        .order_by(Ticket.due_at).limit(limit)).all()
    if not due:
        db.session.rollback()
        return 0
    lease = now + LEASE
    leased = set(db.session.scalars(
        update(Ticket).where(Ticket.id.in_([row.id for row in due]), Ticket.due_at <= now)
        .values(due_at=lease).returning(Ticket.id).execution_options(synchronize_session=False)))
    db.session.commit()
    for ticket_id, company_id in due:
        if ticket_id in leased:
            _enqueue(ticket_id, company_id, lease)
    return len(leased)


def _enqueue(ticket_id: int, company_id: int, lease: datetime) -> None:
    try:
        tasks.enqueue(FIRE_JOB, ticket_id, company_id, lease.isoformat(), job_timeout=120)
    except Exception as exc:  # the queue is down: the lease expires and a later tick retries
        log.warning("could not enqueue the timers of ticket %s: %s", ticket_id, exc)


def fire(ticket_id: int, lease: datetime, now: datetime | None = None) -> bool:
    """The job's work, under acting_for(company): claim the leased ticket, fire what is
    due, reschedule, commit. False when another job took it or its work changed."""
    now = now or clock.now()
    try:
        return _handle(ticket_id, lease, now)
    except Exception:
        log.exception("automation timers failed on ticket %s", ticket_id)
        db.session.rollback()
        _postpone(ticket_id, lease, now + RETRY_AFTER)
        return False


def _handle(ticket_id: int, due_at: datetime, now: datetime) -> bool:
    claimed = db.session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.due_at == due_at)
        .values(due_at=None).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        return False  # another job took it, or its work changed since the lease
    ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
    run_due(ticket, now)
    after_commit.commit()
    return True


def _postpone(ticket_id: int, due_at: datetime, when: datetime) -> None:
    """A failing timer must not be retried by every tick: try it again later."""
    try:
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.due_at == due_at)
                           .values(due_at=when).execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:
        log.exception("could not postpone the timers of ticket %s", ticket_id)
        db.session.rollback()
