"""CHN-5: the website chat widget. One script tag shows a bubble; the visitor picks a
department (active, receiving, ordered), writes and gets the agents' answers live
(RTM-1, through the queued sending of CHN-3); the conversation survives a reload; text
is shown as text (MSG-5). Bad input answers in Portuguese, loses nothing and is never a
500: unknown keys, foreign tokens, empty or oversize messages, disallowed files, floods.
"""
from __future__ import annotations

import io
import json
import re

import pytest
import redis
from sqlalchemy import func, select

from backoffice.extensions import db, socketio
from backoffice.models import Contact, ContactAddress, Message, Ticket, User
from backoffice.models.tickets import CLOSED, DELIVERED, IN, QUEUED, READ, SENT, WAITING
from backoffice.services import ratelimit, sending, tickets
from backoffice.lib import after_commit
from tests.conftest import login, lose_the_pools_connections
from tests.factories import WEBCHAT_PNG as PNG
from tests.factories import png_file, set_show_agent_name

NS = "/webchat"
XSS = "<img src=x onerror=alert(1)>"



@pytest.fixture
def world(webchat_world):
    return webchat_world


@pytest.fixture
def sockets(app, socket_for):
    opened = []

    def agent(email):
        return socket_for(email, drain=True)

    def visitor(key, token):
        sc = socketio.test_client(app, namespace=NS, auth={"key": key, "token": token})
        opened.append(sc)
        return sc

    yield agent, visitor
    for sc in opened:
        if sc.is_connected(NS):
            sc.disconnect(NS)
        if sc.is_connected():
            sc.disconnect()


def api(key, path):
    return f"/widget/{key}/api/{path}"


def start(client, key, token=None, **body):
    headers = {"X-Visitor-Token": token} if token else {}
    return client.post(api(key, "start"), json=body, headers=headers)


def say(client, key, token, text=None, **kwargs):
    if "data" in kwargs:
        return client.post(api(key, "messages"), headers={"X-Visitor-Token": token}, **kwargs)
    return client.post(api(key, "messages"), json={"text": text}, headers={"X-Visitor-Token": token})


def conversation(client, key, token):
    return client.get(api(key, "conversation"), headers={"X-Visitor-Token": token})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events(sc, name, namespace=None):
    # the test client hands the payload of an event named "message" as is (socket.send)
    return [e["args"] if name == "message" else e["args"][0]
            for e in sc.get_received(namespace) if e["name"] == name]


def new_visitor(client, world, text="Olá, preciso de ajuda", department="support", **extra):
    r = start(client, world.key, department_id=world.departments[department], text=text, **extra)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


# --- the script, the frame, unknown keys -------------------------------------------------------


def test_CHN_5_loader_script_is_served_as_short_cached_javascript(client):
    r = client.get("/widget.js")
    assert r.status_code == 200
    assert r.mimetype == "text/javascript"
    assert r.cache_control.max_age == 300 and r.cache_control.public
    body = r.get_data(as_text=True)
    for needle in ("atende-bubble", "atende-frame", "data-key", "document.currentScript",
                   'script[data-key][src*="widget.js"]', "/widget/"):
        assert needle in body


def test_CHN_5_admin_snippet_points_at_the_loader(app, world):
    from backoffice.admin.connections import script_url

    with app.test_request_context("/"):
        assert script_url() == "http://localhost/widget.js"


def test_CHN_5_frame_page_for_a_valid_key(client, world):
    r = client.get(f"/widget/{world.key}/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Fale com a Loja Alfa" in html and "Olá! Como podemos ajudar?" in html
    for element in ('id="wc-name"', 'id="wc-department"', 'id="wc-text"', 'id="wc-send"',
                    'id="wc-file"', 'id="wc-alert"', "Escolha o departamento",
                    "/static/vendor/socket.io.min.js", "/static/webchat/frame.js"):
        assert element in html
    # only active receiving departments, in their order
    assert html.index(">Vendas<") < html.index(">Suporte<")
    assert ">Arquivo<" not in html and ">Interno<" not in html
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors" not in r.headers["Content-Security-Policy"]  # any site frames it
    assert "X-Frame-Options" not in r.headers


@pytest.mark.parametrize("which", ["unknown", "inactive", "http_api", "company_off"])
def test_CHN_5_unknown_or_inactive_key_is_a_friendly_404(app, client, world, which):
    key = {"unknown": "chave-que-nao-existe", "inactive": world.inactive_key,
           "http_api": world.api_key, "company_off": world.key}[which]
    if which == "company_off":
        with app.app_context():
            from backoffice.models import Company

            db.session.get(Company, world.company_id).active = False
            db.session.commit()
    page = client.get(f"/widget/{key}/")
    assert page.status_code == 404
    assert "Chat indisponível" in page.get_data(as_text=True)
    for method, path in (("get", "config"), ("get", "conversation"), ("post", "start"),
                         ("post", "messages"), ("get", "attachments/1")):
        r = getattr(client, method)(api(key, path), json={"text": "oi"},
                                    headers={"X-Visitor-Token": "x" * 32})
        assert r.status_code == 404, (path, r.status_code)
        assert r.get_json() == {"error": "Chat não encontrado."}
    with app.app_context():
        assert count(Ticket) == 0 and count(Contact) == 0


def test_CHN_5_config_offers_active_receiving_departments_in_order(client, world):
    r = client.get(api(world.key, "config"))
    assert r.status_code == 200
    data = r.get_json()
    assert data["title"] == "Fale com a Loja Alfa"
    assert data["greeting"] == "Olá! Como podemos ajudar?"
    assert data["color"] == "#aa3366"
    assert data["departments"] == [{"id": world.departments["sales"], "name": "Vendas"},
                                   {"id": world.departments["support"], "name": "Suporte"}]


# --- starting, resuming ----------------------------------------------------------------------------


def test_CHN_5_RTM_1_start_opens_a_ticket_seen_by_that_departments_agents_only(
        app, client, world, sockets):
    agent, _visitor = sockets
    support = agent(world.agents["support"])
    sales = agent(world.agents["sales"])
    other_company = agent(world.agents["other_company"])
    other_admin = agent(world.agents["admin_b"])

    r = start(client, world.key, name="Maria Visitante", email="maria@example.com",
              department_id=world.departments["support"], text="Meu pedido não chegou")
    assert r.status_code == 201
    data = r.get_json()
    token = data["token"]
    assert len(token) == 32
    assert data["ticket"]["status"] == WAITING and data["ticket"]["open"] is True
    assert [(m["direction"], m["text"]) for m in data["messages"]] == [(IN, "Meu pedido não chegou")]

    with app.app_context():
        address = db.session.scalar(select(ContactAddress).where(ContactAddress.address == token))
        assert address.connection_id == world.connection_id
        assert address.contact.name == "Maria Visitante"
        assert address.contact.email == "maria@example.com"
        ticket = db.session.scalar(select(Ticket))
        assert ticket.protocol == data["ticket"]["protocol"]
        assert ticket.department_id == world.departments["support"]
        assert ticket.contact_id == address.contact_id and ticket.status == WAITING
        assert count(Message) == 1

    seen = events(support, "ticket.updated")
    assert [e["protocol"] for e in seen] == [data["ticket"]["protocol"]]
    assert seen[0]["preview"] == "Meu pedido não chegou"
    assert sales.get_received() == []
    assert other_company.get_received() == []
    assert other_admin.get_received() == []


def test_CHN_5_single_department_is_chosen_without_asking(app, client, world):
    with app.app_context():
        from backoffice.models import Department

        db.session.get(Department, world.departments["sales"]).active = False
        db.session.commit()
    r = start(client, world.key, text="Oi")  # no department_id: the only one offered
    assert r.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(Ticket.department_id)) == world.departments["support"]


