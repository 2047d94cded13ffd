"""Provider webhooks (issue 12, CHN-2): how fast signed WhatsApp webhooks are acknowledged
through the real `/hooks/whatsapp/<key>` route, against a bare Flask endpoint that does one
INSERT per request in the same process and database; how fast the stored items are then
processed; and how long a customer's message takes from the POST to the agent's screen.

Both endpoints are served by a real HTTP server (werkzeug, threaded) in a thread of this
process and called with urllib3 over keep-alive connections, the same way for both.

  ingest    --messages signed text webhooks (WhatsAppAdapter(connection).simulated(...),
            from --contacts customers) POSTed to /hooks/whatsapp/<key>, interleaved in
            blocks with the same bodies POSTed to the bare endpoint. Only the acknowledgment
            is measured (signature check, split, ChannelEvent stored, job enqueued, 200):
            no worker runs meanwhile (embedded: the worker thread is held back; with
            --redis-url the jobs wait in Redis), so nothing is processed inside or beside
            the requests. Target: the route at >= 50% of the bare endpoint's requests/s.
  process   the stored items then processed one by one by the job's function
            (backoffice.jobs.channels.process -> services.channel_events.process:
            claim, adapter.inbound, contact/ticket/message, socket push): items/s.
  latency   --rate messages/s for --duration s POSTed by --senders threads to the same
            customers while the queue's worker runs (embedded: the app's own worker
            thread on fakeredis; --redis-url: --workers RQ worker threads of this process
            on the real Redis); an agent (a supervisor who opened every ticket) is
            connected with Flask-SocketIO's test client and timestamps each
            `message.created` event. Latency = POST sent -> event received: p50/p95/p99,
            lost (acknowledged but never pushed) and duplicated pushes. Target on
            PostgreSQL + Redis: p99 < 50 ms (printed, not asserted). Also printed: the
            part from the item stored to the item processed, from the database's
            timestamps (ChannelEvent.received_at -> processed_at).
  --rq-processes N (with --redis-url) runs the latency part on the README's deployment
            instead: N `rq worker` processes (rq's forking worker unless --worker-class),
            whose pushes go to the Redis message queue; the latency is then the database's
            stored -> processed figure.

The agent's socket: python-socketio's real `socketio.Client` needs `requests` or
`websocket-client`, which are not installed here, so the agent is Flask-SocketIO's test
client on the app's own Socket.IO server (the push is measured up to the server handing
the packet to the socket; the websocket hop is not). That client refuses a message queue,
so with --redis-url the workers are by default threads of this process (RQ workers on
the real Redis); separate `rq worker` processes (--rq-processes), whose pushes travel
through Redis, are measured from the database's timestamps instead.

It prints figures; it is not a test.

    .venv/bin/python bench/channels.py                       # SQLite + fakeredis (embedded)
    .venv/bin/python bench/channels.py --messages 200 --rate 20 --duration 2   # a quick look
    .venv/bin/python bench/channels.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench_channels \\
        --redis-url redis://127.0.0.1:6379/8                # PostgreSQL + Redis

A missing PostgreSQL database is created through `postgres`; its tables are dropped and
rebuilt, and the Redis queue "default" emptied: give the bench a database and a Redis
database of its own.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import create_missing_database  # noqa: E402  (bench/ is the script's folder)

import urllib3  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from itsdangerous import URLSafeTimedSerializer  # noqa: E402
from sqlalchemy import (  # noqa: E402
    Column, DateTime, Integer, MetaData, Table, Text, create_engine, func, insert, select,
)
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.channels.whatsapp import WhatsAppAdapter  # noqa: E402
from backoffice.extensions import db, socketio  # noqa: E402
from backoffice.jobs import tasks  # noqa: E402
from backoffice.jobs.runner import EmbeddedWorker  # noqa: E402
from backoffice.models import (  # noqa: E402
    ChannelEvent, Connection, Department, DepartmentMember, Message, PermissionGroup, Ticket,
    User,
)
from backoffice.models.base import utcnow  # noqa: E402
from backoffice.services import saas  # noqa: E402
from backoffice.services.channel_events import PROCESS_JOB  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "senha-bench-canais-1"
AGENT_EMAIL = "supervisora@bench-canais.example.com"
TARGET_RATIO = 0.5       # the route's requests/s against the bare endpoint's
TARGET_P99_MS = 50.0     # POST -> agent's socket event, on PostgreSQL + Redis
MARK = re.compile(r"#(\d+)$")

bare_meta = MetaData()
bare_hook = Table("bench_bare_hook", bare_meta,
                  Column("id", Integer, primary_key=True),
                  Column("received_at", DateTime, nullable=False),
                  Column("body", Text, nullable=False))


# --- setup ---------------------------------------------------------------------------------


def make_app(args) -> Flask:
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://")
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-canais",
              "SERVER_NAME": None, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
              # the test client of the agent refuses a message queue (see the docstring)
              "SOCKETIO_MESSAGE_QUEUE": None}
    if args.redis_url:
        config.update({"TASK_MODE": "redis", "REDIS_URL": args.redis_url})
    else:
        config.update({"TASK_MODE": "embedded", "REDIS_URL": None})
    return create_app(config)


def ensure_database(url: str) -> None:
    """Create a missing PostgreSQL database through the `postgres` one."""
    create_missing_database(url)


@dataclass
class World:
    company_id: int
    connection_id: int
    key: str


def configure(connection: Connection) -> None:
    """Every field the WhatsApp adapter asks for: public ids as digits, secrets random."""
    for f in WhatsAppAdapter.fields:
        if f.secret:
            connection.set_secret(f.name, f"bench-{f.name}-{os.urandom(8).hex()}")
        else:
            connection.set_setting(f.name, str(100_000_000_000_000 + len(f.name)))


def build(app) -> World:
    with app.app_context():
        db.drop_all()
        bare_meta.drop_all(db.engine)
        db.create_all()
        bare_meta.create_all(db.engine)
        company, _admin = saas.create_company("Bench Canais", None, "Admin Bench",
                                              "admin@bench-canais.example.com", PASSWORD)
        group = PermissionGroup(company=company, name="Supervisão (bench)",
                                rights=["inbox.view", "inbox.supervise"])
        agent = User(company=company, name="Supervisora Bench", email=AGENT_EMAIL, group=group)
        agent.set_password(PASSWORD)
        db.session.add_all([group, agent])
        department = Department(company_id=company.id, name="Atendimento", order=1)
        department.members.append(DepartmentMember(company_id=company.id, user=agent))
        connection = Connection(company_id=company.id, name="WhatsApp (bench)",
                                kind="whatsapp")
        configure(connection)
        db.session.add_all([department, connection])
        db.session.commit()
        return World(company.id, connection.id, connection.public_key)


def bodies(app, world: World, n: int, contacts: int, label: str, start: int = 0):
    """n signed webhooks, from `contacts` customers in turn; the text ends with #<i>."""
    out = []
    with app.app_context():
        adapter = WhatsAppAdapter(db.session.get(Connection, world.connection_id))
        for i in range(start, start + n):
            phone = f"55119{(87_000_000 + i % contacts):08d}"
            raw, headers = adapter.simulated(phone, f"Olá, {label} do cliente {i % contacts} "
                                             f"#{i}", f"Cliente {i % contacts}",
                                             f"wamid.bench{label}{i:09d}")
            headers = dict(headers)
            headers.setdefault("Content-Type", "application/json")
            out.append((raw, headers))
    return out


