"""What a company plugs in: outgoing webhooks, HTTP integrations and the telephony (PABX)
settings."""
from __future__ import annotations

from backoffice.extensions import db
from backoffice.models import Integration, TelephonySettings, Webhook
from backoffice.models.telephony import DEFAULT_PORTS
from backoffice.services import integrations as integration_rules
from backoffice.services import webhooks as webhook_rules


def gen_webhook(company, name: str, url: str, events, active=True, secret=None) -> Webhook:
    webhook = Webhook(company_id=company.id, name=name, url=url, events=list(events),
                      active=active, secret=secret or webhook_rules.new_secret())
    db.session.add(webhook)
    return webhook


def gen_integration(company, name: str, url: str, headers=(), method="POST", timeout=10,
                    active=True) -> Integration:
    """Through the rules (INT-1): `headers` as name/value pairs, stored encrypted."""
    integration = Integration(company_id=company.id, name=name, url=url, method=method,
                              timeout=timeout, active=active)
    integration_rules.check(integration)
    integration_rules.set_headers(integration, headers)
    db.session.add(integration)
    return integration


def gen_telephony(company, **fields) -> TelephonySettings:
    settings = TelephonySettings(company_id=company.id, **{**DEFAULT_PORTS, **fields})
    db.session.add(settings)
    return settings
