"""The queues as they are now (PAU-4, PNL-1): read by the managers' dashboard and the TV
panel, never stored.

`snapshot` answers, for some departments of one company, in a fixed handful of queries
whatever the number of tickets: per department the tickets waiting and in progress, the
longest wait, today's arrivals and closes (from the facts, on the company's wall clock),
the agents and their status; the same totals for all of them, today's arrivals by hour
and the alerts (tickets waiting longer than their department's target). It carries no
customer name and no message text, so the TV panel can show it as it is.

`managed_departments` says which departments a user's dashboard covers.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from ..extensions import db
from ..lib import clock
from ..models import Company, Department, DepartmentMember, Ticket, TicketReport
from ..models.tickets import OPEN_STATUSES, WAITING
from ..services import hours, presence, visibility
from ..services.settings import read_settings

ALERTS_SHOWN = 50


def managed_departments(user) -> list[int] | None:
    """The departments whose dashboard `user` sees: all of the company's for a supervisor
    (inbox.supervise), those they are responsible for otherwise; None for a user who
    manages none (their home shows no dashboard)."""
    if not visibility.may_use_inbox(user):
        return None
    ids = db.session.scalars(Department.owned(user.company_id, Department.id))
    if visibility.supervises(user):
        return sorted(ids)
    mine = sorted(db.session.scalars(
        select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id,
                                                     DepartmentMember.responsible.is_(True))))
    return mine or None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() + "Z" if at is not None else None


def snapshot(company_id: int, department_ids: list[int] | None = None, *,
             now: datetime | None = None, unrouted: bool = False) -> dict:
    """The queues of `department_ids` (None: every department of the company) now.
    `unrouted`: also a row for the tickets that have no department yet (for whoever sees
    every department)."""
    now = now or clock.now()
    company = db.session.get(Company, company_id)
    today = hours.local_time(now, company.timezone if company else None).date()
    q = Department.owned(company_id).where(Department.active.is_(True))
    if department_ids is not None:
        q = q.where(Department.id.in_(department_ids or [-1]))
    departments = list(db.session.scalars(q.order_by(Department.order, Department.name)))
    scope = [d.id for d in departments]
    default_limit = read_settings(company_id).sla_minutes

    def in_scope(column):
        clause = column.in_(scope or [-1])
        return clause | column.is_(None) if unrouted else clause

    rows: dict[int | None, dict] = {}
    for d in departments:
        rows[d.id] = {"id": d.id, "name": d.name, "waiting": 0, "in_progress": 0,
                      "received_today": 0, "closed_today": 0, "longest_wait_s": None,
                      "alert_minutes": d.wait_alert_minutes or default_limit, "agents": []}
    if unrouted:
        rows[None] = {"id": None, "name": None, "waiting": 0, "in_progress": 0,
                      "received_today": 0, "closed_today": 0, "longest_wait_s": None,
                      "alert_minutes": default_limit, "agents": []}

    for department_id, status, count, oldest in db.session.execute(
            select(Ticket.department_id, Ticket.status, func.count(), func.min(Ticket.queued_at))
            .where(Ticket.company_id == company_id, Ticket.status.in_(OPEN_STATUSES),
                   in_scope(Ticket.department_id))
            .group_by(Ticket.department_id, Ticket.status)):
        row = rows.get(department_id)
        if row is None:
            continue
        if status == WAITING:
            row["waiting"] += count
            if oldest is not None:
                row["longest_wait_s"] = max(0, int((now - oldest).total_seconds()))
        else:
            row["in_progress"] += count

    by_hour = [0] * 24
    for department_id, hour, count in db.session.execute(
            select(TicketReport.department_id, TicketReport.hour, func.count())
            .where(TicketReport.company_id == company_id, TicketReport.day == today,
                   in_scope(TicketReport.department_id))
            .group_by(TicketReport.department_id, TicketReport.hour)):
        if department_id in rows:
            rows[department_id]["received_today"] += count
            by_hour[hour] += count
    for department_id, count in db.session.execute(
            select(TicketReport.department_id, func.count())
            .where(TicketReport.company_id == company_id, TicketReport.closed_day == today,
                   in_scope(TicketReport.department_id))
            .group_by(TicketReport.department_id)):
        if department_id in rows:
            rows[department_id]["closed_today"] += count

    alerts = []
    # each department's own limit in the query: a department with a long limit and many
    # old tickets cannot crowd out another's alerts
    overdue = [(Ticket.department_id.is_(None) if department_id is None
                else Ticket.department_id == department_id)
               & (Ticket.queued_at < now - timedelta(minutes=row["alert_minutes"]))
               for department_id, row in rows.items()]
    if overdue:
        for ticket_id, protocol, department_id, queued_at in db.session.execute(
                select(Ticket.id, Ticket.protocol, Ticket.department_id, Ticket.queued_at)
                .where(Ticket.company_id == company_id, Ticket.status == WAITING,
                       Ticket.queued_at.is_not(None), or_(*overdue))
                .order_by(Ticket.queued_at, Ticket.id).limit(ALERTS_SHOWN)):
            row = rows[department_id]
            alerts.append({"ticket_id": ticket_id, "protocol": protocol,
                           "department_id": department_id, "department": row["name"],
                           "waiting_s": int((now - queued_at).total_seconds()),
                           "limit_minutes": row["alert_minutes"]})

    team = {a["user_id"]: a for a in presence.team_status(company_id)}
    members = db.session.execute(
        select(DepartmentMember.department_id, DepartmentMember.user_id)
        .where(DepartmentMember.company_id == company_id,
               DepartmentMember.department_id.in_(scope or [-1]))).all()
    seen: set[int] = set()
    for department_id, user_id in members:
        agent = team.get(user_id)
        if agent is None:
            continue
        seen.add(user_id)
        rows[department_id]["agents"].append(
            {k: agent[k] for k in ("user_id", "name", "status", "label", "pause", "since")})
    for row in rows.values():
        row["agents"].sort(key=lambda a: ((a["name"] or "").casefold(), a["user_id"]))
    agents = {status: 0 for status in (presence.ONLINE, presence.PAUSED, presence.AWAY,
                                       presence.OFFLINE)}
    everyone = team if department_ids is None else {u: team[u] for u in seen}
    for agent in everyone.values():
        agents[agent["status"]] += 1

    listed = list(rows.values())
    waits = [r["longest_wait_s"] for r in listed if r["longest_wait_s"] is not None]
    totals = {key: sum(r[key] for r in listed)
              for key in ("waiting", "in_progress", "received_today", "closed_today")}
    totals["longest_wait_s"] = max(waits) if waits else None
    return {"generated_at": _iso(now), "today": today.isoformat(), "departments": listed,
            "totals": totals, "agents": agents, "by_hour": by_hour, "alerts": alerts}
