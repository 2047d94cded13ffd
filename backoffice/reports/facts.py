"""The per-ticket facts of the reports (REP-1), written as the ticket's life happens.

A listener on the ticket events recomputes the ticket's `TicketReport` row inside the
emitting transaction (so a rollback leaves no fact behind): on arrival, acceptance,
transfer, close, reopen, the first agent message and the survey's answer. An incoming
message costs nothing here; only the first agent message of a ticket does (its
first-response time). Business-hours times use the department's period and the
company's holidays (services.hours.business_seconds); they are computed only when the
span they measure has ended, a handful of times per ticket.

`rebuild` computes the facts of tickets that have none (an upgrade from a version
without reports, a demo database) or of every ticket of a company.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from .. import events
from ..extensions import db
from ..models import (
    Company, Department, Message, SurveyAnswer, Ticket, TicketEvent, TicketReport,
)
from ..models.automation import SURVEY_ANSWERED
from ..models.tickets import AUTHOR_AGENT, CLOSED, OUT
from ..services import hours


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


class _Calendar:
    """The company's zone and holidays, read once per recomputation (or once per batch
    of a rebuild); the holidays only if a department's period needs them."""

    def __init__(self, company: Company):
        self.zone = company.timezone or hours.DEFAULT_TIMEZONE
        self._company_id = company.id
        self._holidays = None

    @property
    def holidays(self) -> list:
        if self._holidays is None:
            self._holidays = hours.company_holidays(self._company_id)
        return self._holidays

    def business(self, department: Department | None, start, end) -> int | None:
        if start is None or end is None:
            return None
        period = department.period if department is not None else None
        if period is None:
            return _seconds(start, end)
        return hours.business_seconds(period, start, end, self.zone, self.holidays)


def _calendar(company_id: int) -> _Calendar:
    return _Calendar(db.session.get(Company, company_id))


def _counts(ticket_id: int) -> dict[str, int]:
    return dict(db.session.execute(
        select(TicketEvent.kind, func.count()).where(
            TicketEvent.ticket_id == ticket_id,
            TicketEvent.kind.in_(("transferred", "reopened")))
        .group_by(TicketEvent.kind)).all())


def _survey(ticket_id: int) -> tuple[str | None, int | None]:
    row = db.session.execute(
        select(SurveyAnswer.scale, SurveyAnswer.score).where(
            SurveyAnswer.ticket_id == ticket_id, SurveyAnswer.status == SURVEY_ANSWERED,
            SurveyAnswer.score.is_not(None))).first()
    return (row[0], row[1]) if row else (None, None)


def _handed_at(ticket_id: int) -> datetime | None:
    """When a ticket nobody accepted was first handed to an agent by a transfer (an
    agent or a supervisor chose who takes it): its wait ends there. Read only for such
    tickets; `route` and `accept` keep Ticket.accepted_at themselves."""
    for at, data in db.session.execute(
            select(TicketEvent.created_at, TicketEvent.data).where(
                TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "transferred")
            .order_by(TicketEvent.id)):
        if (data or {}).get("to_agent_id"):
            return at
    return None


def _in_session(ticket: Ticket) -> TicketReport | None:
    """The row an earlier call made for this ticket in this session, without SQL: a
    listener that ran before this one on `ticket.created` (an automation moving the new
    ticket) may have recorded it already. Held on the ticket itself: the session keeps a
    flushed row only weakly."""
    row = getattr(ticket, "_atende_report_row", None)
    return row if row is not None and row in db.session else None


