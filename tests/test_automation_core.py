"""The automation engine's groundwork (issue 13): the movable clock, the timers tick on
Ticket.due_at, the listeners' savepoints, and the shared conditions and actions."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event

from backoffice.automation import actions, conditions, listeners, rules, timers
from backoffice.automation.conditions import Context
from backoffice.channels.base import Inbound
from backoffice.extensions import db
from backoffice.lib import after_commit, clock
from backoffice.models import Message, Ticket
from backoffice.models.tickets import IN
from backoffice.services import tickets as ticket_rules
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_period, gen_tag, gen_ticket,
)


@pytest.fixture
def world(app, timeline):
    with app.app_context():
        company, admin = gen_company("Relógio Ltda", "admin@relogio.example")
        other, _ = gen_company("Outra Ltda", "admin@outra.example")
        connection = gen_connection(company, "Site", kind="webchat")
        other_tag = gen_tag(other, "Alheia")
        db.session.commit()
        yield {"company": company, "connection": connection, "other": other,
               "other_tag": other_tag}


@pytest.fixture
def probe(monkeypatch):
    """One test timer in place of the real ones: due at Ticket.automation_marks["due"]."""
    fired = []

    def due(ticket):
        mark = (ticket.automation_marks or {}).get("due")
        return datetime.fromisoformat(mark) if mark else None

    def fire(ticket, now):
        fired.append(ticket.id)
        ticket.automation_marks = {}

    monkeypatch.setattr(timers, "TIMERS", [timers.Timer("probe", due, fire)])
    return fired


def _due_ticket(connection, when: datetime) -> Ticket:
    ticket = gen_ticket(connection, text=None)
    ticket.automation_marks = {"due": when.isoformat()}
    timers.reschedule(ticket)
    return ticket


def test_clock_moves_the_app_timestamps(world, timeline):
    """Issue 13 point 1: the clock is injectable; rows take their times from it."""
    ticket = gen_ticket(world["connection"])
    assert ticket.created_at == datetime(2026, 12, 1, 12, 0)
    timeline.advance(minutes=90)
    assert clock.now() == datetime(2026, 12, 1, 13, 30)
    assert gen_ticket(world["connection"]).created_at == datetime(2026, 12, 1, 13, 30)


def test_tick_fires_only_what_is_due_and_reschedules(world, timeline, probe):
    """Issue 13 point 1: the tick finds due tickets through Ticket.due_at."""
    now = clock.now()
    soon = _due_ticket(world["connection"], now + timedelta(minutes=5))
    late = _due_ticket(world["connection"], now - timedelta(minutes=1))
    idle = gen_ticket(world["connection"], text=None)
    db.session.commit()
    assert (soon.due_at, idle.due_at) == (now + timedelta(minutes=5), None)

    assert timers.tick() == 1
    assert probe == [late.id]
    assert db.session.get(Ticket, late.id).due_at is None  # fired, nothing left
    timeline.advance(minutes=5)
    assert timers.tick() == 1
    assert probe == [late.id, soon.id]
    assert timers.tick() == 0


def test_tick_statements_do_not_grow_with_idle_tickets(world, timeline, probe):
    """Issue 13 point 1 (and point 9's target): the cost follows the due tickets only."""
    def statements_of_tick(idle: int) -> int:
        for _ in range(idle):
            _due_ticket(world["connection"], clock.now() + timedelta(days=1))
        _due_ticket(world["connection"], clock.now() - timedelta(seconds=1))
        db.session.commit()
        count = [0]

        def counter(*_args):
            count[0] += 1

        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            assert timers.tick() == 1
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)
        return count[0]

    assert statements_of_tick(3) == statements_of_tick(40)


