"""Keeps connected sockets in the right rooms when access changes (RTM-1).

Rooms are joined on connect from the user's rights and departments. When those change
(a department member added or removed, a user's group or active flag, a group's rights),
the user's open sockets are moved at once, and when a ticket changes department or agent
the sockets that have it open and may no longer see it leave its room: after the flush the new rooms are computed
(SQL is allowed there), and after the commit the sockets enter and leave them (no SQL
there). Ticket rooms the user may no longer see are left too. A rollback changes nothing.

This moves the sockets of this process; with several web instances the others keep
their sockets' rooms until those reconnect (the HTTP routes refuse at once everywhere).
"""
from __future__ import annotations

import logging

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from ..extensions import socketio
from ..lib import rowwrite
from ..models import DepartmentMember, PermissionGroup, Ticket, User
from ..services import visibility
from .handlers import rooms_for
from .names import ticket_room, user_room

log = logging.getLogger(__name__)
_DIRTY, _TICKETS, _PLAN = "atende_rooms_dirty", "atende_rooms_tickets", "atende_rooms_plan"
NAMESPACE = "/"


def _server():
    return getattr(socketio, "server", None)


def _changed(obj, *names) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _collect(session: Session, _context) -> None:
    dirty: set[int] = session.info.setdefault(_DIRTY, set())
    moved: set[int] = session.info.setdefault(_TICKETS, set())
    for obj in list(session.new) + list(session.deleted):
        if isinstance(obj, DepartmentMember) and obj.user_id:
            dirty.add(obj.user_id)
    for obj in session.dirty:
        if isinstance(obj, DepartmentMember) and _changed(obj, "user_id", "department_id",
                                                          "responsible"):
            dirty.add(obj.user_id)
            dirty.update(v for v in inspect(obj).attrs.user_id.history.deleted if v)
        elif isinstance(obj, User) and _changed(obj, "group_id", "active"):
            dirty.add(obj.id)
        elif isinstance(obj, PermissionGroup) and _changed(obj, "rights"):
            dirty.update(session.scalars(select(User.id).where(User.group_id == obj.id)))
        elif isinstance(obj, Ticket) and _changed(obj, "department_id", "agent_id"):
            moved.add(obj.id)  # whoever has it open may no longer see it
    if not dirty:
        session.info.pop(_DIRTY, None)
    if not moved:
        session.info.pop(_TICKETS, None)


def _plan(session: Session, _context) -> None:
    """After the flush (SQL allowed): where each affected socket must be."""
    dirty = session.info.pop(_DIRTY, None) or set()
    moved = session.info.pop(_TICKETS, None) or set()
    server = _server()
    if not (dirty or moved) or server is None:
        return
    plan = session.info.setdefault(_PLAN, {})
    for user_id in dirty:
        sids = [sid for sid, _eio in server.manager.get_participants(
            NAMESPACE, user_room(user_id))]
        if not sids:
            continue
        user = session.get(User, user_id)
        wanted = set(rooms_for(user)) if user is not None and user.is_active else set()
        for sid in sids:
            current = set(server.rooms(sid, namespace=NAMESPACE)) - {sid}
            keep = set(wanted)
            for room in current:
                if room.startswith("ticket:") and user is not None and user.is_active:
                    ticket = session.get(Ticket, int(room.split(":", 1)[1]))
                    if ticket is not None and visibility.can_see(user, ticket):
                        keep.add(room)
            plan[sid] = (current - keep, wanted - current)
    for ticket_id in moved:
        ticket = session.get(Ticket, ticket_id)
        room = ticket_room(ticket_id)
        for sid, _eio in list(server.manager.get_participants(NAMESPACE, room)):
            users = [r for r in server.rooms(sid, namespace=NAMESPACE) if r.startswith("user:")]
            user = session.get(User, int(users[0].split(":", 1)[1])) if users else None
            if ticket is None or user is None or not visibility.can_see(user, ticket):
                leave, join = plan.get(sid, (set(), set()))
                plan[sid] = (leave | {room}, join)


def _apply(session: Session) -> None:
    plan = session.info.pop(_PLAN, None)
    server = _server()
    if not plan or server is None:
        return
    for sid, (leave, join) in plan.items():
        try:
            for room in leave:
                server.leave_room(sid, room, namespace=NAMESPACE)
            for room in join:
                server.enter_room(sid, room, namespace=NAMESPACE)
        except Exception:  # the socket went away meanwhile
            log.debug("could not move socket %s", sid, exc_info=True)


def _drop(session: Session) -> None:
    session.info.pop(_DIRTY, None)
    session.info.pop(_TICKETS, None)
    session.info.pop(_PLAN, None)


def _row(obj, keys) -> bool:
    """What _collect watches takes the flush, not lib/rowwrite.py: a membership, a
    user's group or active flag, a group's rights, a ticket's department or agent."""
    if isinstance(obj, DepartmentMember):
        return False
    if keys is None:
        return True
    if isinstance(obj, (User, PermissionGroup)):
        return False
    return not (isinstance(obj, Ticket) and keys & {"department_id", "agent_id"})


def install() -> None:
    rowwrite.check_rows_with(_row, _collect, _plan)
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)
        event.listen(Session, "after_flush_postexec", _plan)
        event.listen(Session, "after_commit", _apply)
        event.listen(Session, "after_rollback", _drop)