@pytest.mark.parametrize("department", [
    "internal", "archived", "other_company", "missing", "none", "text", "list", "huge",
    "negative", "float"])
def test_CHN_5_start_into_a_department_not_offered_is_refused(app, client, world, department):
    value = {"internal": world.departments["internal"], "archived": world.departments["archived"],
             "other_company": world.b_department_id, "missing": 999999, "none": None,
             "text": "vendas", "list": [world.departments["sales"]], "huge": 10**30,
             "negative": -1, "float": 1.5}[department]
    r = start(client, world.key, department_id=value, text="Oi")
    assert r.status_code == 400
    assert r.get_json()["error"]
    with app.app_context():
        assert count(Ticket) == 0 and count(Contact) == 0 and count(Message) == 0


def test_CHN_5_client_made_token_is_never_adopted(app, client, world):
    made_up = "A" * 32
    r = start(client, world.key, token=made_up, department_id=world.departments["sales"], text="Oi")
    assert r.status_code == 201
    assert r.get_json()["token"] != made_up
    with app.app_context():
        assert db.session.scalar(select(ContactAddress.address)) == r.get_json()["token"]


def test_CHN_5_reload_resumes_the_conversation_by_token(app, client, world):
    token = new_visitor(client, world, text="Primeira")["token"]
    assert say(client, world.key, token, "Segunda").status_code == 201
    # a second "start" while the ticket is open just adds to it
    r = start(client, world.key, token=token, department_id=world.departments["sales"], text="Terceira")
    assert r.status_code == 201

    fresh = client.application.test_client()  # a reloaded page: only the token is kept
    r = conversation(fresh, world.key, token)
    assert r.status_code == 200
    data = r.get_json()
    assert data["ticket"]["open"] is True
    assert [m["text"] for m in data["messages"]] == ["Primeira", "Segunda", "Terceira"]
    with app.app_context():
        assert count(Ticket) == 1
        assert db.session.scalar(select(Ticket.department_id)) == world.departments["support"]


def test_CHN_5_token_of_one_connection_opens_nothing_on_another(app, client, world, sockets):
    _agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    for key in (world.other_key, world.b_key):
        assert conversation(client, key, token).status_code == 401
        assert say(client, key, token, "Oi").status_code == 401
        assert not visitor(key, token).is_connected(NS)
        assert client.get(api(key, "attachments/1"),
                          headers={"X-Visitor-Token": token}).status_code == 401
    assert conversation(client, world.key, None).status_code == 401
    assert conversation(client, world.key, "B" * 32).status_code == 401
    r = say(client, world.key, "B" * 32, "Oi")
    assert r.status_code == 401
    assert r.get_json() == {"error": "Conversa não encontrada. Inicie uma nova conversa."}
    with app.app_context():
        assert count(Message) == 1


def test_CHN_5_resume_cookie_brings_the_token_back_to_the_frame_only(app, world):
    """Where a browser refuses storage to the third-party frame, the partitioned HttpOnly
    cookie lets the frame page hand the token back; the API never accepts the cookie."""
    client = app.test_client()
    r = start(client, world.key, department_id=world.departments["sales"], text="Oi")
    token = r.get_json()["token"]
    cookie = r.headers["Set-Cookie"]
    for part in (f"atende_visitor={token}", "Secure", "HttpOnly", "SameSite=None",
                 "Partitioned", f"Path=/widget/{world.key}/"):
        assert part in cookie

    reloaded = app.test_client()
    reloaded.set_cookie("atende_visitor", token, path=f"/widget/{world.key}/")
    assert f'"resume_token": "{token}"' in reloaded.get(f"/widget/{world.key}/").get_data(as_text=True)
    assert reloaded.get(api(world.key, "conversation")).status_code == 401  # header only

    elsewhere = app.test_client()  # the same token offered to another connection's frame
    elsewhere.set_cookie("atende_visitor", token, path=f"/widget/{world.other_key}/")
    assert '"resume_token": null' in elsewhere.get(f"/widget/{world.other_key}/").get_data(as_text=True)