def test_overlapping_ticks_and_duplicate_jobs_handle_a_ticket_once(world, timeline, probe,
                                                                    monkeypatch):
    """Issue 13 "must show": a ticket leased by one tick is not dispatched by a second one,
    and a duplicate job of the same lease finds nothing to claim."""
    jobs = []
    monkeypatch.setattr(timers, "_enqueue", lambda *args: jobs.append(args))
    ticket = _due_ticket(world["connection"], clock.now() - timedelta(minutes=1))
    db.session.commit()
    assert timers.tick() == 1
    assert timers.tick() == 0  # overlapping tick: the ticket is leased
    ((ticket_id, _company_id, lease),) = jobs
    assert timers.fire(ticket_id, lease) is True
    assert timers.fire(ticket_id, lease) is False  # the same job run twice
    assert probe == [ticket.id]


def test_a_lost_job_is_dispatched_again_when_its_lease_expires(world, timeline, probe,
                                                                monkeypatch):
    """Issue 13 "must show": a worker that died with the job (or a queue that was down)
    loses nothing: the next tick after the lease dispatches the ticket again."""
    queue_works = [False]
    real_enqueue = timers._enqueue
    monkeypatch.setattr(timers, "_enqueue",
                        lambda *args: real_enqueue(*args) if queue_works[0] else None)
    ticket = _due_ticket(world["connection"], clock.now() - timedelta(minutes=1))
    db.session.commit()
    assert timers.tick() == 1 and probe == []  # the job never ran
    timeline.advance(minutes=4)
    assert timers.tick() == 0
    queue_works[0] = True
    timeline.advance(minutes=2)  # past the lease
    assert timers.tick() == 1
    assert probe == [ticket.id]


def test_a_failing_timer_is_rolled_back_and_tried_later(world, timeline, monkeypatch):
    """A timer that raises changes nothing and is postponed, not retried every tick."""
    ticket = gen_ticket(world["connection"], text=None)
    ticket.due_at = clock.now() - timedelta(minutes=1)
    db.session.commit()

    def broken(ticket, now):
        ticket.favourite = True
        raise RuntimeError("boom")

    always_due = lambda t: clock.now() - timedelta(minutes=1)  # noqa: E731
    monkeypatch.setattr(timers, "TIMERS", [timers.Timer("broken", always_due, broken)])
    assert timers.tick() == 1  # dispatched; its job fails
    db.session.expire_all()
    row = db.session.get(Ticket, ticket.id)
    assert row.favourite is False
    assert row.due_at == clock.now() + timers.RETRY_AFTER


def test_a_failing_automation_never_loses_the_customer_message(world, monkeypatch):
    """Issue 13 / non-negotiable 4: an automation error is contained in its savepoint."""
    def broken(*args, **kwargs):
        db.session.add(Message(company_id=world["company"].id, ticket_id=args[1].id,
                               direction="out", author_kind="bot", text="meio feito"))
        db.session.flush()
        raise RuntimeError("automation bug")

    monkeypatch.setattr(rules, "fire", broken)
    message = ticket_rules.receive_inbound(world["connection"],
                                           Inbound(address="v-1", text="Olá, preciso de ajuda"))
    after_commit.commit()
    texts = [m.text for m in db.session.scalars(
        db.select(Message).where(Message.ticket_id == message.ticket_id))]
    assert texts == ["Olá, preciso de ajuda"]
    assert message.direction == IN


def test_automation_chains_stop_at_max_depth(world, monkeypatch):
    """AUT-8 loop safety, last line: nested automations stop at MAX_DEPTH."""
    ticket = gen_ticket(world["connection"], text=None)
    calls = []

    def fire(trigger, ticket, now, **kw):
        calls.append(trigger)
        from backoffice import events
        events.emit("ticket.tags_added", ticket=ticket, tag_ids=[1])  # re-enters

    monkeypatch.setattr(rules, "fire", fire)
    from backoffice import events
    events.emit("ticket.tags_added", ticket=ticket, tag_ids=[1])
    assert len(calls) == listeners.MAX_DEPTH


# --- conditions and actions shared by flows and rules -------------------------------------


