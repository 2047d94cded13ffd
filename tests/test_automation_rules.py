"""Automation rules (AUT-8): triggers, conditions, actions, order, loop safety, idle rules
on the timer, manual rules from the inbox's selection mode (BLK-1).

Events are driven through the real services (receive_inbound, tickets.transfer, close,
set_tags), so the listeners fire as in production."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from backoffice.automation import timers
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import MessageTemplate, Ticket, TicketEvent
from backoffice.models.automation import Flow
from backoffice.models.tickets import AUTHOR_BOT, CLOSED, OPEN, WAITING
from backoffice.services import tickets as ticket_rules
from tests.conftest import client_as, post
from tests.factories import (
    gen_company,
    gen_connection,
    gen_department,
    gen_group,
    gen_inbound,
    gen_period,
    gen_published_flow,
    gen_reason,
    gen_rule,
    gen_tag,
    gen_user,
    sent_texts,
)


@pytest.fixture
def world(app, timeline):
    with app.app_context():
        company, admin = gen_company("Regras Ltda", "admin@regras.example")
        group = gen_group(company, "Atendentes", ["inbox.view"])
        agent = gen_user(company, "agente@regras.example", group, name="Ana Agente")
        support = gen_department(company, "Suporte", members=[(agent, True, False)])
        finance = gen_department(company, "Financeiro")
        connection = gen_connection(company, "Site", kind="webchat")
        vip, urgent = gen_tag(company, "VIP"), gen_tag(company, "Urgente")
        reason = gen_reason(company, "Resolvido")
        period = gen_period(company, "Comercial")  # Mon-Fri 08:00-18:00 (São Paulo)
        other, _ = gen_company("Outra Ltda", "admin@outra.example")
        other_connection = gen_connection(other, "Site B", kind="webchat")
        other_tag = gen_tag(other, "Alheia")
        db.session.commit()
        yield {"company": company, "admin": admin, "agent": agent, "support": support,
               "finance": finance, "connection": connection, "vip": vip, "urgent": urgent,
               "reason": reason, "period": period, "other": other,
               "other_connection": other_connection, "other_tag": other_tag}


def inbound(connection, text="Oi", address="cliente-1", department=None, name="Maria Silva"):
    return gen_inbound(connection, text, address, department, name)


def history(ticket, kind="automation"):
    return [e.data for e in db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
        .order_by(TicketEvent.id))]


def bot_texts(ticket):
    return sent_texts(ticket, AUTHOR_BOT)


# --- conditions ------------------------------------------------------------------------------


def _conditions(w):
    return [
        ({"type": "period", "period_id": w["period"].id, "inside": True}, True),
        ({"type": "period", "period_id": w["period"].id, "inside": False}, False),
        ({"type": "channel", "kind": "webchat"}, True),
        ({"type": "channel", "kind": "whatsapp"}, False),
        ({"type": "connection", "connection_id": w["connection"].id}, True),
        ({"type": "connection", "connection_id": w["other_connection"].id}, False),
        ({"type": "department", "department_id": w["support"].id}, True),
        ({"type": "department", "department_id": w["finance"].id}, False),
        ({"type": "tag", "tag_id": w["urgent"].id, "has": False}, True),
        ({"type": "tag", "tag_id": w["urgent"].id, "has": True}, False),
        ({"type": "contact_field", "field": "name", "op": "contains", "value": "maria"}, True),
        ({"type": "contact_field", "field": "email", "op": "not_empty"}, False),
        ({"type": "message_contains", "text": "BOLETO"}, True),
        ({"type": "message_contains", "text": "pix"}, False),
        ({"type": "variable", "name": "cpf", "op": "empty"}, True),
        ({"type": "variable", "name": "cpf", "op": "equals", "value": "1"}, False),
    ]


def test_AUT_8_each_condition_type_true_and_false_through_fire(world):
    """AUT-8: every condition type decides whether a "message received" rule runs."""
    rule = gen_rule(world["company"], "message_received",
                    [{"type": "favourite", "value": True}])
    for n, (cond, expected) in enumerate(_conditions(world)):
        rule.conditions = [cond]
        db.session.commit()
        message = inbound(world["connection"], "Segunda via do boleto", address=f"c{n}",
                          department=world["support"])
        assert message.ticket.favourite is expected, cond


def test_AUT_8_period_condition_follows_the_clock(world, timeline):
    """AUT-8 + PER-2: "inside the period" is false at night (timeline moved)."""
    gen_rule(world["company"], "message_received", [{"type": "favourite", "value": True}],
             [{"type": "period", "period_id": world["period"].id, "inside": True}])
    timeline.set(datetime(2026, 12, 1, 23, 0))  # 20:00 in São Paulo
    assert inbound(world["connection"], address="noite").ticket.favourite is False
    timeline.set(datetime(2026, 12, 2, 13, 0))  # 10:00 on Wednesday
    assert inbound(world["connection"], address="dia").ticket.favourite is True


def test_AUT_8_match_all_or_any(world):
    """AUT-8: "all" needs every condition, "any" one of them."""
    conds = [{"type": "channel", "kind": "webchat"}, {"type": "message_contains", "text": "pix"}]
    rule = gen_rule(world["company"], "message_received", [{"type": "favourite", "value": True}],
                    conds, match="all")
    assert inbound(world["connection"], "boleto", address="x1").ticket.favourite is False
    rule.match = "any"
    db.session.commit()
    assert inbound(world["connection"], "boleto", address="x2").ticket.favourite is True


# --- actions -----------------------------------------------------------------------------------


def test_AUT_8_move_to_department(world):
    """AUT-8: move to a department's queue."""
    gen_rule(world["company"], "ticket_created",
             [{"type": "move", "department_id": world["finance"].id}],
             [{"type": "department", "department_id": world["support"].id}])
    ticket = inbound(world["connection"], department=world["support"]).ticket
    assert (ticket.department_id, ticket.status) == (world["finance"].id, WAITING)
    assert history(ticket)[-1]["source"] == "Automação Regra ticket_created 0"


