"""Out of hours (AUT-1, PER-2, HOL-1).

The ticket's hours are those of its department's period, else its connection's; with
neither (or an inactive period) the ticket is always in hours. Outside them, or on a
holiday of the company, a customer waiting in a queue gets the configured out-of-hours
answer once per closed spell: `Ticket.out_of_hours_at` says when it went out, and a
spell ends at the period's next opening (services.hours.next_opening) after that
instant. The ticket stays waiting in its queue.

- on_inbound(ticket, message, now) -> bool: a customer's message on a ticket no bot
  handles; True when the ticket is held out of hours (answered now or earlier in the
  same spell).
- on_queued(ticket, now) -> bool: the ticket entered a department's queue (transfer,
  bot hand-over): the same rule for the new department.
- timer "hours": due at the next opening of a held waiting ticket; fire clears
  out_of_hours_at and emits "queue.opened" (the inbox tells its agents).
"""
from __future__ import annotations

from datetime import datetime

from .. import events
from ..extensions import db
from ..models import Company
from ..models.tickets import AUTHOR_SYSTEM, WAITING
from ..services import hours, sending, tickets
from . import timers
from .actions import render
from .conditions import Context

DEFAULT_MESSAGE = ("Olá, {{nome_cliente}}! Nosso horário de atendimento terminou. Sua mensagem "
                   "foi registrada e responderemos assim que abrirmos.")
SOURCE = "Horário de atendimento"  # stored in the history as is (pt-BR)


def period_of(ticket):
    """The period that decides the ticket's hours (None: always open)."""
    for owner in (ticket.department, ticket.connection):
        if owner is not None and owner.period_id is not None:
            period = owner.period
            if period is not None and period.company_id == ticket.company_id and period.active:
                return period
            return None
    return None


def _zone_and_holidays(ticket):
    company = db.session.get(Company, ticket.company_id)
    tz = (company.timezone if company else None) or hours.DEFAULT_TIMEZONE
    return tz, hours.company_holidays(ticket.company_id)


def _message_of(ticket) -> str:
    for owner in (ticket.department, ticket.connection):
        text = getattr(owner, "out_of_hours_message", None) if owner is not None else None
        if text and text.strip():
            return text
    return DEFAULT_MESSAGE


def spell_end(ticket, period=None) -> datetime | None:
    """When the closed spell in which the ticket was answered ends (its period's next
    opening after out_of_hours_at); None when it was never answered or never opens."""
    if ticket.out_of_hours_at is None:
        return None
    period = period if period is not None else period_of(ticket)
    if period is None:
        return ticket.out_of_hours_at  # no hours any more: the spell is over
    tz, holidays = _zone_and_holidays(ticket)
    return hours.next_opening(period, ticket.out_of_hours_at, tz, holidays)


def _hold(ticket, now: datetime, message=None) -> bool:
    if ticket.status != WAITING:
        return False  # an agent is on it (or it is closed): no automatic answer
    period = period_of(ticket)
    if period is None:
        return False
    tz, holidays = _zone_and_holidays(ticket)
    if hours.is_open(period, now, tz, holidays):
        return False
    if ticket.out_of_hours_at is not None:
        end = hours.next_opening(period, ticket.out_of_hours_at, tz, holidays)
        if end is None or end > now:
            return True  # already answered in this closed spell
    text = _render(ticket, _message_of(ticket), now, message)
    if text.strip():
        sending.queue(ticket, None, text, author_kind=AUTHOR_SYSTEM)
    ticket.out_of_hours_at = now
    tickets.history(ticket, "out_of_hours", source=SOURCE, detail=period.name)
    return True


def _render(ticket, text, now, message=None) -> str:
    return render(text, Context(ticket=ticket, now=now, message=message))


def on_inbound(ticket, message, now) -> bool:
    return _hold(ticket, now, message)


def _inbound_idle(ticket, message, now) -> bool:
    """on_inbound's `idle` (listeners.guarded): no savepoint for a ticket not waiting in a
    queue or without hours (what _hold checks first, with no query)."""
    return ticket.status != WAITING or period_of(ticket) is None


on_inbound.idle = _inbound_idle


def on_queued(ticket, now) -> bool:
    return _hold(ticket, now)


# --- timer: the period opens -------------------------------------------------------------------


def _due(ticket) -> datetime | None:
    if ticket.out_of_hours_at is None or ticket.status != WAITING:
        return None
    return spell_end(ticket)


def _fire(ticket, now: datetime) -> None:
    when = _due(ticket)
    if when is None or when > now:
        return
    ticket.out_of_hours_at = None
    events.emit("queue.opened", company_id=ticket.company_id, tickets=[ticket])
    events.emit("ticket.updated", ticket=ticket)


timers.register("hours", _due, _fire)
