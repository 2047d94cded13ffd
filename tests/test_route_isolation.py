"""PLT-1 / PLT-3 / RTM-1 for every non-admin route, generically: the test walks the app's
URL map, so a new inbox, presence or webchat route is checked the day it is added, and a
route of a new blueprint fails `test_every_route_is_classified` until it is covered.

For each inbox/presence route:
- anonymous: refused (401 JSON or a redirect to the login page), never data;
- a user of the company without the inbox right, and the SaaS super user: 403;
- another company's admin (who has every right in their own company), and an agent of
  another department of the same company, given real ids of the ticket and message:
  404 (the same answer as a missing row), and nothing of the ticket changes;
- the ticket's own agent gets the GET routes (positive control: the ids are real).
"""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Department, DepartmentMember, Message, Ticket
from backoffice.services import sending
from backoffice.lib import after_commit
from backoffice.services.templates import Upload
from tests.conftest import login
from tests.factories import gen_agent_setup, gen_group, gen_user

PROTECTED = ("inbox.", "presence.")
# the TV panel (PNL-1, /tv/<key>) is opened on a wall TV with no login: its random key is
# the credential, and an unknown key must get the same 404 (tests/test_panel.py covers
# revoked keys and another company's data)
PUBLIC_BY_KEY = ("webchat.", "hooks.", "tv.")
# covered elsewhere: the admin views by test_isolation/test_permissions, auth by test_auth,
# the logo and avatars (UX-5) by test_images
CLASSIFIED_ELSEWHERE = ("admin.", "static", "auth.", "media.",
                        # the public help center (ART-1, no login): tests/test_articles.py
                        # (test_ART1_help_center_shows_only_published_public_articles and the
                        # other test_ART1_help_* tests: 404s, bad input, feedback)
                        "help.",
                        # the Fale Conosco portal (POR-1, its own sessions): walked route by
                        # route in tests/test_portal_isolation.py
                        "portal.")
# the REST API (/api/v1, a bearer token, no session) by test_api_generic.py, which walks its
# routes the same way; its public documentation (/api/docs, /api/v1/openapi.json) by
# test_api_schemathesis.py
API_PATHS = "/api/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _admin_endpoint(endpoint: str, app) -> bool:
    admin = app.extensions["admin"][0]
    return any(endpoint.startswith(v.endpoint + ".") for v in admin._views)


def routes(app, prefixes):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(prefixes):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_route_is_classified(app):
    """A route nobody classified here would ship without these checks."""
    unknown = [r.rule for r in app.url_map.iter_rules()
               if not r.endpoint.startswith(PROTECTED + PUBLIC_BY_KEY + CLASSIFIED_ELSEWHERE)
               and not _admin_endpoint(r.endpoint, app) and not r.rule.startswith(API_PATHS)]
    assert unknown == []


@pytest.fixture
def world(app):
    with app.app_context():
        a = gen_agent_setup(key="a")
        gen_agent_setup(key="b")
        company = db.session.get(Company, a.company_id)
        other_dept = Department(company_id=company.id, name="Financeiro", order=2)
        db.session.add(other_dept)
        no_rights = gen_group(company, "Sem caixa", ["company.view"])
        gen_user(company, "semcaixa@example.com", no_rights)
        seller = gen_user(company, "financeiro@example.com",
                          gen_group(company, "Financeiro", ["inbox.view"]))
        db.session.flush()
        db.session.add(DepartmentMember(company_id=company.id, department_id=other_dept.id,
                                        user_id=seller.id))
        message = sending.queue(a.ticket, a.agent, "com anexo",
                                upload=Upload(data=PNG, name="foto.png", mime="image/png"))
        after_commit.commit()
        from backoffice.models import User

        root = User(name="Root", email="root@example.com", is_superuser=True)
        root.set_password("senha-segura-1")
        db.session.add(root)
        db.session.commit()
        return {"ticket_id": a.ticket.id, "message_id": message.id,
                "key": a.connection.public_key}


