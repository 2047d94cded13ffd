"""The job of a ticket whose automation timers are due (AUT-1..4, AUT-8); the lease,
claim and firing are backoffice.automation.timers."""
from __future__ import annotations

from datetime import datetime

from ..automation import timers
from ..tenancy import acting_for
from .runner import app_job


@app_job
def fire(ticket_id: int, company_id: int, lease: str) -> bool:
    with acting_for(company_id):
        return timers.fire(ticket_id, datetime.fromisoformat(lease))
