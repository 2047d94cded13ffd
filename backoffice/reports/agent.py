"""The agent's own numbers of the day on their home (issue 16, PAU-4's agent home).

Read from the per-ticket facts (models.TicketReport), on the company's wall clock: the
tickets the agent holds that arrived today, those they closed today, and the average
time to their first answer on today's tickets. One query, whatever the history; no
message is read.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select

from ..extensions import db
from ..lib import clock
from ..models import Company, TicketReport
from ..services import hours


def duration_text(seconds: int | float | None) -> str | None:
    """"45 s", "12 min", "1 h 05 min": the dashboard's JavaScript writes the same."""
    if seconds is None:
        return None
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def today(user, now: datetime | None = None) -> dict:
    """{"day", "tickets", "closed", "first_response_s", "first_response_text"} for
    `user` today: `tickets` arrived today and are theirs, `closed` are theirs and were
    closed today (whenever they arrived), `first_response_s` the average over today's
    tickets that have had an answer (None when none has)."""
    now = now or clock.now()
    company = db.session.get(Company, user.company_id)
    day = hours.local_time(now, company.timezone if company else None).date()
    arrived = TicketReport.day == day
    tickets, closed, first_response = db.session.execute(
        select(func.count(case((arrived, 1))),
               func.count(case((TicketReport.closed_day == day, 1))),
               func.avg(case((arrived, TicketReport.first_response_s))))
        .where(TicketReport.company_id == user.company_id, TicketReport.agent_id == user.id,
               arrived | (TicketReport.closed_day == day))).one()
    average = round(float(first_response)) if first_response is not None else None
    return {"day": day.isoformat(), "tickets": tickets, "closed": closed,
            "first_response_s": average, "first_response_text": duration_text(average)}
