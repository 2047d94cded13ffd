"""PLT-1: a user of company B can never list, count, open, edit, delete, export or look
up company A's rows, through any registered admin screen (forged ids included)."""
from __future__ import annotations

import re

import pytest
from flask_login import login_user
from sqlalchemy import func, select

from backoffice.admin.base import SecureModelView
from backoffice.extensions import db
from backoffice.models import PermissionGroup, User
from tests.admin_registry import model_views, tenant_views
from tests.conftest import login

pytestmark = pytest.mark.usefixtures("tenants")


@pytest.fixture
def b_client(app, tenants):
    client = app.test_client()
    assert login(client, tenants["b"].admin_email).status_code == 302
    return client


def _row_count(app, view, company_id):
    with app.app_context():
        col = getattr(view.model, "company_id", None)
        q = select(func.count()).select_from(view.model)
        q = q.where(col == company_id) if col is not None else q.where(view.model.id == company_id)
        return db.session.scalar(q)


def test_PLT_1_every_model_view_is_a_secure_view(app):
    """A new screen cannot skip the base view that carries tenancy and permissions."""
    for view in model_views(app):
        assert isinstance(view, SecureModelView), view.endpoint


def test_PLT_1_fixture_covers_every_tenant_view(app, tenants):
    """Each tenant screen has a row of company A to hunt for (else the tests below prove nothing)."""
    for view in tenant_views(app):
        assert view.endpoint in tenants["a"].labels, f"add a row for {view.endpoint} in factories"


def test_PLT_1_list_and_count_show_only_own_rows(app, tenants, b_client):
    a, b = tenants["a"], tenants["b"]
    for view in tenant_views(app):
        # a one-row screen (Empresa, Parâmetros, Telefonia) opens its form (UX-5)
        page = b_client.get(f"/admin/{view.endpoint}/", follow_redirects=True)
        assert page.status_code == 200, view.endpoint
        assert a.labels[view.endpoint] not in page.text, view.endpoint
        assert b.labels[view.endpoint] in page.text, view.endpoint
        # The search box must not reach A's rows either.
        if view.column_searchable_list:
            found = b_client.get(f"/admin/{view.endpoint}/?search={a.labels[view.endpoint][:12]}")
            assert a.labels[view.endpoint] not in found.text, view.endpoint
        with app.test_request_context():
            login_user(db.session.get(User, b.admin_id))
            assert view.get_count_query().scalar() == _row_count(app, view, b.company_id), view.endpoint
            assert all(getattr(r, "company_id", r.id) == b.company_id
                       for r in view.get_list(0, None, None, None, [], page_size=1000)[1])


def test_PLT_1_forged_ids_cannot_open_edit_or_delete(app, tenants, b_client):
    a = tenants["a"]
    for view in tenant_views(app):
        ep, rid, label = view.endpoint, a.ids[view.endpoint], a.labels[view.endpoint]
        before = _row_count(app, view, a.company_id)
        for url in (f"/admin/{ep}/edit/?id={rid}", f"/admin/{ep}/details/?id={rid}"):
            page = b_client.get(url, follow_redirects=True)
            assert label not in page.text, url
        edited = b_client.submit(f"/admin/{ep}/edit/?id={rid}", {"name": "Invadido"},
                                 follow_redirects=True)
        assert "Invadido" not in edited.text
        b_client.submit(f"/admin/{ep}/delete/", {"id": str(rid)})
        b_client.submit(f"/admin/{ep}/action/", {"action": "delete", "rowid": str(rid)})
        assert _row_count(app, view, a.company_id) == before, ep
        with app.app_context():
            row = db.session.get(view.model, rid)
            assert row is not None and str(getattr(row, "name", "")) != "Invadido", ep


def test_PLT_1_export_contains_only_own_rows(app, tenants, b_client):
    for view in tenant_views(app):
        if not view.can_export:
            continue
        csv = b_client.get(f"/admin/{view.endpoint}/export/csv/")
        assert csv.status_code == 200, view.endpoint
        assert tenants["a"].labels[view.endpoint] not in csv.text, view.endpoint
        assert tenants["b"].labels[view.endpoint] in csv.text, view.endpoint


def test_PLT_1_relationship_choices_and_ajax_lookups_are_scoped(app, tenants):
    """Every select over related rows, in create, edit and list forms, lists own rows only."""
    b = tenants["b"]
    with app.test_request_context():
        login_user(db.session.get(User, b.admin_id))
        for view in tenant_views(app):
            forms = [view.create_form(), view.edit_form()]
            if view.column_editable_list:
                forms.append(view.list_form())
            for form in forms:
                for field in form:
                    objects = getattr(field, "_get_object_list", None)
                    if objects is None:
                        continue
                    for _pk, obj in objects():
                        if hasattr(obj, "company_id"):
                            assert obj.company_id == b.company_id, (view.endpoint, field.name)
            for name, loader in getattr(view, "_form_ajax_refs", {}).items():
                for obj in loader.get_list(""):
                    assert obj.company_id == b.company_id, (view.endpoint, name)


def test_PLT_1_forged_group_id_from_other_company_is_refused(app, tenants, b_client):
    """A forged id on a relationship field is a form error, not a silent NULL."""
    with app.app_context():
        a_group = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == tenants["a"].company_id, PermissionGroup.name == "Administrador"))
        users_before = db.session.scalar(select(func.count(User.id)))
    page = b_client.submit("/admin/users/new/", {
        "name": "Forjado", "email": "forjado@example.com", "password": "senha-segura-9",
        "group": str(a_group.id), "active": "y", "language": "pt_BR",
    })
    assert page.status_code == 200  # form shown again with the error
    assert "não pertence à sua empresa" in page.text
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == users_before


def test_PLT_1_saas_screens_refuse_company_users(app, tenants, b_client):
    for ep in ("saas_companies", "plans"):
        assert b_client.get(f"/admin/{ep}/").status_code == 403
        assert b_client.get(f"/admin/{ep}/edit/?id={tenants['a'].company_id}").status_code == 403


def test_PLT_1_company_screen_edits_only_own_company(app, tenants, b_client):
    page = b_client.get("/admin/company/", follow_redirects=True)  # the form (UX-5)
    assert tenants["b"].labels["company"] in page.text
    assert tenants["a"].labels["company"] not in page.text
    assert re.search(r"Beta Servi", page.text)
