"""The demo company (seed/) has realistic data on every configuration screen, loaded
through the screens' own rules, and its admin sees each screen with rows."""
from __future__ import annotations

from flask_login import login_user
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import User
from backoffice.seed import load_demo
from tests.admin_registry import tenant_views
from tests.conftest import login


def test_PLT_seed_demo_fills_every_tenant_screen(app, client):
    with app.app_context():
        assert load_demo() is True
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.atende.local"))
        admin.set_password("senha-segura-1")
        db.session.commit()
        admin_id = admin.id
    login(client, "admin@demo.atende.local")
    # The audit log records changes made through the screens; a fresh install has none.
    for view in [v for v in tenant_views(app) if v.endpoint != "audit"]:
        with app.test_request_context():
            login_user(db.session.get(User, admin_id))
            count = view.get_count_query().scalar()
        assert count > 0, f"the demo company has nothing on {view.endpoint}"
        # One-row settings (Empresa, Parâmetros, Telefonia) open straight on their form.
        page = client.get(f"/admin/{view.endpoint}/", follow_redirects=True)
        assert page.status_code == 200, view.endpoint
        assert "Não existem itens na tabela." not in page.text, view.endpoint


def test_seed_demo_inbox_has_conversations_for_its_agents(app, client):
    """`make run` opens on an inbox with work in it: Bruno (Comercial) sees his
    conversations, answered and one closed with its reason; Carla (Suporte) sees only
    Suporte's waiting ticket."""
    with app.app_context():
        assert load_demo() is True
        for email in ("bruno@demo.atende.local", "carla@demo.atende.local"):
            db.session.scalar(select(User).where(User.email == email)).set_password("senha-segura-1")
        db.session.commit()
    login(client, "bruno@demo.atende.local")
    mine = client.get("/inbox/api/tickets?status=any").get_json()["tickets"]
    assert sorted(t["contact"]["name"] for t in mine) == ["Juliana Prado", "Patrícia Gomes"]
    closed = client.get("/inbox/api/tickets?status=closed").get_json()["tickets"]
    assert [t["contact"]["name"] for t in closed] == ["Patrícia Gomes"]
    detail = client.get(f"/inbox/api/tickets/{mine[0]['id']}").get_json()
    assert all(m["status"] in ("sent", "delivered") for m in detail["messages"])

    other = app.test_client()
    login(other, "carla@demo.atende.local")
    theirs = other.get("/inbox/api/tickets?status=any").get_json()["tickets"]
    assert [(t["contact"]["name"], t["status"]) for t in theirs] == [("Marcos Teixeira", "waiting")]


def test_IMP_3_sample_csv_of_the_demo_imports_with_its_two_bad_rows_reported(app):
    """seed/contatos-exemplo.csv (what the README offers to try) is an Excel pt-BR file:
    three contacts in, the wrong phone and the repeated-digit CPF reported by line."""
    from pathlib import Path

    from backoffice.models import DataJobError
    from backoffice.services import data_jobs

    with app.app_context():
        assert load_demo() is True
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.atende.local"))
        job = data_jobs.import_from_path(
            admin, Path(__file__).resolve().parents[1] / "seed" / "contatos-exemplo.csv")
        assert (job.encoding, job.delimiter) == ("cp1252", ";")
        data_jobs.start_import(job, False, None)
        db.session.refresh(job)
        assert (job.status, job.created, job.rejected) == ("done", 3, 2)
        errors = db.session.execute(select(DataJobError.line, DataJobError.reason)
                                    .order_by(DataJobError.line)).all()
        assert [line for line, _ in errors] == [6, 7]
        assert "Telefone inválido" in errors[0][1] and "dígitos iguais" in errors[1][1]


