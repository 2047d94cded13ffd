"""AUT-5 Agendamentos: messages scheduled for a contact at a date and time on the company's
wall clock, sent once at that minute through the normal queue, repeated, cancelled; the
inbox composer's "Agendar" and the admin screen."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select, update

from backoffice.automation import scheduled
from backoffice.extensions import db
from backoffice.models import (
    ContactAddress,
    Message,
    MessageTemplate,
    ProviderTemplate,
    Ticket,
    TicketEvent,
)
from backoffice.models.automation import ScheduledMessage
from backoffice.models.tickets import AUTHOR_AGENT
from backoffice.services import RuleError, sending
from tests.conftest import client_as, post
from tests.factories import (
    gen_company,
    gen_connection,
    gen_contact,
    gen_department,
    gen_group,
    gen_ticket,
    gen_user,
)

LOCAL_10H = datetime(2026, 12, 1, 10, 0)   # 13:00 UTC in São Paulo


def _build() -> dict:
    company, admin = gen_company("Agenda Ltda", "admin@agenda.example")
    group = gen_group(company, "Atendentes", ["inbox.view"])
    agent = gen_user(company, "agente@agenda.example", group, name="Ana Agente")
    other_agent = gen_user(company, "outro@agenda.example", group, name="Otto Outro")
    department = gen_department(company, "Suporte", order=1,
                                members=[(agent, True, True), (other_agent, True, False)])
    site = gen_connection(company, "Site", kind="webchat")
    zap = gen_connection(company, "WhatsApp", kind="whatsapp")
    contact = gen_contact(site, name="Maria Cliente", address="maria-site")
    db.session.add(ContactAddress(company_id=company.id, contact_id=contact.id,
                                  connection_id=zap.id, address="5511999990000",
                                  last_inbound_at=datetime(2026, 11, 20, 12, 0)))
    other, _ = gen_company("Outra Ltda", "admin@outra.example")
    other_site = gen_connection(other, "Site da outra", kind="webchat")
    stranger = gen_contact(other_site, name="Zé Alheio")
    db.session.commit()
    return {"company_id": company.id, "admin": admin, "agent": agent,
            "other_agent": other_agent, "department": department, "site": site,
            "zap": zap, "contact": contact, "stranger": stranger, "other_site": other_site}


@pytest.fixture
def world(app, timeline):
    """Service tests: the rows, inside an app context held for the test."""
    with app.app_context():
        yield _build()


@pytest.fixture
def web(app, timeline):
    """HTTP tests: ids only, no app context held (each request gets its own, so
    flask-login's current user is not cached across clients)."""
    with app.app_context():
        found = _build()
        agent, other_agent = found["agent"], found["other_agent"]
        ids = {"company_id": found["company_id"], "contact": found["contact"].id,
               "site": found["site"].id, "agent": agent.id}
        ids["ticket"] = gen_ticket(found["site"], contact=found["contact"],
                                   department=found["department"], agent=agent).id
        ids["foreign"] = gen_ticket(found["other_site"], contact=found["stranger"]).id
        db.session.commit()
        assert other_agent.id
    return ids


@pytest.fixture
def enqueued(monkeypatch):
    """Message ids the queue was asked to deliver (no provider is called)."""
    ids = []
    monkeypatch.setattr(sending, "enqueue", lambda message_id: ids.append(message_id) or True)
    return ids


def _schedule(world, when=LOCAL_10H, **kwargs):
    kwargs.setdefault("text", "Olá {{nome_cliente}}, lembrete da sua visita.")
    item = scheduled.create(world["agent"], world["contact"], kwargs.pop("connection", world["site"]),
                            when, **kwargs)
    db.session.commit()
    return item


def _messages(ticket_id=None):
    q = select(Message).where(Message.direction == "out")
    if ticket_id:
        q = q.where(Message.ticket_id == ticket_id)
    return list(db.session.scalars(q))


def test_AUT_5_sent_at_its_local_minute_through_the_queue_and_opens_a_ticket(world, timeline, enqueued):
    item = _schedule(world)
    assert item.send_at == datetime(2026, 12, 1, 13, 0)  # 10:00 in São Paulo, stored in UTC
    assert scheduled.local_label(item) == "01/12/2026 10:00"
    timeline.set(datetime(2026, 12, 1, 12, 59))
    assert scheduled.tick() == 0
    assert _messages() == []
    timeline.set(datetime(2026, 12, 1, 13, 0))
    assert scheduled.tick() == 1
    db.session.refresh(item)
    assert (item.status, item.sent_count, item.last_sent_at) == ("sent", 1,
                                                                 datetime(2026, 12, 1, 13, 0))
    message = db.session.get(Message, item.message_id)
    assert message.text == "Olá Maria Cliente, lembrete da sua visita."
    assert message.author_kind == AUTHOR_AGENT and message.author_id == world["agent"].id
    assert enqueued == [message.id]  # the normal queue, after commit
    ticket = db.session.get(Ticket, item.ticket_id)  # the contact had no ticket: one opened
    assert ticket.contact_id == world["contact"].id and ticket.connection_id == world["site"].id
    assert ticket.department_id == world["department"].id  # the creator's first department
    kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
    assert "scheduled" in list(kinds)


def test_AUT_5_eager_queue_delivers_on_commit(world, timeline):
    """TASK_MODE eager: the scheduled message is delivered by the normal job."""
    item = _schedule(world, when=datetime(2026, 12, 1, 9, 0))
    assert scheduled.tick() == 1
    db.session.refresh(item)
    message = db.session.get(Message, item.message_id)
    assert message.status in ("sent", "delivered", "read")


def test_AUT_5_uses_the_open_ticket(world, timeline, enqueued):
    ticket = gen_ticket(world["site"], contact=world["contact"], department=world["department"])
    db.session.commit()
    item = _schedule(world)
    timeline.set(datetime(2026, 12, 1, 13, 0))
    scheduled.tick()
    db.session.refresh(item)
    assert item.ticket_id == ticket.id
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 1


def test_AUT_5_overlapping_ticks_and_a_foreign_claim_send_once(world, timeline, enqueued):
    item = _schedule(world)
    timeline.set(datetime(2026, 12, 1, 13, 0))
    assert scheduled.tick() == 1
    assert scheduled.tick() == 0
    assert len(_messages()) == 1
    # another process holds the claim: nothing sent while it is fresh
    second = _schedule(world, when=datetime(2026, 12, 1, 10, 5))
    timeline.set(datetime(2026, 12, 1, 13, 5))
    db.session.execute(update(ScheduledMessage).where(ScheduledMessage.id == second.id)
                       .values(status="sending", claimed_at=datetime(2026, 12, 1, 13, 5)))
    db.session.commit()
    assert scheduled.tick() == 0
    timeline.advance(minutes=5)
    assert scheduled.tick() == 0
    assert len(_messages()) == 1
    # the worker died: past the grace the row goes back and is sent once
    timeline.advance(minutes=6)
    assert scheduled.tick() == 1
    assert scheduled.tick() == 0
    db.session.refresh(second)
    assert second.status == "sent" and second.sent_count == 1
    assert len(_messages()) == 2
    db.session.refresh(item)
    assert item.sent_count == 1


def test_AUT_5_a_crash_while_sending_rolls_the_claim_back(world, timeline, enqueued, monkeypatch):
    """The claim and the sending are one transaction: an error leaves the row waiting, no
    ticket opened, and the next tick sends it."""
    item = _schedule(world)
    timeline.set(datetime(2026, 12, 1, 13, 0))

    def boom(*args, **kwargs):
        raise RuntimeError("worker died")

    real = sending.queue
    monkeypatch.setattr(sending, "queue", boom)
    assert scheduled.tick() == 0
    db.session.refresh(item)
    assert item.status == "scheduled" and item.claimed_at is None
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    monkeypatch.setattr(sending, "queue", real)
    assert scheduled.tick() == 1
    assert len(_messages()) == 1


def test_AUT_5_closed_whatsapp_window_fails_free_text_and_sends_a_template(world, timeline, enqueued):
    item = _schedule(world, connection=world["zap"])
    assert "fora da janela de 24 horas será preciso um modelo aprovado" in \
        scheduled.window_warning(item)
    template = ProviderTemplate(company_id=world["company_id"], connection_id=world["zap"].id,
                                name="lembrete", language="pt_BR", category="UTILITY",
                                status="APPROVED", body="Olá {{1}}, tudo certo para amanhã?",
                                variables=1, components=[])
    db.session.add(template)
    db.session.commit()
    with_template = _schedule(world, connection=world["zap"], text="",
                              provider_template=template.id)
    assert scheduled.window_warning(with_template) is None
    timeline.set(datetime(2026, 12, 1, 13, 0))
    assert scheduled.tick() == 2
    db.session.refresh(item)
    db.session.refresh(with_template)
    assert item.status == "failed" and "janela de 24 horas" in item.error
    assert item.message_id is None
    assert with_template.status == "sent"
    message = db.session.get(Message, with_template.message_id)
    assert message.text == "Olá Maria, tudo certo para amanhã?"
    assert message.extra["template"]["name"] == "lembrete"
    assert len(_messages()) == 1


def test_AUT_5_text_template_is_sent_filled(world, timeline, enqueued):
    template = MessageTemplate(company_id=world["company_id"], kind="text", shortcut="/visita",
                               title="Visita", body="Protocolo {{protocolo}}, {{nome_cliente}}.")
    db.session.add(template)
    db.session.commit()
    item = _schedule(world, text="", template=template.id)
    timeline.set(datetime(2026, 12, 1, 13, 0))
    scheduled.tick()
    db.session.refresh(item)
    message = db.session.get(Message, item.message_id)
    assert message.text.endswith(", Maria Cliente.") and "{{" not in message.text


@pytest.mark.parametrize("repeat, first, second", [
    ("daily", datetime(2026, 12, 1, 10, 0), datetime(2026, 12, 2, 10, 0)),
    ("weekly", datetime(2026, 12, 1, 10, 0), datetime(2026, 12, 8, 10, 0)),
    ("monthly", datetime(2027, 1, 31, 10, 0), datetime(2027, 2, 28, 10, 0)),
])
def test_AUT_5_repeat_keeps_the_local_wall_clock(world, timeline, enqueued, repeat, first, second):
    item = _schedule(world, when=first, repeat=repeat)
    timeline.set(item.send_at)
    assert scheduled.tick() == 1
    db.session.refresh(item)
    assert item.status == "scheduled" and item.sent_count == 1
    assert scheduled.local_of(item) == second
    if repeat == "monthly":  # Feb 28 -> Mar 28 (the day was clamped)
        timeline.set(item.send_at)
        assert scheduled.tick() == 1
        db.session.refresh(item)
        assert scheduled.local_of(item) == datetime(2027, 3, 28, 10, 0)
        assert item.sent_count == 2


def test_AUT_5_cancel_until_sent_refused_after(world, timeline, enqueued):
    item = _schedule(world)
    scheduled.cancel(world["agent"], item)
    db.session.commit()
    timeline.set(datetime(2026, 12, 1, 13, 0))
    assert scheduled.tick() == 0
    assert item.status == "cancelled"
    sent = _schedule(world, when=datetime(2026, 12, 1, 10, 0))
    scheduled.tick()
    db.session.refresh(sent)
    with pytest.raises(RuleError, match="não enviados"):
        scheduled.cancel(world["agent"], sent)


def test_AUT_5_refusals(world, timeline):
    with pytest.raises(RuleError, match="já passaram"):
        _schedule(world, when=datetime(2026, 12, 1, 8, 59))
    with pytest.raises(RuleError, match="Contato não encontrado"):
        scheduled.create(world["agent"], world["stranger"], world["site"], LOCAL_10H, text="Oi")
    with pytest.raises(RuleError, match="Conexão não encontrada"):
        scheduled.create(world["agent"], world["contact"], world["other_site"], LOCAL_10H,
                         text="Oi")
    with pytest.raises(RuleError, match="Escreva a mensagem"):
        _schedule(world, text="  ")
    with pytest.raises(RuleError, match="Variável desconhecida"):
        _schedule(world, text="Oi {{apelido}}")
    lonely = gen_connection(world["company_id"], "Outro site", kind="webchat")
    with pytest.raises(RuleError, match="não tem endereço"):
        _schedule(world, connection=lonely)
    lonely.active = False
    with pytest.raises(RuleError, match="inativa"):
        _schedule(world, connection=lonely)
    contact_id = world["contact"].id
    db.session.rollback()
    db.session.delete(db.session.get(type(world["contact"]), contact_id))
    db.session.commit()
    with pytest.raises(RuleError, match="Contato não encontrado"):
        scheduled.create(world["agent"], contact_id, world["site"], LOCAL_10H, text="Oi")


def test_AUT_5_creator_gone_sends_as_system(world, timeline, enqueued):
    item = _schedule(world)
    world["agent"].active = False
    db.session.commit()
    timeline.set(datetime(2026, 12, 1, 13, 0))
    scheduled.tick()
    db.session.refresh(item)
    message = db.session.get(Message, item.message_id)
    assert message.author_kind == "system" and message.author_id is None


# --- the composer (inbox API) -----------------------------------------------------------------


def test_AUT_5_composer_schedules_lists_and_cancels(app, web):
    ticket_id = web["ticket"]
    client = client_as(app, "agente@agenda.example")
    listed = client.get(f"/inbox/api/tickets/{ticket_id}/scheduled").get_json()
    assert listed["defaults"] == {"date": "2026-12-02", "time": "09:00"}
    answer = post(client, f"/inbox/api/tickets/{ticket_id}/schedule",
                  json={"text": "Bom dia!", "date": "2026-12-05", "time": "09:00"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    data = answer.get_json()
    assert data["message"] == "Mensagem agendada para 05/12/2026 09:00"
    assert [i["send_at_local"] for i in data["scheduled"]] == ["05/12/2026 09:00"]
    refused = post(client, f"/inbox/api/tickets/{ticket_id}/schedule",
                   json={"text": "Bom dia!", "date": "2026-11-30", "time": "09:00"})
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "A data e o horário do envio já passaram."
    item_id = data["scheduled"][0]["id"]
    cancelled = post(client, f"/inbox/api/tickets/{ticket_id}/scheduled/cancel",
                     json={"id": item_id})
    assert cancelled.status_code == 200 and cancelled.get_json()["scheduled"] == []
    again = post(client, f"/inbox/api/tickets/{ticket_id}/scheduled/cancel", json={"id": item_id})
    assert again.status_code == 400


def test_AUT_5_composer_404_for_another_company_and_403_for_who_may_not_act(app, web):
    body = {"text": "Oi", "date": "2026-12-05", "time": "09:00"}
    client = client_as(app, "agente@agenda.example")
    foreign = web["foreign"]
    assert post(client, f"/inbox/api/tickets/{foreign}/schedule", json=body).status_code == 404
    assert client.get(f"/inbox/api/tickets/{foreign}/scheduled").status_code == 404
    other = client_as(app, "outro@agenda.example")
    answer = post(other, f"/inbox/api/tickets/{web['ticket']}/schedule", json=body)
    assert answer.status_code == 403 and "Ana Agente" in answer.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ScheduledMessage)) == 0


# --- the admin screen -----------------------------------------------------------------------


def test_AUT_5_screen_lists_creates_and_cancels(app, web):
    client = client_as(app, "admin@agenda.example")
    contact_id, site_id = web["contact"], web["site"]
    page = client.get("/admin/scheduled/new/")
    assert page.status_code == 200 and "Variáveis" in page.text
    saved = client.submit("/admin/scheduled/new/", {
        "contact": str(contact_id), "connection": str(site_id), "send_date": "2026-12-05",
        "send_time": "09:00", "text": "Lembrete, {{nome_cliente}}", "template_choice": "",
        "repeat": "weekly"}, follow_redirects=True)
    assert saved.status_code == 200
    with app.app_context():
        item = db.session.scalar(select(ScheduledMessage))
        assert item is not None, saved.text
        assert item.send_at == datetime(2026, 12, 5, 12, 0) and item.repeat == "weekly"
        item_id = item.id
    listing = client.get("/admin/scheduled/")
    assert "05/12/2026 09:00" in listing.text and "Toda semana" in listing.text
    assert "Agendada" in listing.text and "2026-12-05 12:00" not in listing.text
    past = client.submit("/admin/scheduled/new/", {
        "contact": str(contact_id), "connection": str(site_id), "send_date": "2026-11-05",
        "send_time": "09:00", "text": "Oi", "template_choice": "", "repeat": "none"},
        follow_redirects=True)
    assert "já passaram" in past.text
    client.submit("/admin/scheduled/action/", {"action": "cancel", "rowid": str(item_id)},
                  follow_redirects=True)
    with app.app_context():
        assert db.session.get(ScheduledMessage, item_id).status == "cancelled"
    edit = client.get(f"/admin/scheduled/edit/?id={item_id}", follow_redirects=True)
    assert "não enviados podem ser alterados" in edit.text
