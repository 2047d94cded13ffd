"""Loads the demo company described in seed/demo.json (first run of `make run`), and one
connection of each provider kind (WhatsApp, Telegram, Messenger, Instagram) with
placeholder credentials: no provider is reached, but `flask channels simulate` signs its
webhooks with those stored secrets, so the inbox can be tried with no account and no
internet (`demo_hints()` prints how)."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from .extensions import db
from .models import (
    AutomationRule, Company, Connection, Contact, ContactField, Department, DepartmentMember,
    FarewellMessage, Flow, FlowVersion, Holiday, Integration, MessageTemplate, Pause,
    PauseWindow, Period, PeriodSchedule, PermissionGroup, Plan, ProviderTemplate, Reason,
    ScheduledMessage, Tag, TelephonySettings, User, Webhook,
)
from .services import connections as connection_rules
from .services import provider_templates
from .services import contacts as contact_rules
from .services import farewells as farewell_rules
from .services import hours, messages, pauses, saas, sending, telephony, tickets
from .lib import after_commit, clock
from .tenancy import acting_for
from .services import templates as template_rules
from .services import integrations as integration_rules
from .services import api_tokens as api_token_rules
from .services import webhooks as webhook_rules
from .services.settings import get_settings
from .seed_portal import load_articles, load_portal

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


def _demo_ping(hook) -> None:
    from .models.webhooks import FAILED, WebhookDelivery
    from .webhooks import payloads

    now = clock.now()
    body = payloads.envelope("ping", hook.company_id, {"webhook": {"id": hook.id,
                                                                   "name": hook.name}}, now)
    db.session.add(WebhookDelivery(company_id=hook.company_id, webhook_id=hook.id,
                                   event_id=body["id"], event="ping", body=payloads.dumps(body),
                                   status=FAILED, attempts=1, last_attempt_at=now,
                                   error="Não foi possível entregar ao destino.",
                                   duration_ms=12, created_at=now))


def load_demo(force: bool = False, path: Path = SEED_FILE, history: bool = False) -> bool:
    """The demo company of `path` (only into an empty database unless `force`). `history`:
    also its past month of tickets for the reports (load_history); off for the tests,
    whose demo agents' inboxes hold only today's conversations."""
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
    load_portal(company, data.get("portal"))  # POR-1
    load_articles(company, data.get("articles"))  # ART-1
    load_api_token(company)
    load_panel_key(company)
    db.session.flush()
    if history:
        load_history(company, data.get("history"))
    load_conversations(company, data.get("conversations", []))
    # after the conversations, so the demo's closed ticket is not asked the survey
    load_automation(company)
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


def load_history(company: Company, spec: dict | None) -> int:
    """The last `days` days of service (REP-1), so Relatórios opens with data: a few closed
    tickets a day (two on Saturdays, none on Sundays) with their messages and history,
    waits, answers and closes that vary; some tagged, transferred, reopened, closed
    unanswered or rated (RAT-1). The same every time (a fixed random seed). Written as
    rows, not lived through the services (that took 0.2 s a ticket), then their report
    facts by `reports.facts.rebuild`. The agents of those days have no login, so the
    demo's own agents' inboxes stay as they were. Returns how many tickets."""
    if not spec:
        return 0
    from zoneinfo import ZoneInfo

    from .models import Message, SurveyAnswer, Ticket, TicketEvent
    from .models.automation import SURVEY_ANSWERED
    from .models.tickets import AUTHOR_AGENT, AUTHOR_CONTACT, CLOSED, DELIVERED, IN, OUT
    from .reports import facts
    from .services.protocols import format_protocol

    cid = company.id
    rng = random.Random(16)
    by_name = lambda model: {x.name: x for x in db.session.scalars(  # noqa: E731
        select(model).where(model.company_id == cid))}
    departments, connections, tags = by_name(Department), by_name(Connection), by_name(Tag)
    agents = {}
    for a in spec["agents"]:
        user = User(company_id=cid, name=a["name"], email=a["email"],
                    group=by_name(PermissionGroup)["Atendente"],
                    password_hash="!")  # matches no password: these shifts are over
        department = departments[a["department"]]
        department.members.append(DepartmentMember(company_id=cid, user=user,
                                                   receives_tickets=True, responsible=False))
        agents[department.name] = user
    db.session.flush()
    reasons = {name: [r.id for r in by_name(Reason).values() if departments[name] in r.departments]
               for name in agents}
    lines = [connections[n] for n in spec["connections"] if n in connections]
    zone = ZoneInfo(company.timezone or hours.DEFAULT_TIMEZONE)
    contacts: dict[tuple[int, int], Contact] = {}

    def contact_of(connection: Connection, person: int) -> Contact:
        if (connection.id, person) not in contacts:
            address = {"whatsapp": f"55119{87650000 + person}",
                       "telegram": f"{7100000 + person}"}.get(connection.kind,
                                                              f"demo-historico-{person}")
            contacts[connection.id, person] = tickets.contact_for(
                connection, address, spec["contacts"][person])
        return contacts[connection.id, person]

    def minutes(low, high, mode=None) -> timedelta:
        return timedelta(minutes=int(rng.triangular(low, high, mode)) if mode
                         else rng.randint(low, high))

    def ticket_of(at: datetime, protocol: str) -> None:
        """One closed ticket whose customer wrote first at `at` (naive UTC)."""
        name = "Comercial" if rng.random() < 0.6 else "Suporte"
        agent, connection = agents[name], rng.choice(lines)
        ticket = Ticket(company_id=cid, protocol=protocol,
                        contact_id=contact_of(connection, rng.randrange(len(spec["contacts"]))).id,
                        connection_id=connection.id, department_id=departments[name].id,
                        status=CLOSED, created_at=at, queued_at=at, unread=0)
        if rng.random() < 0.25:
            ticket.tags = [tags[rng.choice(spec["tags"])]]
        db.session.add(ticket)
        db.session.flush()
        rows: list = []

        def say(direction, text, when, author=None):
            rows.append(Message(company_id=cid, ticket_id=ticket.id, direction=direction,
                                author_kind=AUTHOR_AGENT if author else AUTHOR_CONTACT,
                                author_id=author.id if author else None, text=text,
                                status=DELIVERED, created_at=when, sent_at=when))
            ticket.preview = text[:140]
            ticket.last_activity_at = when
            if direction == IN:
                ticket.last_customer_at = when

        def happened(kind, when, user=None, **data):
            rows.append(TicketEvent(company_id=cid, ticket_id=ticket.id, kind=kind,
                                    user_id=user.id if user else None, data=data,
                                    created_at=when))

        say(IN, rng.choice(spec["questions"][name]), at)
        happened("created", at, department_id=ticket.department_id)
        now = at + minutes(1, 90, 6)
        if rng.random() > 0.08:  # else nobody answered in time: closed from the queue
            ticket.accepted_at = now
            happened("accepted", now, agent)
            now += minutes(1, 8)
            ticket.first_response_at = now
            say(OUT, rng.choice(spec["answers"][name]), now, agent)
            if name == "Comercial" and rng.random() < 0.1:  # a repair after all
                now += minutes(2, 10)
                name, previous, agent = "Suporte", agent, agents["Suporte"]
                ticket.department_id = departments[name].id
                happened("transferred", now, previous, to_agent_id=None,
                         from_department_id=departments["Comercial"].id,
                         to_department_id=ticket.department_id)
                now += minutes(1, 40, 5)
                happened("accepted", now, agent)
                say(OUT, rng.choice(spec["answers"][name]), now + minutes(1, 5), agent)
            now += minutes(2, 30)
            say(IN, rng.choice(spec["thanks"]), now)
            now += minutes(1, 20)
        ticket.agent_id, ticket.reason_id = agent.id, rng.choice(reasons[name])
        happened("closed", now, agent, reason_id=ticket.reason_id)
        if rng.random() < 0.06:  # the customer came back: reopened, closed again
            now += timedelta(hours=rng.randint(1, 5))
            happened("reopened", now, agent)
            now += minutes(5, 30)
            happened("closed", now, agent, reason_id=ticket.reason_id)
        ticket.closed_at = ticket.last_activity_at = now
        if ticket.accepted_at is not None and rng.random() < 0.45:  # RAT-1
            rows.append(SurveyAnswer(
                company_id=cid, ticket_id=ticket.id, agent_id=agent.id,
                department_id=ticket.department_id, scale="csat", status=SURVEY_ANSWERED,
                score=rng.choice([5, 5, 5, 4, 4, 3, 2]), asked_at=now,
                answered_at=now + minutes(1, 30)))
        db.session.add_all(rows)

    today = hours.local_time(clock.now(), zone).date()
    made = 0
    for back in range(spec["days"], 0, -1):
        day = today - timedelta(days=back)
        count = {5: 2, 6: 0}.get(day.weekday())
        if count is None:
            count = rng.randint(*spec["per_day"])
        for n, minute in enumerate(sorted(rng.randint(8 * 60, 19 * 60 + 30)
                                          for _ in range(count)), start=1):
            local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
            ticket_of(hours.local_time(local, "UTC").replace(tzinfo=None),
                      format_protocol(day, n))
            made += 1
    db.session.flush()
    facts.rebuild(cid, commit=False)
    return made


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


# The demo's WhatsApp entry flow (AUT-2, issue 13), in the graph format of
# backoffice.automation.flows.spec; the ids are filled in by `demo_flow_graph`.
DEMO_FLOW_NAME = "Atendimento WhatsApp"
DEMO_PERIOD = ("Horário comercial", "Segunda a sexta, das 8h às 18h",
               [("Semana", [0, 1, 2, 3, 4], "08:00", "18:00")])
# menu option -> the demo department it hands over to (the first name found is used; the
# last one is created when none exists)
DEMO_FLOW_DEPARTMENTS = {"Vendas": ("Comercial", "Vendas"), "Suporte": ("Suporte",),
                         "Financeiro": ("Financeiro",)}
DEMO_RULE = {"name": "Garantia: etiqueta", "text": "garantia", "tag": "Garantia"}
DEMO_SCHEDULED = {"contact": "Juliana Prado", "connection": "Site Óticas Boa Vista",
                  "by": "bruno@demo.atende.local", "at": "10:00",
                  "text": "Olá, {{nome_cliente}}! Suas lentes multifocais chegaram: pode "
                          "retirar na loja da Rua Augusta."}
DEMO_SURVEY = {
    "department": "Suporte",
    "survey_scale": "csat",
    "survey_flow": "Seu atendimento foi encerrado. De 1 a 5, que nota você dá para o nosso "
                   "atendimento?",
    "survey_timeout_message": "Como não recebemos sua nota, encerramos a pesquisa. "
                              "Obrigado, {{nome_cliente}}!",
    "survey_max_inactivity_minutes": 60,
}


def demo_flow_graph(period_id: int, departments: dict[str, int]) -> dict:
    """start -> inside the opening hours? -> yes: greeting, menu (Vendas / Suporte /
    Financeiro; Suporte asks the CPF first), transfer; no: the out-of-hours answer and the
    queue (the ticket waits for the opening, it is not closed)."""
    first = departments["Vendas"]

    def node(kind, x, y, data=None, **outlets):
        return {"type": kind, "x": x, "y": y, "data": data or {},
                "next": {k.replace("option_", "option:"): v for k, v in outlets.items()}}

    return {"nodes": {
        "inicio": node("start", 40, 200, next="horario"),
        "horario": node("condition", 240, 200,
                        {"condition": {"type": "period", "period_id": period_id,
                                       "inside": True}},
                        yes="saudacao", no="fora_horario"),
        "saudacao": node("message", 480, 80,
                         {"text": "Olá, {{nome_cliente}}! Aqui é o assistente virtual da "
                                  "{{empresa}}."}, next="menu"),
        "menu": node("menu", 720, 80,
                     {"text": "Como podemos ajudar? Responda com o número da opção:",
                      "options": ["Vendas", "Suporte", "Financeiro"],
                      "invalid_text": "Não entendi. Responda 1, 2 ou 3.", "max_tries": 3},
                     option_0="vendas", option_1="cpf", option_2="financeiro",
                     fail="menu_falhou"),
        "vendas": node("transfer", 980, 0,
                       {"department_id": departments["Vendas"],
                        "text": "Certo! Um consultor de vendas já vai falar com você."}),
        "cpf": node("question", 980, 120,
                    {"text": "Para abrir o chamado de suporte, informe seu CPF (só os números).",
                     "field": "document", "validate": "cpf_cnpj",
                     "retry_text": "Esse CPF não parece válido. Confira e envie de novo.",
                     "max_tries": 3},
                    next="suporte", fail="suporte"),
        "suporte": node("transfer", 1220, 120,
                        {"department_id": departments["Suporte"],
                         "text": "Obrigado! Vamos te passar para o suporte."}),
        "financeiro": node("transfer", 980, 240,
                           {"department_id": departments["Financeiro"],
                            "text": "Certo! O financeiro já vai falar com você."}),
        "menu_falhou": node("transfer", 980, 360,
                            {"department_id": first,
                             "text": "Vamos te passar para um atendente."}),
        "fora_horario": node("message", 480, 340,
                             {"text": "Olá, {{nome_cliente}}! Estamos fora do horário de "
                                      "atendimento agora. Sua mensagem ficou registrada e "
                                      "respondemos assim que abrirmos."},
                             next="fim"),
        "fim": node("end", 720, 340, {"close": False}),
    }}


def load_automation(company: Company) -> Flow:
    """The demo's chatbot (issue 13, AUT-2): the published entry flow of the WhatsApp
    connection, its opening hours and departments, a satisfaction survey (AUT-3) on
    Suporte, an automation rule (AUT-8) and a scheduled message (AUT-5). Reuses what
    exists (safe to call again: nothing is created twice)."""
    cid = company.id
    period = db.session.scalar(select(Period).where(Period.company_id == cid,
                                                    Period.name == DEMO_PERIOD[0]))
    if period is None:
        name, description, schedules = DEMO_PERIOD
        period = Period(company_id=cid, name=name, description=description, active=True)
        for label, days, start, end in schedules:
            period.schedules.append(PeriodSchedule(company_id=cid, name=label, weekdays=days,
                                                   start_time=_time(start),
                                                   end_time=_time(end)))
        db.session.add(period)
    existing = {d.name: d for d in db.session.scalars(
        select(Department).where(Department.company_id == cid))}
    departments = {}
    for option, names in DEMO_FLOW_DEPARTMENTS.items():
        dept = next((existing[n] for n in names if n in existing), None)
        if dept is None:
            dept = Department(company_id=cid, name=names[-1], order=len(existing) + 1)
            db.session.add(dept)
            existing[dept.name] = dept
        departments[option] = dept
    db.session.flush()

    survey = dict(DEMO_SURVEY)
    dept = existing.get(survey.pop("department"))
    if dept is not None and not dept.survey_enabled:
        dept.survey_enabled = True
        for key, value in survey.items():
            setattr(dept, key, value)

    flow = db.session.scalar(select(Flow).where(Flow.company_id == cid,
                                                Flow.name == DEMO_FLOW_NAME))
    if flow is None:
        graph = demo_flow_graph(period.id, {k: d.id for k, d in departments.items()})
        flow = Flow(company_id=cid, name=DEMO_FLOW_NAME, active=True, draft=graph,
                    description="Menu de entrada do WhatsApp: horário, setor e CPF no suporte",
                    timeout_minutes=30,
                    timeout_message="Como não tivemos resposta, vamos te passar para um "
                                    "atendente.")
        db.session.add(flow)
        db.session.flush()
        _publish(flow, company)
    whatsapp = db.session.scalar(select(Connection).where(
        Connection.company_id == cid, Connection.kind == "whatsapp",
        Connection.name == DEMO_PROVIDERS[0]["name"]))
    if whatsapp is not None and whatsapp.flow_id is None:
        whatsapp.flow_id = flow.id
    db.session.flush()
    load_rule(cid)
    load_scheduled(cid)
    return flow


def load_rule(company_id: int) -> None:
    """An automation rule (AUT-8): a customer's message about the warranty is tagged."""
    from .automation import actions, conditions

    if db.session.scalar(select(AutomationRule.id).where(
            AutomationRule.company_id == company_id, AutomationRule.name == DEMO_RULE["name"])):
        return
    tag = db.session.scalar(select(Tag).where(Tag.company_id == company_id,
                                              Tag.name == DEMO_RULE["tag"]))
    if tag is None:
        return
    rule = AutomationRule(company_id=company_id, name=DEMO_RULE["name"], active=True,
                          position=1, trigger="message_received", match="all",
                          conditions=[{"type": "message_contains", "text": DEMO_RULE["text"]}],
                          actions=[{"type": "add_tag", "tag_id": tag.id}])
    reasons = [r for c in rule.conditions for r in conditions.check(company_id, c)]
    reasons += [r for a in rule.actions for r in actions.check(company_id, a)]
    if reasons:
        raise ValueError(f"seed: demo rule refused: {reasons}")
    db.session.add(rule)
    db.session.flush()