def test_CHN_1_demo_has_one_provider_connection_per_kind_ready_to_simulate(app):
    """`make run` needs no provider account: the demo company has an active WhatsApp,
    Telegram, Messenger and Instagram connection with placeholder credentials, the
    WhatsApp one with synced templates, and a webhook simulated with the stored secrets
    (what `flask channels simulate` posts) is accepted and becomes a message. The hints
    printed by app.py name those connections."""
    from backoffice.channels import adapter_for
    from backoffice.models import Connection, Message, ProviderTemplate
    from backoffice.seed import demo_hints

    # Meta's profile lookup (the contact's name) must not leave the machine: nothing
    # listens there, and a failed lookup only leaves the name out
    app.config["META_GRAPH_URL"] = "http://127.0.0.1:9/v21.0"
    # nor the demo chatbot's answers on WhatsApp (refused at once, marked failed)
    app.config["WHATSAPP_API_URL"] = "http://127.0.0.1:9/v21.0"
    with app.app_context():
        assert load_demo() is True
        found = {c.kind: c for c in db.session.scalars(select(Connection).where(
            Connection.kind.in_(["whatsapp", "telegram", "messenger", "instagram"])))}
        assert sorted(found) == ["instagram", "messenger", "telegram", "whatsapp"]
        assert all(c.active and c.credentials for c in found.values())
        templates = db.session.scalars(select(ProviderTemplate)).all()
        assert {t.connection_id for t in templates} == {found["whatsapp"].id}
        assert {t.status for t in templates} == {"APPROVED", "PENDING"}
        hints = "\n".join(demo_hints())
        for kind, conn in found.items():
            assert f"channels simulate {kind} --connection {conn.id} " in hints
        assert demo_hints("http://10.0.0.5:8000")[1].endswith("--base-url http://10.0.0.5:8000")
        signed = {kind: adapter_for(conn).simulated("5511987654321" if kind == "whatsapp"
                                                    else "100200300", f"Olá pelo {kind}")
                  for kind, conn in found.items()}
        keys = {kind: conn.public_key for kind, conn in found.items()}
    client = app.test_client()
    for kind, (raw, headers) in signed.items():
        answer = client.post(f"/hooks/{kind}/{keys[kind]}", data=raw, headers=headers)
        assert answer.status_code == 200, (kind, answer.status_code)
    with app.app_context():
        texts = set(db.session.scalars(select(Message.text).where(Message.text.like("Olá pelo %"))))
        assert texts == {f"Olá pelo {kind}" for kind in signed}


def test_AUT_2_demo_whatsapp_has_the_published_entry_flow_and_a_survey(app):
    """Issue 13 point 8: the demo's WhatsApp connection starts the published flow
    "Atendimento WhatsApp" (opening hours -> greeting -> menu Vendas / Suporte / Financeiro,
    the CPF asked before Suporte; out of hours: a message and the queue), the checker
    accepts its graph, Suporte asks the satisfaction survey (AUT-3), a rule (AUT-8) and a
    scheduled message (AUT-5) fill their screens, and loading the automation again creates
    nothing twice."""
    import importlib

    from sqlalchemy import func

    from backoffice.automation.flows import spec
    from backoffice.models import (
        AutomationRule,
        Company,
        Connection,
        Department,
        Flow,
        FlowVersion,
        Period,
        ScheduledMessage,
    )
    from backoffice.seed import DEMO_FLOW_NAME, demo_hints, load_automation

    with app.app_context():
        assert load_demo() is True
        whatsapp = db.session.scalar(select(Connection).where(Connection.kind == "whatsapp"))
        flow = whatsapp.flow
        assert flow is not None and flow.name == DEMO_FLOW_NAME and flow.active
        version = flow.published_version
        assert version is not None and version.number == 1
        nodes = version.graph["nodes"]
        assert sorted(n["type"] for n in nodes.values()).count("transfer") == 4
        start = next(n for n in nodes.values() if n["type"] == "start")
        assert start["next"] == {"next": "horario"}
        condition = nodes["horario"]["data"]["condition"]
        period = db.session.get(Period, condition["period_id"])
        assert period.company_id == flow.company_id and condition["inside"] is True
        assert nodes["menu"]["data"]["options"] == ["Vendas", "Suporte", "Financeiro"]
        assert all(o in nodes["menu"]["next"] for o in spec.required_outlets(nodes["menu"]))
        assert nodes["cpf"]["data"]["field"] == "document"
        assert nodes["cpf"]["data"]["validate"] == "cpf_cnpj"
        assert nodes["fim"]["data"]["close"] is False
        departments = {d.id: d.name for d in db.session.scalars(select(Department))}
        assert {departments[n["data"]["department_id"]] for n in nodes.values()
                if n["type"] == "transfer"} == {"Comercial", "Suporte", "Financeiro"}
        for node in nodes.values():  # every required outlet is linked to a node that exists
            assert all(node["next"].get(o) in nodes for o in spec.required_outlets(node))
        try:
            checker = importlib.import_module("backoffice.automation.flows.checker")
        except ImportError:
            checker = None
        if checker is not None and hasattr(checker, "check"):
            assert checker.check(flow.company_id, version.graph) == []

        surveyed = db.session.scalar(select(Department).where(Department.survey_enabled.is_(True)))
        assert surveyed.name == "Suporte" and surveyed.survey_scale == "csat"
        assert surveyed.survey_flow and surveyed.survey_timeout_message
        assert surveyed.survey_max_inactivity_minutes == 60
        assert any("chatbot" in line for line in demo_hints())
        # the other automation screens have a row too (AUT-5, AUT-8)
        rule = db.session.scalar(select(AutomationRule))
        assert rule.trigger == "message_received" and rule.active
        pending = db.session.scalar(select(ScheduledMessage))
        assert pending.status == "scheduled" and pending.text

        counts = lambda: [db.session.scalar(select(func.count()).select_from(m))
                          for m in (Flow, FlowVersion, Department, Period, AutomationRule,
                                    ScheduledMessage)]
        before = counts()
        assert load_automation(db.session.get(Company, flow.company_id)) is flow
        assert counts() == before and whatsapp.flow_id == flow.id
        assert load_demo() is False


