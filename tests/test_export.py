"""Exportar registros (EXP-1): services.exporter, the export job and `flask export`.

The world: company A (tenants["a"], America/Sao_Paulo) with two departments, an agent in
each, company and personal tags, contacts (one owned, one with formula-looking cells),
tickets and messages; company B (tenants["b"]) has look-alike rows marked SEGREDO-B,
which must never show up in A's files.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import event, func, insert, select

from backoffice.cli.export import export_cli
from backoffice.extensions import db
from backoffice.models import (
    AuditLog, Company, Contact, ContactField, DataJob, Message, PermissionGroup, User,
)
from backoffice.models import data_jobs as states
from backoffice.services import RuleError, data_jobs, exporter
from backoffice.services.settings import get_settings
from tests.factories import (
    gen_connection, gen_contact, gen_department, gen_reason, gen_tag, gen_ticket, gen_user,
)

BOM = b"\xef\xbb\xbf"
AT_0230_UTC = datetime(2026, 3, 10, 2, 30)  # 09/03/2026 23:30 in São Paulo (UTC-3)
ALL = list(exporter.COLLECTIONS)


@dataclass
class World:
    company_id: int
    admin: str      # every right (inbox.supervise and contacts.supervise included)
    ana: str        # agent of Vendas (the default Atendente group)
    bruno: str      # agent of Suporte
    nobody: str     # a group with company.view only
    ids: dict


def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def _group(company_id: int, name: str) -> PermissionGroup:
    return db.session.scalar(select(PermissionGroup).where(
        PermissionGroup.company_id == company_id, PermissionGroup.name == name))


def _build_company(company_id: int, key: str, marker: str) -> dict:
    """Departments, agents, tags, contacts, tickets and messages of one company."""
    company = db.session.get(Company, company_id)
    agents = _group(company_id, "Atendente")
    ana = gen_user(company, f"ana-{key}@example.com", agents, name=f"Ana {marker}")
    bruno = gen_user(company, f"bruno-{key}@example.com", agents, name=f"Bruno {marker}")
    db.session.flush()
    sales = gen_department(company, f"Vendas {marker}", members=[(ana, True, False)])
    support = gen_department(company, f"Suporte {marker}", members=[(bruno, True, False)],
                             active=False)
    admin = db.session.scalar(select(User).where(User.email == f"admin-{key}@example.com"))
    vip = gen_tag(company, f"VIP {marker}")
    mine = gen_tag(company, f"Minha do admin {marker}", owner=admin)
    anas = gen_tag(company, f"Segredo da Ana {marker}", owner=ana)
    field = ContactField(company_id=company_id, label="Código no ERP", key="codigo_no_erp")
    db.session.add(field)
    db.session.flush()

    conn = gen_connection(company_id, f"Webchat {marker}")
    maria = gen_contact(conn, name=f"Maria {marker}", address=f"token-secreto-{key}",
                        email="maria@example.com", phone="+5511987654321")
    maria.document, maria.person_type = "52998224725", "PF"
    maria.tags = [vip, mine]
    maria.custom_fields = {"codigo_no_erp": "ERP-1"}
    maria.created_at = AT_0230_UTC
    evil = gen_contact(conn, name='=HYPERLINK("x")', address=f"evil-{key}", email="@SUM(1)")
    evil.notes = "+5511987654321"
    evil.custom_fields = {"codigo_no_erp": "-1"}
    owned = gen_contact(conn, name=f"Joana da carteira do Bruno {marker}", address=f"jo-{key}")
    owned.owner_id = bruno.id
    anas_own = gen_contact(conn, name=f"Pedro da carteira da Ana {marker}", address=f"pe-{key}")
    anas_own.owner_id = ana.id

    t_sales = gen_ticket(conn, contact=maria, department=sales, agent=ana, tags=[vip, mine],
                         text=f"Quero comprar {marker}")
    t_sales.created_at = AT_0230_UTC
    t_support = gen_ticket(conn, contact=owned, department=support, status="closed",
                           text=f"Problema no suporte {marker}")
    t_support.created_at = datetime(2026, 4, 2, 15, 0)
    t_none = gen_ticket(conn, contact=evil, text=f"Sem departamento {marker}")
    t_none.created_at = datetime(2026, 5, 1, 12, 0)
    db.session.flush()
    m_sales = db.session.scalar(select(Message).where(Message.ticket_id == t_sales.id))
    m_sales.created_at = AT_0230_UTC
    m_sales.tags = [vip]
    m_failed = Message(company_id=company_id, ticket_id=t_support.id, direction="out",
                       author_kind="agent", author_id=bruno.id, text=f"Resposta {marker}",
                       status="failed", error="timeout", created_at=datetime(2026, 4, 2, 15, 5))
    db.session.add(m_failed)

    reason = gen_reason(company, f"Venda fechada {marker}", active=False, departments=[sales])
    db.session.add(AuditLog(company_id=company_id, user_id=admin.id, user_name=admin.name,
                            action="create", table="webhook", row_id="9",
                            row_label=f"Webhook {marker}",
                            changes={"secret": [None, "s3nha-do-webhook"],
                                     "endpoint_secret": [None, "outro-segredo"],
                                     "name": [None, f"Webhook {marker}"]},
                            at=datetime(2026, 6, 1, 2, 0)))
    db.session.flush()
    return {"ana": ana.email, "bruno": bruno.email, "sales": sales.id, "support": support.id,
            "vip": vip.id, "mine": mine.id, "anas": anas.id, "t_sales": t_sales.id,
            "t_support": t_support.id, "t_none": t_none.id, "reason": reason.id}


@pytest.fixture
def world(app, tenants) -> World:
    with app.app_context():
        a, b = tenants["a"], tenants["b"]
        ids = _build_company(a.company_id, "a", "Alfa")
        ids["b"] = _build_company(b.company_id, "b", "SEGREDO-B")
        ids["b_company"] = b.company_id
        db.session.commit()
        return World(company_id=a.company_id, admin=a.admin_email, ana=ids["ana"],
                     bruno=ids["bruno"], nobody="agente-a@example.com", ids=ids)


def run(email: str, key: str, **filters) -> tuple[bytes, list[list[str]]]:
    """Start and run an export as `email`; the file's bytes and its parsed rows."""
    job = data_jobs.start_export(_user(email), key, filters, enqueue=False)
    data_jobs.run_export(job.id)
    db.session.expire_all()
    job = db.session.get(DataJob, job.id)
    assert job.status == states.DONE, job.error
    raw = data_jobs.job_path(job).read_bytes()
    return raw, parse(raw)


