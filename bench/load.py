"""Load test (issue 17 point 3, SCL-3): agents connected by Socket.IO, website visitors
posting messages at a rate stepped up until latency breaks, then held at the highest
sustained step; the one-process embedded default against the cluster, in the same run.

The world (seeded through the app's own services and the test factories, before the
servers start): --companies companies, each with --departments departments of
--agents-per-department agents (inbox.view) and one supervisor (inbox.supervise), and one
webchat connection; --visitors-per-department visitors per department. Default 6 x 5 x 10
= 300 agents (+ 6 supervisors), 300 visitors. A visitor's message is pushed to the agents
of its ticket's department and to the company's supervisors (11 sockets), not to all 300.

The clients (python-socketio's asyncio client over aiohttp, one event loop per client
process, --client-processes of them, each owning whole companies):
- every agent logs in through the real login form (GET /login for the CSRF token, POST;
  concurrently, not timed) and keeps its own cookies, then opens a Socket.IO connection
  (--transports, default websocket) with them, through the proxy for the cluster;
- every visitor starts a conversation as the widget does (POST /widget/<key>/api/start
  with department_id, text and client_id -> token), then sends messages with
  POST /widget/<key>/api/messages (X-Visitor-Token, {"text", "client_id"}), each visitor
  keeping its own cookies (a sticky proxy may set one);
- the event an agent gets for a new inbound message on a ticket it may see is
  `ticket.updated` (realtime.listeners.ticket_changed: to the supervisors' room, the
  department's room and the assigned agent's; `message.created` goes only to whoever has
  the conversation open). Its `preview` is the message's text, unique per message, so each
  (message, receiver) is matched exactly.

Per step (open loop: message i is due at t0 + i/rate, whatever the answers; its latency is
counted from that due time, so a backlog on the client side is not hidden): offered and
achieved rate (acknowledged messages / time from the first due time to the last answer),
p50/p99/max from due time to each expected receiver's event, lost (acknowledged, an
expected receiver got no event within --loss-timeout s after the answer), duplicated
(an event again for the same message and receiver), failed POSTs (a 503, the server
busy, is sent again after its Retry-After with the same client id, up to BUSY_TRIES
times, as the widget does; those tries are counted and printed), CPU ms per message
(user+sys of the web, worker, PostgreSQL backends of the bench database, Redis and proxy
processes, from /proc; the bench's own client processes apart), and the client's event
loop lag (how late a 20 ms sleep wakes: when high, the client is the bottleneck). A step
is sustained when every POST was acknowledged, nothing lost, p99 <= --p99-limit and the
achieved rate >= 90% of the offered one. Stepping stops at the first step that is not;
the highest sustained step (else the first) is then held for --hold s, after --settle s
of quiet when the last step broke (its backlog is not the hold's). A hold that breaks
is tried again at the next lower sustained step, and so on, so the rate reported as
sustained is the highest one held for the whole --hold (a 20-s step at 250/s may hold
where 5 minutes do not); the broken holds are printed and their deliveries checked like
the others. RSS of the web and worker processes is taken after the logins and after the
last hold (target: growth < 10%).

Targets (--targets, in this order):
- embedded: `python app.py`, SQLite + embedded queue, a fresh ATENDE_INSTANCE folder;
- single: one `python app.py` on PostgreSQL + Redis (SOCKETIO_MESSAGE_QUEUE) and one
  `rq worker` (SimpleWorker, with the scheduler); a Redis of its own on --single-redis-port
  unless --redis-url;
- cluster: `deploy/cluster.py start --web N --workers N` (PostgreSQL, its own Redis,
  gunicorn web processes, rq workers, nginx with sticky sessions); stopped at the end.
The visitors' rate limits are lifted in the servers' environment (WEBCHAT_RATE_LIMIT,
WEBCHAT_START_RATE_LIMIT): they are not what is measured.

    .venv/bin/python bench/load.py                       # embedded + cluster, full size
    .venv/bin/python bench/load.py --targets embedded --steps 25,50 --step-seconds 10 --hold 20
    .venv/bin/python bench/load.py --targets single --redis-url redis://127.0.0.1:6379/9

The PostgreSQL database (--database-url, default bench_load) is created when missing and
its public schema dropped and rebuilt: give the bench a database of its own. The bench's
clients and the servers share the machine's cores: the load average and the number of
cores are printed, and so is the client's own CPU.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
# the visitors' limits lifted: one visitor sends about one message a second at full rate,
# and all visitors come from 127.0.0.1
NO_LIMIT = "1000000/1"
TARGET_RATE = 200.0      # msg/s sustained on the cluster (issue 17 point 3)
TARGET_P99_MS = 100.0
BUSY_TRIES = 5  # a 503 is sent again this many times, as the widget does (frame.js)
TARGET_GROWTH = 0.10
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
ALERT_RE = re.compile(r'role="alert">([^<]*)<')
TEXT_PREFIX = "carga "


# --- the world ------------------------------------------------------------------------------


def seed_main(args) -> None:
    """Subprocess: the schema (migrations, as a deployment makes it) and the world, through
    the app's services and the test factories, in the database of the environment."""
    sys.path.insert(0, str(ROOT))
    import flask_migrate
    from backoffice import create_app
    from backoffice.extensions import db
    from backoffice.models import User
    from tests.factories import (
        PASSWORD, gen_company, gen_connection, gen_department, gen_group, gen_plan, gen_user,
    )

    app = create_app()
    world = {"password": PASSWORD, "companies": []}
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.remove()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            db.engine.dispose()
        flask_migrate.upgrade()
        users_per_company = args.departments * args.agents_per_department + 2
        plan = gen_plan("Plano Carga", max_users=users_per_company + 10)
        password_hash = None
        for c in range(args.companies):
            company, _admin = gen_company(f"Carga {c + 1}", f"admin-{c + 1}@carga.example.com",
                                          plan)
            agents = gen_group(company, "Atendentes", ["inbox.view"])
            supervisors = gen_group(company, "Supervisores", ["inbox.view", "inbox.supervise"])
            db.session.flush()

            def user(email, group, name):
                # scrypt once (gen_user), then the same hash: seeding 300 scrypt hashes
                # would take longer than the run's logins
                nonlocal password_hash
                if password_hash is None:
                    first = gen_user(company, email, group, name=name)
                    db.session.flush()
                    password_hash = first.password_hash
                    return first
                row = User(company=company, email=email, name=name, group=group, active=True,
                           password_hash=password_hash)
                db.session.add(row)
                return row

            supervisor = f"supervisor-{c + 1}@carga.example.com"
            user(supervisor, supervisors, f"Supervisora {c + 1}")
            departments = []
            for d in range(args.departments):
                emails = [f"agente-{c + 1}-{d + 1}-{a + 1}@carga.example.com"
                          for a in range(args.agents_per_department)]
                members = [(user(e, agents, f"Agente {c + 1}.{d + 1}.{a + 1}"), True, False)
                           for a, e in enumerate(emails)]
                db.session.flush()
                department = gen_department(company, f"Fila {d + 1}", members=members)
                db.session.flush()
                departments.append({"id": department.id, "agents": emails})
            connection = gen_connection(company, "Site")
            db.session.commit()
            world["companies"].append({"id": company.id, "key": connection.public_key,
                                       "supervisors": [supervisor],
                                       "departments": departments})
    Path(args.out).write_text(json.dumps(world))