def load_scheduled(company_id: int) -> None:
    """A scheduled message (AUT-5) to a demo conversation's customer, two days ahead."""
    from .automation import scheduled

    item = DEMO_SCHEDULED
    contact = db.session.scalar(select(Contact).where(Contact.company_id == company_id,
                                                      Contact.name == item["contact"]))
    connection = db.session.scalar(select(Connection).where(
        Connection.company_id == company_id, Connection.name == item["connection"]))
    author = db.session.scalar(select(User).where(User.email == item["by"]))
    if contact is None or connection is None or author is None or db.session.scalar(
            select(ScheduledMessage.id).where(ScheduledMessage.contact_id == contact.id)):
        return
    local = hours.local_time(clock.now(), scheduled.zone_of(company_id))
    when = datetime.combine(local.date() + timedelta(days=2), _time(item["at"]))
    with acting_for(company_id):
        scheduled.create(author, contact, connection, when, text=item["text"])


def _publish(flow: Flow, company: Company) -> FlowVersion:
    """Version 1 through the flow service when it is there (its checker validates the demo
    graph, as the editor's "Publicar" would), else the rows directly."""
    admin = db.session.scalar(select(User).where(User.company_id == company.id)
                              .order_by(User.id).limit(1))
    try:
        from .automation.flows import service as flow_service
    except ImportError:
        flow_service = None
    if flow_service is not None and hasattr(flow_service, "publish"):
        with acting_for(company.id):
            version = flow_service.publish(flow, admin)
        db.session.flush()
        return version
    version = FlowVersion(company_id=company.id, flow_id=flow.id, number=1,
                          graph=flow.draft, published_by_id=admin.id if admin else None)
    db.session.add(version)
    db.session.flush()
    flow.published_version_id = version.id
    return version


