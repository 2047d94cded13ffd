"""POR-1, the Fale Conosco configuration screens: Classificações de atendimento (with
their sub-classifications inline), Formas de contato, Portal Fale Conosco (the company's
one settings row, its logo, its address) and Clientes do portal (organisations and
representatives). Bad input answers in Portuguese on the form, never a 500; rights and
tenancy of these screens are covered by the generic tests/test_isolation.py and
tests/test_permissions.py (rows registered in tests/admin_registry.py)."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import AuditLog, Company, Connection
from backoffice.models.channels import KIND_PORTAL
from backoffice.models.portal import (ContactMethod, CustomerOrganization, PortalAccount,
                                      PortalSettings, ServiceClassification,
                                      ServiceSubclassification)
from tests.conftest import client_as, flashes
from tests.factories import gen_department, gen_ticket
from tests.factories.portal_admin import (CNPJS, gen_classification, gen_organization,
                                          gen_representative)

pytestmark = pytest.mark.usefixtures("tenants")


@pytest.fixture
def admin_a(app, tenants):
    return client_as(app, tenants["a"].admin_email)


def _count(app, model, **where):
    with app.app_context():
        q = select(func.count()).select_from(model)
        for key, value in where.items():
            q = q.where(getattr(model, key) == value)
        return db.session.scalar(q)


def _said(page, message: str) -> bool:
    """The message is one of the page's alerts (Flask-Admin's carry a close button)."""
    return any(message in f for f in flashes(page.text))


def _png(size=(60, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# --- Classificações de atendimento --------------------------------------------------------------


def _classification_form(name, subs=(), **extra):
    data = {"name": name, "active": "y", "position": "1", "in_portal": "y", **extra}
    for i, (sub, department) in enumerate(subs):
        data.update({f"subclassifications-{i}-name": sub,
                     f"subclassifications-{i}-active": "y",
                     f"subclassifications-{i}-position": str(i),
                     f"subclassifications-{i}-department": str(department or "")})
    return data


def test_POR1_classification_with_subclassifications_routed_to_own_department(app, tenants, admin_a):
    a = tenants["a"]
    page = admin_a.submit("/admin/classifications/new/", _classification_form(
        "Cobrança", [("Segunda via de boleto", a.ids["departments"]), ("Negociação", None)]),
        follow_redirects=True)
    assert page.status_code == 200
    with app.app_context():
        row = db.session.scalar(select(ServiceClassification).where(
            ServiceClassification.name == "Cobrança"))
        assert row.company_id == a.company_id and row.in_portal
        subs = {s.name: s for s in row.subclassifications}
        assert subs["Segunda via de boleto"].department_id == a.ids["departments"]
        assert subs["Negociação"].department_id is None
        assert {s.company_id for s in subs.values()} == {a.company_id}
        audited = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "service_classification", AuditLog.action == "create"))
        assert audited is not None and audited.company_id == a.company_id
    listing = admin_a.get("/admin/classifications/?search=Cobr")
    assert "Segunda via de boleto" in listing.text


def test_POR1_classification_refuses_other_company_department_and_duplicates(app, tenants, admin_a):
    b = tenants["b"]
    before = _count(app, ServiceSubclassification)
    page = admin_a.submit("/admin/classifications/new/", _classification_form(
        "Suporte", [("Acesso", b.ids["departments"])]))
    assert page.status_code == 200
    assert "não pertence à sua empresa" in page.text
    assert _count(app, ServiceSubclassification) == before

    # the name of A's existing classification, with other case: refused in Portuguese
    page = admin_a.submit("/admin/classifications/new/", _classification_form(
        "CLASSIFICAÇÃO EXCLUSIVA A"))
    assert _said(page, "Já existe uma classificação com este nome.")
    # B's name is free in A
    page = admin_a.submit("/admin/classifications/new/", _classification_form(
        "Classificação exclusiva B"), follow_redirects=True)
    assert "Já existe" not in page.text
    # two sub-classifications of one name in one classification
    page = admin_a.submit("/admin/classifications/new/", _classification_form(
        "Financeiro", [("Boleto", None), ("boleto ", None)]))
    assert _said(page, "Sub-classificação repetida")
    assert _count(app, ServiceClassification, name="Financeiro") == 0


def test_POR1_classification_in_use_is_not_deleted(app, tenants, admin_a):
    a = tenants["a"]
    with app.app_context():
        connection = db.session.scalar(select(Connection).where(
            Connection.company_id == a.company_id))
        gen_ticket(connection, classification_id=a.ids["classifications"])
        db.session.commit()
    page = admin_a.submit("/admin/classifications/delete/", {"id": str(a.ids["classifications"])},
                          follow_redirects=True)
    assert _said(page, "desative-a em vez de excluir")
    assert _count(app, ServiceClassification, id=a.ids["classifications"]) == 1


# --- Formas de contato ----------------------------------------------------------------------


def test_POR1_contact_methods_crud_and_duplicate(app, tenants, admin_a):
    page = admin_a.submit("/admin/contact_methods/new/", {"name": "WhatsApp", "position": "2",
                                                          "active": "y"}, follow_redirects=True)
    assert page.status_code == 200
    assert _count(app, ContactMethod, name="WhatsApp") == 1
    page = admin_a.submit("/admin/contact_methods/new/", {"name": " whatsapp ", "position": "",
                                                          "active": "y"})
    assert _said(page, "Já existe uma forma de contato com este nome.")
    page = admin_a.submit("/admin/contact_methods/new/", {"name": "   ", "position": "0"})
    assert page.status_code == 200 and _count(app, ContactMethod, name="") == 0
    with app.app_context():
        row_id = db.session.scalar(select(ContactMethod.id).where(ContactMethod.name == "WhatsApp"))
    admin_a.submit("/admin/contact_methods/delete/", {"id": str(row_id)})
    assert _count(app, ContactMethod, name="WhatsApp") == 0


# --- Portal Fale Conosco --------------------------------------------------------------------------


def _settings_form(**values):
    data = {"title": "Central do Cliente", "color": "#114477", "welcome_text": "Bem-vindo!",
            "ask_contact_method": "y", "allow_reopen": "y"}
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


def _settings_row(app, company_id: int) -> tuple[int, str]:
    """(id of the company's portal settings row, the company's portal domain)."""
    with app.app_context():
        return (db.session.scalar(select(PortalSettings.id).where(
                    PortalSettings.company_id == company_id)),
                db.session.get(Company, company_id).domain)


def test_POR1_portal_settings_enable_shows_address_and_creates_connection(app, tenants, admin_a):
    a = tenants["a"]
    page = admin_a.get("/admin/portal_settings/", follow_redirects=True)
    assert page.status_code == 200 and "Portal exclusivo A" in page.text
    assert "O portal está desativado" in page.text
    row_id, domain = _settings_row(app, a.company_id)
    page = admin_a.submit(f"/admin/portal_settings/edit/?id={row_id}",
                          _settings_form(enabled="y"), follow_redirects=True)
    assert page.status_code == 200
    assert f"/portal/{domain}/" in page.text  # the address, once enabled
    with app.app_context():
        row = db.session.get(PortalSettings, row_id)
        assert row.enabled and row.color == "#114477" and row.title == "Central do Cliente"
        assert db.session.scalar(select(func.count(Connection.id)).where(
            Connection.company_id == a.company_id, Connection.kind == KIND_PORTAL)) == 1
    # the portal's login page now answers, with the title
    login = app.test_client().get(f"/portal/{domain}/entrar")
    assert login.status_code == 200 and "Central do Cliente" in login.text


def test_PLT5_POR1_the_portal_counts_in_the_plan_s_channel_limit(app, tenants, admin_a):
    """PLT-5: the portal's connection is a channel like the others. A plan whose active
    connections are all used refuses switching the portal on, with the plan's message,
    and nothing is saved; with one more channel the same save works, and later saves of
    the settings (the connection exists) are never refused."""
    a = tenants["a"]
    row_id, _domain = _settings_row(app, a.company_id)
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        used = db.session.scalar(select(func.count(Connection.id)).where(
            Connection.company_id == a.company_id, Connection.active.is_(True)))
        assert used >= 1
        company.plan.max_channels = used
        db.session.commit()
    url = f"/admin/portal_settings/edit/?id={row_id}"
    page = admin_a.submit(url, _settings_form(enabled="y", title="Portal novo"),
                          follow_redirects=True)
    assert page.status_code == 200
    assert f"permite no máximo {used} conexões ativas" in page.text
    with app.app_context():
        row = db.session.get(PortalSettings, row_id)
        assert not row.enabled and row.title != "Portal novo"
        assert db.session.scalar(select(func.count(Connection.id)).where(
            Connection.company_id == a.company_id, Connection.kind == KIND_PORTAL)) == 0
        db.session.get(Company, a.company_id).plan.max_channels = used + 1
        db.session.commit()
    assert admin_a.submit(url, _settings_form(enabled="y")).status_code == 302
    with app.app_context():
        assert db.session.get(PortalSettings, row_id).enabled
        assert db.session.scalar(select(func.count(Connection.id)).where(
            Connection.company_id == a.company_id, Connection.kind == KIND_PORTAL,
            Connection.active.is_(True))) == 1
        # the plan shrinks below what the company has: its portal settings still save
        db.session.get(Company, a.company_id).plan.max_channels = 1
        db.session.commit()
    assert admin_a.submit(url, _settings_form(enabled="y", title="Outro título")).status_code == 302


def test_POR1_UX_2_the_portal_bar_s_text_is_readable_on_the_company_s_colour(app, tenants,
                                                                           admin_a):
    """UX-2: the portal's bar is painted in the colour the company chose; its text is black
    on a light colour (a yellow) and white on a dark one (a navy), whichever reaches 4.5:1,
    as the inbox does for tags."""
    from backoffice.services.catalog import text_color_on

    assert [text_color_on(c) for c in ("#ffd500", "#ffffff", "#3c8dbc", "#114477", "#000000")] == [
        "#000", "#000", "#000", "#fff", "#fff"]
    a = tenants["a"]
    row_id, domain = _settings_row(app, a.company_id)
    url = f"/admin/portal_settings/edit/?id={row_id}"
    for colour, text in (("#ffd500", "#000"), ("#114477", "#fff")):
        assert admin_a.submit(url, _settings_form(enabled="y", color=colour)).status_code == 302
        page = app.test_client().get(f"/portal/{domain}/entrar").text
        assert f".portal-bar {{ background: {colour}; color: {text}; }}" in page
        assert f".portal-bar a {{ color: {text}; }}" in page


def test_POR1_portal_settings_bad_colour_and_logo(app, tenants, admin_a):
    a = tenants["a"]
    row_id, _domain = _settings_row(app, a.company_id)
    url = f"/admin/portal_settings/edit/?id={row_id}"
    page = admin_a.submit(url, _settings_form(color="vermelho"))
    assert "Cor inválida: use o formato #RRGGBB." in page.text
    page = admin_a.submit(url, _settings_form(color="#12345"))
    assert "Cor inválida: use o formato #RRGGBB." in page.text

    text_as_png = (io.BytesIO(b"<svg onload=alert(1)>"), "logo.png")
    page = admin_a.post(url, data={**_settings_form(), "logo": text_as_png,
                                   "csrf_token": admin_a.csrf_token()},
                        content_type="multipart/form-data")
    assert _said(page, "O arquivo não é uma imagem PNG, JPEG ou WebP.")
    app.config["LOGO_MAX_BYTES"] = 1000
    big = (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000), "grande.png")
    page = admin_a.post(url, data={**_settings_form(), "logo": big,
                                   "csrf_token": admin_a.csrf_token()},
                        content_type="multipart/form-data")
    assert _said(page, "A imagem passa do limite de")
    with app.app_context():
        row = db.session.get(PortalSettings, row_id)
        assert row.logo_key is None and row.color != "vermelho"


def test_POR1_portal_logo_upload_is_served_on_the_portal(app, tenants, admin_a):
    a = tenants["a"]
    row_id, domain = _settings_row(app, a.company_id)
    url = f"/admin/portal_settings/edit/?id={row_id}"
    page = admin_a.post(url, data={**_settings_form(enabled="y"),
                                   "logo": (io.BytesIO(_png()), "logo.png"),
                                   "csrf_token": admin_a.csrf_token()},
                        content_type="multipart/form-data", follow_redirects=True)
    assert page.status_code == 200
    with app.app_context():
        key = db.session.get(PortalSettings, row_id).logo_key
    assert key
    anonymous = app.test_client()
    login = anonymous.get(f"/portal/{domain}/entrar")
    assert f"/portal/{domain}/logo/{key}" in login.text
    image = anonymous.get(f"/portal/{domain}/logo/{key}")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data.startswith(b"\x89PNG")
    assert anonymous.get(f"/portal/{domain}/logo/{'0' * 32}").status_code == 404


# --- Clientes do portal -------------------------------------------------------------------------


def test_POR1_organization_cnpj_checked_and_unique(app, tenants, admin_a):
    page = admin_a.submit("/admin/organizations/new/", {"name": "Padaria Pão Quente",
                                                        "cnpj": "11.444.777/0001-62",
                                                        "active": "y"})
    assert _said(page, "CNPJ inválido: confira os dígitos.")
    page = admin_a.submit("/admin/organizations/new/", {"name": "Padaria Pão Quente",
                                                        "cnpj": CNPJS[0], "active": "y"},
                          follow_redirects=True)
    assert page.status_code == 200
    with app.app_context():
        org = db.session.scalar(select(CustomerOrganization).where(
            CustomerOrganization.name == "Padaria Pão Quente"))
        assert org.cnpj == "11444777000161"
    page = admin_a.submit("/admin/organizations/new/", {"name": "Outra", "cnpj": "11444777000161",
                                                        "active": "y"})
    assert _said(page, "Já existe um cliente do portal com este CNPJ.")
    # the same CNPJ is free in another company
    client_b = client_as(app, tenants["b"].admin_email)
    client_b.submit("/admin/organizations/new/", {"name": "Padaria B", "cnpj": CNPJS[0],
                                                  "active": "y"})
    assert _count(app, CustomerOrganization, cnpj="11444777000161") == 2


def test_POR1_representatives_listed_on_the_organization_and_checked(app, tenants, admin_a):
    a = tenants["a"]
    org_id = a.ids["organizations"]
    page = admin_a.submit("/admin/representatives/new/", {
        "organization": str(org_id), "name": "Maria Souza", "email": " Maria@Cliente.com.br ",
        "phone": "(11) 98765-4321", "active": "y"}, follow_redirects=True)
    assert page.status_code == 200
    with app.app_context():
        rep = db.session.scalar(select(PortalAccount).where(PortalAccount.name == "Maria Souza"))
        assert rep.email == "maria@cliente.com.br" and rep.phone == "+5511987654321"
        assert rep.password_hash is None
    details = admin_a.get(f"/admin/organizations/details/?id={org_id}")
    assert "Maria Souza" in details.text and "Representante exclusivo A" in details.text
    for bad, message in (({"email": "maria@cliente.com.br"}, "Este e-mail já é de um representante do portal."),
                         ({"email": "sem-arroba"}, "E-mail inválido."),
                         ({"phone": "123"}, "Telefone inválido.")):
        form = {"organization": str(org_id), "name": "Outra", "email": "outra@cliente.com.br",
                "phone": "", "active": "y", **bad}
        page = admin_a.submit("/admin/representatives/new/", form)
        assert _said(page, message), message
    # another company's organisation id: a form error, nothing saved
    page = admin_a.submit("/admin/representatives/new/", {
        "organization": str(tenants["b"].ids["organizations"]), "name": "Forjado",
        "email": "forjado@cliente.com.br", "active": "y"})
    assert "não pertence à sua empresa" in page.text
    assert _count(app, PortalAccount, name="Forjado") == 0


def test_POR1_organization_with_bad_input_is_never_a_500(app, tenants, admin_a):
    for data in ({"name": "", "cnpj": ""}, {"name": "X" * 500, "cnpj": "1" * 40},
                 {"name": "Nul\x00", "cnpj": "abc"}):
        page = admin_a.submit("/admin/organizations/new/", data)
        assert page.status_code == 200
    assert _count(app, CustomerOrganization, company_id=tenants["a"].company_id) == 1


def test_POR1_department_choices_are_the_company_own(app, tenants, admin_a):
    with app.app_context():
        gen_department(db.session.get(Company, tenants["b"].company_id), "Segredo de B")
        org = db.session.get(CustomerOrganization, tenants["a"].ids["organizations"])
        gen_representative(org, "Outro Rep", "outro@example.com")
        gen_organization(tenants["a"].company_id, "Com CNPJ", CNPJS[1])
        gen_classification(tenants["a"].company_id, "Vazia")
        db.session.commit()
    page = admin_a.get("/admin/classifications/new/")
    assert "Departamento exclusivo A" in page.text
    assert "Segredo de B" not in page.text and "Departamento exclusivo B" not in page.text