def parse(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))


def column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [r[index] for r in rows[1:]]


# -- the file ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL)
def test_EXP_1_every_collection_exports_header_and_rows(app, world, key):
    with app.app_context():
        raw, rows = run(world.admin, key)
        assert raw.startswith(BOM)
        assert len(rows) >= 2, rows  # the header and at least one row
        assert all(len(r) == len(rows[0]) for r in rows)
        assert b"SEGREDO-B" not in raw  # tenant isolation, every collection
        job = db.session.scalar(select(DataJob).order_by(DataJob.id.desc()))
        assert job.file_name == exporter.file_name(key)
        assert job.processed == job.total == len(rows) - 1


def test_EXP_1_file_is_excel_csv_bom_semicolon_crlf(app, world):
    with app.app_context():
        raw, rows = run(world.admin, "contacts")
        assert raw.startswith(BOM)
        header_line = raw[len(BOM):].split(b"\r\n", 1)[0].decode()
        # the import's columns first (an export can be imported back), then custom fields
        assert header_line.startswith("Nome;Telefone;E-mail;Tipo de pessoa;CPF/CNPJ;Etiquetas;"
                                      "Carteira;Observações;")
        assert header_line.endswith(";Código no ERP;Criado em")
        assert raw.count(b"\r\n") == len(rows)
        assert b"\n" not in raw.replace(b"\r\n", b"")


