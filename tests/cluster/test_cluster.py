"""SCL-2: what crosses processes on the production-shaped cluster (deploy/cluster.py).

Each test drives real processes: requests reach a chosen web process (or the proxy),
agents listen with a real Socket.IO client over HTTP long-polling (so every request of
the session must reach the same process, through nginx's sticky route when it goes
through the proxy), workers and the sweeper run as `rq worker` and `flask inbox
sweeper`, and failures are real signals (SIGKILL), a restart of the Redis server, or
what a restart of PostgreSQL does to the cluster's database (its connections ended, new
ones refused for a moment).
"""
from __future__ import annotations

import itertools
import time
import uuid
import threading
from contextlib import contextmanager

import pytest
import requests
import socketio
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from deploy import cluster as cl
from tests.cluster.conftest import DATABASE, kill, session_for, wait_for
from tests.conftest import PG_URL

_seq = itertools.count(1)


class Live:
    """An agent's open inbox, as far as the socket goes: every event it hears."""

    def __init__(self, base: str, session: requests.Session):
        self.events: list[tuple[str, dict]] = []
        self.connects = 0
        self.lock = threading.Lock()
        self.sio = socketio.Client(http_session=session, reconnection=True,
                                   reconnection_delay=0.3, reconnection_delay_max=1)
        self.sio.on("*", self._any)
        self.sio.on("connect", self._connected)
        self.sio.connect(base, transports=["polling"], wait_timeout=10)

    def _any(self, event, data=None):
        with self.lock:
            self.events.append((event, data))

    def _connected(self):
        self.connects += 1

    def wait(self, event: str, match, timeout: float = 10.0) -> dict:
        def found():
            with self.lock:
                return next((d for e, d in self.events if e == event and match(d)), None)
        return wait_for(found, timeout, what=f"socket event {event}")

    def count(self, event: str, match) -> int:
        with self.lock:
            return sum(1 for e, d in self.events if e == event and match(d))

    def close(self):
        self.sio.disconnect()


def _visitor_starts(base: str, world: dict, text: str) -> dict:
    r = requests.post(f"{base}/widget/{world['webchat_key']}/api/start", timeout=10,
                      json={"text": text, "name": "Visitante", "client_id": uuid.uuid4().hex,
                            "department_id": world["department_id"]})
    assert r.status_code == 201, r.text
    return r.json()


def _visitor_says(base: str, world: dict, token: str, text: str) -> None:
    """As a visitor with the widget does: a 5xx (a POST that was on its way to a process
    that died: nginx does not replay a POST it already sent) leaves the text in the box, and
    the visitor presses Enviar again a moment later, with the same client id. Right after a
    process dies, nginx may answer 502 "no live upstreams" for a few seconds (a process it
    marked down within its fail_timeout, 5 s in deploy/nginx), so the resends go on for
    longer than that."""
    client_id = uuid.uuid4().hex
    deadline = time.monotonic() + 15
    while True:
        r = requests.post(f"{base}/widget/{world['webchat_key']}/api/messages", timeout=10,
                          headers={"X-Visitor-Token": token},
                          json={"text": text, "client_id": client_id})
        if r.status_code < 500 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.status_code == 201, r.text


