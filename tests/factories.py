"""Readable helpers that build test data through the same services the app uses."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import AuditLog, Contact, ContactField, PermissionGroup, Plan, Reason, Tag, User
from backoffice.models import Holiday, Period, PeriodSchedule
from backoffice.models import Department, DepartmentMember
from backoffice.services import saas
from backoffice.models import MessageTemplate
from backoffice.services.settings import get_settings
from backoffice.models import TelephonySettings, Webhook
from backoffice.models.telephony import DEFAULT_PORTS
from backoffice.services import webhooks as webhook_rules

PASSWORD = "senha-segura-1"


@dataclass
class Tenant:
    company_id: int
    admin_email: str
    admin_id: int
    # label text of one row per admin endpoint, to look for in pages of the other tenant
    labels: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def gen_plan(name="Plano Teste", max_users=50, **kw) -> Plan:
    plan = Plan(name=name, max_users=max_users, max_channels=5, modules=["inbox"], **kw)
    db.session.add(plan)
    return plan


def gen_company(name: str, admin_email: str, plan: Plan | None = None):
    company, admin = saas.create_company(
        name=name, plan=plan, admin_name=f"Admin {name}", admin_email=admin_email,
        admin_password=PASSWORD,
    )
    return company, admin


def gen_group(company, name: str, rights, kind=permissions.KIND_SYSTEM) -> PermissionGroup:
    group = PermissionGroup(company=company, name=name, kind=kind, rights=list(rights))
    db.session.add(group)
    return group


def gen_user(company, email: str, group=None, name: str | None = None, active=True) -> User:
    user = User(company=company, email=email, name=name or email.split("@")[0].title(),
                group=group, active=active)
    user.set_password(PASSWORD)
    db.session.add(user)
    return user


def gen_period(company, name: str, schedules=None, active=True) -> Period:
    """A period; schedules are (name, weekdays, "HH:MM", "HH:MM"), default Mon-Fri 08-18."""
    period = Period(company_id=company.id, name=name, active=active)
    for sname, days, start, end in schedules or [("Comercial", [0, 1, 2, 3, 4], "08:00", "18:00")]:
        period.schedules.append(PeriodSchedule(
            company_id=company.id, name=sname, weekdays=list(days),
            start_time=time.fromisoformat(start), end_time=time.fromisoformat(end)))
    db.session.add(period)
    return period


def gen_holiday(company, name: str, day: date, every_year=False) -> Holiday:
    holiday = Holiday(company_id=company.id, name=name, date=day, every_year=every_year)
    db.session.add(holiday)
    return holiday


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
    tag = Tag(company_id=company.id, name=f"Etiqueta exclusiva {key.upper()}", color="#3366cc")
    reason = Reason(company_id=company.id, name=f"Motivo exclusivo {key.upper()}",
                    description="Motivo de teste", active=True)
    db.session.add_all([tag, reason])
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
    contact = Contact(company_id=company.id, name=f"Contato exclusivo {key.upper()}",
                      phone=f"+55119876{ord(key[0]) % 10000:04d}", person_type="PF")
    contact.tags.append(tag)
    field = ContactField(company_id=company.id, label=f"Campo exclusivo {key.upper()}",
                         key=f"campo_exclusivo_{key}")
    db.session.add_all([contact, field])
    db.session.flush()
    tenant.labels.update({"contacts": contact.name, "contact_fields": field.label})
    tenant.ids.update({"contacts": contact.id, "contact_fields": field.id})
    return tenant


def gen_connection(company, name: str, kind: str = "webchat", active: bool = True,
                   **fields):
    """A connection (CHN-1); an http_api one gets an endpoint unless given."""
    from backoffice.models import Connection

    if kind == "http_api":
        fields.setdefault("endpoint_url", "https://api.example.com/atende")
    conn = Connection(company_id=company.id, name=name, kind=kind, active=active, **fields)
    db.session.add(conn)
    return conn


def gen_farewell(company, title: str, body: str = "Obrigado pelo contato!", active: bool = True):
    """A farewell message (AUT-6)."""
    from backoffice.models import FarewellMessage

    farewell = FarewellMessage(company_id=company.id, title=title, body=body, active=active)
    db.session.add(farewell)
    return farewell


def gen_pause(company, name: str, departments, windows=((range(7), "00:00", "23:59"),),
              active=True):
    """A pause; windows are (weekdays, "HH:MM" start, "HH:MM" end)."""
    from datetime import time

    from backoffice.models import Pause, PauseWindow

    pause = Pause(company_id=company.id, name=name, active=active, departments=list(departments))
    for days, start, end in windows:
        pause.windows.append(PauseWindow(company_id=company.id, weekdays=list(days),
                                         start_time=time.fromisoformat(start),
                                         end_time=time.fromisoformat(end)))
    db.session.add(pause)
    return pause


def gen_webhook(company, name: str, url: str, events, active=True, secret=None) -> Webhook:
    webhook = Webhook(company_id=company.id, name=name, url=url, events=list(events),
                      active=active, secret=secret or webhook_rules.new_secret())
    db.session.add(webhook)
    return webhook


def gen_telephony(company, **fields) -> TelephonySettings:
    settings = TelephonySettings(company_id=company.id, **{**DEFAULT_PORTS, **fields})
    db.session.add(settings)
    return settings


def gen_department(company, name: str, order: int | None = None, members=(), **fields) -> Department:
    """A department; members are (user, receives_tickets, responsible). Without an order,
    the next one of the company (DEP-1)."""
    from backoffice.services.departments import next_order

    department = Department(company_id=company.id, name=name,
                            order=order if order is not None else next_order(company.id), **fields)
    for user, receives, responsible in members:
        department.members.append(DepartmentMember(company_id=company.id, user=user,
                                                   receives_tickets=receives,
                                                   responsible=responsible))
    db.session.add(department)
    return department