@pytest.mark.parametrize("auth", [None, "texto", {}, {"key": 1, "token": 2},
                                  {"key": "x" * 20, "token": "y" * 32}])
def test_CHN_5_socket_without_a_valid_visitor_is_refused(app, world, sockets, auth):
    sc = socketio.test_client(app, namespace=NS, auth=auth)
    assert not sc.is_connected(NS)


def test_CHN_5_posts_need_no_csrf_token_and_start_no_session(client, world):
    """The blueprint is CSRF-exempt: a visitor is identified by the header token only."""
    r = client.post(api(world.key, "start"), json={"department_id": world.departments["sales"],
                                                   "text": "Oi"})
    assert r.status_code == 201
    assert [c for c in r.headers.getlist("Set-Cookie") if not c.startswith("atende_visitor=")] == []


# --- live: agents' answers, receipts ---------------------------------------------------------------


def _ticket_of(token):
    return db.session.scalar(select(Ticket).join(ContactAddress, ContactAddress.contact_id == Ticket.contact_id)
                             .where(ContactAddress.address == token))


def _reply(token, text, agent_email):
    ticket = _ticket_of(token)
    agent = db.session.scalar(select(User).where(User.email == agent_email))
    message = sending.queue(ticket, agent, text)
    after_commit.commit()
    return message.id


def test_CHN_5_RTM_1_CHN_3_agent_answer_reaches_that_visitor_only(app, client, world, sockets):
    _agent, visitor = sockets
    one = new_visitor(client, world, text="Sou o visitante 1")["token"]
    two = new_visitor(client, world, text="Sou o visitante 2")["token"]
    sc_one, sc_two = visitor(world.key, one), visitor(world.key, two)
    assert sc_one.is_connected(NS) and sc_two.is_connected(NS)
    sc_one.get_received(NS), sc_two.get_received(NS)

    with app.app_context():  # eager queue: saved, queued, delivered by the WebchatAdapter
        message_id = _reply(one, "Olá, visitante 1!", world.agents["support"])
        assert db.session.get(Message, message_id).status == SENT

    got = events(sc_one, "message", NS)
    assert [(m["id"], m["text"], m["author"], m["direction"]) for m in got] == [
        (message_id, "Olá, visitante 1!", "Ana Suporte", "out")]
    assert sc_two.get_received(NS) == []
    texts = [m["text"] for m in conversation(client, world.key, one).get_json()["messages"]]
    assert texts == ["Sou o visitante 1", "Olá, visitante 1!"]
    assert "Olá, visitante 1!" not in str(conversation(client, world.key, two).get_json())


def test_CHN_5_agent_name_hidden_when_the_company_hides_it(app, client, world, sockets):
    _agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    sc = visitor(world.key, token)
    sc.get_received(NS)
    with app.app_context():
        set_show_agent_name(world.company_id, False)
        _reply(token, "Resposta anônima", world.agents["support"])
    assert [m["author"] for m in events(sc, "message", NS)] == [None]
    last = conversation(client, world.key, token).get_json()["messages"][-1]
    assert last["text"] == "Resposta anônima" and last["author"] is None


def test_CHN_5_visitor_message_is_echoed_to_the_visitors_other_tabs(client, world, sockets):
    _agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    other_tab = visitor(world.key, token)
    other_tab.get_received(NS)
    r = say(client, world.key, token, "Escrevi em outra aba")
    assert [m["id"] for m in events(other_tab, "message", NS)] == [r.get_json()["message"]["id"]]


def test_CHN_5_RTM_1_a_failed_automation_step_does_not_cost_the_message_its_pushes(
        app, client, world, sockets, monkeypatch, caplog):
    """An automation step that fails is rolled back alone (its savepoint): the visitor's
    message is stored and still reaches, live, the agent who has the conversation open
    and the visitor's other tabs (a savepoint's rollback used to drop every push queued
    in the transaction)."""
    from backoffice.automation import rules as automation_rules

    agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    with app.app_context():
        ticket_id = _ticket_of(token).id
    support = agent(world.agents["support"])
    assert support.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": True}
    support.get_received()
    other_tab = visitor(world.key, token)
    other_tab.get_received(NS)

    def broken(*_args, **_kwargs):
        db.session.execute(select(func.count()).select_from(Ticket))  # inside its savepoint
        raise RuntimeError("regra quebrada")

    monkeypatch.setattr(automation_rules, "fire", broken)
    r = say(client, world.key, token, "Chegou mesmo assim?")
    assert r.status_code == 201
    sent = r.get_json()["message"]["id"]
    assert "automation step rules failed" in caplog.text
    pushed = support.get_received()
    assert [e["args"][0]["id"] for e in pushed if e["name"] == "message.created"] == [sent]
    assert [e["args"][0]["preview"] for e in pushed
            if e["name"] == "ticket.updated"] == ["Chegou mesmo assim?"]
    assert [m["id"] for m in events(other_tab, "message", NS)] == [sent]


