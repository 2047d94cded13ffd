"""The aggregates of the Relatórios screen (REP-1), read from the per-ticket facts.

Every query reads `ticket_report` (one narrow row per ticket) through its index
(company_id, day) or (company_id, closed_day), plus the small label tables (departments,
users, connections, reasons, tags) and `ticket_tag` for the tag filter; never the
messages. The company is always part of the WHERE, so another company's rows are never
counted.

How we count (stated on the page too): a ticket counts under its arrival day (`day`) and
where it is now or ended (department, agent), once however often it was transferred or
reopened, a reopened one with the time to its final close; "Fechados" counts tickets by
their close day (`closed_day`).

Medians and the 90th percentile are `percentile_cont` on PostgreSQL, several in one
SELECT; SQLite has no such aggregate, so there the values are fetched and the same
interpolation is done in Python (the two backends give the same numbers).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable

from flask_babel import gettext as _
from sqlalchemy import and_, case, exists, func, or_, select, text
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..lib import clock
from ..models import (
    Company, Connection, Department, DepartmentMember, PauseSession, Reason,
    ServiceClassification, Tag, Ticket, TicketReport, User,
)
from ..models.automation import SURVEY_CSAT, SURVEY_NPS
from ..models.channels import CONNECTION_KINDS
from ..models.tickets import CLOSED, TICKET_STATUSES, ticket_tag
from ..services import hours
from ..services.settings import read_settings
from .filters import ReportFilter

GRAINS = ("day", "week", "month")
DIMENSIONS = ("department", "agent", "connection", "channel", "reason", "classification", "tag")
TIMES = ("first_response", "resolution", "wait")
SLA_SIDES = ("within", "outside")
PER_PAGE = 50
_ABSENT = object()


# --- building blocks ----------------------------------------------------------------

def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _in_range(f: ReportFilter, column):
    return and_(column >= f.start, column <= f.end)


def _where(f: ReportFilter, query, on: str = "day"):
    """`query` narrowed to the filter: days on `on`, the arrival `day`, the
    `closed_day`, or "either" (rows that arrived or closed in the range)."""
    if on == "either":
        days = or_(_in_range(f, TicketReport.day), _in_range(f, TicketReport.closed_day))
    else:
        days = _in_range(f, TicketReport.day if on == "day" else TicketReport.closed_day)
    query = query.where(TicketReport.company_id == f.company_id, days)
    if f.department_ids:
        query = query.where(TicketReport.department_id.in_(f.department_ids))
    if f.agent_ids:
        query = query.where(TicketReport.agent_id.in_(f.agent_ids))
    if f.connection_ids:
        query = query.where(TicketReport.connection_id.in_(f.connection_ids))
    if f.tag_ids:
        query = query.where(exists().where(ticket_tag.c.ticket_id == TicketReport.ticket_id,
                                           ticket_tag.c.tag_id.in_(f.tag_ids)))
    return query


def _time(f: ReportFilter, name: str):
    """The column of one time: business hours or calendar. `wait`, `first_response`,
    `resolution`."""
    return getattr(TicketReport, f"{name}_bh" if f.business_hours else f"{name}_s")


def percentile(ordered: list, fraction: float) -> float | None:
    """`percentile_cont` of PostgreSQL: linear interpolation between the closest ranks
    of the sorted values."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _round(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _stats(values: Iterable[int | None]) -> dict:
    ordered = sorted(v for v in values if v is not None)
    return {"median": _round(percentile(ordered, 0.5)), "p90": _round(percentile(ordered, 0.9)),
            "avg": _round(sum(ordered) / len(ordered)) if ordered else None,
            "count": len(ordered)}


# A year is about a million values per sorted column: at PostgreSQL's default work_mem
# (4 MB) each percentile sort spills to disk. This transaction's sorts may use more
# (bench/reports.py, the year: times 621 -> 570 ms, by department 740 -> 649 ms). Not the
# tag breakdown: with the memory, its join hashes the whole year in one batch and gets
# slower (994 -> 1,257 ms).
REPORT_WORK_MEM = "64MB"


def _sort_in_memory() -> None:
    if _postgres():
        db.session.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))