def test_EXP_1_formula_cells_are_neutralised(app, world):
    with app.app_context():
        raw, rows = run(world.admin, "contacts")
        evil = next(r for r in rows if "HYPERLINK" in r[0])
        assert evil[0] == "'=HYPERLINK(\"x\")"
        assert column([rows[0], evil], "E-mail") == ["'@SUM(1)"]
        assert column([rows[0], evil], "Observações") == ["'+5511987654321"]
        assert column([rows[0], evil], "Código no ERP") == ["'-1"]
        assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)


def test_EXP_1_values_formatted_phone_document_tags_dates(app, world):
    with app.app_context():
        _raw, rows = run(world.admin, "contacts")
        maria = dict(zip(rows[0], next(r for r in rows if r[0] == "Maria Alfa")))
        assert maria["Telefone"] == "(11) 98765-4321"
        assert maria["CPF/CNPJ"] == "529.982.247-25"
        assert maria["Tipo de pessoa"] == "Pessoa física"
        assert maria["Etiquetas"] == "Minha do admin Alfa, VIP Alfa"  # the admin's own tag
        assert maria["Código no ERP"] == "ERP-1"
        # stored 10/03 02:30 UTC is 09/03 23:30 in São Paulo
        assert maria["Criado em"] == "09/03/2026 23:30"

        _raw, rows = run(world.admin, "tickets")
        ticket = dict(zip(rows[0], next(r for r in rows if r[0] == str(world.ids["t_sales"]))))
        assert ticket["Aberto em"] == "09/03/2026 23:30"
        assert ticket["Situação"] == "Em andamento"
        assert ticket["Favorito"] == "Não"
        assert ticket["Atendente"] == "Ana Alfa"
        assert ticket["Departamento"] == "Vendas Alfa"


def test_EXP_1_dates_follow_the_company_time_zone(app, world):
    with app.app_context():
        db.session.get(Company, world.company_id).timezone = "Asia/Tokyo"
        db.session.commit()
        _raw, rows = run(world.admin, "tickets", date_from="2026-03-10", date_to="2026-03-10")
        assert column(rows, "ID") == [str(world.ids["t_sales"])]
        assert column(rows, "Aberto em") == ["10/03/2026 11:30"]


def test_EXP_1_secrets_never_exported(app, world):
    with app.app_context():
        raw_contacts, _rows = run(world.admin, "contacts")
        assert b"token-secreto-a" not in raw_contacts  # webchat visitor token
        raw_users, rows = run(world.admin, "users")
        hashes = db.session.scalars(select(User.password_hash)).all()
        assert not any(h.encode() in raw_users for h in hashes)
        assert not any("senha" in h.lower() or "hash" in h.lower() for h in rows[0])
        raw_audit, rows = run(world.admin, "audit")
        assert b"s3nha-do-webhook" not in raw_audit and b"outro-segredo" not in raw_audit
        # UX-4: told in the screen's words, the value hidden
        assert "Segredo: ••••••" in column(rows, "Alterações")[-1]


# -- filters -------------------------------------------------------------------------------


def test_EXP_1_date_range_whole_local_days(app, world):
    with app.app_context():
        # 02:30 UTC on the 10th is the 9th in São Paulo
        _raw, rows = run(world.admin, "tickets", date_from="2026-03-09", date_to="2026-03-09")
        assert column(rows, "ID") == [str(world.ids["t_sales"])]
        _raw, rows = run(world.admin, "tickets", date_from="2026-03-10")
        assert str(world.ids["t_sales"]) not in column(rows, "ID")
        assert {str(world.ids["t_support"]), str(world.ids["t_none"])} <= set(column(rows, "ID"))
        _raw, rows = run(world.admin, "tickets", date_to="2026-04-02")  # inclusive
        assert set(column(rows, "ID")) == {str(world.ids["t_sales"]), str(world.ids["t_support"])}
        _raw, rows = run(world.admin, "contacts", date_to="2026-03-09")
        assert column(rows, "Nome") == ["Maria Alfa"]
        _raw, rows = run(world.admin, "messages", date_from="2026-03-09", date_to="2026-03-09")
        assert len(rows) == 2 and rows[1][4] == "09/03/2026 23:30"
        _raw, rows = run(world.admin, "audit", date_from="2026-05-31", date_to="2026-05-31")
        assert column(rows, "Descrição") == ["Webhook Alfa"]  # 01/06 02:00 UTC


