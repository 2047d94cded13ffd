"""Time-driven automation on tickets: one indexed column, one periodic tick.

Each kind of timed work (inactivity, the survey's expiry, a chatbot's wait node or
timeout, the opening of a period for tickets held out of hours, idle automation rules)
registers a `Timer`: `due(ticket)` says when it next has something to do on that ticket
(None: nothing), `fire(ticket, now)` does it. `reschedule(ticket)` stores the earliest of
them in `Ticket.due_at`, so the tick reads only what is due through the partial index
`ix_ticket_due`: its cost follows the due tickets, never the idle ones, and there is no
scheduled job per ticket to lose or duplicate.

Overlapping ticks (two sweeper processes, a worker restarted mid-tick) are harmless: a
tick claims a ticket with `UPDATE ... SET due_at = NULL WHERE due_at = <what it read>` in
the same transaction as the work, so a second tick finds nothing to claim, and a crash
rolls the claim back with the work.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable, NamedTuple

from sqlalchemy import select, update

from ..extensions import db
from ..lib import after_commit, clock
from ..models import Ticket
from ..models.tickets import OPEN_STATUSES
from ..tenancy import acting_for

log = logging.getLogger(__name__)

TICK_BATCH = 500  # tickets per tick; the rest stay due for the next one
RETRY_AFTER = timedelta(minutes=5)  # a ticket whose timer failed is tried again then


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
    ticket.due_at = next_due(ticket)


def reschedule_open(company_id: int, department_id: int | None = None) -> int:
    """A setting a timer reads has changed (a department's inactivity minutes or period,
    an idle rule): the company's open tickets (of that department) get their due instant
    again. Open tickets are a few % of all, read through ix_ticket_inbox_open."""
    query = select(Ticket).where(Ticket.company_id == company_id,
                                 Ticket.status.in_(OPEN_STATUSES))
    if department_id is not None:
        query = query.where(Ticket.department_id == department_id)
    count = 0
    for ticket in db.session.scalars(query.execution_options(yield_per=500)):
        reschedule(ticket)
        count += 1
    return count


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
    """Run what is due on every company's tickets; returns how many tickets were handled."""
    now = now or clock.now()
    due = db.session.execute(
        select(Ticket.id, Ticket.company_id, Ticket.due_at)
        .where(Ticket.due_at.is_not(None), Ticket.due_at <= now)
        .order_by(Ticket.due_at).limit(limit)).all()
    db.session.rollback()  # the read above must not hold a transaction over the batch
    handled = 0
    for ticket_id, company_id, due_at in due:
        with acting_for(company_id):
            try:
                if _handle(ticket_id, due_at, now):
                    handled += 1
            except Exception:
                log.exception("automation timers failed on ticket %s", ticket_id)
                db.session.rollback()
                _postpone(ticket_id, due_at, now + RETRY_AFTER)
    return handled


def _postpone(ticket_id: int, due_at: datetime, when: datetime) -> None:
    """A failing timer must not be retried by every tick: try it again later."""
    try:
        db.session.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.due_at == due_at)
                           .values(due_at=when).execution_options(synchronize_session=False))
        db.session.commit()
    except Exception:
        log.exception("could not postpone the timers of ticket %s", ticket_id)
        db.session.rollback()


def _handle(ticket_id: int, due_at: datetime, now: datetime) -> bool:
    claimed = db.session.execute(
        update(Ticket).where(Ticket.id == ticket_id, Ticket.due_at == due_at)
        .values(due_at=None).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        db.session.rollback()
        return False  # another tick took it, or its work changed since the read
    ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
    run_due(ticket, now)
    after_commit.commit()
    return True