def test_conditions_evaluate_on_the_ticket(world, timeline):
    """AUT-2 condition node / AUT-8 "if": each condition type."""
    company = world["company"]
    period = gen_period(company, "Comercial")  # Mon-Fri 08-18 São Paulo
    department = gen_department(company, "Vendas")
    tag = gen_tag(company, "VIP")
    ticket = gen_ticket(world["connection"], department=department, tags=[tag])
    ticket.contact.email = "Cliente@Example.com"
    ticket.contact.custom_fields = {"erp": "A-17"}
    ctx = Context(ticket, clock.now(), variables={"cpf_ok": "sim"})
    msg_ctx = Context(ticket, clock.now(), message=Message(text="Quero o bolêto"))
    truth = {
        "inside period (09:00 Tue)": {"type": "period", "period_id": period.id, "inside": True},
        "channel": {"type": "channel", "kind": "webchat"},
        "connection": {"type": "connection", "connection_id": world["connection"].id},
        "department": {"type": "department", "department_id": department.id},
        "tag": {"type": "tag", "tag_id": tag.id, "has": True},
        "email": {"type": "contact_field", "field": "email", "op": "equals",
                  "value": "cliente@example.com"},
        "custom": {"type": "contact_field", "field": "custom:erp", "op": "contains", "value": "a-1"},
        "variable": {"type": "variable", "name": "cpf_ok", "op": "equals", "value": "SIM"},
    }
    for name, cond in truth.items():
        assert conditions.evaluate(cond, ctx), name
    assert conditions.evaluate({"type": "message_contains", "text": "boleto"}, msg_ctx)
    false = [
        {"type": "period", "period_id": period.id, "inside": False},
        {"type": "channel", "kind": "whatsapp"},
        {"type": "tag", "tag_id": tag.id, "has": False},
        {"type": "contact_field", "field": "phone", "op": "not_empty"},
        {"type": "department", "department_id": "x"},
        {"type": "nonsense"},
    ]
    assert not any(conditions.evaluate(c, ctx) for c in false)
    timeline.set(datetime(2026, 12, 1, 23, 0))  # 20:00 in São Paulo: closed
    assert not conditions.evaluate(truth["inside period (09:00 Tue)"], Context(ticket, clock.now()))
    assert conditions.matches([false[1], truth["channel"]], ctx, "any")
    assert not conditions.matches([false[1], truth["channel"]], ctx, "all")


def test_conditions_and_actions_refuse_another_companys_rows(world):
    """Issue 13 "bad input": ids of another company are refused on save, in Portuguese."""
    company_id = world["company"].id
    other_tag = world["other_tag"].id
    assert conditions.check(company_id, {"type": "tag", "tag_id": other_tag}) == [
        "Escolha uma etiqueta da empresa."]
    assert actions.check(company_id, {"type": "add_tag", "tag_id": other_tag}) == [
        "Escolha uma etiqueta da empresa."]
    assert actions.check(company_id, {"type": "move"}) == [
        "Escolha o departamento ou o atendente de destino."]
    assert actions.check(company_id, {"type": "send_text", "text": "Oi {{apelido}}"})
    assert actions.check(company_id, {"type": "send_text", "text": "Oi {{apelido}}"},
                         variables=["apelido"]) == []
    assert conditions.check(company_id, {"type": "bogus"}) == ["Condição desconhecida."]


def test_http_action_refuses_a_private_address_on_save(app, world):
    """Issue 13 "bad input" / SEC-2: an HTTP call aimed at a private address is refused."""
    app.config["ALLOW_PRIVATE_URLS"] = False
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://10.0.0.5/{{protocolo}}"):
        assert actions.check(world["company"].id, {"type": "http", "url": url}), url
    assert actions.check(world["company"].id, {
        "type": "http", "method": "POST", "url": "https://n8n.example.com/webhook/{{protocolo}}",
        "body": '{"cpf": "{{cpf}}"}', "map": {"ok": "data.ok"}}, variables=["cpf"]) == []
