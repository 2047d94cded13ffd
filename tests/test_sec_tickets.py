"""SEC-8: an agent cannot reopen, tag or favourite a ticket a colleague has accepted,
unless they supervise (inbox.supervise); the owner and a supervisor still can.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.models import Message, PermissionGroup, Ticket
from tests.conftest import client_as, post
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_group, gen_tag, gen_ticket, gen_user,
)


@pytest.fixture
def team(app):
    """Ana and Bruno, agents of the same department; Carla supervises; one VIP tag."""
    with app.app_context():
        company, _admin = gen_company("Gama Óptica", "admin-g@example.com")
        db.session.flush()
        agents = db.session.scalar(select(PermissionGroup).where(
            PermissionGroup.company_id == company.id, PermissionGroup.name == "Atendente"))
        ana = gen_user(company, "ana@example.com", agents, name="Ana Atendente")
        bruno = gen_user(company, "bruno@example.com", agents, name="Bruno Atendente")
        sup = gen_group(company, "Supervisão", ["inbox.view", "inbox.supervise"])
        carla = gen_user(company, "carla@example.com", sup, name="Carla Supervisora")
        db.session.flush()
        sales = gen_department(company, "Vendas", members=[(ana, True, False), (bruno, True, False)])
        connection = gen_connection(company, "Site")
        tag = gen_tag(company, "VIP", color="#aa0000")
        db.session.flush()
        accepted = gen_ticket(connection, department=sales, agent=ana)
        closed = gen_ticket(connection, department=sales, agent=ana, status="closed")
        db.session.commit()
        message_id = db.session.scalar(select(Message.id).where(Message.ticket_id == accepted.id))
        return {"accepted": accepted.id, "closed": closed.id, "message": message_id,
                "tag": tag.id, "ana_id": ana.id, "carla_id": carla.id}


def _state(app, team):
    with app.app_context():
        accepted = db.session.get(Ticket, team["accepted"])
        closed = db.session.get(Ticket, team["closed"])
        message = db.session.get(Message, team["message"])
        return {"favourite": accepted.favourite, "tags": [t.id for t in accepted.tags],
                "message_tags": [t.id for t in message.tags],
                "closed": (closed.status, closed.agent_id)}


def _attacks(team):
    return [
        (f"/inbox/api/tickets/{team['closed']}/reopen", {}),
        (f"/inbox/api/tickets/{team['accepted']}/tags", {"tag_ids": [team["tag"]]}),
        (f"/inbox/api/tickets/{team['accepted']}/favourite", {"value": True}),
        (f"/inbox/api/messages/{team['message']}/tags", {"tag_ids": [team["tag"]]}),
    ]


def test_SEC_8_colleague_cannot_reopen_tag_or_favourite_an_accepted_ticket(app, team):
    """Bruno, of the same department, posts on Ana's tickets: each request is refused
    with a short message and nothing changes (the closed ticket stays closed and Ana's)."""
    before = _state(app, team)
    assert before == {"favourite": False, "tags": [], "message_tags": [],
                      "closed": ("closed", team["ana_id"])}
    for url, body in _attacks(team):
        r = post(client_as(app, "bruno@example.com"), url, body)
        assert r.status_code in (400, 403), (url, r.status_code)
        assert r.json["error"] == "Este atendimento está com Ana Atendente.", url
    assert _state(app, team) == before


@pytest.mark.parametrize("email", ["carla@example.com", "ana@example.com"])
def test_SEC_8_owner_and_supervisor_still_reopen_tag_and_favourite(app, team, email):
    """The agent who accepted the ticket, and a supervisor, keep every action."""
    for url, body in _attacks(team):
        r = post(client_as(app, email), url, body)
        assert r.status_code == 200, (url, r.text)
    after = _state(app, team)
    assert after["favourite"] is True
    assert after["tags"] == after["message_tags"] == [team["tag"]]
    assert after["closed"][0] == "open"
