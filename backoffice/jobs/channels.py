"""Processing job of the provider webhooks' items (CHN-2); the claim, the adapter call and
the backoff are services.channel_events.process."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import ChannelEvent
from ..services import channel_events
from ..tenancy import acting_for
from .runner import app_job


@app_job
def process(event_id: int) -> str:
    company_id = db.session.scalar(
        select(ChannelEvent.company_id).where(ChannelEvent.id == event_id))
    if company_id is None:
        return "skipped"  # gone
    with acting_for(company_id):
        return channel_events.process(event_id)