def _pg_stats(column) -> list:
    """Median and p90 from one sort of the column (the array form of percentile_cont:
    two separate calls sort the values twice), the average and the count."""
    return [func.percentile_cont(postgresql.array([0.5, 0.9])).within_group(column.asc()),
            func.avg(column), func.count(column)]


def _tag_link(company_id: int):
    """The join of a fact to its tags, the company's tags only: a user's own tags
    ("Minhas etiquetas", TAG-1) are seen by that user alone, so no report counts them."""
    # the ids themselves (a company has tens of tags), not a subquery: PostgreSQL then
    # checks each link against a hashed list instead of a subplan (year by tag 1.3 -> 1.0 s)
    shared = list(db.session.scalars(select(Tag.id).where(
        Tag.company_id == company_id, Tag.owner_id.is_(None))))
    return and_(ticket_tag.c.ticket_id == TicketReport.ticket_id,
                ticket_tag.c.tag_id.in_(shared))


# --- labels ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Dimension:
    key: Any            # the column grouped on
    none_label: str


def _dimension(name: str) -> _Dimension:
    if name == "department":
        return _Dimension(TicketReport.department_id, _("Sem departamento"))
    if name == "agent":
        return _Dimension(TicketReport.agent_id, _("Sem atendente"))
    if name == "connection":
        return _Dimension(TicketReport.connection_id, _("Sem conexão"))
    if name == "channel":
        return _Dimension(TicketReport.channel, _("Sem canal"))
    if name == "reason":
        return _Dimension(TicketReport.reason_id, _("Sem motivo"))
    if name == "classification":  # POR-1: the portal protocols' classification
        return _Dimension(TicketReport.classification_id, _("Sem classificação"))
    if name == "tag":
        return _Dimension(ticket_tag.c.tag_id, _("Sem etiqueta"))
    raise ValueError(f"unknown dimension {name!r}")


def none_label(dimension: str) -> str:
    """The row name of the tickets without a `dimension` ("Sem departamento"...)."""
    return _dimension(dimension).none_label


def labels(company_id: int, dimension: str) -> dict:
    """id (or channel kind) -> name, for one dimension of one company."""
    if dimension == "channel":
        return {kind: str(label) for kind, label in CONNECTION_KINDS.items()}
    if dimension == "agent":
        return dict(db.session.execute(
            select(User.id, User.name).where(User.company_id == company_id)).all())
    model = {"department": Department, "connection": Connection, "reason": Reason,
             "classification": ServiceClassification, "tag": Tag}[dimension]
    q = model.owned(company_id, model.id, model.name)
    if model is Tag:
        q = q.where(Tag.owner_id.is_(None))  # see _tag_link
    return dict(db.session.execute(q).all())


def _label(names: dict, key, none_label: str) -> str:
    if key is None:
        return none_label
    return names.get(key) or f"#{key}"


def _grouped(f: ReportFilter, dimension: _Dimension, *columns, on: str = "day"):
    query = select(dimension.key, *columns).select_from(TicketReport)
    if dimension.key is ticket_tag.c.tag_id:
        query = query.outerjoin(ticket_tag, _tag_link(f.company_id))
    return _where(f, query, on).group_by(dimension.key)


# --- periods --------------------------------------------------------------------------

def period_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def period_end(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=6)
    if grain == "month":
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)
    return start


def periods(f: ReportFilter, grain: str) -> list[date]:
    """The first day of every period (Monday of a week, 1st of a month) that touches
    the range."""
    found, current = [], period_start(f.start, grain)
    while current <= f.end:
        found.append(current)
        current = period_end(current, grain) + timedelta(days=1)
    return found


# --- the aggregates -----------------------------------------------------------------

