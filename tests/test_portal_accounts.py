"""POR-1 representatives' accounts, with the panel's rules (SEC-4, SEC-5, SEC-6): invited
by e-mail from the contact's screen; the single-use link sets the password once; the
portal login is throttled like the panel's; "Esqueci minha senha" answers the same for
any e-mail; deactivation and a password change end the account's other sessions; panel
users are not portal users and a portal session opens no panel or inbox route."""
from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Company, Contact
from backoffice.models.portal import CustomerOrganization, PortalAccount, PortalToken
from tests.conftest import client_as, flashes
from tests.factories import gen_company
from tests.factories.portal_admin import (CNPJS, gen_organization, gen_portal_settings,
                                          gen_representative)

PASSWORD = "senha-do-portal-1"


@pytest.fixture
def world(app, clock):
    """Company "Loja" with its portal on, a contact with an e-mail, one organisation."""
    with app.app_context():
        company, admin = gen_company("Loja Portal", "admin-portal@example.com")
        gen_portal_settings(company, enabled=True, title="Central Loja")
        org = gen_organization(company, "Cliente Existente", CNPJS[1])
        contact = Contact(company_id=company.id, name="Joana Lima", email="joana@cliente.com.br",
                          phone="+5511987650000")
        db.session.add(contact)
        db.session.commit()
        return {"company_id": company.id, "domain": company.domain, "admin": admin.email,
                "contact_id": contact.id, "org_id": org.id}


def mails(app) -> list[Path]:
    return sorted((Path(app.instance_path) / "mail").glob("*.eml"))


def body_of(path: Path) -> str:
    """Subject and decoded text of a stored mail (long lines are quoted-printable on disk)."""
    with path.open("rb") as f:
        msg = BytesParser(policy=policy.default).parse(f)
    return f"{msg['Subject']}\n{msg.get_body(('plain',)).get_content()}"


def link_in(path: Path) -> str:
    match = re.search(r"https?://[^/\s]+(/portal/[\w.-]+/senha/[\w-]+)", body_of(path))
    assert match, body_of(path)
    return match.group(1)


def _said(page, message: str) -> bool:
    return any(message in f for f in flashes(page.text))


def portal(world, path: str = "") -> str:
    return f"/portal/{world['domain']}/{path}"


def invite(client, world, **data):
    form = {"organization": "", "new_name": "", "new_cnpj": "", **data}
    return client.submit(f"/admin/contacts/convidar-portal/?id={world['contact_id']}", form,
                         follow_redirects=True)


def portal_login(client, world, email, password, next_url=None):
    url = portal(world, "entrar") + (f"?next={next_url}" if next_url else "")
    return client.submit(url, {"email": email, "password": password})


def _account(app, email) -> PortalAccount:
    with app.app_context():
        row = db.session.scalar(select(PortalAccount).where(PortalAccount.email == email))
        db.session.expunge(row)
        return row


def _invited(app, world) -> str:
    """Invite the contact into a new organisation; the link from the mail."""
    admin = client_as(app, world["admin"])
    page = invite(admin, world, new_name="Padaria Nova", new_cnpj=CNPJS[0])
    assert _said(page, "Convite enviado para joana@cliente.com.br.")
    return link_in(mails(app)[-1])


def test_POR1_invite_from_contact_screen_link_sets_password_once_then_login(app, world):
    admin = client_as(app, world["admin"])
    details = admin.get(f"/admin/contacts/details/?id={world['contact_id']}")
    assert "Convidar para o portal" in details.text
    form = admin.get(f"/admin/contacts/convidar-portal/?id={world['contact_id']}")
    assert "Cliente Existente" in form.text
    link = _invited(app, world)
    assert "Central Loja" in body_of(mails(app)[-1])
    with app.app_context():
        account = db.session.scalar(select(PortalAccount))
        assert account.contact_id == world["contact_id"]
        assert account.organization.name == "Padaria Nova"
        assert account.organization.cnpj == "11444777000161"
        assert account.password_hash is None and account.invited_at is not None
        token = db.session.scalar(select(PortalToken))
        assert token.purpose == "invite" and link.rsplit("/", 1)[1] not in token.token_hash
        assert abs(token.expires_at - token.created_at - timedelta(days=7)) < timedelta(seconds=5)

    rep = app.test_client()
    page = rep.get(link)
    assert page.status_code == 200 and "Criar sua senha" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    page = rep.submit(link, {"password": "curta", "confirm": "curta"})
    assert "A senha deve ter de 8 a 128 caracteres." in page.text
    page = rep.submit(link, {"password": PASSWORD, "confirm": PASSWORD + "x"})
    assert _said(page, "As senhas não conferem.")
    done = rep.submit(link, {"password": PASSWORD, "confirm": PASSWORD})
    assert done.status_code == 302 and done.location.endswith(portal(world, "entrar"))
    # the link is spent: a second use says so and changes nothing
    again = rep.get(link, follow_redirects=True)
    assert _said(again, "Este link é inválido ou expirou.")
    rep.submit(link, {"password": "outra-senha-99", "confirm": "outra-senha-99"})
    assert portal_login(rep, world, "outra@x.com", "outra-senha-99").status_code == 200

    ok = portal_login(rep, world, "Joana@Cliente.com.br", PASSWORD)
    assert ok.status_code == 302 and ok.location.endswith(portal(world))
    assert rep.get(portal(world)).status_code == 200


