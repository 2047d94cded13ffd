"""POR-1: the representative's protocols on the Fale Conosco portal.

Opening a protocol (a ticket of the portal connection: protocol number, the
sub-classification's department, the classification on the ticket, the first message with
its attachment, the inbox's live push), every bad input of issue 18 (a clear Portuguese
message, nothing stored, nothing typed lost), replies (a finished protocol reopens or is
refused by the company's rule), the agent's answer e-mailed and shown in the portal, the
three lists, and customer text shown as text.

CONTRACT_CASE is the portal's entry in tests/test_channel_contract.py.
"""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Company, Connection, Message, Ticket, TicketEvent, User
from backoffice.models.channels import KIND_PORTAL
from backoffice.models.portal import PortalAccount, PortalRequest, PortalSettings
from backoffice.models.tickets import CLOSED, IN, WAITING
from backoffice.services import mail, protocols, sending, tickets
from backoffice.services.portal import protocols as rules
from tests.conftest import flashes
from tests.factories import PDF, PNG, gen_portal_account, gen_portal_world, portal_login


@pytest.fixture
def world(app):
    with app.app_context():
        return gen_portal_world("a")


@pytest.fixture
def rep(app, world):
    """A test client logged in to the portal as the world's representative."""
    client = app.test_client()
    with app.app_context():
        portal_login(client, world.account_id)
    return client


def form(world, **changes) -> dict:
    data = {"classification_id": str(world.classification_id),
            "subclassification_id": str(world.subclassification_id),
            "contact_person": "Rita Souza", "phone": "(11) 98765-4321",
            "email": "rita@cliente.example.com",
            "contact_method_id": str(world.contact_method_id),
            "message": "Preciso da segunda via do boleto de março."}
    data.update(changes)
    return data


def open_protocol(client, world, files=(), **changes):
    data = form(world, **changes)
    if files:
        data["files"] = [(io.BytesIO(body), name) for name, body in files]
    return client.submit(f"{world.base}/novo", data, content_type="multipart/form-data")


def counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count()).select_from(Ticket)),
            db.session.scalar(select(func.count()).select_from(PortalRequest)),
            db.session.scalar(select(func.count()).select_from(Message)))


def the_ticket() -> Ticket:
    return db.session.scalars(select(Ticket).order_by(Ticket.id.desc())).first()


# --- opening ---------------------------------------------------------------------------------


def test_POR1_opening_a_protocol_makes_a_routed_ticket_with_classification_and_files(
        app, world, rep):
    response = open_protocol(rep, world, files=[("boleto.pdf", PDF), ("tela.png", PNG)])
    assert response.status_code == 302
    with app.app_context():
        ticket = the_ticket()
        assert response.headers["Location"].endswith(f"{world.base}/protocolos/{ticket.id}")
        assert ticket.connection.kind == KIND_PORTAL
        assert re.fullmatch(r"\d{14}", ticket.protocol)  # the company's date + counter
        assert ticket.department_id == world.department_id
        assert ticket.status == WAITING and ticket.agent_id is None
        assert (ticket.classification_id, ticket.subclassification_id) == (
            world.classification_id, world.subclassification_id)
        account = db.session.get(PortalAccount, world.account_id)
        assert ticket.contact_id == account.contact_id  # the contact was made and linked
        request_row = db.session.scalar(select(PortalRequest))
        assert (request_row.ticket_id, request_row.organization_id, request_row.account_id,
                request_row.contact_person, request_row.phone, request_row.email,
                request_row.contact_method_id) == (
            ticket.id, world.organization_id, world.account_id, "Rita Souza",
            "+5511987654321", "rita@cliente.example.com", world.contact_method_id)
        first, second = db.session.scalars(select(Message).where(
            Message.ticket_id == ticket.id).order_by(Message.id)).all()
        assert (first.direction, first.text, first.file_name) == (
            IN, "Preciso da segunda via do boleto de março.", "boleto.pdf")
        assert (second.direction, second.text, second.file_name) == (IN, None, "tela.png")
        protocol = ticket.protocol
    page = rep.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Protocolo {protocol}" in page and "boleto.pdf" in page
    assert "Cobrança › Segunda via de boleto" in page


