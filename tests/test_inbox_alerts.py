"""UX-1: what the inbox's alerts read and write on the server. The unread counts of the
Todos / Meus / Sem atendente views (GET /inbox/api/counts) count only open tickets the
user may see (never another department's, never another company's), follow the messages
as they arrive and are read; the alert sound preference (POST /inbox/api/me/preferences)
needs the CSRF token and changes only the logged-in user."""
from __future__ import annotations

import pytest

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Company, Connection, Department, DepartmentMember, Ticket, User
from backoffice.services import tickets
from tests.conftest import client_as, post
from tests.factories import gen_agent_setup, gen_group, gen_user


def _ticket(connection, department, address, name, messages=1):
    contact = tickets.contact_for(connection, address, name)
    ticket = tickets.open_ticket(contact, connection, department)
    for i in range(messages):
        tickets.receive(ticket, f"mensagem {i + 1} de {name}")
    return ticket


@pytest.fixture
def world(app):
    """Company S: Suporte (agente-s, colega) and Vendas (vendedor), a supervisor. In
    Suporte: one waiting with 1 unread, one of agente-s with 2 unread, one of the colleague
    with 1 unread, one read; one unrouted with 1 unread; in Vendas: one waiting with 1
    unread; a closed ticket with a stale unread counter. Company T: its own unread ticket."""
    with app.app_context():
        s = gen_agent_setup(key="s")  # its ticket: accepted by agente-s, read
        company = db.session.get(Company, s.company_id)
        agents = gen_group(company, "Agentes", ["inbox.view"])
        colleague = gen_user(company, "colega@example.com", agents, name="Colega")
        seller = gen_user(company, "vendedor@example.com", agents, name="Vendedor")
        gen_user(company, "supervisora@example.com",
                 gen_group(company, "Supervisores", ["inbox.view", "inbox.supervise"]))
        gen_user(company, "semcaixa@example.com", gen_group(company, "Sem caixa", ["company.view"]))
        sales = Department(company_id=company.id, name="Vendas", order=2)
        db.session.add(sales)
        db.session.flush()
        db.session.add_all([
            DepartmentMember(company_id=company.id, department_id=s.department.id, user_id=colleague.id),
            DepartmentMember(company_id=company.id, department_id=sales.id, user_id=seller.id)])
        connection = db.session.get(Connection, s.connection.id)
        waiting = _ticket(connection, s.department, "c1", "Na Fila")
        mine = _ticket(connection, s.department, "c2", "Do Agente")
        tickets.accept(mine, s.agent)
        tickets.receive(mine, "mais uma")
        tickets.receive(mine, "e outra")
        theirs = _ticket(connection, s.department, "c3", "Da Colega")
        tickets.accept(theirs, colleague)
        tickets.receive(theirs, "oi colega")
        unrouted = _ticket(connection, None, "c4", "Sem Departamento")
        hidden = _ticket(connection, sales, "c5", "Das Vendas")
        closed = _ticket(connection, s.department, "c6", "Encerrado")
        tickets.accept(closed, s.agent)
        tickets.close(closed, s.agent)
        closed.unread = 4
        t = gen_agent_setup(key="t")
        other = _ticket(db.session.get(Connection, t.connection.id),
                        db.session.get(Department, t.department.id), "x1", "De Outra Empresa")
        after_commit.commit()
        return {"agent_id": s.agent.id, "seller_id": seller.id, "waiting": waiting.id,
                "mine": mine.id, "theirs": theirs.id, "unrouted": unrouted.id,
                "hidden": hidden.id, "other": other.id}


def counts(client) -> dict:
    response = client.get("/inbox/api/counts")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_UX_1_counts_per_view_only_visible_open_tickets_with_unread(app, world):
    # agente-s: the Suporte queue and the unrouted one, their own, the colleague's; not
    # the Vendas ticket (another department), nor the closed one, nor company T's
    assert counts(client_as(app, "agente-s@example.com")) == {"all": 4, "mine": 1, "unassigned": 2}
    assert counts(client_as(app, "colega@example.com")) == {"all": 4, "mine": 1, "unassigned": 2}
    # the seller sees Vendas and the unrouted ticket only
    assert counts(client_as(app, "vendedor@example.com")) == {"all": 2, "mine": 0, "unassigned": 2}
    # a supervisor sees every department of the company, never another company
    assert counts(client_as(app, "supervisora@example.com")) == {"all": 5, "mine": 0, "unassigned": 3}
    assert counts(client_as(app, "agente-t@example.com")) == {"all": 1, "mine": 0, "unassigned": 1}
    assert counts(client_as(app, "admin-t@example.com")) == {"all": 1, "mine": 0, "unassigned": 1}


