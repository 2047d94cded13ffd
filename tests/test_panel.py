"""PNL-1: the TV panel, opened by a revocable read-only link.

- the "Painel TV" screen shows a new link once (then only its first characters), refuses
  another company's department, and is closed to an agent without the panel right;
- /tv/<key> and its data.json show the key's company (and departments) only, and no
  customer name, message text or protocol;
- the "/panel" socket hears a change of its own company only, once per transaction;
- revoking (only by the link's company) refuses the page and data.json and closes the
  connected panel at once.
"""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import AuditLog, Connection, Department, PanelKey, Ticket
from backoffice.reports.panel import REFUSED
from backoffice.services import tickets
from tests.conftest import client_as
from tests.factories import gen_agent_setup, gen_department, gen_panel_key

NAMESPACE = "/panel"


@pytest.fixture
def world(app, timeline):
    """Company A: Suporte (the setup's ticket, in progress, and one waiting) and Vendas
    (one waiting, from "Maria Sigilosa"); company B: one in progress, two waiting."""
    with app.app_context():
        a = gen_agent_setup(key="a", kind="webchat")
        b = gen_agent_setup(key="b", kind="webchat")
        vendas = gen_department(a.agent.company, "Vendas")
        db.session.flush()
        secret = tickets.open_ticket(
            tickets.contact_for(a.connection, "sigilo-1", "Maria Sigilosa"), a.connection, vendas)
        tickets.receive(secret, "mensagem confidencial do cliente")
        waiting = tickets.open_ticket(tickets.contact_for(a.connection, "c-2", "Outro Cliente"),
                                      a.connection, a.department)
        tickets.receive(waiting, "Oi")
        for i in range(2):
            other = tickets.open_ticket(tickets.contact_for(b.connection, f"b-{i}", "Cliente B"),
                                        b.connection, b.department)
            tickets.receive(other, "Oi")
        after_commit.commit()
        return {"a": a.company_id, "b": b.company_id, "suporte": a.department.id,
                "connection": a.connection.id,
                "vendas": vendas.id, "protocol": secret.protocol,
                "b_department": b.department.id}


def _link(html: str) -> str:
    found = re.search(r'value="(http[^"]*/tv/(tv_[A-Za-z0-9_\-]+))"', html)
    assert found, "the new link is shown"
    return found.group(2)


def test_PNL_1_link_shown_once_then_page_and_data_show_only_the_keys_departments(app, world):
    admin = client_as(app, "admin-a@example.com")
    created = admin.submit("/admin/panel_keys/new/", {"name": "TV da recepção"})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    raw = _link(created.text)
    listing = admin.get("/admin/panel_keys/")
    assert "TV da recepção" in listing.text and raw[:9] in listing.text and raw not in listing.text
    assert "Todos os departamentos" in listing.text and "Ativo" in listing.text
    limited = _link(admin.submit("/admin/panel_keys/new/", {
        "name": "TV de vendas", "department_ids": [str(world["vendas"])]}).text)
    # another company's department is refused, and no link is made
    forged = admin.submit("/admin/panel_keys/new/", {
        "name": "TV forjada", "department_ids": [str(world["b_department"])]})
    assert "não pertence à sua empresa" in forged.text
    with app.app_context():
        assert db.session.scalar(select(PanelKey).where(PanelKey.name == "TV forjada")) is None
        assert db.session.scalar(select(PanelKey.department_ids).where(
            PanelKey.name == "TV de vendas")) == [world["vendas"]]

    tv = app.test_client()  # the TV: no login
    page = tv.get(f"/tv/{raw}")
    assert page.status_code == 200 and "TV da recepção" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "/static/panel/tv.js" in page.text and "/static/vendor/socket.io.min.js" in page.text
    board = tv.get(f"/tv/{raw}/data.json")
    assert board.status_code == 200 and board.headers["Cache-Control"] == "no-store"
    data = board.get_json()
    by_name = {d["name"]: d for d in data["departments"]}
    assert set(by_name) == {"Suporte", "Vendas"}  # B's department never
    assert (by_name["Suporte"]["waiting"], by_name["Suporte"]["in_progress"]) == (1, 1)
    assert (by_name["Vendas"]["waiting"], by_name["Vendas"]["in_progress"]) == (1, 0)
    assert data["totals"]["waiting"] == 2 and data["totals"]["in_progress"] == 1
    assert data["totals"]["received_today"] == 3  # B's three tickets are not counted
    assert [a["name"] for a in by_name["Suporte"]["agents"]] == ["Agente a"]
    assert by_name["Suporte"]["agents"][0]["label"] in ("Offline", "Disponível", "Ausente")
    for text in (board.text, page.text):
        for secret in ("Maria Sigilosa", "mensagem confidencial", world["protocol"],
                       "Maria Cliente A", "Outro Cliente"):
            assert secret not in text, secret
    assert "protocol" not in board.text and "ticket_id" not in board.text

    only = tv.get(f"/tv/{limited}/data.json").get_json()
    assert [d["name"] for d in only["departments"]] == ["Vendas"]
    assert only["totals"]["waiting"] == 1 and only["totals"]["in_progress"] == 0
    with app.app_context():
        assert db.session.scalar(select(PanelKey.last_used_at).where(
            PanelKey.name == "TV da recepção")) is not None

    # an unknown key: the refusal a revoked one gets (test below), on page and JSON
    assert tv.get("/tv/tv_naoexiste").status_code == 404
    gone = tv.get("/tv/tv_naoexiste/data.json")
    assert gone.status_code == 404 and gone.get_json() == {"error": str(REFUSED)}

    # PLT-3: an agent (inbox only) has no panel right
    agent = client_as(app, "agente-a@example.com")
    assert agent.get("/admin/panel_keys/").status_code == 403
    assert agent.get("/admin/panel_keys/new/").status_code == 403


