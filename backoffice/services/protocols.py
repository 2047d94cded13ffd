"""Protocol numbers (CO-2): date + daily counter per company, taken under a row lock.

Stored on the ticket at creation (never computed at render time). The UPDATE ...
RETURNING takes the row lock on PostgreSQL (and SQLite serialises writers), so two
concurrent tickets of one company never get the same number.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import case, update

from ..extensions import db
from ..lib import clock
from ..models import Company, ProtocolSequence
from .hours import local_time


def format_protocol(day: date, counter: int) -> str:
    return f"{day:%Y%m%d}{counter:06d}"


def company_today(company: Company, now: datetime | None = None) -> date:
    """The date on the company's wall clock (a naive `now` is UTC, as the app stores it)."""
    return local_time(now or clock.aware_now(), company.timezone).date()


def ensure_sequence(company: Company) -> ProtocolSequence:
    if company.protocol is None:
        company.protocol = ProtocolSequence(day=None, counter=0)
    return company.protocol


def next_protocol(company: Company, now: datetime | None = None) -> str:
    """Take the next number; the caller's transaction holds the lock until it commits."""
    today = company_today(company, now)
    stmt = (
        update(ProtocolSequence)
        .where(ProtocolSequence.company_id == company.id)
        .values(
            counter=case(
                (ProtocolSequence.day == today, ProtocolSequence.counter + 1), else_=1
            ),
            day=today,
        )
        .returning(ProtocolSequence.counter)
        .execution_options(synchronize_session=False)
    )
    counter = db.session.execute(stmt).scalar_one_or_none()
    if counter is None:  # company created before sequences existed
        ensure_sequence(company)
        db.session.flush()
        counter = db.session.execute(stmt).scalar_one()
    return format_protocol(today, counter)


def last_protocol(company: Company) -> str | None:
    seq = company.protocol
    if seq is None or seq.day is None or not seq.counter:
        return None
    return format_protocol(seq.day, seq.counter)
