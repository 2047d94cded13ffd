"""RTM-1 / PLT-1 for the inbox: ticket and message events reach exactly the agents who
may see the ticket: its department's agents, its agent, supervisors; never another
department's agent nor another company's user; a ticket room is joined only after the
visibility check."""
from __future__ import annotations

import pytest

from backoffice.extensions import db
from backoffice.models import Department, DepartmentMember
from backoffice.services import sending, tickets
from backoffice.lib import after_commit
from tests.factories import gen_agent_setup, gen_group, gen_user


@pytest.fixture
def world(app):
    """Company S: departments Suporte (agent) and Vendas (seller), a supervisor; company
    T with its own agent and admin. One waiting ticket in Suporte."""
    with app.app_context():
        s = gen_agent_setup(key="s")
        company = s.department.company_id
        sales = Department(company_id=company, name="Vendas", order=2)
        db.session.add(sales)
        db.session.flush()
        from backoffice.models import Company

        comp = db.session.get(Company, company)
        agents = gen_group(comp, "Agentes Vendas", ["inbox.view"])
        seller = gen_user(comp, "vendedor@example.com", agents, name="Vendedor")
        sup_group = gen_group(comp, "Supervisores", ["inbox.view", "inbox.supervise"])
        gen_user(comp, "supervisora@example.com", sup_group, name="Supervisora")
        db.session.flush()
        db.session.add(DepartmentMember(company_id=company, department_id=sales.id,
                                        user_id=seller.id))
        gen_agent_setup(key="t")
        after_commit.commit()
        return {"agent_id": s.agent.id, "department_id": s.department.id,
                "connection_id": s.connection.id, "sales_id": sales.id,
                "ticket_id": s.ticket.id}


@pytest.fixture
def joined(socket_for):
    """A logged-in user's socket, connected, with its hello already read."""
    return lambda email: socket_for(email, drain=True)


def names(sc) -> list[str]:
    return [e["name"] for e in sc.get_received()]


def test_RTM_1_new_inbound_message_reaches_department_agent_and_supervisor_only(app, world, joined):
    agent = joined("agente-s@example.com")
    supervisor = joined("supervisora@example.com")
    seller = joined("vendedor@example.com")
    other_company_agent = joined("agente-t@example.com")
    other_company_admin = joined("admin-t@example.com")
    with app.app_context():
        from backoffice.models import Connection

        connection = db.session.get(Connection, world["connection_id"])
        contact = tickets.contact_for(connection, "cliente-novo", "João")
        ticket = tickets.open_ticket(contact, connection,
                                     db.session.get(Department, world["department_id"]))
        tickets.receive(ticket, "Quero ajuda")
        after_commit.commit()
        new_id = ticket.id
    got = agent.get_received()
    assert any(e["name"] == "ticket.updated" and e["args"][0]["id"] == new_id for e in got)
    assert "ticket.updated" in names(supervisor)
    assert names(seller) == []
    assert names(other_company_agent) == []
    assert names(other_company_admin) == []


def test_RTM_1_ticket_room_is_joined_only_by_who_may_see_the_ticket(app, world, joined):
    agent = joined("agente-s@example.com")
    seller = joined("vendedor@example.com")
    stranger = joined("agente-t@example.com")
    ticket_id = world["ticket_id"]
    assert agent.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": True}
    assert seller.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": False}
    assert stranger.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": False}
    assert stranger.emit("ticket.join", {"id": "1 or 1=1"}, callback=True) == {"ok": False}
    for sc in (agent, seller, stranger):
        sc.get_received()
    with app.app_context():
        from backoffice.models import Ticket

        ticket = db.session.get(Ticket, ticket_id)
        tickets.receive(ticket, "segunda mensagem")
        after_commit.commit()
    assert "message.created" in names(agent)
    assert names(seller) == []
    assert names(stranger) == []


def test_RTM_1_transfer_moves_the_ticket_between_department_rooms(app, world, joined):
    agent = joined("agente-s@example.com")
    assert agent.emit("ticket.join", {"id": world["ticket_id"]}, callback=True) == {"ok": True}
    seller = joined("vendedor@example.com")
    supervisor = joined("supervisora@example.com")
    with app.app_context():
        from backoffice.models import Ticket, User

        ticket = db.session.get(Ticket, world["ticket_id"])
        actor = db.session.get(User, world["agent_id"])
        tickets.transfer(ticket, actor, department_id=world["sales_id"])
        after_commit.commit()
    got_seller = seller.get_received()
    assert [e["name"] for e in got_seller] == ["ticket.updated"]
    assert got_seller[0]["args"][0]["department"]["name"] == "Vendas"
    assert got_seller[0]["args"][0]["status"] == "waiting"
    # the old department's agent is told to drop it, without the new details
    got_agent = agent.get_received()
    assert [e["name"] for e in got_agent] == ["ticket.removed"]
    assert got_agent[0]["args"][0] == {"id": world["ticket_id"]}
    assert "ticket.updated" in names(supervisor)
    # the conversation was open in the old agent's page: the server took the socket out
    # of its room, so the next messages do not reach it (even if the page ignored removal)
    with app.app_context():
        from backoffice.models import Ticket

        tickets.receive(db.session.get(Ticket, world["ticket_id"]), "para Vendas")
        after_commit.commit()
    assert names(agent) == []
    assert "ticket.updated" in names(seller)