def test_POR1_invite_refusals_are_clear(app, world):
    admin = client_as(app, world["admin"])
    page = invite(admin, world)
    assert _said(page, "Escolha um cliente do portal ou informe o nome de um novo.")
    page = invite(admin, world, new_name="Padaria", new_cnpj="11.444.777/0001-00")
    assert _said(page, "CNPJ inválido: confira os dígitos.")
    page = invite(admin, world, new_name="Padaria", new_cnpj=CNPJS[1])
    assert _said(page, "Já existe um cliente do portal com este CNPJ.")
    page = invite(admin, world, organization="999999999999")
    assert _said(page, "Escolha um cliente do portal ou informe o nome de um novo.")
    with app.app_context():
        assert db.session.scalar(select(PortalAccount)) is None
        assert db.session.query(CustomerOrganization).count() == 1
    assert mails(app) == []

    page = invite(admin, world, organization=str(world["org_id"]))
    assert _said(page, "Convite enviado")
    page = invite(admin, world, organization=str(world["org_id"]))
    assert _said(page, "Este e-mail já é de um representante do portal.")
    with app.app_context():
        db.session.get(Contact, world["contact_id"]).email = None
        db.session.commit()
    page = invite(admin, world, organization=str(world["org_id"]))
    assert _said(page, "O contato não tem e-mail")
    # another company's contact id: 404, like a missing one
    with app.app_context():
        other, _admin = gen_company("Outra Loja", "admin-outra@example.com")
        stranger = Contact(company_id=other.id, name="Estranho", email="e@x.com")
        db.session.add(stranger)
        db.session.commit()
        stranger_id = stranger.id
    assert admin.get(f"/admin/contacts/convidar-portal/?id={stranger_id}").status_code == 404
    assert admin.get("/admin/contacts/convidar-portal/?id=abc").status_code == 404


def test_POR1_invite_needs_the_portal_on(app, world):
    with app.app_context():
        gen_portal_settings(world["company_id"], enabled=False, title="Central Loja")
        db.session.commit()
    page = invite(client_as(app, world["admin"]), world, organization=str(world["org_id"]))
    assert _said(page, "O portal está desativado")
    assert mails(app) == []


def test_POR1_expired_invitation_says_so(app, world, timeline):
    link = _invited(app, world)
    timeline.advance(days=7, minutes=1)
    page = app.test_client().get(link, follow_redirects=True)
    assert _said(page, "Este link é inválido ou expirou. Peça um novo.")


@pytest.fixture
def rep(app, world):
    with app.app_context():
        org = db.session.get(CustomerOrganization, world["org_id"])
        gen_representative(org, "Rui Alves", "rui@cliente.com.br", password=PASSWORD)
        db.session.commit()
    return "rui@cliente.com.br"


def test_POR1_SEC5_wrong_password_is_throttled_like_the_panel(app, world, rep, clock):
    client = app.test_client()
    free = app.config["LOGIN_FREE_ATTEMPTS"]
    for _ in range(free):
        page = portal_login(client, world, rep, "errada-123")
        assert _said(page, "E-mail ou senha incorretos.")
    page = portal_login(client, world, rep, PASSWORD)
    assert _said(page, "Muitas tentativas sem sucesso.")
    # an unknown e-mail gets the same answers, counted the same way
    for _ in range(free):
        assert _said(portal_login(client, world, "ninguem@cliente.com.br", "x"),
                     "E-mail ou senha incorretos.")
    assert _said(portal_login(client, world, "ninguem@cliente.com.br", "x"),
                 "Muitas tentativas sem sucesso.")
    clock[0] += app.config["LOGIN_MAX_DELAY"] + 1
    assert portal_login(client, world, rep, PASSWORD).status_code == 302