def test_CHN_3_queued_answer_reaches_the_visitor_only_once_sent(app, client, world, monkeypatch):
    token = new_visitor(client, world)["token"]
    with app.app_context():
        monkeypatch.setattr(sending, "enqueue", lambda message_id: False)  # queue down
        message_id = _reply(token, "Ainda na fila", world.agents["support"])
        assert db.session.get(Message, message_id).status == QUEUED
    assert "Ainda na fila" not in str(conversation(client, world.key, token).get_json())
    monkeypatch.undo()
    with app.app_context():
        assert sending.deliver(message_id) == "sent"
    assert conversation(client, world.key, token).get_json()["messages"][-1]["text"] == "Ainda na fila"


def test_CHN_5_receipts_move_status_for_own_messages_only(app, client, world, sockets):
    _agent, visitor = sockets
    one = new_visitor(client, world)["token"]
    two = new_visitor(client, world)["token"]
    with app.app_context():
        answer = _reply(one, "Resposta", world.agents["support"])
        inbound = db.session.scalar(select(Message.id).where(Message.direction == IN).order_by(Message.id))
    sc_one, sc_two = visitor(world.key, one), visitor(world.key, two)

    # another visitor cannot acknowledge it
    assert sc_two.emit("ack", {"id": answer, "status": "read"}, namespace=NS, callback=True) == {
        "ok": True, "changed": False}
    # nor can anyone acknowledge an incoming message
    assert sc_one.emit("ack", {"id": inbound, "status": "read"}, namespace=NS,
                       callback=True)["changed"] is False
    with app.app_context():
        assert db.session.get(Message, answer).status == SENT

    assert sc_one.emit("ack", {"id": answer, "status": "delivered"}, namespace=NS,
                       callback=True)["changed"] is True
    with app.app_context():
        m = db.session.get(Message, answer)
        assert m.status == DELIVERED and m.delivered_at is not None
    assert sc_one.emit("ack", {"id": answer, "status": "read"}, namespace=NS,
                       callback=True)["changed"] is True
    # statuses only move forward
    assert sc_one.emit("ack", {"id": answer, "status": "delivered"}, namespace=NS,
                           callback=True)["changed"] is False
    with app.app_context():
        assert db.session.get(Message, answer).status == READ
    assert conversation(client, world.key, one).get_json()["messages"][-1]["read"] is True

    for bad in ("x", None, [answer], {"id": "abc", "status": "read"}, {"id": 10**40, "status": "read"},
                {"id": answer, "status": "sent"}, {"id": True, "status": "read"}, {}):
        reply = sc_one.emit("ack", bad, namespace=NS, callback=True)
        assert not reply.get("changed")


def test_CHN_5_receipt_sent_the_instant_the_answer_arrives_is_kept(app, client, world, sockets,
                                                                    monkeypatch):
    """The widget acknowledges as soon as the message reaches it; the answer is emitted
    only once it is committed as sent, so that receipt is not lost to the delivery job."""
    _agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    sc = visitor(world.key, token)
    original = socketio.emit
    replies = []

    def emit_and_ack_at_once(event, *args, **kwargs):
        original(event, *args, **kwargs)
        if event == "message" and kwargs.get("namespace") == NS and args[0]["direction"] == "out":
            replies.append(sc.emit("ack", {"id": args[0]["id"], "status": "read"}, namespace=NS,
                                   callback=True))

    monkeypatch.setattr(socketio, "emit", emit_and_ack_at_once)
    with app.app_context():
        answer = _reply(token, "Resposta", world.agents["support"])
    assert replies == [{"ok": True, "changed": True}]
    with app.app_context():
        assert db.session.get(Message, answer).status == READ


def test_CHN_5_RTM_1_receipt_reaches_the_agents_conversation(app, client, world, sockets):
    agent, visitor = sockets
    token = new_visitor(client, world)["token"]
    with app.app_context():
        answer = _reply(token, "Resposta", world.agents["support"])
        ticket_id = _ticket_of(token).id
    support = agent(world.agents["support"])
    assert support.emit("ticket.join", {"id": ticket_id}, callback=True) == {"ok": True}
    sc = visitor(world.key, token)
    sc.emit("ack", {"id": answer, "status": "read"}, namespace=NS, callback=True)
    statuses = events(support, "message.status_changed")
    assert [(s["id"], s["status"]) for s in statuses] == [(answer, READ)]


# --- finished tickets ------------------------------------------------------------------------------


def test_CHN_5_finished_ticket_answers_409_and_a_new_start_opens_a_new_one(app, client, world):
    token = new_visitor(client, world)["token"]
    with app.app_context():
        ticket = _ticket_of(token)
        agent = db.session.scalar(select(User).where(User.email == world.agents["support"]))
        tickets.close(ticket, agent)
        after_commit.commit()
        before = count(Message)
    r = say(client, world.key, token, "Ainda estão aí?")
    assert r.status_code == 409
    assert r.get_json()["error"] == ("Seu atendimento foi finalizado. Escolha um departamento "
                                     "para iniciar um novo.")
    data = conversation(client, world.key, token).get_json()
    assert data["ticket"]["status"] == CLOSED and data["ticket"]["open"] is False
    with app.app_context():
        assert count(Message) == before

    r = start(client, world.key, token=token, department_id=world.departments["sales"],
              text="Ainda estão aí?")
    assert r.status_code == 201
    data = r.get_json()
    assert data["token"] == token and data["ticket"]["open"] is True
    assert [m["text"] for m in data["messages"]] == ["Ainda estão aí?"]
    with app.app_context():
        assert count(Ticket) == 2 and count(Contact) == 1
        newest = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()))
        assert newest.department_id == world.departments["sales"]


# --- floods ---------------------------------------------------------------------------------------------