def test_EXP_1_department_filter(app, world):
    with app.app_context():
        sales, support = world.ids["sales"], world.ids["support"]
        _raw, rows = run(world.admin, "tickets", department_id=str(sales))
        assert column(rows, "ID") == [str(world.ids["t_sales"])]
        _raw, rows = run(world.admin, "messages", department_id=support)
        assert set(column(rows, "Departamento")) == {"Suporte Alfa"} and len(rows) == 3
        _raw, rows = run(world.admin, "users", department_id=sales)
        assert column(rows, "Nome") == ["Ana Alfa"]
        assert column(rows, "Departamentos") == ["Vendas Alfa"]
        assert column(rows, "Grupo de permissão") == ["Atendente"]
        assert column(rows, "Idioma") == ["Idioma da empresa"]
        _raw, rows = run(world.admin, "reasons", department_id=sales)
        assert column(rows, "Nome") == ["Venda fechada Alfa"]
        _raw, rows = run(world.admin, "reasons", department_id=support)
        assert len(rows) == 1


def test_EXP_1_status_filter(app, world):
    with app.app_context():
        _raw, rows = run(world.admin, "tickets", status="closed")
        assert column(rows, "ID") == [str(world.ids["t_support"])]
        assert column(rows, "Situação") == ["Finalizado"]
        _raw, rows = run(world.admin, "messages", status="failed")
        assert column(rows, "Texto") == ["Resposta Alfa"]
        assert column(rows, "Autor") == ["Bruno Alfa"] and column(rows, "Erro") == ["timeout"]
        _raw, rows = run(world.admin, "departments", status="inactive")
        assert column(rows, "Nome") == ["Suporte Alfa"]
        _raw, rows = run(world.admin, "reasons", status="active")
        assert "Venda fechada Alfa" not in column(rows, "Nome")
        db.session.execute(User.__table__.update().where(User.email == world.bruno)
                           .values(active=False))
        db.session.commit()
        _raw, rows = run(world.admin, "users", status="inactive")
        assert column(rows, "Nome") == ["Bruno Alfa"] and column(rows, "Ativo") == ["Não"]


def test_EXP_1_tag_filter(app, world):
    with app.app_context():
        vip = world.ids["vip"]
        _raw, rows = run(world.admin, "contacts", tag_id=str(vip))
        assert column(rows, "Nome") == ["Maria Alfa"]
        _raw, rows = run(world.admin, "tickets", tag_id=vip)
        assert column(rows, "ID") == [str(world.ids["t_sales"])]
        _raw, rows = run(world.admin, "messages", tag_id=vip)
        assert column(rows, "Texto") == ["Quero comprar Alfa"]
        assert column(rows, "Etiquetas") == ["VIP Alfa"]


def test_EXP_1_filters_that_do_not_apply_or_are_blank_are_dropped(app, world):
    with app.app_context():
        admin = _user(world.admin)
        assert exporter.check(admin, "tags", {"status": "open", "date_from": "x",
                                              "department_id": "zzz"}) == {}
        assert exporter.check(admin, "tickets", {"date_from": "", "date_to": "  ",
                                                 "status": None, "tag_id": ""}) == {}
        clean = exporter.check(admin, "tickets", {"date_from": "2026-01-01", "status": "open",
                                                  "department_id": str(world.ids["sales"]),
                                                  "tag_id": str(world.ids["vip"]), "evil": 1})
        assert clean == {"date_from": "2026-01-01", "status": "open",
                         "department_id": world.ids["sales"], "tag_id": world.ids["vip"]}
        assert exporter.check(admin, "tickets", clean) == clean  # stored on the job, re-checked


