"""The "Automações" screen (AUT-8): rules created and edited with the conditions/actions
editor's JSON, checked on the server (company ids only, known types, at least one
action), with the reasons in Portuguese and the form kept."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models.automation import AutomationRule
from tests.conftest import client_as, flashes

URL = "/admin/automations/"


@pytest.fixture
def admin_a(app, tenants):
    return client_as(app, tenants["a"].admin_email)


def _form(tenants, **over):
    a = tenants["a"]
    data = {"name": "Boas-vindas VIP", "active": "y", "trigger": "message_received",
            "idle_minutes": "", "match": "all", "position": "3",
            "conditions": json.dumps([{"type": "tag", "tag_id": a.ids["tags"], "has": True}]),
            "actions": json.dumps([{"type": "send_text", "text": "Olá {{nome_cliente}}!"},
                                   {"type": "add_tag", "tag_id": a.ids["tags"]}])}
    data.update(over)
    return data


def _rules(app, name):
    with app.app_context():
        return list(db.session.scalars(select(AutomationRule).where(AutomationRule.name == name)))


def test_AUT_8_screen_offers_only_the_companys_choices(admin_a, tenants):
    """AUT-8: the editor's JSON lists the company's tags, never another company's."""
    page = admin_a.get(URL + "new/").get_data(as_text=True)
    assert 'id="automation-options"' in page and "automations/editor.js" in page
    assert tenants["a"].labels["tags"] in page
    assert tenants["b"].labels["tags"] not in page


def test_AUT_8_create_with_valid_json_and_list(app, admin_a, tenants):
    """AUT-8: a rule saved from the editor's JSON; the list shows trigger and summary."""
    answer = admin_a.submit(URL + "new/", _form(tenants))
    assert answer.status_code == 302, flashes(answer.get_data(as_text=True))
    (rule,) = _rules(app, "Boas-vindas VIP")
    assert (rule.trigger, rule.position, rule.company_id) == (
        "message_received", 3, tenants["a"].company_id)
    assert rule.actions[1] == {"type": "add_tag", "tag_id": tenants["a"].ids["tags"]}
    listed = admin_a.get(URL).get_data(as_text=True)
    assert "Boas-vindas VIP" in listed and "Mensagem recebida" in listed
    assert "Enviar texto, Adicionar etiqueta" in listed

    edit = admin_a.get(URL + f"edit/?id={rule.id}").get_data(as_text=True)
    assert "Olá {{nome_cliente}}!" in edit or "Olá {{nome_cliente}}!".replace('"', "&#34;") in edit
    off = admin_a.submit(URL + f"edit/?id={rule.id}", _form(tenants, active=""))
    assert off.status_code == 302
    assert _rules(app, "Boas-vindas VIP")[0].active is False


@pytest.mark.parametrize("over, reason", [
    ({"actions": "[]"}, "Inclua ao menos uma ação."),
    ({"actions": json.dumps([{"type": "apagar_tudo"}])}, "Ação 1: Ação desconhecida."),
    ({"conditions": json.dumps([{"type": "nada"}])}, "Condição 1: Condição desconhecida."),
    ({"trigger": "idle", "idle_minutes": ""}, "Informe os minutos parado (de 1 a 43200)."),
])
def test_AUT_8_screen_refuses_invalid_rules(app, admin_a, tenants, over, reason):
    """AUT-8: what cannot run is refused with the reason; nothing saved, form kept."""
    answer = admin_a.submit(URL + "new/", _form(tenants, **over))
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert any(reason in f for f in flashes(page)), flashes(page)
    assert "Boas-vindas VIP" in page  # the form keeps what was typed
    assert _rules(app, "Boas-vindas VIP") == []


def test_AUT_8_screen_refuses_another_companys_tag_id(app, admin_a, tenants):
    """AUT-8 + SEC: a crafted id of another company's tag is refused (never trusted)."""
    foreign = json.dumps([{"type": "add_tag", "tag_id": tenants["b"].ids["tags"]}])
    answer = admin_a.submit(URL + "new/", _form(tenants, actions=foreign))
    assert any("Ação 1: Escolha uma etiqueta da empresa." in f
               for f in flashes(answer.get_data(as_text=True)))
    assert _rules(app, "Boas-vindas VIP") == []


def test_AUT_8_a_new_idle_rule_counts_for_tickets_already_idle(app, admin_a, tenants, timeline):
    """AUT-8 "idle for N minutes": saving the rule reschedules the open tickets, so one
    already idle gets it at its minute, not only after its next message."""
    from datetime import timedelta

    from backoffice.models import Connection, Ticket
    from tests.factories import gen_ticket

    with app.app_context():
        connection = db.session.scalars(select(Connection).where(
            Connection.company_id == tenants["a"].company_id)).first()
        ticket = gen_ticket(connection, text="Oi")
        ticket.due_at = None  # idle, no timer: as before any idle rule existed
        db.session.commit()
        ticket_id, idle_since = ticket.id, ticket.last_activity_at
    answer = admin_a.submit(URL + "new/", _form(
        tenants, trigger="idle", idle_minutes="30", conditions="[]",
        actions=json.dumps([{"type": "add_tag", "tag_id": tenants["a"].ids["tags"]}])))
    assert answer.status_code == 302, flashes(answer.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Ticket, ticket_id).due_at == idle_since + timedelta(minutes=30)