def test_POR1_the_second_protocol_is_a_new_ticket_with_the_next_number(app, world, rep):
    open_protocol(rep, world)
    open_protocol(rep, world, message="Outro assunto")
    with app.app_context():
        first, second = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert first.contact_id == second.contact_id
        assert int(second.protocol) == int(first.protocol) + 1
        assert db.session.scalar(select(func.count()).select_from(Connection)
                                 .where(Connection.kind == KIND_PORTAL)) == 1


def test_POR1_a_sub_classification_without_department_waits_for_the_normal_routing(
        app, world, rep):
    response = open_protocol(rep, world, classification_id=str(world.other_classification_id),
                             subclassification_id=str(world.other_subclassification_id))
    assert response.status_code == 302
    with app.app_context():
        assert the_ticket().department_id is None


def test_POR1_a_new_protocol_reaches_the_agents_inbox_live(app, world, rep, socket_for):
    agent = socket_for(world.agent_email, drain=True)
    assert open_protocol(rep, world).status_code == 302
    with app.app_context():
        protocol = the_ticket().protocol
    pushed = [e["args"][0] for e in agent.get_received() if e["name"] == "ticket.updated"]
    assert protocol in [p["protocol"] for p in pushed]
    assert pushed[-1]["connection"]["kind_label"] == "Fale Conosco (portal)"


def test_POR1_the_form_is_prefilled_from_the_account(world, rep):
    page = rep.get(f"{world.base}/novo").get_data(as_text=True)
    assert 'value="Rita Souza"' in page and 'value="+5511987654321"' in page  # as saved
    assert f'value="{world.account_email}"' in page
    assert 'id="message"' in page and 'name="csrf_token"' in page


# --- bad input ---------------------------------------------------------------------------------


BAD = {
    "sub_of_another_classification": (
        lambda w: {"subclassification_id": str(w.other_subclassification_id)},
        "A sub-classificação Acesso ao sistema não pertence à classificação Cobrança."),
    "missing_contact_person": (lambda w: {"contact_person": "   "},
                               "Informe a pessoa de contato."),
    "invalid_phone": (lambda w: {"phone": "12345"},
                      "Telefone inválido: informe o DDD e o número, como (11) 98765-4321."),
    "invalid_email": (lambda w: {"email": "rita@@cliente"}, "E-mail inválido."),
    "missing_message": (lambda w: {"message": " "}, "Escreva a mensagem."),
    "missing_contact_method": (lambda w: {"contact_method_id": ""}, "Escolha a forma de contato."),
    "crafted_classification": (lambda w: {"classification_id": "99999999999999999999"},
                               "Escolha a classificação do contato."),
}


@pytest.mark.parametrize("label", sorted(BAD))
def test_POR1_bad_form_input_is_refused_in_portuguese_and_nothing_is_stored(
        app, world, rep, label):
    changes, expected = BAD[label]
    with app.app_context():
        before = counts()
    response = open_protocol(rep, world, files=[("boleto.pdf", PDF)], **changes(world))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert expected in flashes(page)
    if label != "missing_message":  # nothing typed is lost
        assert "Preciso da segunda via do boleto de março." in page
    with app.app_context():
        assert counts() == before


@pytest.mark.parametrize("name,body,expected", [
    ("grande.pdf", PDF + b"0" * 2048, "Arquivo grande demais"),
    ("programa.exe", b"MZ" + b"\x00" * 64, "Tipo de arquivo não permitido: programa.exe"),
    ("falso.pdf", b"<html><script>alert(1)</script>", "Tipo de arquivo não permitido"),
])
def test_POR1_oversized_or_disallowed_attachments_store_nothing(app, world, rep, name, body,
                                                                expected):
    app.config["MESSAGE_MAX_BYTES"] = 1024
    with app.app_context():
        before = counts()
    response = open_protocol(rep, world, files=[("ok.png", PNG), (name, body)])
    assert response.status_code == 400
    assert any(expected in m for m in flashes(response.get_data(as_text=True)))
    with app.app_context():
        assert counts() == before


