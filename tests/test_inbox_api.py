"""The agents' inbox: the page /inbox/ and its JSON API /inbox/api/ (deliverable 4).

Requirements: TKT-1..3 (tickets, statuses, accept/transfer/close/reopen), FLT-1 (filters),
BLK-1 (selection mode), MSG-1..5 (messages, quick replies, tags and search, channel on
every message, customer text as data), DEP-2/DEP-6 (department rules and action
messages), AUT-6 (farewell messages), PLT-1 (isolation), RTM-1 (socket events).
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backoffice.extensions import db, socketio
from backoffice.models import (
    DepartmentMember, Message, MessageTemplate, PermissionGroup, Tag, Ticket, User,
)
from backoffice.services import templates as template_rules
from tests.conftest import client_as, post, sql_statements
from tests.factories import (
    PDF, PNG, gen_company, gen_connection, gen_department, gen_farewell, gen_group, gen_incoming,
    gen_reason, gen_tag, gen_ticket, gen_tickets, gen_user,
)

ROOT = Path(__file__).resolve().parent.parent
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class World:
    company_id: int
    b_company_id: int
    admin: str          # the company admin: every right, inbox.supervise included
    ana: str            # agent of Vendas
    bruno: str          # agent of Suporte
    carla: str          # supervisor (inbox.view + inbox.supervise), no department
    nina: str           # company user without inbox.view
    b_admin: str        # admin of the other company
    ids: dict


def _group(company_id: int, name: str) -> PermissionGroup:
    return db.session.scalar(select(PermissionGroup).where(
        PermissionGroup.company_id == company_id, PermissionGroup.name == name))


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        company, admin = gen_company("Gama Óptica", "admin-g@example.com")
        db.session.flush()
        agents = _group(company.id, "Atendente")
        ana = gen_user(company, "ana@example.com", agents, name="Ana Atendente")
        bruno = gen_user(company, "bruno@example.com", agents, name="Bruno Suporte")
        sup = gen_group(company, "Supervisão", ["inbox.view", "inbox.supervise"])
        carla = gen_user(company, "carla@example.com", sup, name="Carla Supervisora")
        other = gen_group(company, "Financeiro", ["company.view"])
        nina = gen_user(company, "nina@example.com", other, name="Nina Financeiro")
        db.session.flush()
        sales = gen_department(company, "Vendas", members=[(ana, True, False)],
                               on_start_enabled=True, on_transfer_enabled=True,
                               on_close_enabled=True)
        support = gen_department(company, "Suporte", members=[(bruno, True, False)],
                                 observation_required_on_transfer=True,
                                 reason_required_to_close=True)
        inactive = gen_department(company, "Arquivo", active=False)
        closed_door = gen_department(company, "Diretoria", receives_tickets=False)
        web = gen_connection(company, "Site", kind="webchat")
        api_conn = gen_connection(company, "Loja API", kind="http_api",
                                  endpoint_url="http://127.0.0.1:9/")
        db.session.flush()
        reason = gen_reason(company, "Dúvida resolvida")
        support_reason = gen_reason(company, "Defeito", departments=[support])
        farewell = gen_farewell(company, "Obrigado", "Obrigado pelo contato, {{nome_cliente}}!")
        tag = gen_tag(company, "VIP", color="#aa0000")
        personal = gen_tag(company, "Só da Ana", color="#00aa00", owner=ana)

        b_company, b_admin = gen_company("Delta Serviços", "admin-d@example.com")
        b_conn = gen_connection(b_company, "Site Delta")
        b_dept = gen_department(b_company, "Geral")
        db.session.flush()
        b_ticket = gen_ticket(b_conn, department=b_dept, text="Segredo da Delta")
        b_tag = gen_tag(b_company, "Delta", color="#0000aa")
        db.session.commit()
        return World(
            company_id=company.id, b_company_id=b_company.id, admin=admin.email, ana=ana.email,
            bruno=bruno.email, carla=carla.email, nina=nina.email, b_admin=b_admin.email,
            ids={"ana": ana.id, "bruno": bruno.id, "carla": carla.id, "admin": admin.id,
                 "sales": sales.id, "support": support.id, "inactive": inactive.id,
                 "closed_door": closed_door.id, "web": web.id, "api": api_conn.id,
                 "reason": reason.id, "support_reason": support_reason.id,
                 "farewell": farewell.id, "tag": tag.id, "personal": personal.id,
                 "b_ticket": b_ticket.id, "b_tag": b_tag.id, "b_dept": b_dept.id},
        )


def make_ticket(app, world, department="sales", connection="web", **kwargs) -> int:
    from backoffice.models import Connection, Department

    with app.app_context():
        conn = db.session.get(Connection, world.ids[connection])
        dept = db.session.get(Department, world.ids[department]) if department else None
        agent = kwargs.pop("agent", None)
        if agent is not None:
            kwargs["agent"] = db.session.get(User, world.ids[agent])
        tags = kwargs.pop("tag_names", ())
        if tags:
            kwargs["tags"] = list(db.session.scalars(select(Tag).where(Tag.name.in_(tags))))
        ticket = gen_ticket(conn, department=dept, **kwargs)
        db.session.commit()
        return ticket.id


def count_messages(app, ticket_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Message)
                                 .where(Message.ticket_id == ticket_id))


def messages_of(app, ticket_id) -> list[Message]:
    with app.app_context():
        rows = list(db.session.scalars(select(Message).where(Message.ticket_id == ticket_id)
                                       .order_by(Message.id)))
        for m in rows:
            db.session.expunge(m)
        return rows


def ticket_row(app, ticket_id) -> Ticket:
    with app.app_context():
        t = db.session.get(Ticket, ticket_id)
        db.session.expunge(t)
        return t


def listed(client, **params) -> list[int]:
    r = client.get("/inbox/api/tickets", query_string=params)
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json["tickets"]]


# --- access -------------------------------------------------------------------------------


def test_TKT_1_page_renders_in_portuguese_with_its_scripts(app, world):
    client = client_as(app, world.ana)
    page = client.get("/inbox/")
    assert page.status_code == 200
    html = page.text
    for text in ("Atendimento", "Todos", "Meus", "Sem atendente", "Mais recentes", "Mais antigas",
                 "Todas em aberto", "Aguardando resposta", "Falha no envio", "Finalizadas",
                 "Automações", "Seleção", "Buscar nas conversas", "Aceitar", "Transferir",
                 "Finalizar", "Reabrir", "Carregar anteriores"):
        assert text in html, text
    assert "vendor/socket.io.min.js" in html and "inbox/inbox.js" in html
    assert "bootstrap4/css/bootstrap.min.css" in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    for element_id in ("inbox-alert", "filter-view-all", "filter-view-mine",
                       "filter-view-unassigned", "filter-status", "btn-accept", "btn-transfer",
                       "btn-close", "btn-reopen", "composer-text", "btn-send", "composer-file"):
        assert f'id="{element_id}"' in html, element_id
    assert client.get("/static/inbox/inbox.js").status_code == 200
    assert client.get("/static/vendor/socket.io.min.js").status_code == 200


def test_TKT_1_page_and_api_refuse_anonymous_and_users_without_inbox(app, world):
    anon = app.test_client()
    page = anon.get("/inbox/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    r = anon.get("/inbox/api/meta")
    assert r.status_code == 401 and "login" in r.json["error"]
    r = anon.post("/inbox/api/bulk", json={"action": "close", "ids": [1]},
                  headers={"X-CSRFToken": anon.csrf_token()})
    assert r.status_code == 401 and r.is_json

    nina = client_as(app, world.nina)
    assert nina.get("/inbox/").status_code == 403
    r = nina.get("/inbox/api/tickets")
    assert r.status_code == 403 and "permissão" in r.json["error"]


def test_TKT_1_every_api_route_answers_json_401_and_403(app, world):
    """Every /inbox/api route, whatever its method: 401 anonymous, 403 without inbox.view."""
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/inbox/api/")]
    assert len(rules) >= 15
    anon, nina = app.test_client(), client_as(app, world.nina)
    for rule in rules:
        url = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            for client, code in ((anon, 401), (nina, 403)):
                r = client.open(url, method=method, json={},
                                headers={"X-CSRFToken": client.csrf_token()})
                assert r.status_code == code, (method, url, r.status_code)
                assert r.is_json and r.json["error"], (method, url)


def test_PLT_1_superuser_cannot_use_the_inbox(app, world):
    with app.app_context():
        root = User(email="root@example.com", name="Root", is_superuser=True, active=True)
        root.set_password("senha-segura-1")
        db.session.add(root)
        db.session.commit()
    client = client_as(app, "root@example.com")
    assert client.get("/inbox/").status_code == 403
    assert client.get("/inbox/api/meta").status_code == 403


def test_TKT_1_admin_menu_has_atendimento_first_for_inbox_users_only(app, world):
    html = client_as(app, world.admin).get("/admin/").text
    assert 'href="/inbox/"' in html
    links = [u for u in re.findall(r'class="nav-link[^"]*" href="([^"]+)"', html) if u != "/admin/"]
    assert links and links[0] == "/inbox/", links  # first, right after Início
    nina = client_as(app, world.nina).get("/admin/", follow_redirects=True)
    assert 'href="/inbox/"' not in nina.text


def test_PLT_1_tickets_of_another_company_or_department_are_404_everywhere(app, world):
    """Every ticket route with a ticket the user may not see: 404 JSON, nothing changed."""
    support_ticket = make_ticket(app, world, department="support")
    b_ticket = world.ids["b_ticket"]
    ana = client_as(app, world.ana)
    b_admin = client_as(app, world.b_admin)
    for client, tid in ((ana, support_ticket), (b_admin, support_ticket), (ana, b_ticket)):
        for url in (f"/inbox/api/tickets/{tid}", f"/inbox/api/tickets/{tid}/messages",
                    f"/inbox/api/tickets/{tid}/search?q=Ol"):
            r = client.get(url)
            assert r.status_code == 404 and r.json["error"] == "Atendimento não encontrado.", url
        for action, body in (("accept", {}), ("transfer", {"department_id": world.ids["sales"]}),
                             ("close", {}), ("reopen", {}), ("favourite", {"value": True}),
                             ("tags", {"tag_ids": []}), ("messages", {"text": "oi"}),
                             ("read", {})):
            r = post(client, f"/inbox/api/tickets/{tid}/{action}", json=body)
            assert r.status_code == 404, (action, r.status_code, r.text)
        assert tid not in listed(client, status="any")
    row = ticket_row(app, support_ticket)
    assert row.status == "waiting" and row.agent_id is None and not row.favourite
    assert count_messages(app, support_ticket) == 1
    message_id = messages_of(app, b_ticket)[0].id
    for url in (f"/inbox/api/messages/{message_id}/retry", f"/inbox/api/messages/{message_id}/tags"):
        assert post(ana, url, json={"tag_ids": []}).status_code == 404


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "99999999999999999999999", "1e3", "%20"])
def test_PLT_1_malformed_ids_are_404_json_never_500(app, world, bad):
    ana = client_as(app, world.ana)
    for url in (f"/inbox/api/tickets/{bad}", f"/inbox/api/tickets/{bad}/messages"):
        r = ana.get(url)
        assert r.status_code == 404 and r.is_json, url
    for url in (f"/inbox/api/tickets/{bad}/accept", f"/inbox/api/messages/{bad}/retry",
                f"/inbox/api/messages/{bad}/tags"):
        r = post(ana, url, json={})
        assert r.status_code == 404 and r.is_json, url
    assert ana.get(f"/inbox/attachments/{bad}").status_code == 404


def test_PLT_1_malformed_bodies_and_params_are_400_in_portuguese(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    headers = {"X-CSRFToken": ana.csrf_token(), "Content-Type": "application/json"}
    cases = [
        ("transfer", b"{not json"),
        ("transfer", b"[1, 2]"),
        ("transfer", b'{"department_id": [1]}'),
        ("transfer", b'{"department_id": {"a": 1}}'),
        ("transfer", b'{"department_id": 99999999999999999999999}'),
        ("transfer", b'{"agent_id": "x"}'),
        ("transfer", b'{"department_id": true}'),
        ("transfer", b'{"observation": ["x"], "department_id": 1}'),
        ("close", b'{"reason_id": "abc"}'),
        ("close", b'{"farewell_id": -4}'),
        ("close", b'{"note": {"x": 1}}'),
        ("favourite", b'{"value": "talvez"}'),
        ("favourite", b'{}'),
        ("tags", b'{"tag_ids": "x"}'),
        ("tags", b'{"tag_ids": [99999999999999999999999]}'),
        ("messages", b'{"text": 5}'),
        ("messages", b'{"text": "oi", "template_id": "x"}'),
        ("messages", b'{"text": "oi", "tags": [{"id": 1}]}'),
    ]
    for action, body in cases:
        r = ana.post(f"/inbox/api/tickets/{tid}/{action}", data=body, headers=headers)
        assert r.status_code == 400, (action, body, r.status_code, r.text)
        assert r.is_json and r.json["error"], (action, body)
    for body in (b'{"action": "close", "ids": "1"}', b'{"action": "explode", "ids": [1]}',
                 b'{"action": "close", "ids": []}', b'{"action": "close", "ids": [["1"]]}',
                 b'{"action": "close"}', b'"close"'):
        r = ana.post("/inbox/api/bulk", data=body, headers=headers)
        assert r.status_code == 400 and r.json["error"], body
    for params in ({"cursor": "nada"}, {"cursor": "2025-01-01T00:00:00_99999999999999999999999"},
                   {"cursor": "9999-99-99T00:00:00_1"}):
        r = ana.get("/inbox/api/tickets", query_string=params)
        assert r.status_code == 400 and r.json["error"] == "Parâmetro cursor inválido.", params
    assert ana.get(f"/inbox/api/tickets/{tid}/messages?before=abc").status_code == 400
    assert ana.get(f"/inbox/api/tickets/{tid}/messages?before=99999999999999999999999").status_code == 400
    assert ana.get(f"/inbox/api/tickets/{tid}/messages?limit=x").status_code == 400
    # unknown filter values fall back to the defaults (FLT-1 from_args is forgiving)
    assert ana.get("/inbox/api/tickets?view=x&status=y&order=z&connection=a&limit=b").status_code == 200
    row = ticket_row(app, tid)
    assert row.status == "open" and row.department_id == world.ids["sales"] and not row.favourite
    assert count_messages(app, tid) == 1


def test_PLT_1_nul_characters_never_reach_the_database(app, world):
    """PostgreSQL text cannot hold NUL: typed or forged, it is dropped, never a 500."""
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    for url in ("/inbox/api/tickets?q=a%00b&text=x%00y", f"/inbox/api/tickets/{tid}/search?q=%00",
                "/inbox/api/quick-replies?q=/b%00o"):
        assert ana.get(url).status_code == 200, url
    r = post(ana, f"/inbox/api/tickets/{tid}/messages", data={"text": "o\x00i"})
    assert r.status_code == 201 and r.json["message"]["text"] == "oi"
    r = post(ana, f"/inbox/api/tickets/{tid}/close", json={"note": "fim\x00"})
    assert r.status_code == 200 and ticket_row(app, tid).close_note == "fim"


def test_PLT_2_posts_without_csrf_token_are_refused_as_json(app, world):
    tid = make_ticket(app, world)
    ana = client_as(app, world.ana)
    r = ana.post(f"/inbox/api/tickets/{tid}/accept", json={})
    assert r.status_code == 400 and "expirou" in r.json["error"]
    assert ticket_row(app, tid).agent_id is None


# --- meta -------------------------------------------------------------------------------------


def test_DEP_2_meta_lists_what_the_page_offers(app, world):
    ana = client_as(app, world.ana).get("/inbox/api/meta").json
    me = ana["user"]
    assert me["avatar"] == {"url": None, "initials": "AA", "color": me["avatar"]["color"]}  # UX-5
    assert {k: v for k, v in me.items() if k != "avatar"} == {
        "id": world.ids["ana"], "name": "Ana Atendente", "supervises": False}
    assert ana["timezone"] == "America/Sao_Paulo"
    assert {c["name"] for c in ana["connections"]} == {"Site", "Loja API"}
    assert {c["kind_label"] for c in ana["connections"]} == {"Webchat (site)", "API HTTP genérica"}
    assert [d["name"] for d in ana["departments"]] == ["Vendas"]  # only her own
    # transfer targets: active receiving departments in order (DEP-1/DEP-2)
    assert [d["name"] for d in ana["transfer_departments"]] == ["Vendas", "Suporte"]
    agents = {a["name"]: a for a in ana["agents"]}
    assert "Nina Financeiro" not in agents  # no inbox.view
    assert agents["Ana Atendente"]["department_ids"] == [world.ids["sales"]]
    assert agents["Carla Supervisora"]["supervises"] is True
    assert {t["name"] for t in ana["tags"]} == {"VIP", "Só da Ana"}
    assert [f["title"] for f in ana["farewells"]] == ["Obrigado"]
    assert ana["statuses"]["ticket"]["waiting"] == "Sem atendente"
    assert ana["statuses"]["message"]["failed"] == "Falha no envio"

    carla = client_as(app, world.carla).get("/inbox/api/meta").json
    assert carla["user"]["supervises"] is True
    assert {d["name"] for d in carla["departments"]} == {"Vendas", "Suporte", "Arquivo", "Diretoria"}
    assert {t["name"] for t in carla["tags"]} == {"VIP"}  # not Ana's personal tag
    b = client_as(app, world.b_admin).get("/inbox/api/meta").json
    assert {c["name"] for c in b["connections"]} == {"Site Delta"}
    assert {t["name"] for t in b["tags"]} == {"Delta"}


# --- the list (FLT-1) ------------------------------------------------------------------------------


def test_FLT_1_each_filter_returns_exactly_the_right_tickets(app, world):
    t = {}
    t["waiting"] = make_ticket(app, world, contact_name="Wagner Espera")
    t["mine"] = make_ticket(app, world, agent="ana", contact_name="Mariana Minha",
                            tag_names=["VIP"], favourite=True)
    t["pending"] = make_ticket(app, world, agent="ana", status="pending", contact_name="Paula Pendente")
    t["closed"] = make_ticket(app, world, agent="ana", status="closed", contact_name="Clara Fechada")
    t["failed"] = make_ticket(app, world, agent="carla", has_failed=True, contact_name="Fábio Falha")
    t["bot"] = make_ticket(app, world, automated=True, connection="api", contact_name="Bóris Robô",
                           text="quero saber do boleto")
    t["nodept"] = make_ticket(app, world, department=None, contact_name="Nádia Sem Setor")
    t["support"] = make_ticket(app, world, department="support", contact_name="Sérgio Suporte")
    t["support_mine"] = make_ticket(app, world, department="support", agent="ana",
                                    contact_name="Sônia Minha")
    ana, carla = client_as(app, world.ana), client_as(app, world.carla)
    everything_open = {t[k] for k in ("waiting", "mine", "pending", "failed", "bot", "nodept",
                                      "support_mine")}

    assert set(listed(ana)) == everything_open  # default: all, open statuses
    assert set(listed(ana, view="mine")) == {t["mine"], t["pending"], t["support_mine"]}
    assert set(listed(ana, view="unassigned")) == {t["waiting"], t["bot"], t["nodept"]}
    assert set(listed(ana, status="pending")) == {t["pending"]}
    assert set(listed(ana, status="closed")) == {t["closed"]}
    assert set(listed(ana, status="failed")) == {t["failed"]}
    assert set(listed(ana, status="automation")) == {t["bot"]}
    assert set(listed(ana, connection=world.ids["api"])) == {t["bot"]}
    assert set(listed(ana, department=world.ids["sales"])) == {
        t[k] for k in ("waiting", "mine", "pending", "failed", "bot")}
    assert set(listed(ana, tag=world.ids["tag"])) == {t["mine"]}
    assert set(listed(ana, favourite="1")) == {t["mine"]}
    assert set(listed(ana, q="pendente")) == {t["pending"]}
    protocol = ticket_row(app, t["nodept"]).protocol
    assert set(listed(ana, q=protocol)) == {t["nodept"]}
    assert set(listed(ana, text="boleto")) == {t["bot"]}  # MSG-3 across conversations
    assert set(listed(ana, view="mine", status="any")) == {t["mine"], t["pending"], t["closed"],
                                                           t["support_mine"]}
    # the other department's queue is not Ana's, even asked for by id
    assert listed(ana, department=world.ids["support"]) == [t["support_mine"]]
    # a supervisor sees every department
    assert set(listed(carla)) == everything_open | {t["support"]}
    assert set(listed(carla, department=world.ids["support"])) == {t["support"], t["support_mine"]}
    # another company sees none of them
    assert set(listed(client_as(app, world.b_admin), status="any")) == {world.ids["b_ticket"]}


@pytest.mark.parametrize("order", ["newest", "oldest"])
def test_FLT_1_keyset_pagination_has_no_duplicates_or_gaps(app, world, order):
    from backoffice.models import Connection, Department

    with app.app_context():
        conn = db.session.get(Connection, world.ids["web"])
        dept = db.session.get(Department, world.ids["sales"])
        start = datetime(2025, 3, 1, 9, 0, 0)
        made = gen_tickets(conn, 100, start=start, department=dept)
        # 20 more sharing one instant: the id breaks the tie
        made += [gen_ticket(conn, department=dept, last_activity_at=start + timedelta(hours=5))
                 for _ in range(20)]
        db.session.commit()
        expected = [t.id for t in sorted(made, key=lambda t: (t.last_activity_at, t.id))]
    if order == "newest":
        expected.reverse()
    ana = client_as(app, world.ana)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"order": order, "limit": 50}
        if cursor:
            params["cursor"] = cursor
        r = ana.get("/inbox/api/tickets", query_string=params)
        assert r.status_code == 200
        seen += [t["id"] for t in r.json["tickets"]]
        cursor = r.json["next_cursor"]
        pages += 1
        if not cursor:
            break
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == 120


# --- the conversation ------------------------------------------------------------------------------


def test_MSG_1_conversation_pages_older_messages_and_marks_read(app, world):
    from backoffice.models import Ticket as T

    tid = make_ticket(app, world, agent="ana", text="mensagem 0")
    with app.app_context():
        ticket = db.session.get(T, tid)
        for i in range(1, 60):
            gen_incoming(ticket, f"mensagem {i}")
        db.session.commit()
    assert ticket_row(app, tid).unread == 60
    # a supervisor looking at Ana's ticket leaves her badge alone
    carla = client_as(app, world.carla)
    assert carla.get(f"/inbox/api/tickets/{tid}").status_code == 200
    assert post(carla, f"/inbox/api/tickets/{tid}/read").status_code == 200
    assert ticket_row(app, tid).unread == 60

    ana = client_as(app, world.ana)
    data = ana.get(f"/inbox/api/tickets/{tid}").json
    # SEC-8: the GET reads nothing; the page then marks it read with a POST
    assert ticket_row(app, tid).unread == 60 and data["ticket"]["unread"] == 60
    assert post(ana, f"/inbox/api/tickets/{tid}/read").json["ticket"]["unread"] == 0
    assert ticket_row(app, tid).unread == 0
    assert len(data["messages"]) == 50 and data["has_more"] is True
    assert data["messages"][-1]["text"] == "mensagem 59"  # oldest -> newest
    assert data["ticket"]["contact"]["other_tickets"] == 0
    assert data["can_act"] is True and data["reply_block"] is None
    first = data["messages"][0]["id"]
    older = ana.get(f"/inbox/api/tickets/{tid}/messages?before={first}").json
    assert [m["text"] for m in older["messages"]] == [f"mensagem {i}" for i in range(10)]
    assert older["has_more"] is False


def test_MSG_4_every_message_carries_its_channel_and_time(app, world):
    tid = make_ticket(app, world, connection="api", agent="ana", text="pelo canal API")
    m = client_as(app, world.ana).get(f"/inbox/api/tickets/{tid}").json["messages"][0]
    assert m["channel"] == {"kind": "http_api", "label": "API HTTP genérica", "name": "Loja API"}
    assert m["created_at"].endswith("Z")
    assert m["status"] == "delivered" and m["direction"] == "in"


def test_MSG_5_customer_html_is_returned_as_plain_data(app, world):
    tid = make_ticket(app, world, text=XSS, contact_name=XSS)
    ana = client_as(app, world.ana)
    row = ana.get("/inbox/api/tickets").json["tickets"][0]
    assert row["preview"] == XSS and row["contact"]["name"] == XSS
    detail = ana.get(f"/inbox/api/tickets/{tid}").json
    assert detail["messages"][0]["text"] == XSS
    assert detail["ticket"]["contact"]["name"] == XSS
    # the page never puts text into the DOM as HTML (the browser test checks the rendering)
    js = (ROOT / "backoffice" / "static" / "inbox" / "inbox.js").read_text(encoding="utf-8")
    assert "innerHTML" not in js.replace("never assigns innerHTML", "")
    assert "outerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
    page = ana.get("/inbox/").text
    assert XSS not in page


# --- TKT-3: accept, transfer, close, reopen ---------------------------------------------------------


def test_TKT_3_accept_takes_the_ticket_and_queues_the_DEP_6_start_message(app, world):
    tid = make_ticket(app, world)
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/accept")
    assert r.status_code == 200, r.text
    assert r.json["ticket"]["status"] == "open"
    assert r.json["ticket"]["agent"]["name"] == "Ana Atendente"
    system = [m for m in messages_of(app, tid) if m.author_kind == "system"]
    assert len(system) == 1 and "Ana Atendente" in system[0].text
    assert system[0].direction == "out" and system[0].status in ("queued", "sent")
    # somebody else cannot take it any more
    carla = client_as(app, world.carla)
    r = post(carla, f"/inbox/api/tickets/{tid}/accept")
    assert r.status_code == 400 and "já foi aceito por Ana Atendente" in r.json["error"]
    r = post(ana, f"/inbox/api/tickets/{tid}/accept")
    assert r.status_code == 400 and r.json["error"] == "Você já está neste atendimento."


def test_TKT_3_DEP_2_transfer_rules(app, world):
    support_tid = make_ticket(app, world, department="support", agent="bruno")
    bruno = client_as(app, world.bruno)
    url = f"/inbox/api/tickets/{support_tid}/transfer"
    # Suporte requires an observation (DEP-2)
    r = post(bruno, url, json={"department_id": world.ids["sales"]})
    assert r.status_code == 400 and "exige uma observação" in r.json["error"]
    # inactive / not receiving / another company's department
    for dept, words in ((world.ids["inactive"], "inativo"),
                        (world.ids["closed_door"], "não recebe atendimentos"),
                        (world.ids["b_dept"], "não encontrado")):
        r = post(bruno, url, json={"department_id": dept, "observation": "x"})
        assert r.status_code == 400 and words in r.json["error"], dept
    r = post(bruno, url, json={})
    assert r.status_code == 400 and "Escolha o departamento ou o atendente" in r.json["error"]
    # an agent outside the target department
    r = post(bruno, url, json={"department_id": world.ids["sales"], "agent_id": world.ids["bruno"],
                               "observation": "x"})
    assert r.status_code == 400 and "não faz parte do departamento Vendas" in r.json["error"]
    assert ticket_row(app, support_tid).department_id == world.ids["support"]
    assert count_messages(app, support_tid) == 1
    # a valid transfer, as a form post this time
    r = post(bruno, url, data={"department_id": str(world.ids["sales"]),
                               "observation": "Cliente quer comprar"})
    assert r.status_code == 200, r.text
    assert r.json == {"ticket": None, "visible": False}  # Bruno no longer sees it
    row = ticket_row(app, support_tid)
    assert (row.department_id, row.agent_id, row.status) == (world.ids["sales"], None, "waiting")
    assert bruno.get(f"/inbox/api/tickets/{support_tid}").status_code == 404
    detail = client_as(app, world.ana).get(f"/inbox/api/tickets/{support_tid}").json
    transferred = [e for e in detail["events"] if e["kind"] == "transferred"][0]
    assert transferred["observation"] == "Cliente quer comprar"
    assert (transferred["from_department"], transferred["to_department"]) == ("Suporte", "Vendas")
    assert transferred["user"] == "Bruno Suporte"


def test_TKT_3_DEP_6_transfer_to_an_agent_queues_the_transfer_message(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/transfer",
             json={"department_id": world.ids["support"], "agent_id": world.ids["bruno"]})
    assert r.status_code == 200, r.text
    row = ticket_row(app, tid)
    assert (row.department_id, row.agent_id, row.status) == (world.ids["support"], world.ids["bruno"], "open")
    system = [m for m in messages_of(app, tid) if m.author_kind == "system"]
    assert [m.text for m in system] == ["Seu atendimento foi transferido para Suporte."]
    # Ana no longer acts on it; Bruno sees it in "Meus"
    assert tid in listed(client_as(app, world.bruno), view="mine")


def test_TKT_3_DEP_2_AUT_6_UX_6_close_requires_reason_and_the_farewell_replaces_the_close_message(app, world):
    support_tid = make_ticket(app, world, department="support", agent="bruno")
    bruno = client_as(app, world.bruno)
    url = f"/inbox/api/tickets/{support_tid}/close"
    r = post(bruno, url, json={})
    assert r.status_code == 400 and "exige um motivo para finalizar" in r.json["error"]
    detail = bruno.get(f"/inbox/api/tickets/{support_tid}").json
    assert detail["reason_required"] is True
    assert {r["name"] for r in detail["reasons"]} == {"Dúvida resolvida", "Defeito"}
    r = post(bruno, url, json={"reason_id": world.ids["b_tag"]})
    assert r.status_code == 400 and "Motivo não encontrado" in r.json["error"]
    r = post(bruno, url, json={"reason_id": world.ids["support_reason"], "note": "trocado"})
    assert r.status_code == 200 and r.json["ticket"]["status"] == "closed"
    row = ticket_row(app, support_tid)
    assert row.reason_id == world.ids["support_reason"] and row.close_note == "trocado"

    # Vendas: the chosen farewell (AUT-6) replaces the DEP-6 close message (UX-6)
    tid = make_ticket(app, world, agent="ana", contact_name="Joana")
    ana = client_as(app, world.ana)
    detail = ana.get(f"/inbox/api/tickets/{tid}").json
    assert [r["name"] for r in detail["reasons"]] == ["Dúvida resolvida"]  # Defeito is Suporte's
    r = post(ana, f"/inbox/api/tickets/{tid}/close",
             json={"farewell_id": world.ids["farewell"], "reason_id": ""})
    assert r.status_code == 200, r.text
    system = [m.text for m in messages_of(app, tid) if m.author_kind == "system"]
    assert system == ["Obrigado pelo contato, Joana!"]
    # closed: nothing more to close, no reply possible
    r = post(ana, f"/inbox/api/tickets/{tid}/close", json={})
    assert r.status_code == 400 and r.json["error"] == "Este atendimento já foi finalizado."


def test_TKT_2_a_ticket_goes_through_its_four_statuses_as_the_list_shows_them(app, world):
    """TKT-2: waiting (Sem atendente) until accepted, open (Em andamento), waiting for the
    customer (Aguardando resposta) after the agent's reply, open again when the customer
    answers, closed (Finalizado); each status as the agent's list shows it, and each in
    its own list filter."""
    from backoffice.services import tickets

    tid = make_ticket(app, world)
    ana = client_as(app, world.ana)

    def shown():
        rows = {t["id"]: t for t in ana.get("/inbox/api/tickets",
                                           query_string={"status": "any"}).json["tickets"]}
        return rows[tid]["status"], rows[tid]["status_label"]

    def in_filter(status):
        return tid in listed(ana, status=status)

    assert shown() == ("waiting", "Sem atendente") and in_filter("waiting")
    assert post(ana, f"/inbox/api/tickets/{tid}/accept").status_code == 200
    assert shown() == ("open", "Em andamento")
    assert post(ana, f"/inbox/api/tickets/{tid}/messages",
                data={"text": "Qual o número do pedido?"}).status_code == 201
    assert shown() == ("pending", "Aguardando resposta") and in_filter("pending")
    with app.app_context():
        tickets.receive(db.session.get(Ticket, tid), "É o 4521.")
        db.session.commit()
    assert shown() == ("open", "Em andamento") and not in_filter("pending")
    assert post(ana, f"/inbox/api/tickets/{tid}/close", json={}).status_code == 200
    assert shown() == ("closed", "Finalizado") and in_filter("closed")
    assert not in_filter("waiting") and not in_filter("pending")


def test_TKT_3_reopen_gives_the_ticket_back_to_who_reopens(app, world):
    tid = make_ticket(app, world, agent="ana", status="closed")
    carla = client_as(app, world.carla)
    r = post(carla, f"/inbox/api/tickets/{tid}/reopen")
    assert r.status_code == 200 and r.json["ticket"]["status"] == "open"
    assert r.json["ticket"]["agent"]["name"] == "Carla Supervisora"
    r = post(carla, f"/inbox/api/tickets/{tid}/reopen")
    assert r.status_code == 400 and "não está finalizado" in r.json["error"]


def test_TKT_1_favourite_and_ticket_tags(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana, carla = client_as(app, world.ana), client_as(app, world.carla)
    r = post(ana, f"/inbox/api/tickets/{tid}/favourite", json={"value": True})
    assert r.status_code == 200 and r.json["ticket"]["favourite"] is True
    r = post(ana, f"/inbox/api/tickets/{tid}/favourite", data={"value": "0"})
    assert r.json["ticket"]["favourite"] is False
    r = post(ana, f"/inbox/api/tickets/{tid}/tags",
             json={"tag_ids": [world.ids["tag"], world.ids["personal"]]})
    assert r.status_code == 200
    assert {t["name"] for t in r.json["ticket"]["tags"]} == {"VIP", "Só da Ana"}
    # another user never sees Ana's personal tag, and keeps it when editing the others
    row = carla.get(f"/inbox/api/tickets/{tid}").json["ticket"]
    assert [t["name"] for t in row["tags"]] == ["VIP"]
    assert [t["name"] for t in carla.get("/inbox/api/tickets").json["tickets"][0]["tags"]] == ["VIP"]
    r = post(carla, f"/inbox/api/tickets/{tid}/tags", json={"tag_ids": []})
    assert r.json["ticket"]["tags"] == []
    with app.app_context():
        assert [t.name for t in db.session.get(Ticket, tid).tags] == ["Só da Ana"]
    r = post(ana, f"/inbox/api/tickets/{tid}/tags", json={"tag_ids": [world.ids["b_tag"]]})
    assert r.status_code == 400 and r.json["error"] == "Etiqueta não encontrada."


# --- MSG-1: sending ----------------------------------------------------------------------------------


def test_MSG_1_send_text_is_saved_sent_and_waits_for_the_customer(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages",
             data={"text": "Bom dia! Em que posso ajudar?", "tags": [str(world.ids["tag"])]})
    assert r.status_code == 201, r.text
    m = r.json["message"]
    assert m["text"] == "Bom dia! Em que posso ajudar?" and m["direction"] == "out"
    assert m["author"] == "Ana Atendente" and m["author_kind"] == "agent"
    assert m["status"] == "sent"  # eager tasks: the webchat job ran after the commit
    assert m["channel"]["label"] == "Webchat (site)"
    assert [t["name"] for t in m["tags"]] == ["VIP"]
    row = ticket_row(app, tid)
    assert row.status == "pending" and row.preview == "Bom dia! Em que posso ajudar?"
    assert row.first_response_at is not None


@pytest.mark.parametrize("case", ["closed", "waiting", "other_agent", "empty", "blank", "too_long"])
def test_MSG_1_refused_sends_say_why_and_save_nothing(app, world, case):
    expected = {
        "closed": "Este atendimento já foi finalizado.",
        "waiting": "Aceite o atendimento antes de responder.",
        "other_agent": "Este atendimento está com Carla Supervisora.",
        "empty": "Escreva uma mensagem ou anexe um arquivo.",
        "blank": "Escreva uma mensagem ou anexe um arquivo.",
        "too_long": "A mensagem pode ter no máximo 4096 caracteres.",
    }[case]
    kwargs = {"closed": {"agent": "ana", "status": "closed"}, "waiting": {},
              "other_agent": {"agent": "carla"}}.get(case, {"agent": "ana"})
    tid = make_ticket(app, world, **kwargs)
    text = {"empty": "", "blank": "   \n  ", "too_long": "x" * 4097}.get(case, "Olá")
    ana = client_as(app, world.ana)
    detail = ana.get(f"/inbox/api/tickets/{tid}").json
    if case in ("closed", "waiting", "other_agent"):
        assert detail["reply_block"] == expected
    before = count_messages(app, tid)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages", data={"text": text})
    assert r.status_code == 400 and r.json["error"] == expected
    assert count_messages(app, tid) == before


def test_MSG_1_supervisor_may_write_in_another_agents_ticket(app, world):
    tid = make_ticket(app, world, agent="ana")
    r = post(client_as(app, world.carla), f"/inbox/api/tickets/{tid}/messages", data={"text": "Oi"})
    assert r.status_code == 201 and r.json["message"]["author"] == "Carla Supervisora"


def _uploads(app) -> list[Path]:
    base = Path(app.instance_path) / "uploads"
    return [p for p in base.rglob("*") if p.is_file()] if base.exists() else []


def test_MSG_1_send_attachment_and_serve_it_only_to_who_may_see_the_ticket(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages",
             data={"text": "", "file": (io.BytesIO(PNG), "comprovante.png")},
             content_type="multipart/form-data")
    assert r.status_code == 201, r.text
    m = r.json["message"]
    assert m["attachment"]["name"] == "comprovante.png" and m["attachment"]["kind"] == "image"
    assert m["attachment"]["url"] == f"/inbox/attachments/{m['id']}"
    assert ticket_row(app, tid).preview == "📎 comprovante.png"
    got = ana.get(m["attachment"]["url"])
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "comprovante.png" in got.headers["Content-Disposition"]
    assert client_as(app, world.carla).get(m["attachment"]["url"]).status_code == 200
    # another department's agent, another company's admin, anonymous
    assert client_as(app, world.bruno).get(m["attachment"]["url"]).status_code == 404
    assert client_as(app, world.b_admin).get(m["attachment"]["url"]).status_code == 404
    assert client_as(app, world.nina).get(m["attachment"]["url"]).status_code == 403
    anon = app.test_client().get(m["attachment"]["url"])
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]
    # a message without a file
    text_id = messages_of(app, tid)[0].id
    assert ana.get(f"/inbox/attachments/{text_id}").status_code == 404

    r = post(ana, f"/inbox/api/tickets/{tid}/messages",
             data={"text": "o contrato", "file": (io.BytesIO(PDF), "contrato.pdf")},
             content_type="multipart/form-data")
    assert r.status_code == 201 and r.json["message"]["attachment"]["kind"] == "document"
    got = ana.get(r.json["message"]["attachment"]["url"])
    assert got.headers["Content-Type"] == "application/pdf"


@pytest.mark.parametrize("case", ["oversize", "html", "renamed", "exe", "empty_file"])
def test_MSG_1_bad_attachments_are_refused_and_nothing_is_saved(app, world, case):
    app.config["MESSAGE_MAX_BYTES"] = 1000
    tid = make_ticket(app, world, agent="ana")
    files = {
        "oversize": (PNG + b"\0" * 2000, "grande.png", "grande demais: máximo 1 KB"),
        "html": (b"<html><script>alert(1)</script></html>", "pagina.html", "Tipo de arquivo não permitido"),
        "renamed": (b"apenas texto", "foto.png", "Tipo de arquivo não permitido"),
        "exe": (b"MZ\x90\x00", "setup.exe", "Tipo de arquivo não permitido"),
        "empty_file": (b"", "vazio.pdf", "Tipo de arquivo não permitido"),
    }
    data, name, words = files[case]
    ana = client_as(app, world.ana)
    before, stored = count_messages(app, tid), _uploads(app)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages",
             data={"text": "segue", "file": (io.BytesIO(data), name)},
             content_type="multipart/form-data")
    assert r.status_code == 400 and words in r.json["error"], r.text
    assert count_messages(app, tid) == before
    assert _uploads(app) == stored


def test_MSG_1_request_too_large_is_a_json_413_in_portuguese(app, world):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    tid = make_ticket(app, world, agent="ana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages",
             data={"text": "x", "file": (io.BytesIO(PNG + b"\0" * 5000), "foto.png")},
             content_type="multipart/form-data")
    assert r.status_code == 413 and r.is_json
    assert "grande demais" in r.json["error"]
    assert count_messages(app, tid) == 1


def test_MSG_1_failed_message_shows_its_error_and_can_be_retried(app, world):
    """An http_api connection pointing at a closed port: the eager job fails at once."""
    from backoffice.models import Connection

    app.config["SEND_RETRY_DELAYS"] = ()
    tid = make_ticket(app, world, connection="api", agent="ana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages", data={"text": "Seu pedido saiu"})
    assert r.status_code == 201, r.text
    m = r.json["message"]
    assert m["status"] == "failed" and m["status_label"] == "Falha no envio"
    assert m["error"] == "Não foi possível entregar ao destino."  # SEC-2: generic words
    assert tid in listed(ana, status="failed")
    shown = ana.get(f"/inbox/api/tickets/{tid}").json["messages"][-1]
    assert shown["status"] == "failed" and shown["error"] == m["error"]
    # only failed outgoing messages can be retried
    incoming = messages_of(app, tid)[0].id
    r = post(ana, f"/inbox/api/messages/{incoming}/retry")
    assert r.status_code == 400 and "Só mensagens com falha" in r.json["error"]
    # someone who may not act on the ticket cannot retry it
    with app.app_context():
        group = _group(world.company_id, "Atendente")
        dani = gen_user(db.session.get(User, world.ids["ana"]).company, "dani@example.com", group,
                        name="Dani")
        db.session.add(DepartmentMember(company_id=world.company_id, user=dani,
                                        department_id=world.ids["sales"]))
        db.session.commit()
    r = post(client_as(app, "dani@example.com"), f"/inbox/api/messages/{m['id']}/retry")
    assert r.status_code == 400 and "está com Ana Atendente" in r.json["error"]
    # the provider is back (here: the same contact reachable by the webchat adapter)
    with app.app_context():
        db.session.get(Connection, world.ids["api"]).kind = "webchat"
        db.session.commit()
    r = post(ana, f"/inbox/api/messages/{m['id']}/retry")
    assert r.status_code == 200, r.text
    assert r.json["message"]["status"] == "sent" and r.json["message"]["error"] is None
    assert not ticket_row(app, tid).has_failed
    assert tid not in listed(ana, status="failed")


# --- MSG-2: quick replies -------------------------------------------------------------------------


def _templates(app, world):
    with app.app_context():
        cid = world.company_id
        attachment = MessageTemplate(company_id=cid, kind="attachment", shortcut="/boleto",
                                     title="Segunda via do boleto", body="Segue o boleto, {{nome_cliente}}.")
        key = template_rules.attach(attachment, template_rules.Upload(data=PDF, name="boleto.pdf",
                                                                      mime="application/pdf"))
        template_rules.write_file(cid, key, PDF)
        db.session.add_all([
            MessageTemplate(company_id=cid, kind="text", shortcut="/bomdia", title="Saudação",
                            body="Bom dia, {{nome_cliente}}! Sou {{nome_atendente}}."),
            attachment,
            MessageTemplate(company_id=cid, kind="text", shortcut="/bonus", title="Bônus antigo",
                            body="x", active=False),
            MessageTemplate(company_id=cid, kind="instagram", shortcut="/boinsta",
                            title="Abertura Instagram", body="Oi"),
            MessageTemplate(company_id=cid, kind="text", shortcut="/tchau", title="Até logo",
                            body="Tchau!"),
            MessageTemplate(company_id=world.b_company_id, kind="text", shortcut="/bodelta",
                            title="Da Delta", body="Delta"),
        ])
        db.session.commit()
        return attachment.id, db.session.scalar(select(MessageTemplate.id).where(
            MessageTemplate.shortcut == "/bodelta"))


def test_MSG_2_quick_replies_match_shortcut_or_title_of_active_text_and_attachment_templates(app, world):
    attachment_id, _ = _templates(app, world)
    tid = make_ticket(app, world, agent="ana", contact_name="Joana")
    ana = client_as(app, world.ana)
    r = ana.get("/inbox/api/quick-replies?q=/bo")
    assert r.status_code == 200
    replies = r.json["replies"]
    assert [q["shortcut"] for q in replies] == ["/boleto", "/bomdia"]
    boleto = replies[0]
    assert boleto["kind"] == "attachment" and boleto["attachment"]["name"] == "boleto.pdf"
    assert boleto["id"] == attachment_id
    # by title words, and with the ticket's variables filled in
    r = ana.get(f"/inbox/api/quick-replies?q=sauda&ticket={tid}")
    assert [q["body"] for q in r.json["replies"]] == ["Bom dia, Joana! Sou Ana Atendente."]
    assert [q["shortcut"] for q in ana.get("/inbox/api/quick-replies?q=LOGO").json["replies"]] == ["/tchau"]
    assert len(ana.get("/inbox/api/quick-replies?q=/").json["replies"]) == 3
    assert ana.get("/inbox/api/quick-replies?q=%25").json["replies"] == []
    assert ana.get("/inbox/api/quick-replies?q=/bo&ticket=abc").status_code == 200


def test_MSG_2_sending_an_attachment_template_sends_its_file_and_body(app, world):
    attachment_id, delta_id = _templates(app, world)
    tid = make_ticket(app, world, agent="ana", contact_name="Joana")
    ana = client_as(app, world.ana)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages", data={"text": "", "template_id": attachment_id})
    assert r.status_code == 201, r.text
    m = r.json["message"]
    assert m["text"] == "Segue o boleto, Joana."
    assert m["attachment"]["name"] == "boleto.pdf"
    assert ana.get(m["attachment"]["url"]).data == PDF
    # another company's template is not found, and nothing is sent
    before = count_messages(app, tid)
    r = post(ana, f"/inbox/api/tickets/{tid}/messages", data={"text": "", "template_id": delta_id})
    assert r.status_code == 404 and r.json["error"] == "Resposta rápida não encontrada."
    assert count_messages(app, tid) == before


# --- MSG-3: message tags and search ------------------------------------------------------------------


def test_MSG_3_tag_a_message_and_search_inside_a_conversation(app, world):
    from backoffice.models import Ticket as T

    tid = make_ticket(app, world, agent="ana", text="Meu pedido 123 atrasou")
    with app.app_context():
        gen_incoming(db.session.get(T, tid), "Outra coisa: 100% do valor")
        gen_incoming(db.session.get(T, tid), "o pedido chegou")
        db.session.commit()
    ana = client_as(app, world.ana)
    message_id = messages_of(app, tid)[0].id
    r = post(ana, f"/inbox/api/messages/{message_id}/tags",
             json={"tag_ids": [world.ids["tag"], world.ids["personal"]]})
    assert r.status_code == 200
    assert {t["name"] for t in r.json["message"]["tags"]} == {"VIP", "Só da Ana"}
    carla_view = client_as(app, world.carla).get(f"/inbox/api/tickets/{tid}").json["messages"][0]
    assert [t["name"] for t in carla_view["tags"]] == ["VIP"]
    r = post(ana, f"/inbox/api/messages/{message_id}/tags", json={"tag_ids": [world.ids["b_tag"]]})
    assert r.status_code == 400

    found = ana.get(f"/inbox/api/tickets/{tid}/search?q=pedido").json["messages"]
    assert [m["text"] for m in found] == ["o pedido chegou", "Meu pedido 123 atrasou"]
    assert [m["text"] for m in ana.get(f"/inbox/api/tickets/{tid}/search?q=100%").json["messages"]] \
        == ["Outra coisa: 100% do valor"]
    assert ana.get(f"/inbox/api/tickets/{tid}/search?q=").json["messages"] == []
    assert ana.get(f"/inbox/api/tickets/{tid}/search?q=" + "x" * 5000).status_code == 200


# --- BLK-1: selection mode ------------------------------------------------------------------------------


def test_BLK_1_bulk_close_reports_each_ticket_and_keeps_going(app, world):
    a = make_ticket(app, world, agent="ana")
    b = make_ticket(app, world)
    needs_reason = make_ticket(app, world, department="support", agent="ana")
    already = make_ticket(app, world, agent="ana", status="closed")
    hidden = make_ticket(app, world, department="support")
    ana = client_as(app, world.ana)
    ids = [a, b, needs_reason, already, hidden, world.ids["b_ticket"], 987654]
    r = post(ana, "/inbox/api/bulk", json={"action": "close", "ids": ids,
                                           "farewell_id": world.ids["farewell"], "note": "lote"})
    assert r.status_code == 200, r.text
    assert r.json["done"] == [a, b]
    errors = {e["id"]: e for e in r.json["errors"]}
    assert set(errors) == {needs_reason, already, hidden, world.ids["b_ticket"], 987654}
    assert "exige um motivo" in errors[needs_reason]["error"]
    assert errors[needs_reason]["protocol"] == ticket_row(app, needs_reason).protocol
    assert errors[already]["error"] == "Este atendimento já foi finalizado."
    for invisible in (hidden, world.ids["b_ticket"], 987654):
        assert errors[invisible] == {"id": invisible, "protocol": None,
                                     "error": "Atendimento não encontrado."}
    assert [ticket_row(app, t).status for t in (a, b, needs_reason, hidden)] == \
        ["closed", "closed", "open", "waiting"]
    assert ticket_row(app, world.ids["b_ticket"]).status == "waiting"
    # nothing of the refused ticket was half-done (no farewell queued)
    assert [m.author_kind for m in messages_of(app, needs_reason)] == ["contact"]


def test_BLK_1_bulk_transfer_to_a_department(app, world):
    a = make_ticket(app, world, agent="ana")
    b = make_ticket(app, world)
    carla = client_as(app, world.carla)
    r = post(carla, "/inbox/api/bulk", data={"action": "transfer", "ids": [str(a), str(b)],
                                             "department_id": str(world.ids["support"])})
    assert r.status_code == 200 and r.json == {"done": [a, b], "errors": []}
    assert {ticket_row(app, t).department_id for t in (a, b)} == {world.ids["support"]}
    r = post(carla, "/inbox/api/bulk", json={"action": "transfer", "ids": [a], "observation": "x",
                                             "department_id": world.ids["inactive"]})
    assert r.json["done"] == [] and "inativo" in r.json["errors"][0]["error"]


# --- RTM-1: what the page hears ------------------------------------------------------------------------


def test_RTM_1_ticket_events_reach_the_department_and_the_open_conversation(app, world):
    tid = make_ticket(app, world, agent="ana")
    ana_http, bruno_http = client_as(app, world.ana), client_as(app, world.bruno)
    ana = socketio.test_client(app, flask_test_client=ana_http)
    bruno = socketio.test_client(app, flask_test_client=bruno_http)
    try:
        assert ana.is_connected() and bruno.is_connected()
        assert ana.emit("ticket.join", {"id": tid}, callback=True) == {"ok": True}
        assert bruno.emit("ticket.join", {"id": tid}, callback=True) == {"ok": False}
        assert ana.emit("ticket.join", {"id": str(tid)}, callback=True) == {"ok": False}
        ana.get_received(), bruno.get_received()
        r = post(ana_http, f"/inbox/api/tickets/{tid}/messages", data={"text": XSS})
        assert r.status_code == 201
        got = ana.get_received()
        names = [e["name"] for e in got]
        assert "message.created" in names and "ticket.updated" in names
        created = [e for e in got if e["name"] == "message.created"][0]["args"][0]
        assert created["text"] == XSS and created["ticket_id"] == tid
        assert bruno.get_received() == []
    finally:
        ana.disconnect()
        bruno.disconnect()


# --- SCL-5: the list and the panel read in few statements, and stay exactly as fresh ---------


def test_SCL_5_list_times_are_written_as_iso_writes_them():
    """The list hands its rows' datetimes to orjson with serialize.ISO_MOMENTS instead of
    calling serialize.iso per field: the text must be iso's (seconds, "Z"), microseconds
    or not, midnight, the last microsecond of a second, and None."""
    import orjson

    from backoffice.services import serialize

    for moment in (datetime(2026, 12, 6, 6, 40, 28, 123456), datetime(2026, 1, 2),
                   datetime(2026, 1, 2, 3, 4, 5, 999999), datetime(1999, 12, 31, 23, 59, 59),
                   None):
        written = orjson.loads(orjson.dumps({"at": moment}, option=serialize.ISO_MOMENTS))
        assert written["at"] == serialize.iso(moment)


def test_SCL_5_list_row_is_field_by_field_the_shape_of_the_socket_events(app, world):
    """The list reads columns and tags in its own SELECT: each row must be exactly what
    serialize.ticket_summary (the socket events' shape, from the ORM object) gives for the
    same ticket and viewer: labels, agent avatar, connection badges, the viewer's tags in
    name order (a colleague's personal tag never)."""
    from backoffice.services import serialize

    with app.app_context():
        bruno_own = gen_tag(world.company_id, "A do Bruno", owner=world.ids["bruno"])
        extra = gen_tag(world.company_id, "Atraso", color="#123456")
        db.session.commit()
        bruno_own, extra = bruno_own.id, extra.id
    accepted = make_ticket(app, world, agent="ana", favourite=True, has_failed=True,
                           tag_names=("VIP", "Só da Ana", "Atraso", "A do Bruno"))
    waiting = make_ticket(app, world, department=None, connection="api")
    ana, carla = client_as(app, world.ana), client_as(app, world.carla)
    for client, viewer in ((ana, world.ids["ana"]), (carla, world.ids["carla"])):
        rows = {t["id"]: t for t in client.get("/inbox/api/tickets").json["tickets"]}
        assert {accepted, waiting} <= rows.keys()
        with app.test_request_context():
            for tid in (accepted, waiting):
                expected = serialize.ticket_summary(db.session.get(Ticket, tid), viewer_id=viewer)
                assert rows[tid] == expected
    row = {t["id"]: t for t in ana.get("/inbox/api/tickets").json["tickets"]}[accepted]
    # what the page shows, spelled out
    assert [t["name"] for t in row["tags"]] == ["Atraso", "Só da Ana", "VIP"]
    assert [t["personal"] for t in row["tags"]] == [False, True, False]
    assert row["tags"][0] == {"id": extra, "name": "Atraso", "color": "#123456",
                              "personal": False}
    assert row["agent"]["name"] == "Ana Atendente" and row["agent"]["avatar"]["initials"] == "AA"
    assert row["connection"]["kind_short"] == "Webchat" and row["status"] == "open"
    assert row["status_label"] and row["favourite"] is True and row["has_failed"] is True
    assert bruno_own not in {t["id"] for t in row["tags"]}
    # the conversation panel's ticket (its tags loaded with it) is the same row, its
    # contact told in full
    detail = ana.get(f"/inbox/api/tickets/{accepted}").json["ticket"]
    assert {key: detail[key] for key in row if key != "contact"} == \
        {key: value for key, value in row.items() if key != "contact"}
    assert {key: detail["contact"][key] for key in ("id", "name")} == row["contact"]
    row = {t["id"]: t for t in carla.get("/inbox/api/tickets").json["tickets"]}[waiting]
    assert row["agent"] is None and row["department"] is None and row["tags"] == []
    assert row["connection"]["kind"] == "http_api" and row["connection"]["kind_short"] == "API"


def test_SCL_5_TAG_1_a_list_row_spelled_out_from_its_columns(app):
    """serialize.Summaries, which the list and ticket_summary share (so the test above
    cannot see its mistakes): every field from a row given by hand in another column
    order, with an extra column; the page's repeated labels, avatars and colours worked
    out once but each row its own dicts; a personal tag shown to its owner only, never in
    a broadcast (no viewer); an unsafe colour replaced."""
    from backoffice.services import serialize
    from backoffice.services.catalog import DEFAULT_COLOR

    keys = tuple(reversed(serialize.SUMMARY_KEYS)) + ("tags",)
    at = datetime(2026, 12, 6, 18, 30, 5, 123456)
    values = {"id": 7, "protocol": "2026120600007", "status": "open", "contact_id": 3,
              "contact_name": "Fernanda Lima", "department_id": 2,
              "department_name": "Financeiro", "agent_id": 5, "agent_name": "Ana Souza",
              "agent_avatar_key": "k1", "connection_id": 4, "connection_name": "Site",
              "connection_kind": "webchat", "favourite": True, "classification_id": None,
              "has_failed": False, "automated": True, "unread": 2, "preview": None,
              "last_activity_at": at, "created_at": at - timedelta(days=1),
              "closed_at": None, "tags": "ignored"}
    row = tuple(values[k] for k in keys)
    bare = dict(values, id=8, department_id=None, agent_id=None, connection_id=None,
                preview="Olá")
    tags = [(1, "Atraso", "#ABCDEF", None), (2, "Minha", "red;x:y", 5),
            (3, "Da Carla", "#123456", 9)]
    with app.test_request_context():
        for viewer, shown in ((5, ["Atraso", "Minha"]), (9, ["Atraso", "Da Carla"]),
                              (None, ["Atraso"])):
            first = serialize.Summaries(keys, viewer)(row, tags)
            assert [t["name"] for t in first["tags"]] == shown
        page = serialize.Summaries(keys, 5)
        first, second = page(row, tags), page(row, tags)
        other = page(tuple(bare[k] for k in keys), ())
        kept = serialize.Summaries(keys, 5, moment=serialize.as_is)(row, ())
    assert first == {
        "id": 7, "protocol": "2026120600007", "status": "open", "status_label": "Em andamento",
        "contact": {"id": 3, "name": "Fernanda Lima"},
        "department": {"id": 2, "name": "Financeiro"},
        "agent": {"id": 5, "name": "Ana Souza",
                  "avatar": {"url": "/media/avatar/k1", "initials": "AS",
                             "color": first["agent"]["avatar"]["color"]}},
        "connection": {"id": 4, "name": "Site", "kind": "webchat",
                       "kind_label": "Webchat (site)", "kind_short": "Webchat"},
        "favourite": True, "classification_id": None, "has_failed": False, "automated": True,
        "unread": 2, "preview": "",
        "tags": [{"id": 1, "name": "Atraso", "color": "#abcdef", "personal": False},
                 {"id": 2, "name": "Minha", "color": DEFAULT_COLOR, "personal": True}],
        "last_activity_at": "2026-12-06T18:30:05Z", "created_at": "2026-12-05T18:30:05Z",
        "closed_at": None}
    assert first["agent"]["avatar"]["color"].startswith("#")
    assert second == first and second["agent"]["avatar"] is not first["agent"]["avatar"]
    assert other["id"] == 8 and other["preview"] == "Olá" and other["tags"] == []
    assert other["department"] is None and other["agent"] is None and other["connection"] is None
    assert kept["last_activity_at"] == at and kept["closed_at"] is None


def test_SCL_5_rights_and_memberships_apply_on_the_very_next_request(app, world):
    """Nothing about the user is kept between requests: a right taken from the group or a
    department left is obeyed by the next list and the next conversation (and given back,
    the same), in the same logged-in session."""
    tid = make_ticket(app, world, department="support")
    bruno = client_as(app, world.bruno)
    assert bruno.get(f"/inbox/api/tickets/{tid}").status_code == 200
    assert tid in listed(bruno)
    with app.app_context():
        db.session.execute(DepartmentMember.__table__.delete().where(
            DepartmentMember.user_id == world.ids["bruno"]))
        db.session.commit()
    r = bruno.get(f"/inbox/api/tickets/{tid}")
    assert r.status_code == 404 and r.json["error"] == "Atendimento não encontrado."
    assert tid not in listed(bruno)
    with app.app_context():
        db.session.add(DepartmentMember(company_id=world.company_id,
                                        department_id=world.ids["support"],
                                        user_id=world.ids["bruno"]))
        db.session.commit()
    assert bruno.get(f"/inbox/api/tickets/{tid}").status_code == 200
    with app.app_context():
        group = _group(world.company_id, "Atendente")
        kept = list(group.rights)
        group.rights = [r for r in kept if r != "inbox.view"]
        db.session.commit()
    for url in (f"/inbox/api/tickets/{tid}", "/inbox/api/tickets"):
        r = bruno.get(url)
        assert r.status_code == 403
        assert r.json["error"] == "Você não tem permissão para usar o atendimento."
    with app.app_context():
        _group(world.company_id, "Atendente").rights = kept
        db.session.commit()
    assert bruno.get(f"/inbox/api/tickets/{tid}").status_code == 200


def test_SCL_5_panel_counts_only_the_contacts_tickets_the_user_may_see(app, world):
    """The conversation panel's contact reads its other tickets in the ticket's own SELECT,
    through the same visibility rule as the list."""
    from backoffice.models import Connection, Department

    with app.app_context():
        web = db.session.get(Connection, world.ids["web"])
        sales = db.session.get(Department, world.ids["sales"])
        support = db.session.get(Department, world.ids["support"])
        first = gen_ticket(web, department=sales, contact_name="Rita Cliente",
                           status="closed")
        contact = first.contact
        gen_ticket(web, contact=contact, department=support, status="closed")
        gen_ticket(web, contact=contact, department=None, status="closed")
        current = gen_ticket(web, contact=contact, department=sales)
        db.session.commit()
        current = current.id
    ana, carla = client_as(app, world.ana), client_as(app, world.carla)
    # Ana: Vendas and no department (not Suporte's); Carla supervises: all three
    assert ana.get(f"/inbox/api/tickets/{current}").json["ticket"]["contact"]["other_tickets"] == 2
    data = carla.get(f"/inbox/api/tickets/{current}").json
    assert data["ticket"]["contact"]["other_tickets"] == 3
    assert data["ticket"]["contact"]["name"] == "Rita Cliente"
    assert data["ticket"]["survey"] is None and data["reason_required"] is False


def test_SCL_5_list_and_conversation_statements_do_not_grow_with_the_page(app, world):
    """No N+1: opening a conversation of 41 messages (20 tagged, by an agent), or the list
    of 40 tagged tickets, sends as many statements as with one of each."""
    short = make_ticket(app, world, agent="ana")
    long_ = make_ticket(app, world, agent="ana", tag_names=("VIP",))
    carla = client_as(app, world.carla)
    for i in range(20):
        assert post(carla, f"/inbox/api/tickets/{long_}/messages",
                    json={"text": f"resposta {i}", "tags": [world.ids["tag"]]}).status_code == 201
    with app.app_context():
        ticket = db.session.get(Ticket, long_)
        for i in range(20):
            gen_incoming(ticket, f"pergunta {i}")
        db.session.commit()
    ana = client_as(app, world.ana)
    counts = {}
    for tid in (short, long_):
        with sql_statements(app) as seen:
            data = ana.get(f"/inbox/api/tickets/{tid}").json
        counts[tid] = len(seen)
    assert len(data["messages"]) == 41 and counts[short] == counts[long_]
    tagged = [m for m in data["messages"] if m["author_kind"] == "agent"]
    assert tagged[-1]["tags"][0]["name"] == "VIP" and tagged[-1]["author"] == "Carla Supervisora"
    with sql_statements(app) as one:
        assert len(listed(ana, limit=1)) == 1
    for i in range(40):
        make_ticket(app, world, agent="ana", tag_names=("VIP", "Só da Ana"))
    with sql_statements(app) as many:
        assert len(listed(ana, limit=40)) == 40
    assert len(one) == len(many)


# --- SCL-5: the page SELECT is built once per shape and run with each request's values ------


def _scl5_tickets(app, world) -> dict[str, int]:
    """Four tickets of the company, one per visibility case, each found by its own filter."""
    from backoffice.models import ServiceClassification

    with app.app_context():
        kind = ServiceClassification(company_id=world.company_id, name="Segunda via")
        db.session.add(kind)
        db.session.commit()
        kind = kind.id
    found = {
        "sales": make_ticket(app, world, department="sales", contact_name="Rita Vendas",
                             tag_names=("VIP",)),
        "support": make_ticket(app, world, department="support", contact_name="Rita Suporte",
                               connection="api", classification_id=kind),
        "none": make_ticket(app, world, department=None, contact_name="Rita Sem Setor",
                            favourite=True),
        "anas": make_ticket(app, world, department="support", contact_name="Rita da Ana",
                            agent="ana", text="quero a segunda via do boleto"),
    }
    found["classification"] = kind
    return found


def test_SCL_5_the_shared_page_select_answers_each_user_with_their_own_tickets(app, world):
    """The page SELECT of a shape is shared by every request of that shape: users of
    different departments, a supervisor and another company's admin, asking the same
    thing in turn, each get exactly what PLT-1's visibility rule lets them see (ids,
    company and departments are the request's values, never the first asker's), page by
    page too; and so does the conversation panel's."""
    t = _scl5_tickets(app, world)
    clients = {who: client_as(app, getattr(world, who)) for who in ("ana", "bruno", "carla",
                                                                    "b_admin")}
    everything = {t["sales"], t["support"], t["none"], t["anas"]}
    expected = {
        # Ana: Vendas, no department, and her own ticket in Suporte
        "ana": {t["sales"], t["none"], t["anas"]},
        "bruno": {t["support"], t["none"], t["anas"]},
        "carla": everything,
        "b_admin": set(),
    }
    shapes = [
        ({"q": "Rita"}, lambda ids: ids),
        ({"q": "Rita", "view": "mine"}, lambda ids: ids & {t["anas"]}),
        ({"q": "Rita", "view": "unassigned"}, lambda ids: ids - {t["anas"]}),
        ({"q": "Rita", "department": world.ids["support"]},
         lambda ids: ids & {t["support"], t["anas"]}),
        ({"q": "Rita", "status": "any", "order": "oldest"}, lambda ids: ids),
    ]
    for _round in range(2):
        for args, narrowed in shapes:
            for who, client in clients.items():
                got = listed(client, **args)
                mine = expected[who]
                if args.get("view") == "mine" and who != "ana":
                    mine = set()  # only Ana has a ticket assigned
                assert set(got) == narrowed(mine), (who, args)
                assert len(got) == len(set(got))
    # one row a page: the cursor's values are each request's own as well
    for who, client in clients.items():
        whole = listed(client, q="Rita")
        paged, cursor = [], None
        for _page in range(6):
            params = {"q": "Rita", "limit": 1, **({"cursor": cursor} if cursor else {})}
            data = client.get("/inbox/api/tickets", query_string=params).json
            paged += [row["id"] for row in data["tickets"]]
            cursor = data["next_cursor"]
            if cursor is None:
                break
        assert paged == whole, who
    # the other company's admin sees their own ticket through the same shapes
    assert listed(clients["b_admin"]) == [world.ids["b_ticket"]]
    # the panel's SELECT is shared the same way (Ana and Bruno share a group): each opens
    # exactly the tickets they see, the others answer 404 like a missing one
    expected["b_admin"] = {world.ids["b_ticket"]}
    for _round in range(2):
        for who, client in clients.items():
            for tid in everything | {world.ids["b_ticket"]}:
                r = client.get(f"/inbox/api/tickets/{tid}")
                if tid in expected[who]:
                    assert r.status_code == 200 and r.json["ticket"]["id"] == tid, (who, tid)
                else:
                    assert r.status_code == 404, (who, tid)
                    assert r.json["error"] == "Atendimento não encontrado."


@pytest.mark.parametrize("field,args,expect", [
    ("connection_id", lambda w, t: {"connection": w.ids["api"]}, {"support"}),
    ("department_id", lambda w, t: {"department": w.ids["sales"]}, {"sales"}),
    ("tag_id", lambda w, t: {"tag": w.ids["tag"]}, {"sales"}),
    ("classification_id", lambda w, t: {"classification": t["classification"]}, {"support"}),
    ("favourite", lambda w, t: {"favourite": "1"}, {"none"}),
    ("q", lambda w, t: {"q": "rita sup"}, {"support"}),
    ("text", lambda w, t: {"text": "SEGUNDA VIA"}, {"anas"}),
])
def test_SCL_5_each_list_filter_selects_the_same_tickets_bound_or_literal(
        app, world, field, args, expect):
    """FLT-1: every filter of the list (services.inbox.NARROWINGS) narrows the page (its
    values bound to the shared SELECT) exactly as the public API's `narrow` (its values
    written in) does; and every filter has its case here."""
    from backoffice.services import inbox

    assert {n.field for n in inbox.NARROWINGS} == {
        "connection_id", "department_id", "tag_id", "classification_id", "favourite", "q",
        "text"}, "a new filter of the list needs its case in this test"
    t = _scl5_tickets(app, world)
    query = args(world, t)
    wanted = {t[name] for name in expect}
    assert set(listed(client_as(app, world.carla), **query)) == wanted
    with app.app_context():
        f = inbox.Filters.from_args(query)
        assert getattr(f, field)
        literal = inbox.narrow(select(Ticket.id).where(Ticket.company_id == world.company_id),
                               f, world.company_id)
        assert set(db.session.scalars(literal)) == wanted


def test_SCL_5_a_right_taken_from_the_group_changes_the_very_next_list(app, world):
    """The shared SELECT is chosen by the user's rights as read on this request: a
    supervisor whose group loses inbox.supervise sees, on the next list, only what an
    agent of no department sees (tickets without a department), and everything again
    once it is given back."""
    t = _scl5_tickets(app, world)
    carla = client_as(app, world.carla)
    everything = {t["sales"], t["support"], t["none"], t["anas"]}
    assert set(listed(carla, q="Rita")) == everything
    with app.app_context():
        _group(world.company_id, "Supervisão").rights = ["inbox.view"]
        db.session.commit()
    assert set(listed(carla, q="Rita")) == {t["none"]}
    with app.app_context():
        _group(world.company_id, "Supervisão").rights = ["inbox.view", "inbox.supervise"]
        db.session.commit()
    assert set(listed(carla, q="Rita")) == everything