def bare_app(url: str) -> tuple[Flask, object]:
    """The baseline: a bare Flask endpoint, one INSERT (its own transaction) per request."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    bare = Flask("bench_bare")

    @bare.post("/bare")
    def receive():
        raw = request.get_data()
        with engine.begin() as conn:
            conn.execute(insert(bare_hook).values(received_at=utcnow(),
                                                  body=raw.decode("utf-8")))
        return jsonify({"received": 1})

    return bare, engine


class Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class Server:
    """A threaded werkzeug server on a free port, serving in a daemon thread."""

    def __init__(self, wsgi):
        self.httpd = make_server("127.0.0.1", 0, wsgi, threaded=True, request_handler=Quiet)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def pool(self, size: int = 1) -> urllib3.HTTPConnectionPool:
        return urllib3.HTTPConnectionPool("127.0.0.1", self.port, maxsize=size, block=True,
                                          retries=False, timeout=30)

    def close(self):
        self.httpd.shutdown()


# --- ingest --------------------------------------------------------------------------------


@dataclass
class Samples:
    times: list = field(default_factory=list)
    errors: int = 0

    def rate(self) -> float:
        return len(self.times) / sum(self.times) if self.times else 0.0

    def pct(self, q: float) -> float:
        s = sorted(self.times)
        return s[min(len(s) - 1, int(len(s) * q))] * 1e3 if s else float("nan")


class HeldBackWorker:
    """Embedded mode: the worker thread is not started while the acknowledgments are
    measured (enqueued jobs wait in fakeredis), so no processing competes with them."""

    def __enter__(self):
        tasks.start_embedded_worker = lambda: None  # the instance's, over the method

    def __exit__(self, *exc):
        del tasks.start_embedded_worker


def ingest(app, world: World, args, app_server: Server, bare_server: Server):
    hooks = bodies(app, world, args.messages, args.contacts, "ingest")
    url = f"/hooks/whatsapp/{world.key}"
    route, bare = Samples(), Samples()
    app_pool, bare_pool = app_server.pool(), bare_server.pool()

    def one(pool, path, raw, headers, into: Samples, check):
        t0 = time.perf_counter()
        r = pool.request("POST", path, body=raw, headers=headers)
        into.times.append(time.perf_counter() - t0)
        if r.status != 200 or not check(r):
            into.errors += 1

    def stored(r):
        return r.json().get("stored") == 1

    with HeldBackWorker():
        # one message per customer first: each has a ticket for the latency part
        for raw, headers in bodies(app, world, args.contacts, args.contacts, "warm"):
            one(app_pool, url, raw, headers, Samples(), stored)
            one(bare_pool, "/bare", raw, headers, Samples(), lambda r: True)
        for start in range(0, len(hooks), args.block):  # interleaved: noise falls on both
            block = hooks[start:start + args.block]
            for raw, headers in block:
                one(app_pool, url, raw, headers, route, stored)
            for raw, headers in block:
                one(bare_pool, "/bare", raw, headers, bare, lambda r: True)
    return route, bare


def process_stored(app) -> tuple[int, float, dict]:
    """Process every pending item with the job's own function, timed; the jobs queued
    by the acknowledgments are dropped first (they would find the items done)."""
    from backoffice.jobs.channels import process

    tasks.queue.empty()
    with app.app_context():
        ids = list(db.session.scalars(select(ChannelEvent.id).where(
            ChannelEvent.status == "pending").order_by(ChannelEvent.id)))
        db.session.remove()
    t0 = time.perf_counter()
    results: dict[str, int] = {}
    for event_id in ids:
        with app.app_context():
            outcome = process(event_id)
        results[outcome] = results.get(outcome, 0) + 1
    return len(ids), time.perf_counter() - t0, results


# --- latency -------------------------------------------------------------------------------


class Stamped(list):
    """The test client's queue of received packets: the message.created ones, each stamped
    on arrival."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.arrivals: list[tuple[float, dict]] = []

    def append(self, item):
        now = time.perf_counter()
        if item.get("name") == "message.created":  # not the ticket.updated beside it
            with self.lock:
                self.arrivals.append((now, item))


