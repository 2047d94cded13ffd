"""Bad input on every registered form: a clear message, never a 500, nothing written."""
from __future__ import annotations

from flask_login import login_user
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField

from backoffice.extensions import db
from backoffice.models import User
from tests.admin_registry import tenant_views
from tests.conftest import login


def _string_fields(app, view, user_id):
    with app.test_request_context():
        login_user(db.session.get(User, user_id))
        form = view.create_form() if view.can_create else view.edit_form()
        return [f.name for f in form if isinstance(f, (StringField, TextAreaField))
                and f.type not in ("PasswordField", "HiddenField")]


def test_PLT_1_overlong_text_in_any_form_is_refused_without_500(app, tenants, client):
    a = tenants["a"]
    login(client, a.admin_email)
    checked = set()
    for view in tenant_views(app):
        with app.test_request_context():
            login_user(db.session.get(User, a.admin_id))
            can_create, can_edit = view.can_create, view.can_edit
        targets = []
        if can_create:
            targets.append(f"/admin/{view.endpoint}/new/")
        if can_edit:
            targets.append(f"/admin/{view.endpoint}/edit/?id={a.ids[view.endpoint]}")
        for url in targets:
            for name in _string_fields(app, view, a.admin_id):
                with app.app_context():
                    before = db.session.scalar(select(func.count()).select_from(view.model))
                    row = db.session.get(view.model, a.ids[view.endpoint])
                    old = getattr(row, name, None) if hasattr(row, name) else None
                page = client.submit(url, {name: "x" * 5000})
                assert page.status_code == 200, (url, name, page.status_code)
                with app.app_context():
                    assert db.session.scalar(select(func.count()).select_from(view.model)) == before
                    row = db.session.get(view.model, a.ids[view.endpoint])
                    assert getattr(row, name, None) == old, (url, name)
                checked.add((view.endpoint, name))
    # every screen with a form had its text fields tried (users, groups, company)
    assert {ep for ep, _ in checked} >= {"users", "groups", "company"}, checked


def test_PLT_1_export_neutralises_formula_cells(app, tenants, client):
    """A name like =HYPERLINK(...) must reach the spreadsheet as text, not a formula."""
    with app.app_context():
        user = db.session.get(User, tenants["a"].ids["users"])
        user.name = '=HYPERLINK("http://evil.example","x")'
        db.session.commit()
    login(client, tenants["a"].admin_email)
    csv = client.get("/admin/users/export/csv/").text
    assert "'=HYPERLINK" in csv
    assert "\n=HYPERLINK" not in csv and ",=HYPERLINK" not in csv


def test_PLT_1_no_form_shows_technical_placeholders(app, tenants, client):
    """Optional relationship selects offer "—", never Flask-Admin's raw "__None"."""
    a = tenants["a"]
    login(client, a.admin_email)
    for view in tenant_views(app):
        for url in (f"/admin/{view.endpoint}/new/", f"/admin/{view.endpoint}/edit/?id={a.ids[view.endpoint]}"):
            page = client.get(url, follow_redirects=True)
            assert page.status_code == 200, url
            assert ">__None<" not in page.text, url
