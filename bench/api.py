"""The public API's side of the app (issue 15): what it costs per unit of work.

  webhooks  WHK-1: --deliveries webhook deliveries (one company, one webhook subscribed to
            ticket.created, the outbox rows written by the real event listener) sent by the
            delivery job's body (`webhooks.delivery.deliver`, under acting_for as the job
            runs it) in a loop in this one process: the claim, the order check, the
            signature, the POST through lib/outbound, the log of the answer, the commit.
            The receiver is a tiny threaded http.server in the same process answering 200.
            Baseline in the same run: the same number of bare `outbound.post` calls of the
            same body to the same receiver, without the outbox bookkeeping. Printed:
            deliveries per second per worker, the baseline's requests per second, the ratio,
            and SQL statements per delivery.

  messages  API-1: --messages texts sent with POST /api/v1/messages (to an open webchat
            ticket, through the Flask test client: bearer token, right, rate limit, JSON
            schema, the sending rules, the commit) against, in the same run and turn by
            turn, the same number sent through the inbox's service (`sending.queue` + the
            commit, as the inbox route does after reading its form). Both stop at "queued":
            the delivery job is held back, so what differs is the API's own cost. Printed:
            messages per second each way and the ratio.

It prints figures; it is not a test.

    .venv/bin/python bench/api.py                                      # SQLite, 2,000
    .venv/bin/python bench/api.py --deliveries 200 --messages 200      # quick look
    .venv/bin/python bench/api.py --database-url postgresql://postgres@127.0.0.1:5432/bench_api

--database-url defaults to $DATABASE_URL, else a SQLite file in a temporary folder. A
missing PostgreSQL database is created through `postgres`; its public schema is dropped and
rebuilt: give the bench a database of its own. The queue is the embedded one with its worker
held back: the jobs the outbox enqueues wait in fakeredis, and the bench runs their body
itself, so what is measured is one worker's work.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import StatementCounter, ensure_database, machine, rebuild_schema  # noqa: E402  (bench/ is the script's folder)

from flask import current_app  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.jobs import tasks  # noqa: E402
from backoffice.lib import after_commit, outbound  # noqa: E402
from backoffice.models import Connection, Department, Webhook  # noqa: E402
from backoffice.models.webhooks import DELIVERED, WebhookDelivery  # noqa: E402
from backoffice import permissions  # noqa: E402
from backoffice.models import PermissionGroup, Ticket, User  # noqa: E402
from backoffice.services import api_tokens, saas, sending, tickets, webhooks as webhook_rules  # noqa: E402
from backoffice.tenancy import acting_for  # noqa: E402
from backoffice.webhooks import delivery  # noqa: E402

PASSWORD = "senha-bench-api-1"
BLOCK = 100  # tickets opened per commit while building the outbox


# --- setup ---------------------------------------------------------------------------------


class Receiver:
    """The integrator's endpoint: a threaded http.server answering 200 to every POST."""

    def __init__(self):
        received = self.received = [0]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received[0] += 1
                answer = b'{"ok":true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/atende"

    def close(self):
        self.server.shutdown()


# --- webhooks ------------------------------------------------------------------------------


def build_outbox(n: int, url: str) -> tuple[int, list[int]]:
    """One company, a webhook on `url` for ticket.created, and n tickets opened through the
    services: the listener writes n pending deliveries, one order key each."""
    company, _admin = saas.create_company("Bench API", None, "Admin Bench",
                                          "admin@bench-api.example.com", PASSWORD)
    db.session.flush()
    department = Department(company_id=company.id, name="Suporte", order=1)
    connection = Connection(company_id=company.id, name="Site", kind="webchat")
    hook = Webhook(company_id=company.id, name="Receptor local", url=url,
                   events=["ticket.created"], active=True, secret=webhook_rules.new_secret())
    db.session.add_all([department, connection, hook])
    db.session.commit()
    for start in range(0, n, BLOCK):
        for i in range(start, min(n, start + BLOCK)):
            contact = tickets.contact_for(connection, f"visitante-{i}", f"Cliente {i}")
            tickets.open_ticket(contact, connection, department)
        after_commit.commit()  # the enqueues go to the held-back queue
    ids = list(db.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
    return company.id, ids


def webhooks_part(args, counter: StatementCounter) -> None:
    receiver = Receiver()
    try:
        rebuild_schema(db)
        t0 = time.perf_counter()
        company_id, ids = build_outbox(args.deliveries, receiver.url)
        print(f"\nwebhooks: {len(ids):,} pending deliveries written by the outbox listener "
              f"in {time.perf_counter() - t0:.1f} s; receiver {receiver.url}")
        body = db.session.scalar(select(WebhookDelivery.body).limit(1)).encode()
        db.session.remove()

        results = {"job": [0.0, 0, 0], "bare": [0.0, 0, 0]}  # seconds, done, statements
        # interleaved in blocks, so the noise of a shared machine falls on both alike
        for start in range(0, len(ids), args.block):
            block = ids[start:start + args.block]
            before, t = counter.n, time.perf_counter()
            with acting_for(company_id):
                done = sum(delivery.deliver(i) == DELIVERED for i in block)
            results["job"][0] += time.perf_counter() - t
            results["job"][1] += done
            results["job"][2] += counter.n - before
            db.session.remove()
            before, t = counter.n, time.perf_counter()
            for _ in block:
                outbound.post(receiver.url, body, {"Content-Type": "application/json"},
                              timeout=10, max_bytes=delivery.RESPONSE_BYTES)
            results["bare"][0] += time.perf_counter() - t
            results["bare"][1] += len(block)
            results["bare"][2] += counter.n - before
        delivered = db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                                      .where(WebhookDelivery.status == DELIVERED))
        print(f"  delivered {delivered:,} of {len(ids):,}; the receiver got "
              f"{receiver.received[0]:,} requests (deliveries + baseline)")
        rates = {}
        for key, label in (("job", "delivery job (outbox)"), ("bare", "bare outbound.post")):
            seconds, done, statements = results[key]
            rates[key] = done / seconds if seconds else float("nan")
            each = seconds / max(done, 1) * 1e3
            print(f"  {label:<24} {rates[key]:>8.0f} /s   {each:.2f} ms each"
                  f"   {statements / max(done, 1):.1f} statements each")
        print(f"webhook deliveries per second per worker: {rates['job']:.0f}")
        print(f"ratio delivery job/bare post (per second): {rates['job'] / rates['bare']:.2f}")
    finally:
        receiver.close()


