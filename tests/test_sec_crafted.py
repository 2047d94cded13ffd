"""SEC-7: the crafted requests of issue 10, each exactly as it was sent. On PostgreSQL an id
beyond the column's range, a page whose OFFSET overflows or a NUL character in any text
was a 500; on SQLite the same with 2^63. Ids out of range are "not found", pages are
clamped, NUL is dropped from every text input (in one place, the request class)."""
from __future__ import annotations

import pytest
from flask_login import login_user
from sqlalchemy import func, select
from wtforms import StringField, TextAreaField

from backoffice.extensions import db
from backoffice.models import Connection, Department, DepartmentMember, User, Webhook
from backoffice.services import tickets
from backoffice.lib import after_commit
from tests.admin_registry import model_views, saas_views, tenant_views
from tests.conftest import login
from tests.factories import PASSWORD

ROOT_EMAIL = "operador@atende.example"
HUGE_IDS = [2**31, 2**63]
HUGE_PAGES = [4611686018427387904, 2**63]


@pytest.fixture(autouse=True)
def nothing_reaches_the_error_handlers(caplog):
    """web/errors.py turns a DataError into a 400 as a last resort and logs it: the checks
    must have stopped the value before the database."""
    yield
    assert [r.getMessage() for r in caplog.records if r.name == "backoffice.web.errors"] == []


@pytest.fixture
def admin(app, tenants):
    client = app.test_client()
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


@pytest.fixture
def root(app, tenants):
    with app.app_context():
        user = User(name="Operador", email=ROOT_EMAIL, is_superuser=True)
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    client = app.test_client()
    assert login(client, ROOT_EMAIL).status_code == 302
    return client


def clients_and_views(app, admin, root):
    """Every model view with the user who may open it."""
    return [(admin, v) for v in tenant_views(app)] + [(root, v) for v in saas_views(app)]


def row_counts(app):
    with app.app_context():
        return {v.endpoint: db.session.scalar(select(func.count()).select_from(v.model))
                for v in model_views(app)}


# not named `page`: that is the browser tests' fixture, and a parameter of that name made
# pytest-playwright set up its fixtures (the Playwright driver) for these tests
@pytest.mark.parametrize("page_number", HUGE_PAGES)
def test_SEC_7_a_huge_page_on_any_admin_screen_shows_a_page(app, admin, root, page_number):
    """`?page=4611686018427387904` made OFFSET overflow bigint on PostgreSQL (2^63 on
    SQLite): a 500 on every list screen. Now the list is shown (past its last row)."""
    for client, view in clients_and_views(app, admin, root):
        # one-row settings (Empresa, ...) answer their list with their form (UX-5)
        response = client.get(f"/admin/{view.endpoint}/?page={page_number}",
                              follow_redirects=True)
        assert response.status_code == 200, (view.endpoint, response.status_code)


@pytest.mark.parametrize("row_id", HUGE_IDS)
@pytest.mark.parametrize("screen", ["edit", "details"])
def test_SEC_7_an_id_beyond_the_column_is_not_found_in_edit_and_details(app, admin, root,
                                                                        screen, row_id):
    """`edit/?id=2147483648` (an INTEGER column cannot hold it): "not found", the list."""
    for client, view in clients_and_views(app, admin, root):
        response = client.get(f"/admin/{view.endpoint}/{screen}/?id={row_id}")
        assert response.status_code in (302, 404), (view.endpoint, response.status_code)


@pytest.mark.parametrize("row_id", HUGE_IDS)
def test_SEC_7_bulk_actions_with_an_id_beyond_the_column_change_nothing(app, admin, root, row_id):
    """`action/` with `rowid=2147483648` (delete, regenerate, disable): no 500, nothing
    changed."""
    before = row_counts(app)
    with app.app_context():
        secrets = (db.session.scalars(select(Webhook.secret)).all(),
                   db.session.scalars(select(Connection.public_key)).all())
    tried = set()
    for client, view in clients_and_views(app, admin, root):
        for name in view._actions_data:
            response = client.submit(f"/admin/{view.endpoint}/action/",
                                     {"action": name, "rowid": str(row_id)})
            assert response.status_code in (302, 400, 404), (view.endpoint, name,
                                                             response.status_code)
            tried.add(name)
    assert {"delete", "regenerate_key", "regenerate_secret", "disable"} <= tried
    assert row_counts(app) == before
    with app.app_context():
        assert (db.session.scalars(select(Webhook.secret)).all(),
                db.session.scalars(select(Connection.public_key)).all()) == secrets