def test_UX_1_counts_follow_new_messages_and_reading(app, world):
    client = client_as(app, "agente-s@example.com")
    before = counts(client)
    with app.app_context():
        # a new message in the agent's read ticket; one in Vendas, which they cannot see
        read_ticket = db.session.get(Ticket, world["mine"])
        tickets.receive(read_ticket, "ainda aqui?")
        tickets.receive(db.session.get(Ticket, world["hidden"]), "alô vendas")
        after_commit.commit()
    assert counts(client) == before  # "mine" already had unread messages
    assert post(client, f"/inbox/api/tickets/{world['mine']}/read", json={}).status_code == 200
    assert counts(client) == {"all": 3, "mine": 0, "unassigned": 2}
    assert post(client, f"/inbox/api/tickets/{world['waiting']}/read", json={}).status_code == 200
    assert counts(client) == {"all": 2, "mine": 0, "unassigned": 1}
    # another user's reading is theirs: the seller's counts did not move with the agent's
    assert counts(client_as(app, "vendedor@example.com")) == {"all": 2, "mine": 0, "unassigned": 2}


def test_UX_1_counts_refused_without_the_inbox(app, world):
    assert app.test_client().get("/inbox/api/counts").status_code == 401
    assert client_as(app, "semcaixa@example.com").get("/inbox/api/counts").status_code == 403


def _sound(app, user_id) -> bool:
    with app.app_context():
        value = db.session.get(User, user_id).sound_enabled
        db.session.remove()
    return value


def test_UX_1_sound_preference_is_the_users_own_and_needs_csrf(app, world):
    client = client_as(app, "agente-s@example.com")
    assert _sound(app, world["agent_id"]) is True
    # a forged request (no token) changes nothing
    response = post(client, "/inbox/api/me/preferences", json={"sound": False}, csrf=False)
    assert response.status_code == 400
    assert _sound(app, world["agent_id"]) is True
    # a user id in the body is ignored: only the logged-in user's preference changes
    response = post(client, "/inbox/api/me/preferences",
                    json={"sound": False, "user_id": world["seller_id"], "id": world["seller_id"]})
    assert response.status_code == 200 and response.get_json() == {"sound": False}
    assert _sound(app, world["agent_id"]) is False
    assert _sound(app, world["seller_id"]) is True
    # the inbox's bell shows the saved state after a reload
    html = client.get("/inbox/").get_data(as_text=True)
    assert 'id="btn-sound"' in html and 'aria-pressed="false"' in html.split('id="btn-sound"')[1][:200]
    assert post(client, "/inbox/api/me/preferences", json={"sound": True}).get_json() == {"sound": True}
    assert _sound(app, world["agent_id"]) is True


def test_UX_1_sound_preference_refuses_bad_input_in_portuguese(app, world):
    client = client_as(app, "agente-s@example.com")
    missing = post(client, "/inbox/api/me/preferences", json={})
    assert missing.status_code == 400
    assert missing.get_json()["error"] == "Informe se o som dos alertas fica ligado (sound)."
    wrong = post(client, "/inbox/api/me/preferences", json={"sound": "talvez"})
    assert wrong.status_code == 400
    assert wrong.get_json()["error"] == "Valor inválido: use verdadeiro ou falso."
    assert _sound(app, world["agent_id"]) is True
    assert post(app.test_client(), "/inbox/api/me/preferences", json={"sound": False}).status_code == 401
    no_inbox = client_as(app, "semcaixa@example.com")
    assert post(no_inbox, "/inbox/api/me/preferences", json={"sound": False}).status_code == 403


def test_UX_1_admin_menu_link_carries_the_badge_hook(app, world):
    """The "Atendimento" menu item is found by its class by static/inbox/menu_badge.js."""
    html = client_as(app, "admin-s@example.com").get("/admin/").get_data(as_text=True)
    assert "atende-inbox-link" in html and "inbox/menu_badge.js" in html
