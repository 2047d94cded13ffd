"""Socket.IO handlers (RTM-1): connect and disconnect, ticket.join / ticket.leave.

Rooms are joined only from the server-side identity of the user: a client never names the
room it wants; the server derives them from the logged-in user, so a forged company or
ticket id in an event cannot subscribe anyone to another tenant. The one room a client
asks for, a ticket's, is joined only after the same visibility check that guards the
ticket's HTTP routes (services.visibility). The room names are in realtime.names.

Sessions (SEC-4): a socket lives only as long as the server-side session it was opened
with. The connect records its sid under that session (services.sessions), so ending the
session disconnects it at once (realtime.listeners, on `session.ended`); every event
checks the session again (`session_checked`) for endings this process could not be told
about.
"""
from __future__ import annotations

import functools

from flask import request, session
from flask_login import current_user
from flask_socketio import disconnect, join_room, leave_room

from ..extensions import db, socketio
from ..models import User
from ..services import presence, sessions, visibility
from .failures import retried_once
from .names import (
    company_room, department_room, managers_room, supervisors_room, ticket_room, unrouted_room,
    user_room,
)


def rooms_for(user) -> list[str]:
    """Every room a user joins on connect (ticket rooms are joined one by one)."""
    if user.is_superuser or user.company_id is None:
        return [user_room(user.id)]
    rooms = [company_room(user.company_id), user_room(user.id)]
    if not user.can("inbox", "view"):
        return rooms
    if user.can("inbox", "supervise"):
        rooms.append(supervisors_room(user.company_id))
    rooms.append(unrouted_room(user.company_id))
    rooms.extend(department_room(d) for d in sorted(visibility.department_ids(user)))
    rooms.extend(managers_room(d) for d in sorted(visibility.responsible_department_ids(user)))
    return rooms


def emit_to_company(company_id: int, event: str, data: dict) -> None:
    socketio.emit(event, data, to=company_room(company_id))


def _session_alive() -> bool:
    """A live session (auth.load_user) whose password is not due for a change (SEC-1)."""
    return current_user.is_authenticated and not current_user.must_change_password


def session_checked(handler):
    """Every socket event re-checks its session: one ended where this socket could not be
    reached (another process, no message queue) is refused and the socket closed."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        if not _session_alive():
            disconnect()
            return {"ok": False}
        return handler(*args, **kwargs)

    return wrapper


@socketio.on("connect")
def on_connect(auth=None):
    if not _session_alive():
        return False  # refused: the client gets a connect_error
    if not sessions.record_socket(sessions.current_id(), request.sid):
        return False  # the session ended meanwhile
    rooms = rooms_for(current_user)
    for room in rooms:
        join_room(room)
    # A page that only watches (the manager's home card) says so: being on it is not
    # being available to take tickets.
    if not (isinstance(auth, dict) and auth.get("presence") is False):
        presence.connected(current_user, request.sid)
    socketio.emit("hello", {"rooms": rooms}, to=request.sid)


@socketio.on("disconnect")
@retried_once
def on_disconnect(*_args):
    sessions.forget_socket(request.sid)
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is None and session.get("_user_id"):
        # the session was ended (that is often why the socket goes): the presence it
        # opened is still closed, for the user the socket was opened by
        try:
            user = db.session.get(User, int(session["_user_id"]))
        except (TypeError, ValueError):
            user = None
    if user is not None and not user.is_superuser:
        presence.disconnected(user, request.sid)


@socketio.on("ticket.join")
@session_checked
def on_ticket_join(data=None):
    """Open a conversation: join its room if, and only if, the user may see it."""
    ticket_id = (data or {}).get("id") if isinstance(data, dict) else None
    if not isinstance(ticket_id, int):
        return {"ok": False}
    if visibility.find_ticket(current_user, ticket_id) is None:
        return {"ok": False}
    join_room(ticket_room(ticket_id))
    return {"ok": True}


@socketio.on("ticket.leave")
@session_checked
def on_ticket_leave(data=None):
    ticket_id = (data or {}).get("id") if isinstance(data, dict) else None
    if isinstance(ticket_id, int):
        leave_room(ticket_room(ticket_id))
    return {"ok": True}
