"""POR-1 isolation of the Fale Conosco portal, generically: the test walks every `portal.`
route of the URL map (as tests/test_route_isolation.py does for the inbox), so a portal
page added tomorrow is checked the day it is added.

- every representative's route (guard.account_required) refuses the anonymous (a GET goes
  to the portal's login, a POST gets 400/401), never data;
- a representative of another organisation of the same company, and one of another
  company on their own portal, given the real ids of a protocol and its attachment: 404,
  and nothing changes;
- a panel user's login opens no portal page; a portal session opens no panel, inbox or
  admin route;
- the protocol's own representative reads every GET route (positive control: the ids are
  real).
A portal route without the guard must be named in PUBLIC (the login and password pages).
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Message, Ticket
from backoffice.models.portal import CustomerOrganization, PortalAccount, PortalRequest
from backoffice.services.portal import protocols as rules
from tests.conftest import login
from tests.factories import PDF, gen_portal_account, gen_portal_world, portal_login

# the pages a visitor opens before logging in (helper padmin's accounts.py), and the logo
PUBLIC = {"portal.login", "portal.logout", "portal.forgot_password", "portal.set_password",
          "portal.logo"}
# the help suggestions' JSON (helper art, backoffice/portal/help.py) answer a JSON 401
# themselves instead of the login redirect; walked below like the others all the same
GUARDED_BY_THEMSELVES = {"portal.help_suggest", "portal.help_feedback"}
# the panel's and the inbox's own routes (their checks: tests/test_route_isolation.py)
PANEL_PREFIXES = ("inbox.", "presence.")


def _guarded(app, endpoint: str) -> bool:
    # functools.wraps copies the view's name; the code object stays the guard's wrapper
    view = app.view_functions[endpoint]
    return view.__code__.co_qualname.startswith("account_required.")


def portal_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("portal."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def protected(app):
    return [(r, m) for r, m in portal_routes(app) if r.endpoint not in PUBLIC]


@pytest.fixture
def world(app):
    """Company A (portal of org A with a protocol and its attachment, and org B), company C
    with its own portal and representative."""
    with app.app_context():
        a = gen_portal_world("a")
        c = gen_portal_world("c")
        account = db.session.get(PortalAccount, a.account_id)
        ticket = rules.open_protocol(account, rules.NewProtocol(
            classification_id=a.classification_id, subclassification_id=a.subclassification_id,
            contact_person="Rita", contact_method_id=a.contact_method_id,
            message="Protocolo secreto da Rita"))
        ticket.preview = "Protocolo secreto da Rita"
        from backoffice.services import tickets
        from backoffice.services.templates import Upload

        attached = tickets.receive(ticket, None, Upload(data=PDF, name="segredo.pdf",
                                                        mime="application/pdf"))
        org_b = CustomerOrganization(company_id=a.company_id, name="Outra Ltda")
        db.session.add(org_b)
        db.session.flush()
        other = gen_portal_account(org_b, "joao@outra.example.com", name="João")
        after_commit.commit()
        return {"a": a, "c": c, "ticket_id": ticket.id, "message_id": attached.id,
                "other_org_account": other.id}


def fill(rule, world, domain: str) -> str:
    values = {"domain": domain}
    for arg in rule.arguments - {"domain"}:
        if arg == "ticket_id":
            values[arg] = world["ticket_id"]
        elif arg == "message_id":
            values[arg] = world["message_id"]
        elif arg == "article_id":  # refused before any lookup; art's tests read real ones
            values[arg] = 1
        else:
            pytest.fail(f"{rule.rule}: teach this test what <{arg}> is")
    return rule.build(values, append_unknown=False)[1]


def call(client, method, url):
    headers = {"X-CSRFToken": client.csrf_token()}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=method, headers=headers,
                       data={"message": "invasão", "csrf_token": client.csrf_token(),
                             "files": [(io.BytesIO(PDF), "x.pdf")]},
                       content_type="multipart/form-data")


def snapshot(app, world):
    with app.app_context():
        t = db.session.get(Ticket, world["ticket_id"])
        return (t.status, t.agent_id, t.department_id,
                db.session.scalar(select(func.count()).select_from(Message)),
                db.session.scalar(select(func.count()).select_from(Ticket)),
                db.session.scalar(select(func.count()).select_from(PortalRequest)))


def _refused(response, domain: str) -> bool:
    if response.status_code == 302:
        return f"/portal/{domain}/entrar" in response.headers["Location"]
    return response.status_code in (400, 401)


def test_POR1_every_portal_route_is_guarded_or_named_public(app):
    unguarded = sorted(r.endpoint for r, _m in portal_routes(app)
                       if r.endpoint not in PUBLIC | GUARDED_BY_THEMSELVES
                       and not _guarded(app, r.endpoint))
    assert unguarded == []
    assert len(protected(app)) >= 7  # home, new (GET/POST), lists, protocol, poll, reply, file


def test_POR1_anonymous_gets_nothing_from_any_representative_route(app, world):
    before = snapshot(app, world)
    client = app.test_client()
    for rule, method in protected(app):
        response = call(client, method, fill(rule, world, world["a"].domain))
        assert _refused(response, world["a"].domain), (method, rule.rule, response.status_code)
        assert "segredo" not in response.get_data(as_text=True)
    assert snapshot(app, world) == before


@pytest.mark.parametrize("who", ["other_organisation", "other_company"])
def test_POR1_another_organisation_or_company_gets_404_for_the_protocol(app, world, who):
    before = snapshot(app, world)
    client = app.test_client()
    with app.app_context():
        if who == "other_organisation":
            portal_login(client, world["other_org_account"])
            domain = world["a"].domain
        else:
            portal_login(client, world["c"].account_id)
            domain = world["c"].domain
    checked = 0
    for rule, method in protected(app):
        if not {"ticket_id", "message_id"} & set(rule.arguments):
            continue
        response = call(client, method, fill(rule, world, domain))
        assert response.status_code == 404, (who, method, rule.rule, response.status_code)
        checked += 1
    assert checked >= 4
    # and the lists never name it
    for rule, method in protected(app):
        if method == "GET" and rule.arguments == {"domain"}:
            body = client.get(fill(rule, world, domain)).get_data(as_text=True)
            assert "Protocolo secreto" not in body, rule.rule
    assert snapshot(app, world) == before


def test_POR1_another_companys_session_is_no_login_on_this_portal(app, world):
    client = app.test_client()
    with app.app_context():
        portal_login(client, world["c"].account_id)
    for rule, method in protected(app):
        response = call(client, method, fill(rule, world, world["a"].domain))
        assert _refused(response, world["a"].domain), (method, rule.rule, response.status_code)


def test_POR1_a_panel_login_opens_no_portal_page(app, world):
    client = app.test_client()
    assert login(client, world["a"].admin_email).status_code == 302
    for rule, method in protected(app):
        response = call(client, method, fill(rule, world, world["a"].domain))
        assert _refused(response, world["a"].domain), (method, rule.rule, response.status_code)


def test_POR1_a_portal_session_opens_no_panel_inbox_or_admin_route(app, world):
    from tests.test_route_isolation import fill as panel_fill

    client = app.test_client()
    with app.app_context():
        portal_login(client, world["a"].account_id)
    panel_world = {"ticket_id": world["ticket_id"], "message_id": world["message_id"],
                   "key": "x"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(PANEL_PREFIXES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            url = panel_fill(rule, panel_world)
            response = client.open(url, method=method, json={},
                                   headers={"X-CSRFToken": client.csrf_token()})
            assert response.status_code in (302, 401), (method, rule.rule, response.status_code)
            if response.status_code == 302:
                assert response.headers["Location"].split("?")[0].endswith("/login"), rule.rule
            checked += 1
    assert checked >= 10
    for url in ("/admin/", "/inbox/", "/admin/ticket/"):
        response = client.get(url)
        assert response.status_code in (302, 401, 404), (url, response.status_code)
        assert "Protocolo secreto" not in response.get_data(as_text=True)


def test_POR1_positive_control_the_representative_reads_every_get_route(app, world):
    client = app.test_client()
    with app.app_context():
        portal_login(client, world["a"].account_id)
    for rule, method in protected(app):
        if method != "GET" or rule.endpoint in GUARDED_BY_THEMSELVES \
                or not rule.arguments <= {"domain", "ticket_id", "message_id"}:
            continue
        response = call(client, method, fill(rule, world, world["a"].domain))
        assert response.status_code == 200, (rule.rule, response.status_code)


def test_POR1_UX7_a_plan_without_the_portal_module_has_no_portal(app, world):
    """The portal is a module of the plan: without it the portal's pages are the same 404
    as a portal switched off, and its configuration screens are hidden and refused."""
    a = world["a"]
    from backoffice.models import Company
    from tests.conftest import client_as

    with app.app_context():
        company = db.session.get(Company, a.company_id)
        company.plan.modules = [m for m in company.plan.modules if m != "portal"]
        db.session.commit()
    rep = app.test_client()
    with app.app_context():
        portal_login(rep, a.account_id)
    assert rep.get(f"{a.base}/").status_code == 404
    assert rep.get(f"{a.base}/entrar").status_code == 404
    admin = client_as(app, a.admin_email)
    assert admin.get("/admin/portal_settings/").status_code == 403
    assert admin.get("/admin/classifications/").status_code == 403
    assert "Classificações de atendimento" not in admin.get("/admin/").get_data(as_text=True)
