"""Controle de pausa: PAU-1 (only with the right), PAU-2 (edit yes, delete never), and the
service behind "Iniciar Pausa" (PAU-3: active pauses of my departments, window now)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Department, Pause, User
from backoffice.services.pauses import available_pauses
from tests.conftest import login
from tests.factories import gen_department, gen_group, gen_pause, gen_user


def _dept(app, company_id):
    with app.app_context():
        return db.session.scalar(select(Department.id).where(Department.company_id == company_id))


def _form(dept_id, **over):
    data = {"name": "Almoço", "active": "y", "departments": [str(dept_id)],
            "windows-0-weekdays": ["0", "1", "2", "3", "4"],
            "windows-0-start_time": "11:00", "windows-0-end_time": "14:00"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _count(app):
    with app.app_context():
        return db.session.scalar(select(func.count(Pause.id)))


@pytest.fixture
def a_admin(app, tenants, client):
    login(client, tenants["a"].admin_email)
    return client


def test_PAU_2_admin_creates_pause_with_departments_and_windows(app, tenants, a_admin):
    dept = _dept(app, tenants["a"].company_id)
    resp = a_admin.submit("/admin/pauses/new/", _form(dept, **{
        "windows-1-weekdays": ["5"], "windows-1-start_time": "09:00", "windows-1-end_time": "10:00"}))
    assert resp.status_code == 302
    with app.app_context():
        pause = db.session.scalar(select(Pause).where(Pause.name == "Almoço"))
        assert pause.company_id == tenants["a"].company_id
        assert [d.id for d in pause.departments] == [dept]
        assert [(w.weekdays, w.start_time.isoformat("minutes"), w.end_time.isoformat("minutes"))
                for w in pause.windows] == [([0, 1, 2, 3, 4], "11:00", "14:00"), ([5], "09:00", "10:00")]
        assert all(w.company_id == tenants["a"].company_id for w in pause.windows)
    listing = a_admin.get("/admin/pauses/")
    assert "Almoço" in listing.text and "Seg, Ter, Qua, Qui, Sex 11:00–14:00" in listing.text


@pytest.mark.parametrize("override, message", [
    ({"windows-0-weekdays": None}, "Marque ao menos um dia da semana."),
    ({"windows-0-end_time": "11:00"}, "O fim deve ser diferente do início."),
    ({"departments": None}, "Escolha ao menos um departamento."),
    ({"windows-0-weekdays": None, "windows-0-start_time": None, "windows-0-end_time": None},
     None),
])
def test_PAU_2_invalid_pause_is_refused_and_nothing_saved(app, tenants, a_admin, override, message):
    before = _count(app)
    data = _form(_dept(app, tenants["a"].company_id), **override)
    if message is None:  # no window at all
        data = {k: v for k, v in data.items() if not k.startswith("windows-")}
        message = "Cadastre ao menos um horário de disponibilidade para a pausa."
    page = a_admin.submit("/admin/pauses/new/", data)
    assert page.status_code == 200 and message in page.text
    assert _count(app) == before


def test_PAU_2_department_of_another_company_is_refused(app, tenants, a_admin):
    before = _count(app)
    page = a_admin.submit("/admin/pauses/new/", _form(_dept(app, tenants["b"].company_id)))
    assert "não pertence à sua empresa" in page.text
    assert _count(app) == before


def test_PAU_2_pauses_are_edited_but_never_deleted(app, tenants, a_admin):
    pid = tenants["a"].ids["pauses"]
    listing = a_admin.get("/admin/pauses/")
    assert "/admin/pauses/delete/" not in listing.text  # no delete button
    a_admin.submit("/admin/pauses/delete/", {"id": str(pid)})
    a_admin.submit("/admin/pauses/action/", {"action": "delete", "rowid": str(pid)})
    with app.app_context():
        pause = db.session.get(Pause, pid)
        assert pause is not None
        window = pause.windows[0]
    resp = a_admin.submit(f"/admin/pauses/edit/?id={pid}", _form(
        _dept(app, tenants["a"].company_id), name=pause.name, active="",
        **{"windows-0-id": str(window.id)}))
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Pause, pid).active is False  # "Inativo" instead of deleting


def test_PAU_1_only_groups_with_the_right_configure_pauses(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "sem-pausa@example.com", gen_group(company, "Sem pausas", ["users.view"]))
        gen_user(company, "com-pausa@example.com",
                 gen_group(company, "Com pausas", ["pauses.view", "pauses.create", "pauses.edit"]))
        db.session.commit()
    without, with_right = app.test_client(), app.test_client()
    login(without, "sem-pausa@example.com")
    login(with_right, "com-pausa@example.com")
    assert without.get("/admin/pauses/").status_code == 403
    assert with_right.get("/admin/pauses/").status_code == 200


# -- PAU-3 service: what "Iniciar Pausa" offers -------------------------------------------

# 2026-11-23 is a Monday; 14:00 UTC is 11:00 in São Paulo.
MONDAY_11H_SP = datetime(2026, 11, 23, 14, 0, tzinfo=timezone.utc)


@pytest.fixture
def agents(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        sales = gen_department(company, "Vendas", order=5)
        support = gen_department(company, "Suporte", order=6)
        ana = gen_user(company, "ana@example.com")
        beto = gen_user(company, "beto@example.com")
        db.session.flush()
        from backoffice.models import DepartmentMember
        db.session.add_all([DepartmentMember(company_id=company.id, department=sales, user=ana),
                            DepartmentMember(company_id=company.id, department=support, user=beto)])
        gen_pause(company, "Almoço", [sales], [(range(5), "11:00", "14:00")])
        gen_pause(company, "Café", [sales, support], [(range(7), "09:00", "17:00")])
        gen_pause(company, "Plantão", [sales], [([0], "22:00", "06:00")])
        gen_pause(company, "Antiga", [sales], [(range(7), "00:00", "23:59")], active=False)
        db.session.commit()
        return {"ana": ana.id, "beto": beto.id}


def _names(app, user_id, at):
    with app.app_context():
        return [p.name for p in available_pauses(db.session.get(User, user_id), at)]


def test_PAU_3_offers_active_pauses_of_my_departments_open_now(app, agents):
    assert _names(app, agents["ana"], MONDAY_11H_SP) == ["Almoço", "Café"]
    assert _names(app, agents["beto"], MONDAY_11H_SP) == ["Café"]  # Almoço is Vendas only


def test_PAU_3_window_is_read_on_the_company_clock(app, agents):
    # 13:30 UTC is 10:30 in São Paulo: before lunch opens at 11:00
    assert _names(app, agents["ana"], datetime(2026, 11, 23, 13, 30, tzinfo=timezone.utc)) == ["Café"]
    # Saturday 12:00 in São Paulo: lunch is weekdays only
    assert _names(app, agents["ana"], datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)) == ["Café"]


def test_PAU_3_overnight_window_runs_past_midnight(app, agents):
    # Tuesday 02:00 in São Paulo (05:00 UTC) is inside Monday's 22:00–06:00 window
    assert "Plantão" in _names(app, agents["ana"], datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc))
    # Tuesday 23:00 is not: the window starts on Mondays only
    assert "Plantão" not in _names(app, agents["ana"], datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc))


def test_PAU_3_user_without_department_gets_no_pause(app, tenants, agents):
    with app.app_context():
        loner = gen_user(db.session.get(Company, tenants["a"].company_id), "sozinho@example.com")
        db.session.commit()
        assert available_pauses(loner, MONDAY_11H_SP) == []