def test_CHN_5_flood_of_visitor_messages_is_429_and_nothing_earlier_is_lost(app, client, world):
    app.config["WEBCHAT_RATE_LIMIT"] = "3/60,100/600"
    token = new_visitor(client, world, text="msg 0")["token"]  # start is limited per IP
    codes = [say(client, world.key, token, f"msg {i}").status_code for i in range(1, 6)]
    assert codes == [201, 201, 201, 429, 429]
    r = say(client, world.key, token, "msg 6")
    assert r.status_code == 429
    assert r.get_json() == {"error": "Muitas mensagens em pouco tempo. Aguarde alguns segundos "
                                     "e tente de novo."}
    assert 0 < int(r.headers["Retry-After"]) <= 61
    texts = [m["text"] for m in conversation(client, world.key, token).get_json()["messages"]]
    assert texts == ["msg 0", "msg 1", "msg 2", "msg 3"]


def test_CHN_5_new_conversations_are_limited_per_address(app, client, world):
    app.config["WEBCHAT_START_RATE_LIMIT"] = "2/60"
    codes = [start(client, world.key, department_id=world.departments["sales"], text="Oi").status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]
    with app.app_context():
        assert count(Ticket) == 2


def test_CHN_5_start_limit_trusts_forwarded_for_only_behind_configured_proxies(app, client, world):
    app.config["WEBCHAT_START_RATE_LIMIT"] = "1/60"

    def start_from(forwarded):
        return client.post(api(world.key, "start"), headers={"X-Forwarded-For": forwarded},
                           json={"department_id": world.departments["sales"], "text": "Oi"})

    # no proxy configured: a forged header does not buy a fresh limit
    assert [start_from(f"10.0.0.{i}").status_code for i in range(2)] == [201, 429]
    # one proxy: the address it appended is the visitor's
    app.config["WEBCHAT_PROXY_HOPS"] = 1
    assert start_from("1.1.1.1, 200.1.1.1").status_code == 201
    assert start_from("9.9.9.9, 200.1.1.1").status_code == 429
    assert start_from("1.1.1.1, 200.1.1.2").status_code == 201


def frame_data(client, key) -> dict:
    """The data the chat frame page hands frame.js (#wc-data)."""
    html = client.get(f"/widget/{key}/").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="wc-data">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def start_in_browser(key, department_id, text, browser=None, client=None):
    """A new visitor's start as frame.js sends it: with the key its frame page gave it."""
    headers = {"X-Visitor-Browser": browser} if browser else {}
    return client.post(api(key, "start"), headers=headers,
                       json={"department_id": department_id, "text": text})


BUSY = "Muitas mensagens em pouco tempo. Aguarde alguns segundos e tente de novo."


def test_CHN_5_an_office_behind_one_address_is_not_locked_out_by_the_start_limit(app, world,
                                                                                 clock):
    """Issue 17 point 4, with the default limits: fifty people of one office, fifty
    browsers behind one IP address, each load the chat and open a conversation within a
    minute, and each gets one. A script that posts starts without ever loading the chat
    (no key, a forged key, another chat's key) is limited per address as before: 429 with
    the Portuguese message and Retry-After. (The limiter's clock stands still: all of it
    happens within one minute.)"""
    client = app.test_client()  # every request from 127.0.0.1
    people = []
    for i in range(50):
        browser = frame_data(client, world.key)["browser"]
        r = start_in_browser(world.key, world.departments["sales"], f"Olá, sou a pessoa {i}",
                             browser, client)
        assert r.status_code == 201, (i, r.get_json())
        people.append(r.get_json()["token"])
    assert len(set(people)) == 50
    with app.app_context():
        assert count(Ticket) == 50 and count(Contact) == 50

    signed = frame_data(client, world.key)["browser"]
    # a character inside the signature: the last one's low bits are base64 padding, so
    # "...xw" and "...xx" are the same signature (a forgery that passed once in 1024 runs)
    forged = signed[:-5] + ("A" if signed[-5] != "A" else "B") + signed[-4:]
    foreign = frame_data(client, world.other_key)["browser"]
    codes = [start_in_browser(world.key, world.departments["sales"], f"spam {i}",
                              [None, forged, foreign][i % 3], client).status_code
             for i in range(11)]
    assert codes == [201] * 10 + [429]
    r = start_in_browser(world.key, world.departments["sales"], "spam", None, client)
    assert r.status_code == 429
    assert r.get_json() == {"error": BUSY}
    assert 0 < int(r.headers["Retry-After"]) <= 61
    with app.app_context():
        assert count(Ticket) == 60


def test_CHN_5_one_browser_and_one_address_still_have_start_limits(app, client, world, clock):
    """A browser's key is not a free pass: the same key opens at most
    WEBCHAT_START_RATE_LIMIT conversations, and all browsers behind one address together
    at most WEBCHAT_ADDRESS_START_RATE_LIMIT; a visitor who already has a conversation
    starts the next one under their own message limit, not the address's."""
    app.config["WEBCHAT_START_RATE_LIMIT"] = "2/60"
    app.config["WEBCHAT_ADDRESS_START_RATE_LIMIT"] = "4/60"
    sales = world.departments["sales"]
    one = frame_data(client, world.key)["browser"]
    assert [start_in_browser(world.key, sales, "Oi", one, client).status_code
            for _ in range(3)] == [201, 201, 429]
    others = [frame_data(client, world.key)["browser"] for _ in range(3)]
    assert [start_in_browser(world.key, sales, "Oi", b, client).status_code
            for b in others] == [201, 201, 429]  # the address's 3rd, 4th, 5th: 5 > 4
    with app.app_context():
        assert count(Ticket) == 4
        visitor = db.session.scalar(select(ContactAddress).order_by(ContactAddress.id))
        ticket = _ticket_of(visitor.address)
        agent = db.session.scalar(select(User).where(User.email == world.agents["sales"]))
        tickets.close(ticket, agent)
        after_commit.commit()
        token = visitor.address
    r = start(client, world.key, token=token, department_id=sales, text="De novo")
    assert r.status_code == 201 and r.get_json()["token"] == token


