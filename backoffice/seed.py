"""Loads the demo company described in seed/demo.json (first run of `make run`), and one
connection of each provider kind (WhatsApp, Telegram, Messenger, Instagram) with
placeholder credentials: no provider is reached, but `flask channels simulate` signs its
webhooks with those stored secrets, so the inbox can be tried with no account and no
internet (`demo_hints()` prints how)."""
from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

from sqlalchemy import func, select

from .extensions import db
from .models import (
    Company, Connection, Contact, ContactField, Department, DepartmentMember, FarewellMessage, Holiday, MessageTemplate,
    Pause, PauseWindow, Period, PeriodSchedule, PermissionGroup, Plan, ProviderTemplate, Reason,
    Tag, TelephonySettings, User, Webhook,
)
from .services import connections as connection_rules
from .services import provider_templates
from .services import contacts as contact_rules
from .services import farewells as farewell_rules
from .services import messages, pauses, saas, sending, telephony, tickets
from .lib import after_commit
from .services import templates as template_rules
from .services import webhooks as webhook_rules
from .services.settings import get_settings

SEED_FILE = Path(__file__).resolve().parent.parent / "seed" / "demo.json"

# One connection per provider kind. The ids are made up and the secrets are placeholders
# (nothing here is a real account): "Testar conexão" fails, but a webhook simulated with
# `flask channels simulate` is signed with these secrets and accepted.
DEMO_PROVIDERS = [
    {"name": "WhatsApp da loja", "kind": "whatsapp", "fields": {
        "phone_number_id": "100000000000001", "waba_id": "100000000000002",
        "access_token": "demo-token-whatsapp", "app_secret": "demo-app-secret-whatsapp",
        "verify_token": "demo-verify-whatsapp"}},
    {"name": "Telegram da loja", "kind": "telegram", "fields": {
        "bot_token": "123456789:AAEdemo-demo-demo-demo-demo-demo-demo0",
        "secret_token": "demo-secret-telegram"}},
    {"name": "Facebook da loja", "kind": "messenger", "fields": {
        "page_id": "100000000000003", "page_access_token": "demo-token-messenger",
        "app_secret": "demo-app-secret-messenger", "verify_token": "demo-verify-messenger"}},
    {"name": "Instagram @oticasboavista", "kind": "instagram", "fields": {
        "page_id": "100000000000004", "page_access_token": "demo-token-instagram",
        "app_secret": "demo-app-secret-instagram", "verify_token": "demo-verify-instagram"}},
]
# The WhatsApp connection's templates as a sync would have left them (Meta's shapes).
DEMO_WHATSAPP_TEMPLATES = [
    ("oculos_prontos", "pt_BR", "UTILITY", "APPROVED",
     "Olá, {{1}}! Seus óculos estão prontos para retirada na loja {{2}}. Atendemos de "
     "segunda a sábado, das 9h às 19h."),
    ("lembrete_exame", "pt_BR", "UTILITY", "APPROVED",
     "Olá, {{1}}! Lembrete: seu exame de vista é amanhã às {{2}}. Responda SIM para "
     "confirmar."),
    ("promocao_armacoes", "pt_BR", "MARKETING", "PENDING",
     "{{1}}, armações selecionadas com 30% de desconto até domingo. Venha conferir!"),
]


def load_demo(force: bool = False, path: Path = SEED_FILE) -> bool:
    if not force and db.session.scalar(select(func.count(Company.id))):
        return False
    data = json.loads(path.read_text(encoding="utf-8"))

    su = data["superuser"]
    if not saas.email_taken(su["email"]):
        root = User(name=su["name"], email=su["email"], is_superuser=True)
        root.set_password(su["password"])
        db.session.add(root)

    plans = {}
    for p in data["plans"]:
        plans[p["name"]] = db.session.scalar(select(Plan).where(Plan.name == p["name"])) or Plan(**p)
        db.session.add(plans[p["name"]])

    c = dict(data["company"])
    admin = c.pop("admin")
    company, _ = saas.create_company(plan=plans[c.pop("plan")], admin_name=admin["name"],
                                     admin_email=admin["email"],
                                     admin_password=admin["password"], **c)
    for g in data["groups"]:
        db.session.add(PermissionGroup(company=company, **g))
    db.session.flush()
    groups = {g.name: g for g in db.session.scalars(
        select(PermissionGroup).where(PermissionGroup.company_id == company.id))}
    for u in data["users"]:
        user = User(company=company, name=u["name"], email=u["email"], group=groups[u["group"]])
        user.set_password(u["password"])
        db.session.add(user)
    db.session.flush()
    load_configuration(company, data["configuration"])
    db.session.flush()
    load_conversations(company, data.get("conversations", []))
    # after_commit: the demo's answers are queued like any agent's and sent by the worker
    after_commit.commit()
    return True