def volume(f: ReportFilter, grain: str = "day") -> list[dict]:
    """Per period (every one of the range, zeros too): tickets created (arrival day),
    closed (close day), and of those created, how many were reopened or transferred."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    rows = {p: {"period": p, "created": 0, "closed": 0, "reopened": 0, "transferred": 0}
            for p in periods(f, grain)}
    arrivals = _where(f, select(
        TicketReport.day, func.count(),
        func.sum(case((TicketReport.reopens > 0, 1), else_=0)),
        func.sum(case((TicketReport.transfers > 0, 1), else_=0)),
    )).group_by(TicketReport.day)
    for day, created, reopened, transferred in db.session.execute(arrivals):
        row = rows[period_start(_as_date(day), grain)]
        row["created"] += created
        row["reopened"] += int(reopened or 0)
        row["transferred"] += int(transferred or 0)
    closes = _where(f, select(TicketReport.closed_day, func.count()),
                    on="closed_day").group_by(TicketReport.closed_day)
    for day, closed in db.session.execute(closes):
        rows[period_start(_as_date(day), grain)]["closed"] += closed
    return list(rows.values())


def totals(f: ReportFilter) -> dict:
    """Tickets created (by arrival) and closed (by close day) in the whole range."""
    created = db.session.scalar(_where(f, select(func.count()).select_from(TicketReport)))
    closed = db.session.scalar(_where(f, select(func.count()).select_from(TicketReport),
                                      on="closed_day"))
    return {"created": created or 0, "closed": closed or 0}


def breakdown(f: ReportFilter, dimension: str) -> list[dict]:
    """Per department, agent, connection, channel, reason, classification or tag: tickets arrived,
    tickets closed in the range, median first response and resolution (seconds). A
    ticket with two tags counts under each; None is the row of tickets without one."""
    dim = _dimension(dimension)
    first, resolution = _time(f, "first_response"), _time(f, "resolution")
    found: dict[Any, dict] = {}
    if dimension != "tag":
        _sort_in_memory()

    def row(key) -> dict:
        if key not in found:
            found[key] = {"key": key, "tickets": 0, "closed": 0,
                          "first_response_median": None, "resolution_median": None}
        return found[key]

    if _postgres():
        # one scan for the arrivals and the closes: the rows that arrived or closed in
        # the range, each aggregate keeping its own
        arrived = _in_range(f, TicketReport.day)
        query = _grouped(f, dim, func.count().filter(arrived),
                         func.count().filter(_in_range(f, TicketReport.closed_day)),
                         func.percentile_cont(0.5).within_group(first.asc()).filter(arrived),
                         func.percentile_cont(0.5).within_group(resolution.asc()).filter(arrived),
                         on="either")
        for key, count, closed, first_median, resolution_median in db.session.execute(query):
            row(key).update(tickets=count, closed=closed,
                            first_response_median=_round(first_median),
                            resolution_median=_round(resolution_median))
    else:
        values: dict[Any, tuple[list, list]] = defaultdict(lambda: ([], []))
        query = select(dim.key, first, resolution).select_from(TicketReport)
        if dim.key is ticket_tag.c.tag_id:
            query = query.outerjoin(ticket_tag, _tag_link(f.company_id))
        for key, first_s, resolution_s in db.session.execute(_where(f, query)):
            entry = row(key)
            entry["tickets"] += 1
            firsts, resolutions = values[key]
            if first_s is not None:
                firsts.append(first_s)
            if resolution_s is not None:
                resolutions.append(resolution_s)
        for key, (firsts, resolutions) in values.items():
            found[key]["first_response_median"] = _round(percentile(sorted(firsts), 0.5))
            found[key]["resolution_median"] = _round(percentile(sorted(resolutions), 0.5))
        for key, closed in db.session.execute(_grouped(f, dim, func.count(), on="closed_day")):
            row(key)["closed"] = closed
    names = labels(f.company_id, dimension)
    result = []
    for key, entry in found.items():
        entry["label"] = _label(names, key, dim.none_label)
        result.append(entry)
    result.sort(key=lambda r: (-r["tickets"], -r["closed"], r["key"] is None, r["label"]))
    return result


def times(f: ReportFilter) -> dict:
    """Median, 90th percentile, average and count (seconds) of the first response,
    resolution and wait of the tickets arrived in the range."""
    columns = [_time(f, name) for name in TIMES]
    if _postgres():
        _sort_in_memory()
        query = _where(f, select(*[c for column in columns for c in _pg_stats(column)])
                       .select_from(TicketReport))
        values = list(db.session.execute(query).one())
        result = {}
        for i, name in enumerate(TIMES):
            percentiles, avg, count = values[i * 3:i * 3 + 3]
            median, p90 = percentiles or (None, None)
            result[name] = {"median": _round(median), "p90": _round(p90),
                            "avg": _round(avg), "count": count or 0}
        return result
    rows = db.session.execute(_where(f, select(*columns))).all()
    return {name: _stats(row[i] for row in rows) for i, name in enumerate(TIMES)}


def sla(f: ReportFilter) -> dict:
    """The share of answered tickets (arrived in the range) whose first response came
    within the company's target (CompanySettings.sla_minutes)."""
    target = read_settings(f.company_id).sla_minutes
    first = _time(f, "first_response")
    answered, within = db.session.execute(_where(f, select(
        func.count(first), func.sum(case((first <= target * 60, 1), else_=0)),
    ).select_from(TicketReport))).one()
    answered, within = answered or 0, int(within or 0)
    return {"target_minutes": target, "answered": answered, "within": within,
            "share": (within / answered) if answered else None}


