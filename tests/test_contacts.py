"""Contatos: manual registration (PAR-1: phone E.164, CPF/CNPJ, tags, custom fields, the document
required per person type), WAL-1 (carteira) and the duplicate rules."""
from __future__ import annotations

import html
import io

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import (
    Company, Contact, ContactField, PermissionGroup, User,
)
from backoffice.services.settings import get_settings
from tests.conftest import client_as, flashes, login
from tests.factories import gen_group, gen_ticket, gen_user

CPF = "529.982.247-25"
CNPJ = "11.444.777/0001-61"


def form(**fields):
    data = {"name": "Maria da Silva", "phone": "(11) 98765-4321", "email": "", "person_type": "",
            "document": "", "notes": ""}
    data.update(fields)
    return data


def contact(app, **where) -> Contact | None:
    with app.app_context():
        row = db.session.scalar(select(Contact).filter_by(**where))
        if row is not None:
            db.session.expunge(row)
        return row


@pytest.fixture
def a_client(app, tenants):
    client = app.test_client()
    login(client, tenants["a"].admin_email)
    return client


def test_PAR_1_contact_created_with_canonical_phone_and_normalised_cpf(app, tenants, a_client):
    resp = a_client.submit("/admin/contacts/new/", form(
        phone="+55 11 9 8765-4321", person_type="PF", document=CPF, email=" Maria@Exemplo.com.BR "))
    assert resp.status_code == 302, flashes(resp.text)
    saved = contact(app, name="Maria da Silva")
    assert saved.phone == "+5511987654321"
    assert saved.document == "52998224725"
    assert saved.email == "maria@exemplo.com.br"
    listing = a_client.get("/admin/contacts/").text
    # shown formatted, never the stored digits
    assert "529.982.247-25" in listing and "(11) 98765-4321" in listing


def test_PAR_1_old_eight_digit_mobile_gets_the_ninth_digit(app, tenants, a_client):
    a_client.submit("/admin/contacts/new/", form(phone="(21) 8765-4321"))
    assert contact(app, name="Maria da Silva").phone == "+5521987654321"


def test_PAR_1_person_type_is_inferred_from_the_document(app, tenants, a_client):
    a_client.submit("/admin/contacts/new/", form(name="Empresa X", document=CNPJ))
    saved = contact(app, name="Empresa X")
    assert (saved.person_type, saved.document) == ("PJ", "11444777000161")


@pytest.mark.parametrize("fields, message", [
    ({"phone": "123"}, "Telefone inválido"),
    ({"document": "529.982.247-26"}, "CPF inválido"),
    ({"document": "111.111.111-11"}, "todos os dígitos iguais"),
    ({"document": "11.444.777/0001-62"}, "CNPJ inválido"),
    ({"person_type": "PF", "document": CNPJ}, "Pessoa física precisa de um CPF"),
    ({"person_type": "PJ", "document": CPF}, "Pessoa jurídica precisa de um CNPJ"),
    ({"email": "maria@"}, "E-mail inválido"),
    ({"name": "   "}, "nome"),
])
def test_PAR_1_bad_contact_data_is_refused_in_portuguese(app, tenants, a_client, fields, message):
    resp = a_client.submit("/admin/contacts/new/", form(**fields), follow_redirects=True)
    assert resp.status_code == 200
    assert message.lower() in html.unescape(resp.text).lower()
    with app.app_context():
        assert db.session.scalar(select(Contact).where(Contact.phone == "+5511987654321")) is None


def test_PAR_1_cpf_required_for_pf_and_cnpj_for_pj_when_the_company_says_so(app, tenants, a_client):
    with app.app_context():
        settings = get_settings(tenants["a"].company_id)
        settings.cpf_required_pf = True
        db.session.commit()
    resp = a_client.submit("/admin/contacts/new/", form(person_type="PF"), follow_redirects=True)
    assert "Informe o CPF" in html.unescape(resp.text)
    assert contact(app, name="Maria da Silva") is None
    # PJ has its own switch, still off: a company without CNPJ is accepted
    resp = a_client.submit("/admin/contacts/new/", form(name="Loja Y", person_type="PJ"))
    assert resp.status_code == 302
    with app.app_context():
        get_settings(tenants["a"].company_id).cnpj_required_pj = True
        db.session.commit()
    resp = a_client.submit("/admin/contacts/new/", form(name="Loja Z", phone="(11) 3456-7890",
                                                        person_type="PJ"), follow_redirects=True)
    assert "Informe o CNPJ" in html.unescape(resp.text)
    resp = a_client.submit("/admin/contacts/new/", form(person_type="PF", phone="(11) 97777-0000",
                                                        document=CPF))
    assert resp.status_code == 302