def test_CHN_5_start_and_message_limits_come_from_the_environment(app, client, world,
                                                                   monkeypatch, clock):
    """WEBCHAT_START_RATE_LIMIT, WEBCHAT_ADDRESS_START_RATE_LIMIT and WEBCHAT_RATE_LIMIT
    set in the environment are the limits (read as create_app reads its settings:
    backoffice.config.load)."""
    from backoffice import config as settings

    monkeypatch.setenv("WEBCHAT_START_RATE_LIMIT", "1/60")
    monkeypatch.setenv("WEBCHAT_ADDRESS_START_RATE_LIMIT", "1/60")
    monkeypatch.setenv("WEBCHAT_RATE_LIMIT", "2/60")
    loaded = settings.load(app.instance_path)
    for name in ("WEBCHAT_START_RATE_LIMIT", "WEBCHAT_ADDRESS_START_RATE_LIMIT",
                 "WEBCHAT_RATE_LIMIT"):
        app.config[name] = loaded[name]
    sales = world.departments["sales"]
    first = start_in_browser(world.key, sales, "Oi", None, client)
    assert first.status_code == 201
    assert start_in_browser(world.key, sales, "Oi", None, client).status_code == 429
    browser = frame_data(client, world.key)["browser"]
    assert [start_in_browser(world.key, sales, "Oi", browser, client).status_code
            for _ in range(2)] == [201, 429]
    # another browser of the same address: the address's one start a minute is taken
    other = frame_data(client, world.key)["browser"]
    assert other != browser
    assert start_in_browser(world.key, sales, "Oi", other, client).status_code == 429
    token = first.get_json()["token"]
    assert [say(client, world.key, token, f"m{i}").status_code for i in range(3)] == [201, 201, 429]


def test_CHN_5_rate_limit_counts_in_process_when_redis_is_down(app, client, world, monkeypatch):
    app.config["WEBCHAT_RATE_LIMIT"] = "2/60"
    token = new_visitor(client, world)["token"]

    def broken():
        raise redis.exceptions.ConnectionError("Redis fora do ar")

    monkeypatch.setattr(ratelimit, "_client", broken)
    codes = [say(client, world.key, token, f"m{i}").status_code for i in range(3)]
    assert codes == [201, 201, 429]  # accepted while Redis is down, and still limited


# --- bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n ", None, 42, ["oi"]])
def test_CHN_5_empty_message_is_refused_and_nothing_saved(app, client, world, text):
    r = start(client, world.key, department_id=world.departments["sales"], text=text)
    assert r.status_code == 400 and r.get_json()["error"] == "Escreva uma mensagem."
    token = new_visitor(client, world)["token"]
    r = say(client, world.key, token, text)
    assert r.status_code == 400 and r.get_json()["error"] == "Escreva uma mensagem."
    with app.app_context():
        assert count(Message) == 1 and count(Ticket) == 1 and count(Contact) == 1


def test_CHN_5_too_long_message_is_refused(app, client, world):
    token = new_visitor(client, world)["token"]
    r = say(client, world.key, token, "a" * 4097)
    assert r.status_code == 400 and "4096" in r.get_json()["error"]


def test_CHN_5_attachment_is_kept_and_downloaded_by_its_visitor_only(app, client, world):
    token = new_visitor(client, world)["token"]
    other = new_visitor(client, world)["token"]
    r = say(client, world.key, token, data={"text": "segue a foto", "file": png_file()},
            content_type="multipart/form-data")
    assert r.status_code == 201
    message = r.get_json()["message"]
    assert message["attachment"] == {"name": "foto.png", "mime": "image/png", "kind": "image"}

    url = api(world.key, f"attachments/{message['id']}")
    got = client.get(url, headers={"X-Visitor-Token": token})
    assert got.status_code == 200 and got.data == PNG
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(url, headers={"X-Visitor-Token": other}).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get(api(world.other_key, f"attachments/{message['id']}"),
                      headers={"X-Visitor-Token": token}).status_code == 401


def test_CHN_5_start_with_an_attachment(app, client, world):
    r = client.post(api(world.key, "start"), data={
        "department_id": str(world.departments["sales"]), "text": "", "name": "Zé",
        "file": png_file("comprovante.png")}, content_type="multipart/form-data")
    assert r.status_code == 201
    assert r.get_json()["messages"][0]["attachment"]["name"] == "comprovante.png"


@pytest.mark.parametrize("case", ["oversize", "exe", "renamed_text"])
def test_CHN_5_oversize_or_disallowed_file_is_refused_and_nothing_saved(app, client, world, case):
    app.config["MESSAGE_MAX_BYTES"] = 1024
    token = new_visitor(client, world)["token"]
    file = {"oversize": png_file(size=2000),
            "exe": (io.BytesIO(b"MZ\x90\x00" * 10), "programa.exe"),
            "renamed_text": (io.BytesIO(b"isto nao e uma imagem"), "foto.png")}[case]
    r = say(client, world.key, token, data={"text": "veja", "file": file},
            content_type="multipart/form-data")
    assert r.status_code == 400
    error = r.get_json()["error"]
    if case == "oversize":
        assert error == "Arquivo grande demais: máximo 1 KB"
    else:
        assert error.startswith("Tipo de arquivo não permitido")
    with app.app_context():
        assert count(Message) == 1
    uploads = app.instance_path + "/uploads"
    import os

    assert not os.path.exists(uploads) or not any(files for _, _, files in os.walk(uploads))