def _messages(agent: requests.Session, base: str, ticket_id: int) -> list[dict]:
    r = agent.get(f"{base}/inbox/api/tickets/{ticket_id}/messages", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["messages"]


def _reply(agent: requests.Session, base: str, ticket_id: int, text: str) -> dict:
    r = agent.post(f"{base}/inbox/api/tickets/{ticket_id}/messages", data={"text": text},
                   timeout=15)
    assert r.status_code == 201, r.text
    return r.json()["message"]


def _status(agent, base, ticket_id, message_id) -> str | None:
    return next((m["status"] for m in _messages(agent, base, ticket_id)
                 if m["id"] == message_id), None)


def _until_served(call, timeout: float = 15.0):
    """A request sent again while it gets a 5xx, as the pages do (the busy 503 of a
    process whose database connections died, nginx's 502 right after a process died)."""
    deadline = time.monotonic() + timeout
    while True:
        r = call()
        if r.status_code < 500 or time.monotonic() > deadline:
            return r
        time.sleep(0.3)


def test_SCL_2_agent_on_process_B_hears_live_what_came_through_A_and_what_a_worker_did(running_cluster):
    """A visitor writes through web process A; the agent, connected to process B, gets the
    new ticket and the message live; the agent's answer is delivered by an RQ worker, and
    the status the worker sets reaches the agent on B."""
    world = running_cluster["world"]
    web_a, web_b = (w["url"] for w in running_cluster["web"])
    agent = session_for(web_b, world["agent"], world["password"])
    live = Live(web_b, agent)
    try:
        started = _visitor_starts(web_a, world, "Olá, escrevo pelo processo A")
        protocol = started["ticket"]["protocol"]
        summary = live.wait("ticket.updated", lambda d: d.get("protocol") == protocol)
        ticket_id = summary["id"]
        assert live.sio.call("ticket.join", {"id": ticket_id}, timeout=10) == {"ok": True}

        _visitor_says(web_a, world, started["token"], "Segunda mensagem, também por A")
        live.wait("message.created", lambda d: d.get("text") == "Segunda mensagem, também por A")

        r = agent.post(f"{web_a}/inbox/api/tickets/{ticket_id}/accept", timeout=10)
        assert r.status_code == 200, r.text
        sent = _reply(agent, web_a, ticket_id, "Resposta do agente, enviada pelo worker")
        live.wait("message.status_changed",
                  lambda d: d.get("id") == sent["id"] and d.get("status") == "sent")
    finally:
        live.close()


def _busy_worker(info: dict) -> dict:
    """The worker process running a job right now (a SimpleWorker runs it in itself)."""
    import redis
    from rq import Worker

    conn = redis.Redis.from_url(info["redis"]["url"])
    by_pid = {w["pid"]: w for w in info["workers"]}

    def busy():
        for worker in Worker.all(connection=conn):
            if worker.get_current_job_id() and worker.pid in by_pid:
                return by_pid[worker.pid]
        return None
    return wait_for(busy, 10, what="a worker busy with the send")


def _restart_workers(info: dict) -> None:
    for proc in list(info["workers"]):
        if not cl._alive(proc):
            cl.restart(info, proc["name"])


def test_SCL_2_worker_killed_mid_send_loses_nothing_and_the_receiver_keeps_one_copy(
        running_cluster, provider):
    """CHN-3 across processes: the worker sending a message is killed (SIGKILL) while the
    company's system holds the request. The message is not lost: once the claim is stale
    (SEND_STUCK_SECONDS) the sweeper queues it again and the other worker sends it. The
    killed attempt may have reached the receiver, so the second carries the same
    Idempotency-Key, and the receiver keeps one copy; the inbox shows one message, sent."""
    world = running_cluster["world"]
    web_a = running_cluster["web"][0]["url"]
    agent = session_for(web_a, world["agent"], world["password"])
    ticket_id = world["api_ticket_id"]
    text = "Mensagem que sobrevive à queda do worker"
    provider.delay = 3.0
    try:
        sent = _reply(agent, web_a, ticket_id, text)
        wait_for(lambda: provider.tried(text), 10, what="the send reaching the receiver")
        kill(_busy_worker(running_cluster))
        provider.delay = 0.0
        wait_for(lambda: _status(agent, web_a, ticket_id, sent["id"]) == "sent", 30,
                 every=0.5, what="the message sent by the other worker")
    finally:
        provider.delay = 0.0
        _restart_workers(running_cluster)
    assert len(provider.tried(text)) == 2          # the killed attempt, then the resend
    assert {a["key"] for a in provider.tried(text)} == {f"atende-message-{sent['id']}"}
    assert provider.delivered(text) == [f"atende-message-{sent['id']}"]
    shown = [m for m in _messages(agent, web_a, ticket_id) if m["text"] == text]
    assert [m["status"] for m in shown] == ["sent"]


def test_SCL_2_web_process_killed_its_agents_reconnect_through_the_proxy_and_catch_up(
        running_cluster):
    """An agent connected through nginx; its web process is killed. The socket reconnects
    through the proxy to the surviving process (the sticky route moves when its process is
    down), live events flow again, and what arrived meanwhile is there to fetch."""
    world = running_cluster["world"]
    proxy = running_cluster["proxy"]
    agent = session_for(proxy, world["agent"], world["password"])
    upstream = agent.get(f"{proxy}/inbox/", timeout=10).headers["X-Atende-Upstream"]
    victim = next(w for w in running_cluster["web"] if w["url"].endswith(upstream.split(":")[-1]))
    live = Live(proxy, agent)
    started = _visitor_starts(proxy, world, "Conversa antes da queda")
    protocol = started["ticket"]["protocol"]
    ticket_id = live.wait("ticket.updated", lambda d: d.get("protocol") == protocol)["id"]
    try:
        kill(victim)
        _visitor_says(proxy, world, started["token"], "Escrita enquanto o agente reconectava")
        wait_for(lambda: live.connects >= 2 and live.sio.connected, 20,
                 what="the socket reconnected through the proxy")
        after = agent.get(f"{proxy}/inbox/", timeout=10).headers["X-Atende-Upstream"]
        assert after != upstream
        texts = [m["text"] for m in _messages(agent, proxy, ticket_id)]
        assert texts.count("Escrita enquanto o agente reconectava") == 1
        assert live.sio.call("ticket.join", {"id": ticket_id}, timeout=10) == {"ok": True}
        _visitor_says(proxy, world, started["token"], "Depois da reconexão")
        live.wait("message.created", lambda d: d.get("text") == "Depois da reconexão")
    finally:
        live.close()
        cl.restart(running_cluster, victim["name"])


def test_SCL_2_redis_restart_queued_messages_and_scheduled_retries_resume(running_cluster,
                                                                        provider):
    """The Redis server stops (it keeps nothing on disk: every queued and scheduled job is
    gone). A message the agent sends meanwhile is saved as queued; a message whose first
    attempt failed had its retry scheduled in Redis. Once Redis is back, the sweeper finds
    both in the database and the workers send them; live events flow again. An agent
    connected through process B all along, whose pushes from A were lost meanwhile, is
    told to fetch again once B's listener is back on Redis, and finds the message."""
    world = running_cluster["world"]
    web_a, web_b = (w["url"] for w in running_cluster["web"])
    state = cl.Path(running_cluster["state_dir"])
    agent = session_for(web_a, world["agent"], world["password"])
    ticket_id = world["api_ticket_id"]
    retried, queued = "Primeira tentativa falha, nova tentativa agendada", "Enviada com o Redis fora"

    provider.fail_next = 1
    first = _reply(agent, web_a, ticket_id, retried)
    wait_for(lambda: provider.tried(retried), 10, what="the first, failing attempt")
    wait_for(lambda: _status(agent, web_a, ticket_id, first["id"]) == "queued", 10,
             what="the failed attempt back to queued, its retry scheduled")

    watching = Live(web_b, session_for(web_b, world["agent"], world["password"]))
    cl.stop_process(running_cluster["redis"], state)
    try:
        during = _reply(agent, web_a, ticket_id, queued)
        assert during["status"] == "queued"
    finally:
        cl.restart(running_cluster, "redis")
    try:
        # python-socketio's listener retries after 1, 2, 4... seconds
        wait_for(lambda: watching.count("resync", lambda data: data == {}) > 0, 30,
                 what="the resync event on process B")
        assert watching.connects == 1  # the socket itself never dropped
        listed = session_for(web_b, world["agent"], world["password"]).get(
            f"{web_b}/inbox/api/tickets/{ticket_id}", timeout=10)
        assert during["id"] in [m["id"] for m in listed.json()["messages"]]
    finally:
        watching.close()
    for message in (first, during):
        wait_for(lambda: _status(agent, web_a, ticket_id, message["id"]) == "sent", 40,
                 every=0.5, what=f"message {message['id']} sent after the restart")
    # the workers rode out the outage (RQ reconnects); none had to be started again
    assert all(cl._alive(w) for w in running_cluster["workers"])
    assert provider.delivered(retried) == [f"atende-message-{first['id']}"]
    assert provider.delivered(queued) == [f"atende-message-{during['id']}"]

    live = Live(web_b, session_for(web_b, world["agent"], world["password"]))
    try:
        assert live.sio.call("ticket.join", {"id": ticket_id}, timeout=10) == {"ok": True}
        after = _reply(agent, web_a, ticket_id, "Depois do Redis voltar")
        live.wait("message.status_changed",
                  lambda d: d.get("id") == after["id"] and d.get("status") == "sent", 20)
    finally:
        live.close()


def test_SCL_2_after_a_short_redis_outage_a_scheduler_runs_again_within_seconds(
        running_cluster):
    """RQ's scheduler, the process that puts retries and delayed jobs on the queue when
    they are due, dies with Redis. With no job coming to wake a worker, a worker must
    still start it again within seconds of Redis coming back: a blip of a few seconds
    once left both workers without one for minutes (a try made while Redis was down
    counted as done, then RQ's wait for a job blocked; and RQ's wait for Redis grows to
    a minute over outages with no job between them)."""
    import redis

    state = cl.Path(running_cluster["state_dir"])
    client = redis.Redis.from_url(running_cluster["redis"]["url"], socket_timeout=2)
    lock = "rq:scheduler-lock:default"
    wait_for(lambda: client.get(lock), 15, what="a scheduler holding its lock before the blip")
    for blip in (2.5, 1.5):  # shorter than the few seconds a worker leaves between tries
        cl.stop_process(running_cluster["redis"], state)
        try:
            time.sleep(blip)
        finally:
            cl.restart(running_cluster, "redis")
        # Redis keeps nothing on disk: the lock is there again only if a scheduler took it
        name = wait_for(lambda: client.get(lock), 10,
                        what=f"a scheduler holding its lock again after a {blip} s outage")
        beats = f"rq:scheduler:{name.decode()}"
        first = wait_for(lambda: client.hget(beats, "last_heartbeat"), 5,
                         what="the scheduler's heartbeat")
        wait_for(lambda: client.hget(beats, "last_heartbeat") not in (None, first), 5,
                 what="the scheduler's next heartbeat: it runs")
    assert all(cl._alive(w) for w in running_cluster["workers"])


def _running_scheduler(client) -> tuple[str, dict] | None:
    """(name, its hash) of the scheduler holding the queue's lock, if its process lives."""
    import os

    name = client.get("rq:scheduler-lock:default")
    found = client.hgetall(f"rq:scheduler:{name.decode()}") if name else {}
    if not found.get(b"pid"):
        return None
    try:
        os.kill(int(found[b"pid"]), 0)
    except ProcessLookupError:
        return None  # the lock and the hash of a killed one outlive it by a minute
    return name.decode(), found


def test_SCL_2_the_worker_running_the_scheduler_killed_another_takes_the_scheduler_over(
        running_cluster):
    """Only the worker holding the scheduler's lock runs a scheduler. That worker is killed
    (SIGKILL, its scheduler with it) and started again, as systemd does. The lock outlives
    them by a minute (RQ's lifetime for it); then a worker takes it and starts a scheduler
    within seconds. RQ alone looks again only at its maintenance, ten minutes apart: the
    cluster ran without a scheduler for all that time."""
    import os

    import redis

    client = redis.Redis.from_url(running_cluster["redis"]["url"], socket_timeout=2)
    name, found = wait_for(lambda: _running_scheduler(client), 80, every=0.5,
                           what="a running scheduler before the kill")
    holder = next(w for w in running_cluster["workers"]
                  if w["pid"] == os.getpgid(int(found[b"pid"])))
    kill(holder)
    cl.restart(running_cluster, holder["name"])

    def taken_over():
        running = _running_scheduler(client)
        return running if running and running[0] != name else None

    new, _ = wait_for(taken_over, 61 + 15, every=0.5,
                      what="another scheduler running after the lock's minute")
    beats = f"rq:scheduler:{new}"
    first = client.hget(beats, "last_heartbeat")
    wait_for(lambda: client.hget(beats, "last_heartbeat") not in (None, first), 5,
             what="the new scheduler's next heartbeat: it runs")


def test_SCL_1_SCL_3_a_web_process_waiting_on_the_database_goes_on_serving_the_others(
        running_cluster):
    """Under gevent's worker (deploy/gunicorn.conf.py) all the connections of a web process
    share one thread: a wait on PostgreSQL must let the others run. psycopg waits that way
    only when gevent's patch came before psycopg was imported, which is why the settings
    file patches first. A visitor's message waits here on its ticket's row, locked by this
    test; meanwhile the same process serves a page, takes another visitor's message and
    pushes it live to an agent; the first message goes in once the lock is gone."""
    world = running_cluster["world"]
    web_a = running_cluster["web"][0]["url"]
    agent = session_for(web_a, world["agent"], world["password"])
    live = Live(web_a, agent)
    started = _visitor_starts(web_a, world, "Conversa que vai esperar o banco")
    engine = create_engine(running_cluster["database_url"])
    waiting = "Mensagem que espera a trava da linha"
    answered: list = []
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT id FROM ticket WHERE protocol = :p FOR UPDATE"),
                         {"p": started["ticket"]["protocol"]})
            writer = threading.Thread(target=lambda: answered.append(
                _visitor_says(web_a, world, started["token"], waiting)))
            writer.start()
            with engine.connect() as watch:
                wait_for(lambda: watch.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")).scalar(), 10,
                    what="the visitor's message waiting on the ticket's row")
            assert requests.get(f"{web_a}/login", timeout=5).status_code == 200
            other = _visitor_starts(web_a, world, "Outra conversa, enquanto a primeira espera")
            live.wait("ticket.updated",
                      lambda d: d.get("protocol") == other["ticket"]["protocol"], 5)
            assert writer.is_alive() and not answered  # still held by the lock
            lock.rollback()
        writer.join(15)
        assert answered == [None]  # _visitor_says returned: 201
        ticket_id = live.wait("ticket.updated",
                              lambda d: d.get("protocol") == started["ticket"]["protocol"])["id"]
        texts = [m["text"] for m in _messages(agent, web_a, ticket_id)]
        assert texts.count(waiting) == 1
    finally:
        live.close()
        engine.dispose()


