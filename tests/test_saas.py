"""PLT-5: the super user (SaaS operator) creates companies with their first admin, plans
with limits and modules, and enables/disables a company. Company users never see these
screens."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice import permissions
from backoffice.extensions import db
from backoffice.models import AuditLog, Company, PermissionGroup, Plan, ProtocolSequence, User
from tests.conftest import flashes, login
from tests.factories import PASSWORD, gen_company, gen_plan, gen_user

SU_EMAIL = "operador@atende.example"
NEW_ADMIN_PASSWORD = "senha-forte-123"


def counts() -> dict[str, int]:
    """Rows of every table a company creation writes to."""
    return {m.__name__: db.session.scalar(select(func.count()).select_from(m))
            for m in (Company, User, PermissionGroup, ProtocolSequence, Plan, AuditLog)}


@pytest.fixture
def plan_id(app):
    with app.app_context():
        plan = gen_plan("Plano Profissional", max_users=10)
        db.session.commit()
        return plan.id


@pytest.fixture
def su_client(app, client):
    with app.app_context():
        su = User(name="Operador SaaS", email=SU_EMAIL, is_superuser=True, company=None)
        su.set_password(PASSWORD)
        db.session.add(su)
        db.session.commit()
    resp = login(client, SU_EMAIL, PASSWORD)
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"]
    return client


def company_form(plan_id, **over) -> dict:
    data = {
        "name": "Gama Atendimentos", "cnpj": "11.444.777/0001-61",
        "email": "contato@gama.example", "phone": "(11) 3456-7890", "plan": str(plan_id),
        "active": "y", "admin_name": "Gabriela Gama", "admin_email": "gabriela@gama.example",
        "admin_password": NEW_ADMIN_PASSWORD,
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def create_company(client, plan_id, **over):
    return client.submit("/admin/saas_companies/new/", company_form(plan_id, **over))


def refused(app, resp, before, message: str | None = None):
    """The form came back (never a 500), with the message, and nothing was written."""
    assert resp.status_code == 200, resp.status_code
    assert "Failed to" not in resp.text  # Flask-Admin's untranslated flash
    if message is not None:
        assert message in resp.text
    with app.app_context():
        assert counts() == before


# -- companies -------------------------------------------------------------------------

def test_PLT_5_superuser_creates_company_with_first_admin(app, su_client, plan_id):
    resp = create_company(su_client, plan_id)
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == "Gama Atendimentos"))
        assert company is not None
        assert company.domain == "gama-atendimentos"
        assert company.cnpj == "11444777000161"
        assert company.phone == "+551134567890"
        assert company.plan_id == plan_id and company.active
        seq = db.session.get(ProtocolSequence, company.id)
        assert seq is not None and seq.counter == 0
        groups = {g.name: g for g in db.session.scalars(
            select(PermissionGroup).where(PermissionGroup.company_id == company.id))}
        assert set(groups) == {"Administrador", "Atendente", "Integração (API)"}
        assert groups["Administrador"].kind == permissions.KIND_SYSTEM
        assert set(groups["Administrador"].rights) == set(permissions.system_rights())
        assert groups["Atendente"].kind == permissions.KIND_SYSTEM
        assert groups["Integração (API)"].kind == permissions.KIND_API
        admin = db.session.scalar(select(User).where(User.email == "gabriela@gama.example"))
        assert admin.company_id == company.id and admin.group.name == "Administrador"
        assert admin.name == "Gabriela Gama" and admin.active and not admin.is_superuser
        assert admin.password_hash != NEW_ADMIN_PASSWORD

    listing = su_client.get("/admin/saas_companies/")
    assert listing.status_code == 200
    assert "Gama Atendimentos" in listing.text and "11.444.777/0001-61" in listing.text

    # The first admin can log in and manage the company's users.
    admin_client = app.test_client()
    resp = login(admin_client, "gabriela@gama.example", NEW_ADMIN_PASSWORD)
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"]
    users = admin_client.get("/admin/users/")
    assert users.status_code == 200 and "Gabriela Gama" in users.text


def test_PLT_5_generated_domains_are_unique(app, su_client, plan_id):
    assert create_company(su_client, plan_id).status_code == 302
    assert create_company(su_client, plan_id, cnpj="", phone="",
                          admin_email="outra@gama.example").status_code == 302
    with app.app_context():
        domains = db.session.scalars(select(Company.domain).where(
            Company.name == "Gama Atendimentos").order_by(Company.id)).all()
    assert domains == ["gama-atendimentos", "gama-atendimentos-2"]


def test_PLT_5_domain_is_ascii_slug_of_portuguese_name(app, su_client, plan_id):
    assert create_company(su_client, plan_id, name="Ação & Comércio Ltda.").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Company.domain).where(
            Company.name == "Ação & Comércio Ltda.")) == "acao-comercio-ltda"


@pytest.mark.parametrize("missing", ["admin_name", "admin_email", "admin_password"])
def test_PLT_5_company_without_first_admin_is_refused(app, su_client, plan_id, missing):
    with app.app_context():
        before = counts()
    resp = create_company(su_client, plan_id, **{missing: ""})
    refused(app, resp, before, "Informe nome, e-mail e senha do primeiro administrador.")


def test_PLT_5_duplicate_admin_email_is_refused(app, tenants, su_client, plan_id):
    with app.app_context():
        before = counts()
    # Same e-mail as company A's admin, typed in another case.
    resp = create_company(su_client, plan_id, admin_email="ADMIN-A@example.com")
    refused(app, resp, before, "Já existe um usuário com o e-mail")


@pytest.mark.parametrize("cnpj", ["11.111.111/1111-11", "123", "00.000.000/0000-00"])
def test_PLT_5_invalid_cnpj_is_refused(app, su_client, plan_id, cnpj):
    with app.app_context():
        before = counts()
    resp = create_company(su_client, plan_id, cnpj=cnpj)
    refused(app, resp, before, "CNPJ inválido")


def test_PLT_5_invalid_phone_is_refused(app, su_client, plan_id):
    with app.app_context():
        before = counts()
    refused(app, create_company(su_client, plan_id, phone="12345"), before, "Telefone inválido")


def test_PLT_5_overlong_name_is_a_form_error(app, su_client, plan_id):
    with app.app_context():
        before = counts()
    resp = create_company(su_client, plan_id, name="E" * 121)
    refused(app, resp, before, "não podem ter mais do que 120 caracteres")


def test_PLT_5_short_admin_password_is_a_form_error(app, su_client, plan_id):
    with app.app_context():
        before = counts()
    refused(app, create_company(su_client, plan_id, admin_password="curta"), before)


def test_PLT_5_unknown_plan_id_is_a_form_error(app, su_client, plan_id):
    with app.app_context():
        before = counts()
    refused(app, create_company(su_client, plan_id, plan="999999"), before)


def test_PLT_5_company_edit_form_has_no_admin_fields(app, tenants, su_client):
    cid = tenants["a"].company_id
    page = su_client.get(f"/admin/saas_companies/edit/?id={cid}")
    assert page.status_code == 200
    assert 'name="admin_email"' not in page.text
    resp = su_client.submit(f"/admin/saas_companies/edit/?id={cid}", {
        "name": "Alfa Comércio Renomeada", "cnpj": "", "email": "", "phone": "",
        "plan": "", "active": "y", "admin_email": "intruso@example.com",
        "admin_name": "Intruso", "admin_password": "senha-intrusa-1",
    })
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        assert db.session.get(Company, cid).name == "Alfa Comércio Renomeada"
        assert db.session.scalar(select(User).where(User.email == "intruso@example.com")) is None


# -- plans -----------------------------------------------------------------------------

def test_PLT_5_superuser_creates_plan_with_limits_and_modules(app, su_client):
    page = su_client.get("/admin/plans/new/")
    assert page.status_code == 200
    assert 'type="checkbox" value="chatbot"' in page.text or 'value="chatbot"' in page.text
    resp = su_client.submit("/admin/plans/new/", {
        "name": "Plano Empresarial", "max_users": "25", "max_channels": "4",
        "modules": ["inbox", "chatbot", "reports"], "active": "y",
    })
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        plan = db.session.scalar(select(Plan).where(Plan.name == "Plano Empresarial"))
        assert (plan.max_users, plan.max_channels) == (25, 4)
        assert sorted(plan.modules) == ["chatbot", "inbox", "reports"]
    listing = su_client.get("/admin/plans/")
    assert "Atendimento, Chatbot, Relatórios" in listing.text


@pytest.mark.parametrize("max_users,max_channels,message", [
    ("0", "3", "O plano precisa permitir ao menos 1 usuário"),
    ("-1", "3", "O plano precisa permitir ao menos 1 usuário"),
    ("5", "-1", "canais não pode ser negativo"),
    ("", "3", "O valor inteiro não é válido."),
    ("dez", "3", "O valor inteiro não é válido."),
])
def test_PLT_5_plan_needs_at_least_one_user(app, su_client, max_users, max_channels, message):
    with app.app_context():
        before = counts()
    resp = su_client.submit("/admin/plans/new/", {
        "name": "Plano Vazio", "max_users": max_users, "max_channels": max_channels,
        "modules": ["inbox"], "active": "y",
    })
    refused(app, resp, before, message)


def test_PLT_5_plan_with_unknown_module_is_a_form_error(app, su_client):
    with app.app_context():
        before = counts()
    resp = su_client.submit("/admin/plans/new/", {
        "name": "Plano Pirata", "max_users": "5", "max_channels": "1",
        "modules": ["inbox", "teleporte"], "active": "y",
    })
    refused(app, resp, before, "não é uma escolha válida")


def test_PLT_5_plan_user_limit_blocks_a_third_user(app, client):
    with app.app_context():
        plan = gen_plan("Plano Dois", max_users=2)
        company, admin = gen_company("Delta Pequena", "admin-d@example.com", plan)
        agents = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == company.id, PermissionGroup.name == "Atendente"))
        gen_user(company, "segundo@example.com", agents)
        gen_user(company, "inativo@example.com", agents, active=False)
        db.session.commit()
        group_id, before = agents.id, counts()
    assert login(client, "admin-d@example.com").status_code == 302
    form = {"name": "Terceiro", "email": "terceiro@example.com", "password": "senha-segura-3",
            "group": str(group_id), "active": "y", "language": "pt_BR"}
    resp = client.submit("/admin/users/new/", form)
    refused(app, resp, before, "O plano Plano Dois permite 2 usuários ativos; a empresa já tem 2.")

    # Reactivating an inactive user would also pass the limit.
    with app.app_context():
        inactive = db.session.scalar(select(User).where(User.email == "inativo@example.com"))
    resp = client.submit(f"/admin/users/edit/?id={inactive.id}", {
        "name": inactive.name, "email": inactive.email, "password": "", "group": str(group_id),
        "active": "y", "language": "pt_BR"})
    refused(app, resp, before, "permite 2 usuários ativos")
    with app.app_context():
        assert db.session.get(User, inactive.id).active is False

    # An inactive user does not count against the limit.
    resp = client.submit("/admin/users/new/", {**form, "active": ""})
    assert resp.status_code == 302, flashes(resp.text)


# -- enable / disable ------------------------------------------------------------------

def test_PLT_5_disabled_company_users_cannot_log_in_and_are_logged_out(app, tenants, su_client):
    a = tenants["a"]
    agent_client = app.test_client()
    assert login(agent_client, "agente-a@example.com").status_code == 302
    assert agent_client.get("/admin/").status_code == 200

    resp = su_client.submit("/admin/saas_companies/action/",
                            {"action": "disable", "rowid": str(a.company_id)})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(Company, a.company_id).active is False
        assert db.session.get(Company, tenants["b"].company_id).active is True

    # Already logged in: out on the next request.
    nxt = agent_client.get("/admin/users/")
    assert nxt.status_code == 302 and nxt.headers["Location"].startswith("/login")

    fresh = app.test_client()
    page = login(fresh, a.admin_email)
    assert page.status_code == 200
    assert "O acesso desta empresa está suspenso" in page.text
    assert fresh.get("/admin/").status_code == 302

    # Company B is untouched.
    assert login(app.test_client(), tenants["b"].admin_email).status_code == 302

    # Enabling gives access back.
    su_client.submit("/admin/saas_companies/action/",
                     {"action": "enable", "rowid": str(a.company_id)})
    again = app.test_client()
    assert login(again, a.admin_email).status_code == 302
    assert again.get("/admin/users/").status_code == 200


def test_PLT_5_disabling_a_company_is_audited(app, tenants, su_client):
    a = tenants["a"]
    su_client.submit("/admin/saas_companies/action/", {"action": "disable", "rowid": str(a.company_id)})
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "company", AuditLog.row_id == str(a.company_id)))
        assert entry is not None
        assert entry.action == "update" and entry.user_name == "Operador SaaS"
        assert entry.changes == {"active": [True, False]}


@pytest.mark.parametrize("rowid", ["abc", "", "1.5", "999999"])
def test_PLT_5_forged_action_ids_are_harmless(app, tenants, su_client, rowid):
    resp = su_client.submit("/admin/saas_companies/action/", {"action": "disable", "rowid": rowid})
    assert resp.status_code in (302, 400, 404)
    with app.app_context():
        assert all(db.session.scalars(select(Company.active)).all())


def test_PLT_5_companies_are_never_deleted_from_the_panel(app, tenants, su_client):
    cid = tenants["a"].company_id
    su_client.submit("/admin/saas_companies/delete/", {"id": str(cid)})
    su_client.submit("/admin/saas_companies/action/", {"action": "delete", "rowid": str(cid)})
    with app.app_context():
        assert db.session.get(Company, cid) is not None


# -- who sees the SaaS screens ---------------------------------------------------------

def test_PLT_5_company_users_get_403_on_saas_screens(app, tenants, client, plan_id):
    a = tenants["a"]
    assert login(client, a.admin_email).status_code == 302
    with app.app_context():
        before = counts()
    for url in ("/admin/saas_companies/", "/admin/saas_companies/new/",
                f"/admin/saas_companies/edit/?id={a.company_id}",
                "/admin/plans/", "/admin/plans/new/", f"/admin/plans/edit/?id={plan_id}"):
        assert client.get(url).status_code == 403, url
    assert create_company(client, plan_id).status_code == 403
    assert client.submit("/admin/saas_companies/action/",
                         {"action": "disable", "rowid": str(a.company_id)}).status_code == 403
    assert client.submit("/admin/plans/new/", {"name": "Plano Grátis", "max_users": "999",
                                               "max_channels": "9"}).status_code == 403
    assert client.submit("/admin/plans/delete/", {"id": str(plan_id)}).status_code == 403
    with app.app_context():
        assert counts() == before
        assert db.session.get(Company, a.company_id).active is True


def test_PLT_5_anonymous_is_sent_to_login(client):
    resp = client.get("/admin/saas_companies/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_PLT_5_cli_creates_the_first_superuser(app):
    """A production install gets its SaaS operator without loading the demo company."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed", "superuser", "--email", "Op@Example.com", "--name", "Op",
                                 "--password", "senha-segura-7"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "op@example.com"))
        assert user.is_superuser and user.company_id is None and user.check_password("senha-segura-7")
    again = runner.invoke(args=["seed", "superuser", "--email", "op@example.com", "--name", "Op",
                                "--password", "senha-segura-7"])
    assert again.exit_code != 0 and "Já existe" in again.output
