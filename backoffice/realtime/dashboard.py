"""The managers' dashboard hears that its numbers moved (PAU-4).

The push says only which departments changed (`dashboard.changed`, {"department_ids":
[...]}, None for the tickets without a department); the page then asks for the numbers
(GET /admin/dashboard.json), which are checked against the user's own scope there. So
nothing counted crosses a room, and a late or lost push costs only a refresh.

One push per room per transaction: the departments touched are collected in the
session while the transaction runs (an import or a bulk close changes hundreds of
tickets) and sent once, after the commit; a rollback sends nothing.

Rooms: the company's supervisors (every department) and the department's managers'
room (names.managers_room: its responsibles, joined by realtime.handlers.rooms_for), not
the department's agents, whose inbox has no use for it; on a transfer, the previous
department's too. An agent's status goes to the rooms of their departments.
"""
from __future__ import annotations

from sqlalchemy import select

from .. import events
from ..extensions import db, socketio
from ..lib import after_commit
from ..models import DepartmentMember
from .names import managers_room, supervisors_room

EVENT = "dashboard.changed"
_KEY = "atende_dashboard_changed"


def _touch(company_id: int, department_ids) -> None:
    pending = after_commit.gather(_KEY, _send, dict)
    ids = pending.setdefault(supervisors_room(company_id), set())
    for department_id in department_ids:
        ids.add(department_id)
        if department_id is not None:
            pending.setdefault(managers_room(department_id), set()).add(department_id)


def _send(pending: dict[str, set]) -> None:
    # rooms told the same thing share one emit: a socket in several of them hears it once
    by_payload: dict[tuple, list[str]] = {}
    for room, ids in pending.items():
        key = tuple(sorted(ids, key=lambda i: (i is not None, i or 0)))
        by_payload.setdefault(key, []).append(room)
    for ids, rooms in by_payload.items():
        socketio.emit(EVENT, {"department_ids": list(ids)}, to=sorted(rooms))


@events.listen("ticket.created", "ticket.status_changed", "ticket.transferred")
def ticket_moved(_name, ticket, from_department_id=None, **_data) -> None:
    departments = {ticket.department_id}
    if _name == "ticket.transferred":
        departments.add(from_department_id)
    _touch(ticket.company_id, departments)


@events.listen("agent.status")
def agent_moved(_name, user, **_data) -> None:
    if user.company_id is None:
        return
    _touch(user.company_id, db.session.scalars(
        select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id)))