def seed(args, env: dict, out: Path) -> dict:
    cmd = [PYTHON, str(Path(__file__).resolve()), "seed", "--out", str(out),
           "--companies", str(args.companies), "--departments", str(args.departments),
           "--agents-per-department", str(args.agents_per_department)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"seeding failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    world = json.loads(out.read_text())
    print(f"  seeded {len(world['companies'])} companies in {time.perf_counter() - started:.1f} s",
          flush=True)
    return world


# --- the client processes -------------------------------------------------------------------


@dataclass
class Sent:
    due: float
    receivers: tuple
    status: object = None
    answered: float = 0.0
    got: dict = field(default_factory=dict)
    dups: int = 0
    busy: int = 0  # 503 answers (a server over its requests at once) before this one


@dataclass
class Visitor:
    key: str
    department_id: int
    receivers: tuple
    token: str = ""
    cookies: dict = field(default_factory=dict)


def client_main(conn, spec: dict) -> None:
    """A client process: its companies' agents and visitors on one asyncio loop, driven by
    the parent's commands through `conn`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us
    asyncio.run(Client(conn, spec).serve())


class Client:
    def __init__(self, conn, spec: dict):
        self.conn = conn
        self.spec = spec
        self.base = spec["base_url"].rstrip("/")
        self.pending: dict[str, Sent] = {}
        self.closed_keys: set[str] = set()
        self.late = 0
        self.sockets = []
        self.sessions = []
        self.hello: dict[str, list] = {}
        self.visitors: list[Visitor] = []
        self.http = None
        self.lags = array("d")
        self.retried: dict[str, int] = {}
        self.disconnects = 0

    async def serve(self) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        loop = asyncio.get_running_loop()
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.DummyCookieJar(),
            connector=aiohttp.TCPConnector(limit=self.spec["connections"]),
            timeout=aiohttp.ClientTimeout(total=self.spec["post_timeout"]))
        lag_task = asyncio.create_task(self._lag())
        try:
            while True:
                command, data = await loop.run_in_executor(None, self.conn.recv)
                if command == "close":
                    break
                try:
                    reply = await getattr(self, "do_" + command)(**data)
                except Exception as exc:  # told to the parent, which stops the run
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                self.conn.send(reply)
        finally:
            lag_task.cancel()
            for sio in self.sockets:
                try:
                    await sio.disconnect()
                except Exception:
                    pass
            for session in self.sessions:
                await session.close()
            await self.http.close()
            self.conn.send({"closed": True})

    async def _lag(self) -> None:
        """How late the loop wakes from a 20 ms sleep: the client's own saturation."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.02)
            self.lags.append((time.perf_counter() - before - 0.02) * 1000)

    # -- agents --

    def _receiver(self, name: str):
        def on_ticket_updated(data):
            now = time.perf_counter()
            sent = self.pending.get(data.get("preview") or "") if isinstance(data, dict) else None
            if sent is None:
                if isinstance(data, dict) and (data.get("preview") or "") in self.closed_keys:
                    self.late += 1
                return
            if name in sent.got:
                sent.dups += 1
            else:
                sent.got[name] = now
        return on_ticket_updated

    def _dropped(self, *_reason) -> None:
        # an agent's socket closed by the server or by a missed ping: its events are lost
        self.disconnects += 1

    async def _form_login(self, session, email: str) -> str | None:
        """The login form as a browser sends it; None when logged in, else what it said."""
        try:
            async with session.get(self.base + "/login") as r:
                page = await r.text()
            found = CSRF_RE.search(page)
            if found is None:
                return f"no CSRF token on /login ({r.status})"
            form = {"csrf_token": found.group(1), "email": email,
                    "password": self.spec["password"]}
            async with session.post(self.base + "/login", data=form,
                                    allow_redirects=False) as r:
                page = await r.text()
                where = r.headers.get("Location", "")
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        if r.status == 302 and "/login" not in where:
            return None
        said = ALERT_RE.findall(page)
        return f"login answered {r.status} {where} {said[0] if said else ''}".strip()

    async def _login(self, email: str, semaphore) -> str | None:
        """Log in, then connect the agent's socket with the same cookies. A refusal is
        tried again (at most 5 times), as a person would, and counted: the login throttle
        (SEC-5) can refuse a right password sent while another login from the same address
        is being counted, and the embedded SQLite can answer 500 (database is locked)
        under a storm of logins. The bench only needs the agents in."""
        aiohttp = self.aiohttp
        import socketio

        async with semaphore:
            session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                            timeout=aiohttp.ClientTimeout(total=180))
            self.sessions.append(session)
            problem = "no attempt"
            for attempt in range(6):
                if attempt:
                    reason = re.sub(r"\d+", "N", problem)[:100]
                    self.retried[reason] = self.retried.get(reason, 0) + 1
                    await asyncio.sleep(1.0 + attempt)
                problem = await self._form_login(session, email)
                if problem is not None:
                    continue
                sio = socketio.AsyncClient(reconnection=False, http_session=session)
                sio.on("ticket.updated", self._receiver(email))
                sio.on("disconnect", self._dropped)
                sio.on("hello", lambda data, email=email: self.hello.__setitem__(
                    email, (data or {}).get("rooms") or []))
                try:
                    await sio.connect(self.base, transports=self.spec["transports"],
                                      wait_timeout=120)
                except Exception as exc:
                    problem = f"socket: {type(exc).__name__}: {exc}"
                    continue
                self.sockets.append(sio)
                return None
            return f"{email}: {problem}"

    async def do_login(self) -> dict:
        semaphore = asyncio.Semaphore(self.spec["login_concurrency"])
        emails, wanted_rooms = [], {}
        for company in self.spec["companies"]:
            for email in company["supervisors"]:
                emails.append(email)
                wanted_rooms[email] = f"supervise:{company['id']}"
            for department in company["departments"]:
                for email in department["agents"]:
                    emails.append(email)
                    wanted_rooms[email] = f"dept:{department['id']}"
        started = time.perf_counter()
        problems = [p for p in await asyncio.gather(*(self._login(e, semaphore) for e in emails))
                    if p]
        for _ in range(100):  # the hello event follows the connect
            if len(self.hello) >= len(self.sockets):
                break
            await asyncio.sleep(0.05)
        in_room = sum(1 for e, room in wanted_rooms.items() if room in self.hello.get(e, ()))
        return {"connected": len(self.sockets), "wanted": len(emails), "in_room": in_room,
                "problems": problems[:5], "seconds": time.perf_counter() - started,
                "retried": self.retried}

    # -- visitors --

    def _headers(self, visitor: Visitor) -> dict:
        headers = {"Accept": "application/json"}
        if visitor.token:
            headers["X-Visitor-Token"] = visitor.token
        if visitor.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
        return headers

    @staticmethod
    def _keep_cookies(visitor: Visitor, response) -> None:
        # what a browser on plain http keeps (the widget's resume cookie is Secure)
        for value in response.headers.getall("Set-Cookie", []):
            for name, morsel in SimpleCookie(value).items():
                if not morsel["secure"]:
                    visitor.cookies[name] = morsel.value

    async def _start(self, visitor: Visitor, i: int, semaphore) -> str | None:
        """The widget's first message. A failure is sent again with the same client_id,
        as the widget does (CHN-5: the server gives back what a first try made), at most
        5 times, and counted."""
        url = f"{self.base}/widget/{visitor.key}/api/start"
        body = {"name": f"Visitante {i}", "department_id": visitor.department_id,
                "text": f"Olá, sou o visitante {i}", "client_id": secrets.token_hex(8)}
        problem = None
        async with semaphore:
            for attempt in range(6):
                if attempt:
                    reason = re.sub(r"\d+", "N", problem)[:100]
                    self.retried[reason] = self.retried.get(reason, 0) + 1
                    await asyncio.sleep(1.0 + attempt)
                try:
                    async with self.http.post(url, json=body,
                                              headers=self._headers(visitor)) as r:
                        data = await r.json(content_type=None)
                        self._keep_cookies(visitor, r)
                        if r.status == 201:
                            visitor.token = data["token"]
                            return None
                        problem = f"start answered {r.status}: {data.get('error')}"
                except Exception as exc:
                    problem = f"start: {type(exc).__name__}: {exc}"
        return problem

    async def do_visitors(self, per_department: int) -> dict:
        rounds = [[] for _ in range(per_department)]
        for company in self.spec["companies"]:
            for department in company["departments"]:
                receivers = tuple(department["agents"]) + tuple(company["supervisors"])
                for n in range(per_department):
                    rounds[n].append(Visitor(company["key"], department["id"], receivers))
        # departments interleaved, so consecutive messages fan out to different rooms
        self.visitors = [v for each in rounds for v in each]
        self.retried = {}
        semaphore = asyncio.Semaphore(self.spec["login_concurrency"])
        problems = [p for p in await asyncio.gather(
            *(self._start(v, i, semaphore) for i, v in enumerate(self.visitors))) if p]
        await asyncio.sleep(1.0)  # the first messages' events, not measured
        return {"visitors": sum(1 for v in self.visitors if v.token), "problems": problems[:5],
                "retried": self.retried}

    # -- a step --

    async def _post(self, visitor: Visitor, text: str, sent: Sent) -> None:
        """As the widget sends: a 503 (the server busy) is sent again after its
        Retry-After, with the same client id, up to BUSY_TRIES times; the latency counts
        from the first due time."""
        url = f"{self.base}/widget/{visitor.key}/api/messages"
        body = {"text": text, "client_id": secrets.token_hex(8)}
        while True:
            try:
                async with self.http.post(url, json=body, headers=self._headers(visitor)) as r:
                    await r.read()
                    sent.status = r.status
                    retry_after = r.headers.get("Retry-After", "")
            except Exception as exc:
                sent.status = type(exc).__name__
                break
            if sent.status != 503 or sent.busy >= BUSY_TRIES:
                break
            sent.busy += 1
            await asyncio.sleep(min(max(float(retry_after) if retry_after.isdigit() else 1, 1), 10))
        sent.answered = time.perf_counter()

    async def do_step(self, rate: float, seconds: float, label: str) -> dict:
        cpu0 = os.times()
        self.lags = array("d")
        n = max(1, int(round(rate * seconds)))
        interval = 1.0 / rate
        visitors = itertools.cycle([v for v in self.visitors if v.token])
        t0 = time.perf_counter() + 0.05
        step_sent: dict[str, Sent] = {}
        tasks = []
        for i in range(n):
            due = t0 + i * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif i % 20 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the receivers run
            visitor = next(visitors)
            text = f"{TEXT_PREFIX}{label}-{self.spec['index']}-{i}"
            sent = Sent(due=due, receivers=visitor.receivers)
            self.pending[text] = step_sent[text] = sent
            tasks.append(asyncio.create_task(self._post(visitor, text, sent)))
        await asyncio.gather(*tasks)
        last_answer = max(s.answered for s in step_sent.values())
        timeout = self.spec["loss_timeout"]
        while time.perf_counter() < last_answer + timeout:
            if all(len(s.got) == len(s.receivers) for s in step_sent.values()
                   if s.status == 201):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # room for a duplicate right behind the first event
        latencies, answers = array("d"), array("d")
        statuses: dict[str, int] = {}
        lost = dups = unacked_delivered = expected = busy = 0
        for text, s in step_sent.items():
            answers.append((s.answered - s.due) * 1000)
            busy += s.busy
            if s.status != 201:
                statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
                unacked_delivered += bool(s.got)
                continue
            expected += len(s.receivers)
            for name in s.receivers:
                if name in s.got:
                    latencies.append((s.got[name] - s.due) * 1000)
                else:
                    lost += 1
            dups += s.dups
            del self.pending[text]
            self.closed_keys.add(text)
        for text in list(step_sent):
            self.pending.pop(text, None)
        late, self.late = self.late, 0
        dropped, self.disconnects = self.disconnects, 0
        cpu1 = os.times()
        return {"sent": n, "acked": n - sum(statuses.values()), "statuses": statuses,
                "window": max(seconds, last_answer - t0), "latencies": latencies.tobytes(),
                "answers": answers.tobytes(), "expected": expected, "lost": lost,
                "dups": dups, "late": late, "dropped": dropped, "unacked_delivered": unacked_delivered,
                "busy": busy,
                "lags": self.lags.tobytes(),
                "cpu": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}


