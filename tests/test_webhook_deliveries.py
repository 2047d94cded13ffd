"""WHK-1 webhook deliveries: every subscribed event reaches the company's URL once, signed
(verified with the documentation's own Python snippet), in order per ticket, retried on the
documented schedule, never redirected, logged on "Entregas de webhooks" with "Reenviar",
and "Testar" pings; 24 hours of failures switch a webhook off and tell its admins; the
outbox keeps every event while the queue is down; PLT-1: another company's webhook hears
nothing. The receiver is pytest-httpserver (ALLOW_PRIVATE_URLS is on in tests); jobs run
eagerly; time moves with the `timeline` fixture, never with sleep."""
from __future__ import annotations

import html

import json
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug import Response

from backoffice.extensions import db
from backoffice.jobs import tasks
from backoffice.lib import after_commit
from backoffice.models import Connection, Department, Ticket, User, Webhook
from backoffice.models.webhooks import WebhookDelivery
from backoffice.models import data_jobs as states
from backoffice.services import data_jobs, mail, sending, tickets
from backoffice.webhooks import delivery, signing
from tests.conftest import client_as, flashes
from tests.factories import gen_company, gen_group, gen_user, gen_webhook

ALL = ["ticket.created", "ticket.status_changed", "ticket.closed", "message.created",
       "message.failed", "contact.created", "contact.updated", "contact.deleted"]
SECRET = "segredo-de-teste-0123456789"