def record(ticket: Ticket, *, new: bool = False, counts: bool = False, survey: bool = False,
           calendar: _Calendar | None = None) -> TicketReport:
    """The ticket's facts, recomputed from the ticket as it is now. `new`: the ticket was
    just opened (nothing to count yet, no row to look for). The transfers and reopens are
    counted again with `counts` (and on a reopen, seen here), the survey read again with
    `survey`, and both for a row made now: the listeners ask only for what their event
    changed, so a lifecycle step costs a statement or two (bench/reports.py measures it)."""
    calendar = calendar or _calendar(ticket.company_id)
    if not new:
        db.session.flush()  # this step's history (TicketEvent) is what gets counted below
    with db.session.no_autoflush:  # then one UPDATE of the row, not one per query between
        row = _in_session(ticket) if new else db.session.get(TicketReport, ticket.id)
        fresh = row is None
        if fresh:
            row = TicketReport(ticket_id=ticket.id, company_id=ticket.company_id,
                               transfers=0, reopens=0)
        reopened = not fresh and row.status == CLOSED and ticket.status != CLOSED
        arrived = hours.local_time(ticket.created_at, calendar.zone)
        row.created_at = ticket.created_at
        row.day, row.hour = arrived.date(), arrived.hour
        row.department_id = ticket.department_id
        row.agent_id = ticket.agent_id
        if fresh or row.connection_id != ticket.connection_id:
            row.connection_id = ticket.connection_id
            row.channel = ticket.connection.kind if ticket.connection is not None else None
        row.reason_id = ticket.reason_id
        row.classification_id = ticket.classification_id
        row.status = ticket.status
        closed = ticket.closed_at if ticket.status == CLOSED else None
        row.closed_at = closed
        row.closed_day = hours.local_time(closed, calendar.zone).date() if closed else None
        department = ticket.department
        accepted = ticket.accepted_at
        if accepted is None and ticket.agent_id is not None and not new:
            accepted = _handed_at(ticket.id)
        row.wait_s = _seconds(ticket.created_at, accepted)
        row.wait_bh = calendar.business(department, ticket.created_at, accepted)
        row.first_response_s = _seconds(ticket.created_at, ticket.first_response_at)
        row.first_response_bh = calendar.business(department, ticket.created_at,
                                                  ticket.first_response_at)
        row.resolution_s = _seconds(ticket.created_at, closed)
        row.resolution_bh = calendar.business(department, ticket.created_at, closed)
        row.handle_s = _seconds(accepted, closed)
        if not new and (fresh or counts or reopened):
            found = _counts(ticket.id)
            row.transfers = found.get("transferred", 0)
            row.reopens = found.get("reopened", 0)
        if not new and (fresh or survey):
            row.survey_scale, row.survey_score = _survey(ticket.id)
    if fresh:
        # added once complete: a half-filled new row would break its NOT NULL columns
        db.session.add(row)
        ticket._atende_report_row = row
    return row


@events.listen("ticket.created")
def _created(_name, ticket, **_data) -> None:
    record(ticket, new=True)


@events.listen("ticket.status_changed", "ticket.transferred")
def _changed(_name, ticket, **_data) -> None:
    record(ticket, counts=_name == "ticket.transferred")


@events.listen("survey.answered")
def _answered(_name, survey, ticket, **_data) -> None:
    record(ticket, survey=True)


@events.listen("message.created")
def _first_response(_name, message: Message, ticket, **_data) -> None:
    """Only the first agent message of a ticket changes a fact: services.sending sets
    first_response_at to that message's own instant."""
    if (message.direction == OUT and message.author_kind == AUTHOR_AGENT
            and ticket.first_response_at is not None
            and ticket.first_response_at == message.created_at):
        record(ticket)


def rebuild(company_id: int | None = None, *, everything: bool = False,
            batch: int = 500, commit: bool = True) -> int:
    """Compute the facts of the tickets that have none (all of them with `everything`),
    for one company or all; commits per batch (only flushes without `commit`: inside
    the caller's transaction). Returns how many were written."""
    done = 0
    companies = ([company_id] if company_id is not None
                 else list(db.session.scalars(select(Company.id).order_by(Company.id))))
    for cid in companies:
        last_id = 0
        while True:
            q = select(Ticket).where(Ticket.company_id == cid, Ticket.id > last_id)
            if not everything:
                q = q.where(~select(TicketReport.ticket_id).where(
                    TicketReport.ticket_id == Ticket.id).exists())
            tickets = list(db.session.scalars(q.order_by(Ticket.id).limit(batch)))
            if not tickets:
                break
            calendar = _calendar(cid)
            for ticket in tickets:
                record(ticket, counts=True, survey=True, calendar=calendar)
            done += len(tickets)
            last_id = tickets[-1].id
            if commit:
                db.session.commit()
            else:
                db.session.flush()
    return done
