"""SEC-3: the import screen respects the carteira (WAL-1). An import job is seen only
by its owner and by users who may see every carteira (contacts.supervise); running it
applies the wallet rules of whoever runs it, never the uploader's."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company, Contact, DataJob, User
from backoffice.models import data_jobs as states
from backoffice.services import data_jobs
from backoffice.services.settings import get_settings
from tests.conftest import client_as
from tests.factories import gen_group, gen_user

# Beto's file: renames his own client and has a row the importer rejects.
BETO_FILE = ("Nome;Telefone\r\nRenomeado por Beto;+5511911110002\r\n"
             "Sem Telefone;\r\n").encode("cp1252")
ANA_FILE = "Nome;Telefone\r\nRenomeado pela Ana;+5511911110002\r\n".encode("cp1252")


@pytest.fixture
def world(app, tenants):
    """Company A with carteiras on: agents Ana and Beto (import rights, no supervise),
    Beto's client, and a supervisor. Beto has a draft import and a finished one with a
    rejected row; Ana has a draft that renames Beto's client."""
    rights = ["contacts.view", "contacts.create", "contacts.edit",
              "imports.view", "imports.create"]
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        agents = gen_group(company, "Agentes", rights)
        ana = gen_user(company, "ana@example.com", agents, name="Ana")
        beto = gen_user(company, "beto@example.com", agents, name="Beto")
        gen_user(company, "gerente@example.com",
                 gen_group(company, "Gerentes", rights + ["contacts.supervise"]), name="Gerente")
        db.session.flush()
        client = Contact(company_id=company.id, name="Cliente do Beto", phone="+5511911110002",
                         owner_id=beto.id)
        db.session.add(client)
        get_settings(company.id).wallet_enabled = True
        db.session.commit()
        done = data_jobs.save_upload(beto, io.BytesIO(BETO_FILE), "beto-feito.csv")
        data_jobs.start_import(done, False, None)  # eager: runs here
        draft = data_jobs.save_upload(beto, io.BytesIO(BETO_FILE), "beto-rascunho.csv")
        anas = data_jobs.save_upload(ana, io.BytesIO(ANA_FILE), "ana.csv")
        assert db.session.get(DataJob, done.id).rejected == 1
        return {"done": done.id, "draft": draft.id, "anas": anas.id, "contact": client.id,
                "beto": beto.id, "ana": ana.id}


def contact_name(app, contact_id) -> str:
    with app.app_context():
        return db.session.get(Contact, contact_id).name


def job_of(app, job_id) -> DataJob:
    with app.app_context():
        job = db.session.get(DataJob, job_id)
        db.session.expunge(job)
        return job


def test_SEC_3_wallet_agent_cannot_open_another_users_draft(app, tenants, world):
    """Ana opens Beto's draft import: "not found", none of its rows shown; nor can she
    change its format or poll it."""
    ana = client_as(app, "ana@example.com")
    draft = world["draft"]
    resp = ana.get(f"/admin/data/importar/{draft}")
    assert resp.status_code == 404
    assert "Renomeado por Beto" not in resp.get_data(as_text=True)
    assert ana.get(f"/admin/data/tarefas/{draft}/status").status_code == 404
    assert ana.submit(f"/admin/data/importar/{draft}/formato", {"delimiter": ","}).status_code == 404
    assert job_of(app, draft).delimiter == ";"
    # her own draft still opens
    assert ana.get(f"/admin/data/importar/{world['anas']}").status_code == 200


def test_SEC_3_wallet_agent_cannot_download_another_users_rejected_rows(app, tenants, world):
    """Ana asks for the rejected-rows report of Beto's import: 404, and Beto's import is
    not in her history list."""
    ana = client_as(app, "ana@example.com")
    done = world["done"]
    resp = ana.get(f"/admin/data/importar/{done}/rejeitadas.csv")
    assert resp.status_code == 404
    assert "Sem Telefone" not in resp.get_data(as_text=True)
    page = ana.get("/admin/data/").get_data(as_text=True)
    assert "beto-feito.csv" not in page and f"/admin/data/importar/{done}\"" not in page
    # Beto still gets his own report
    beto = client_as(app, "beto@example.com")
    assert "Sem Telefone" in beto.get(f"/admin/data/importar/{done}/rejeitadas.csv").get_data(
        as_text=True)


def test_SEC_3_wallet_agent_cannot_run_another_users_import_to_change_their_wallet(
        app, tenants, world):
    """Ana runs Beto's draft with "Atualizar: Sim" to rename Beto's client: 404, the
    job stays a draft and the contact keeps its name; resuming is refused alike. Her own
    file with the same row is rejected by her wallet."""
    ana = client_as(app, "ana@example.com")
    draft = world["draft"]
    resp = ana.submit(f"/admin/data/importar/{draft}/executar", {"update": "yes", "fields": "name"})
    assert resp.status_code == 404
    assert job_of(app, draft).status == states.DRAFT
    assert contact_name(app, world["contact"]) == "Cliente do Beto"
    with app.app_context():  # a failed import of Beto's, which Ana tries to resume
        job = db.session.get(DataJob, world["done"])
        job.status, job.update_fields = states.FAILED, ["name"]
        db.session.commit()
    assert ana.submit(f"/admin/data/importar/{world['done']}/retomar", {}).status_code == 404
    assert job_of(app, world["done"]).status == states.FAILED
    # her own import of the same row runs under her wallet: rejected, name unchanged
    anas = world["anas"]
    resp = ana.submit(f"/admin/data/importar/{anas}/executar", {"update": "yes", "fields": "name"})
    assert resp.status_code == 302
    job = job_of(app, anas)
    assert (job.status, job.updated, job.rejected) == (states.DONE, 0, 1)
    assert contact_name(app, world["contact"]) == "Cliente do Beto"


def test_SEC_3_running_applies_the_runners_wallet_not_the_uploaders(app, tenants, world):
    """The supervisor sees Beto's draft and Ana's, runs Ana's (which renames Beto's
    client) and it applies the supervisor's rules: the rename goes through and the job
    records the supervisor as who ran it."""
    boss = client_as(app, "gerente@example.com")
    assert boss.get(f"/admin/data/importar/{world['draft']}").status_code == 200
    assert boss.get(f"/admin/data/importar/{world['done']}/rejeitadas.csv").status_code == 200
    page = boss.get("/admin/data/").get_data(as_text=True)
    assert "beto-feito.csv" in page
    anas = world["anas"]
    resp = boss.submit(f"/admin/data/importar/{anas}/executar", {"update": "yes", "fields": "name"})
    assert resp.status_code == 302
    job = job_of(app, anas)
    assert job.status == states.DONE and (job.updated, job.rejected) == (1, 0)
    with app.app_context():
        assert job.user_id == db.session.scalar(
            select(User.id).where(User.email == "gerente@example.com"))
    assert contact_name(app, world["contact"]) == "Renomeado pela Ana"

