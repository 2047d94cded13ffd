"""POR-1: representatives created in bulk by the contacts import. A file with the columns
"Cliente do portal" / "CNPJ do cliente do portal" makes each row's contact a
representative of that client (found by CNPJ or name, else created) and e-mails the
invitation once; bad rows are rejected with the reason and nothing of them is written; a
file imported twice invites nobody again."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Contact, DataJobError, PortalAccount
from backoffice.models.portal import CustomerOrganization, PortalSettings
from backoffice.services import mail
from tests.test_import import admin, counters, run_import, write

HEADER = "Nome;Telefone;E-mail;Cliente do portal;CNPJ do cliente do portal\r\n"


@pytest.fixture
def ctx(app, tenants):
    with app.app_context():
        for t in tenants.values():  # the generic rows leave A's portal off
            db.session.execute(PortalSettings.owned(t.company_id)).scalar_one().enabled = True
        db.session.commit()
        yield tenants


def accounts(company_id: int) -> dict[str, tuple[str, str | None, int | None]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(PortalAccount.email, CustomerOrganization.name, CustomerOrganization.cnpj,
               PortalAccount.contact_id)
        .join(CustomerOrganization, CustomerOrganization.id == PortalAccount.organization_id)
        .where(PortalAccount.company_id == company_id, PortalAccount.email.like("%@cliente.com"))
    ).all()
    return {email: (org, cnpj, contact) for email, org, cnpj, contact in rows}


def invitations() -> list[str]:
    return sorted(m.to for m in mail.stored() if "convite" in m.subject.lower())


@pytest.mark.parametrize("batch_size", [None, 1], ids=["one-batch", "batches-of-1"])
def test_POR1_contacts_import_creates_representatives_and_invites_them_once(app, ctx, tmp_path,
                                                                          batch_size):
    a = ctx["a"]
    app.config["IMPORT_BATCH_SIZE"] = batch_size
    path = write(tmp_path, "representantes.csv", HEADER +
                 "Rita Souza;(11) 98765-0001;rita@cliente.com;Construtora Alfa;11.222.333/0001-81\r\n"
                 "Caio Lima;(11) 98765-0002;caio@cliente.com;;11222333000181\r\n"        # same client, by CNPJ
                 "Lia Reis;(11) 98765-0003;lia@cliente.com;Padaria Beta;\r\n"            # by name
                 "Sem Portal;(11) 98765-0004;semportal@cliente.com;;\r\n"                # a contact only
                 "Bia Cruz;(11) 98765-0005;;Padaria Beta;\r\n"                           # no e-mail
                 "Davi Melo;(11) 98765-0006;davi@cliente.com;Oficina;11.222.333/0001-00\r\n"  # bad CNPJ
                 "Eva Dias;(11) 98765-0007;eva@cliente.com;;45.997.418/0001-53\r\n")     # unknown CNPJ alone
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 4, "updated": 0, "unchanged": 0, "rejected": 3}
    reasons = dict(db.session.execute(select(DataJobError.line, DataJobError.reason).where(
        DataJobError.job_id == job.id)).all())
    assert reasons == {
        6: "Cliente do portal: informe o e-mail do contato, por onde ele recebe o convite.",
        7: 'CNPJ do cliente do portal inválido: "11.222.333/0001-00".',
        8: "Nenhum cliente do portal com o CNPJ 45.997.418/0001-53: informe também o nome, "
           "para criá-lo."}
    contacts = dict(db.session.execute(select(Contact.email, Contact.id).where(
        Contact.company_id == a.company_id, Contact.email.like("%@cliente.com"))).all())
    assert accounts(a.company_id) == {
        "rita@cliente.com": ("Construtora Alfa", "11222333000181", contacts["rita@cliente.com"]),
        "caio@cliente.com": ("Construtora Alfa", "11222333000181", contacts["caio@cliente.com"]),
        "lia@cliente.com": ("Padaria Beta", None, contacts["lia@cliente.com"])}
    assert invitations() == ["caio@cliente.com", "lia@cliente.com", "rita@cliente.com"]
    assert job.invited == 3  # the summary says so, beside the contacts

    # the same file again: the contacts are there, the representatives too: nobody is
    # invited twice and no client is created twice
    again = run_import(admin(a), path)
    assert counters(again) == {"created": 0, "updated": 0, "unchanged": 4, "rejected": 3}
    assert again.invited == 0
    assert invitations() == ["caio@cliente.com", "lia@cliente.com", "rita@cliente.com"]
    assert db.session.scalar(select(func.count(CustomerOrganization.id)).where(
        CustomerOrganization.company_id == a.company_id,
        CustomerOrganization.name.in_(["Construtora Alfa", "Padaria Beta"]))) == 2
    # company B got nothing
    assert accounts(ctx["b"].company_id) == {}


def test_POR1_contacts_import_refuses_representatives_while_the_portal_is_off(app, ctx, tmp_path):
    a = ctx["a"]
    db.session.execute(PortalSettings.owned(a.company_id)).scalar_one().enabled = False
    db.session.commit()
    path = write(tmp_path, "desligado.csv", HEADER +
                 "Rita Souza;(11) 98765-0001;rita@cliente.com;Construtora Alfa;\r\n"
                 "Sem Portal;(11) 98765-0004;semportal@cliente.com;;\r\n")
    job = run_import(admin(a), path)
    assert counters(job) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert db.session.scalar(select(DataJobError.reason).where(DataJobError.job_id == job.id)) == (
        "Cliente do portal: o portal Fale Conosco está desativado; ative-o antes de importar "
        "representantes.")
    assert accounts(a.company_id) == {} and invitations() == []


def test_POR1_the_import_summary_counts_the_representatives_invited(app, ctx, tmp_path):
    """The job's screen, its polled status and `flask contacts import` say how many
    portal representatives the import created and invited; an import that invited nobody
    does not show the line."""
    import html
    import re

    from tests.conftest import client_as

    a = ctx["a"]
    path = write(tmp_path, "dois.csv", HEADER +
                 "Rita Souza;(11) 98765-0001;rita@cliente.com;Construtora Alfa;\r\n"
                 "Lia Reis;(11) 98765-0003;lia@cliente.com;Padaria Beta;\r\n")
    invited = run_import(admin(a), path)
    plain = run_import(admin(a), write(tmp_path, "sem-portal.csv", HEADER +
                                       "Sem Portal;(11) 98765-0004;semportal@cliente.com;;\r\n"))
    client = client_as(app, admin(a).email)
    assert client.get(f"/admin/data/tarefas/{invited.id}/status").get_json()["invited"] == 2
    assert client.get(f"/admin/data/tarefas/{plain.id}/status").get_json()["invited"] == 0

    def invited_row(job_id) -> str:
        page = html.unescape(client.get(f"/admin/data/importar/{job_id}").text)
        return re.search(r'<tr id="job-invited"[^>]*>.*?</tr>', page, re.S).group(0)

    shown = invited_row(invited.id)
    assert "Representantes do portal convidados" in shown and "hidden" not in shown
    assert re.search(r'data-testid="invited">2<', shown)
    assert "hidden" in invited_row(plain.id)

    more = write(tmp_path, "mais.csv", HEADER +
                 "Caio Lima;(11) 98765-0002;caio@cliente.com;Construtora Alfa;\r\n")
    cli = app.test_cli_runner().invoke(
        args=["contacts", "import", str(more), "--user", admin(a).email])
    assert cli.exit_code == 0, cli.output
    assert ("Concluída: 1 criado(s), 0 atualizado(s), 0 sem alteração, 0 rejeitado(s). "
            "1 representante(s) do portal convidado(s).") in cli.output