def test_PAR_1_one_contact_per_phone_and_per_document_within_a_company(app, tenants, a_client):
    a_client.submit("/admin/contacts/new/", form(document=CPF))
    resp = a_client.submit("/admin/contacts/new/", form(name="Outra", phone="11987654321"),
                           follow_redirects=True)
    assert "Já existe um contato com este telefone: Maria da Silva" in html.unescape(resp.text)
    resp = a_client.submit("/admin/contacts/new/", form(name="Outra", phone="(11) 91111-2222",
                                                        document="52998224725"),
                           follow_redirects=True)
    assert "Já existe um contato com este CPF/CNPJ" in html.unescape(resp.text)
    with app.app_context():
        assert db.session.query(Contact).filter_by(company_id=tenants["a"].company_id,
                                                   name="Outra").count() == 0
    # another company may have the same person: the rule is per company
    b = app.test_client()
    login(b, tenants["b"].admin_email)
    assert b.submit("/admin/contacts/new/", form(document=CPF)).status_code == 302


def test_PAR_1_editing_keeps_its_own_phone_and_shows_it_formatted(app, tenants, a_client):
    a_client.submit("/admin/contacts/new/", form(document=CPF))
    cid = contact(app, name="Maria da Silva").id
    page = a_client.get(f"/admin/contacts/edit/?id={cid}").text
    assert 'value="(11) 98765-4321"' in page and 'value="529.982.247-25"' in page
    resp = a_client.submit(f"/admin/contacts/edit/?id={cid}", form(name="Maria S.", document=CPF))
    assert resp.status_code == 302, flashes(resp.text)
    assert contact(app, id=cid).name == "Maria S."


def test_PAR_1_tags_and_custom_fields_on_a_contact(app, tenants, a_client):
    with app.app_context():
        field = ContactField(company_id=tenants["a"].company_id, label="Código ERP", key="codigo_erp")
        db.session.add(field)
        db.session.commit()
        field_id = field.id
    tag_id = tenants["a"].ids["tags"]
    resp = a_client.submit("/admin/contacts/new/", form(tags=str(tag_id), **{f"cf_{field_id}": "C-778"}))
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        saved = db.session.scalar(select(Contact).where(Contact.name == "Maria da Silva"))
        assert saved.custom_fields == {"codigo_erp": "C-778"}
        assert [t.id for t in saved.tags] == [tag_id]
    details = a_client.get(f"/admin/contacts/details/?id={saved.id}").text
    assert "Código ERP: C-778" in html.unescape(details)
    # another company's tag id is not a choice
    resp = a_client.submit("/admin/contacts/new/", form(name="Outro", phone="(11) 92222-3333",
                                                        tags=str(tenants["b"].ids["tags"])))
    assert contact(app, name="Outro") is None or contact(app, name="Outro").company_id == tenants["a"].company_id
    with app.app_context():
        other = db.session.scalar(select(Contact).where(Contact.name == "Outro"))
        assert other is None or not other.tags


def test_PAR_1_custom_field_names_are_unique_and_cannot_shadow_a_standard_column(app, tenants, a_client):
    assert a_client.submit("/admin/contact_fields/new/", {"label": "Aniversário", "order": "1",
                                                         "active": "y"}).status_code == 302
    resp = a_client.submit("/admin/contact_fields/new/", {"label": "aniversario", "order": "2",
                                                         "active": "y"}, follow_redirects=True)
    assert "Já existe um campo com este nome" in html.unescape(resp.text)
    resp = a_client.submit("/admin/contact_fields/new/", {"label": "Telefone", "order": "2",
                                                         "active": "y"}, follow_redirects=True)
    assert "coluna padrão" in html.unescape(resp.text)
    with app.app_context():
        keys = db.session.scalars(select(ContactField.key).where(
            ContactField.company_id == tenants["a"].company_id)).all()
    assert sorted(keys) == ["aniversario", "campo_exclusivo_a"]


def test_PAR_1_a_contact_with_conversations_cannot_be_deleted(app, tenants, a_client):
    with app.app_context():
        from backoffice.models import Connection

        connection = db.session.get(Connection, tenants["a"].ids["connections"])
        ticket = gen_ticket(connection)
        db.session.commit()
        cid = ticket.contact_id
    resp = a_client.submit("/admin/contacts/delete/", {"id": str(cid)}, follow_redirects=True)
    assert "tem atendimentos" in html.unescape(resp.text)
    assert contact(app, id=cid) is not None


# -- WAL-1 -------------------------------------------------------------------------


@pytest.fixture
def wallets(app, tenants):
    """Company A with carteiras on: two agents (contacts rights, no supervise), one
    contact each, one unowned; and a manager with contacts.supervise."""
    a = tenants["a"]
    rights = ["contacts.view", "contacts.create", "contacts.edit"]
    with app.app_context():
        company = db.session.get(Company, a.company_id)
        agents = gen_group(company, "Agentes", rights)
        managers = gen_group(company, "Gerentes", rights + ["contacts.supervise"])
        ana = gen_user(company, "ana@example.com", agents, name="Ana")
        beto = gen_user(company, "beto@example.com", agents, name="Beto")
        gen_user(company, "gerente@example.com", managers, name="Gerente")
        db.session.flush()
        for name, phone, owner in (("Cliente da Ana", "+5511911110001", ana),
                                   ("Cliente do Beto", "+5511911110002", beto),
                                   ("Cliente de todos", "+5511911110003", None)):
            db.session.add(Contact(company_id=company.id, name=name, phone=phone,
                                   owner_id=owner.id if owner else None))
        get_settings(company.id).wallet_enabled = True
        db.session.commit()
        ids = dict(db.session.execute(select(Contact.name, Contact.id)).all())
    return ids


