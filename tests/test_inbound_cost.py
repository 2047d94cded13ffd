"""SCL-3 (issue 17 point 3): the work of one inbound website-chat message.

The company's automation configuration (active rules, webhooks, whether any flow is
published) is kept by each process and checked against Company.config_version, read
with the visitor (services.company_config); the tests below prove that a change made
through another app instance (another process: its own engine, session and cache) is
seen by the very next message, and that the kept configuration costs no statement.
`contact_address.last_inbound_at` is written only for the channels with a 24-hour window.
"""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import delete, select, update

from backoffice import create_app
from backoffice.channels.base import Inbound
from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Company, Connection, ContactAddress, Message, Ticket, Webhook
from backoffice.models.automation import RUN_ACTIVE, AutomationRule, FlowRun
from backoffice.models.tickets import AUTHOR_BOT
from backoffice.models.webhooks import WebhookDelivery
from backoffice.services import company_config
from backoffice.services import tickets as ticket_rules
from backoffice.webhooks import outbox
from tests.conftest import client_as, flashes, sql_statements
from tests.factories import (
    MENU_FLOW, gen_company, gen_connection, gen_published_flow, gen_rule, gen_webhook,
    sent_texts,
)


def api(key, path):
    return f"/widget/{key}/api/{path}"


def say(client, key, token, text):
    """As the widget sends it: with a client id (so the redelivery check runs too)."""
    response = client.post(api(key, "messages"),
                           json={"text": text, "client_id": f"c-{uuid.uuid4().hex}"},
                           headers={"X-Visitor-Token": token})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["message"]


@pytest.fixture
def chat(app, webchat_world):
    """A visitor of company A's chat with an open ticket (the world's chat offers Vendas
    and Suporte, so the start names one)."""
    client = app.test_client()
    response = client.post(api(webchat_world.key, "start"),
                           json={"text": "Olá",
                                 "department_id": webchat_world.departments["sales"]})
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["token"]
    with app.app_context():
        ticket_id = db.session.scalar(select(Ticket.id).where(
            Ticket.company_id == webchat_world.company_id))
    return {"client": client, "key": webchat_world.key, "token": token,
            "ticket_id": ticket_id, "company_id": webchat_world.company_id,
            "connection_id": webchat_world.connection_id}


@pytest.fixture
def other(app_config, app):
    """A second app instance on the same database: another process's engine, sessions
    and kept configurations (the `app` fixture built the database first)."""
    second = create_app(dict(app_config))
    yield second
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def deliveries(monkeypatch):
    """The webhook deliveries' jobs asked for (none is sent: no receiver here)."""
    asked: list[int] = []
    monkeypatch.setattr(outbox, "enqueue", lambda delivery_id: asked.append(delivery_id))
    return asked


def _favourite(app, ticket_id) -> bool:
    with app.app_context():
        return db.session.get(Ticket, ticket_id).favourite


def _reset_favourite(app, ticket_id) -> None:
    with app.app_context():
        db.session.get(Ticket, ticket_id).favourite = False
        db.session.commit()


def _read(seen: list[str], table: str) -> int:
    return sum(s.lstrip().upper().startswith("SELECT") and f"FROM {table}" in s for s in seen)


def test_SCL_3_widget_message_costs_three_statements(app, chat):
    """SCL-3: a visitor's message on a company without automations costs three statements:
    the visitor (with the connection, the contact, the company's config_version, the open
    ticket and whether the message's client id is already stored), the ticket's UPDATE and
    the message's INSERT. No read of the rules, the webhooks or a flow run, no separate
    redelivery check, no UPDATE of contact_address (webchat has no 24-hour window), no
    separate read of the company or the ticket."""
    say(chat["client"], chat["key"], chat["token"], "Primeira")  # this process keeps it now
    with sql_statements(app) as seen:
        say(chat["client"], chat["key"], chat["token"], "Segunda")
    assert len(seen) == 3, "\n".join(s[:120] for s in seen)
    # the visitor with its open ticket and the redelivery answer: no other read
    assert sum(s.lstrip().upper().startswith("SELECT") for s in seen) == 1
    for table in ("automation_rule", "webhook", "flow_run", "flow_version", "company"):
        assert _read(seen, table) == 0, table
    assert not any(s.lstrip().upper().startswith("UPDATE CONTACT_ADDRESS") for s in seen)


