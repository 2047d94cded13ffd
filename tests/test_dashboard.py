"""PAU-4: the managers' live dashboard on the home and the agent's own numbers.

One small company (Vendas with its responsible Rita and agent Ana, Suporte with agent
Beto, an admin who supervises everything) beside another company whose tickets must
never be counted; the clock frozen at 2026-12-01 12:00 UTC (09:00 in São Paulo)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pytest

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Ticket
from backoffice.services import sending, tickets
from tests.conftest import client_as
from tests.factories import (
    gen_company, gen_connection, gen_contact, gen_department, gen_group, gen_plan, gen_user,
)

NOON = datetime(2026, 12, 1, 12, 0)


@dataclass
class World:
    company_id: int
    vendas: int
    suporte: int
    connection_id: int
    other_connection_id: int


ADMIN, RITA, ANA, BETO, OTHER = ("admin-d@example.com", "rita@example.com", "ana@example.com",
                                 "beto@example.com", "admin-o@example.com")


@pytest.fixture
def world(app, timeline):
    with app.app_context():
        company, _admin = gen_company("Dash Ltda", ADMIN, gen_plan("Plano D"))
        agents = gen_group(company, "Atendentes", ["inbox.view"])
        rita = gen_user(company, RITA, agents, name="Rita Responsável")
        ana = gen_user(company, ANA, agents, name="Ana Vendas")
        beto = gen_user(company, BETO, agents, name="Beto Suporte")
        db.session.flush()
        vendas = gen_department(company, "Vendas", members=[(rita, True, True), (ana, True, False)])
        suporte = gen_department(company, "Suporte", members=[(beto, True, False)])
        chat = gen_connection(company, "Site")
        other, _ = gen_company("Outra SA", OTHER, gen_plan("Plano O"))
        other_chat = gen_connection(other, "Site O")
        gen_department(other, "Vendas O")
        db.session.commit()
        made = World(company.id, vendas.id, suporte.id, chat.id, other_chat.id)
        db.session.remove()
    return made


def _open(connection_id: int, department_id: int | None, at: datetime | None = None) -> Ticket:
    """A ticket opened by a customer's message through the services (its facts kept)."""
    from backoffice.models import Connection, Department

    connection = db.session.get(Connection, connection_id)
    department = db.session.get(Department, department_id) if department_id else None
    ticket = tickets.open_ticket(gen_contact(connection), connection, department)
    tickets.receive(ticket, "Olá")
    return ticket


def _user(email: str):
    from sqlalchemy import select

    from backoffice.models import User

    return db.session.scalar(select(User).where(User.email == email))


def test_PAU_4_dashboard_json_is_scoped_to_what_the_user_manages(app, world, timeline):
    """A supervisor sees every department and the unrouted queue; a department's
    responsible only theirs (Suporte's tickets not counted); an agent who manages nothing
    gets a 403 in Portuguese; another company's tickets are never counted; the wait alert
    names the ticket waiting past its department's target (the company's 15 min)."""
    with app.app_context():
        timeline.set(datetime(2026, 12, 1, 11, 20))
        late = _open(world.connection_id, world.vendas)  # waits 40 min by noon
        timeline.set(NOON)
        _open(world.connection_id, world.vendas)
        taken = _open(world.connection_id, world.vendas)
        tickets.accept(taken, _user(ANA))
        _open(world.connection_id, world.suporte)
        _open(world.connection_id, None)
        for _ in range(3):
            _open(world.other_connection_id, None)
        after_commit.commit()
        late_protocol = late.protocol
        db.session.remove()

    boss = client_as(app, ADMIN).get("/admin/dashboard.json")
    assert boss.status_code == 200 and boss.headers["Cache-Control"] == "no-store"
    data = boss.get_json()
    assert data["totals"] == {"waiting": 4, "in_progress": 1, "received_today": 5,
                              "closed_today": 0, "longest_wait_s": 40 * 60}
    by_id = {d["id"]: d for d in data["departments"]}
    assert set(by_id) == {world.vendas, world.suporte, None}
    assert (by_id[world.vendas]["waiting"], by_id[world.suporte]["waiting"], by_id[None]["waiting"]) == (2, 1, 1)
    assert [(a["protocol"], a["department"]) for a in data["alerts"]] == [(late_protocol, "Vendas")]
    assert data["by_hour"][8] == 1 and data["by_hour"][9] == 4  # São Paulo's hours
    assert sum(data["agents"].values()) == 4  # the admin works in the inbox too

    rita = client_as(app, RITA)
    mine = rita.get("/admin/dashboard.json").get_json()
    assert [d["id"] for d in mine["departments"]] == [world.vendas]
    assert mine["totals"]["waiting"] == 2 and mine["totals"]["received_today"] == 3
    assert {a["name"] for a in mine["departments"][0]["agents"]} == {"Rita Responsável", "Ana Vendas"}
    home = rita.get("/admin/").text
    rows = re.search(r'<tbody data-role="departments">(.*?)</tbody>', home, re.S).group(1)
    assert re.findall(r"<th scope=\"row\">([^<]*)</th>", rows) == ["Vendas"]
    assert 'data-key="waiting">2</dd>' in home

    ana = client_as(app, ANA)
    refused = ana.get("/admin/dashboard.json")
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "Você não gerencia nenhum departamento."}
    assert 'data-testid="dashboard"' not in ana.get("/admin/").text

    other = client_as(app, OTHER).get("/admin/dashboard.json").get_json()
    assert other["totals"]["waiting"] == 3 and other["alerts"] == []


