"""Where the CPU of one inbound website-chat message goes (issue 17 point 3, SCL-3), and
what a message costs against a bare INSERT of its row.

In this process, with the Flask test client (no HTTP server, no socket client: what is
measured is the web process's own work), on PostgreSQL + Redis as the cluster runs it
(TASK_MODE=redis, SOCKETIO_MESSAGE_QUEUE=<the Redis URL>, so every push is published to
Redis as each web process does; python-socketio starts a process's listener thread with
its first socket connection, and this bench connects none, so what the other processes'
listeners spend on those messages is not in the figures), or on SQLite + fakeredis (the
embedded default) without --redis-url:

  world     one company, one department with --agents agents, one webchat connection;
            --visitors visitors each start a conversation (POST /widget/<key>/api/start,
            not timed) and so own an open ticket.
  messages  --messages POST /widget/<key>/api/messages from the visitors in turn (each
            with a client_id, as the widget sends them), in blocks of --block interleaved
            with as many bare INSERTs of a message row on a bare DBAPI cursor (one
            transaction each, the same columns the app stores): the baseline. The rate
            limits are raised so that no request is refused, but still counted.
  starts    --starts new visitors (POST .../api/start without a token): a new contact,
            ticket and message each.

For each: CPU ms per message of this process (time.process_time: every thread, the
Socket.IO listener's included), wall ms, SQL statements per message (engine event
"before_cursor_execute"), Redis commands and round trips per message (counted in the
redis client: direct commands, and each pipeline's stack), and on PostgreSQL the CPU of
the database's backends (their /proc/<pid>/stat, the backends of this database only).
Then the ratio to the bare INSERT, and a cProfile of a further --profile messages: the
top functions by own time and by cumulative time.

It prints figures; it is not a test.

    .venv/bin/python bench/inbound_profile.py                # SQLite + fakeredis
    .venv/bin/python bench/inbound_profile.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/bench_inbound \\
        --redis-url redis://127.0.0.1:6379/5                 # PostgreSQL + Redis

A missing PostgreSQL database is created through `postgres`; its tables are dropped and
rebuilt: give the bench a database of its own. Redis is shared safely: the rate-limit keys
carry a prefix of this run, and the Socket.IO pushes go to a channel of this run (Redis
pub/sub channels are server-wide, not per database: on the default channel every
Socket.IO server on that Redis, a running cluster's too, would hear the bench's pushes).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from databases import (  # noqa: E402  (bench/ is the script's folder)
    StatementCounter, ensure_database, machine, rebuild_schema,
)

import redis  # noqa: E402
from sqlalchemy import create_engine, event, func, select, text  # noqa: E402

from backoffice import create_app  # noqa: E402
from backoffice.extensions import db, socketio  # noqa: E402
from backoffice.models import (  # noqa: E402
    Connection, Department, DepartmentMember, Message, PermissionGroup, Ticket, User,
)
from backoffice.services import saas  # noqa: E402

PASSWORD = "senha-bench-entrada-1"
MAIL = "bench-entrada.example.com"
NO_LIMIT = "1000000000/10"   # counted like any limit, never reached


# --- counting --------------------------------------------------------------------------------


class RedisCounter:
    """Redis commands and round trips made through redis-py (fakeredis included): a plain
    command is one of each, a pipeline one round trip for all of its stack."""

    def __init__(self):
        self.commands = 0
        self.trips = 0
        self.names: dict[str, int] = {}
        counter = self
        plain = redis.Redis.execute_command
        pipe = redis.client.Pipeline.execute

        def execute_command(self, *args, **options):
            counter.commands += 1
            counter.trips += 1
            name = str(args[0]).upper() if args else "?"
            counter.names[name] = counter.names.get(name, 0) + 1
            return plain(self, *args, **options)

        def execute(self, *args, **kwargs):
            stack = list(self.command_stack)
            if stack:
                counter.trips += 1
                counter.commands += len(stack)
                for entry in stack:
                    name = str(entry[0][0]).upper() if entry and entry[0] else "?"
                    counter.names[name] = counter.names.get(name, 0) + 1
            return pipe(self, *args, **kwargs)

        redis.Redis.execute_command = execute_command
        redis.client.Pipeline.execute = execute


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving this database (/proc/<pid>/stat of
    each, from pg_stat_activity); None on SQLite or when /proc cannot be read."""

    def __init__(self, url: str):
        self.engine = create_engine(url) if url.startswith("postgresql") else None
        self.tick = os.sysconf("SC_CLK_TCK")

    def seconds(self) -> float | None:
        if self.engine is None:
            return None
        with self.engine.connect() as conn:
            pids = list(conn.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")))
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.tick


@dataclass
class Figures:
    label: str
    n: int
    cpu: float = 0.0
    wall: float = 0.0
    sql: int = 0
    redis: int = 0
    trips: int = 0
    backend: float | None = 0.0

    def line(self) -> str:
        backend = (f"{self.backend * 1e3 / self.n:6.2f}" if self.backend is not None
                   else "   n/a")
        return (f"{self.label:<28} {self.n:>6} {self.cpu * 1e3 / self.n:8.2f} "
                f"{self.wall * 1e3 / self.n:8.2f} {backend:>9} {self.sql / self.n:7.2f} "
                f"{self.redis / self.n:7.2f} {self.trips / self.n:7.2f}")


HEADER = (f"{'per message':<28} {'n':>6} {'CPU ms':>8} {'wall ms':>8} {'PG CPU ms':>9} "
          f"{'SQL':>7} {'Redis':>7} {'trips':>7}")


class Meter:
    def __init__(self, statements: StatementCounter, commands: RedisCounter, backend: BackendCpu):
        self.statements, self.commands, self.backend = statements, commands, backend

    def start(self):
        return (time.process_time(), time.perf_counter(), self.statements.n,
                self.commands.commands, self.commands.trips, self.backend.seconds())

    def add(self, figures: Figures, started) -> None:
        cpu, wall, sql, commands, trips, backend = started
        figures.cpu += time.process_time() - cpu
        figures.wall += time.perf_counter() - wall
        figures.sql += self.statements.n - sql
        figures.redis += self.commands.commands - commands
        figures.trips += self.commands.trips - trips
        after = self.backend.seconds()
        if backend is None or after is None or figures.backend is None:
            figures.backend = None
        else:
            figures.backend += after - backend


# --- setup --------------------------------------------------------------------------------


def make_app(args):
    url = args.database_url.replace("postgresql://", "postgresql+psycopg://")
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-entrada",
              "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
              "RATE_LIMIT_PREFIX": f"bench-inbound:{os.getpid()}:{time.time_ns()}:",
              "WEBCHAT_RATE_LIMIT": NO_LIMIT, "WEBCHAT_START_RATE_LIMIT": NO_LIMIT}
    init_app = socketio.init_app

    def private_channel(app, **kwargs):  # see the module's docstring
        return init_app(app, channel=f"bench-inbound-{os.getpid()}-{time.time_ns()}", **kwargs)

    socketio.init_app = private_channel
    if args.redis_url:
        config.update({"TASK_MODE": "redis", "REDIS_URL": args.redis_url,
                       "SOCKETIO_MESSAGE_QUEUE": args.redis_url})
    else:
        config.update({"TASK_MODE": "embedded", "REDIS_URL": None,
                       "SOCKETIO_MESSAGE_QUEUE": None})
    return create_app(config)


