"""The automation engine (issue 13): what the periodic tick costs with many open tickets,
and what a chatbot flow costs per customer message.

  tick      --tickets open tickets of one company (bulk INSERT in batches, not the ORM),
            of which --due (default 1%) are due: waiting in the queue of a department that
            closes idle tickets after 30 minutes (DEP-5), silent for two hours, Ticket.due_at
            in the past; of the others half are due later (silent for 10 minutes, due in
            20) and half have no timer (due_at NULL). `automation.timers.tick` then runs
            until nothing is due, on a frozen clock; each tick leases and dispatches up to
            TICK_BATCH tickets, one job each; the jobs (firing: the inactivity close, its
            message and history) are held and run right after the tick in this process,
            measured apart as the workers' part. Printed: seconds and SQL statements per
            tick (counted with a "before_cursor_execute" listener), per fired ticket in
            the jobs, and on an idle tick (nothing due). The whole is run at two sizes,
            --tickets / 10 and --tickets, with the same number due: the statements per tick
            must not change with the idle tickets. Baseline in the same run: the bare
            `SELECT ... WHERE due_at <= now ORDER BY due_at LIMIT TICK_BATCH` on a raw
            connection. Target: under 1 s per tick.
  flow      --customers webchat visitors each send two messages through
            `services.tickets.receive_inbound` (a commit after each, as the inbound job
            does) on a connection whose entry flow is a published 5-node flow (start ->
            message -> question (text) -> message -> end), against the same two messages
            on a connection with no flow, interleaved in blocks of --block customers.
            Printed: messages/s of both and their ratio, SQL statements per message.

It prints figures; it is not a test.

    .venv/bin/python bench/automation.py                            # SQLite, 100k tickets
    .venv/bin/python bench/automation.py --tickets 2000 --due 50 --customers 50   # quick look
    .venv/bin/python bench/automation.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench_automation

--database-url defaults to $DATABASE_URL, else a SQLite file in a temporary folder. A
missing PostgreSQL database is created through `postgres`; its public schema is dropped
and rebuilt: give the bench a database of its own. The queue is the embedded one with its
worker held back: the jobs the automations enqueue (delivering the close message, the
bot's replies) wait in fakeredis and are not run, so what is measured is the tick's and
the intake's own work, as in production where the workers deliver beside them.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import StatementCounter, ensure_database, machine, rebuild_schema  # noqa: E402  (bench/ is the script's folder)

from sqlalchemy import func, insert, select  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.automation import timers  # noqa: E402
from backoffice.channels.base import Inbound  # noqa: E402
from backoffice.extensions import db  # noqa: E402
from backoffice.jobs import tasks  # noqa: E402
from backoffice.lib import after_commit, clock  # noqa: E402
from backoffice.models import (  # noqa: E402
    Connection, Contact, Department, Flow, FlowRun, FlowVersion, Message, Ticket, User,
)
from backoffice.services import saas, tickets  # noqa: E402
from backoffice.tenancy import acting_for  # noqa: E402

TARGET_TICK_SECONDS = 1.0
NOW = datetime(2026, 12, 1, 15, 0)  # a Tuesday, 12:00 in São Paulo; the clock stands here
BATCH = 5000                          # rows per INSERT executemany
PASSWORD = "senha-bench-automacao-1"

# start -> message -> question (text) -> message -> end: the customer's first message
# starts it (greeting and question), the second answers (thanks, end: back to the queue)
FLOW_GRAPH = {"nodes": {
    "inicio": {"type": "start", "x": 40, "y": 80, "data": {}, "next": {"next": "ola"}},
    "ola": {"type": "message", "x": 240, "y": 80,
            "data": {"text": "Olá, {{nome_cliente}}! Sou o assistente da {{empresa}}."},
            "next": {"next": "assunto"}},
    "assunto": {"type": "question", "x": 440, "y": 80,
                "data": {"text": "Em poucas palavras, qual é o assunto?", "variable": "assunto",
                         "validate": "text", "retry_text": "Pode repetir?", "max_tries": 3},
                "next": {"next": "obrigado"}},
    "obrigado": {"type": "message", "x": 640, "y": 80,
                 "data": {"text": "Obrigado! Anotamos: {{assunto}}."}, "next": {"next": "fim"}},
    "fim": {"type": "end", "x": 840, "y": 80, "data": {"close": False}, "next": {}},
}}


# --- setup ---------------------------------------------------------------------------------


@contextmanager
def frozen_clock(at: datetime):
    clock.set_now(clock.Frozen(at))
    try:
        yield
    finally:
        clock.set_now(None)


def company(name: str) -> tuple[int, int]:
    made, admin = saas.create_company(name, None, "Admin Bench",
                                      f"admin@{name.lower().replace(' ', '-')}.example.com",
                                      PASSWORD)
    db.session.flush()
    return made.id, admin.id


def put(table, rows: list[dict]) -> None:
    """Core INSERT, executemany in batches (column defaults filled by SQLAlchemy)."""
    with db.engine.begin() as conn:
        for i in range(0, len(rows), BATCH):
            conn.execute(insert(table), rows[i:i + BATCH])


def analyze() -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


# --- tick ----------------------------------------------------------------------------------


def build_tick(n: int, due: int) -> dict:
    """One company, one department closing idle queued tickets after 30 minutes, n open
    tickets of which `due` are due now (see the docstring)."""
    t0 = time.perf_counter()
    rebuild_schema(db)
    company_id, admin_id = company("Bench Automacao")
    dept = Department(company_id=company_id, name="Atendimento", order=1,
                      close_queue_after_minutes=30,
                      close_queue_message="Encerramos por falta de interação, {{nome_cliente}}.")
    conn = Connection(company_id=company_id, name="Site (bench)", kind="webchat", active=True)
    db.session.add_all([dept, conn])
    db.session.commit()
    dept_id, conn_id = dept.id, conn.id

    put(Contact.__table__, [{"company_id": company_id, "name": f"Cliente {i}",
                             "created_at": NOW, "updated_at": NOW} for i in range(n)])
    contact_ids = db.session.scalars(select(Contact.id).where(Contact.company_id == company_id)
                                     .order_by(Contact.id)).all()
    db.session.rollback()
    rows = []
    later = (n - due) // 2
    for i, contact_id in enumerate(contact_ids):
        if i < due:                       # silent for 2 h in a 30-minute queue: due
            last, status, due_at, agent = NOW - timedelta(hours=2), "waiting", \
                NOW - timedelta(minutes=90), None
        elif i < due + later:             # silent for 10 min: due in 20
            last, status, due_at, agent = NOW - timedelta(minutes=10), "waiting", \
                NOW + timedelta(minutes=20), None
        else:                             # with an agent, no timer
            last, status, due_at, agent = NOW - timedelta(minutes=10), "open", None, admin_id
        rows.append({"company_id": company_id, "protocol": f"B{i:012d}",
                     "contact_id": contact_id, "connection_id": conn_id,
                     "department_id": dept_id, "agent_id": agent, "status": status,
                     "preview": "Olá", "created_at": last, "queued_at": last,
                     "accepted_at": last if agent else None, "last_activity_at": last,
                     "last_customer_at": last, "due_at": due_at})
    put(Ticket.__table__, rows)
    analyze()
    return {"company_id": company_id, "seconds": time.perf_counter() - t0}


def bare_select(limit: int, repeat: int) -> tuple[float, int]:
    """Median seconds of the tick's read on a raw DBAPI cursor (the baseline)."""
    sql = ("SELECT id, company_id, due_at FROM ticket WHERE due_at IS NOT NULL "
           "AND due_at <= {p} ORDER BY due_at LIMIT {limit}")
    raw = db.engine.raw_connection()
    try:
        pg = db.engine.dialect.name == "postgresql"
        cur = raw.cursor()
        stmt = sql.format(p="%s" if pg else "?", limit=limit)
        param = NOW if pg else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
        samples = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cur.execute(stmt, (param,))
            found = cur.fetchall()
            samples.append(time.perf_counter() - t0)
        raw.rollback()
        cur.close()
    finally:
        raw.close()
    return statistics.median(samples), len(found)