@pytest.mark.parametrize("row_id", HUGE_IDS)
def test_SEC_7_template_file_with_an_id_beyond_the_column_is_404(admin, row_id):
    """`/admin/templates/file/2147483648`: the file of a template that cannot exist."""
    response = admin.get(f"/admin/templates/file/{row_id}")
    assert response.status_code == 404
    assert "Página não encontrada" in response.text


def test_SEC_7_nul_in_the_search_box_and_in_text_filters_lists_rows(app, admin, root):
    """`?search=%00` and NUL in a text filter: PostgreSQL refuses NUL in text (a 500);
    the NUL is dropped and the list is searched for what is left. Every filter also gets
    numbers beyond INTEGER and BIGINT: refused as a filter value, the list shown."""
    for client, view in clients_and_views(app, admin, root):
        for value in ("a%00", "%00", str(2**31), str(2**63)):
            filters = "".join(f"&flt{i}_{key}={value}" for i, key in enumerate(view._filter_args or {}))
            response = client.get(f"/admin/{view.endpoint}/?search={value}{filters}",
                                  follow_redirects=True)
            assert response.status_code == 200, (view.endpoint, value, response.status_code)


def _text_fields(app, view, user_id):
    with app.test_request_context():
        login_user(db.session.get(User, user_id))
        if not view.can_create:
            return []
        return [f.name for f in view.create_form() if isinstance(f, (StringField, TextAreaField))
                and f.type not in ("PasswordField", "HiddenField")]


def test_SEC_7_nul_in_create_forms_is_dropped_not_a_500(app, tenants, admin):
    """Every create form with NUL in each of its text fields: the NUL never reaches the
    database (the form answers as it would to the text without it)."""
    a = tenants["a"]
    tried = 0
    for view in tenant_views(app):
        fields = _text_fields(app, view, a.admin_id)
        if not fields:
            continue
        data = {name: f"Nome\x00{i}" for i, name in enumerate(fields)}
        response = admin.submit(f"/admin/{view.endpoint}/new/", data)
        assert response.status_code in (200, 302), (view.endpoint, response.status_code)
        tried += 1
    assert tried >= 10
    with app.app_context():
        for view in tenant_views(app):
            for name in _text_fields(app, view, a.admin_id):
                column = getattr(view.model, name, None)
                if column is None or not hasattr(column, "type"):
                    continue  # a relationship or a form-only field
                values = db.session.scalars(select(column)).all()
                assert not any("\x00" in v for v in values if isinstance(v, str)), (view.endpoint, name)


def test_SEC_7_login_with_nul_in_the_email_is_a_wrong_login(client, tenants):
    """`POST /login` with `email=a%00@x.y`: the login form with its usual message."""
    response = client.submit("/login", {"email": "a\x00@x.y", "password": "x"})
    assert response.status_code == 200
    assert 'name="password"' in response.text


def test_SEC_7_nul_and_lone_surrogates_in_json_strings_never_reach_the_database(app, tenants, admin):
    """The inbox API reads JSON: a reply `{"text": "o\\ud800i\\u0000"}` (a lone UTF-16
    surrogate, which no database encoding takes, and a NUL) was a 500. Both are dropped."""
    a = tenants["a"]
    with app.app_context():
        user = db.session.get(User, a.admin_id)
        db.session.add(DepartmentMember(company_id=a.company_id, user_id=user.id,
                                        department_id=a.ids["departments"]))
        connection = db.session.get(Connection, a.ids["connections"])
        ticket = tickets.open_ticket(tickets.contact_for(connection, "visitante", "Cliente"),
                                     connection, db.session.get(Department, a.ids["departments"]))
        tickets.receive(ticket, "Oi")
        tickets.accept(ticket, user)
        after_commit.commit()
        ticket_id = ticket.id
    headers = {"X-CSRFToken": admin.csrf_token(), "Content-Type": "application/json"}
    response = admin.post(f"/inbox/api/tickets/{ticket_id}/messages",
                          data='{"text": "o\\ud800i\\u0000"}', headers=headers)
    assert response.status_code == 201 and response.json["message"]["text"] == "oi"
    response = admin.post("/presence/pause/start", data='{"pause_id": "\\u0000"}', headers=headers)
    assert response.status_code == 400 and response.is_json


def test_SEC_7_a_digit_that_is_not_ascii_is_not_an_id(admin):
    """`/inbox/api/tickets/²`: "²".isdigit() is True, int("²") raises (a 500)."""
    response = admin.get("/inbox/api/tickets/%C2%B2")
    assert response.status_code == 404 and response.is_json