def test_SCL_3_widget_message_runs_no_flush(app, chat):
    """SCL-3: the widget's message and its ticket's activity are written by
    lib/rowwrite.py, without the unit of work: no flush runs during the request, and the
    inbox reads what a flush would have stored (tests/test_rowwrite.py compares both)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    say(chat["client"], chat["key"], chat["token"], "Primeira")
    flushes = []
    listener = lambda *_args: flushes.append(1)  # noqa: E731
    event.listen(Session, "before_flush", listener)
    try:
        sent = say(chat["client"], chat["key"], chat["token"], "Segunda  mensagem")
    finally:
        event.remove(Session, "before_flush", listener)
    assert flushes == []
    with app.app_context():
        ticket = db.session.get(Ticket, chat["ticket_id"])
        assert (ticket.preview, ticket.unread) == ("Segunda mensagem", 3)
        assert db.session.get(Message, sent["id"]).text == "Segunda  mensagem"


def test_SCL_3_the_visitor_lookup_brings_the_open_ticket_whole(app, chat):
    """SCL-3: the visitor's lookup (one statement, its objects built from the row by
    lib/rowload.py) brings the connection, the visitor with its contact and the open
    ticket with its department and its tags in their order, as the ORM's loading did;
    nothing else is read when the message path uses them. A visitor whose ticket was
    finished is still found, without a ticket."""
    from backoffice.channels.webchat.visitor import find_visitor_at
    from tests.factories import gen_tag

    with app.app_context():
        ticket = db.session.get(Ticket, chat["ticket_id"])
        ticket.tags = [gen_tag(chat["company_id"], "Zeta"), gen_tag(chat["company_id"], "Alfa")]
        db.session.commit()
        db.session.remove()
    with app.app_context():
        with sql_statements(app) as seen:
            connection, address = find_visitor_at(chat["key"], chat["token"])
            ticket = ticket_rules.open_ticket_of(address.contact, connection)
            shown = (connection.id, address.contact.id == ticket.contact_id,
                     ticket.id, ticket.department.name, [tag.name for tag in ticket.tags])
        assert len(seen) == 1, seen
        assert shown == (chat["connection_id"], True, chat["ticket_id"], "Vendas",
                         ["Alfa", "Zeta"])
        db.session.execute(update(Ticket).where(Ticket.id == chat["ticket_id"])
                           .values(status="closed"))
        db.session.commit()
        db.session.remove()
    with app.app_context():
        connection, address = find_visitor_at(chat["key"], chat["token"])
        assert connection.id == chat["connection_id"] and address.address == chat["token"]
        assert ticket_rules.known_address(connection.id, chat["token"]) is address


def test_SCL_3_a_large_body_is_not_read_before_the_visitor_is_found(app, chat):
    """SCL-3: only a JSON body of up to READ_AHEAD_BYTES is read ahead of the visitor's
    lookup for its client id. A larger one (extra fields here) is read after the lookup
    and the rate limit, as before: a known visitor's message then costs the redelivery
    check of its own (four statements: it was not read ahead) and is still stored once
    when sent again; an unknown visitor's gets its 401."""
    from backoffice.channels.webchat.views import READ_AHEAD_BYTES

    big = {"text": "Grande", "client_id": "c-big-0001", "pad": "x" * READ_AHEAD_BYTES}
    unknown = chat["client"].post(api(chat["key"], "messages"), json=big,
                                  headers={"X-Visitor-Token": "t" * 32})
    assert unknown.status_code == 401
    with sql_statements(app) as seen:
        first = chat["client"].post(api(chat["key"], "messages"), json=big,
                                    headers={"X-Visitor-Token": chat["token"]})
    assert first.status_code == 201
    assert len(seen) == 4 and sum(s.lstrip().upper().startswith("SELECT") for s in seen) == 2
    again = chat["client"].post(api(chat["key"], "messages"), json=big,
                                headers={"X-Visitor-Token": chat["token"]})
    assert again.get_json()["message"]["id"] == first.get_json()["message"]["id"]


def test_SCL_3_webchat_keeps_no_last_inbound_at_but_whatsapp_does(app, chat):
    """SCL-3 / CHN-4: the 24-hour window's clock is written for the channels that have a
    window (WhatsApp here), not for the website chat, which has none."""
    say(chat["client"], chat["key"], chat["token"], "Oi")
    with app.app_context():
        address = db.session.scalar(select(ContactAddress).where(
            ContactAddress.address == chat["token"]))
        assert address.last_inbound_at is None
        company = db.session.get(Company, chat["company_id"])
        whatsapp = gen_connection(company, "Zap", kind="whatsapp")
        db.session.commit()
        ticket_rules.receive_inbound(whatsapp, Inbound(address="5511999990000", text="Oi"))
        after_commit.commit()
        phone = db.session.scalar(select(ContactAddress).where(
            ContactAddress.address == "5511999990000"))
        assert phone.last_inbound_at is not None