def test_AUT_8_move_to_agent(world):
    """AUT-8: move to an agent (the ticket is accepted for them)."""
    gen_rule(world["company"], "message_received",
             [{"type": "move", "department_id": world["support"].id,
               "agent_id": world["agent"].id}],
             [{"type": "message_contains", "text": "agente"}], position=1)
    ticket = inbound(world["connection"], "quero um agente", address="c2").ticket
    assert (ticket.agent_id, ticket.status) == (world["agent"].id, OPEN)


def test_AUT_8_add_and_remove_tags_favourite_and_close_with_reason(world):
    """AUT-8: add/remove tag, favourite, close with a reason (automatically)."""
    gen_rule(world["company"], "message_received",
             [{"type": "add_tag", "tag_id": world["vip"].id},
              {"type": "remove_tag", "tag_id": world["urgent"].id},
              {"type": "favourite", "value": True}])
    gen_rule(world["company"], "message_received",
             [{"type": "close", "reason_id": world["reason"].id, "text": "Até logo!"}],
             [{"type": "message_contains", "text": "tchau"}], position=1)
    ticket = inbound(world["connection"]).ticket
    ticket.tags = [world["urgent"]]
    db.session.commit()
    inbound(world["connection"], "tchau")
    assert [t.name for t in ticket.tags] == ["VIP"]
    assert ticket.favourite is True
    assert (ticket.status, ticket.reason_id) == (CLOSED, world["reason"].id)
    closed = [e for e in history(ticket, "closed")]
    assert closed[-1]["automatic"] is True


def test_AUT_8_send_text_with_variables_and_template_marks_automated(world):
    """AUT-8 + DEP-8 + FLT-1: texts with variables; a bot message marks the ticket
    automated (the inbox's "Automações" filter)."""
    template = MessageTemplate(company_id=world["company"].id, kind="text", shortcut="/proto",
                               title="Protocolo", body="Seu protocolo: {{protocolo}}")
    db.session.add(template)
    db.session.commit()
    gen_rule(world["company"], "ticket_created",
             [{"type": "send_text", "text": "Olá {{nome_cliente}}!"},
              {"type": "send_template", "template_id": template.id}])
    ticket = inbound(world["connection"]).ticket
    assert bot_texts(ticket) == ["Olá Maria Silva!", f"Seu protocolo: {ticket.protocol}"]
    assert ticket.automated is True