def test_POR1_SEC6_reset_same_answer_link_works_and_ends_other_sessions(app, world, rep, timeline):
    other = app.test_client()
    assert portal_login(other, world, rep, PASSWORD).status_code == 302
    anonymous = app.test_client()
    for email in (rep, "ninguem@cliente.com.br"):
        page = anonymous.submit(portal(world, "esqueci-senha"), {"email": email},
                                follow_redirects=True)
        assert _said(page, "Se o e-mail estiver cadastrado, enviaremos a ele um link")
    sent = mails(app)
    assert len(sent) == 1 and "rui@cliente.com.br" in sent[0].read_text()
    assert "Olá, Rui Alves." in body_of(sent[0])
    link = link_in(sent[0])
    with app.app_context():
        token = db.session.scalar(select(PortalToken))
        assert token.purpose == "reset"
        assert abs(token.expires_at - token.created_at - timedelta(hours=1)) < timedelta(seconds=5)
    done = anonymous.submit(link, {"password": "nova-senha-123", "confirm": "nova-senha-123"})
    assert done.status_code == 302
    # the other browser's session ended (auth_version), the old password is gone
    assert other.get(portal(world)).status_code == 302
    assert _said(portal_login(anonymous, world, rep, PASSWORD), "E-mail ou senha incorretos.")
    assert portal_login(anonymous, world, rep, "nova-senha-123").status_code == 302
    # a reset link older than an hour is refused
    anonymous.submit(portal(world, "esqueci-senha"), {"email": rep})
    late = link_in(mails(app)[-1])
    timeline.advance(hours=1, minutes=1)
    assert _said(app.test_client().get(late, follow_redirects=True), "Este link é inválido ou expirou.")


def test_POR1_SEC4_deactivation_ends_sessions(app, world, rep):
    client = app.test_client()
    assert portal_login(client, world, rep, PASSWORD).status_code == 302
    assert client.get(portal(world)).status_code == 200
    account = _account(app, rep)
    admin = client_as(app, world["admin"])
    page = admin.submit("/admin/representatives/action/", {"action": "deactivate",
                                                          "rowid": str(account.id)},
                        follow_redirects=True)
    assert _said(page, "1 representante(s) desativado(s).")
    gone = client.get(portal(world))
    assert gone.status_code == 302 and "/entrar" in gone.location
    assert _said(portal_login(client, world, rep, PASSWORD), "Este acesso está desativado.")
    assert _account(app, rep).auth_version == account.auth_version + 1


def test_POR1_SEC4_password_change_ends_the_other_sessions_only(app, world, rep):
    mine, other = app.test_client(), app.test_client()
    for client in (mine, other):
        assert portal_login(client, world, rep, PASSWORD).status_code == 302
    page = mine.submit(portal(world, "minha-senha"), {"current": "errada", "password": "x" * 8,
                                                      "confirm": "x" * 8})
    assert _said(page, "A senha atual está incorreta.")
    page = mine.submit(portal(world, "minha-senha"), {"current": PASSWORD,
                                                      "password": "trocada-123",
                                                      "confirm": "trocada-123"})
    assert page.status_code == 302
    assert mine.get(portal(world)).status_code == 200
    assert other.get(portal(world)).status_code == 302


def test_POR1_login_next_stays_inside_the_portal(app, world, rep):
    for target, expected in ((portal(world, "protocolos"), portal(world, "protocolos")),
                             ("//evil.example.com/x", portal(world)),
                             ("https://evil.example.com/", portal(world)),
                             ("/admin/", portal(world)),
                             (f"/portal/{world['domain']}/../../admin/", portal(world))):
        client = app.test_client()
        page = portal_login(client, world, rep, PASSWORD, next_url=target)
        assert page.status_code == 302 and page.location.endswith(expected), target


def test_POR1_panel_users_are_not_portal_users_and_back(app, world, rep):
    """The admin's e-mail and password open no portal; a portal session opens no panel."""
    client = app.test_client()
    from tests.factories import PASSWORD as PANEL_PASSWORD

    assert _said(portal_login(client, world, world["admin"], PANEL_PASSWORD),
                 "E-mail ou senha incorretos.")
    assert portal_login(client, world, rep, PASSWORD).status_code == 302
    admin_page = client.get("/admin/")
    assert admin_page.status_code == 302 and "/login" in admin_page.location
    assert client.get("/admin/contacts/").status_code == 302
    inbox = client.get("/inbox/")
    assert inbox.status_code in (302, 401) and "Rui" not in inbox.text
    api = client.get("/inbox/api/tickets", headers={"Accept": "application/json"})
    assert api.status_code == 401
    # the panel's own login refuses the representative's credentials
    assert client.submit("/login", {"email": rep, "password": PASSWORD}).status_code == 200
    # logout of the portal (POST with CSRF) ends the portal session
    assert client.submit(portal(world, "sair")).status_code == 302
    assert client.get(portal(world)).status_code == 302


def test_POR1_set_password_link_of_another_company_is_invalid(app, world):
    link = _invited(app, world)
    with app.app_context():
        other, _admin = gen_company("Outra Loja", "admin-outra@example.com")
        gen_portal_settings(other, enabled=True)
        db.session.commit()
        domain = db.session.get(Company, other.id).domain
    forged = link.replace(f"/portal/{world['domain']}/", f"/portal/{domain}/")
    page = app.test_client().get(forged, follow_redirects=True)
    assert _said(page, "Este link é inválido ou expirou.")
    for bad in ("x" * 300, "%00abc", "a b"):
        assert app.test_client().get(portal(world, f"senha/{bad}")).status_code in (302, 404)
