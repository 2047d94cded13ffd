"""Two-tenant worlds: a company with a distinctive row in every tenant screen, so the
isolation tests can look for one company's rows in the other's pages."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import (AuditLog, Contact, ContactField, Flow, MessageTemplate,
                               PermissionGroup, ProviderTemplate)
from backoffice.models.automation import AutomationRule, ScheduledMessage
from backoffice.models.webhooks import WebhookDelivery
from backoffice.services import api_tokens
from backoffice.services.settings import get_settings

from .catalog import gen_farewell, gen_reason, gen_tag
from .channels import gen_connection
from .companies import gen_company, gen_department, gen_group, gen_plan, gen_user
from .hours import gen_holiday, gen_pause, gen_period
from .integrations import gen_integration, gen_telephony, gen_webhook
from .panel import gen_panel_key
from tests.admin_registry import extra_rows


@dataclass
class Tenant:
    company_id: int
    admin_email: str
    admin_id: int
    # label text of one row per admin endpoint, to look for in pages of the other tenant
    labels: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def _api_group(company_id: int) -> int:
    return db.session.scalar(select(PermissionGroup.id).where(
        PermissionGroup.company_id == company_id, PermissionGroup.kind == permissions.KIND_API))


def populate_company(name: str, key: str) -> Tenant:
    """A company with a distinctive row in every tenant screen."""
    plan = gen_plan(f"Plano {key.upper()}")
    company, admin = gen_company(name, f"admin-{key}@example.com", plan)
    group = gen_group(company, f"Grupo secreto {key.upper()}", ["company.view"])
    user = gen_user(company, f"agente-{key}@example.com", group, name=f"Agente Exclusivo {key.upper()}")
    db.session.flush()
    log = AuditLog(company_id=company.id, user_id=admin.id, user_name=admin.name,
                   action="update", table="user", row_id=str(user.id),
                   row_label=f"Registro auditado {key.upper()}", changes={"name": ["x", "y"]})
    db.session.add(log)
    tag = gen_tag(company, f"Etiqueta exclusiva {key.upper()}", color="#3366cc")
    reason = gen_reason(company, f"Motivo exclusivo {key.upper()}", description="Motivo de teste")
    db.session.flush()
    tenant = Tenant(
        company_id=company.id, admin_email=admin.email, admin_id=admin.id,
        labels={"users": user.name, "groups": group.name, "audit": log.row_label,
                "company": name},
        ids={"users": user.id, "groups": group.id, "audit": log.id, "company": company.id},
    )
    tenant.labels.update({"tags": tag.name, "reasons": reason.name})
    tenant.ids.update({"tags": tag.id, "reasons": reason.id})
    period = gen_period(company, f"Período exclusivo {key.upper()}")
    holiday = gen_holiday(company, f"Feriado exclusivo {key.upper()}", date(2026, 12, 25), every_year=True)
    db.session.flush()
    tenant.labels.update({"periods": period.name, "holidays": holiday.name})
    tenant.ids.update({"periods": period.id, "holidays": holiday.id})
    department = gen_department(company, f"Departamento exclusivo {key.upper()}", order=1,
                                members=[(user, True, True)])
    db.session.flush()
    tenant.labels["departments"] = department.name
    tenant.ids["departments"] = department.id
    template = MessageTemplate(company_id=company.id, kind="text", shortcut=f"/exclusivo{key}",
                               title=f"Template exclusivo {key.upper()}", body="Bom dia!")
    db.session.add(template)
    params = get_settings(company.id)
    db.session.flush()
    tenant.labels.update({"templates": template.title, "parameters": name})
    tenant.ids.update({"templates": template.id, "parameters": params.id})
    webhook = gen_webhook(company, f"Webhook exclusivo {key.upper()}",
                          f"https://hooks.example.com/{key}", ["ticket.created"])
    telephony = gen_telephony(company, pabx_host=f"pabx-exclusivo-{key}.example.com")
    db.session.flush()
    tenant.labels.update({"webhooks": webhook.name, "telephony": telephony.pabx_host})
    tenant.ids.update({"webhooks": webhook.id, "telephony": telephony.id})
    # Entregas de webhooks (WHK-1): a delivered event of that webhook, listed by its name
    hook_delivery = WebhookDelivery(company_id=company.id, webhook_id=webhook.id,
                                    event_id=f"00000000-0000-4000-8000-00000000000{len(key)}",
                                    event="ticket.created", body="{}", status="delivered",
                                    attempts=1, response_status=200)
    db.session.add(hook_delivery)
    db.session.flush()
    tenant.labels["webhook_deliveries"] = webhook.name
    tenant.ids["webhook_deliveries"] = hook_delivery.id
    integration = gen_integration(company, f"Integração exclusiva {key.upper()}",
                                  f"https://api.example.com/{key}",
                                  [("Authorization", f"Bearer segredo-{key}")])
    db.session.flush()
    tenant.labels["integrations"] = integration.name
    tenant.ids["integrations"] = integration.id
    pause = gen_pause(company, f"Pausa exclusiva {key.upper()}", [department])
    db.session.flush()
    tenant.labels["pauses"] = pause.name
    tenant.ids["pauses"] = pause.id
    connection = gen_connection(company, f"Conexão exclusiva {key.upper()}")
    farewell = gen_farewell(company, f"Despedida exclusiva {key.upper()}",
                            "Obrigado pelo contato, {{nome_cliente}}!")
    db.session.flush()
    tenant.labels.update({"connections": connection.name, "farewells": farewell.title})
    tenant.ids.update({"connections": connection.id, "farewells": farewell.id})
    # a synced WhatsApp template (Modelos do WhatsApp), on the existing connection so no
    # count or plan limit changes
    wa_template = ProviderTemplate(company_id=company.id, connection_id=connection.id,
                                   name=f"modelo_exclusivo_{key}", language="pt_BR",
                                   category="UTILITY", status="APPROVED",
                                   body=f"Modelo exclusivo {key.upper()}", components=[])
    db.session.add(wa_template)
    db.session.flush()
    tenant.labels["whatsapp_templates"] = wa_template.name
    tenant.ids["whatsapp_templates"] = wa_template.id
    contact = Contact(company_id=company.id, name=f"Contato exclusivo {key.upper()}",
                      phone=f"+55119876{ord(key[0]) % 10000:04d}", person_type="PF")
    contact.tags.append(tag)
    field = ContactField(company_id=company.id, label=f"Campo exclusivo {key.upper()}",
                         key=f"campo_exclusivo_{key}")
    db.session.add_all([contact, field])
    db.session.flush()
    tenant.labels.update({"contacts": contact.name, "contact_fields": field.label})
    tenant.ids.update({"contacts": contact.id, "contact_fields": field.id})
    flow = Flow(company_id=company.id, name=f"Fluxo exclusivo {key.upper()}",
                draft={"nodes": {"1": {"type": "start", "x": 60, "y": 160, "data": {},
                                       "next": {}}}})
    db.session.add(flow)
    db.session.flush()
    tenant.labels["flows"] = flow.name
    tenant.ids["flows"] = flow.id
    # Agendamentos (AUT-5): a schedule for the exclusive contact on the exclusive connection
    scheduled = ScheduledMessage(company_id=company.id, contact_id=contact.id,
                                 connection_id=connection.id,
                                 text=f"Agendamento exclusivo {key.upper()}",
                                 send_at=datetime(2030, 1, 2, 12, 0), created_by_id=admin.id)
    db.session.add(scheduled)
    db.session.flush()
    tenant.labels["scheduled"] = scheduled.text
    tenant.ids["scheduled"] = scheduled.id
    # Automações (AUT-8): a manual rule adding the exclusive tag
    rule = AutomationRule(company_id=company.id, name=f"Automação exclusiva {key.upper()}",
                          trigger="manual", conditions=[],
                          actions=[{"type": "add_tag", "tag_id": tag.id}])
    db.session.add(rule)
    db.session.flush()
    tenant.labels["automations"] = rule.name
    tenant.ids["automations"] = rule.id
    # Tokens de API (TOK-1): issued through the rules, with the default API group
    token, _raw = api_tokens.issue(company.id, f"Token exclusivo {key.upper()}",
                                   _api_group(company.id), created_by=admin)
    db.session.flush()
    tenant.labels["api_tokens"] = token.name
    tenant.ids["api_tokens"] = token.id
    # Painel TV (PNL-1): a link issued through the rules
    tv, _raw = gen_panel_key(company, f"TV exclusiva {key.upper()}", created_by=admin)
    tenant.labels["panel_keys"] = tv.name
    tenant.ids["panel_keys"] = tv.id
    # screens of later issues, registered in tests/admin_registry.py
    for endpoint, (label, row_id) in extra_rows(company, admin, key).items():
        tenant.labels[endpoint], tenant.ids[endpoint] = label, row_id
    return tenant
