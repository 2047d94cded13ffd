"""Inactivity auto-close (AUT-4, DEP-5).

Timer "inactivity": a ticket waiting in its department's queue closes after
`close_queue_after_minutes` without a customer message (counted from the later of the
customer's last message and the moment it entered the queue); a ticket in progress
(open or waiting for the customer) after `close_in_progress_after_minutes`, counted from
the customer's last message, or from the acceptance when the customer has not written
since. Exactly at that minute, not before: the timer's due instant is that minute and the
fire checks again. The department's close message goes out first (variables filled
in), and the history records the close as automatic, by "Inatividade". Empty minutes:
off. A ticket a chatbot holds (an active FlowRun) is left to the flow's own timeout.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from ..models.tickets import CLOSED, OPEN, PENDING, WAITING
from ..services import tickets
from . import timers
from .actions import render
from .conditions import Context
from .flows import engine

SOURCE = "Inatividade"  # stored in the history as is (pt-BR); the survey reads it


def _latest(*moments):
    found = [m for m in moments if m is not None]
    return max(found) if found else None


def _rule(ticket):
    """(minutes, message, counted from) of the ticket's state, or None."""
    department = ticket.department
    if department is None or ticket.status == CLOSED:
        return None
    if ticket.status == WAITING:
        minutes, text = department.close_queue_after_minutes, department.close_queue_message
        since = _latest(ticket.last_customer_at, ticket.queued_at)
    elif ticket.status in (OPEN, PENDING):
        minutes = department.close_in_progress_after_minutes
        text = department.close_in_progress_message
        since = _latest(ticket.last_customer_at, ticket.accepted_at)
    else:
        return None
    since = since or ticket.created_at
    if not minutes or since is None:
        return None
    return minutes, text, since


def _due(ticket) -> datetime | None:
    rule = _rule(ticket)
    if rule is None or ticket.id is None or engine.active_run(ticket) is not None:
        return None
    minutes, _text, since = rule
    return since + timedelta(minutes=minutes)


def _fire(ticket, now: datetime) -> None:
    rule = _rule(ticket)
    if rule is None:
        return
    minutes, text, since = rule
    if since + timedelta(minutes=minutes) > now or engine.active_run(ticket) is not None:
        return
    body = render(text, Context(ticket=ticket, now=now)) if text else ""
    tickets.close_automatically(ticket, source=SOURCE, message=body.strip() or None)


timers.register("inactivity", _due, _fire)