def test_SCL_3_rule_change_seen_by_next_message_in_other_process(app, other, chat):
    """SCL-3: a "message received" rule added through another app instance runs on this
    one's very next message, and once deleted there, no longer runs here; between the
    changes this process reads the rules once, not per message."""
    say(chat["client"], chat["key"], chat["token"], "Primeira")
    assert _favourite(app, chat["ticket_id"]) is False

    with other.app_context():
        rule = gen_rule(chat["company_id"], "message_received",
                        [{"type": "favourite", "value": True}])
        db.session.commit()
        rule_id = rule.id
    with sql_statements(app) as seen:
        say(chat["client"], chat["key"], chat["token"], "Segunda")
    assert _favourite(app, chat["ticket_id"]) is True
    assert _read(seen, "automation_rule") == 1  # the new version: read again, once

    _reset_favourite(app, chat["ticket_id"])
    with sql_statements(app) as seen:
        say(chat["client"], chat["key"], chat["token"], "Terceira")
    assert _favourite(app, chat["ticket_id"]) is True
    assert _read(seen, "automation_rule") == 0  # unchanged: kept

    _reset_favourite(app, chat["ticket_id"])
    with other.app_context():
        db.session.delete(db.session.get(AutomationRule, rule_id))
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Quarta")
    assert _favourite(app, chat["ticket_id"]) is False


def test_SCL_3_rule_saved_on_the_automations_screen_is_seen_by_next_message(app, chat):
    """SCL-3 / AUT-8: a rule saved on the "Automações" screen (the form leaves the company
    to the tenancy guard, filled at the flush) runs on the next message, and switched off
    there, no longer runs."""
    admin = client_as(app, "admin-wa@example.com")
    say(chat["client"], chat["key"], chat["token"], "Primeira")
    form = {"name": "Favoritar", "active": "y", "trigger": "message_received",
            "idle_minutes": "", "match": "all", "position": "0", "conditions": "[]",
            "actions": json.dumps([{"type": "favourite", "value": True}])}
    answer = admin.submit("/admin/automations/new/", form)
    assert answer.status_code == 302, flashes(answer.get_data(as_text=True))
    say(chat["client"], chat["key"], chat["token"], "Segunda")
    assert _favourite(app, chat["ticket_id"]) is True

    _reset_favourite(app, chat["ticket_id"])
    with app.app_context():
        rule_id = db.session.scalar(select(AutomationRule.id))
    answer = admin.submit(f"/admin/automations/edit/?id={rule_id}", {**form, "active": ""})
    assert answer.status_code == 302, flashes(answer.get_data(as_text=True))
    say(chat["client"], chat["key"], chat["token"], "Terceira")
    assert _favourite(app, chat["ticket_id"]) is False


def test_SCL_3_rule_switched_off_by_bulk_update_elsewhere_stops_at_next_message(app, other,
                                                                               chat):
    """SCL-3: an ORM bulk UPDATE (no mapper event) that switches a rule off in another
    process changes the company's config_version all the same."""
    with app.app_context():
        gen_rule(chat["company_id"], "message_received", [{"type": "favourite", "value": True}])
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Primeira")
    assert _favourite(app, chat["ticket_id"]) is True
    _reset_favourite(app, chat["ticket_id"])

    with other.app_context():
        db.session.execute(update(AutomationRule).values(active=False)
                           .where(AutomationRule.company_id == chat["company_id"])
                           .execution_options(synchronize_session=False))
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Segunda")
    assert _favourite(app, chat["ticket_id"]) is False


def _deliveries(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(WebhookDelivery.webhook_id)
                                       .where(WebhookDelivery.event == "message.created")))


