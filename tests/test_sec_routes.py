"""SEC-7 / SEC-8 for every registered URL, generically: the tests walk app.url_map, so a
route added tomorrow (admin, inbox, presence, data, webchat, auth) is checked the day it
exists.

- SEC-7: every route, with each path variable and the usual query/form/JSON parameters
  set to 0, -1, 2^31, 2^63, "abc", NUL and an overlong string, plus `?page=2^62`, as a
  company admin and anonymously:
  never a 500 (on PostgreSQL the values beyond INTEGER, BIGINT or holding NUL were).
- SEC-8: every state-changing route refuses a request without the CSRF token, the
  database unchanged (the webchat visitor API and the signed provider webhooks are the
  exemptions, checked to be exactly those); every GET route, with real ids, leaves every table as it was, for the
  company admin and for an agent.
"""
from __future__ import annotations

import io
import re
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import delete, select

from backoffice.admin.base import CompanySettingsView
from backoffice.extensions import csrf, db
from backoffice.models import CompanySettings, Connection, Department, DepartmentMember, Tag
from backoffice.models import ContactMethod, Message, PortalAccount, PortalSettings
from backoffice.models import ServiceSubclassification, TelephonySettings, User
from backoffice.services import data_jobs, sending, tickets
from backoffice.services.portal import protocols as portal_protocols
from backoffice.lib import after_commit
from backoffice.services.templates import Upload
from tests.admin_registry import model_views
from tests.conftest import login
from tests.factories import gen_group, gen_user
from tests.factories.portal import portal_login

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SKIPPED = {"static", "admin.static"}  # files on disk, no database
# The REST API reads no cookie (a bearer token): every route refuses a session alone, and
# test_api_generic.py walks its routes with tokens (ids of another company, out of range,
# bad bodies), test_api_schemathesis.py fuzzes them. Its documentation stays in the walk.
API_PREFIX = "/api/v1/"
BAD = [0, -1, 2**31, 2**63, "abc", "\x00", "x" * 5000]
HUGE_PAGE = 2**62
# the parameters views read from the query string, forms and JSON bodies
PARAMS = ("id", "rowid", "page", "page_size", "search", "sort", "desc", "q", "query", "name",
          "before", "limit", "cursor", "status", "tab", "action", "text", "note",
          "department_id", "agent_id", "tag_id", "tags", "reason_id", "pause_id",
          "template_id", "farewell_id", "ids", "favourite", "email", "password", "available")
AGENT_EMAIL = "atendente-a@example.com"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def nothing_reaches_the_error_handlers(caplog):
    """errors.py turns a DataError into a 400 as a last resort and logs it; a 500 is
    logged too: the checks must stop every value before the database."""
    yield
    assert [r.getMessage() for r in caplog.records if r.name == "backoffice.web.errors"] == []