@pytest.mark.parametrize("key, filters, message", [
    ("nada", {}, "Coleção desconhecida"),
    ("tickets", {"date_from": "10/03/2026"}, "Data inicial inválida: use o formato AAAA-MM-DD"),
    ("tickets", {"date_to": "2026-02-30"}, "Data final inválida"),
    ("tickets", {"date_from": "20260310"}, "AAAA-MM-DD"),
    ("tickets", {"date_from": "2026-03-10", "date_to": "2026-03-09"},
     "A data inicial é posterior à data final."),
    ("tickets", {"department_id": "b_sales"}, "Departamento não encontrado."),
    ("tickets", {"department_id": "1 or 1=1"}, "Departamento não encontrado."),
    ("tickets", {"tag_id": "b_vip"}, "Etiqueta não encontrada."),
    ("tickets", {"tag_id": "anas"}, "Etiqueta não encontrada."),  # another user's own tag
    ("tickets", {"status": "deleted"}, "Situação desconhecida"),
    ("users", {"status": "open"}, "Situação desconhecida"),
])
def test_EXP_1_bad_filters_give_portuguese_rule_errors(app, world, key, filters, message):
    resolved = {"b_sales": world.ids["b"]["sales"], "b_vip": world.ids["b"]["vip"],
                "anas": world.ids["anas"]}
    filters = {k: resolved.get(v, v) for k, v in filters.items()}
    with app.app_context():
        with pytest.raises(RuleError, match=message):
            data_jobs.start_export(_user(world.admin), key, filters, enqueue=False)
        assert db.session.scalar(select(DataJob.id)) is None  # nothing recorded


# -- who sees what -------------------------------------------------------------------------


def test_EXP_1_group_without_the_right_is_refused(app, world):
    with app.app_context():
        nobody = _user(world.nobody)  # "Grupo secreto A": company.view only
        assert exporter.collections_for(nobody) == []
        for key in ALL:
            with pytest.raises(RuleError, match="Seu grupo de permissão não permite exportar"):
                exporter.check(nobody, key, {})
        ana = _user(world.ana)  # the Atendente group: inbox and contacts
        assert [k for k, _label in exporter.collections_for(ana)] == ["contacts", "tickets",
                                                                      "messages"]
        with pytest.raises(RuleError):
            exporter.check(ana, "users", {})
        admin = _user(world.admin)
        assert exporter.collections_for(admin) == [
            ("contacts", "Contatos"), ("tickets", "Atendimentos"), ("messages", "Mensagens"),
            ("users", "Usuários"), ("departments", "Departamentos"), ("tags", "Etiquetas"),
            ("reasons", "Motivos de atendimento"), ("audit", "Auditoria")]


def test_EXP_1_right_removed_after_start_fails_the_job(app, world):
    with app.app_context():
        admin = _user(world.admin)
        job = data_jobs.start_export(admin, "audit", {}, enqueue=False)
        group = admin.group
        group.rights = [r for r in group.rights if r != "audit.view"]
        db.session.commit()
        data_jobs.run_export(job.id)
        job = db.session.get(DataJob, job.id)
        assert job.status == states.FAILED
        assert "não permite exportar auditoria" in job.error


def test_EXP_1_agent_exports_only_tickets_they_may_see(app, world):
    with app.app_context():
        _raw, rows = run(world.ana, "tickets")
        # Vendas (her department) and the ticket with no department; not Suporte's
        assert set(column(rows, "ID")) == {str(world.ids["t_sales"]), str(world.ids["t_none"])}
        raw, rows = run(world.ana, "messages")
        assert b"Problema no suporte" not in raw and b"Resposta Alfa" not in raw
        assert "Quero comprar Alfa" in column(rows, "Texto")
        _raw, rows = run(world.bruno, "tickets", department_id=world.ids["sales"])
        assert len(rows) == 1  # a department filter never widens what one may see


def test_EXP_1_personal_tags_of_others_never_leak(app, world):
    with app.app_context():
        agents = _user(world.ana).group
        agents.rights = [*agents.rights, "tags.view"]
        db.session.commit()
        raw, rows = run(world.ana, "tags")
        assert "Segredo da Ana Alfa" in column(rows, "Nome")
        assert "VIP Alfa" in column(rows, "Nome")
        assert b"Minha do admin" not in raw
        raw, rows = run(world.ana, "tickets")
        assert b"Minha do admin" not in raw
        assert "VIP Alfa" in column(rows, "Etiquetas")
        raw, _rows = run(world.ana, "contacts")
        assert b"Minha do admin" not in raw
        raw, rows = run(world.admin, "tags")
        assert b"Segredo da Ana" not in raw
        kinds = dict(zip(column(rows, "Nome"), column(rows, "Tipo")))
        assert kinds["Minha do admin Alfa"] == "Pessoal" and kinds["VIP Alfa"] == "Da empresa"