def run_ticks(counter: StatementCounter, repeat: int) -> dict:
    """Ticks until nothing is due. Each tick only dispatches (one job per due ticket); the
    jobs are held here and run right after, measured apart: that is the workers' part."""
    held: list[tuple] = []
    real_enqueue = timers._enqueue
    timers._enqueue = lambda *job: held.append(job)
    busy, work = [], []
    try:
        while True:
            before, t0 = counter.n, time.perf_counter()
            handled = timers.tick(NOW)
            seconds, statements = time.perf_counter() - t0, counter.n - before
            db.session.remove()
            if not handled:
                break
            busy.append((seconds, statements, handled))
            jobs, held[:] = list(held), []
            before, t0 = counter.n, time.perf_counter()
            for ticket_id, company_id, lease in jobs:
                with acting_for(company_id):
                    timers.fire(ticket_id, lease, NOW)
            work.append((time.perf_counter() - t0, counter.n - before, len(jobs)))
            db.session.remove()
            if len(busy) > 1000:
                raise SystemExit("the tick keeps finding work: stopped")
    finally:
        timers._enqueue = real_enqueue
    idle = []
    for _ in range(repeat):
        before, t0 = counter.n, time.perf_counter()
        timers.tick(NOW)
        idle.append((time.perf_counter() - t0, counter.n - before))
        db.session.remove()
    return {"busy": busy, "work": work, "idle": idle}


