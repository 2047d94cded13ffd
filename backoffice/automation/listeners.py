"""The automation engine's event trigger: domain events (backoffice.events) in, the
automation modules called in a fixed order, timers rescheduled.

On a customer's message:
1. a closed ticket waiting for its survey takes the message as the answer (survey);
2. else a chatbot run continues, or the entry flow starts (flows.engine);
3. else, outside the opening hours, the out-of-hours answer goes out (business_hours);
4. then the "message received" automation rules run (rules), whatever happened above.

Every handler runs inside the caller's transaction (the inbound webhook's job, the
widget's request) but within a savepoint: an automation that fails is logged and rolled
back alone, and the customer's message is stored all the same. Actions emit events in
turn (a transfer, a close); nesting deeper than MAX_DEPTH stops there, so no chain of
automations can recurse without end (rules also refuse to retrigger themselves).
"""
from __future__ import annotations

import contextvars
import logging
from typing import Callable

from .. import events
from ..extensions import db
from ..lib import clock
from ..models import Message, Ticket
from ..models.tickets import CLOSED, IN
from . import business_hours, inactivity, rules, survey, timers  # noqa: F401 (timers register)
from .flows import engine

_TIMER_MODULES = (inactivity,)  # imported for its timer's registration (timers.register)

log = logging.getLogger(__name__)

MAX_DEPTH = 4
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("automation_depth", default=0)


def guarded(what: str, fn: Callable, *args, **kwargs):
    """Run one automation step in a savepoint; its failure is logged, never raised.

    A step may carry `fn.idle(*args, **kwargs)`: True when it provably has nothing to do
    (no active rule of the trigger, no flow, no survey waiting...). Then neither the
    savepoint nor the step runs (SCL-3: most messages meet no automation, and a savepoint
    costs a flush, two statements when it runs SQL, and its bookkeeping). The check is a
    read (answered from the transaction's memo when asked before), outside the savepoint:
    a read the database refuses fails the unit of work like any other read of the
    message's path; a check's own error is logged and the step skipped. A step replaced
    without `idle` (a test's broken step) always runs guarded."""
    idle = getattr(fn, "idle", None)
    try:
        if idle is not None and idle(*args, **kwargs):
            return None
    except Exception:
        log.exception("automation step %s failed", what)
        return None
    try:
        with db.session.begin_nested():
            return fn(*args, **kwargs)
    except Exception:
        log.exception("automation step %s failed", what)
        return None


def _nested(handler: Callable) -> Callable:
    def run(name, **data):
        depth = _depth.get()
        if depth >= MAX_DEPTH:
            log.warning("automation stopped at depth %s on %s", depth, name)
            return
        token = _depth.set(depth + 1)
        try:
            handler(name, **data)
        finally:
            _depth.reset(token)
    run.__name__ = handler.__name__
    return run


@events.listen("message.created")
@_nested
def on_message(name: str, message: Message, ticket: Ticket, **_):
    if message.direction != IN:
        return
    now = clock.now()
    if guarded("survey", survey.on_inbound, ticket, message, now):
        timers.reschedule(ticket)
        return
    if not guarded("flow", engine.on_inbound, ticket, message, now):
        guarded("out of hours", business_hours.on_inbound, ticket, message, now)
    guarded("rules", rules.fire, "message_received", ticket, now, message=message)
    timers.reschedule(ticket)


@events.listen("ticket.created")
@_nested
def on_created(name: str, ticket: Ticket, **_):
    now = clock.now()
    guarded("rules", rules.fire, "ticket_created", ticket, now)
    timers.reschedule(ticket)


@events.listen("ticket.transferred")
@_nested
def on_transferred(name: str, ticket: Ticket, **_):
    now = clock.now()
    if ticket.agent_id is None and ticket.is_open:  # back in a queue
        if not guarded("flow", engine.on_queued, ticket, now):
            guarded("out of hours", business_hours.on_queued, ticket, now)
    guarded("rules", rules.fire, "ticket_transferred", ticket, now)
    timers.reschedule(ticket)


@events.listen("ticket.status_changed")
@_nested
def on_status(name: str, ticket: Ticket, **_):
    now = clock.now()
    if ticket.status == CLOSED:
        guarded("flow", engine.on_closed, ticket, now)
        guarded("survey", survey.on_closed, ticket, now)
        guarded("rules", rules.fire, "ticket_closed", ticket, now)
    timers.reschedule(ticket)


@events.listen("ticket.tags_added")
@_nested
def on_tags(name: str, ticket: Ticket, tag_ids, **_):
    guarded("rules", rules.fire, "tag_added", ticket, clock.now(), tag_ids=tag_ids)
    timers.reschedule(ticket)
