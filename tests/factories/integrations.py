"""What a company plugs in: outgoing webhooks and the telephony (PABX) settings."""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.models import TelephonySettings, Webhook
from backoffice.models.telephony import DEFAULT_PORTS
from backoffice.services import webhooks as webhook_rules


def gen_webhook(company, name: str, url: str, events, active=True, secret=None) -> Webhook:
    webhook = Webhook(company_id=company.id, name=name, url=url, events=list(events),
                      active=active, secret=secret or webhook_rules.new_secret())
    db.session.add(webhook)
    return webhook


def gen_telephony(company, **fields) -> TelephonySettings:
    settings = TelephonySettings(company_id=company.id, **{**DEFAULT_PORTS, **fields})
    db.session.add(settings)
    return settings
