"""PLT-7: every configuration change made through the admin is logged with who, when,
which row and what changed (before/after); the log is read-only and per company."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import AuditLog, PermissionGroup, User
from tests.conftest import flashes, login



@pytest.fixture
def a_client(app, tenants):
    # The factory leaves `language` empty; the form always posts one, so set it here or
    # every save would also log language None -> pt_BR.
    with app.app_context():
        for user in db.session.scalars(select(User)):
            user.language = "pt_BR"
        db.session.commit()
    client = app.test_client()
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def group_id(app, company_id, name="Atendente") -> int:
    with app.app_context():
        return db.session.scalar(select(PermissionGroup.id).where(
            PermissionGroup.company_id == company_id, PermissionGroup.name == name))


def user_form(user: User, **over) -> dict:
    data = {"name": user.name, "email": user.email, "password": "",
            "group": str(user.group_id or ""), "active": "y" if user.active else "",
            "language": user.language or "pt_BR"}
    data.update(over)
    return data


def get_user(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def entries(app, **where) -> list[AuditLog]:
    with app.app_context():
        q = select(AuditLog).order_by(AuditLog.id)
        for key, value in where.items():
            q = q.where(getattr(AuditLog, key) == value)
        rows = db.session.scalars(q).all()
        for row in rows:
            db.session.expunge(row)
        return rows


def audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuditLog.id)))


def test_PLT_7_update_records_who_what_and_before_after(app, tenants, a_client):
    a = tenants["a"]
    uid = a.ids["users"]
    user = get_user(app, uid)
    before = len(entries(app, table="user"))
    resp = a_client.submit(f"/admin/users/edit/?id={uid}", user_form(user, name="Agente Renomeado"))
    assert resp.status_code == 302, flashes(resp.text)
    logs = entries(app, table="user", action="update", row_id=str(uid))
    new = [e for e in logs if e.changes != {"name": ["x", "y"]}]  # skip the factory's row
    assert len(entries(app, table="user")) == before + 1
    assert len(new) == 1
    entry = new[0]
    assert entry.company_id == a.company_id
    assert entry.user_id == a.admin_id and entry.user_name == "Admin Alfa Comércio"
    assert entry.changes == {"name": ["Agente Exclusivo A", "Agente Renomeado"]}
    assert entry.row_label == "Agente Renomeado"
    assert entry.at is not None


def test_PLT_7_save_without_changes_writes_no_entry(app, tenants, a_client):
    uid = tenants["a"].ids["users"]
    before = audit_count(app)
    resp = a_client.submit(f"/admin/users/edit/?id={uid}", user_form(get_user(app, uid)))
    assert resp.status_code == 302, flashes(resp.text)
    assert audit_count(app) == before


def test_PLT_7_create_records_the_fields_and_masks_the_password(app, tenants, a_client):
    a = tenants["a"]
    resp = a_client.submit("/admin/users/new/", {
        "name": "Nova Atendente", "email": "Nova@Example.com", "password": "senha-nova-123",
        "group": str(group_id(app, a.company_id)), "active": "y", "language": "pt_BR"})
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.email == "nova@example.com"))
    (entry,) = entries(app, table="user", action="create")
    assert entry.row_id == str(uid) and entry.company_id == a.company_id
    assert entry.user_name == "Admin Alfa Comércio"
    assert entry.changes["name"] == [None, "Nova Atendente"]
    assert entry.changes["email"] == [None, "nova@example.com"]
    assert entry.changes["password_hash"] == [None, "***"]
    assert "senha-nova-123" not in str(entry.changes)
    assert "scrypt" not in str(entry.changes) and "pbkdf2" not in str(entry.changes)


def test_PLT_7_password_change_is_masked(app, tenants, a_client):
    uid = tenants["a"].ids["users"]
    resp = a_client.submit(f"/admin/users/edit/?id={uid}",
                           user_form(get_user(app, uid), password="outra-senha-456"))
    assert resp.status_code == 302, flashes(resp.text)
    (entry,) = [e for e in entries(app, table="user", action="update", row_id=str(uid))
                if "password_hash" in e.changes]
    assert entry.changes == {"password_hash": ["***", "***"]}
    page = a_client.get(f"/admin/audit/details/?id={entry.id}")
    assert page.status_code == 200
    assert "outra-senha-456" not in page.text and "scrypt:" not in page.text


def test_PLT_7_delete_records_a_snapshot(app, tenants, a_client):
    a = tenants["a"]
    uid = a.ids["users"]
    resp = a_client.submit("/admin/users/delete/", {"id": str(uid)})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, uid) is None
    (entry,) = entries(app, table="user", action="delete")
    assert entry.row_id == str(uid) and entry.company_id == a.company_id
    assert entry.row_label == "Agente Exclusivo A"
    assert entry.changes["name"] == ["Agente Exclusivo A", None]
    assert entry.changes["email"] == ["agente-a@example.com", None]
    assert entry.changes["password_hash"] == ["***", None]


def test_PLT_7_group_rights_change_is_logged(app, tenants, a_client):
    a = tenants["a"]
    gid = a.ids["groups"]
    resp = a_client.submit(f"/admin/groups/edit/?id={gid}", {
        "name": "Grupo secreto A", "kind": "system", "description": "",
        "rights": ["company.view", "users.view"]})
    assert resp.status_code == 302, flashes(resp.text)
    (entry,) = entries(app, table="permission_group", action="update")
    assert entry.changes["rights"] == [["company.view"], ["company.view", "users.view"]]


def test_PLT_7_refused_change_writes_no_entry(app, tenants, a_client):
    a = tenants["a"]
    uid = a.ids["users"]
    user = get_user(app, uid)
    before = audit_count(app)
    # Rejected by a rule before the flush: e-mail of another user.
    resp = a_client.submit(f"/admin/users/edit/?id={uid}",
                           user_form(user, name="Nome Novo", email=a.admin_email))
    assert resp.status_code == 200
    assert "Já existe" in resp.text
    # Rejected by a form validator.
    resp = a_client.submit(f"/admin/users/edit/?id={uid}", user_form(user, name="", email="x"))
    assert resp.status_code == 200
    # Rejected after the flush: the only admin moved out of the admin group.
    admin = get_user(app, a.admin_id)
    resp = a_client.submit(f"/admin/users/edit/?id={a.admin_id}",
                           user_form(admin, group=str(group_id(app, a.company_id))))
    assert resp.status_code == 200
    assert "ao menos um administrador" in resp.text
    # Refused create: no password.
    resp = a_client.submit("/admin/users/new/", {
        "name": "Sem Senha", "email": "sem-senha@example.com", "password": "",
        "group": "", "active": "y", "language": "pt_BR"})
    assert resp.status_code == 200
    # Refused delete: oneself.
    resp = a_client.submit("/admin/users/delete/", {"id": str(a.admin_id)})
    assert resp.status_code == 302
    assert audit_count(app) == before
    assert get_user(app, uid).name == "Agente Exclusivo A"
    with app.app_context():
        assert db.session.get(User, a.admin_id) is not None


# -- the Auditoria screen ---------------------------------------------------------------

def test_PLT_7_audit_screen_lists_own_company_only(app, tenants, a_client):
    uid = tenants["a"].ids["users"]
    a_client.submit(f"/admin/users/edit/?id={uid}",
                    user_form(get_user(app, uid), name="Agente Renomeado"))
    b_client = app.test_client()
    login(b_client, tenants["b"].admin_email)
    b_client.submit(f"/admin/users/edit/?id={tenants['b'].ids['users']}",
                    user_form(get_user(app, tenants["b"].ids["users"]), name="Beta Renomeado"))

    page = a_client.get("/admin/audit/")
    assert page.status_code == 200
    assert "Agente Renomeado" in page.text and "Alteração" in page.text
    assert "Registro auditado A" in page.text
    assert "Beta Renomeado" not in page.text and "Registro auditado B" not in page.text

    b_entry = entries(app, company_id=tenants["b"].company_id, row_label="Beta Renomeado")[0]
    for url in (f"/admin/audit/details/?id={b_entry.id}", "/admin/audit/?search=Beta"):
        assert "Beta Renomeado" not in a_client.get(url, follow_redirects=True).text


def test_PLT_7_details_page_shows_before_after_table(app, tenants, a_client):
    uid = tenants["a"].ids["users"]
    a_client.submit(f"/admin/users/edit/?id={uid}",
                    user_form(get_user(app, uid), name="Agente <b>Renomeado</b>"))
    (entry,) = [e for e in entries(app, table="user", row_id=str(uid))
                if e.changes.get("name", [None])[0] == "Agente Exclusivo A"]
    page = a_client.get(f"/admin/audit/details/?id={entry.id}")
    assert page.status_code == 200
    text = page.text
    for header in ("Campo", "Antes", "Depois"):
        assert f"<th>{header}</th>" in text
    # UX-4: the field as the Usuários screen labels it
    assert "<td>Nome</td><td>Agente Exclusivo A</td><td>Agente &lt;b&gt;Renomeado&lt;/b&gt;</td>" in text
    assert "<b>Renomeado</b>" not in text  # values are escaped
    assert "Admin Alfa Comércio" in html.unescape(text)


def test_PLT_7_audit_screen_is_read_only(app, tenants, a_client):
    a = tenants["a"]
    log_id = a.ids["audit"]
    before = audit_count(app)
    page = a_client.get("/admin/audit/")
    assert "/admin/audit/new/" not in page.text and "/admin/audit/edit/" not in page.text
    assert "/admin/audit/delete/" not in page.text

    for url in ("/admin/audit/new/", f"/admin/audit/edit/?id={log_id}"):
        assert a_client.get(url).status_code in (302, 403), url
        resp = a_client.submit(url, {"user_name": "Forjado", "action": "create", "table": "x",
                                     "row_id": "1", "row_label": "Forjado"})
        assert resp.status_code in (302, 403), url
    for resp in (a_client.submit("/admin/audit/delete/", {"id": str(log_id)}),
                 a_client.submit("/admin/audit/action/", {"action": "delete", "rowid": str(log_id)}),
                 a_client.submit("/admin/audit/ajax/update/", {"list_form_pk": str(log_id),
                                                               "user_name": "Forjado"})):
        assert resp.status_code in (302, 400, 403, 404)
    assert audit_count(app) == before
    (entry,) = entries(app, id=log_id)
    assert entry.user_name == "Admin Alfa Comércio" and entry.row_label == "Registro auditado A"


def test_PLT_7_audit_needs_the_audit_right(app, tenants):
    """agente-a's group holds company.view only."""
    client = app.test_client()
    assert login(client, "agente-a@example.com").status_code == 302
    assert client.get("/admin/audit/").status_code == 403
    assert client.get(f"/admin/audit/details/?id={tenants['a'].ids['audit']}").status_code == 403


def test_PLT_7_audit_export_is_own_company_and_masked(app, tenants, a_client):
    uid = tenants["a"].ids["users"]
    a_client.submit(f"/admin/users/edit/?id={uid}",
                    user_form(get_user(app, uid), password="outra-senha-456"))
    csv = a_client.get("/admin/audit/export/csv/")
    assert csv.status_code == 200
    assert "Registro auditado A" in csv.text and "Registro auditado B" not in csv.text
    assert "outra-senha-456" not in csv.text and "scrypt:" not in csv.text


@pytest.mark.parametrize("query", ["?id=abc",
                                   "?id=", "?id=999999", ""])
def test_PLT_7_bad_details_ids_are_never_a_500(app, tenants, a_client, query):
    resp = a_client.get(f"/admin/audit/details/{query}")
    assert resp.status_code in (302, 404)