def test_CHN_5_request_over_the_size_limit_is_json_413_in_portuguese(app, client, world):
    token = new_visitor(client, world)["token"]
    app.config["MAX_CONTENT_LENGTH"] = 4096
    r = say(client, world.key, token, data={"text": "grande", "file": png_file(size=20000)},
            content_type="multipart/form-data")
    assert r.status_code == 413
    assert r.get_json()["error"].startswith("Arquivo grande demais")
    with app.app_context():
        assert count(Message) == 1


def test_CHN_5_malformed_requests_are_never_500(app, client, world):
    token = new_visitor(client, world)["token"]
    h = {"X-Visitor-Token": token}
    k = world.key
    answers = [
        client.post(api(k, "start"), data="{não é json", content_type="application/json"),
        client.post(api(k, "start"), json=["lista"]),
        client.post(api(k, "start"), json="texto"),
        client.post(api(k, "start"), json={"department_id": {"a": 1}, "text": "Oi"}),
        client.post(api(k, "start"), json={"department_id": world.departments["sales"], "text": "Oi",
                                           "email": "não-é-email"}),
        client.post(api(k, "start"), json={"department_id": world.departments["sales"], "text": "Oi",
                                           "name": ["x"], "email": 5}),
        client.post(api(k, "messages"), data="{", content_type="application/json", headers=h),
        client.post(api(k, "messages"), json={"text": {"a": 1}}, headers=h),
        client.post(api(k, "messages"), data=b"\xff\xfe", content_type="text/plain", headers=h),
        client.get(api(k, "attachments/99999999999999999999999"), headers=h),
        client.get(api(k, "attachments/0"), headers=h),
        # routing errors happen before the blueprint: JSON because the frame asks for it
        client.get(api(k, "start"), headers={"Accept": "application/json"}),
        client.get(api(k, "nada"), headers={"Accept": "application/json"}),
        client.get(api(k, "conversation"), headers={"X-Visitor-Token": "x" * 500}),
        client.get(api(k, "conversation"), headers={"X-Visitor-Token": "' or 1=1 --"}),
        client.get("/widget/" + "k" * 300 + "/"),
        client.get("/widget/%00%ff/api/config"),
    ]
    codes = [r.status_code for r in answers]
    assert all(400 <= c < 500 for c in codes), codes
    for r in answers:
        if r.request.path.endswith(("/start", "/messages")) or "/api/" in r.request.path:
            assert r.is_json and r.get_json().get("error"), (r.request.path, r.data[:200])
    with app.app_context():
        assert count(Message) == 1


def test_CHN_5_visitor_of_another_company_in_the_same_browser_writes_to_the_chats_company(
        app, client, world):
    """A browser that also holds an agent's session of company B can still use company
    A's widget: the rows belong to the connection's company (no tenant error)."""
    assert login(client, world.agents["other_company"]).status_code == 302
    r = start(client, world.key, department_id=world.departments["sales"], text="Oi")
    assert r.status_code == 201
    with app.app_context():
        assert db.session.scalar(select(Ticket.company_id)) == world.company_id


# --- MSG-5 --------------------------------------------------------------------------------------------------


def test_MSG_5_html_in_visitor_text_is_stored_and_returned_as_raw_text(app, client, world):
    data = new_visitor(client, world, text=XSS, name="<b>Maria</b>")
    assert data["messages"][0]["text"] == XSS
    r = say(client, world.key, data["token"], XSS + " de novo")
    assert r.get_json()["message"]["text"] == XSS + " de novo"
    assert [m["text"] for m in conversation(client, world.key, data["token"]).get_json()["messages"]] == [
        XSS, XSS + " de novo"]
    with app.app_context():
        assert db.session.scalar(select(Message.text).order_by(Message.id)) == XSS
        assert db.session.scalar(select(Contact.name)) == "<b>Maria</b>"
    # the frame never renders messages on the server, and puts them in with textContent
    frame_js = client.get("/static/webchat/frame.js").get_data(as_text=True)
    code = "\n".join(line for line in frame_js.splitlines()
                     if not line.lstrip().startswith(("*", "/*", "//")))
    assert "innerHTML" not in code and "insertAdjacentHTML" not in code
    assert "text.textContent = m.text" in code