# --- processes: CPU and memory from /proc ---------------------------------------------------


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, user+sys seconds) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def with_children(roots) -> set[int]:
    """The processes and all their descendants (gunicorn's worker under its master...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found:
                children.setdefault(found[0], []).append(int(entry))
    result, todo = set(), [r for r in roots if r]
    while todo:
        pid = todo.pop()
        if pid not in result:
            result.add(pid)
            todo.extend(children.get(pid, ()))
    return result


class Meter:
    """CPU seconds per group of processes (web, workers, postgres, redis, proxy)."""

    def __init__(self, target):
        self.target = target
        self.pg = self.pg_url = None
        if target.database_url:
            import psycopg

            self.pg_url = target.database_url.replace("postgresql+psycopg://", "postgresql://")
            self.pg = psycopg.connect(self.pg_url, autocommit=True)
        # the bench's own backends (this one, Meter.watch's) are not the servers' work
        self.own_backends = {self.pg.info.backend_pid} if self.pg is not None else set()

    def groups(self, pg=None) -> dict[str, set[int]]:
        t = self.target
        pg = pg if pg is not None else self.pg
        groups = {"web": with_children(t.web_pids), "workers": with_children(t.worker_pids),
                  "redis": with_children([t.redis_pid]), "proxy": with_children([t.proxy_pid])}
        if pg is not None:
            # the backends of the bench database (the server is shared with other work)
            groups["postgres"] = {row[0] for row in pg.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> ALL(%s)", (sorted(self.own_backends),))}
        return groups

    def sample(self, pg=None) -> dict[str, dict[int, float]]:
        out = {}
        for name, pids in self.groups(pg).items():
            out[name] = {}
            for pid in pids:
                found = _stat(pid)
                if found:
                    out[name][pid] = found[1]
        return out

    def watch(self, every: float = 0.5) -> "_Watch":
        """Samples taken every `every` seconds while the block runs (a thread): a process
        that exits before the step ends (a pool's overflow connection to PostgreSQL,
        closed when returned) still counts with the CPU it had at its last sample."""
        return _Watch(self, every)

    @staticmethod
    def delta(before, after) -> dict[str, float]:
        # a process born during the step counts from 0; one gone since its last sample
        # misses at most one interval of its CPU (Meter.watch); a process's CPU only grows,
        # so a drop is a pid the system gave again to a new process: counted from 0
        return {name: sum(cpu - before.get(name, {}).get(pid, 0.0)
                          if cpu >= before.get(name, {}).get(pid, 0.0) else cpu
                          for pid, cpu in pids.items())
                for name, pids in after.items()}

    def sessions(self) -> int | None:
        """PostgreSQL sessions opened so far on the bench database (PostgreSQL 14 and
        later; None elsewhere). Each step prints how many it opened: a pool's overflow
        connections are opened for a burst and closed when returned, each a server
        process started and its statements prepared again (DB_POOL_SIZE,
        DB_MAX_OVERFLOW)."""
        if self.pg is None:
            return None
        try:
            return self.pg.execute("SELECT sessions FROM pg_stat_database "
                                   "WHERE datname = current_database()").fetchone()[0]
        except Exception:  # older server: no such column
            return None

    def memory(self) -> dict[str, float]:
        t = self.target
        return {"web": sum(_rss_mb(p) for p in with_children(t.web_pids)),
                "workers": sum(_rss_mb(p) for p in with_children(t.worker_pids))}

    def close(self):
        if self.pg is not None:
            self.pg.close()


class _Watch:
    """Meter.watch's thread: `seen` holds each process's latest CPU per group, the
    processes gone before the end included."""

    def __init__(self, meter: Meter, every: float):
        self.meter, self.every = meter, every
        self.seen: dict[str, dict[int, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meter-watch", daemon=True)
        self._pg = None

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.add(self.meter.sample(self._pg))

    def add(self, sample: dict[str, dict[int, float]]) -> None:
        for name, pids in sample.items():
            self.seen.setdefault(name, {}).update(pids)

    def __enter__(self) -> "_Watch":
        if self.meter.pg is not None:  # a connection of its own: psycopg's is not shared
            import psycopg

            self._pg = psycopg.connect(self.meter.pg_url, autocommit=True)
            self.meter.own_backends.add(self._pg.info.backend_pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        if self._pg is not None:
            self.meter.own_backends.discard(self._pg.info.backend_pid)
            self._pg.close()


# --- targets --------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    base_url: str = ""
    web_pids: list = field(default_factory=list)
    worker_pids: list = field(default_factory=list)
    redis_pid: int = 0
    proxy_pid: int = 0
    database_url: str = ""
    procs: list = field(default_factory=list)
    stop_cmd: list | None = None
    web_urls: list = field(default_factory=list)

    def stop(self) -> None:
        if self.stop_cmd:
            subprocess.run(self.stop_cmd, cwd=ROOT, capture_output=True, timeout=120)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def server_env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in (
        "DATABASE_URL", "REDIS_URL", "SOCKETIO_MESSAGE_QUEUE", "TASK_MODE", "ATENDE_INSTANCE",
        "PORT", "HOST")}
    env.update({"WEBCHAT_RATE_LIMIT": NO_LIMIT, "WEBCHAT_START_RATE_LIMIT": NO_LIMIT,
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def wait_http(url: str, proc=None, log: Path | None = None, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise SystemExit(f"server exited ({proc.returncode}) before answering:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


def _popen(cmd, env, log: Path):
    out = open(log, "ab")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_redis(port: int, log: Path):
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server not found")
    proc = _popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no"], os.environ.copy(), log)
    import redis

    client = redis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    for _ in range(100):
        try:
            if client.ping():
                return proc
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"redis-server on {port} did not start (see {log})")


def prepare(name: str, args, run_dir: Path) -> tuple[Target, dict]:
    """Seed the target's database, then start its servers."""
    folder = run_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    instance = folder / "instance"
    if name == "embedded":
        env = server_env({"ATENDE_INSTANCE": str(instance)})
        world = seed(args, env, folder / "world.json")
        log = folder / "app.log"
        proc = _popen([PYTHON, "app.py"], {**env, "PORT": str(args.embedded_port),
                                            "HOST": "127.0.0.1"}, log)
        target = Target(name, base_url=f"http://127.0.0.1:{args.embedded_port}",
                        web_pids=[proc.pid], procs=[proc])
        wait_http(target.base_url + "/login", proc, log)
        return target, world

    sys.path.insert(0, str(ROOT / "bench"))
    from databases import create_missing_database

    url = args.database_url.replace("postgresql://", "postgresql+psycopg://")
    create_missing_database(url)
    if name == "single":
        target = Target(name, database_url=url)
        redis_url = args.redis_url
        if not redis_url:
            target.procs.append(start_redis(args.single_redis_port, folder / "redis.log"))
            target.redis_pid = target.procs[-1].pid
            redis_url = f"redis://127.0.0.1:{args.single_redis_port}/0"
        env = server_env({"ATENDE_INSTANCE": str(instance), "DATABASE_URL": url,
                          "REDIS_URL": redis_url, "SOCKETIO_MESSAGE_QUEUE": redis_url})
        try:
            world = seed(args, env, folder / "world.json")
            log = folder / "app.log"
            web = _popen([PYTHON, "app.py"], {**env, "PORT": str(args.single_port),
                                               "HOST": "127.0.0.1"}, log)
            target.procs.append(web)
            target.web_pids = [web.pid]
            worker = _popen([str(Path(PYTHON).parent / "rq"), "worker", "--worker-class",
                             "rq.worker.SimpleWorker", "--with-scheduler", "--url", redis_url,
                             "default"], env, folder / "worker.log")
            target.procs.append(worker)
            target.worker_pids = [worker.pid]
            target.base_url = f"http://127.0.0.1:{args.single_port}"
            wait_http(target.base_url + "/login", web, log)
        except BaseException:
            target.stop()
            raise
        return target, world

    # cluster
    script = ROOT / "deploy" / "cluster.py"
    if not script.exists():
        raise SystemExit("deploy/cluster.py not found: run --targets embedded,single")
    state = folder / "state"
    env = server_env({"ATENDE_INSTANCE": str(instance), "DATABASE_URL": url})
    world = seed(args, env, folder / "world.json")
    # deploy/cluster.py's own start(), called in a subprocess: its command line has no
    # option for the web processes' ports, and other clusters may hold 8101, 8102...
    call = {"state": str(state), "web": args.web, "workers": args.workers,
            "port": args.cluster_port, "database_url": url,
            "redis_port": args.cluster_redis_port, "web_base_port": args.cluster_web_port,
            "extra_env": {"WEBCHAT_RATE_LIMIT": NO_LIMIT, "WEBCHAT_START_RATE_LIMIT": NO_LIMIT}}
    code = ("import json, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from deploy import cluster; a = json.loads(sys.argv[2]); "
            "info = cluster.start(Path(a['state']), a['web'], a['workers'], a['port'], "
            "a['database_url'], a['redis_port'], None, False, a['web_base_port'], "
            "a['extra_env']); print('CLUSTER ' + json.dumps(info))")
    target = Target(name, database_url=url,
                    stop_cmd=[PYTHON, str(script), "stop", "--state-dir", str(state)])
    started = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", code, str(ROOT), json.dumps(call)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        target.stop()
        raise SystemExit(f"deploy/cluster.py start failed:\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-3000:]}")
    info = json.loads((state / "cluster.json").read_text())
    target.base_url = info["proxy"]
    target.web_pids = [w["pid"] for w in info["web"]]
    target.web_urls = [w["url"] for w in info["web"]]
    # the sweeper (automation ticks, re-queues) is background work beside the workers
    target.worker_pids = [w["pid"] for w in info["workers"]] + (
        [info["sweeper"]["pid"]] if (info.get("sweeper") or {}).get("pid") else [])
    target.redis_pid = (info.get("redis") or {}).get("pid") or 0
    target.proxy_pid = info.get("nginx_pid") or (info.get("nginx") or {}).get("pid") or 0
    try:
        wait_http(target.base_url + "/login")
    except BaseException:
        target.stop()
        raise
    print(f"  cluster up in {time.perf_counter() - started:.1f} s: proxy {target.base_url}, "
          f"web {', '.join(target.web_urls)}, {len(target.worker_pids)} workers", flush=True)
    return target, world