def _changes(sc) -> list:
    return [e["args"][0] for e in sc.get_received() if e["name"] == "dashboard.changed"]


def test_PAU_4_dashboard_push_reaches_only_who_manages_and_once_per_transaction(
        app, world, socket_for):
    """A ticket created in Vendas tells Vendas's managers (Rita) and the supervisors,
    not Beto, an agent of Suporte, nor the other company; five tickets changed in one transaction (two
    departments, a transfer among them) are one push per socket, after the commit."""
    watch = {"auth": {"presence": False}}
    boss, rita, beto, other = (socket_for(e, **watch) for e in (ADMIN, RITA, BETO, OTHER))
    for sc in (boss, rita, beto, other):
        assert sc.is_connected()
        sc.get_received()

    with app.app_context():
        ticket = _open(world.connection_id, world.vendas)
        db.session.flush()
        assert _changes(boss) == []  # nothing before the commit
        after_commit.commit()
        ticket_id = ticket.id
        db.session.remove()
    assert _changes(boss) == [{"department_ids": [world.vendas]}]
    assert _changes(rita) == [{"department_ids": [world.vendas]}]
    assert _changes(beto) == [] and _changes(other) == []

    with app.app_context():
        for department in (world.vendas, world.vendas, world.suporte, world.suporte):
            _open(world.connection_id, department)
        tickets.transfer(db.session.get(Ticket, ticket_id), _user(ADMIN), department_id=world.suporte)
        after_commit.commit()
        db.session.remove()
    both = sorted([world.vendas, world.suporte])
    assert _changes(boss) == [{"department_ids": both}]
    assert _changes(rita) == [{"department_ids": [world.vendas]}]
    # Beto only works in Suporte: his inbox has no dashboard, so it is never told
    assert _changes(beto) == []
    assert _changes(other) == []

    with app.app_context():  # a rollback pushes nothing, and leaves nothing for later
        _open(world.connection_id, world.vendas)
        db.session.rollback()
        db.session.remove()
    assert _changes(boss) == []


def test_PAU_4_agent_numbers_of_the_day(app, world, timeline):
    """Ana's day, counted on São Paulo's clock: tickets of hers that arrived today (T1,
    T2; T5 arrived at 23:30 of the day before, local), those she closed today (T1, and
    T3 from yesterday), and the average first response of today's tickets: T1 5 min,
    T2 10 min -> 7 min 30 s. Beto's ticket is not hers."""
    from backoffice.reports import agent

    def step(at, action):
        timeline.set(at)
        result = action()
        after_commit.commit()
        return result

    with app.app_context():
        ana, beto = _user(ANA), _user(BETO)
        t5 = step(datetime(2026, 12, 1, 2, 30), lambda: _open(world.connection_id, world.vendas))
        step(datetime(2026, 12, 1, 2, 31), lambda: tickets.accept(t5, ana))
        step(datetime(2026, 12, 1, 2, 40), lambda: sending.queue(t5, ana, "Oi"))
        t3 = step(datetime(2026, 11, 30, 20, 0), lambda: _open(world.connection_id, world.vendas))
        step(datetime(2026, 11, 30, 20, 1), lambda: tickets.accept(t3, ana))
        step(datetime(2026, 11, 30, 20, 30), lambda: sending.queue(t3, ana, "Oi"))
        step(datetime(2026, 12, 1, 11, 10), lambda: tickets.close(t3, ana))
        t1 = step(datetime(2026, 12, 1, 11, 0), lambda: _open(world.connection_id, world.vendas))
        step(datetime(2026, 12, 1, 11, 2), lambda: tickets.accept(t1, ana))
        step(datetime(2026, 12, 1, 11, 5), lambda: sending.queue(t1, ana, "Oi"))
        step(datetime(2026, 12, 1, 11, 30), lambda: tickets.close(t1, ana))
        t2 = step(datetime(2026, 12, 1, 11, 40), lambda: _open(world.connection_id, world.vendas))
        step(datetime(2026, 12, 1, 11, 41), lambda: tickets.accept(t2, ana))
        step(datetime(2026, 12, 1, 11, 50), lambda: sending.queue(t2, ana, "Oi"))
        t4 = step(datetime(2026, 12, 1, 11, 45), lambda: _open(world.connection_id, world.suporte))
        step(datetime(2026, 12, 1, 11, 46), lambda: tickets.accept(t4, beto))
        step(datetime(2026, 12, 1, 11, 47), lambda: sending.queue(t4, beto, "Oi"))
        timeline.set(NOON)
        assert agent.today(_user(ANA)) == {"day": "2026-12-01", "tickets": 2, "closed": 2,
                                           "first_response_s": 450,
                                           "first_response_text": "7 min"}
        # the next local day (03:00 UTC is midnight in São Paulo): nothing yet
        assert agent.today(_user(ANA), now=datetime(2026, 12, 2, 3, 0))["tickets"] == 0
        assert agent.duration_text(59) == "59 s" and agent.duration_text(3900) == "1 h 05 min"
        db.session.remove()

    home = client_as(app, ANA).get("/admin/").text
    assert 'data-testid="agent-today"' in home and "7 min" in home