def test_SCL_3_webhook_added_or_switched_off_elsewhere_is_seen_by_next_message(
        app, other, chat, deliveries):
    """SCL-3 / WHK-1: a webhook created in another process receives this process's next
    message; switched off there by the 24-hour switch's bulk UPDATE (webhooks.delivery),
    it receives nothing more from here; deleted, likewise."""
    say(chat["client"], chat["key"], chat["token"], "Primeira")
    with other.app_context():
        hook = gen_webhook(db.session.get(Company, chat["company_id"]), "CRM",
                           "https://crm.example.com/hook", ["message.created"])
        db.session.commit()
        hook_id = hook.id
    say(chat["client"], chat["key"], chat["token"], "Segunda")
    assert _deliveries(app) == [hook_id]

    with other.app_context():
        db.session.execute(update(Webhook).where(Webhook.id == hook_id,
                                                 Webhook.active.is_(True))
                           .values(active=False).execution_options(synchronize_session=False))
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Terceira")
    assert _deliveries(app) == [hook_id]

    with other.app_context():
        db.session.get(Webhook, hook_id).active = True
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Quarta")
    assert _deliveries(app) == [hook_id, hook_id]

    with other.app_context():
        db.session.execute(delete(WebhookDelivery))
        db.session.execute(delete(Webhook).where(Webhook.id == hook_id))
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "Quinta")
    assert _deliveries(app) == []


def test_SCL_3_flow_run_started_elsewhere_takes_the_next_message(app, other, chat):
    """SCL-3 / AUT-2: on a company that never published a flow no flow run is read (none
    can exist); once another process publishes one and a run starts on the ticket there,
    this process's next message is the run's answer."""
    with sql_statements(app) as seen:
        say(chat["client"], chat["key"], chat["token"], "Primeira")
    assert _read(seen, "flow_run") == 0
    with other.app_context():
        flow = gen_published_flow(chat["company_id"], "Menu", MENU_FLOW)
        ticket = db.session.get(Ticket, chat["ticket_id"])
        db.session.add(FlowRun(company_id=chat["company_id"], ticket_id=ticket.id,
                               flow_version_id=flow.published_version_id, node_id="ask",
                               variables={}, tries=0, status=RUN_ACTIVE, waiting_for="input",
                               started_at=ticket.created_at))
        db.session.commit()
    say(chat["client"], chat["key"], chat["token"], "1")
    with app.app_context():
        assert sent_texts(db.session.get(Ticket, chat["ticket_id"]), AUTHOR_BOT) == \
            ["Tchau, Vendas"]


def test_SCL_3_rule_written_in_the_transaction_is_seen_and_gone_after_rollback(app, chat):
    """SCL-3: a transaction that writes a rule runs its messages with it (the kept
    configuration is not used there), and after its rollback the rule never runs: what
    that transaction read is not kept."""
    say(chat["client"], chat["key"], chat["token"], "Primeira")
    with app.app_context():
        connection = db.session.get(Connection, chat["connection_id"])
        gen_rule(chat["company_id"], "message_received", [{"type": "favourite", "value": True}])
        message = ticket_rules.receive_inbound(connection,
                                               Inbound(address=chat["token"], text="Dentro"))
        assert db.session.get(Ticket, message.ticket_id).favourite is True
        db.session.rollback()
    say(chat["client"], chat["key"], chat["token"], "Depois")
    assert _favourite(app, chat["ticket_id"]) is False


def test_SCL_3_kept_configurations_are_bounded(app):
    """SCL-3: many companies on one install: the process keeps at most
    COMPANY_CONFIG_CACHE_SIZE of them, the least recently used dropped first."""
    app.config["COMPANY_CONFIG_CACHE_SIZE"] = 2
    with app.app_context():
        ids = [gen_company(f"Empresa {n}", f"admin{n}@cota.example")[0].id for n in range(3)]
        db.session.commit()
        for company_id in ids:
            assert company_config.current(company_id) is not None
        kept = company_config.cache()
        assert list(kept.entries) == ids[1:]
        assert company_config.current(ids[1]) is not None  # used: now the most recent
        assert company_config.current(ids[0]) is not None
        assert list(kept.entries) == [ids[1], ids[0]]


def test_SCL_3_a_session_keeps_its_own_apps_engine(app, other):
    """SCL-3: the session looks its engine up once (extensions.Session), and that cannot
    mix two apps: a session belongs to one app context, so a second app's context pushed
    inside the first gets its own session on its own engine, and the first's is unchanged
    when it comes back."""
    with app.app_context():
        first = db.session()
        assert first.get_bind() is db.engine
        with other.app_context():
            assert db.session() is not first
            assert db.session.get_bind() is db.engine
            assert db.engine is not first.get_bind()
            assert db.session.connection().engine is db.engine
        assert db.session() is first and first.get_bind() is db.engine