def established_by_port(urls) -> str:
    """How many TCP connections each web process holds (the agents' sockets, mostly)."""
    if not urls or not shutil.which("ss"):
        return ""
    parts = []
    for url in urls:
        port = url.rsplit(":", 1)[-1].strip("/")
        out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                             capture_output=True, text=True).stdout
        parts.append(f"{url} {len(out.splitlines())}")
    return "connections per web process: " + ", ".join(parts)


# --- the run --------------------------------------------------------------------------------


def pct(values, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def load_avg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class StepResult:
    label: str
    offered: float
    seconds: float
    sent: int = 0
    acked: int = 0
    achieved: float = 0.0
    p50: float = float("nan")
    p99: float = float("nan")
    worst: float = float("nan")
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    dups: int = 0
    late: int = 0
    dropped: int = 0
    busy: int = 0  # POSTs answered 503 and sent again (as the widget does)
    statuses: dict = field(default_factory=dict)
    cpu: dict = field(default_factory=dict)
    client_cpu: float = 0.0
    lag_p99: float = float("nan")
    answer_p99: float = float("nan")
    pg_sessions: int | None = None  # PostgreSQL connections opened during the step

    @property
    def cpu_ms_per_msg(self) -> float:
        return sum(self.cpu.values()) * 1000 / self.acked if self.acked else float("nan")

    def sustained(self, p99_limit: float) -> bool:
        return (self.acked == self.sent and self.lost == 0 and self.p99 <= p99_limit
                and self.achieved >= 0.9 * self.offered)


class Run:
    def __init__(self, target: Target, world: dict, args):
        self.target, self.args = target, args
        n = max(1, min(args.client_processes, len(world["companies"])))
        ctx = multiprocessing.get_context("spawn")
        self.clients = []
        for i in range(n):
            companies = world["companies"][i::n]
            parent, child = ctx.Pipe()
            spec = {"index": i, "base_url": target.base_url, "companies": companies,
                    "password": world["password"], "transports": args.transports.split(","),
                    "loss_timeout": args.loss_timeout, "post_timeout": args.post_timeout,
                    "connections": args.connections, "login_concurrency": args.login_concurrency}
            proc = ctx.Process(target=client_main, args=(child, spec), daemon=True)
            proc.start()
            visitors = sum(len(c["departments"]) for c in companies) * args.visitors_per_department
            self.clients.append((proc, parent, visitors))
        self.total_visitors = sum(v for _p, _c, v in self.clients)

    def ask(self, command: str, per_client: list[dict]) -> list[dict]:
        for (_proc, conn, _v), data in zip(self.clients, per_client):
            conn.send((command, data))
        replies = []
        for proc, conn, _v in self.clients:
            while not conn.poll(1.0):
                if not proc.is_alive():
                    raise SystemExit(f"a client process died (exit {proc.exitcode})")
            reply = conn.recv()
            if "error" in reply:
                raise SystemExit(f"client {command} failed: {reply['error']}")
            replies.append(reply)
        return replies

    def close(self) -> None:
        for proc, conn, _v in self.clients:
            try:
                conn.send(("close", {}))
                if conn.poll(30):
                    conn.recv()
            except (OSError, EOFError):
                pass
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()

    def step(self, label: str, rate: float, seconds: float, meter: Meter) -> StepResult:
        with meter.watch() as watched:  # its own connection opened before the count
            before, sessions = meter.sample(), meter.sessions()
            replies = self.ask("step", [{"rate": rate * v / self.total_visitors,
                                         "seconds": seconds, "label": label}
                                        for _p, _c, v in self.clients])
        watched.add(meter.sample())
        after, sessions_after = watched.seen, meter.sessions()
        r = StepResult(label, rate, seconds)
        if sessions is not None and sessions_after is not None:
            r.pg_sessions = sessions_after - sessions
        latencies, answers, lags = array("d"), array("d"), array("d")
        window = 0.0
        for reply in replies:
            r.sent += reply["sent"]
            r.acked += reply["acked"]
            r.expected += reply["expected"]
            r.lost += reply["lost"]
            r.dups += reply["dups"]
            r.late += reply["late"]
            r.dropped += reply["dropped"]
            r.busy += reply["busy"]
            r.client_cpu += reply["cpu"]
            for status, count in reply["statuses"].items():
                r.statuses[status] = r.statuses.get(status, 0) + count
            latencies.frombytes(reply["latencies"])
            answers.frombytes(reply["answers"])
            lags.frombytes(reply["lags"])
            window = max(window, reply["window"])
        r.delivered = len(latencies)
        r.achieved = r.acked / window if window > 0 else 0.0
        values = sorted(latencies)
        if values:
            r.p50, r.p99, r.worst = pct(values, 0.5), pct(values, 0.99), values[-1]
        r.lag_p99 = pct(lags, 0.99)
        r.answer_p99 = pct(answers, 0.99)
        r.cpu = Meter.delta(before, after)
        return r


HEADER = (f"{'step':<9}{'offered':>8}{'achieved':>9}{'sent':>7}{'failed':>7}{'p50 ms':>8}"
          f"{'p99 ms':>8}{'max ms':>8}{'POST p99':>9}{'lost':>6}{'dup':>5}  "
          f"{'CPU ms/msg (web wrk pg redis proxy)':<38}{'client':>7}{'lag p99':>8}  sustained")


def row(r: StepResult, p99_limit: float) -> str:
    def per(seconds: float) -> float:
        return seconds * 1000 / r.acked if r.acked else float("nan")

    parts = " ".join(f"{per(r.cpu.get(k, 0.0)):.1f}"
                     for k in ("web", "workers", "postgres", "redis", "proxy"))
    cpu = f"{r.cpu_ms_per_msg:.1f} ({parts})"
    text = (f"{r.label:<9}{r.offered:>8.0f}{r.achieved:>9.1f}{r.sent:>7}{r.sent - r.acked:>7}"
            f"{r.p50:>8.1f}{r.p99:>8.1f}{r.worst:>8.0f}{r.answer_p99:>9.1f}{r.lost:>6}"
            f"{r.dups:>5}  {cpu:<38}{per(r.client_cpu):>7.1f}{r.lag_p99:>8.1f}  "
            f"{'yes' if r.sustained(p99_limit) else 'NO'}")
    if r.statuses:
        text += f"   failed POSTs: {r.statuses}"
    if r.busy:
        text += f"   answered busy (503) and sent again: {r.busy}"
    if r.late:
        text += f"   late events: {r.late}"
    if r.dropped:
        text += f"   agents' sockets dropped: {r.dropped}"
    if r.pg_sessions:
        text += f"   PostgreSQL connections opened: {r.pg_sessions}"
    return text


@dataclass
class Outcome:
    name: str
    sustained: float | None = None
    hold: StepResult | None = None
    broken_holds: list = field(default_factory=list)  # holds at higher rates that broke
    steps: list = field(default_factory=list)
    memory_start: dict = field(default_factory=dict)
    memory_end: dict = field(default_factory=dict)
    error: str = ""

    @property
    def lost(self) -> int:
        return sum(r.lost for r in self.measured())

    @property
    def dups(self) -> int:
        return sum(r.dups for r in self.measured())

    @property
    def expected(self) -> int:
        return sum(r.expected for r in self.measured())

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.measured())

    def measured(self) -> list[StepResult]:
        return self.steps + self.broken_holds + ([self.hold] if self.hold else [])

    def growth(self) -> float:
        start = sum(self.memory_start.values())
        end = sum(self.memory_end.values())
        return (end - start) / start if start else float("nan")