# --- replies -----------------------------------------------------------------------------------


def _close(app, ticket_id: int, agent_email: str) -> None:
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        agent = db.session.scalar(select(User).where(User.email == agent_email))
        tickets.accept(ticket, agent)
        tickets.close(ticket, agent)
        after_commit.commit()


def _reply(client, world, ticket_id, text, files=()):
    data = {"message": text}
    if files:
        data["files"] = [(io.BytesIO(body), name) for name, body in files]
    return client.submit(f"{world.base}/protocolos/{ticket_id}/responder", data,
                         content_type="multipart/form-data", follow_redirects=True)


def test_POR1_a_reply_continues_an_open_protocol(app, world, rep):
    open_protocol(rep, world)
    with app.app_context():
        ticket_id = the_ticket().id
    page = _reply(rep, world, ticket_id, "Segue o CNPJ.", files=[("nota.pdf", PDF)])
    assert "Mensagem enviada." in flashes(page.get_data(as_text=True))
    with app.app_context():
        last = db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)
                                  .order_by(Message.id.desc())).first()
        assert (last.direction, last.text, last.file_name) == (IN, "Segue o CNPJ.", "nota.pdf")
        assert the_ticket().unread == 2


def test_POR1_a_reply_to_a_finished_protocol_is_refused_when_reopening_is_off(app, world, rep):
    open_protocol(rep, world)
    with app.app_context():
        ticket_id = the_ticket().id
        db.session.scalar(select(PortalSettings)).allow_reopen = False
        db.session.commit()
    _close(app, ticket_id, world.agent_email)
    with app.app_context():
        before = counts()
    page = _reply(rep, world, ticket_id, "Ainda não recebi.").get_data(as_text=True)
    assert "Este protocolo foi finalizado. Abra um novo contato." in flashes(page)
    assert 'data-testid="reply-form"' not in page  # the page says so instead of a box
    with app.app_context():
        assert counts() == before
        assert db.session.get(Ticket, ticket_id).status == CLOSED


def test_POR1_a_reply_to_a_finished_protocol_reopens_it_in_its_department(app, world, rep):
    open_protocol(rep, world)
    with app.app_context():
        ticket_id = the_ticket().id
    _close(app, ticket_id, world.agent_email)
    page = _reply(rep, world, ticket_id, "Ainda não recebi.").get_data(as_text=True)
    assert "Mensagem enviada." in flashes(page)
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert (ticket.status, ticket.agent_id, ticket.department_id, ticket.closed_at) == (
            WAITING, None, world.department_id, None)
        event = db.session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id.desc())).first()
        assert event.kind == "reopened"
        assert event.data["source"] == "Fale Conosco (portal)"
        assert ticket.preview == "Ainda não recebi."


def test_POR1_another_organisations_representative_cannot_reply(app, world, rep):
    open_protocol(rep, world)
    with app.app_context():
        ticket_id = the_ticket().id
        from backoffice.models.portal import CustomerOrganization

        other_org = CustomerOrganization(company_id=world.company_id, name="Outra Ltda")
        db.session.add(other_org)
        db.session.flush()
        stranger = gen_portal_account(other_org, "joao@outra.example.com", name="João")
        db.session.commit()
        before = counts()
        with pytest.raises(rules.ProtocolNotFound):
            rules.reply(stranger, ticket_id, "Oi")
        assert counts() == before


# --- the agent's answer -------------------------------------------------------------------------