def test_WAL_1_agent_sees_only_own_wallet_and_unowned_contacts(app, tenants, wallets):
    ana = client_as(app, "ana@example.com")
    listing = ana.get("/admin/contacts/").text
    assert "Cliente da Ana" in listing and "Cliente de todos" in listing
    assert "Cliente do Beto" not in listing
    beto_id = wallets["Cliente do Beto"]
    for url in (f"/admin/contacts/edit/?id={beto_id}", f"/admin/contacts/details/?id={beto_id}"):
        resp = ana.get(url)
        assert resp.status_code == 302 or "Cliente do Beto" not in resp.text, url
    export = ana.get("/admin/contacts/export/csv/").text
    assert "Cliente do Beto" not in export and "Cliente da Ana" in export
    # editing Beto's contact by forging its id changes nothing
    ana.submit(f"/admin/contacts/edit/?id={beto_id}", form(name="Roubado", phone="+5511911110002"))
    assert contact(app, id=beto_id).name == "Cliente do Beto"


def test_WAL_1_supervisor_sees_every_wallet_and_wallets_off_shows_all(app, tenants, wallets):
    listing = client_as(app, "gerente@example.com").get("/admin/contacts/").text
    assert all(name in listing for name in wallets if name.startswith("Cliente"))
    with app.app_context():
        get_settings(tenants["a"].company_id).wallet_enabled = False
        db.session.commit()
    listing = client_as(app, "ana@example.com").get("/admin/contacts/").text
    assert "Cliente do Beto" in listing


def test_WAL_1_an_agent_creating_a_contact_keeps_it_in_their_wallet(app, tenants, wallets):
    ana = client_as(app, "ana@example.com")
    page = ana.get("/admin/contacts/new/").text
    assert 'name="owner"' not in page  # cannot hand it to someone else
    with app.app_context():
        beto = db.session.scalar(select(User.id).where(User.email == "beto@example.com"))
    resp = ana.submit("/admin/contacts/new/", form(name="Novo da Ana", phone="(11) 95555-0000",
                                                   owner=str(beto)))
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        ana_id = db.session.scalar(select(User.id).where(User.email == "ana@example.com"))
    assert contact(app, name="Novo da Ana").owner_id == ana_id
    # the manager assigns wallets
    manager = client_as(app, "gerente@example.com")
    resp = manager.submit("/admin/contacts/new/", form(name="Do Beto", phone="(11) 95555-0001",
                                                       owner=str(beto)))
    assert resp.status_code == 302, flashes(resp.text)
    assert contact(app, name="Do Beto").owner_id == beto


def test_WAL_1_duplicate_message_does_not_name_a_contact_of_another_wallet(app, tenants, wallets):
    ana = client_as(app, "ana@example.com")
    resp = ana.submit("/admin/contacts/new/", form(name="Cópia", phone="+5511911110002"),
                      follow_redirects=True)
    text = html.unescape(resp.text)
    assert "carteira de outro usuário" in text and "Cliente do Beto" not in text


@pytest.mark.parametrize("batch_size", [None, 1])
def test_WAL_1_an_import_by_a_wallet_agent_keeps_out_of_other_wallets(
        app, tenants, wallets, import_lookups, batch_size):
    """IMP-2 with carteiras: an agent's import cannot see or change Beto's contact (the
    row is rejected without naming it), and the contacts it creates are the agent's.
    SCL-4: the same one row per batch, where Beto's row comes in a batch that skipped its
    lookup (the batch before matched nothing): the unique phone refuses that batch and it
    is done again with its lookup."""
    from backoffice.models import DataJobError
    from backoffice.services import data_jobs

    app.config["IMPORT_BATCH_SIZE"] = batch_size
    with app.app_context():
        group = db.session.scalar(select(PermissionGroup).where(PermissionGroup.name == "Agentes"))
        group.rights = list(group.rights) + ["imports.view", "imports.create"]
        ana = db.session.scalar(select(User).where(User.email == "ana@example.com"))
        job = data_jobs.save_upload(ana, io.BytesIO(
            "Nome;Telefone\r\nNovo;(11) 96666-0000\r\nRenomeado;+5511911110002\r\n"
            "Cliente de todos 2;+5511911110003\r\n".encode("cp1252")), "ana.csv")
        data_jobs.start_import(job, True, ["name"])
        db.session.refresh(job)
        assert (job.created, job.updated, job.rejected) == (1, 1, 1)
        assert import_lookups == ([True] if batch_size is None else [True, False, True, True])
        reason = db.session.scalar(select(DataJobError.reason))
        assert reason == "O contato já está cadastrado na carteira de outro usuário."
        assert db.session.get(Contact, wallets["Cliente do Beto"]).name == "Cliente do Beto"
        assert db.session.scalar(select(Contact.owner_id).where(Contact.name == "Novo")) == ana.id