def load_api_token(company: Company) -> None:
    """TOK-1: one token on "Tokens de API", with the default "Integração (API)" group, as an
    ERP would have used it. Its value is shown to nobody (a token is shown once, at
    creation): it shows what the list looks like; a demo admin creates their own."""
    group = db.session.scalar(select(PermissionGroup).where(
        PermissionGroup.company_id == company.id, PermissionGroup.name == "Integração (API)"))
    token, _raw = api_token_rules.issue(company.id, "ERP da loja", group.id,
                                        allowed_ips=["203.0.113.0/24"])
    token.last_used_at = clock.now() - timedelta(hours=2)
    token.last_used_ip = "203.0.113.10"


def load_panel_key(company: Company) -> None:
    """PNL-1: one TV panel link on "Painel TV", for every department. Its key is shown to
    nobody (shown once, at creation): a demo admin creates their own to open the panel."""
    from .reports import panel as panel_rules

    key, _raw = panel_rules.issue(company.id, "TV da recepção")
    key.last_used_at = clock.now() - timedelta(minutes=5)


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
    bot = next((c for c in ours if c.kind == "whatsapp" and c.flow_id), None)
    if bot is not None:
        lines.append(f"  No WhatsApp responde o chatbot \"{bot.flow.name}\" (Configurações > "
                     "Fluxos de chatbot): em horário comercial, responda ao menu com "
                     "--text '1', '2' ou '3'.")
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
        hook = Webhook(company_id=cid, name=w["name"], url=webhook_rules.check_url(w["url"]),
                       events=webhook_rules.check_events(w["events"]), active=w["active"],
                       secret=webhook_rules.new_secret())
        db.session.add(hook)
        db.session.flush()
        # WHK-1: the log has the "Testar" a new admin would click (the example URL is
        # nowhere, so it failed), to show what a delivery records
        _demo_ping(hook)
    # INT-1: an example to read, off until the company points it at its own n8n
    example = Integration(company_id=cid, name="n8n (exemplo)", method="POST", timeout=10,
                          url="https://n8n.example.com/webhook/atende", active=False)
    integration_rules.check(example)
    integration_rules.set_headers(example, [("Authorization", "Bearer troque-este-token")])
    db.session.add(example)

    # Built here rather than with settings_for(), which commits: the seed is one transaction.
    phone = TelephonySettings(company_id=cid, **{**telephony.DEFAULT_PORTS, **cfg["telephony"]})
    telephony.apply(phone)
    db.session.add(phone)