def load_conversations(company: Company, conversations: list[dict]) -> None:
    """A few webchat conversations for the inbox, made through the ticket services: the
    visitor writes, an agent accepts and answers, some are closed."""
    cid = company.id
    users = {u.email: u for u in db.session.scalars(select(User).where(User.company_id == cid))}
    by_name = lambda model: {x.name: x for x in db.session.scalars(  # noqa: E731
        select(model).where(model.company_id == cid))}
    connections, departments = by_name(Connection), by_name(Department)
    tags, reasons = by_name(Tag), by_name(Reason)
    farewells = {f.title: f for f in tickets.farewells(cid)}
    for conv in conversations:
        connection = connections[conv["connection"]]
        contact = tickets.contact_for(connection, conv["address"], conv["contact"])
        ticket = tickets.open_ticket(contact, connection, departments[conv["department"]])
        for who, text in conv["messages"]:
            if who == "cliente":
                tickets.receive(ticket, text)
                continue
            agent = users[who]
            if ticket.agent_id is None:
                tickets.accept(ticket, agent)
            sending.queue(ticket, agent, text)
        if conv.get("tags"):
            ticket.tags = [tags[name] for name in conv["tags"]]
        closing = conv.get("close")
        if closing:
            tickets.close(ticket, users[closing["by"]], reason_id=reasons[closing["reason"]].id,
                          farewell_id=farewells[closing["farewell"]].id)
        db.session.flush()


def load_provider_connections(company: Company) -> None:
    """DEMO_PROVIDERS through the Conexões screen's rules (fields, plan limit), and the
    WhatsApp connection's synced templates."""
    for p in DEMO_PROVIDERS:
        conn = Connection(company_id=company.id, name=p["name"], kind=p["kind"], active=True)
        connection_rules.apply_fields(conn, p["fields"])
        db.session.add(connection_rules.check_connection(conn))
        db.session.flush()
        if conn.kind == "whatsapp":
            for name, language, category, status, body in DEMO_WHATSAPP_TEMPLATES:
                db.session.add(ProviderTemplate(
                    company_id=company.id, connection_id=conn.id, name=name,
                    language=language, category=category, status=status, body=body,
                    variables=provider_templates.count_variables(body),
                    components=[{"type": "BODY", "text": body}]))
    db.session.flush()


def demo_hints(base_url: str = "http://127.0.0.1:5000") -> list[str]:
    """How to simulate a customer on the demo's provider connections (printed by
    `python app.py`); [] when the demo's are not there (a real installation)."""
    demo = {p["name"]: p for p in DEMO_PROVIDERS}
    found = db.session.scalars(select(Connection).where(
        Connection.name.in_(demo), Connection.active.is_(True)).order_by(Connection.id))
    # the demo's own rows only: same name and kind, and still the placeholder ids
    ours = [c for c in found if c.kind == demo[c.name]["kind"] and all(
        c.setting(k) == v for k, v in demo[c.name]["fields"].items() if k.endswith("_id"))]
    if not ours:
        return []
    address = {"whatsapp": "5511987654321", "telegram": "100200300",
               "messenger": "7001002003", "instagram": "7001002004"}
    target = "" if base_url == "http://127.0.0.1:5000" else f" --base-url {base_url}"
    lines = ["  Simular um cliente escrevendo (com o Atende no ar, em outro terminal):"]
    for conn in ours:
        # Meta's webhooks carry no name (the profile lookup gives it): no --name there
        name = " --name 'Cliente Teste'" if conn.kind in ("whatsapp", "telegram") else ""
        lines.append(f"    .venv/bin/flask --app app channels simulate {conn.kind} --connection "
                     f"{conn.id} --from {address[conn.kind]}{name} --text 'Olá!'{target}")
    return lines