def test_EXP_1_wallet_limits_agents_contacts(app, world):
    with app.app_context():
        _raw, rows = run(world.ana, "contacts")
        assert "Joana da carteira do Bruno Alfa" in column(rows, "Nome")  # wallets off: all
        get_settings(world.company_id).wallet_enabled = True
        db.session.commit()
        _raw, rows = run(world.ana, "contacts")
        names = column(rows, "Nome")
        assert "Pedro da carteira da Ana Alfa" in names  # her own
        assert "Maria Alfa" in names  # nobody's
        assert "Joana da carteira do Bruno Alfa" not in names
        assert column(rows, "Carteira")[names.index("Pedro da carteira da Ana Alfa")] == world.ana
        _raw, rows = run(world.admin, "contacts")  # contacts.supervise: every carteira
        assert "Joana da carteira do Bruno Alfa" in column(rows, "Nome")


def test_EXP_1_tenant_isolation_with_look_alike_rows(app, world):
    with app.app_context():
        for key in ALL:
            raw, _rows = run(world.admin, key)
            assert b"SEGREDO-B" not in raw and b"Beta" not in raw, key
            assert b"admin-b@" not in raw and b"agente-b@" not in raw, key
            # populate_company's rows of B ("Contato exclusivo B", "Registro auditado B", ...)
            assert not re.search(rb"(?i)(exclusiv[oa]|auditado) B\b", raw), key
        # B's admin sees B's rows and none of A's
        raw, rows = run("admin-b@example.com", "tickets")
        b = world.ids["b"]
        assert b"Alfa" not in raw
        assert set(column(rows, "ID")) == {str(b[k]) for k in ("t_sales", "t_support", "t_none")}


def test_EXP_1_job_outside_request_uses_the_users_company(app, world):
    """rows() filters by user.company_id, never the request's company."""
    with app.test_request_context("/"):
        header, total, it = exporter.rows(_user("admin-b@example.com"), "reasons", {})
        names = [r[1] for r in it]
        assert total == len(names) and "Venda fechada SEGREDO-B" in names
        assert "Venda fechada Alfa" not in names and header[1] == "Nome"


# -- paging --------------------------------------------------------------------------------


def test_EXP_1_paging_across_pages_yields_each_row_once(app, world):
    with app.app_context():
        now = datetime(2026, 1, 1, 12, 0)
        db.session.execute(insert(Contact), [
            {"company_id": world.company_id, "name": f"Lote {i:04d}", "created_at": now,
             "updated_at": now} for i in range(2500)])
        db.session.execute(insert(Contact), [  # the other company's, interleaved ids
            {"company_id": world.ids["b_company"], "name": f"SEGREDO-B {i}", "created_at": now,
             "updated_at": now} for i in range(300)])
        db.session.commit()
        before = db.session.scalar(select(func.count(Contact.id)).where(
            Contact.company_id == world.company_id)) - 2500
        statements = []

        def count(*args):
            statements.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            header, total, it = exporter.rows(_user(world.admin), "contacts", {})
            names = [r[0] for r in it]
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert total == 2500 + before == len(names) == len(set(names))
        assert sum(n.startswith("Lote ") for n in names) == 2500
        assert not any("SEGREDO-B" in n for n in names)
        # 3 pages of ids, a detail and a tags query each, plus the setup: no query per row
        assert len(statements) < 25, len(statements)

        raw, rows = run(world.admin, "contacts")
        assert len(rows) - 1 == total
        job = db.session.scalar(select(DataJob).order_by(DataJob.id.desc()))
        assert job.total == job.processed == total and job.percent == 100


