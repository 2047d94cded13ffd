"""Delivery job of queued sending (CHN-3); the claim, send and backoff are
services.sending.deliver."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Message
from ..services import sending
from ..tenancy import acting_for
from .runner import app_job


@app_job
def deliver(message_id: int) -> str:
    company_id = db.session.scalar(select(Message.company_id).where(Message.id == message_id))
    if company_id is None:
        return "skipped"  # gone
    with acting_for(company_id):
        return sending.deliver(message_id)
