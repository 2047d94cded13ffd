"""SEC-1: changing another user's password, e-mail, group or active flag (or deleting
them) needs every right that user holds; a password set by someone else must be
replaced at the next login; the audit names the fields, never the secret."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import AuditLog, Company, PermissionGroup, User
from backoffice.services import RuleError, access
from tests.conftest import client_as, login
from tests.factories import PASSWORD, gen_group, gen_user

EDIT_REFUSED = ("Você não pode alterar a senha, o e-mail, o grupo ou o status de um "
                "usuário que tem permissões que você não possui")
DELETE_REFUSED = "Você não pode excluir um usuário que tem permissões que você não possui"
NEW_PASSWORD = "tomada-de-conta-9"


@pytest.fixture
def people(app, tenants):
    """Company A: its admin, a second admin (so "the last admin" never masks the rule),
    an editor holding only users.view + users.edit, a remover who may also delete, and
    a reader whose rights the editor does hold."""
    a = tenants["a"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        admins = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == a.company_id, PermissionGroup.name == "Administrador"))
        readers = gen_group(company, "Leitores", ["users.view"])
        gen_user(company, "admin2@example.com", admins, name="Segunda Admin")
        gen_user(company, "editor@example.com",
                 gen_group(company, "Editores", ["users.view", "users.edit"]), name="Editor")
        gen_user(company, "remover@example.com",
                 gen_group(company, "Removedores", ["users.view", "users.edit", "users.delete"]),
                 name="Removedor")
        gen_user(company, "leitor@example.com", readers, name="Leitor")
        for user in db.session.scalars(select(User)):
            user.language = "pt_BR"  # the form always posts one
        db.session.commit()
        ids = dict(db.session.execute(select(User.email, User.id)).all())
        ids["group:admins"], ids["group:readers"] = admins.id, readers.id
    return ids


def stored(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def form_of(user: User, **over) -> dict:
    data = {"name": user.name, "email": user.email, "password": "",
            "group": str(user.group_id or ""), "active": "y" if user.active else "",
            "language": user.language or "pt_BR"}
    data.update(over)
    return data


def page_text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def test_SEC_1_users_edit_alone_cannot_take_over_the_admin(app, tenants, people):
    """The attack of the issue: a group with only users.view + users.edit posts the
    admin's edit form with a new password and e-mail. The editor sees the refusal; the
    admin keeps their e-mail and password and the attacker cannot log in as them."""
    admin_id = tenants["a"].admin_id
    before = stored(app, admin_id)
    editor = client_as(app, "editor@example.com")
    resp = editor.submit(f"/admin/users/edit/?id={admin_id}", form_of(
        before, email="atacante@example.com", password=NEW_PASSWORD))
    assert resp.status_code == 200
    assert EDIT_REFUSED in page_text(resp)
    after = stored(app, admin_id)
    assert (after.email, after.password_hash, after.must_change_password) == (
        before.email, before.password_hash, before.must_change_password)
    assert login(app.test_client(), "atacante@example.com", NEW_PASSWORD).status_code != 302
    assert login(app.test_client(), before.email, PASSWORD).status_code == 302


@pytest.mark.parametrize("change", ["email", "group", "active"])
def test_SEC_1_email_group_or_active_flag_of_a_stronger_user_is_refused(app, tenants, people,
                                                                         change):
    """The editor cannot change the admin's e-mail, move them to a weaker group (one
    the editor could grant) or deactivate them: same refusal, nothing saved."""
    admin_id = tenants["a"].admin_id
    before = stored(app, admin_id)
    over = {"email": {"email": "atacante@example.com"},
            "group": {"group": str(people["group:readers"])},
            "active": {"active": ""}}[change]
    editor = client_as(app, "editor@example.com")
    resp = editor.submit(f"/admin/users/edit/?id={admin_id}", form_of(before, **over))
    assert resp.status_code == 200
    assert EDIT_REFUSED in page_text(resp)
    after = stored(app, admin_id)
    assert (after.email, after.group_id, after.active) == (before.email, before.group_id, True)


@pytest.mark.parametrize("how", ["delete", "bulk action"])
def test_SEC_1_deleting_a_stronger_user_is_refused(app, tenants, people, how):
    """A group with users.delete but not every admin right cannot remove the admin,
    neither from the row's delete button nor from the bulk "Excluir" action."""
    admin_id = tenants["a"].admin_id
    remover = client_as(app, "remover@example.com")
    if how == "delete":
        resp = remover.submit("/admin/users/delete/", {"id": str(admin_id)},
                              follow_redirects=True)
    else:
        resp = remover.submit("/admin/users/action/", {"action": "delete", "rowid": str(admin_id)},
                              follow_redirects=True)
    assert DELETE_REFUSED in page_text(resp)
    with app.app_context():
        assert db.session.get(User, admin_id) is not None