def _events(socket) -> list[str]:
    return [e["name"] for e in socket.get_received(NAMESPACE)]


def test_PNL_1_pushes_reach_the_companys_panels_and_revoking_closes_them_at_once(
        app, world, socket_for):
    with app.app_context():
        key_a, raw_a = gen_panel_key(world["a"], "TV A")
        _key_b, raw_b = gen_panel_key(world["b"], "TV B")
        db.session.commit()
        key_id = key_a.id
    panel_a = socket_for(namespace=NAMESPACE, auth={"key": raw_a})
    panel_b = socket_for(namespace=NAMESPACE, auth={"key": raw_b})
    assert panel_a.is_connected(NAMESPACE) and panel_b.is_connected(NAMESPACE)
    assert not socket_for(namespace=NAMESPACE, auth={"key": "tv_inventada"}).is_connected(NAMESPACE)
    assert not socket_for(namespace=NAMESPACE).is_connected(NAMESPACE)
    panel_a.get_received(NAMESPACE), panel_b.get_received(NAMESPACE)

    # a ticket arrives in A and is accepted, in one transaction: one push, to A only
    with app.app_context():
        department = db.session.get(Department, world["suporte"])
        connection = db.session.get(Connection, world["connection"])
        ticket = tickets.open_ticket(tickets.contact_for(connection, "novo", "Novo"), connection,
                                     department)
        tickets.receive(ticket, "Oi")
        after_commit.commit()
    assert _events(panel_a) == ["panel.changed"]
    assert _events(panel_b) == []

    # B's admin cannot revoke A's link, by the row's button or the bulk action
    admin_b = client_as(app, "admin-b@example.com")
    assert admin_b.submit("/admin/panel_keys/revoke/", {"id": str(key_id)}).status_code == 404
    admin_b.submit("/admin/panel_keys/action/", {"action": "revoke", "rowid": str(key_id)})
    with app.app_context():
        assert db.session.get(PanelKey, key_id).revoked_at is None
    assert panel_a.is_connected(NAMESPACE)

    admin_a = client_as(app, "admin-a@example.com")
    listing = admin_a.get("/admin/panel_keys/")
    assert 'data-testid="revoke-panel-key"' in listing.text
    done = admin_a.submit("/admin/panel_keys/revoke/", {"id": str(key_id)})
    assert done.status_code == 302
    # at once: the panel heard it and its socket is closed; B's is untouched
    assert not panel_a.is_connected(NAMESPACE)
    # (what a closed test client heard stays in its queue; get_received wants it open)
    assert [e["name"] for e in panel_a.queue if e["namespace"] == NAMESPACE] == ["panel.revoked"]
    assert panel_b.is_connected(NAMESPACE)
    tv = app.test_client()
    refused = tv.get(f"/tv/{raw_a}/data.json")
    assert refused.status_code == 404 and refused.get_json() == {"error": str(REFUSED)}
    page = tv.get(f"/tv/{raw_a}")
    assert page.status_code == 404 and str(REFUSED) in page.text
    assert not socket_for(namespace=NAMESPACE, auth={"key": raw_a}).is_connected(NAMESPACE)
    assert tv.get(f"/tv/{raw_b}/data.json").status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(AuditLog).where(
            AuditLog.table == "panel_key", AuditLog.row_id == str(key_id)))
        assert entry is not None and entry.action == "update"
    assert "Revogado" in admin_a.get("/admin/panel_keys/").text
    # a second revoke changes nothing and says so
    again = admin_a.submit("/admin/panel_keys/revoke/", {"id": str(key_id)}, follow_redirects=True)
    assert "Nenhum link ativo" in again.text
    assert json.loads(tv.get(f"/tv/{raw_b}/data.json").text)["totals"]["waiting"] == 2
    with app.app_context():
        assert db.session.scalar(select(Ticket.id).where(Ticket.company_id == world["b"])) is not None
