"""SCL-3 (issue 17 point 3): the automation's share of an inbound message. The company's
rules are kept by the process (services.company_config; tests/test_inbound_cost.py), or
read once per transaction (after_commit.memo) by one that writes them, as is the
ticket's flow run when the company has flows; a step
with provably nothing to do opens no savepoint, and nothing read early is answered stale:
a rule or a flow run written earlier in the same transaction is seen."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.automation import timers
from backoffice.channels.base import Inbound
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Ticket
from backoffice.models.automation import RUN_ACTIVE, AutomationRule, FlowRun
from backoffice.models.tickets import AUTHOR_BOT
from backoffice.services import tickets as ticket_rules
from tests.conftest import sql_statements
from tests.factories import (
    MENU_FLOW, gen_company, gen_connection, gen_published_flow, gen_rule, sent_texts,
)


@pytest.fixture
def world(app, timeline):
    with app.app_context():
        company, _admin = gen_company("Memo Ltda", "admin@memo.example")
        connection = gen_connection(company, "Site", kind="webchat")
        db.session.commit()
        yield {"company": company, "connection": connection}


def receive(connection, text, address="cliente-1"):
    """The channels' path without the commit: the caller decides when the transaction
    ends, so two messages can share one."""
    message = ticket_rules.receive_inbound(connection, Inbound(address=address, text=text))
    return db.session.get(Ticket, message.ticket_id)


def _automation(seen: list[str]) -> dict:
    """The statements of the automation: its reads of flow_run and automation_rule, and
    the savepoints its steps open."""
    return {"flow_run": sum("flow_run" in s for s in seen),
            "automation_rule": sum("automation_rule" in s for s in seen),
            "savepoint": sum(s.lstrip().upper().startswith("SAVEPOINT") for s in seen)}


def test_SCL_3_message_without_rules_or_flows_costs_one_read_and_no_savepoint(app, world):
    """SCL-3: on a company with no rule for the message and no flow, the automation sends
    one statement per inbound message, the company's config_version (the rules, the
    webhooks and whether a flow run may exist are what the process keeps of the company,
    services.company_config; the widget's path reads the version with the visitor, so
    none there), and opens no savepoint; a rule of another trigger changes nothing."""
    gen_rule(world["company"], "ticket_closed", [{"type": "favourite", "value": True}])
    after_commit.commit()  # a configuration of its own, committed before the messages
    receive(world["connection"], "Primeira")
    after_commit.commit()
    with sql_statements(app) as seen:
        ticket = receive(world["connection"], "Segunda")
        after_commit.commit()
    assert _automation(seen) == {"flow_run": 0, "automation_rule": 0, "savepoint": 0}
    assert sum("config_version" in s for s in seen) == 1
    assert not any("webhook" in s for s in seen)
    assert ticket.favourite is False


def test_SCL_3_a_rule_with_work_still_runs_in_its_savepoint(app, world):
    """SCL-3 keeps AUT-8's containment: a "message received" rule runs, in a savepoint."""
    gen_rule(world["company"], "message_received", [{"type": "favourite", "value": True}])
    after_commit.commit()
    receive(world["connection"], "Primeira")
    after_commit.commit()
    db.session.get(Ticket, db.session.scalar(select(Ticket.id))).favourite = False
    after_commit.commit()
    with sql_statements(app) as seen:
        ticket = receive(world["connection"], "Segunda")
        after_commit.commit()
    assert ticket.favourite is True
    assert _automation(seen)["savepoint"] >= 1
    assert _automation(seen)["automation_rule"] == 0  # the process keeps the rules


def test_SCL_3_a_rule_added_earlier_in_the_transaction_is_seen(world):
    """SCL-3: the rules memo of the first message (no rule) does not hide a rule added
    (not even flushed) before the second message of the same transaction."""
    ticket = receive(world["connection"], "Primeira")
    assert ticket.favourite is False
    db.session.add(AutomationRule(company_id=world["company"].id, trigger="message_received",
                                  name="Favoritar", position=0, match="all", conditions=[],
                                  actions=[{"type": "favourite", "value": True}]))
    ticket = receive(world["connection"], "Segunda")
    assert ticket.favourite is True
    after_commit.commit()


def test_SCL_3_a_rule_switched_off_earlier_in_the_transaction_does_not_run(world):
    """SCL-3: a rule read by the first message and switched off before the second (same
    transaction) does not run on the second."""
    rule = gen_rule(world["company"], "message_received", [{"type": "favourite", "value": True}])
    ticket = receive(world["connection"], "Primeira")
    assert ticket.favourite is True
    ticket.favourite = False
    rule.active = False
    ticket = receive(world["connection"], "Segunda")
    assert ticket.favourite is False
    after_commit.commit()


def test_SCL_3_an_idle_rule_added_in_the_transaction_schedules_the_ticket(world):
    """SCL-3: the idle timer reads the rules memo; an idle rule added after the message
    read it still gives the ticket its due instant."""
    ticket = receive(world["connection"], "Primeira")
    assert ticket.due_at is None
    gen_rule(world["company"], "idle", [{"type": "favourite", "value": True}], idle_minutes=30)
    timers.reschedule(ticket)
    assert ticket.due_at is not None
    after_commit.commit()


def test_SCL_3_a_flow_run_written_earlier_in_the_transaction_is_seen(world):
    """SCL-3: the first message remembered "no run" for the ticket; a run added (not
    flushed) before the second message of the same transaction takes that message."""
    ticket = receive(world["connection"], "Primeira")
    flow = gen_published_flow(world["company"], "Menu", MENU_FLOW)
    db.session.add(FlowRun(company_id=world["company"].id, ticket_id=ticket.id,
                           flow_version_id=flow.published_version_id, node_id="ask",
                           variables={}, tries=0, status=RUN_ACTIVE, waiting_for="input",
                           started_at=ticket.created_at))
    ticket = receive(world["connection"], "1")
    assert sent_texts(ticket, AUTHOR_BOT) == ["Tchau, Vendas"]
    after_commit.commit()


def test_SCL_3_a_flow_started_by_a_message_takes_the_next_in_the_same_transaction(world):
    """SCL-3: the run the first message starts is the memo's answer for the second one
    (same transaction): the menu's answer is taken, not a second start."""
    flow = gen_published_flow(world["company"], "Menu", MENU_FLOW)
    world["connection"].flow_id = flow.id
    after_commit.commit()
    ticket = receive(world["connection"], "Oi")
    assert sent_texts(ticket, AUTHOR_BOT) == ["Escolha\n\n1 - Vendas"]
    ticket = receive(world["connection"], "1")
    assert sent_texts(ticket, AUTHOR_BOT) == ["Escolha\n\n1 - Vendas", "Tchau, Vendas"]
    assert len(list(db.session.scalars(select(FlowRun).where(
        FlowRun.ticket_id == ticket.id)))) == 1
    after_commit.commit()