def fill(rule, world) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "ticket_id":
            values[arg] = world["ticket_id"]
        elif arg == "message_id":
            values[arg] = world["message_id"]
        elif arg == "key":
            values[arg] = world["key"]
        elif arg == "kind":  # the provider webhooks: /hooks/<kind>/<key>
            values[arg] = world.get("kind", "whatsapp")
        else:
            pytest.fail(f"{rule.rule}: teach this test what <{arg}> is")
    return rule.build(values, append_unknown=False)[1]


def call(client, method, url):
    headers = {"X-CSRFToken": client.csrf_token()}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.open(url, method=method, json={}, headers=headers)


def snapshot(app, world):
    with app.app_context():
        t = db.session.get(Ticket, world["ticket_id"])
        return (t.status, t.agent_id, t.department_id, t.favourite, [x.id for x in t.tags],
                t.reason_id, db.session.scalar(select(func.count()).select_from(Message)
                                               .where(Message.ticket_id == t.id)))


def test_PLT_1_anonymous_gets_nothing_from_any_inbox_route(app, world):
    client = app.test_client()
    for rule, method in routes(app, PROTECTED):
        response = call(client, method, fill(rule, world))
        assert response.status_code in (302, 401), (method, rule.rule, response.status_code)
        if response.status_code == 302:
            assert "/login" in response.headers["Location"], rule.rule


@pytest.mark.parametrize("email", ["semcaixa@example.com", "root@example.com"])
def test_PLT_3_users_without_the_inbox_right_get_403_everywhere(app, world, email):
    client = app.test_client()
    assert login(client, email).status_code == 302
    for rule, method in routes(app, PROTECTED):
        response = call(client, method, fill(rule, world))
        assert response.status_code == 403, (email, method, rule.rule, response.status_code)


@pytest.mark.parametrize("email", ["admin-b@example.com", "financeiro@example.com"])
def test_PLT_1_other_company_or_department_gets_404_for_the_ticket_everywhere(app, world, email):
    before = snapshot(app, world)
    client = app.test_client()
    assert login(client, email).status_code == 302
    checked = 0
    for rule, method in routes(app, PROTECTED):
        if not {"ticket_id", "message_id"} & set(rule.arguments):
            continue
        response = call(client, method, fill(rule, world))
        assert response.status_code == 404, (email, method, rule.rule, response.status_code)
        checked += 1
    assert checked >= 10
    assert snapshot(app, world) == before


def test_PLT_1_lists_of_another_company_never_show_the_ticket(app, world):
    client = app.test_client()
    assert login(client, "admin-b@example.com").status_code == 302
    for rule, method in routes(app, PROTECTED):
        if method != "GET" or rule.arguments:
            continue
        response = call(client, method, fill(rule, world))
        assert response.status_code == 200, rule.rule
        body = response.get_data(as_text=True)
        assert "Maria Cliente A" not in body and "foto.png" not in body, rule.rule


def test_positive_control_the_tickets_agent_reads_every_get_route(app, world):
    client = app.test_client()
    assert login(client, "agente-a@example.com").status_code == 302
    for rule, method in routes(app, PROTECTED):
        if method != "GET":
            continue
        response = call(client, method, fill(rule, world))
        assert response.status_code == 200, (rule.rule, response.status_code)


def test_webchat_and_hook_routes_with_an_unknown_key_answer_404_not_500(app, world):
    """CHN-2, CHN-5: a public route found by key answers 404 to a key that is no
    connection's (every provider kind for the webhooks), never a 500."""
    client = app.test_client()
    from backoffice.models.channels import HOOK_KINDS

    for kind in HOOK_KINDS:
        for method in ("GET", "POST"):
            response = client.open(f"/hooks/{kind}/chave-que-nao-existe", method=method, json={})
            assert response.status_code == 404, (method, kind, response.status_code)
    for rule, method in routes(app, PUBLIC_BY_KEY):
        if "key" not in rule.arguments:
            continue
        url = fill(rule, {**world, "key": "chave-que-nao-existe"})
        response = client.open(url, method=method, json={})
        assert response.status_code == 404, (method, rule.rule, response.status_code)