def test_RTM_1_delivery_status_reaches_the_open_conversation_only(app, world, joined):
    agent = joined("agente-s@example.com")
    supervisor = joined("supervisora@example.com")
    other = joined("agente-t@example.com")
    assert agent.emit("ticket.join", {"id": world["ticket_id"]}, callback=True) == {"ok": True}
    agent.get_received()
    with app.app_context():
        from backoffice.models import Ticket, User

        ticket = db.session.get(Ticket, world["ticket_id"])
        sending.queue(ticket, db.session.get(User, world["agent_id"]), "resposta")
        after_commit.commit()  # eager mode: sent to an unreachable URL -> retries/failed
    got = names(agent)
    assert "message.created" in got and "message.status_changed" in got
    assert "message.created" not in names(supervisor)  # not in the room: list updates only
    assert names(other) == []


def test_RTM_1_agent_rooms_follow_departments_and_rights(app, world, joined):
    from backoffice.realtime import department_room, rooms_for, supervisors_room
    from backoffice.models import User

    with app.app_context():
        agent = db.session.get(User, world["agent_id"])
        sup = db.session.execute(db.select(User).where(User.email == "supervisora@example.com")).scalar_one()
        admin_t = db.session.execute(db.select(User).where(User.email == "admin-t@example.com")).scalar_one()
        assert department_room(world["department_id"]) in rooms_for(agent)
        assert department_room(world["sales_id"]) not in rooms_for(agent)
        assert supervisors_room(agent.company_id) not in rooms_for(agent)
        assert supervisors_room(sup.company_id) in rooms_for(sup)
        assert all(not r.endswith(f":{agent.company_id}") for r in rooms_for(admin_t)
                   if r.startswith(("company:", "supervise:", "unrouted:")))


def test_RTM_1_removed_from_the_department_the_open_socket_stops_getting_its_events(app, world, joined):
    """Access changes move the sockets at once: no reload needed to stop the events."""
    agent = joined("agente-s@example.com")
    assert agent.emit("ticket.join", {"id": world["ticket_id"]}, callback=True) == {"ok": True}
    agent.get_received()
    with app.app_context():
        from backoffice.models import Ticket

        member = db.session.execute(db.select(DepartmentMember).where(
            DepartmentMember.user_id == world["agent_id"])).scalar_one()
        db.session.delete(member)
        db.session.commit()  # an admin's edit: a plain commit, as Flask-Admin does
        # the ticket was accepted by this agent: still theirs, so still visible; hand it
        # back to the queue so nothing of it is theirs any more
        ticket = db.session.get(Ticket, world["ticket_id"])
        ticket.agent_id = None
        db.session.commit()
        tickets.receive(db.session.get(Ticket, world["ticket_id"]), "depois da saída")
        after_commit.commit()
    assert names(agent) == []

    with app.app_context():  # added to Vendas: Vendas' events arrive without reconnecting
        from backoffice.models import Connection

        db.session.add(DepartmentMember(company_id=db.session.get(Department, world["sales_id"]).company_id,
                                        department_id=world["sales_id"], user_id=world["agent_id"]))
        db.session.commit()
        connection = db.session.get(Connection, world["connection_id"])
        contact = tickets.contact_for(connection, "cliente-vendas", "Cliente de Vendas")
        ticket = tickets.open_ticket(contact, connection, db.session.get(Department, world["sales_id"]))
        tickets.receive(ticket, "quero comprar")
        after_commit.commit()
    assert "ticket.updated" in names(agent)


def test_RTM_1_losing_the_inbox_right_leaves_every_inbox_room(app, world, joined):
    from backoffice.models import PermissionGroup, User
    from backoffice.realtime import rooms_for

    agent = joined("agente-s@example.com")
    with app.app_context():
        user = db.session.get(User, world["agent_id"])
        group = db.session.get(PermissionGroup, user.group_id)
        group.rights = []
        db.session.commit()
        assert rooms_for(db.session.get(User, world["agent_id"])) == [
            f"company:{user.company_id}", f"user:{user.id}"]
        from backoffice.models import Connection

        connection = db.session.get(Connection, world["connection_id"])
        contact = tickets.contact_for(connection, "cliente-x", "Cliente X")
        ticket = tickets.open_ticket(contact, connection, db.session.get(Department, world["department_id"]))
        tickets.receive(ticket, "alguém aí?")
        after_commit.commit()
    assert names(agent) == []