def _time(text: str) -> time:
    return time.fromisoformat(text)


def load_configuration(company: Company, cfg: dict) -> None:
    """Every configuration screen of the demo company, through the same rules the screens
    apply, so the demo never shows data the admin could not have typed."""
    cid = company.id
    users = {u.email: u for u in db.session.scalars(select(User).where(User.company_id == cid))}

    departments = {}
    for d in cfg["departments"]:
        d = dict(d)
        members = d.pop("members")
        for field in ("on_start_text", "on_close_text", "on_transfer_text", "close_queue_message"):
            if messages.validate_template(d.get(field)):
                raise ValueError(f"seed: unknown variable in {d['name']}.{field}")
        dept = Department(company_id=cid, **d)
        for email, receives, responsible in members:
            dept.members.append(DepartmentMember(company_id=cid, user=users[email],
                                                 receives_tickets=receives, responsible=responsible))
        db.session.add(dept)
        departments[dept.name] = dept

    for t in cfg["tags"]:
        db.session.add(Tag(company_id=cid, **t))
    for r in cfg["reasons"]:
        r = dict(r)
        names = r.pop("departments")
        db.session.add(Reason(company_id=cid, active=True, departments=[departments[n] for n in names], **r))

    for p in cfg["periods"]:
        period = Period(company_id=cid, name=p["name"], description=p["description"], active=True)
        for name, days, start, end in p["schedules"]:
            period.schedules.append(PeriodSchedule(company_id=cid, name=name, weekdays=days,
                                                   start_time=_time(start), end_time=_time(end)))
        db.session.add(period)
    for h in cfg["holidays"]:
        db.session.add(Holiday(company_id=cid, name=h["name"], date=date.fromisoformat(h["date"]),
                               every_year=h["every_year"]))

    for p in cfg["pauses"]:
        pause = Pause(company_id=cid, name=p["name"], active=True,
                      departments=[departments[n] for n in p["departments"]])
        for days, start, end in p["windows"]:
            pause.windows.append(PauseWindow(company_id=cid, weekdays=days,
                                             start_time=_time(start), end_time=_time(end)))
        pauses.check_windows(pause.windows)
        db.session.add(pause)

    for c in cfg.get("connections", []):
        conn = connection_rules.check_connection(Connection(company_id=cid, **c))
        db.session.add(conn)
        db.session.flush()  # the next one's name and plan-limit checks see this one
    load_provider_connections(company)

    for f in cfg.get("farewells", []):
        farewell = farewell_rules.check_farewell(FarewellMessage(company_id=cid, **f))
        db.session.add(farewell)
        db.session.flush()

    for f in cfg.get("contact_fields", []):
        field = ContactField(company_id=cid, active=True, **f)
        contact_rules.check_field(field)
        db.session.add(field)
        db.session.flush()
    tags = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.company_id == cid))}
    for c in cfg.get("contacts", []):
        owner = users[c["owner"]] if c.get("owner") else None
        contact = Contact(company_id=cid, name=c["name"], phone=c["phone"], email=c["email"],
                          document=c["document"], owner_id=owner.id if owner else None,
                          custom_fields=c["custom"] or None,
                          tags=[tags[name] for name in c["tags"]])
        contact_rules.check_manual(contact)
        db.session.add(contact)
        db.session.flush()

    for t in cfg["templates"]:
        shortcut = template_rules.normalise_shortcut(t["shortcut"])
        db.session.add(MessageTemplate(company_id=cid, active=True, **{**t, "shortcut": shortcut}))

    params = get_settings(cid)
    for key, value in cfg["parameters"].items():
        setattr(params, key, value)

    for w in cfg["webhooks"]:
        db.session.add(Webhook(company_id=cid, name=w["name"], url=webhook_rules.check_url(w["url"]),
                               events=webhook_rules.check_events(w["events"]), active=w["active"],
                               secret=webhook_rules.new_secret()))

    # Built here rather than with settings_for(), which commits: the seed is one transaction.
    phone = TelephonySettings(company_id=cid, **{**telephony.DEFAULT_PORTS, **cfg["telephony"]})
    telephony.apply(phone)
    db.session.add(phone)