def agent_socket(app, world: World):
    http = app.test_client()
    with http.session_transaction() as sess:
        raw = sess.setdefault("csrf_token", os.urandom(20).hex())
    token = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="wtf-csrf-token").dumps(raw)
    r = http.post("/login", data={"email": AGENT_EMAIL, "password": PASSWORD,
                                  "csrf_token": token})
    if r.status_code != 302:
        raise SystemExit(f"login of the agent failed: HTTP {r.status_code}")
    agent = socketio.test_client(app, flask_test_client=http)
    if not agent.is_connected():
        raise SystemExit("the agent's socket was refused")
    with app.app_context():
        ticket_ids = list(db.session.scalars(select(Ticket.id).where(
            Ticket.connection_id == world.connection_id)))
        db.session.remove()
    for ticket_id in ticket_ids:  # the agent has every conversation open
        ack = agent.emit("ticket.join", {"id": ticket_id}, callback=True)
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise SystemExit(f"the agent could not open ticket {ticket_id}: {ack}")
    agent.queue = Stamped()
    return agent, len(ticket_ids)


def start_workers(app, n: int) -> list[EmbeddedWorker]:
    """--redis-url: RQ workers on the real Redis queue, as threads of this process."""
    workers = []
    for i in range(n):
        worker = EmbeddedWorker([tasks.queue], connection=tasks.connection, flask_app=app,
                                name=f"bench-channels-{os.getpid()}-{i}")
        threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"},
                         daemon=True).start()
        workers.append(worker)
    return workers