@pytest.mark.parametrize("actor, target", [("admin2@example.com", "admin-a@example.com"),
                                           ("editor@example.com", "leitor@example.com")])
def test_SEC_1_who_holds_every_right_of_the_target_sets_a_password_to_be_replaced(
        app, tenants, people, actor, target):
    """A second admin (or the editor, for a user with fewer rights) sets another user's
    password and e-mail: it is saved, the user must choose a new password at the next
    login, and the audit says who changed whom and which fields, without the secret."""
    target_id = people[target]
    before = stored(app, target_id)
    client = client_as(app, actor)
    resp = client.submit(f"/admin/users/edit/?id={target_id}", form_of(
        before, email="trocado@example.com", password=NEW_PASSWORD))
    assert resp.status_code == 302, page_text(resp)
    after = stored(app, target_id)
    assert after.email == "trocado@example.com" and after.must_change_password is True
    assert after.check_password(NEW_PASSWORD)
    with app.app_context():
        entry = db.session.scalars(select(AuditLog).where(
            AuditLog.table == "user", AuditLog.row_id == str(target_id),
            AuditLog.action == "update")).one()
        assert entry.user_id == people[actor] and entry.row_label == before.name
        assert entry.changes["email"] == [before.email, "trocado@example.com"]
        assert entry.changes["password_hash"] == ["***", "***"]
        written = str(entry.changes)
    assert NEW_PASSWORD not in written and PASSWORD not in written
    assert after.password_hash not in written and before.password_hash not in written
    assert "pbkdf2" not in written and "scrypt" not in written


def test_SEC_1_only_a_password_set_by_someone_else_must_be_replaced(app, tenants, people):
    """The editor changing their own password is not asked to change it again; when the
    second admin sets it, the editor must choose a new one at the next login."""
    me = stored(app, people["editor@example.com"])
    client = client_as(app, me.email)
    resp = client.submit(f"/admin/users/edit/?id={me.id}", form_of(me, password=NEW_PASSWORD))
    assert resp.status_code == 302, page_text(resp)
    after = stored(app, me.id)
    assert after.check_password(NEW_PASSWORD) and after.must_change_password is False
    admin = client_as(app, "admin2@example.com")
    resp = admin.submit(f"/admin/users/edit/?id={me.id}", form_of(me, password="provisoria-123"))
    assert resp.status_code == 302, page_text(resp)
    after = stored(app, me.id)
    assert after.check_password("provisoria-123") and after.must_change_password is True


def test_SEC_1_a_super_user_is_never_changed_from_a_company(app, tenants):
    """Even an actor holding every right cannot change or delete the super user."""
    with app.app_context():
        root = User(company_id=None, name="Operador", email="root@example.com",
                    is_superuser=True, active=True)
        root.set_password(PASSWORD)
        db.session.add(root)
        db.session.flush()
        everything = frozenset(permissions.system_rights())
        admin = db.session.get(User, tenants["a"].admin_id)
        with pytest.raises(RuleError, match="super usuário"):
            access.check_user_change(admin, everything, root, {"password"})
        with pytest.raises(RuleError, match="super usuário"):
            access.check_user_delete(admin, everything, root)
