"""PLT-1 outside requests (issue 11): jobs, CLI commands and the periodic sweep act for
one company at a time, so the flush guard refuses another company's rows there as it
does in a request; `flask inbox sweep` runs every periodic task; the model helpers
`owned` and `get_owned` read one company's rows."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import login_user
from sqlalchemy import update

from backoffice.extensions import db
from backoffice.jobs import data as data_jobs_entry
from backoffice.jobs import sending as sending_entry
from backoffice.models import DataJob, Department, Message, User
from backoffice.models import data_jobs as states
from backoffice.models.base import utcnow
from backoffice.models.tickets import AUTHOR_AGENT, OUT, QUEUED
from backoffice.services import data_jobs, sending
from backoffice.tenancy import TenantViolation, acting_for, current_company_id
from tests.factories import gen_agent_setup

CSV = "Nome;Telefone\r\nAna Araújo;(11) 98765-4321\r\nBruno Lima;(21) 99876-5432\r\n"


def rename_b_department(tenants):
    """The bug or attack under test: a write to a row of company B."""
    department = db.session.get(Department, tenants["b"].ids["departments"])
    department.name = "Tomado por A"
    db.session.flush()


def b_department_name(app, tenants) -> str:
    with app.app_context():
        return db.session.get(Department, tenants["b"].ids["departments"]).name


def queued_job(tenant) -> DataJob:
    job = DataJob(company_id=tenant.company_id, user_id=tenant.admin_id,
                  kind=states.KIND_IMPORT, collection="contacts", status=states.QUEUED)
    db.session.add(job)
    db.session.commit()
    return job


def test_PLT_arch_guard_refuses_a_cross_company_write_in_a_request(app, tenants):
    """The control: in company A's request, a write to B's row is refused."""
    before = b_department_name(app, tenants)
    with app.test_request_context():
        login_user(db.session.get(User, tenants["a"].admin_id))
        with pytest.raises(TenantViolation):
            rename_b_department(tenants)
        db.session.rollback()
    assert b_department_name(app, tenants) == before


@pytest.mark.parametrize("entry, service, make", [
    (data_jobs_entry.run_import, (data_jobs, "run_import"), "data_job"),
    (data_jobs_entry.run_export, (data_jobs, "run_export"), "data_job"),
    (sending_entry.deliver, (sending, "deliver"), "message"),
])
def test_PLT_arch_guard_refuses_a_cross_company_write_in_a_job(app, tenants, monkeypatch,
                                                                entry, service, make):
    """A job of company A whose service writes a row of company B is refused at flush."""
    before = b_department_name(app, tenants)
    seen = []

    def evil(_id):
        seen.append(current_company_id())
        rename_b_department(tenants)

    monkeypatch.setattr(*service, evil)
    with app.app_context():
        if make == "data_job":
            work_id = queued_job(tenants["a"]).id
            company_id = tenants["a"].company_id
        else:
            setup = gen_agent_setup(endpoint_url="http://127.0.0.1:9/nada")
            message = Message(company_id=setup.company_id, ticket_id=setup.ticket.id,
                              direction=OUT, author_kind=AUTHOR_AGENT, text="oi",
                              status=QUEUED)
            db.session.add(message)
            db.session.commit()
            work_id, company_id = message.id, setup.company_id
        with pytest.raises(TenantViolation):
            entry(work_id)
        db.session.rollback()
        assert seen == [company_id]
        assert current_company_id() is None  # the job's tenant does not outlive it
    assert b_department_name(app, tenants) == before


def test_PLT_arch_guard_refuses_a_cross_company_write_in_a_cli_command(app, tenants, tmp_path,
                                                                        monkeypatch):
    """`flask contacts import --user <A's admin>` acts for A: a write to B's row is refused."""
    before = b_department_name(app, tenants)

    def evil(user, path):
        rename_b_department(tenants)

    monkeypatch.setattr(data_jobs, "import_from_path", evil)
    path = tmp_path / "contatos.csv"
    path.write_text(CSV, encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["contacts", "import", str(path), "--user", tenants["a"].admin_email])
    assert isinstance(result.exception, TenantViolation), result.output
    assert b_department_name(app, tenants) == before


def test_PLT_arch_acting_for_nests_and_restores(app):
    with app.app_context():
        assert current_company_id() is None
        with acting_for(1):
            with acting_for(2):
                assert current_company_id() == 2
            assert current_company_id() == 1
        assert current_company_id() is None


def test_PLT_arch_inbox_sweep_resumes_a_stalled_import_and_requeues_a_stalled_message(
        app, tenants, tmp_path):
    """The cron command runs every periodic task: before, it re-queued messages only."""
    path = tmp_path / "contatos.csv"
    path.write_text(CSV, encoding="utf-8")
    with app.app_context():
        admin = db.session.get(User, tenants["a"].admin_id)
        with acting_for(admin.company_id):
            job = data_jobs.import_from_path(admin, path)
            data_jobs.start_import(job, False, None, enqueue=False)
        job_id = job.id
        # a worker took it and died: running, no heartbeat for longer than allowed
        db.session.execute(update(DataJob).where(DataJob.id == job_id).values(
            status=states.RUNNING, heartbeat_at=utcnow() - timedelta(minutes=10)))
        setup = gen_agent_setup(endpoint_url="http://127.0.0.1:9/nada")
        message = Message(company_id=setup.company_id, ticket_id=setup.ticket.id,
                          direction=OUT, author_kind=AUTHOR_AGENT, text="parada",
                          status=QUEUED, created_at=utcnow() - timedelta(minutes=1))
        db.session.add(message)
        db.session.commit()
        message_id = message.id

    result = app.test_cli_runner().invoke(args=["inbox", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 mensagem(ns) recolocada(s) na fila." in result.output
    assert "1 importação(ões) ou exportação(ões) recolocada(s) na fila." in result.output
    with app.app_context():
        job = db.session.get(DataJob, job_id)
        assert job.status == states.DONE and job.created == 2, (job.status, job.error)
        # TASK_MODE eager: its delivery job ran and met the dead endpoint (a retry)
        message = db.session.get(Message, message_id)
        assert message.attempts == 1 and message.status == QUEUED and message.error


def test_PLT_arch_owned_and_get_owned_see_one_company(app, tenants):
    a, b = tenants["a"], tenants["b"]
    with app.app_context():
        mine = a.ids["departments"]
        theirs = b.ids["departments"]
        assert Department.get_owned(a.company_id, mine).id == mine
        assert Department.get_owned(a.company_id, str(mine)).id == mine
        assert Department.get_owned(a.company_id, theirs) is None
        for bad in ("1 or 1=1", 2**31, -1, True, None, "²"):
            assert Department.get_owned(a.company_id, bad) is None
        assert Department.get_owned(None, mine) is None
        ids = set(db.session.scalars(Department.owned(a.company_id).with_only_columns(
            Department.id)))
        assert mine in ids and theirs not in ids
        assert {d.company_id for d in db.session.scalars(Department.owned(a.company_id))} == {
            a.company_id}
        # no company (a superuser's): nothing, not "company_id IS NULL"
        assert db.session.scalars(Department.owned(None)).all() == []