@contextmanager
def _database_restarting():
    """What a restart or failover does to the cluster's database, without stopping the
    PostgreSQL server the rest of the suite shares: every server process of the database
    ends (the connections the cluster keeps die) and, until the block ends, no new
    connection is accepted."""
    admin = create_engine(make_url(PG_URL).set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS false')
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d"), {"d": DATABASE})
        yield
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{DATABASE}" ALLOW_CONNECTIONS true')
        admin.dispose()


def test_SCL_2_a_database_restart_costs_a_retry_never_an_error_nor_a_lost_event(running_cluster):
    """PostgreSQL restarts under the cluster while an agent has a conversation open through
    the proxy. While it is down, a request gets the busy 503 with Retry-After (not a 500)
    and a new socket is refused with "retry" (not left without an answer, which kept the
    inbox on "Reconectando…" until a reload). Once it is back: the visitor's message,
    sent again as the widget does, reaches the open conversation live; the agent's reply
    is delivered by a worker and its status comes back live; a new socket connects."""
    world = running_cluster["world"]
    base = running_cluster["proxy"]
    agent = session_for(base, world["agent"], world["password"])
    live = Live(base, agent)
    try:
        started = _visitor_starts(base, world, "Conversa aberta antes do reinício do banco")
        ticket_id = live.wait("ticket.updated", lambda d: d.get("protocol") ==
                              started["ticket"]["protocol"])["id"]
        assert live.sio.call("ticket.join", {"id": ticket_id}, timeout=10) == {"ok": True}

        with _database_restarting():
            listed = agent.get(f"{base}/inbox/api/tickets", timeout=10)
            assert listed.status_code == 503, listed.text[:300]
            assert listed.headers["Retry-After"] == "1"
            assert listed.json()["error"] == "O servidor está ocupado. Tente de novo em instantes."
            refusals = []
            late = socketio.Client(http_session=agent, reconnection=False)
            late.on("connect_error", lambda data: refusals.append(data))
            with pytest.raises(socketio.exceptions.ConnectionError):
                late.connect(base, transports=["polling"], wait_timeout=10)
            assert refusals == [{"message": "retry", "data": {"retry": True}}]
            time.sleep(1)  # a restart takes a few seconds

        _visitor_says(base, world, started["token"], "Escrevi depois do reinício do banco")
        live.wait("message.created", lambda d: d.get("text") == "Escrevi depois do reinício do banco")
        accepted = _until_served(lambda: agent.post(
            f"{base}/inbox/api/tickets/{ticket_id}/accept", timeout=10))
        assert accepted.status_code == 200, accepted.text
        sent = _until_served(lambda: agent.post(
            f"{base}/inbox/api/tickets/{ticket_id}/messages",
            data={"text": "Resposta depois do reinício do banco"}, timeout=15))
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["message"]["id"]
        live.wait("message.status_changed",
                  lambda d: d.get("id") == message_id and d.get("status") == "sent")
        again = socketio.Client(http_session=agent, reconnection=False)
        again.connect(base, transports=["polling"], wait_timeout=10)
        assert again.connected
        again.disconnect()
    finally:
        live.close()
        # every web process past its one busy answer, for the tests after this one
        for web in running_cluster["web"]:
            _until_served(lambda: agent.get(f"{web['url']}/inbox/api/tickets", timeout=10))
