"""PLT-4 users screen and PLT-3 grant rules: nobody grants what they lack, nobody raises
their own rights, a company never loses its last administrator."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import AuditLog, Company, PermissionGroup, User
from tests.conftest import login
from tests.factories import gen_group, gen_user


def _group(app, company_id, name):
    with app.app_context():
        return db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == company_id, PermissionGroup.name == name))


def _user(app, email):
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


@pytest.fixture
def manager(app, tenants):
    """A user manager of company A who may edit users and groups but not the audit log."""
    rights = ["users.view", "users.create", "users.edit", "groups.view", "groups.edit", "groups.create"]
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "gerente@example.com", gen_group(company, "Gerentes", rights))
        db.session.commit()
    client = app.test_client()
    login(client, "gerente@example.com")
    return client


def _user_form(**overrides):
    data = {"name": "Nova Pessoa", "email": "nova@example.com", "password": "senha-segura-3",
            "active": "y", "language": "pt_BR"}
    data.update(overrides)
    return data


def test_PLT_4_admin_creates_user_with_group_and_it_can_log_in(app, client, tenants):
    login(client, tenants["a"].admin_email)
    agents = _group(app, tenants["a"].company_id, "Atendente")
    resp = client.submit("/admin/users/new/", _user_form(group=str(agents.id), email="Nova@Example.com"))
    assert resp.status_code == 302
    user = _user(app, "nova@example.com")  # stored lower-case
    assert user.company_id == tenants["a"].company_id and user.group_id == agents.id
    assert login(app.test_client(), "nova@example.com", "senha-segura-3").status_code == 302


def test_PLT_4_new_user_needs_password_valid_email_and_unique_email(app, client, tenants):
    login(client, tenants["a"].admin_email)
    group = str(_group(app, tenants["a"].company_id, "Atendente").id)

    def form(**overrides):  # always with a group: UX-5 refuses a user without one
        return _user_form(group=group, **overrides)

    page = client.submit("/admin/users/new/", form(password=""))
    assert "Informe a senha do novo usuário." in page.text
    page = client.submit("/admin/users/new/", form(email="sem-arroba"))
    assert "Informe um e-mail válido." in page.text
    # e-mails are unique across companies (login is by e-mail alone)
    page = client.submit("/admin/users/new/", form(email=tenants["b"].admin_email))
    assert "Já existe" in page.text
    page = client.submit("/admin/users/new/", form(email=tenants["b"].admin_email.upper()))
    assert "Já existe um usuário com este e-mail." in page.text
    page = client.submit("/admin/users/new/", form(name="x" * 121))
    assert page.status_code == 200 and _user(app, "nova@example.com") is None


def test_PLT_4_editing_without_password_keeps_the_old_one(app, client, tenants):
    login(client, tenants["a"].admin_email)
    uid = tenants["a"].ids["users"]
    resp = client.submit(f"/admin/users/edit/?id={uid}",
                         _user_form(name="Renomeado", email="agente-a@example.com", password=""))
    assert resp.status_code == 302
    assert login(app.test_client(), "agente-a@example.com").status_code == 302


def test_PLT_3_cannot_grant_rights_one_does_not_hold(app, manager, tenants):
    page = manager.submit("/admin/groups/new/", {
        "name": "Auditores", "kind": "system", "rights": ["users.view", "audit.view"]})
    assert "Você não pode conceder permissões que não possui" in page.text
    assert "Auditoria: Ver" in page.text
    assert _group(app, tenants["a"].company_id, "Auditores") is None
    # Granting what one holds is fine.
    resp = manager.submit("/admin/groups/new/", {
        "name": "Leitores", "kind": "system", "rights": ["users.view"]})
    assert resp.status_code == 302


def test_PLT_4_user_can_never_raise_own_rights(app, manager, tenants):
    admin_group = _group(app, tenants["a"].company_id, "Administrador")
    me = _user(app, "gerente@example.com")
    page = manager.submit(f"/admin/users/edit/?id={me.id}", _user_form(
        name=me.name, email=me.email, password="", group=str(admin_group.id)))
    assert "Você não pode conceder permissões que não possui" in page.text
    assert _user(app, "gerente@example.com").group_id == me.group_id
    mine = _group(app, tenants["a"].company_id, "Gerentes")
    page = manager.submit(f"/admin/groups/edit/?id={mine.id}", {
        "name": "Gerentes", "kind": "system", "rights": mine.rights + ["audit.view"]})
    assert "Você não pode conceder permissões que não possui" in page.text
    assert "audit.view" not in _group(app, tenants["a"].company_id, "Gerentes").rights


def test_PLT_3_last_admin_cannot_be_locked_out(app, client, tenants):
    a = tenants["a"]
    login(client, a.admin_email)
    admin = _user(app, a.admin_email)
    admin_group = _group(app, a.company_id, "Administrador")
    agents = _group(app, a.company_id, "Atendente")
    # deactivate self, move self out of the admin group, strip the group's rights, delete it
    attempts = [
        (f"/admin/users/edit/?id={admin.id}",
         _user_form(name=admin.name, email=admin.email, password="", group=str(admin_group.id), active="")),
        (f"/admin/users/edit/?id={admin.id}",
         _user_form(name=admin.name, email=admin.email, password="", group=str(agents.id))),
        (f"/admin/groups/edit/?id={admin_group.id}",
         {"name": "Administrador", "kind": "system", "rights": ["users.view"]}),
    ]
    for url, data in attempts:
        page = client.submit(url, data)
        assert "A empresa precisa de ao menos um administrador ativo" in page.text, url
    page = client.submit("/admin/users/delete/", {"id": str(admin.id)}, follow_redirects=True)
    assert "Você não pode excluir o próprio usuário." in page.text
    page = client.submit("/admin/groups/delete/", {"id": str(admin_group.id)}, follow_redirects=True)
    assert "Este grupo tem usuários" in page.text
    after = _user(app, a.admin_email)
    assert after.active and after.group_id == admin_group.id
    assert set(_group(app, a.company_id, "Administrador").rights) >= permissions.ADMIN_RIGHTS
    with app.app_context():  # rejected changes leave no audit entry
        assert not db.session.scalar(select(func.count(AuditLog.id)).where(
            AuditLog.row_id == str(admin.id), AuditLog.table == "user",
            AuditLog.user_id == admin.id))


def test_PLT_3_second_admin_makes_the_change_possible(app, client, tenants):
    a = tenants["a"]
    admin_group = _group(app, a.company_id, "Administrador")
    with app.app_context():
        gen_user(db.session.get(Company, a.company_id), "admin2@example.com",
                 db.session.get(PermissionGroup, admin_group.id))
        db.session.commit()
    login(client, a.admin_email)
    other = _user(app, "admin2@example.com")
    resp = client.submit(f"/admin/users/edit/?id={other.id}", _user_form(
        name=other.name, email=other.email, password="", group=str(admin_group.id), active=""))
    assert resp.status_code == 302
    assert _user(app, "admin2@example.com").active is False


def test_UX_5_a_user_without_permission_group_cannot_be_saved(app, client, tenants):
    """Neither created nor left without a group on edit; the service refuses it too."""
    from backoffice.services import RuleError, access

    login(client, tenants["a"].admin_email)
    message = "Escolha o grupo de permissão do usuário: todo usuário precisa de um."
    page = client.submit("/admin/users/new/", _user_form(group="__None"))
    assert page.status_code == 200 and message in page.text
    assert _user(app, "nova@example.com") is None
    agents = _group(app, tenants["a"].company_id, "Atendente")
    assert client.submit("/admin/users/new/", _user_form(group=str(agents.id))).status_code == 302
    user = _user(app, "nova@example.com")
    page = client.submit(f"/admin/users/edit/?id={user.id}", _user_form(group="__None", password=""))
    assert page.status_code == 200 and message in page.text
    assert _user(app, "nova@example.com").group_id == agents.id
    with app.app_context():
        with pytest.raises(RuleError, match="todo usuário precisa de um"):
            access.check_has_group(User(name="Sem grupo", email="x@example.com"))
        access.check_has_group(User(name="Operador", email="su@example.com", is_superuser=True))
