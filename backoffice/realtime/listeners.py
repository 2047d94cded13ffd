"""The socket listener: the app's events (backoffice.events) as Socket.IO pushes.

Each listener runs inside the emitting transaction, builds its payload there (SQL
allowed) and queues the push with after_commit.later: another request can read the rows
by the time a client hears of them, and a rollback pushes nothing.

Who hears what (RTM-1, PLT-1): a ticket's state goes to the rooms that may see it now
(names.ticket_rooms, the mirror of services.visibility.ticket_filter), and a removal to
those that saw it before a transfer and no longer do; a message's details go to whoever
has its ticket open; an agent's status to the company's supervisors; a webchat message to
the visitor's tabs.

Sessions (SEC-4) are ended from any writer, some of which commit with a plain
db.session.commit(); their sockets are therefore closed from SQLAlchemy's own after_commit
hook (`install`), which no SQL runs in.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from .. import events
from ..channels.webchat.adapter import NAMESPACE as WEBCHAT_NAMESPACE
from ..channels.webchat.adapter import visitor_room
from ..extensions import socketio
from ..models.tickets import MESSAGE_STATUSES
from ..services import presence, serialize
from ..lib import after_commit
from .pubsub import install as install_one_trip
from .names import supervisors_room, ticket_room, ticket_rooms

log = logging.getLogger(__name__)
NAMESPACE = "/"
_SIDS = "atende_sessions_sids"


def _push(event_name: str, data: dict, to, namespace: str | None = None) -> None:
    after_commit.later(lambda: socketio.emit(event_name, data, to=to, namespace=namespace))


@events.listen("ticket.updated", "ticket.status_changed", "ticket.transferred")
def ticket_changed(_name, ticket, from_department_id=None, from_agent_id=None, **_data) -> None:
    """The new state to everyone who may see the ticket now; after a transfer, a removal
    to the rooms that saw it before and no longer do."""
    summary = serialize.ticket_summary(ticket)
    rooms = ticket_rooms(ticket.company_id, ticket.department_id, ticket.agent_id)
    _push("ticket.updated", summary, rooms)
    if _name == "ticket.transferred":
        before = ticket_rooms(ticket.company_id, from_department_id, from_agent_id)
        gone = [r for r in before if r not in rooms]
        if gone:
            _push("ticket.removed", {"id": summary["id"]}, gone)


@events.listen("queue.opened")
def queue_opened(_name, company_id, tickets, **_data) -> None:
    """AUT-1: a period opened on tickets held out of hours; each room that may see them
    hears which (the inbox shows "N atendimento(s) aguardando desde fora do horário")."""
    by_rooms: dict[tuple, list] = {}
    for ticket in tickets:
        if ticket.company_id != company_id:
            continue
        rooms = tuple(ticket_rooms(ticket.company_id, ticket.department_id, ticket.agent_id))
        by_rooms.setdefault(rooms, []).append(serialize.ticket_summary(ticket))
    for rooms, summaries in by_rooms.items():
        _push("queue.opened", {"count": len(summaries), "tickets": summaries}, list(rooms))


@events.listen("message.created")
def message_created(_name, message, ticket, **_data) -> None:
    _push("message.created", serialize.message(message, ticket.connection), ticket_room(ticket.id))


@events.listen("message.status_changed")
def message_status_changed(name, message, **_data) -> None:
    data = {"id": message.id, "ticket_id": message.ticket_id, "status": message.status,
            "status_label": str(MESSAGE_STATUSES.get(message.status, message.status)),
            "error": message.error,
            "sent_at": serialize.iso(message.sent_at),
            "delivered_at": serialize.iso(message.delivered_at),
            "read_at": serialize.iso(message.read_at)}
    _push(name, data, ticket_room(message.ticket_id))


@events.listen("message.tags")
def message_tags(name, message, **_data) -> None:
    # everyone in the conversation sees company tags change; personal ones stay private
    shared = {"id": message.id, "ticket_id": message.ticket_id,
              "tags": serialize.tags_for(message.tags, None)}
    _push(name, shared, ticket_room(message.ticket_id))


@events.listen("agent.status")
def agent_status(name, user, **_data) -> None:
    _push(name, presence.agent_payload(user), supervisors_room(user.company_id))


@events.listen("webchat.message")
def webchat_message(_name, address_id, payload, **_data) -> None:
    # Through the message queue when one is configured (rq workers are separate
    # processes); the visitor's widget joins this room on connect.
    _push("message", payload, visitor_room(address_id), namespace=WEBCHAT_NAMESPACE)


# -- SEC-4: ended sessions lose their sockets --------------------------------------------------

@events.listen("session.ended")
def session_ended(_name, sids, db_session: Session, **_data) -> None:
    if sids:
        db_session.info.setdefault(_SIDS, set()).update(sids)


def _disconnect(session: Session) -> None:
    """After the commit: close the sockets of the ended sessions, wherever they are."""
    sids = session.info.pop(_SIDS, None)
    if not sids:
        return
    server = getattr(socketio, "server", None)
    if server is None or not has_app_context():
        return
    # A fresh app context: the disconnect handler runs right here, and must neither see
    # this request's user nor use the session that is finishing its commit.
    with current_app._get_current_object().app_context():
        for sid in sorted(sids):
            try:
                server.disconnect(sid, namespace=NAMESPACE)
            except Exception:  # one gone socket must not keep the others open
                log.warning("could not disconnect socket %s", sid, exc_info=True)


def _drop(session: Session, transaction) -> None:
    # the whole transaction only: after_rollback also fires for a savepoint (a failed
    # automation step), which must not keep the sessions ended before it open
    if transaction.parent is None:
        session.info.pop(_SIDS, None)


def install() -> None:
    """Called by create_app after socketio.init_app: also the pushes of a commit leave for
    the other processes in one Redis message (realtime.pubsub, SCL-3; each app's server)."""
    install_one_trip(socketio.server)
    if not event.contains(Session, "after_commit", _disconnect):
        event.listen(Session, "after_commit", _disconnect)
        event.listen(Session, "after_soft_rollback", _drop)
