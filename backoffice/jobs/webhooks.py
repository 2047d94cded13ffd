"""Delivery job of webhook events (WHK-1); the claim, order, send and backoff are
webhooks.delivery.deliver."""
from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models.webhooks import WebhookDelivery
from ..tenancy import acting_for
from ..webhooks import delivery
from .runner import app_job


@app_job
def deliver(delivery_id: int) -> str:
    company_id = db.session.scalar(select(WebhookDelivery.company_id)
                                   .where(WebhookDelivery.id == delivery_id))
    if company_id is None:
        return "skipped"  # gone with its webhook
    with acting_for(company_id):
        return delivery.deliver(delivery_id)