def hold(run: Run, meter: Meter, outcome: Outcome, args) -> None:
    """Hold the highest sustained step for --hold s; when that breaks, the next lower
    sustained step, and so on. `outcome.sustained` ends as the rate held throughout (None
    when none was), `outcome.hold` as the last hold run."""
    sustained = sorted({r.offered for r in outcome.steps if r.sustained(args.p99_limit)},
                       reverse=True)
    rates = sustained or [args.steps[0]]
    outcome.sustained = None
    quiet = bool(outcome.steps) and not outcome.steps[-1].sustained(args.p99_limit)
    for rate in rates:
        if quiet:
            time.sleep(args.settle)  # the broken step's (or hold's) backlog drains first
        r = run.step("hold", rate, args.hold, meter)
        print("  " + row(r, args.p99_limit), flush=True)
        if outcome.hold is not None:
            outcome.broken_holds.append(outcome.hold)
        outcome.hold = r
        if r.sustained(args.p99_limit):
            outcome.sustained = rate if sustained else None
            return
        quiet = True


def print_retried(replies: list[dict]) -> None:
    retried: dict[str, int] = {}
    for r in replies:
        for reason, count in r["retried"].items():
            retried[reason] = retried.get(reason, 0) + count
    for reason, count in sorted(retried.items(), key=lambda x: -x[1]):
        print(f"  tried again {count} times after: {reason}", flush=True)