@dataclass
class Latency:
    sent: dict = field(default_factory=dict)      # i -> perf_counter at the POST
    refused: dict = field(default_factory=dict)   # HTTP status -> count
    behind: list = field(default_factory=list)    # seconds late on the schedule
    wall: float = 0.0


def latency(app, world: World, args, app_server: Server):
    total = max(1, int(args.rate * args.duration))
    hooks = bodies(app, world, total, args.contacts, "latencia", start=10**6)
    agent, joined = agent_socket(app, world)
    processes = []
    if args.rq_processes:
        processes = start_rq_processes(args)
    elif args.redis_url:
        start_workers(app, args.workers)
    url = f"/hooks/whatsapp/{world.key}"
    pool = app_server.pool(args.senders)
    out = Latency()
    counter = itertools.count()
    lock = threading.Lock()
    t0 = time.perf_counter() + 0.2

    def sender():
        while True:
            with lock:
                i = next(counter)
            if i >= total:
                return
            due = t0 + i / args.rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            sent = time.perf_counter()
            raw, headers = hooks[i]
            r = pool.request("POST", url, body=raw, headers=headers)
            with lock:
                out.behind.append(max(0.0, sent - due))
                if r.status == 200:
                    out.sent[10**6 + i] = sent
                else:
                    out.refused[r.status] = out.refused.get(r.status, 0) + 1

    threads = [threading.Thread(target=sender) for _ in range(args.senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.wall = time.perf_counter() - t0
    # the tail: wait until every acknowledged message was pushed (processed, for worker
    # processes), or nothing more comes
    last, seen = time.perf_counter(), -1
    while time.perf_counter() - last < args.drain:
        n = processed(app) if processes else len(agent.queue.arrivals)
        if n != seen:
            seen, last = n, time.perf_counter()
        if n >= len(out.sent):
            break
        time.sleep(0.02)
    arrivals = list(agent.queue.arrivals)
    agent.disconnect()
    for proc in processes:  # only the workers this bench started
        proc.terminate()
    for proc in processes:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return out, arrivals, joined


LATENCY_KEYS = "wamid.benchlatencia%"


def processed(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(ChannelEvent).where(
            ChannelEvent.key.like(LATENCY_KEYS), ChannelEvent.status == "done"))
        db.session.remove()
    return n


def stored_to_processed(app) -> tuple[list[float], int]:
    """From the database's clocks: each latency item's received_at (stored by the
    request) to its processed_at (set by the job right before the commit after which the
    pushes go out), in ms; and how many messages were stored twice."""
    with app.app_context():
        rows = db.session.execute(select(ChannelEvent.received_at, ChannelEvent.processed_at)
                                  .where(ChannelEvent.key.like(LATENCY_KEYS),
                                         ChannelEvent.processed_at.is_not(None))).all()
        twice = db.session.scalar(select(func.count()).select_from(
            select(Message.external_id).where(Message.external_id.like(LATENCY_KEYS))
            .group_by(Message.external_id).having(func.count() > 1).subquery()))
        db.session.remove()
    return sorted((done - got).total_seconds() * 1e3 for got, done in rows), twice


def start_rq_processes(args) -> list[subprocess.Popen]:
    """--rq-processes: the deployment of the README, `rq worker` processes beside the
    web process, publishing their socket pushes to Redis (nobody here listens)."""
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "TASK_MODE": "redis", "SOCKETIO_MESSAGE_QUEUE": args.redis_url,
           "SECRET_KEY": "bench-canais"}
    rq = str(Path(sys.executable).parent / "rq")
    procs = []
    for i in range(args.rq_processes):
        command = [rq, "worker", "--url", args.redis_url, "--logging_level", "WARNING",
                   "--name", f"bench-channels-{os.getpid()}-p{i}", "default"]
        if args.worker_class:
            command[2:2] = ["--worker-class", args.worker_class]
        procs.append(subprocess.Popen(command, env=env, cwd=str(ROOT)))
    # warm-up jobs (an item that does not exist: "skipped"), so a worker that keeps its
    # app has built it before the clock starts; a forking one builds it per job anyway
    for _ in range(4 * args.rq_processes):
        tasks.enqueue(PROCESS_JOB, 0)
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline and (tasks.queue.count or
                                              tasks.queue.started_job_registry.count):
        time.sleep(0.1)
    return procs


def latency_figures(out: Latency, arrivals) -> dict:
    received: dict[int, list[float]] = {}
    for when, packet in arrivals:
        if packet.get("name") != "message.created":
            continue
        found = MARK.search((packet["args"][0] or {}).get("text", ""))
        if found:
            received.setdefault(int(found.group(1)), []).append(when)
    delays = sorted((times[0] - out.sent[i]) * 1e3 for i, times in received.items()
                    if i in out.sent)
    return {"delays": delays,
            "lost": sum(1 for i in out.sent if i not in received),
            "duplicated": sum(len(t) - 1 for t in received.values()),
            "stray": sum(1 for i in received if i not in out.sent)}


def pct(values, q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


# --- report --------------------------------------------------------------------------------


def machine(app, args) -> str:
    with app.app_context():
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "postgresql":
                version = conn.exec_driver_sql("SHOW server_version").scalar()
                backend = f"PostgreSQL {version}"
            else:
                backend = "SQLite " + conn.exec_driver_sql("select sqlite_version()").scalar()
    if args.redis_url:
        where = urlsplit(args.redis_url)
        queue = f"Redis {where.hostname}:{where.port or 6379}{where.path}"
    else:
        queue = "fakeredis (embedded)"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"load average {load}")
    return f"{backend} + {queue}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="default: a SQLite file in a temporary folder")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"),
                        help="the queue on this Redis (default: embedded fakeredis)")
    parser.add_argument("--messages", type=int, default=2000, help="ingest: webhooks per side")
    parser.add_argument("--contacts", type=int, default=50, help="customers writing")
    parser.add_argument("--block", type=int, default=50, help="ingest: requests per turn")
    parser.add_argument("--rate", type=float, default=200.0, help="latency: messages/s")
    parser.add_argument("--duration", type=float, default=60.0, help="latency: seconds")
    parser.add_argument("--senders", type=int, default=16, help="latency: posting threads")
    parser.add_argument("--workers", type=int, default=4,
                        help="latency with --redis-url: RQ worker threads")
    parser.add_argument("--rq-processes", type=int, default=0,
                        help="latency with --redis-url: this many `rq worker` processes "
                             "instead of worker threads (latency from the database)")
    parser.add_argument("--worker-class", default="",
                        help="with --rq-processes: rq's --worker-class, e.g. "
                             "rq.worker.SimpleWorker (default: rq's forking Worker)")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="latency: seconds without a new event before giving up")
    args = parser.parse_args()
    if args.rq_processes and not args.redis_url:
        parser.error("--rq-processes needs --redis-url")

    instance = os.environ.setdefault("ATENDE_INSTANCE", tempfile.mkdtemp(prefix="bench-ch-"))
    args.database_url = args.database_url or f"sqlite:///{instance}/bench_channels.db"
    logging.getLogger("backoffice.channels.hooks").setLevel(logging.ERROR)
    # a 500 is counted and shown by its status below, not with its traceback
    logging.getLogger("backoffice.web.errors").setLevel(logging.CRITICAL)
    ensure_database(args.database_url)
    app = make_app(args)
    if args.redis_url:
        tasks.queue.empty()
    stack = machine(app, args)
    world = build(app)
    bare, bare_engine = bare_app(app.config["SQLALCHEMY_DATABASE_URI"])
    app_server, bare_server = Server(app), Server(bare)
    print(f"backend: {stack}; both endpoints on a threaded werkzeug server in this process, "
          f"called with urllib3 (keep-alive, one request at a time)")

    # 1. ingest
    route, baseline = ingest(app, world, args, app_server, bare_server)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(ChannelEvent))
        db.session.remove()
    with bare_engine.connect() as conn:
        inserted = conn.scalar(select(func.count()).select_from(bare_hook))
    print(f"\ningest: {args.messages} signed WhatsApp text webhooks per side, in turns of "
          f"{args.block}, no worker running (acknowledgment only)")
    for name, s, rows in (("bare Flask endpoint, 1 INSERT", baseline, f"{inserted} rows"),
                          ("/hooks/whatsapp/<key>", route, f"{stored} channel events")):
        print(f"  {name:<31} {s.rate():>8.0f} requests/s   median {s.pct(.5):.2f} ms   "
              f"p95 {s.pct(.95):.2f} ms   p99 {s.pct(.99):.2f} ms   errors {s.errors}   "
              f"({rows})")
    ratio = route.rate() / baseline.rate() if baseline.rate() else float("nan")
    print(f"ratio route/bare: {ratio:.0%} -> target: at least {TARGET_RATIO:.0%}: "
          f"{'OK' if ratio >= TARGET_RATIO else 'NOT MET'}")

    # 2. processing the stored items
    n, seconds, results = process_stored(app)
    with app.app_context():
        messages = db.session.scalar(select(func.count()).select_from(Message))
        db.session.remove()
    print(f"\nprocess: {n} stored items through services.channel_events.process (the job's "
          f"function, no queue): {n / seconds if seconds else 0:.0f} items/s, "
          f"{seconds / max(n, 1) * 1e3:.2f} ms each; outcomes {results}; "
          f"{messages} messages in the database")

    # 3. latency
    out, arrivals, joined = latency(app, world, args, app_server)
    fig = latency_figures(out, arrivals)
    d = fig["delays"]
    if args.rq_processes:
        workers = (f"{args.rq_processes} `rq worker` process(es) "
                   f"({args.worker_class or 'rq default: a forked work horse per job'})")
    elif args.redis_url:
        workers = f"{args.workers} RQ worker thread(s) of this process on Redis"
    else:
        workers = "the embedded worker thread (fakeredis)"
    refused = sum(out.refused.values())
    print(f"\nlatency: {len(out.sent) + refused} messages at {args.rate:g}/s for "
          f"{args.duration:g} s by {args.senders} senders, processed by {workers}; the "
          f"agent (Flask-SocketIO test client) had {joined} tickets open")
    achieved = (len(out.sent) + refused) / out.wall if out.wall else 0
    print(f"  sent at {achieved:.0f}/s (senders late on schedule: p99 "
          f"{pct(sorted(out.behind), .99) * 1e3:.1f} ms), {refused} not acknowledged "
          f"(HTTP status: count {out.refused or '-'})")
    inner, twice = stored_to_processed(app)
    if args.rq_processes:
        # the pushes of worker processes travel through Redis, which the test client
        # cannot hear: the database's timestamps stand in for the socket
        d, lost, what = inner, len(out.sent) - len(inner), "stored -> processed (database)"
        print("  POST -> message.created: n/a (pushes from worker processes go through "
              "the Redis message queue; the agent's test client cannot hear them)")
        print(f"  {what}: p50 {pct(d, .5):.1f} ms   p95 {pct(d, .95):.1f} ms   "
              f"p99 {pct(d, .99):.1f} ms   max {d[-1] if d else float('nan'):.1f} ms   "
              f"processed {len(d)} of {len(out.sent)}   lost {lost}   stored twice {twice}")
    else:
        lost, what = fig["lost"], "POST -> message.created"
        print(f"  {what}: p50 {pct(d, .5):.1f} ms   p95 {pct(d, .95):.1f} ms   "
              f"p99 {pct(d, .99):.1f} ms   max {d[-1] if d else float('nan'):.1f} ms   "
              f"received {len(d)} of {len(out.sent)}   lost {fig['lost']}   "
              f"duplicated {fig['duplicated']}")
        print(f"  of which stored -> processed (database clocks): p50 {pct(inner, .5):.1f} ms"
              f"   p99 {pct(inner, .99):.1f} ms; messages stored twice {twice}")
    p99 = pct(d, .99)
    verdict = "OK" if p99 < TARGET_P99_MS and not lost else "NOT MET"
    print(f"latency p99 {p99:.1f} ms ({what}; {stack}) -> target on PostgreSQL + Redis: "
          f"p99 < {TARGET_P99_MS:.0f} ms, none lost: {verdict}")
    with app.app_context():
        left = dict(db.session.execute(select(ChannelEvent.status, func.count())
                                       .group_by(ChannelEvent.status)).all())
        db.session.remove()
    print(f"channel events by status at the end: {left}")
    failed = tasks.queue.failed_job_registry
    if failed.count:
        from rq.job import Job

        job = Job.fetch(failed.get_job_ids()[0], connection=tasks.connection)
        print(f"jobs failed in the queue: {failed.count}; the first one's error: "
              f"{(job.latest_result().exc_string or '').strip().splitlines()[-1:]}")
    app_server.close()
    bare_server.close()
    tasks.stop()


if __name__ == "__main__":
    main()