class Receiver:
    """The integrator's endpoint: answers `status` (a number, or a callable of the path),
    and keeps what it accepted with 2xx."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.status = 200
        self.accepted: list[dict] = []
        self.requests: list[str] = []
        httpserver.expect_request(re.compile(r"/.*")).respond_with_handler(self._handle)

    def _handle(self, request):
        self.requests.append(request.path)
        status = self.status(request.path) if callable(self.status) else self.status
        if status == 302:
            return Response("", status=302, headers={"Location": self.url("/destino-final")})
        if status >= 300:
            return Response("fora do ar " * 200, status=status)
        self.accepted.append({"path": request.path, "headers": dict(request.headers),
                              "raw": request.get_data(), "body": json.loads(request.get_data())})
        return Response('{"recebido": true}', status=status, content_type="application/json")

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def events(self, path: str = "/a") -> list[str]:
        return [r["body"]["type"] for r in self.accepted if r["path"] == path]


@pytest.fixture
def receiver(httpserver):
    return Receiver(httpserver)


@pytest.fixture
def world(app, receiver):
    """Company A (admin, agent, webchat connection, department) with a webhook on /a for
    every event; company B with one on /b for every event too."""
    with app.app_context():
        ids = {}
        for key in ("a", "b"):
            company, admin = gen_company(f"Empresa {key.upper()}", f"admin-{key}@example.com")
            agent = gen_user(company, f"agente-{key}@example.com",
                             gen_group(company, "Atendentes", ["inbox.view", "inbox.supervise"]))
            department = Department(company_id=company.id, name="Suporte", order=1)
            connection = Connection(company_id=company.id, name="Site", kind="webchat")
            hook = gen_webhook(company, f"CRM {key.upper()}", receiver.url(f"/{key}"), ALL,
                               secret=SECRET)
            db.session.add_all([department, connection])
            db.session.commit()
            ids[key] = {"company": company.id, "agent": agent.id, "department": department.id,
                        "connection": connection.id, "webhook": hook.id, "admin": admin.id}
        return ids


def conversation(app, world, visitor="visitante-1", close=True) -> int:
    """A customer writes twice, the agent accepts, answers and closes: in three commits."""
    with app.app_context():
        connection = db.session.get(Connection, world["a"]["connection"])
        agent = db.session.get(User, world["a"]["agent"])
        contact = tickets.contact_for(connection, visitor, "Maria Cliente")
        ticket = tickets.open_ticket(contact, connection,
                                     db.session.get(Department, world["a"]["department"]))
        tickets.receive(ticket, "Oi")
        after_commit.commit()
        tickets.receive(ticket, "Preciso de ajuda")
        tickets.accept(ticket, agent)
        after_commit.commit()
        sending.queue(ticket, agent, "Claro!")
        after_commit.commit()
        if close:
            tickets.close(db.session.get(Ticket, ticket.id), agent)
            after_commit.commit()
        return ticket.id


def rows(app, **where) -> list[WebhookDelivery]:
    with app.app_context():
        q = select(WebhookDelivery).order_by(WebhookDelivery.id)
        for key, value in where.items():
            q = q.where(getattr(WebhookDelivery, key) == value)
        found = list(db.session.scalars(q))
        db.session.expunge_all()
        return found


def sweep(app) -> int:
    with app.app_context():
        return delivery.sweep()


EXPECTED = ["contact.created", "ticket.created", "message.created", "message.created",
            "ticket.status_changed", "message.created", "ticket.status_changed", "ticket.closed"]


def test_WHK_1_signed_delivery_verifies_with_the_docs_python_snippet(app, world, receiver):
    """WHK-1: body (id, type, created_at, company_id, data) and headers; the signature is
    checked by the exact PYTHON_SNIPPET of the docs page, which refuses a tampered body and
    an old timestamp. PLT-1: company B's webhook receives none of A's events."""
    ticket_id = conversation(app, world)
    assert receiver.events("/a") == EXPECTED
    assert receiver.events("/b") == [] and not rows(app, company_id=world["b"]["company"])

    first = receiver.accepted[1]  # ticket.created
    body, headers = first["body"], first["headers"]
    assert set(body) == {"id", "type", "created_at", "company_id", "data"}
    assert body["company_id"] == world["a"]["company"] and body["created_at"].endswith("Z")
    assert body["data"]["ticket"]["id"] == ticket_id
    assert body["data"]["ticket"]["contact"]["name"] == "Maria Cliente"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Atende-Event"] == "ticket.created"
    assert headers["X-Atende-Delivery"] == body["id"]
    assert headers["User-Agent"].startswith("Atende-Webhooks/")
    message = receiver.accepted[2]["body"]["data"]
    assert message["message"]["text"] == "Oi" and message["ticket"]["id"] == ticket_id

    # the snippet as an integrator copies it from /api/docs
    page = app.test_client().get("/api/docs").text
    shown = re.search(r'data-testid="python-snippet"><code>(.*?)</code>', page, re.S).group(1)
    assert html.unescape(shown) == signing.PYTHON_SNIPPET
    namespace: dict = {}
    exec(html.unescape(shown), namespace)  # noqa: S102 - the documented snippet itself
    verify = namespace["verify"]
    header = headers["X-Atende-Signature"]
    assert verify(SECRET, header, first["raw"]) is True
    assert verify(SECRET, header, first["raw"].replace(b"Maria", b"Mario")) is False
    assert verify("outro-segredo", header, first["raw"]) is False
    old = signing.sign(SECRET, first["raw"], int(time.time()) - 3600)
    assert verify(SECRET, old, first["raw"]) is False
    # the log: every row delivered after one attempt, with the answer kept
    log = rows(app, webhook_id=world["a"]["webhook"])
    assert [r.status for r in log] == ["delivered"] * len(EXPECTED)
    assert log[0].response_status == 200 and log[0].response_body == '{"recebido": true}'


def test_WHK_1_receiver_down_then_up_gets_every_event_once_in_order(app, world, receiver,
                                                                     timeline):
    """WHK-1: while the receiver answers 503 the first event backs off 1 min, 5 min, 30 min
    and the later ones of the ticket wait behind it (none overtakes); when it is back, each
    event arrives exactly once, in the order it happened."""
    receiver.status = 503
    conversation(app, world)
    log = rows(app, webhook_id=world["a"]["webhook"])
    assert [r.event for r in log] == EXPECTED
    contact_row, first, *later = log  # contact.created has an order key of its own
    for row in (contact_row, first):
        assert row.attempts == 1 and row.status == "pending" and row.response_status == 503
        assert row.next_attempt_at == timeline.at + timedelta(seconds=60)
    assert first.response_body == ("fora do ar " * 200)[:1024]  # the first KB
    assert all(r.status == "pending" and r.attempts == 0 for r in later)  # behind the first
    for delay, attempts in ((60, 2), (300, 3)):
        timeline.advance(seconds=delay)
        sweep(app)
        first = rows(app, id=first.id)[0]
        assert first.attempts == attempts
        assert first.next_attempt_at == timeline.at + timedelta(
            seconds=delivery.DEFAULT_RETRY_DELAYS[attempts - 1])
    assert receiver.accepted == []
    receiver.status = 200
    timeline.advance(seconds=1800)
    sweep(app)
    got = receiver.events("/a")
    assert sorted(got) == sorted(EXPECTED)
    ticket_events = [e for e in got if e != "contact.created"]
    assert ticket_events == [e for e in EXPECTED if e != "contact.created"]
    ids = [r["body"]["id"] for r in receiver.accepted]
    assert len(ids) == len(set(ids)) == len(EXPECTED)
    assert {r.status for r in rows(app, webhook_id=world["a"]["webhook"])} == {"delivered"}
    sweep(app)  # nothing left: nothing sent twice
    assert len(receiver.accepted) == len(EXPECTED)


def test_WHK_1_retry_schedule_then_failed_and_24h_of_failures_disables_with_mail(
        app, world, receiver, timeline):
    """WHK-1: 1 min, 5 min, 30 min, 2 h, 12 h between the six attempts, then "failed"; a
    webhook still failing 24 h after its first failure is switched off at the next one,
    its admins get an e-mail in Portuguese, and the list says so."""
    receiver.status = 500
    with app.app_context():
        contact_hook = db.session.get(Webhook, world["a"]["webhook"])
        contact_hook.events = ["contact.created"]
        db.session.commit()
    conversation(app, world, close=False)
    (row,) = rows(app, webhook_id=world["a"]["webhook"])
    gaps = []
    for delay in delivery.DEFAULT_RETRY_DELAYS:
        gaps.append(int((row.next_attempt_at - timeline.at).total_seconds()))
        timeline.advance(seconds=delay)
        sweep(app)
        row = rows(app, id=row.id)[0]
    assert gaps == list(delivery.DEFAULT_RETRY_DELAYS)
    assert row.status == "failed" and row.attempts == 6
    assert receiver.requests.count("/a") == 6
    with app.app_context():
        assert db.session.get(Webhook, world["a"]["webhook"]).active is True  # 14.6 h only
    timeline.advance(hours=10)
    conversation(app, world, visitor="visitante-2", close=False)  # a new contact, at 24.6 h
    with app.app_context():
        hook = db.session.get(Webhook, world["a"]["webhook"])
        assert hook.active is False and hook.disabled_at == timeline.at
        sent = mail.stored()
    assert [m.to for m in sent] == ["admin-a@example.com"]
    assert sent[0].subject == "Webhook desativado: CRM A"
    assert "foi desativado automaticamente" in sent[0].body
    page = client_as(app, "admin-a@example.com").get("/admin/webhooks/").text
    assert "Desativado automaticamente em 02/12/2026 09:36" in page  # São Paulo time


def test_WHK_1_4xx_fails_at_once_and_a_redirect_is_never_followed(app, world, receiver):
    """A 404 is permanent (one attempt, then the next event of the ticket goes), and a 302
    is a refusal: its Location is never requested."""
    receiver.status = lambda path: 404 if path == "/a" else 302
    with app.app_context():
        admin = db.session.get(User, world["a"]["admin"])
        moved = gen_webhook(admin.company, "ERP A", receiver.url("/movido"), ALL)
        db.session.commit()
        moved_id = moved.id
    conversation(app, world, close=False)
    on_a = rows(app, webhook_id=world["a"]["webhook"])
    assert len(on_a) == 6
    assert {(r.status, r.attempts, r.response_status) for r in on_a} == {("failed", 1, 404)}
    assert on_a[0].error == "O destino recusou a mensagem."
    on_b = rows(app, webhook_id=moved_id)
    assert {(r.status, r.attempts, r.response_status) for r in on_b} == {("failed", 1, 302)}
    assert "redirecionamento" in on_b[0].error
    assert "/destino-final" not in receiver.requests


def test_WHK_1_IMP_2_a_contacts_import_announces_each_contact_it_creates_or_changes(
        app, world, receiver, tmp_path):
    """A contacts import (Importar registros) is no back door: each contact it creates is a
    contact.created, each it changes a contact.updated, with the payload a contact saved on
    its own would have (its tags included); a row that changes nothing, a rejected row and
    a second run of the same file announce nothing. A webhook that does not hear contact
    events gets none, and another company's hears nothing (PLT-1)."""
    with app.app_context():
        company = db.session.get(User, world["a"]["admin"]).company
        quiet = gen_webhook(company, "Só atendimentos", receiver.url("/tickets"),
                            ["ticket.created"], secret=SECRET)
        db.session.commit()
        quiet_id = quiet.id

    def run(text: str, update: bool = False, fields=None):
        path = tmp_path / f"contatos-{len(list(tmp_path.iterdir()))}.csv"
        path.write_bytes(text.encode("cp1252"))
        with app.app_context():
            job = data_jobs.import_from_path(db.session.get(User, world["a"]["admin"]), path)
            data_jobs.start_import(job, update, fields)
            db.session.refresh(job)
            assert job.status == states.DONE, job.error
            return {k: getattr(job, k) for k in ("created", "updated", "unchanged", "rejected")}

    first = ("Nome;Telefone;E-mail;Etiquetas\r\n"
             "Ana Lima;(11) 98765-4321;ana@exemplo.com;VIP\r\n"
             "Bruno Reis;(21) 99876-5432;;\r\n"
             "Sem Telefone;123;;\r\n")
    assert run(first) == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    created = [r["body"] for r in receiver.accepted if r["path"] == "/a"]
    assert [b["type"] for b in created] == ["contact.created", "contact.created"]
    ana, bruno = (b["data"]["contact"] for b in created)
    assert (ana["name"], ana["phone"], ana["email"]) == ("Ana Lima", "+5511987654321",
                                                        "ana@exemplo.com")
    assert [t["name"] for t in ana["tags"]] == ["VIP"] and ana["id"] and ana["created_at"]
    assert (bruno["name"], bruno["phone"], bruno["tags"]) == ("Bruno Reis", "+5521998765432", [])
    assert all(b["company_id"] == world["a"]["company"] for b in created)
    assert len({b["id"] for b in created}) == 2  # one event id each

    assert run(first) == {"created": 0, "updated": 0, "unchanged": 2, "rejected": 1}
    assert len(receiver.events("/a")) == 2  # the same file again: nothing changed

    second = ("Nome;Telefone;E-mail\r\n"
              "Ana Lima Souza;(11) 98765-4321;\r\n"        # a new name
              "Bruno Reis;(21) 99876-5432;\r\n"            # as saved
              "Carla Dias;(31) 91234-5678;carla@exemplo.com\r\n")
    assert run(second, update=True, fields=["name"]) == {
        "created": 1, "updated": 1, "unchanged": 1, "rejected": 0}
    later = [r["body"] for r in receiver.accepted if r["path"] == "/a"][2:]
    assert sorted((b["type"], b["data"]["contact"]["name"]) for b in later) == [
        ("contact.created", "Carla Dias"), ("contact.updated", "Ana Lima Souza")]
    updated = next(b for b in later if b["type"] == "contact.updated")["data"]["contact"]
    assert updated["id"] == ana["id"] and [t["name"] for t in updated["tags"]] == ["VIP"]
    assert receiver.events("/b") == [] and receiver.events("/tickets") == []
    assert rows(app, webhook_id=quiet_id) == []