@dataclass
class World:
    company_id: int
    key: str
    department_id: int


def build(app, args) -> World:
    with app.app_context():
        rebuild_schema(db)
        company, _admin = saas.create_company("Bench Entrada", None, "Admin Bench",
                                              f"admin@{MAIL}", PASSWORD)
        group = PermissionGroup(company=company, name="Atendentes (bench)",
                                rights=["inbox.view"])
        db.session.add(group)
        department = Department(company_id=company.id, name="Atendimento", order=1)
        for i in range(args.agents):
            agent = User(company=company, name=f"Atendente {i}", email=f"agente{i}@{MAIL}",
                         group=group, password_hash="!")
            department.members.append(DepartmentMember(company_id=company.id, user=agent))
        connection = Connection(company_id=company.id, name="Site (bench)", kind="webchat")
        db.session.add_all([department, connection])
        db.session.commit()
        return World(company.id, connection.public_key, department.id)


def start(client, world: World, i: int) -> dict:
    r = client.post(f"/widget/{world.key}/api/start",
                    json={"department_id": world.department_id, "name": f"Visitante {i}",
                          "text": f"Olá, sou o visitante {i}", "client_id": f"start-{i:08d}"})
    if r.status_code != 201:
        raise SystemExit(f"start failed: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")
    return r.get_json()


def say(client, world: World, token: str, i: int) -> None:
    r = client.post(f"/widget/{world.key}/api/messages", headers={"X-Visitor-Token": token},
                    json={"text": f"Mensagem {i} do visitante", "client_id": f"msg-{i:010d}"})
    if r.status_code != 201:
        raise SystemExit(f"message failed: HTTP {r.status_code} {r.get_data(as_text=True)[:300]}")