def test_EXP_1_progress_is_committed_while_running(app, world, monkeypatch):
    """run_export commits between pages; the keyset iterator must survive it."""
    with app.app_context():
        now = datetime(2026, 1, 1, 12, 0)
        db.session.execute(insert(Contact), [
            {"company_id": world.company_id, "name": f"Lote {i:04d}", "created_at": now,
             "updated_at": now} for i in range(4100)])
        db.session.commit()
        seen = []
        original = data_jobs._export_progress

        def spy(job_id, done):
            original(job_id, done)
            seen.append(db.session.get(DataJob, job_id).processed)

        monkeypatch.setattr(data_jobs, "_export_progress", spy)
        _raw, rows = run(world.admin, "contacts")
        assert seen == [2000, 4000]
        names = column(rows, "Nome")
        assert sum(n.startswith("Lote ") for n in names) == 4100 and len(set(names)) == len(names)


# -- the command line ----------------------------------------------------------------------


def test_EXP_1_cli_writes_the_file(app, world, tmp_path):
    target = tmp_path / "saida.csv"
    with app.app_context():
        result = app.test_cli_runner().invoke(export_cli, [
            "tickets", "--user", world.admin, "--from", "2026-03-09", "--to", "2026-03-09",
            "--output", str(target)])
        assert result.exit_code == 0, result.output
        assert "1 linha(s) exportada(s)" in result.output
        raw = target.read_bytes()
        assert raw.startswith(BOM)
        assert column(parse(raw), "ID") == [str(world.ids["t_sales"])]


def test_EXP_1_cli_default_output_in_current_directory(app, world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with app.app_context():
        result = app.test_cli_runner().invoke(export_cli, [
            "tags", "--user", world.admin.upper()])
        assert result.exit_code == 0, result.output
        written = tmp_path / exporter.file_name("tags")
        assert written.name.startswith("etiquetas-") and written.is_file()
        assert b"VIP Alfa" in written.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["tickets", "--user", "ninguem@example.com"], "Erro: Usuário não encontrado"),
    (["nada", "--user", "{admin}"], "Erro: Coleção desconhecida"),
    (["users", "--user", "{ana}"], "Seu grupo de permissão não permite exportar usuários"),
    (["tickets", "--user", "{admin}", "--from", "ontem"], "Data inicial inválida"),
    (["tickets", "--user", "{admin}", "--status", "xyz"], "Situação desconhecida"),
])
def test_EXP_1_cli_fails_clearly(app, world, tmp_path, args, message):
    args = [a.format(admin=world.admin, ana=world.ana) for a in args]
    with app.app_context():
        result = app.test_cli_runner().invoke(export_cli, [*args, "--output",
                                                           str(tmp_path / "x.csv")])
        assert result.exit_code != 0
        assert message in result.output
        assert not (tmp_path / "x.csv").exists()


def test_EXP_1_cli_refuses_an_inactive_user(app, world, tmp_path):
    with app.app_context():
        _user(world.admin).active = False
        db.session.commit()
        result = app.test_cli_runner().invoke(export_cli, [
            "tags", "--user", world.admin, "--output", str(tmp_path / "x.csv")])
        assert result.exit_code == 1
        assert "Erro: Usuário não encontrado ou inativo" in result.output
        assert db.session.scalar(select(DataJob.id)) is None


def test_EXP_1_screen_helpers(app):
    assert exporter.filters_for("tickets") == ("date_from", "date_to", "department_id",
                                               "status", "tag_id")
    assert exporter.filters_for("tags") == ()
    assert exporter.filters_for("nada") == ()
    with app.app_context():
        assert exporter.status_choices("tickets") == [
            ("waiting", "Sem atendente"), ("open", "Em andamento"),
            ("pending", "Aguardando resposta"), ("closed", "Finalizado")]
        assert ("failed", "Falha no envio") in exporter.status_choices("messages")
        assert exporter.status_choices("users") == [("active", "Ativo"), ("inactive", "Inativo")]
        assert exporter.status_choices("audit") == []
    name = exporter.file_name("contacts")
    assert name.startswith("contatos-") and name.endswith(".csv")
