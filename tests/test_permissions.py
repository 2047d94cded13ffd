"""PLT-3: permission groups guard every registered screen, on every request."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice import permissions
from backoffice.admin.base import SaasModelView, SecureView
from backoffice.extensions import db
from backoffice.models import Company, PermissionGroup, User
from tests.admin_registry import admin_views, tenant_views
from tests.conftest import login
from tests.factories import gen_group, gen_user


def _set_rights(app, group_name, company_id, rights):
    with app.app_context():
        group = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == company_id, PermissionGroup.name == group_name))
        group.rights = list(rights)
        db.session.commit()


@pytest.fixture
def limited(app, tenants):
    """A user of company A in a group whose rights each test sets."""
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "limitado@example.com", gen_group(company, "Limitado", []))
        db.session.commit()
    client = app.test_client()
    assert login(client, "limitado@example.com").status_code == 302
    return client


def _menu_links(html):
    import re
    return set(re.findall(r'href="(/admin/[a-z_]+/)"', html))


def test_PLT_3_every_screen_has_an_area_in_the_catalogue(app):
    for view in tenant_views(app):
        assert view.area in permissions.AREAS, view.endpoint
    for view in admin_views(app):
        if isinstance(view, SecureView) and view.area:
            assert view.area in permissions.AREAS, view.endpoint


def test_PLT_3_without_view_right_every_screen_is_403_and_hidden(app, tenants, limited):
    home = limited.get("/admin/")
    assert home.status_code == 200
    for view in tenant_views(app):
        ep, rid = view.endpoint, tenants["a"].ids[view.endpoint]
        assert f"/admin/{ep}/" not in _menu_links(home.text), ep
        for url in (f"/admin/{ep}/", f"/admin/{ep}/new/", f"/admin/{ep}/edit/?id={rid}",
                    f"/admin/{ep}/details/?id={rid}", f"/admin/{ep}/export/csv/"):
            assert limited.get(url).status_code == 403, url
        assert limited.submit(f"/admin/{ep}/delete/", {"id": str(rid)}).status_code == 403, ep


def test_PLT_3_view_right_alone_allows_reading_but_no_change(app, tenants, limited):
    a = tenants["a"]
    _set_rights(app, "Limitado", a.company_id,
                [f"{v.area}.view" for v in tenant_views(app)])
    home = limited.get("/admin/")
    for view in tenant_views(app):
        ep, rid = view.endpoint, a.ids[view.endpoint]
        assert f"/admin/{ep}/" in _menu_links(home.text), ep
        # a one-row screen shows its row's details to who may only look (UX-5)
        listing = limited.get(f"/admin/{ep}/", follow_redirects=True)
        assert listing.status_code == 200 and a.labels[ep] in listing.text, ep
        assert f"/admin/{ep}/new/" not in listing.text, ep  # no "Criar" button
        with app.app_context():
            count = db.session.scalar(select(func.count()).select_from(view.model))
        limited.submit(f"/admin/{ep}/new/", {"name": "Sem direito", "email": "x@example.com"})
        limited.submit(f"/admin/{ep}/edit/?id={rid}", {"name": "Sem direito"})
        limited.submit(f"/admin/{ep}/delete/", {"id": str(rid)})
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(view.model)) == count, ep
            assert str(getattr(db.session.get(view.model, rid), "name", "")) != "Sem direito", ep


def test_PLT_3_a_change_to_a_group_applies_at_once(app, tenants, limited):
    assert limited.get("/admin/users/").status_code == 403
    _set_rights(app, "Limitado", tenants["a"].company_id, ["users.view"])
    assert limited.get("/admin/users/").status_code == 200  # same session, no re-login
    _set_rights(app, "Limitado", tenants["a"].company_id, [])
    assert limited.get("/admin/users/").status_code == 403


def test_PLT_3_api_groups_grant_no_screens(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        group = gen_group(company, "Só API", permissions.system_rights(), kind=permissions.KIND_API)
        gen_user(company, "api-user@example.com", group)
        db.session.commit()
    client = app.test_client()
    login(client, "api-user@example.com")
    assert client.get("/admin/users/").status_code == 403


def test_PLT_3_superuser_sees_saas_screens_only(app, tenants):
    with app.app_context():
        root = User(name="Root", email="root@example.com", is_superuser=True)
        root.set_password("senha-segura-1")
        db.session.add(root)
        db.session.commit()
    client = app.test_client()
    login(client, "root@example.com")
    for view in admin_views(app):
        status = client.get(view.url + "/").status_code
        if isinstance(view, SaasModelView):
            assert status == 200, view.endpoint
        elif view in tenant_views(app):
            assert status == 403, view.endpoint


def test_PLT_3_group_form_refuses_rights_of_the_wrong_kind(app, tenants, client):
    login(client, tenants["a"].admin_email)
    page = client.submit("/admin/groups/new/", {"name": "Misto", "kind": "api",
                                                "rights": ["users.view"]})
    assert "Marque apenas permissões do tipo escolhido" in page.text
    page = client.submit("/admin/groups/new/", {"name": "Inventado", "kind": "system",
                                                "rights": ["root.everything"]})
    assert "Permissão desconhecida" in page.text
    with app.app_context():
        assert not db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.name.in_(["Misto", "Inventado"])))