def satisfaction(f: ReportFilter, dimension: str) -> list[dict]:
    """Per agent or department, the survey answers of the tickets arrived in the range:
    the average score and CSAT (share of 4 and 5) on the 1-5 scale, the NPS (promoters
    9-10 minus detractors 0-6, -100..100) on the 0-10 scale."""
    if dimension not in ("agent", "department"):
        raise ValueError(f"unknown dimension {dimension!r}")
    dim = _dimension(dimension)
    query = _grouped(f, dim, TicketReport.survey_scale, TicketReport.survey_score,
                     func.count()).where(TicketReport.survey_score.is_not(None)).group_by(
        TicketReport.survey_scale, TicketReport.survey_score)
    scores: dict[Any, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for key, scale, score, count in db.session.execute(query):
        scores[key][scale or SURVEY_CSAT].append((score, count))
    names = labels(f.company_id, dimension)
    result = []
    for key, scales in scores.items():
        csat = scales.get(SURVEY_CSAT, [])
        nps = scales.get(SURVEY_NPS, [])
        csat_n = sum(n for _s, n in csat)
        nps_n = sum(n for _s, n in nps)
        result.append({
            "key": key, "label": _label(names, key, dim.none_label),
            "answers": csat_n + nps_n,
            "csat_answers": csat_n, "nps_answers": nps_n,
            "average": round(sum(s * n for s, n in csat) / csat_n, 2) if csat_n else None,
            "csat": sum(n for s, n in csat if s >= 4) / csat_n if csat_n else None,
            "nps": round(100 * (sum(n for s, n in nps if s >= 9)
                                - sum(n for s, n in nps if s <= 6)) / nps_n, 1)
            if nps_n else None,
        })
    result.sort(key=lambda r: (-r["answers"], r["key"] is None, r["label"]))
    return result


def utc_bounds(f: ReportFilter, zone: str | None = None) -> tuple[datetime, datetime]:
    """The range as naive UTC instants: local midnight of `start` to that after `end`."""
    if zone is None:
        company = db.session.get(Company, f.company_id)
        zone = company.timezone if company else None
    tz = hours.local_time(clock.aware_now(), zone).tzinfo

    def instant(day: date) -> datetime:
        return datetime.combine(day, time(), tz).astimezone(timezone.utc).replace(tzinfo=None)

    return instant(f.start), instant(f.end + timedelta(days=1))


def pauses(f: ReportFilter) -> list[dict]:
    """Per agent: the pauses overlapping the range and their seconds inside it (a pause
    still running counts up to now). The department filter keeps the members of those
    departments; the connection and tag filters do not apply to pauses."""
    low, high = utc_bounds(f)
    now = clock.now()
    query = select(PauseSession.user_id, PauseSession.started_at, PauseSession.ended_at).where(
        PauseSession.company_id == f.company_id, PauseSession.started_at < high,
        or_(PauseSession.ended_at.is_(None), PauseSession.ended_at > low))
    if f.agent_ids:
        query = query.where(PauseSession.user_id.in_(f.agent_ids))
    if f.department_ids:
        query = query.where(PauseSession.user_id.in_(
            select(DepartmentMember.user_id).where(
                DepartmentMember.department_id.in_(f.department_ids))))
    found: dict[int, dict] = {}
    for user_id, started, ended in db.session.execute(query):
        span = (min(ended or now, high, now) - max(started, low)).total_seconds()
        entry = found.setdefault(user_id, {"key": user_id, "count": 0, "seconds": 0})
        entry["count"] += 1
        entry["seconds"] += max(0, int(span))
    names = labels(f.company_id, "agent")
    for entry in found.values():
        entry["label"] = _label(names, entry["key"], _("Sem atendente"))
    return sorted(found.values(), key=lambda r: (-r["seconds"], r["label"]))


# --- the drill-down -------------------------------------------------------------------

def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


def _match(column, value):
    return column.is_(None) if value is None else column == value


def drill_query(f: ReportFilter, query=None, *, day: date | None = None,
                closed: date | bool | None = None, grain: str = "day", department=_ABSENT,
                agent=_ABSENT, connection=_ABSENT, channel=_ABSENT, reason=_ABSENT,
                classification=_ABSENT, tag=_ABSENT, rated: bool = False,
                sla: str | None = None):
    """`query` (by default select(TicketReport)) narrowed to the tickets behind one
    number: `day` the arrival period (of `grain`), or `closed` the close period (True:
    closed anywhere in the range, by close day), any of the dimension keys (None: tickets
    without one), `rated` (only those with a survey answer: the satisfaction tables'
    numbers) and `sla` ("within" or "outside": answered within the company's
    first-response target or not, as `sla` counts them)."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    on = "closed_day" if closed is not None and closed is not False else "day"
    query = _where(f, select(TicketReport) if query is None else query, on)
    chosen = closed if on == "closed_day" else day
    if isinstance(chosen, date):
        start = period_start(chosen, grain)
        column = TicketReport.closed_day if on == "closed_day" else TicketReport.day
        query = query.where(column >= start, column <= period_end(start, grain))
    for name, value in (("department", department), ("agent", agent),
                        ("connection", connection), ("channel", channel),
                        ("reason", reason), ("classification", classification)):
        if value is not _ABSENT:
            query = query.where(_match(_dimension(name).key, value))
    if rated:
        query = query.where(TicketReport.survey_score.is_not(None))
    if sla is not None:
        if sla not in SLA_SIDES:
            raise ValueError(f"unknown sla side {sla!r}")
        first, limit = _time(f, "first_response"), read_settings(f.company_id).sla_minutes * 60
        query = query.where(first <= limit if sla == "within" else first > limit)
    if tag is not _ABSENT:
        tagged = exists().where(_tag_link(f.company_id))
        query = query.where(~tagged if tag is None
                            else exists().where(ticket_tag.c.ticket_id == TicketReport.ticket_id,
                                                ticket_tag.c.tag_id == tag))
    return query


def tickets(f: ReportFilter, *, page: int = 1, per_page: int | None = PER_PAGE,
            **drill) -> tuple[list[dict], int]:
    """One page of the tickets behind a number (newest first) and how many there are in
    all; `per_page=None`: all of them (the download). Drill keys: see `drill_query`."""
    total = db.session.scalar(drill_query(f, select(func.count()).select_from(TicketReport),
                                          **drill))
    query = drill_query(f, select(TicketReport, Ticket.protocol).join(
        Ticket, Ticket.id == TicketReport.ticket_id), **drill)
    ordered = query.order_by(TicketReport.created_at.desc(), TicketReport.ticket_id.desc())
    if per_page is not None:
        ordered = ordered.limit(per_page).offset(max(0, page - 1) * per_page)
    company = db.session.get(Company, f.company_id)
    zone = company.timezone if company else None
    departments = labels(f.company_id, "department")
    agents = labels(f.company_id, "agent")
    first_column = "first_response_bh" if f.business_hours else "first_response_s"
    rows = []
    for fact, protocol in db.session.execute(ordered):
        rows.append({
            "ticket_id": fact.ticket_id, "protocol": protocol,
            "arrived": hours.local_time(fact.created_at, zone).replace(tzinfo=None),
            "department_id": fact.department_id,
            "department": _label(departments, fact.department_id, _("Sem departamento")),
            "agent_id": fact.agent_id,
            "agent": _label(agents, fact.agent_id, _("Sem atendente")),
            "status": fact.status,
            "status_label": str(TICKET_STATUSES.get(fact.status, fact.status)),
            "first_response": getattr(fact, first_column),
            "closed": fact.status == CLOSED,
        })
    return rows, total or 0