def run_target(name: str, args, run_dir: Path) -> Outcome:
    print(f"\n== {name} ==  (load average {load_avg()}, {os.cpu_count()} cpus shared by "
          f"the servers and the bench's clients)", flush=True)
    outcome = Outcome(name)
    target, world = prepare(name, args, run_dir)
    run = meter = None
    try:
        meter = Meter(target)
        run = Run(target, world, args)
        logged = run.ask("login", [{} for _ in run.clients])
        connected = sum(r["connected"] for r in logged)
        wanted = sum(r["wanted"] for r in logged)
        in_room = sum(r["in_room"] for r in logged)
        print(f"  logged in and connected {connected} of {wanted} agents and supervisors "
              f"({in_room} in their department's or supervisors' room) in "
              f"{max(r['seconds'] for r in logged):.1f} s, transports {args.transports}",
              flush=True)
        print_retried(logged)
        problems = [p for r in logged for p in r["problems"]]
        if connected < wanted:
            raise SystemExit(f"not every agent connected: {problems}")
        spread = established_by_port(target.web_urls)
        if spread:
            print("  " + spread, flush=True)
        started = run.ask("visitors", [{"per_department": args.visitors_per_department}
                                       for _ in run.clients])
        visitors = sum(r["visitors"] for r in started)
        problems = [p for r in started for p in r["problems"]]
        print(f"  {visitors} of {run.total_visitors} visitors started a conversation", flush=True)
        print_retried(started)
        if visitors < run.total_visitors:
            raise SystemExit(f"not every visitor started: {problems}")
        outcome.memory_start = meter.memory()
        print("  " + HEADER, flush=True)
        best = None
        for i, rate in enumerate(args.steps):
            r = run.step(f"s{i + 1}", rate, args.step_seconds, meter)
            outcome.steps.append(r)
            print("  " + row(r, args.p99_limit), flush=True)
            if not r.sustained(args.p99_limit):
                break
            best = rate
        outcome.sustained = best
        if args.hold > 0:
            hold(run, meter, outcome, args)
        outcome.memory_end = meter.memory()
        if args.client_detail and outcome.hold:
            print(f"  client CPU over the hold: {outcome.hold.client_cpu:.1f} s", flush=True)
    except SystemExit as exc:
        outcome.error = str(exc)
        print(f"  FAILED: {exc}", flush=True)
    finally:
        if run is not None:
            run.close()
        if meter is not None:
            meter.close()
        target.stop()
    return outcome