def test_CHN_5_a_resent_message_is_stored_once(app, client, world, monkeypatch, timeline):
    """Issue 17 point 4: the widget names each message (`client_id`) and sends the same id
    again when the visitor resends after a failure. A message whose first try was stored
    although its answer was lost is stored once: on the open ticket (even when the resend
    races the first try past the check), and for a first message, whose visitor had no
    token yet (the same visitor comes back, not a second one, within 10 minutes). One
    visitor's id never matches another's; a malformed id is a clear 400."""
    from datetime import datetime

    from sqlalchemy.exc import IntegrityError

    from backoffice.channels.webchat import visitor as rules

    def say(client, key, token, json):
        return client.post(api(key, "messages"), json=json, headers={"X-Visitor-Token": token})

    timeline.set(datetime(2026, 12, 1, 12, 0))
    first = new_visitor(client, world, text="Quero um orçamento", client_id="start-0001")
    again = new_visitor(client, world, text="Quero um orçamento", client_id="start-0001")
    assert again["token"] == first["token"]
    token = first["token"]
    sent = say(client, world.key, token, json={"text": "Para 3 óculos", "client_id": "msg-00001"})
    resent = say(client, world.key, token, json={"text": "Para 3 óculos", "client_id": "msg-00001"})
    assert sent.status_code == resent.status_code == 201
    assert resent.get_json()["message"]["id"] == sent.get_json()["message"]["id"]
    other = new_visitor(client, world, text="Oi", client_id="start-0002")
    theirs = say(client, world.key, other["token"], json={"text": "Para 3 óculos",
                                                          "client_id": "msg-00001"})
    assert theirs.get_json()["message"]["id"] != sent.get_json()["message"]["id"]
    bad = say(client, world.key, token, json={"text": "Oi", "client_id": "<script>"})
    assert bad.status_code == 400
    assert bad.get_json() == {"error": "Identificador da mensagem inválido."}

    # the race: the resend gets past receive_inbound's check before the first try commits
    def racing(connection, inbound, department=None):
        ticket = tickets.open_ticket_of(rules.find_visitor(connection, inbound.address).contact,
                                        connection)
        return tickets.receive(ticket, inbound.text, external_id=inbound.external_id)

    monkeypatch.setattr(rules.tickets, "receive_inbound", racing)
    raced = say(client, world.key, token, json={"text": "Para 3 óculos", "client_id": "msg-00001"})
    assert raced.status_code == 201
    assert raced.get_json()["message"]["id"] == sent.get_json()["message"]["id"]
    monkeypatch.undo()
    with app.app_context():
        texts = [m.text for m in db.session.scalars(
            select(Message).join(Ticket).join(ContactAddress, ContactAddress.contact_id == Ticket.contact_id)
            .where(ContactAddress.address == token).order_by(Message.id))]
        assert texts == ["Quero um orçamento", "Para 3 óculos"]
        assert count(ContactAddress) == 2
        stored = db.session.get(Message, sent.get_json()["message"]["id"])
        db.session.add(Message(company_id=stored.company_id, ticket_id=stored.ticket_id,
                               direction=IN, author_kind="contact", text="x",
                               external_id=stored.external_id))
        with pytest.raises(IntegrityError):  # the database itself refuses the second
            db.session.flush()
        db.session.rollback()

    timeline.advance(minutes=11)  # past the window: the id proves nothing more
    late = new_visitor(client, world, text="Quero um orçamento", client_id="start-0001")
    assert late["token"] != token


def test_CHN_5_a_resent_message_with_a_file_is_stored_once(app, client, world):
    """Issue 17 point 4: a message with a file (a form, whose body is not read before the
    visitor's rate limit, so its client id is checked by a statement of its own) sent
    again with the same client id is stored once; a JSON resend of an id first sent with
    a file finds it too (the id is checked with the visitor, SCL-3)."""
    token = new_visitor(client, world)["token"]

    def send(**body):
        return client.post(api(world.key, "messages"), headers={"X-Visitor-Token": token},
                           data={"text": "segue", "client_id": "file-0001", **body},
                           content_type="multipart/form-data")

    first, again = send(file=png_file()), send(file=png_file())
    assert first.status_code == again.status_code == 201
    assert again.get_json()["message"]["id"] == first.get_json()["message"]["id"]
    as_json = client.post(api(world.key, "messages"), headers={"X-Visitor-Token": token},
                          json={"text": "segue", "client_id": "file-0001"})
    assert as_json.status_code == 201
    assert as_json.get_json()["message"]["id"] == first.get_json()["message"]["id"]
    with app.app_context():
        files = db.session.scalars(select(Message.file_name).join(Ticket).join(
            ContactAddress, ContactAddress.contact_id == Ticket.contact_id)
            .where(ContactAddress.address == token, Message.file_name.is_not(None))).all()
        assert files == ["foto.png"]


def test_CHN_5_SCL_2_a_connection_lost_under_the_request_is_a_503_to_retry_not_a_500(
        app, client, world):
    """The database restarts (or fails over) while the web process keeps connections from
    before: the first request to take one finds it dead. The visitor gets a 503 with
    Retry-After and the Portuguese busy message, which the widget sends again by itself
    with the same client id; the message is then stored once. Not "Erro interno", and
    one lost request, not one per connection the process kept."""
    from backoffice.extensions import db

    token = new_visitor(client, world)["token"]
    body = {"text": "Chegou durante o reinício do banco", "client_id": "cid-reinicio-1"}
    with app.app_context():
        assert lose_the_pools_connections(db.engine) >= 2
    r = client.post(api(world.key, "messages"), json=body, headers={"X-Visitor-Token": token})
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["error"] == "O servidor está ocupado. Tente de novo em instantes."

    again = client.post(api(world.key, "messages"), json=body, headers={"X-Visitor-Token": token})
    assert again.status_code == 201, again.get_json()
    texts = [m["text"] for m in conversation(client, world.key, token).get_json()["messages"]]
    assert texts.count("Chegou durante o reinício do banco") == 1


def test_CHN_5_a_busy_database_is_a_503_to_retry_not_a_500(app, client, world, monkeypatch):
    """Under heavy load SQLite (the embedded default) may give up a write past its busy
    timeout. The visitor gets a 503 with Retry-After and a Portuguese message (the widget
    sends the message again with the same client id), nothing half-saved, not a 500."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from backoffice.channels.webchat import visitor

    token = new_visitor(client, world)["token"]
    before = len(client.get(f"/widget/{world.key}/api/conversation",
                            headers={"X-Visitor-Token": token}).get_json()["messages"])

    def locked(*_args, **_kwargs):
        raise OperationalError("INSERT INTO message ...", {}, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(visitor, "say", locked)
    r = say(client, world.key, token, "Oi de novo")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.get_json()["error"] == "O servidor está ocupado. Tente de novo em instantes."
    monkeypatch.undo()
    after = client.get(f"/widget/{world.key}/api/conversation", headers={"X-Visitor-Token": token})
    assert len(after.get_json()["messages"]) == before
