"""Socket.IO room names (RTM-1), and which rooms may see a ticket.

Plain functions of ids, importing nothing of the app, so anything can use them.

Rooms:
- company:<id>          every user of the company (announcements)
- user:<id>             one user (their own tickets, wherever they are)
- dept:<id>             agents of one department (its queue and tickets)
- supervise:<company>   users who see every department (inbox.supervise)
- manage:<id>           the department's responsibles (their dashboard, PAU-4)
- unrouted:<company>    inbox users: tickets that have no department yet
- ticket:<id>           whoever has that conversation open (message details)
The webchat visitors' rooms (namespace /webchat) are the channel's:
channels.webchat.adapter.visitor_room.
"""
from __future__ import annotations


def company_room(company_id: int) -> str:
    return f"company:{company_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def department_room(department_id: int) -> str:
    return f"dept:{department_id}"


def supervisors_room(company_id: int) -> str:
    return f"supervise:{company_id}"


def managers_room(department_id: int) -> str:
    return f"manage:{department_id}"


def unrouted_room(company_id: int) -> str:
    return f"unrouted:{company_id}"


def ticket_room(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def ticket_rooms(company_id: int, department_id: int | None, agent_id: int | None) -> list[str]:
    """The rooms whose members may see a ticket so placed: the mirror of
    services.visibility.ticket_filter (supervisors, its department or the unrouted
    queue, its agent)."""
    rooms = [supervisors_room(company_id)]
    if department_id is None:
        rooms.append(unrouted_room(company_id))
    else:
        rooms.append(department_room(department_id))
    if agent_id is not None:
        rooms.append(user_room(agent_id))
    return rooms