# --- messages ------------------------------------------------------------------------------


def build_conversation() -> tuple[int, int, int, str]:
    """A company with an agent, an open webchat ticket and an API token with every right:
    (company id, ticket id, agent id, raw token)."""
    company, admin = saas.create_company("Bench API mensagens", None, "Admin Bench",
                                         "admin@bench-api-msg.example.com", PASSWORD)
    db.session.flush()
    department = Department(company_id=company.id, name="Suporte", order=1)
    connection = Connection(company_id=company.id, name="Site", kind="webchat")
    group = PermissionGroup(company_id=company.id, name="API bench", kind=permissions.KIND_API,
                            rights=list(permissions.API_ACTIONS))
    db.session.add_all([department, connection, group])
    db.session.flush()
    contact = tickets.contact_for(connection, "visitante-bench", "Cliente Bench")
    ticket = tickets.open_ticket(contact, connection, department)
    tickets.accept(ticket, admin)
    _token, raw = api_tokens.issue(company.id, "Bench", group.id)
    after_commit.commit()
    return company.id, ticket.id, admin.id, raw


def messages_part(args, counter: StatementCounter) -> None:
    rebuild_schema(db)
    company_id, ticket_id, agent_id, raw = build_conversation()
    db.session.remove()
    client = current_app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    results = {"api": [0.0, 0, 0], "service": [0.0, 0, 0]}  # seconds, done, statements
    sent = 0
    print(f"\nmessages: {args.messages:,} through the API and as many through the inbox "
          f"service, in turns of {args.block}")
    while sent < args.messages:
        block = min(args.block, args.messages - sent)
        before, t = counter.n, time.perf_counter()
        for i in range(block):
            answer = client.post("/api/v1/messages/", headers=headers,
                                 json={"ticket_id": ticket_id, "text": f"Pedido {sent + i} enviado"})
            assert answer.status_code == 202, answer.get_data(as_text=True)
        results["api"][0] += time.perf_counter() - t
        results["api"][1] += block
        results["api"][2] += counter.n - before
        db.session.remove()
        before, t = counter.n, time.perf_counter()
        with acting_for(company_id):
            agent = db.session.get(User, agent_id)
            for i in range(block):
                ticket = db.session.scalar(Ticket.owned(company_id).where(Ticket.id == ticket_id))
                sending.queue(ticket, agent, f"Pedido {sent + i} enviado")
                after_commit.commit()
        results["service"][0] += time.perf_counter() - t
        results["service"][1] += block
        results["service"][2] += counter.n - before
        db.session.remove()
        sent += block
    rates = {}
    for key, label in (("api", "POST /api/v1/messages"), ("service", "inbox service (queue)")):
        seconds, done, statements = results[key]
        rates[key] = done / seconds if seconds else float("nan")
        print(f"  {label:<24} {rates[key]:>8.0f} /s   {seconds / max(done, 1) * 1e3:.2f} ms each"
              f"   {statements / max(done, 1):.1f} statements each")
    print(f"messages per second through the API: {rates['api']:.0f}")
    print(f"ratio API/inbox service (per second): {rates['api'] / rates['service']:.2f}")


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="default: $DATABASE_URL, else a SQLite file in a temporary folder")
    parser.add_argument("--deliveries", type=int, default=2000, help="webhooks: deliveries")
    parser.add_argument("--block", type=int, default=50,
                        help="webhooks: deliveries per turn (job and baseline alternate)")
    parser.add_argument("--messages", type=int, default=1000, help="messages: texts each way")
    parser.add_argument("--only", choices=("webhooks", "messages"), help="run one part")
    args = parser.parse_args()

    instance = os.environ.setdefault("ATENDE_INSTANCE", tempfile.mkdtemp(prefix="bench-api-"))
    url = args.database_url or f"sqlite:///{instance}/bench_api.db"
    url = url.replace("postgresql://", "postgresql+psycopg://")
    ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TASK_MODE": "embedded",
                      "REDIS_URL": None, "SECRET_KEY": "bench-api",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                      "ALLOW_PRIVATE_URLS": True,  # the receiver is on 127.0.0.1
                      "API_RATE_LIMIT": "100000000/60"})  # measure the work, not the limit
    tasks.start_embedded_worker = lambda: None  # the instance's, over the method: held back
    with app.app_context():
        machine(db)
        counter = StatementCounter(db.engine)
        # Each part is a function of (args, counter) printing its own section; a part
        # added later goes here, with its name in --only.
        if args.only in (None, "webhooks"):
            webhooks_part(args, counter)
        if args.only in (None, "messages"):
            messages_part(args, counter)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average at the end: {load}")


if __name__ == "__main__":
    main()