def test_POR1_the_agents_answer_is_emailed_and_shown_in_the_portal(app, world, rep):
    open_protocol(rep, world, email="financeiro@cliente.example.com")
    with app.app_context():
        ticket = the_ticket()
        ticket_id, protocol = ticket.id, ticket.protocol
        agent = db.session.scalar(select(User).where(User.email == world.agent_email))
        tickets.accept(ticket, agent)
        answer = sending.queue(ticket, agent, "Segue a segunda via.\nVence dia 10.")
        after_commit.commit()  # the delivery job runs (eager in tests)
        answer_id = answer.id
        assert db.session.get(Message, answer_id).status == "sent"
        sent = [m for m in mail.stored() if protocol in m.subject]
    assert len(sent) == 1
    assert sent[0].to == "financeiro@cliente.example.com"
    assert "Segue a segunda via.\nVence dia 10." in sent[0].body
    assert f"/portal/{world.domain}/protocolos/{ticket_id}" in sent[0].body
    assert re.search(r"https?://\S+/portal/", sent[0].body)  # an absolute link
    page = rep.get(f"{world.base}/protocolos/{ticket_id}").get_data(as_text=True)
    assert "Segue a segunda via.\nVence dia 10." in page  # newlines kept (pre-wrap)
    # the page's poll hears of it too (what shows it without a reload)
    polled = rep.get(f"{world.base}/protocolos/{ticket_id}/mensagens?depois=1").get_json()
    assert [m["text"] for m in polled["messages"] if not m["mine"]][-1] == \
        "Segue a segunda via.\nVence dia 10."
    assert polled["status_label"] == "Aguardando sua resposta"
    later = rep.get(f"{world.base}/protocolos/{ticket_id}/mensagens?depois={answer_id}")
    assert later.get_json()["messages"] == []


# --- the lists ----------------------------------------------------------------------------------


def test_POR1_lists_by_filter_with_protocol_classification_status_and_last_answer(
        app, world, rep):
    open_protocol(rep, world, message="Primeiro")
    open_protocol(rep, world, message="Segundo")
    with app.app_context():
        first, second = db.session.scalars(select(Ticket).order_by(Ticket.id)).all()
        numbers = {first.protocol: first.id, second.protocol: second.id}
        first_protocol, second_protocol = first.protocol, second.protocol
    _close(app, numbers[first_protocol], world.agent_email)

    def listed(which):
        page = rep.get(f"{world.base}/protocolos?filtro={which}").get_data(as_text=True)
        return re.findall(r'data-protocol="(\d+)"', page), page

    everything, page = listed("todos")
    assert everything == [second_protocol, first_protocol]  # newest first
    assert "Cobrança › Segunda via de boleto" in page and "Segundo" in page
    assert listed("em-aberto")[0] == [second_protocol]
    finished, page = listed("finalizados")
    assert finished == [first_protocol] and "Finalizado" in page
    home = rep.get(f"{world.base}/").get_data(as_text=True)
    assert "Bem-vindo ao nosso portal." in home
    assert re.search(r'data-testid="home-em-aberto"[^>]*>\s*Em aberto <span[^>]*>1<', home)
    # crafted page numbers and filters: the first/last page, never a 500
    for query in ("pagina=99999999999999999999", "pagina=-1", "pagina=%00", "filtro=x"):
        assert rep.get(f"{world.base}/protocolos?{query}").status_code == 200