def test_AUT_8_http_maps_a_variable_used_by_the_next_send_text(world, app, httpserver):
    """AUT-8 + INT-1: the http action's mapped field fills the following text."""
    app.config["ALLOW_PRIVATE_URLS"] = True
    httpserver.expect_request("/cliente", method="POST").respond_with_json(
        {"data": {"plano": "Ouro"}})
    gen_rule(world["company"], "message_received",
             [{"type": "http", "method": "POST", "url": httpserver.url_for("/cliente"),
               "body": '{"nome": "{{nome_cliente}}"}', "map": {"plano": "data.plano"}},
              {"type": "send_text", "text": "Seu plano é {{plano}}."}])
    ticket = inbound(world["connection"]).ticket
    assert bot_texts(ticket) == ["Seu plano é Ouro."]
    assert httpserver.log[0][0].get_json() == {"nome": "Maria Silva"}


def test_AUT_8_start_flow_runs_the_chatbot_and_a_failed_action_is_logged(world):
    """AUT-8: start_flow hands the ticket to the chatbot engine (its published version);
    an action that cannot run is written in the history (Portuguese reason) and the next
    one still runs."""
    graph = {"nodes": {
        "s": {"type": "start", "data": {}, "next": {"next": "m"}},
        "m": {"type": "message", "data": {"text": "Bem-vindo à triagem."}, "next": {"next": "e"}},
        "e": {"type": "end", "data": {"close": False}, "next": {}},
    }}
    flow = gen_published_flow(world["company"], "Triagem", graph)
    unpublished = Flow(company_id=world["company"].id, name="Rascunho", draft={})
    db.session.add(unpublished)
    db.session.commit()
    gen_rule(world["company"], "ticket_created",
             [{"type": "start_flow", "flow_id": unpublished.id},
              {"type": "start_flow", "flow_id": flow.id},
              {"type": "favourite", "value": True}])
    ticket = inbound(world["connection"]).ticket
    assert "Bem-vindo à triagem." in bot_texts(ticket)
    assert ticket.favourite is True
    details = [h["detail"] for h in history(ticket)]
    assert any("O fluxo não está publicado." in (d or "") for d in details)


# --- order, loops, tenancy -----------------------------------------------------------------------


def test_AUT_8_rules_run_in_position_order(world):
    """AUT-8: rules of a trigger run by position (then id)."""
    gen_rule(world["company"], "ticket_created", [{"type": "send_text", "text": "segunda"}],
             position=2, name="B")
    gen_rule(world["company"], "ticket_created", [{"type": "send_text", "text": "primeira"}],
             position=1, name="A")
    ticket = inbound(world["connection"]).ticket
    assert bot_texts(ticket) == ["primeira", "segunda"]


def test_AUT_8_a_tag_added_rule_adding_its_tag_runs_once(world):
    """AUT-8 loop safety: a "tag added" rule that adds a tag runs once; the tags it adds
    do not retrigger it."""
    gen_rule(world["company"], "tag_added",
             [{"type": "add_tag", "tag_id": world["urgent"].id},
              {"type": "send_text", "text": "etiqueta"}],
             [{"type": "tag", "tag_id": world["vip"].id, "has": True}], name="Etiquetas")
    ticket = inbound(world["connection"], department=world["support"]).ticket
    ticket_rules.set_tags(ticket, world["admin"], [world["vip"].id])
    after_commit.commit()
    assert sorted(t.name for t in ticket.tags) == ["Urgente", "VIP"]
    assert bot_texts(ticket) == ["etiqueta"]
    assert [h["source"] for h in history(ticket)] == ["Automação Etiquetas"]


def test_AUT_8_a_transferred_rule_that_moves_runs_once(world):
    """AUT-8 loop safety: a "transferred" rule that moves the ticket runs once; another
    rule triggered by its move (tag added) does run."""
    gen_rule(world["company"], "ticket_transferred",
             [{"type": "move", "department_id": world["support"].id},
              {"type": "add_tag", "tag_id": world["vip"].id}], name="Mover")
    gen_rule(world["company"], "tag_added", [{"type": "send_text", "text": "etiqueta"}],
             name="Etiquetas")
    ticket = inbound(world["connection"], department=world["support"]).ticket
    ticket_rules.transfer(ticket, world["admin"], department_id=world["finance"].id)
    after_commit.commit()
    assert ticket.department_id == world["support"].id
    assert bot_texts(ticket) == ["etiqueta"]
    sources = [h["source"] for h in history(ticket)]
    assert sources.count("Automação Mover") == 1 and sources.count("Automação Etiquetas") == 1