@pytest.fixture
def world(app, tenants):
    """Company A of `tenants`, plus an agent with the inbox right, a waiting ticket and
    one accepted by the agent (both unread), a message with an attachment, an import and
    an export job. A's settings rows are removed: a company from before they existed."""
    a = tenants["a"]
    with app.app_context():
        admin = db.session.get(User, a.admin_id)
        company = admin.company
        agent = gen_user(company, AGENT_EMAIL, gen_group(company, "Atendentes", ["inbox.view"]))
        db.session.flush()
        db.session.add(DepartmentMember(company_id=company.id, user_id=agent.id,
                                        department_id=a.ids["departments"]))
        connection = db.session.get(Connection, a.ids["connections"])
        department = db.session.get(Department, a.ids["departments"])
        waiting = tickets.open_ticket(tickets.contact_for(connection, "visitante-1", "Cliente Um"),
                                      connection, department)
        tickets.receive(waiting, "Oi, alguém aí?")
        accepted = tickets.open_ticket(tickets.contact_for(connection, "visitante-2", "Cliente Dois"),
                                       connection, department)
        tickets.receive(accepted, "Bom dia")
        tickets.accept(accepted, agent)
        message = sending.queue(accepted, agent, "segue o arquivo",
                                upload=Upload(data=PNG, name="foto.png", mime="image/png"))
        tickets.receive(accepted, "Obrigado!")
        after_commit.commit()
        imported = data_jobs.save_upload(admin, io.BytesIO("nome;telefone\nAna;11987654321\n"
                                                           .encode()), "contatos.csv")
        exported = data_jobs.start_export(admin, "contacts", {}, enqueue=False)
        data_jobs.run_export(exported.id)
        # POR-1: company A's portal on, with a protocol of its representative (real ids)
        portal_settings = db.session.execute(PortalSettings.owned(company.id)).scalar_one()
        portal_settings.enabled = True
        account = db.session.scalar(select(PortalAccount).where(
            PortalAccount.company_id == company.id))
        subclassification = db.session.scalar(select(ServiceSubclassification).where(
            ServiceSubclassification.company_id == company.id))
        protocol = portal_protocols.open_protocol(account, portal_protocols.NewProtocol(
            classification_id=str(subclassification.classification_id),
            subclassification_id=str(subclassification.id), contact_person="Rita",
            phone="(11) 98765-4321", email="rita@example.com",
            contact_method_id=str(db.session.scalar(select(ContactMethod.id).where(
                ContactMethod.company_id == company.id))),
            message="Preciso da segunda via"))
        protocol_message = db.session.scalar(select(Message.id).where(
            Message.ticket_id == protocol.id))
        after_commit.commit()
        db.session.execute(delete(CompanySettings).where(CompanySettings.company_id == company.id))
        db.session.execute(delete(TelephonySettings).where(TelephonySettings.company_id == company.id))
        db.session.commit()
        unread = {t.id: t.unread for t in (db.session.get(type(waiting), waiting.id),
                                           db.session.get(type(accepted), accepted.id))}
        assert all(unread.values()), unread
        return {"tenant": a, "tickets": [waiting.id, accepted.id], "message_id": message.id,
                "key": connection.public_key, "kind": "whatsapp", "import_id": imported.id,
                "export_id": exported.id, "template_id": a.ids["templates"],
                "domain": company.domain, "article_id": a.ids["articles"],
                "portal_account_id": account.id, "protocol_id": protocol.id,
                "protocol_message_id": protocol_message}


def rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if r.endpoint not in SKIPPED and not r.rule.startswith(API_PREFIX)),
                  key=lambda r: r.rule)


def fills(rule, world) -> list[dict]:
    """Real values for the rule's path variables (one dict per ticket for ticket routes)."""
    values = {}
    for arg in rule.arguments:
        if arg == "ticket_id":
            continue
        if arg == "job_id":
            values[arg] = world["export_id" if "export" in rule.endpoint else "import_id"]
        elif arg == "export_type":
            values[arg] = "csv"
        elif arg == "token":  # a link token (password reset): a well-formed unknown one
            values[arg] = "t" * 43
        elif arg == "name" and rule.endpoint == "api_docs.asset":  # Swagger UI's files
            values[arg] = "swagger-ui.css"
        elif arg in world:
            values[arg] = world[arg]
        else:
            pytest.fail(f"{rule.rule}: teach this test what <{arg}> is")
    if "ticket_id" in rule.arguments and rule.endpoint.startswith("portal."):
        # a portal protocol and its message (the inbox tickets are no protocol there)
        return [{**values, "ticket_id": world["protocol_id"],
                 **({"message_id": world["protocol_message_id"]}
                    if "message_id" in rule.arguments else {})}]
    if "ticket_id" in rule.arguments:
        return [{**values, "ticket_id": t} for t in world["tickets"]]
    return [values]


def path(rule, values: dict) -> str:
    """The rule's path with each variable replaced by the text given, whatever its
    converter (routing then decides whether it matches)."""
    return re.sub(r"<([^>]+)>", lambda m: quote(str(values[m.group(1).split(":")[-1]]), safe=""),
                  rule.rule)


