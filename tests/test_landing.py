"""UX-3: agents land where they work. After any login completion (password, second
factor, the password due at first access), at `/` and on an authenticated GET /login, a
user whose group has the inbox and no configuration rights goes to /inbox/, everyone else
to the panel; a safe `next` still wins. The inbox offers the panel only to who may use it,
and an agent who opens the panel anyway gets their own home, not a 403."""
from __future__ import annotations

import re
import time
from urllib.parse import quote

import pyotp
import pytest

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import Company, User
from backoffice.services import access, twofactor
from tests.conftest import client_as, login
from tests.factories import PASSWORD, gen_group, gen_user

AGENT = "agente-caixa@example.com"
SUPERVISOR = "supervisora@example.com"


@pytest.fixture
def people(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, AGENT, gen_group(company, "Atendentes", permissions.AGENT_RIGHTS
                                           + ("scheduled.view",)))
        gen_user(company, SUPERVISOR, gen_group(
            company, "Supervisão", ["inbox.view", "inbox.supervise", "audit.view"]))
        db.session.commit()
    return {"admin": tenants["a"].admin_email, "company_id": tenants["a"].company_id}


def _location(resp) -> str:
    assert resp.status_code == 302, resp.status_code
    return resp.headers["Location"]


def test_UX_3_the_rule_inbox_only_means_no_configuration_rights(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        # rights -> (lands in the inbox, the inbox links to the panel)
        cases = {
            ("inbox.view",): (True, False),
            # Contatos and Agendamentos are panel screens an agent may open from the inbox
            ("inbox.view", "inbox.supervise", "contacts.view", "scheduled.create"): (True, True),
            ("inbox.view", "company.view"): (False, True),   # a configuration screen
            ("inbox.view", "audit.view"): (False, True),
            ("contacts.view",): (False, True),               # no inbox: nothing to land in
            (): (False, False),
        }
        for n, (rights, (lands, panel)) in enumerate(cases.items()):
            user = gen_user(company, f"regra{n}@example.com", gen_group(company, f"G{n}", rights))
            db.session.flush()
            assert access.inbox_only(user) is lands, rights
            assert access.may_use_panel(user) is panel, rights
        root = User(name="Root", email="root-regra@example.com", is_superuser=True)
        assert access.inbox_only(root) is False


def test_UX_3_agent_lands_in_the_inbox_others_on_the_panel(app, people):
    assert _location(login(app.test_client(), AGENT)) == "/inbox/"
    assert _location(login(app.test_client(), SUPERVISOR)) == "/admin/"
    assert _location(login(app.test_client(), people["admin"])) == "/admin/"


def test_UX_3_root_and_an_authenticated_login_page_go_home(app, people):
    agent, admin = client_as(app, AGENT), client_as(app, people["admin"])
    assert _location(agent.get("/")) == "/inbox/"
    assert _location(agent.get("/login")) == "/inbox/"
    assert _location(admin.get("/")) == "/admin/"
    assert _location(admin.get("/login")) == "/admin/"
    assert _location(agent.get("/login?next=/admin/contacts/")) == "/admin/contacts/"
    assert _location(app.test_client().get("/")).startswith("/login")


def test_UX_3_a_safe_next_still_wins(app, people):
    for target, expected in (("/admin/contacts/", "/admin/contacts/"), ("/admin/", "/admin/"),
                             ("//evil.example/x", "/inbox/"), ("/\\evil.example/x", "/inbox/"),
                             ("https://evil.example/", "/inbox/"), ("", "/inbox/")):
        resp = app.test_client().submit(f"/login?next={quote(target)}",
                                        {"email": AGENT, "password": PASSWORD})
        assert _location(resp) == expected, target


def test_UX_3_second_factor_completion_lands_the_agent_in_the_inbox(app, people, clock):
    with app.app_context():
        user = db.session.query(User).filter_by(email=AGENT).one()
        secret = twofactor.new_secret()
        # the previous step's code: the login's (this step's) must come later to count
        codes = twofactor.enable(user, secret, pyotp.TOTP(secret).at(time.time(), counter_offset=-1))
        db.session.commit()
    client = app.test_client()
    assert _location(login(client, AGENT)).endswith("/login/codigo")
    assert _location(client.submit("/login/codigo", {"code": pyotp.TOTP(secret).now()})) == "/inbox/"
    # with a `next`, the code step keeps it (a recovery code: the TOTP one is spent)
    other = app.test_client()
    other.submit("/login?next=/admin/about/", {"email": AGENT, "password": PASSWORD})
    assert _location(other.submit("/login/codigo", {"code": codes[0]})) == "/admin/about/"


def test_UX_3_the_password_due_at_first_access_then_goes_home(app, people):
    with app.app_context():
        for email in (AGENT, SUPERVISOR):
            db.session.query(User).filter_by(email=email).one().must_change_password = True
        db.session.commit()
    for email, home in ((AGENT, "/inbox/"), (SUPERVISOR, "/admin/")):
        client = client_as(app, email)
        assert _location(client.get("/inbox/")).startswith("/admin/account/")  # SEC-1 first
        resp = client.submit("/admin/account/", {"language": "", "current_password": PASSWORD,
                                                 "new_password": "nova-senha-forte-1"})
        assert _location(resp) == home
        assert client.get(home).status_code == 200
    # an ordinary save of Minha conta stays there
    resp = client_as(app, people["admin"]).submit("/admin/account/", {"language": "en"})
    assert _location(resp) == "/admin/account/"


def test_UX_3_inbox_header_offers_the_panel_only_to_who_may_use_it(app, people):
    with app.app_context():
        company = db.session.get(Company, people["company_id"])
        gen_user(company, "so-caixa@example.com", gen_group(company, "Só caixa", ["inbox.view"]))
        db.session.commit()
    inbox_alone = client_as(app, "so-caixa@example.com").get("/inbox/").text
    assert 'data-testid="panel-link"' not in inbox_alone and ">Painel<" not in inbox_alone
    assert 'href="/admin/account/"' in inbox_alone  # Minha conta (password, 2FA, language)
    # the agent lands in the inbox but holds Contatos, a panel screen
    for email in (AGENT, SUPERVISOR, people["admin"]):
        page = client_as(app, email).get("/inbox/").text
        assert re.search(r'<a [^>]*href="/admin/"[^>]*data-testid="panel-link">Painel</a>', page)


def test_UX_3_an_agent_who_opens_the_panel_gets_their_home(app, people):
    """Not a 403 dead end: the panel's home shows the agent's own numbers and the way to
    the inbox."""
    page = client_as(app, AGENT).get("/admin/")
    assert page.status_code == 200
    assert 'href="/inbox/"' in page.text
    assert "Usuários" not in page.text


def test_UX_3_make_run_prints_the_inbox_and_the_demo_logins_that_work(app):
    """The logins come from seed/demo.json (where the passwords are written once); the
    demo's agents land in the inbox, its admin and supervisor on the panel."""
    from backoffice.cli.seed import demo_logins
    from backoffice.seed import load_demo

    with app.app_context():
        assert demo_logins("http://127.0.0.1:5000")[2:] == []  # nothing loaded: no logins
        assert load_demo() is True
        lines = demo_logins("http://127.0.0.1:5000")
    assert lines[:2] == ["  Atende em http://127.0.0.1:5000/",
                         "  Caixa de entrada dos atendentes: http://127.0.0.1:5000/inbox/ "
                         "(atendentes entram direto nela)"]
    logins = [line.rsplit(": ", 1)[1].strip() for line in lines[3:8]]
    assert logins == ["admin@demo.atende.local / demo12345", "bruno@demo.atende.local / demo12345",
                      "carla@demo.atende.local / demo12345", "diego@demo.atende.local / demo12345",
                      "root@atende.local / root12345"]
    assert "Atendente:" in lines[4] and "Supervisor:" in lines[6]
    # POR-1 / ART-1: the demo's portal with its representative's login, and the help center
    assert lines[8:] == [
        "  Portal Fale Conosco: http://127.0.0.1:5000/portal/oticas-boa-vista-ltda/ "
        "(representante de Construtora Horizonte Ltda: marina@horizonte.example.com / portal12345)",
        "  Central de ajuda pública: http://127.0.0.1:5000/ajuda/oticas-boa-vista-ltda/"]
    for email, home in (("bruno@demo.atende.local", "/inbox/"),
                        ("diego@demo.atende.local", "/admin/"),
                        ("admin@demo.atende.local", "/admin/")):
        assert _location(login(app.test_client(), email, "demo12345")) == home
    with app.app_context():
        db.session.query(User).filter_by(email="bruno@demo.atende.local").one().set_password("outra-9876")
        db.session.commit()
        assert not any("bruno@" in line for line in demo_logins("http://127.0.0.1:5000"))