def test_WHK_1_queue_down_when_saving_loses_nothing(app, world, receiver, timeline,
                                                   monkeypatch):
    """The outbox: with Redis down the events are kept as pending rows and the periodic
    sweep delivers them all, in order, once the queue is back."""
    def down(*args, **kwargs):
        raise ConnectionError("Redis fora do ar")

    monkeypatch.setattr(tasks, "enqueue", down)
    conversation(app, world)
    assert receiver.accepted == []
    assert {r.status for r in rows(app, webhook_id=world["a"]["webhook"])} == {"pending"}
    monkeypatch.undo()
    timeline.advance(seconds=31)
    with app.app_context():
        from backoffice.jobs.periodic import run_all

        done = dict((task.what, count) for task, count in run_all())
    assert done["entrega(s) de webhook recolocada(s) na fila"] == len(EXPECTED)
    assert receiver.events("/a") == EXPECTED


def test_WHK_1_resend_and_test_from_the_screens(app, world, receiver):
    """As the company's admin: "Testar" on Webhooks pings and flashes the answer;
    "Reenviar" on Entregas de webhooks sends the same event again (same id); contacts
    created and deleted on Contatos are events too (contact.deleted as it was)."""
    client = client_as(app, "admin-a@example.com")
    hook_id = world["a"]["webhook"]
    listing = client.get("/admin/webhooks/").text
    assert f"/admin/webhook_deliveries/?flt0_0={hook_id}" in listing
    page = client.submit("/admin/webhooks/action/", {"action": "ping", "rowid": str(hook_id)},
                         follow_redirects=True)
    (ping,) = rows(app, event="ping")
    assert any(re.search(r"CRM A: Resposta 200 em \d+ ms$", f) for f in flashes(page.text)), \
        flashes(page.text)
    assert ping.status == "delivered" and receiver.events("/a") == ["ping"]

    created = client.submit("/admin/contacts/new/", {"name": "Joana Prado",
                                                     "email": "joana@example.com"})
    assert created.status_code == 302
    contact = receiver.accepted[-1]["body"]
    assert contact["type"] == "contact.created"
    assert contact["data"]["contact"]["name"] == "Joana Prado"
    contact_id = contact["data"]["contact"]["id"]
    assert client.submit("/admin/contacts/delete/", {"id": str(contact_id)}).status_code == 302
    gone = receiver.accepted[-1]["body"]
    assert gone["type"] == "contact.deleted"
    assert gone["data"]["contact"] == {**contact["data"]["contact"],
                                      "updated_at": gone["data"]["contact"]["updated_at"]}

    first = rows(app, event="contact.created")[0]
    log = client.get(f"/admin/webhook_deliveries/?flt0_0={hook_id}").text
    assert "Contato criado" in log and "Entregue" in log and "Teste (ping)" in log
    details = client.get(f"/admin/webhook_deliveries/details/?id={first.id}").text
    assert "Joana Prado" in details and "{&#34;recebido&#34;: true}" in details
    page = client.submit("/admin/webhook_deliveries/action/",
                         {"action": "resend", "rowid": str(first.id)}, follow_redirects=True)
    assert any(f.endswith("1 entrega reenviada.") for f in flashes(page.text))
    again = receiver.accepted[-1]["body"]
    assert again["type"] == "contact.created" and again["id"] == contact["id"]
    assert rows(app, id=first.id)[0].status == "delivered"

    # an agent without the webhooks right sees neither screen nor action
    with app.app_context():
        gen_user(db.session.get(User, world["a"]["admin"]).company, "sem@example.com",
                 gen_group(db.session.get(User, world["a"]["admin"]).company, "Leitor",
                           ["webhooks.view"]))
        db.session.commit()
    reader = client_as(app, "sem@example.com")
    assert reader.get("/admin/webhook_deliveries/").status_code == 200
    reader.submit("/admin/webhook_deliveries/action/", {"action": "resend", "rowid": str(first.id)})
    reader.submit("/admin/webhooks/action/", {"action": "ping", "rowid": str(hook_id)})
    assert len(rows(app, event="ping")) == 1
    assert receiver.accepted[-1]["body"]["id"] == contact["id"]  # nothing sent again