def tick_part(args, counter: StatementCounter) -> list[dict]:
    results = []
    for n in (max(args.due, args.tickets // 10), args.tickets):
        built = build_tick(n, args.due)
        base_busy, found = bare_select(timers.TICK_BATCH, args.repeat)
        with frozen_clock(NOW):
            out = run_ticks(counter, args.repeat)
        base_idle, _ = bare_select(timers.TICK_BATCH, args.repeat)
        closed = db.session.scalar(select(func.count()).select_from(Ticket)
                                   .where(Ticket.status == "closed"))
        left = db.session.scalar(select(func.count()).select_from(Ticket)
                                 .where(Ticket.due_at <= NOW))
        db.session.remove()
        results.append({"n": n, "load": built["seconds"], "base_busy": base_busy,
                        "found": found, "base_idle": base_idle, "closed": closed,
                        "left": left, **out})
    return results


def report_ticks(args, results: list[dict]) -> None:
    print(f"\ntick: timers.tick on a frozen clock, {args.due:,} due of each size, up to "
          f"{timers.TICK_BATCH} tickets per tick; timers registered: "
          f"{', '.join(t.name for t in timers.TIMERS) or 'none'}")
    for r in results:
        busy = r["busy"]
        secs = [b[0] for b in busy]
        stmts = [b[1] for b in busy]
        handled = sum(b[2] for b in busy)
        idle_s = statistics.median(x[0] for x in r["idle"])
        idle_q = statistics.median(x[1] for x in r["idle"])
        first = busy[0] if busy else (float("nan"), 0, 0)
        print(f"  {r['n']:>9,} open tickets (loaded in {r['load']:.1f} s): {len(busy)} busy "
              f"tick(s) handled {handled:,} tickets, {r['closed']:,} closed, {r['left']} "
              f"still due")
        if busy:
            print(f"    busy tick (dispatch): {max(secs):.3f} s max, {statistics.median(secs):.3f}"
                  f" s median; first tick {first[0]:.3f} s, {first[1]:,} statements for "
                  f"{first[2]} tickets; statements per tick {stmts}")
            w_secs = sum(w[0] for w in r["work"])
            w_stmts = sum(w[1] for w in r["work"])
            w_n = sum(w[2] for w in r["work"]) or 1
            print(f"    the jobs (workers' part, one process): {w_secs:.3f} s for {w_n:,} tickets,"
                  f" {w_secs / w_n * 1e3:.2f} ms and {w_stmts / w_n:.1f} statements per ticket,"
                  f" {w_n / w_secs:.0f} tickets/s")
        print(f"    idle tick: {idle_s * 1e3:.3f} ms, {idle_q:g} statements")
        print(f"    baseline bare SELECT due LIMIT {timers.TICK_BATCH}: {r['base_busy'] * 1e3:.3f}"
              f" ms ({r['found']} rows); with nothing due {r['base_idle'] * 1e3:.3f} ms")
        if busy:
            print(f"    ratio busy tick/bare SELECT: {first[0] / r['base_busy']:.0f}x   "
                  f"ratio idle tick/bare SELECT: {idle_s / r['base_idle']:.1f}x")
    small, large = results[0], results[-1]
    if small["busy"] and large["busy"]:
        a, b = small["busy"][0][1], large["busy"][0][1]
        same = abs(a - b) <= max(2, a * 0.01)
        print(f"statements per first tick: {a:,} at {small['n']:,} tickets, {b:,} at "
              f"{large['n']:,} -> independent of the idle tickets: {'OK' if same else 'NOT MET'}")
        worst = max(x[0] for x in large["busy"])
        most = max(x[2] for x in large["busy"])
        idle = statistics.median(x[0] for x in large["idle"])
        print(f"target: a tick under {TARGET_TICK_SECONDS:g} s with {large['n']:,} open "
              f"tickets: busy ({most} tickets fired) {worst:.3f} s -> "
              f"{'OK' if worst < TARGET_TICK_SECONDS else 'NOT MET'}; idle {idle * 1e3:.3f} ms "
              f"-> {'OK' if idle < TARGET_TICK_SECONDS else 'NOT MET'}")
    else:
        print("statements per first tick: n/a (no tick found work: is a timer registered?)")


# --- flow ----------------------------------------------------------------------------------


def publish(flow: Flow, admin_id: int) -> None:
    """Through the flow service (its checker) when it is there, else the rows directly."""
    try:
        from backoffice.automation.flows import service
    except ImportError:
        service = None
    if service is not None and hasattr(service, "publish"):
        with acting_for(flow.company_id):
            service.publish(flow, db.session.get(User, admin_id))
        return
    version = FlowVersion(company_id=flow.company_id, flow_id=flow.id, number=1,
                          graph=flow.draft, published_by_id=admin_id)
    db.session.add(version)
    db.session.flush()
    flow.published_version_id = version.id


def build_flow() -> dict:
    rebuild_schema(db)
    company_id, admin_id = company("Bench Fluxo")
    dept = Department(company_id=company_id, name="Atendimento", order=1)
    plain = Connection(company_id=company_id, name="Site sem fluxo", kind="webchat", active=True)
    bot = Connection(company_id=company_id, name="Site com fluxo", kind="webchat", active=True)
    flow = Flow(company_id=company_id, name="Bench 5 nós", active=True, draft=FLOW_GRAPH)
    db.session.add_all([dept, plain, bot, flow])
    db.session.flush()
    publish(flow, admin_id)
    bot.flow_id = flow.id
    db.session.commit()
    return {"company_id": company_id, "plain": plain.id, "bot": bot.id}


def converse(world: dict, conn_id: int, start: int, count: int, counter) -> tuple[float, int, int]:
    """`count` visitors, two messages each, one commit per message; (seconds, statements,
    messages)."""
    seconds = statements = sent = 0
    with acting_for(world["company_id"]):
        for i in range(start, start + count):
            for text_ in ("Oi, boa tarde!", f"Quero saber do pedido {i}"):
                before, t0 = counter.n, time.perf_counter()
                connection = db.session.get(Connection, conn_id)
                tickets.receive_inbound(connection, Inbound(address=f"visitante-{conn_id}-{i}",
                                                            name=f"Visitante {i}", text=text_))
                after_commit.commit()
                seconds += time.perf_counter() - t0
                statements += counter.n - before
                sent += 1
            db.session.remove()
    return seconds, statements, sent


def flow_part(args, counter: StatementCounter) -> dict:
    world = build_flow()
    totals = {"plain": [0.0, 0, 0], "bot": [0.0, 0, 0]}
    with frozen_clock(NOW):
        for start in range(0, args.customers, args.block):
            count = min(args.block, args.customers - start)
            for side in ("plain", "bot"):
                s, q, m = converse(world, world[side], start, count, counter)
                totals[side][0] += s
                totals[side][1] += q
                totals[side][2] += m
    with acting_for(world["company_id"]):
        runs = dict(db.session.execute(select(FlowRun.status, func.count())
                                       .group_by(FlowRun.status)).all())
        bot_messages = db.session.scalar(select(func.count()).select_from(Message)
                                         .where(Message.author_kind == "bot"))
    db.session.remove()
    return {"totals": totals, "runs": runs, "bot_messages": bot_messages}


def report_flow(args, out: dict) -> None:
    print(f"\nflow: {args.customers} webchat visitors x 2 messages through "
          f"services.tickets.receive_inbound (commit after each), in blocks of {args.block}")
    rates = {}
    for side, label in (("plain", "no flow (plain intake)"), ("bot", "5-node entry flow")):
        s, q, m = out["totals"][side]
        rates[side] = m / s if s else float("nan")
        print(f"  {label:<24} {rates[side]:>8.0f} messages/s   {s / m * 1e3:.2f} ms each   "
              f"{q / m:.1f} statements per message")
    print(f"  flow runs by status: {out['runs'] or '-'}; bot messages stored: "
          f"{out['bot_messages']}")
    print(f"ratio flow/plain (messages/s): {rates['bot'] / rates['plain']:.2f}")


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="default: $DATABASE_URL, else a SQLite file in a temporary folder")
    parser.add_argument("--tickets", type=int, default=100_000, help="tick: open tickets")
    parser.add_argument("--due", type=int, default=None, help="tick: due ones (default 1%%)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="tick: idle ticks and baseline SELECTs measured")
    parser.add_argument("--customers", type=int, default=500, help="flow: visitors per side")
    parser.add_argument("--block", type=int, default=50, help="flow: visitors per turn")
    parser.add_argument("--only", choices=("tick", "flow"), help="run one part")
    args = parser.parse_args()
    args.due = args.due if args.due is not None else max(1, args.tickets // 100)

    instance = os.environ.setdefault("ATENDE_INSTANCE", tempfile.mkdtemp(prefix="bench-aut-"))
    url = args.database_url or f"sqlite:///{instance}/bench_automation.db"
    url = url.replace("postgresql://", "postgresql+psycopg://")
    ensure_database(url)
    # a timer that fails is logged by the tick and retried later; the bench counts it
    logging.getLogger("backoffice.automation").setLevel(logging.CRITICAL)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TASK_MODE": "embedded",
                      "REDIS_URL": None, "SECRET_KEY": "bench-automacao",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    tasks.start_embedded_worker = lambda: None  # the instance's, over the method: held back
    with app.app_context():
        machine(db)
        counter = StatementCounter(db.engine)
        if args.only in (None, "tick"):
            report_ticks(args, tick_part(args, counter))
        if args.only in (None, "flow"):
            report_flow(args, flow_part(args, counter))
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nload average at the end: {load}")


if __name__ == "__main__":
    main()
