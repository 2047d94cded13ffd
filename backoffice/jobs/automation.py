"""The automation timers' jobs (AUT-1..4, AUT-8): a ticket whose timers are due (the
lease, claim and firing are backoffice.automation.timers), and the open tickets taking a
changed setting (a department's minutes or hours, an idle rule)."""
from __future__ import annotations

from datetime import datetime

from ..automation import timers
from ..extensions import db
from ..tenancy import acting_for
from .runner import app_job


@app_job
def fire(ticket_id: int, company_id: int, lease: str) -> bool:
    with acting_for(company_id):
        return timers.fire(ticket_id, datetime.fromisoformat(lease))


@app_job
def reschedule(company_id: int, department_id: int | None = None) -> int:
    with acting_for(company_id):
        count = timers.reschedule_open(company_id, department_id)
        db.session.commit()
        return count