def verdict(ok: bool) -> str:
    return "OK" if ok else "NOT MET"


def report(outcomes: list[Outcome], args) -> None:
    print(f"\nfinal table (load average {load_avg()}, {os.cpu_count()} cpus shared by the "
          f"servers and the bench's clients; hold {args.hold:.0f} s)")
    print(f"{'target':<10}{'sustained':>10}{'hold p50':>9}{'hold p99':>9}{'lost':>6}{'dup':>5}"
          f"{'CPU ms/msg':>11}{'mem start MB':>13}{'end MB':>8}{'growth':>8}")
    for o in outcomes:
        if o.error:
            print(f"{o.name:<10}  run failed: {o.error.splitlines()[0][:100]}")
            continue
        h = o.hold
        sustained = f"{o.sustained:.0f}/s" if o.sustained is not None else "none"
        start, end = sum(o.memory_start.values()), sum(o.memory_end.values())
        print(f"{o.name:<10}{sustained:>10}{(h.p50 if h else float('nan')):>9.1f}"
              f"{(h.p99 if h else float('nan')):>9.1f}{o.lost:>6}{o.dups:>5}"
              f"{(h.cpu_ms_per_msg if h else float('nan')):>11.1f}{start:>13.0f}{end:>8.0f}"
              f"{o.growth() * 100:>7.1f}%")
    print()
    for o in outcomes:
        if o.error:
            print(f"target: {o.name}: the run did not finish -> NOT MET")
            continue
        print(f"check {o.name}: delivered {o.delivered} of {o.expected}   lost {o.lost}   "
              f"duplicated {o.dups}")
        holds = o.broken_holds + [o.hold]
        for h, then in zip(holds, holds[1:]):
            print(f"hold {o.name}: {h.offered:.0f} msg/s broke over {h.seconds:.0f} s "
                  f"(p99 {h.p99:.1f} ms, achieved {h.achieved:.1f}); tried next at "
                  f"{then.offered:.0f} msg/s")
        if o.name == "cluster":
            h = o.hold
            ok = o.sustained is not None and o.sustained >= TARGET_RATE and h is not None \
                and h.p99 < TARGET_P99_MS
            rate = f"{o.sustained:.0f} msg/s" if o.sustained is not None else "none sustained"
            p99 = f"{h.p99:.1f} ms" if h else "-"
            print(f"target: cluster >= {TARGET_RATE:.0f} msg/s sustained with p99 < "
                  f"{TARGET_P99_MS:.0f} ms: {rate}, hold p99 {p99} -> {verdict(ok)}")
        print(f"target: {o.name} 0 lost: {o.lost} -> {verdict(o.lost == 0)}")
        print(f"target: {o.name} 0 duplicated: {o.dups} -> {verdict(o.dups == 0)}")
        growth = o.growth()
        print(f"target: {o.name} memory growth < {TARGET_GROWTH * 100:.0f}%: "
              f"{sum(o.memory_start.values()):.0f} -> {sum(o.memory_end.values()):.0f} MB "
              f"({growth * 100:+.1f}%) -> {verdict(growth < TARGET_GROWTH)}")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", default="embedded,cluster",
                   help="comma separated: embedded, single, cluster (in that order)")
    p.add_argument("--companies", type=int, default=6)
    p.add_argument("--departments", type=int, default=5, help="per company")
    p.add_argument("--agents-per-department", type=int, default=10)
    p.add_argument("--visitors-per-department", type=int, default=10)
    p.add_argument("--steps", default="25,50,100,150,200,250,300",
                   help="offered rates in messages/s, stepped up")
    p.add_argument("--step-seconds", type=float, default=30)
    p.add_argument("--hold", type=float, default=300,
                   help="seconds at the highest sustained step (the next lower one while "
                        "it breaks)")
    p.add_argument("--settle", type=float, default=15,
                   help="seconds of quiet before the hold when the last step broke")
    p.add_argument("--p99-limit", type=float, default=TARGET_P99_MS,
                   help="a step with a higher p99 (ms) is not sustained")
    p.add_argument("--loss-timeout", type=float, default=5.0,
                   help="seconds after the POST's answer before a missing event is lost")
    p.add_argument("--post-timeout", type=float, default=30.0)
    p.add_argument("--transports", default="websocket",
                   help="the agents' Socket.IO transports (polling,websocket: a browser's)")
    p.add_argument("--client-processes", type=int, default=2)
    p.add_argument("--connections", type=int, default=200,
                   help="visitors' HTTP connections per client process")
    p.add_argument("--login-concurrency", type=int, default=4,
                   help="logins and conversation starts at once, per client process")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_PG)
    p.add_argument("--redis-url", default="",
                   help="single: an existing Redis (else one of its own on --single-redis-port)")
    p.add_argument("--embedded-port", type=int, default=5092)
    p.add_argument("--single-port", type=int, default=5093)
    p.add_argument("--single-redis-port", type=int, default=6393)
    p.add_argument("--cluster-port", type=int, default=8092)
    p.add_argument("--cluster-redis-port", type=int, default=6392)
    p.add_argument("--cluster-web-port", type=int, default=8190,
                   help="cluster: web process i listens on this + i")
    p.add_argument("--web", type=int, default=2, help="cluster: web processes")
    p.add_argument("--workers", type=int, default=2, help="cluster: rq workers")
    p.add_argument("--state-dir", default="", help="where logs and state go (default: a temp dir)")
    p.add_argument("--client-detail", action="store_true")
    args = p.parse_args(argv)
    args.steps = [float(x) for x in args.steps.split(",") if x.strip()]
    args.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    for t in args.targets:
        if t not in ("embedded", "single", "cluster"):
            p.error(f"unknown target {t}")
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["seed"]:
        p = argparse.ArgumentParser()
        p.add_argument("--out", required=True)
        p.add_argument("--companies", type=int, required=True)
        p.add_argument("--departments", type=int, required=True)
        p.add_argument("--agents-per-department", type=int, required=True)
        seed_main(p.parse_args(argv[1:]))
        return 0
    args = parse(argv)
    run_dir = Path(args.state_dir or tempfile.mkdtemp(prefix="atende-load-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    agents = args.companies * args.departments * args.agents_per_department
    print(f"machine: {os.cpu_count()} cpus, load average {load_avg()}; Python "
          f"{sys.version.split()[0]}; logs in {run_dir}")
    print(f"world: {args.companies} companies x {args.departments} departments x "
          f"{args.agents_per_department} agents = {agents} agents + {args.companies} supervisors; "
          f"{args.companies * args.departments * args.visitors_per_department} visitors; "
          f"steps {', '.join(f'{s:.0f}' for s in args.steps)} msg/s x {args.step_seconds:.0f} s, "
          f"hold {args.hold:.0f} s; {args.client_processes} client processes")
    outcomes = []
    for name in args.targets:
        outcomes.append(run_target(name, args, run_dir))
    report(outcomes, args)
    return 1 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