def writes(rule) -> list[str]:
    return sorted(rule.methods & WRITES)


def send(client, method: str, url: str, value, token: str | None):
    """One request with every known parameter set to `value` (query string, form body and
    JSON body for API routes)."""
    params = {k: str(value) for k in PARAMS}
    query = "?" + urlencode(params)
    if method == "GET":
        return [client.get(url + query)]
    headers = {"X-CSRFToken": token} if token else {}
    form = {**params, **({"csrf_token": token} if token else {})}
    answers = [client.open(url + query, method=method, data=form, headers=headers)]
    if "/api/" in url or url.startswith("/presence/"):
        answers.append(client.open(url, method=method, headers=headers,
                                   json={k: value for k in PARAMS}))
    return answers


def refused(response) -> bool:
    """The answer to an anonymous request on a route that needs a login."""
    return response.status_code in (401, 403) or (
        response.status_code == 302 and "/login" in response.headers["Location"])


@pytest.mark.parametrize("who", ["admin", "anonymous", "representative"])
def test_SEC_7_no_route_answers_500_to_crafted_ids_text_or_pages(app, world, who):
    """Every route of the app, its variables and parameters crafted: a 4xx, a redirect or
    the page; never a 500. Anonymous requests to a route that needs a login stop at the
    login check, so those get two of the values; public routes (login, password reset,
    the webchat) get them all."""
    client = app.test_client()
    email = world["tenant"].admin_email if who == "admin" else None
    if email:
        assert login(client, email).status_code == 302
    if who == "representative":  # POR-1: a portal session (no panel login)
        with app.app_context():
            portal_login(client, world["portal_account_id"])
    token = client.csrf_token()
    failures, tried = [], 0

    def check(method, url, value, response):
        nonlocal tried
        tried += 1
        if response.status_code >= 500:
            failures.append((method, url[:100], repr(value)[:20], response.status_code))
        # a route may end the session (logout, "sair de todos os dispositivos"): log in
        # again, or the rest of the walk would only meet the login redirect
        if email and refused(response) and response.status_code == 302:
            assert login(client, email).status_code == 302
        if who == "representative" and response.status_code == 302 \
                and "/entrar" in response.headers["Location"]:  # the portal's "Sair"
            with app.app_context():
                portal_login(client, world["portal_account_id"])

    for rule in rules(app):
        methods = sorted(rule.methods & ({"GET"} | WRITES))
        real = path(rule, fills(rule, world)[-1])
        needs_login = False
        for i, value in enumerate(BAD):
            if needs_login and i >= 2:
                break
            urls = [real] + ([path(rule, {a: value for a in rule.arguments})] if rule.arguments else [])
            for url in urls:
                for method in methods:
                    for response in send(client, method, url, value, token):
                        check(method, url, value, response)
                        needs_login = needs_login or (email is None and refused(response))
        if "GET" in methods:
            check("GET", real, HUGE_PAGE, client.get(f"{real}?page={HUGE_PAGE}"))
    assert failures == []
    assert tried > 500


# --- SEC-8: CSRF on every state-changing route ------------------------------------------------


def snapshot(app) -> dict[str, list[str]]:
    """Every row of every table, as text (the test data is small)."""
    with app.app_context():
        rows = {t.name: sorted(repr(tuple(r)) for r in db.session.execute(select(t)).all())
                for t in db.metadata.sorted_tables}
        db.session.remove()
    return rows


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after.get(name)]


def admin_ids(app, world) -> dict[str, str]:
    """endpoint -> the id of one of company A's rows in that admin screen."""
    ids = {endpoint: str(i) for endpoint, i in world["tenant"].ids.items()}
    for view in model_views(app):
        if isinstance(view, CompanySettingsView):
            ids[view.endpoint] = getattr(view, "DEFAULT_ROW", "padrao")
    return ids


