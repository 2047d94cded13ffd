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
        page = client.get(f"/admin/{view.endpoint}/")
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