class Bare:
    """The baseline: one INSERT of a message row, its own transaction, on a bare DBAPI
    connection (the columns services.tickets.receive stores)."""

    def __init__(self, app, world: World):
        with app.app_context():
            self.ticket_id = db.session.scalar(select(func.min(Ticket.id)))
            self.engine = db.engine
        self.conn = self.engine.raw_connection()
        self.pg = self.engine.dialect.name == "postgresql"
        self.company_id = world.company_id
        p = "%s" if self.pg else "?"
        self.sql = ("INSERT INTO message (company_id, ticket_id, direction, author_kind, text, "
                    "status, attempts, external_id, sent_at, created_at) VALUES "
                    f"({p}, {p}, 'in', 'contact', {p}, 'delivered', 0, {p}, {p}, {p})")
        self.n = 0

    def insert(self) -> None:
        from backoffice.models.base import utcnow

        self.n += 1
        now = utcnow()
        cur = self.conn.cursor()
        cur.execute(self.sql, (self.company_id, self.ticket_id, f"Mensagem crua {self.n}",
                               f"bare:{os.getpid()}:{self.n}", now, now))
        cur.close()
        self.conn.commit()

    def close(self):
        self.conn.close()


# --- run --------------------------------------------------------------------------------


def listener_costs(client, world: World, tokens: list[str], meter: Meter, n: int,
                   block: int) -> str:
    """What each module listening to a message's events (message.created, ticket.updated)
    costs: `n` messages with every listener and `n` with that module's listeners taken out
    of backoffice.events._LISTENERS, in alternating blocks; the difference per message."""
    from backoffice import events

    names = ("message.created", "ticket.updated")
    modules = sorted({fn.__module__ for name in names for fn in events._LISTENERS.get(name, ())})
    lines = [f"what each listener module costs per message ({n} messages with it, {n} "
             f"without, alternating blocks of {block}):",
             f"  {'module':<36} {'CPU ms':>8} {'SQL':>6} {'Redis':>6}"]
    serial = 40_000_000
    for module in modules:
        with_it, without = Figures(module, 0), Figures(module, 0)
        saved = {name: list(events._LISTENERS.get(name, ())) for name in events._LISTENERS}
        done = 0
        while done < n:
            size = min(block, n - done)
            for figures, strip in ((with_it, False), (without, True)):
                if strip:
                    for name, fns in saved.items():
                        events._LISTENERS[name] = [f for f in fns if f.__module__ != module]
                started = meter.start()
                for i in range(size):
                    serial += 1
                    say(client, world, tokens[serial % len(tokens)], serial)
                meter.add(figures, started)
                figures.n += size
                events._LISTENERS.update({name: list(fns) for name, fns in saved.items()})
            done += size
        lines.append(f"  {module:<36} {(with_it.cpu - without.cpu) * 1e3 / n:8.2f} "
                     f"{(with_it.sql - without.sql) / n:6.2f} "
                     f"{(with_it.redis - without.redis) / n:6.2f}")
    return "\n".join(lines)


def _area(filename: str) -> str:
    """The package a function's file belongs to: backoffice's second level, else the
    installed distribution's top folder."""
    parts = Path(filename).parts
    if "backoffice" in parts:
        i = parts.index("backoffice")
        return "/".join(parts[i:i + 2]).removesuffix(".py")
    if "site-packages" in parts:
        i = parts.index("site-packages")
        return parts[i + 1].removesuffix(".py") if len(parts) > i + 1 else "?"
    return "python" if filename.startswith(("/usr", "~", "<")) else Path(filename).name