def test_AUT_8_disabled_rule_and_another_companys_rule_do_nothing(world):
    """AUT-8: an inactive rule never runs; another company's rule never fires here."""
    gen_rule(world["company"], "ticket_created", [{"type": "favourite", "value": True}],
             active=False)
    gen_rule(world["other"], "ticket_created", [{"type": "send_text", "text": "alheia"}])
    ticket = inbound(world["connection"]).ticket
    assert ticket.favourite is False and bot_texts(ticket) == [] and history(ticket) == []
    other = inbound(world["other_connection"], address="b").ticket
    assert bot_texts(other) == ["alheia"]


# --- idle rules (timer) ------------------------------------------------------------------------


def test_AUT_8_idle_rule_fires_once_per_spell_at_its_minute(world, timeline):
    """AUT-8 "parado por N minutos": fires at the minute, once per idle spell; a new
    message from the customer starts a new spell."""
    gen_rule(world["company"], "idle", [{"type": "send_text", "text": "Ainda está aí?"}],
             idle_minutes=30)
    gen_rule(world["company"], "idle", [{"type": "add_tag", "tag_id": world["vip"].id}],
             idle_minutes=60, position=1)
    ticket = inbound(world["connection"]).ticket
    assert ticket.due_at == datetime(2026, 12, 1, 12, 30)
    timeline.advance(minutes=29)
    timers.tick()
    assert bot_texts(ticket) == []
    timeline.advance(minutes=1)
    assert timers.tick() == 1
    ticket = db.session.get(Ticket, ticket.id)
    assert bot_texts(ticket) == ["Ainda está aí?"]
    # the bot's own message does not start a new spell (the 30-minute rule is done), but
    # the next rule's minutes count from it
    assert ticket.due_at == datetime(2026, 12, 1, 13, 30)
    timeline.advance(minutes=60)
    timers.tick()
    ticket = db.session.get(Ticket, ticket.id)
    assert bot_texts(ticket) == ["Ainda está aí?"] and [t.name for t in ticket.tags] == ["VIP"]
    timeline.advance(minutes=120)
    timers.tick()
    assert bot_texts(ticket) == ["Ainda está aí?"]
    inbound(world["connection"], "voltei")  # a new spell
    timeline.advance(minutes=30)
    timers.tick()
    assert bot_texts(db.session.get(Ticket, ticket.id)) == ["Ainda está aí?"] * 2


# --- manual rules (BLK-1) ------------------------------------------------------------------------


def test_AUT_8_BLK_1_manual_rule_on_three_tickets_through_the_inbox(app, world):
    """AUT-8 + BLK-1: the selection mode lists the manual rules and runs one on the
    selected tickets; a ticket the agent cannot see is refused, the others done."""
    rule = gen_rule(world["company"], "manual", [{"type": "add_tag", "tag_id": world["vip"].id}],
                    name="Marcar VIP")
    gen_rule(world["company"], "ticket_created", [{"type": "favourite", "value": True}],
             name="Não manual")
    mine = [inbound(world["connection"], address=f"m{i}", department=world["support"]).ticket.id
            for i in range(3)]
    hidden = inbound(world["connection"], address="h", department=world["finance"]).ticket.id
    other_rule = gen_rule(world["other"], "manual", [{"type": "favourite", "value": True}])
    client = client_as(app, "agente@regras.example")

    listed = client.get("/inbox/api/automations").get_json()
    assert [r["name"] for r in listed["automations"]] == ["Marcar VIP"]

    answer = post(client, "/inbox/api/tickets/bulk/automation",
                  json={"rule_id": rule.id, "ticket_ids": mine + [hidden]})
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()
    assert data["done"] == 3
    assert [e["id"] for e in data["errors"]] == [hidden]
    assert "Marcar VIP" in data["message"] and "3" in data["message"]
    db.session.expire_all()
    for ticket_id in mine:
        assert [t.name for t in db.session.get(Ticket, ticket_id).tags] == ["VIP"]
    assert db.session.get(Ticket, hidden).tags == []

    refused = post(client, "/inbox/api/tickets/bulk/automation",
                   json={"rule_id": other_rule.id, "ticket_ids": mine})
    assert refused.status_code == 404
    no_csrf = post(client, "/inbox/api/tickets/bulk/automation",
                   json={"rule_id": rule.id, "ticket_ids": mine}, csrf=False)
    assert no_csrf.status_code == 400
    too_many = post(client, "/inbox/api/tickets/bulk/automation",
                    json={"rule_id": rule.id, "ticket_ids": list(range(1, 300))})
    assert too_many.status_code == 400
