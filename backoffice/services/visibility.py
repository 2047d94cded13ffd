"""Who may see which ticket (PLT-1, RTM-1): one rule for HTTP routes, sockets and lists.

A user sees a ticket of their own company when they hold inbox.view and one of:
- inbox.supervise (managers see every department);
- the ticket is assigned to them;
- they are a member of the ticket's department;
- the ticket has no department yet (nobody would see it otherwise).
Every inbox query goes through `ticket_filter`, every single-ticket route through
`find_ticket`, and socket pushes go to the rooms of realtime.names.ticket_rooms, which
mirror it.
"""
from __future__ import annotations

from sqlalchemy import false, or_, select

from ..extensions import db
from ..models import DepartmentMember, Message, Ticket, User
from . import as_id


def may_use_inbox(user) -> bool:
    return (getattr(user, "is_authenticated", False) and not user.is_superuser
            and user.company_id is not None and user.can("inbox", "view"))


def supervises(user) -> bool:
    return may_use_inbox(user) and user.can("inbox", "supervise")


def department_ids(user) -> set[int]:
    return set(db.session.scalars(
        select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id)))


def responsible_department_ids(user) -> set[int]:
    """The departments `user` is responsible for (their dashboard, PAU-4)."""
    return set(db.session.scalars(
        select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id,
                                                     DepartmentMember.responsible.is_(True))))


def ticket_filter(user, ticket=Ticket):
    """A WHERE clause for Ticket (or an alias of it, `ticket`) limited to what `user` may
    see."""
    if not may_use_inbox(user):
        return false()
    clause = ticket.company_id == user.company_id
    if supervises(user):
        return clause
    mine = select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id)
    return clause & or_(ticket.agent_id == user.id, ticket.department_id.in_(mine),
                        ticket.department_id.is_(None))


def can_see(user, ticket: Ticket) -> bool:
    if not may_use_inbox(user) or ticket.company_id != user.company_id:
        return False
    if supervises(user) or ticket.agent_id == user.id or ticket.department_id is None:
        return True
    return ticket.department_id in department_ids(user)


def find_ticket(user, ticket_id) -> Ticket | None:
    """The ticket if `user` may see it; None for another company's, another
    department's or a non-existent one alike (no oracle)."""
    ticket_id = as_id(ticket_id)
    if ticket_id is None:
        return None
    return db.session.scalar(select(Ticket).where(Ticket.id == ticket_id, ticket_filter(user)))


def find_message(user, message_id) -> Message | None:
    message_id = as_id(message_id)
    if message_id is None:
        return None
    return db.session.scalar(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id)
        .where(Message.id == message_id, ticket_filter(user)))


def agents_of(company_id: int, department_id: int | None = None) -> list[User]:
    """Active inbox users of the company (of one department when given), by name."""
    q = select(User).where(User.company_id == company_id, User.active.is_(True))
    if department_id is not None:
        q = q.join(DepartmentMember, DepartmentMember.user_id == User.id).where(
            DepartmentMember.department_id == department_id)
    return [u for u in db.session.scalars(q.order_by(User.name)) if u.can("inbox", "view")]