def test_SEC_8_every_state_changing_route_refuses_a_request_without_csrf_token(app, world):
    """A forged cross-site POST (form or JSON, no token) from a logged-in admin's browser:
    400 on every route, nothing written. The webchat API is exempt because it reads no
    cookie (the visitor sends its token in a header another site cannot set), and so are
    the provider webhooks (/hooks: no cookie either; each POST must carry the provider's
    signature of its body, refused with 403 and nothing stored otherwise, which
    tests/test_hooks.py checks for every kind), and so is the REST API (/api/v1: a bearer
    token in a header, no cookie; test_api_generic.py shows a session alone gets 401): the
    list of exemptions must stay exactly that."""
    api = {name for name, bp in app.blueprints.items()
           if (bp.url_prefix or "").startswith(API_PREFIX)}
    assert len(api) >= 6
    assert {bp.name for bp in csrf._exempt_blueprints} == {"webchat", "hooks"} | api
    assert csrf._exempt_views == set()
    client = app.test_client()
    assert login(client, world["tenant"].admin_email).status_code == 302
    ids = admin_ids(app, world)
    before = snapshot(app)
    checked = set()
    for rule in rules(app):
        if rule.endpoint.startswith(("webchat.", "hooks.")) or not writes(rule):
            continue
        view_id = ids.get(rule.endpoint.split(".")[0], "1")
        # what would change a row if the token were not checked: a delete, an edit, a bulk
        # action on a real row of the admin's company; a reply and a close in the inbox
        form = {"id": view_id, "rowid": view_id, "action": "delete", "name": "Forjado",
                "text": "forjado", "note": "forjado", "pause_id": "1"}
        for values in fills(rule, world):
            url = path(rule, values) + ("?id=" + view_id if rule.endpoint.endswith(".edit_view") else "")
            for method in writes(rule):
                for response in (client.open(url, method=method, data=form),
                                 client.open(url, method=method, json=form)):
                    assert response.status_code == 400, (method, url, response.status_code)
                checked.add(rule.endpoint)
    assert changed(before, snapshot(app)) == []
    assert {"tags.action_view", "tags.delete_view", "users.edit_view", "inbox.send_message",
            "auth.logout", "presence.pause_start"} <= checked
    # positive control: the same bulk delete with the token does delete the row
    response = client.submit("/admin/tags/action/", {"action": "delete", "rowid": ids["tags"]})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Tag, int(ids["tags"])) is None


# --- SEC-8: a GET never changes state -------------------------------------------------------


def get_urls(app, world) -> list[str]:
    """Every GET route with real ids; admin screens also open a real row (edit and
    details) and look up their ajax fields."""
    ids = admin_ids(app, world)
    views = {v.endpoint: v for v in model_views(app)}
    urls = []
    for rule in rules(app):
        if "GET" not in rule.methods:
            continue
        for values in fills(rule, world):
            url = path(rule, values)
            endpoint, _, name = rule.endpoint.partition(".")
            if name in ("edit_view", "details_view") and endpoint in ids:
                url += "?id=" + ids[endpoint]
            elif name == "ajax_lookup" and endpoint in views:
                for field in getattr(views[endpoint], "_form_ajax_refs", None) or {}:
                    urls.append(f"{url}?name={field}&query=a")
                continue
            urls.append(url)
    return urls


@pytest.mark.parametrize("who", ["admin", "agent"])
def test_SEC_8_no_get_route_changes_the_database(app, world, who):
    """Opening any page or API answer, a ticket included, with real ids: every table is
    as it was (opening a ticket used to mark it read; Parâmetros and Telefonia used to
    create their row on the first visit)."""
    client = app.test_client()
    email = world["tenant"].admin_email if who == "admin" else AGENT_EMAIL
    assert login(client, email).status_code == 302
    urls = get_urls(app, world)
    assert any(u.startswith("/inbox/api/tickets/") for u in urls)
    before = snapshot(app)
    answered = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        answered += response.status_code == 200
        after = snapshot(app)
        assert changed(before, after) == [], url
        before = after
    assert answered >= (40 if who == "admin" else 10)