def test_AUT_2_demo_flow_answers_on_whatsapp_in_and_out_of_hours(app, timeline):
    """The demo's entry flow as `make run` shows it (AUT-1, AUT-2): in the opening hours
    the customer gets the greeting and the menu, "2" asks the CPF, a bad one is asked
    again, a valid one is saved on the contact and the ticket goes to Suporte's queue;
    at night the out-of-hours text goes out and the ticket waits in the queue, open."""
    from datetime import datetime

    from backoffice.channels.base import Inbound
    from backoffice.lib import after_commit
    from backoffice.models import Connection, Message, Ticket
    from backoffice.services import tickets
    from backoffice.tenancy import acting_for

    # the bot's answers are delivered eagerly: the provider is nowhere (refused at once)
    app.config["WHATSAPP_API_URL"] = app.config["META_GRAPH_URL"] = "http://127.0.0.1:9/v21.0"

    def chat(phone, *texts):
        with acting_for(company_id):
            for text_ in texts:
                message = tickets.receive_inbound(
                    db.session.get(Connection, whatsapp_id),
                    Inbound(address=phone, phone=phone, name="Cliente Teste", text=text_))
                after_commit.commit()
            ticket = db.session.get(Ticket, message.ticket_id)
            bot = db.session.scalars(select(Message.text).where(
                Message.ticket_id == ticket.id, Message.author_kind == "bot")
                .order_by(Message.id)).all()
            return ticket, bot

    with app.app_context():
        assert load_demo() is True
        whatsapp = db.session.scalar(select(Connection).where(Connection.kind == "whatsapp"))
        company_id, whatsapp_id = whatsapp.company_id, whatsapp.id

        timeline.set(datetime(2026, 12, 1, 15, 0))  # Tuesday, 12:00 in São Paulo
        ticket, bot = chat("5511911112222", "oi", "2", "123", "111.444.777-35")
        assert bot[0].startswith("Olá, Cliente Teste!") and "2 - Suporte" in bot[1]
        assert "CPF" in bot[2] and "não parece válido" in bot[3]
        assert (ticket.status, ticket.department.name) == ("waiting", "Suporte")
        assert ticket.contact.document == "11144477735"

        timeline.set(datetime(2026, 12, 1, 23, 30))  # 20:30 in São Paulo
        ticket, bot = chat("5511955556666", "oi")
        assert len(bot) == 1 and "fora do horário" in bot[0]
        assert ticket.is_open and ticket.department_id is None