def test_POR1_customer_text_is_shown_as_text(app, world, rep):
    open_protocol(rep, world, message="<script>alert('x')</script>\n<b>negrito</b>")
    with app.app_context():
        ticket_id = the_ticket().id
    page = rep.get(f"{world.base}/protocolos/{ticket_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;\n&lt;b&gt;negrito&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>negrito" not in page
    listed = rep.get(f"{world.base}/protocolos").get_data(as_text=True)
    assert "<script>alert" not in listed and "&lt;script&gt;" in listed


def test_POR1_the_attachment_downloads_for_the_organisation(app, world, rep):
    open_protocol(rep, world, files=[("boleto.pdf", PDF)])
    with app.app_context():
        message = db.session.scalar(select(Message).where(Message.file_name == "boleto.pdf"))
        url = f"{world.base}/protocolos/{message.ticket_id}/anexos/{message.id}"
    response = rep.get(url)
    assert response.status_code == 200 and response.data == PDF
    assert "attachment" in response.headers["Content-Disposition"]


# --- the channel contract (tests/test_channel_contract.py) -------------------------------------


def _deliver_portal(app, request) -> None:
    """The answer is e-mailed to the representative, with the protocol and its link."""
    with app.app_context():
        world = gen_portal_world("contrato")
        account = db.session.get(PortalAccount, world.account_id)
        ticket = rules.open_protocol(account, rules.NewProtocol(
            classification_id=world.classification_id,
            subclassification_id=world.subclassification_id, contact_person="Rita",
            contact_method_id=world.contact_method_id, message="Oi"))
        after_commit.commit()
        from backoffice.channels import adapter_for
        from backoffice.models.tickets import AUTHOR_SYSTEM, OUT, SENDING

        message = Message(company_id=ticket.company_id, ticket_id=ticket.id, direction=OUT,
                          author_kind=AUTHOR_SYSTEM, text="Resposta do atendente",
                          status=SENDING)
        db.session.add(message)
        db.session.flush()
        assert adapter_for(ticket.connection).send(message) is None
        sent = mail.stored()
        assert [m.to for m in sent] == [world.account_email]  # no e-mail typed: the account's
        assert ticket.protocol in sent[0].subject and "Resposta do atendente" in sent[0].body


CONTRACT_CASE = {
    "good_config": {"widget_title": "ignorado", "endpoint_url": "https://x.example.com/"},
    "bad_config": [],  # nothing of its own to configure: the portal makes the connection
    "deliver": _deliver_portal,
}


# --- the classification in the inbox ---------------------------------------------------------


def test_POR1_the_inbox_shows_and_filters_by_the_classification(app, world, rep):
    from tests.conftest import client_as

    open_protocol(rep, world)
    with app.app_context():
        ticket_id = the_ticket().id
    agent = client_as(app, world.agent_email)
    detail = agent.get(f"/inbox/api/tickets/{ticket_id}").get_json()
    assert detail["ticket"]["classification"] == {
        "id": world.classification_id, "name": "Cobrança", "sub": "Segunda via de boleto"}
    meta = agent.get("/inbox/api/meta").get_json()
    assert {"id": world.classification_id, "name": "Cobrança"} in meta["classifications"]
    listed = agent.get(f"/inbox/api/tickets?status=any&classification="
                       f"{world.classification_id}").get_json()["tickets"]
    assert [t["id"] for t in listed] == [ticket_id]
    # the row says its classification, so the page keeps the filter for live updates too
    assert listed[0]["classification_id"] == world.classification_id
    other = agent.get(f"/inbox/api/tickets?status=any&classification="
                      f"{world.other_classification_id}").get_json()["tickets"]
    assert other == []


def test_POR1_REP1_the_reports_break_tickets_down_by_classification(app, world, rep):
    """The reports' facts carry the protocol's classification: "Por classificação" counts
    it (the other tickets under "Sem classificação") and drills down to the protocol."""
    from tests.conftest import client_as

    open_protocol(rep, world)
    with app.app_context():
        ticket = the_ticket()
        # the reports' days are the company's (São Paulo): 00:00-03:00 UTC is the day before
        protocol = ticket.protocol
        day = protocols.company_today(db.session.get(Company, ticket.company_id),
                                      ticket.created_at).isoformat()
        db.session.remove()
    admin = client_as(app, world.admin_email)
    period = f"start={day}&end={day}"
    page = admin.get(f"/admin/reports/?{period}").get_data(as_text=True)
    assert "Por classificação" in page and "Cobrança" in page
    table = admin.get(f"/admin/reports/download?table=classification&format=csv&{period}")
    assert table.status_code == 200
    rows = table.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert rows[0].startswith("Classificação;Atendimentos")
    assert rows[1].startswith("Cobrança;1;")
    drilled = admin.get(f"/admin/reports/tickets?{period}&day={day}&by=classification"
                        f"&key={world.classification_id}").get_data(as_text=True)
    assert protocol in drilled
    other = admin.get(f"/admin/reports/tickets?{period}&day={day}&by=classification"
                      f"&key={world.other_classification_id}").get_data(as_text=True)
    assert protocol not in other