def profile_top(profile: cProfile.Profile, n_messages: int, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    areas: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        areas[_area(filename)] = areas.get(_area(filename), 0.0) + tottime
    total = sum(areas.values()) or 1.0
    print(f"own CPU time by package, ms per message ({n_messages} messages under cProfile, "
          "this thread's CPU clock):",
          file=out)
    for area, seconds in sorted(areas.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {area:<40} {seconds * 1e3 / n_messages:7.2f}  {seconds / total:6.1%}",
              file=out)
    stats.strip_dirs()
    print(f"cProfile of {n_messages} messages, top {top} by own time (tottime):", file=out)
    stats.sort_stats("tottime").print_stats(top)
    print(f"top {top} by cumulative time:", file=out)
    stats.sort_stats("cumulative").print_stats(top)
    return "\n".join(line for line in out.getvalue().splitlines()
                     if line.strip() and not line.startswith(("   Ordered by", "   List reduced")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="default: a SQLite file in a temporary folder")
    parser.add_argument("--redis-url", default=None,
                        help="real Redis (TASK_MODE=redis, Socket.IO message queue); "
                             "default: fakeredis, embedded")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--profile", type=int, default=500,
                        help="messages run under cProfile after the timed ones (0: none)")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--listeners", type=int, default=0, metavar="N",
                        help="measure each listener module's cost over N messages with and "
                             "N without it")
    parser.add_argument("--show-sql", type=int, default=0, metavar="CHARS",
                        help="print the statements of one more message, cut at CHARS")
    args = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="bench-inbound-")
    os.environ.setdefault("ATENDE_INSTANCE", str(Path(tmp) / "instance"))
    if args.database_url is None:
        args.database_url = f"sqlite:///{Path(tmp) / 'bench_inbound.db'}"
    args.database_url = args.database_url.replace("postgresql://", "postgresql+psycopg://")
    ensure_database(args.database_url)

    app = make_app(args)
    with app.app_context():
        machine(db)
        statements = StatementCounter(db.engine)
    print(f"redis: {args.redis_url or 'fakeredis (embedded)'}; socket.io message queue: "
          f"{app.config.get('SOCKETIO_MESSAGE_QUEUE') or 'none'}; TASK_MODE "
          f"{app.config['TASK_MODE']}")
    world = build(app, args)
    commands = RedisCounter()
    meter = Meter(statements, commands, BackendCpu(args.database_url))
    client = app.test_client()

    tokens = [start(client, world, i)["token"] for i in range(args.visitors)]
    for i in range(min(args.block, args.messages)):  # warm-up: caches, pools, JIT of regexes
        say(client, world, tokens[i % len(tokens)], 10_000_000 + i)
    bare = Bare(app, world)
    for _ in range(min(args.block, args.messages)):
        bare.insert()

    msg = Figures("POST messages", 0)
    raw = Figures("bare INSERT (baseline)", 0)
    before_names = dict(commands.names)
    done = 0
    while done < args.messages:
        size = min(args.block, args.messages - done)
        started = meter.start()
        for i in range(done, done + size):
            say(client, world, tokens[i % len(tokens)], i)
        meter.add(msg, started)
        msg.n += size
        started = meter.start()
        for _ in range(size):
            bare.insert()
        meter.add(raw, started)
        raw.sql += size  # one INSERT each, on a DBAPI cursor the engine's counter misses
        raw.n += size
        done += size
    names = {k: v - before_names.get(k, 0) for k, v in commands.names.items()}

    starts = Figures("POST start (new visitor)", 0)
    if args.starts:
        started = meter.start()
        for i in range(args.starts):
            start(client, world, 1_000_000 + i)
        meter.add(starts, started)
        starts.n = args.starts

    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.text.like("Mensagem % do visitante")))
    expected = args.messages + min(args.block, args.messages)
    bare.close()

    print()
    print(f"visitors {args.visitors}, agents {args.agents}, messages {args.messages} "
          f"(blocks of {args.block}, interleaved with the baseline), starts {args.starts}")
    print(HEADER)
    print(msg.line())
    print(raw.line())
    if starts.n:
        print(starts.line())
    print("Redis commands per message: " + ", ".join(
        f"{k} {v / args.messages:.2f}" for k, v in sorted(names.items(), key=lambda kv: -kv[1])
        if v))
    print(f"ratio message/bare INSERT: CPU {msg.cpu / raw.cpu:.1f}x, wall "
          f"{msg.wall / raw.wall:.1f}x, SQL statements {msg.sql / max(raw.sql, 1):.1f}x")
    print(f"messages stored {stored} of {expected} -> {'OK' if stored == expected else 'FAILED'}")

    if args.listeners:
        print()
        print(listener_costs(client, world, tokens, meter, args.listeners, args.block))

    if args.show_sql:
        shown: list[str] = []

        def seen(_conn, _cursor, statement, *_args):
            # where in the app it comes from: the innermost frames of backoffice/
            frames = [f"{Path(f.filename).parent.name}/{Path(f.filename).stem}:{f.lineno}"
                      f"({f.name})" for f in traceback.extract_stack()
                      if "/backoffice/" in f.filename][-3:]
            shown.append(" ".join(statement.split())[:args.show_sql]
                         + "\n        <- " + " < ".join(reversed(frames)))

        for label, call in (("one message", lambda: say(client, world, tokens[0], 30_000_000)),
                            ("one start (new visitor)", lambda: start(client, world, 30_000_000))):
            shown.clear()
            with app.app_context():
                event.listen(db.engine, "before_cursor_execute", seen)
                call()
                event.remove(db.engine, "before_cursor_execute", seen)
            print()
            print(f"the SQL of {label} ({len(shown)} statements):")
            for i, statement in enumerate(shown, 1):
                print(f"  {i:>2}. {statement}")

    if args.profile:
        # CPU time of this thread, not wall time: the waits on PostgreSQL and Redis are
        # not work of this process and would bury what is
        profile = cProfile.Profile(time.thread_time)
        profile.enable()
        for i in range(args.profile):
            say(client, world, tokens[i % len(tokens)], 20_000_000 + i)
        profile.disable()
        print()
        print(profile_top(profile, args.profile, args.top))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")
    return 0 if stored == expected else 1


if __name__ == "__main__":
    sys.exit(main())
