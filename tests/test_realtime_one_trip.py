"""SCL-3: the pushes of one commit leave for the other processes in one Redis message
(realtime.pubsub), and the widget's visitor lookup brings the open ticket along. SCL-2:
after a Redis outage the pages of every process are told to fetch again.

"Another process" is a second Socket.IO server with its own OneTripRedisManager and its
listener thread, on the same channel: on fakeredis (one in-memory server for both) on the
embedded backend, on the real Redis on the services backend (a channel of this test
only: pub/sub channels are server-wide). What a manager hands to its own sockets is
recorded at PubSubManager._handle_emit: the emitting process calls it at the emit, the
listener for each message heard from another process.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
import uuid

import pytest
import redis
import socketio as python_socketio
from sqlalchemy import select

from backoffice.extensions import db, socketio
from backoffice.lib import after_commit
from backoffice.models import Message, Ticket
from backoffice.models.tickets import CLOSED, OPEN
from backoffice.realtime import pubsub
from tests.conftest import BACKEND, REDIS_URL, _check_redis, missing_service
from tests.factories import gen_tag

HEARD = ("message.created", "ticket.updated", "message")  # an inbound message's pushes


def api(key, path):
    return f"/widget/{key}/api/{path}"


@pytest.fixture
def redis_url(monkeypatch):
    """A Redis for the managers: the real one on the services backend, else one fakeredis
    server shared by every manager of the test."""
    if BACKEND == "services":
        return REDIS_URL
    import fakeredis

    server = fakeredis.FakeServer()

    def connect(self):
        self.redis = fakeredis.FakeRedis(server=server)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    # RedisManager's: OneTripRedisManager's own step after it still runs
    monkeypatch.setattr(python_socketio.RedisManager, "_redis_connect", connect)
    return "redis://fakeredis/0"


class Recorder:
    """What a manager hands to its own sockets, in order."""

    def __init__(self, manager):
        self.heard: list[tuple] = []
        self.changed = threading.Condition()
        handle = manager._handle_emit

        def record(message):
            with self.changed:
                self.heard.append((message["event"], message["room"], message["namespace"],
                                   message["data"]))
                self.changed.notify_all()
            return handle(message)

        manager._handle_emit = record

    def wait_for(self, n: int, timeout: float = 10) -> list[tuple]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.heard) >= n, timeout)
            return list(self.heard)


@pytest.fixture
def publishes(monkeypatch):
    """The PUBLISH commands sent (redis-py and fakeredis alike), with their data."""
    sent: list[bytes | str] = []
    publish = redis.Redis.publish

    def counted(self, channel, message, **kwargs):
        sent.append(message)
        return publish(self, channel, message, **kwargs)

    monkeypatch.setattr(redis.Redis, "publish", counted)
    return sent


@pytest.fixture
def cluster(app, redis_url, monkeypatch):
    """This app's server with a OneTripRedisManager (as create_app gives it with a redis://
    message queue), and another process's server listening on the same channel."""
    channel = f"test-one-trip-{uuid.uuid4().hex}"
    here = pubsub.OneTripRedisManager(redis_url, channel=channel)
    here.set_server(socketio.server)
    monkeypatch.setattr(socketio.server, "manager", here)
    there_server = python_socketio.Server(
        client_manager=pubsub.OneTripRedisManager(redis_url, channel=channel),
        async_mode="threading")
    there = there_server.manager
    there_recorder = Recorder(there)
    there.initialize()  # its listener thread (daemon): subscribes, then blocks on Redis
    wait_until(lambda: there.pubsub is not None and there.pubsub.subscribed,
               "the other process never subscribed")
    return {"here": Recorder(here), "there": there_recorder, "manager": here}


def _visitor(app, webchat_world) -> dict:
    client = app.test_client()
    started = client.post(api(webchat_world.key, "start"),
                          json={"text": "Olá",
                                "department_id": webchat_world.departments["sales"]})
    assert started.status_code == 201, started.get_json()
    return {"client": client, "token": started.get_json()["token"]}


def _say(visitor, key, text):
    return visitor["client"].post(api(key, "messages"), json={"text": text},
                                  headers={"X-Visitor-Token": visitor["token"]})


def test_SCL_3_pushes_of_one_commit_reach_another_process_in_order_in_one_publish(
        app, webchat_world, cluster, publishes):
    """A visitor's message makes three pushes after its commit: this process's sockets
    hear each at once, and the other process hears the same three, in the same order,
    from one PUBLISH."""
    visitor = _visitor(app, webchat_world)
    here, there = cluster["here"], cluster["there"]
    before_here = len(here.heard)
    before_there = len(there.wait_for(before_here))  # the start's own pushes, heard there
    sent_before = len(publishes)

    response = _say(visitor, webchat_world.key, "Tudo certo?")

    assert response.status_code == 201
    local = here.heard[before_here:]
    assert [event for event, *_ in local] == list(HEARD)
    assert len(publishes) - sent_before == 1
    heard = there.wait_for(before_there + len(local))[before_there:]
    assert heard == local


def test_SCL_3_a_lone_push_goes_as_before_and_a_push_outside_a_commit_at_once(
        app, cluster, publishes):
    """One push after a commit is published as python-socketio publishes it (any process,
    of this version or the previous one, reads it); a push outside after_commit.commit()
    is published at the emit, not held."""
    manager = cluster["manager"]
    with app.app_context():
        socketio.emit("ping", {"n": 1}, to="company:1")
        assert len(publishes) == 1
        after_commit.later(lambda: socketio.emit("ping", {"n": 2}, to="company:1"))
        after_commit.commit()
    assert len(publishes) == 2
    lone = manager.json.loads(publishes[1])
    assert lone["method"] == "emit" and lone["data"] == [{"n": 2}]
    heard = cluster["there"].wait_for(2)
    assert [(event, data) for event, _room, _ns, data in heard] == [
        ("ping", [{"n": 1}]), ("ping", [{"n": 2}])]


def test_SCL_3_redis_down_the_message_is_stored_and_this_process_hears_every_push(
        app, webchat_world, monkeypatch, caplog):
    """Redis unreachable: the message is stored and answered, this process's sockets hear
    its three pushes, and the failed publish is tried (and logged) once for the commit,
    not once per push."""
    visitor = _visitor(app, webchat_world)
    down = pubsub.OneTripRedisManager("redis://127.0.0.1:1/0", channel="test-one-trip-down")
    down.set_server(socketio.server)
    monkeypatch.setattr(socketio.server, "manager", down)
    here = Recorder(down)
    caplog.set_level(logging.ERROR)

    response = _say(visitor, webchat_world.key, "Alguém aí?")

    assert response.status_code == 201
    assert [event for event, *_ in here.heard] == list(HEARD)
    with app.app_context():
        assert db.session.scalar(select(Message.id).where(Message.text == "Alguém aí?"))
    gave_up = [r for r in caplog.records
               if "Cannot publish to redis... giving up" in r.getMessage()]
    assert len(gave_up) == 1


def test_SCL_3_the_visitor_lookup_takes_the_last_open_ticket_with_all_its_tags(
        app, webchat_world, monkeypatch):
    """The open ticket read with the visitor is the one open_ticket_of picks (the last
    open one: not a later closed one) and its push carries every tag (a joined
    collection: one row per tag)."""
    visitor = _visitor(app, webchat_world)
    with app.app_context():
        first = db.session.scalar(select(Ticket).where(
            Ticket.company_id == webchat_world.company_id))
        fields = {c: getattr(first, c) for c in ("company_id", "contact_id", "connection_id",
                                                 "department_id")}
        later = Ticket(**fields, protocol="SCL3-LATER", status=OPEN,
                       tags=[gen_tag(webchat_world.company_id, "Urgente"),
                             gen_tag(webchat_world.company_id, "VIP")])
        closed = Ticket(**fields, protocol="SCL3-CLOSED", status=CLOSED)
        db.session.add_all([later, closed])
        db.session.commit()
        first_id, later_id, closed_id = first.id, later.id, closed.id
    assert first_id < later_id < closed_id
    pushed: list[tuple] = []
    monkeypatch.setattr(socketio, "emit",
                        lambda event, data, **kw: pushed.append((event, data)))

    assert _say(visitor, webchat_world.key, "Para o último aberto").status_code == 201

    with app.app_context():
        message = db.session.scalar(select(Message).where(
            Message.text == "Para o último aberto"))
        assert message.ticket_id == later_id
    summary = next(data for event, data in pushed if event == "ticket.updated")
    assert summary["id"] == later_id
    assert sorted(t["name"] for t in summary["tags"]) == ["Urgente", "VIP"]


# --- SCL-2: fetch again after an outage ----------------------------------------------------


class Process:
    """A web process as far as Socket.IO goes: its server with a OneTripRedisManager on
    the real Redis (cutting a listener's connection needs a real server; a channel of
    this test only), listening, with one socket connected in each of two namespaces, and
    the packets its sockets are sent."""

    def __init__(self, channel: str):
        self.server = python_socketio.Server(
            client_manager=pubsub.OneTripRedisManager(REDIS_URL, channel=channel),
            async_mode="threading")
        self.manager = self.server.manager
        self.sent: list[tuple[str, str]] = []
        self.changed = threading.Condition()
        self.server._send_eio_packet = self._record
        self.heard = Recorder(self.manager)
        for namespace in ("/", "/webchat"):  # already there when the listener starts
            self.manager.connect(f"eio-{namespace}", namespace)
        self.manager.initialize()
        wait_until(lambda: self.manager.pubsub is not None and self.manager.pubsub.subscribed,
                   "the listener never subscribed")
        time.sleep(0.2)  # Redis's confirmation of that first SUBSCRIBE has been read

    def _record(self, eio_sid, packet):
        with self.changed:
            self.sent.append((eio_sid, packet.data))
            self.changed.notify_all()

    def told_to_fetch_again(self) -> list[str]:
        with self.changed:
            return sorted(sid for sid, data in self.sent
                          if data == f'2["{pubsub.RESYNC_EVENT}",{{}}]'
                          or data.startswith(f'2/webchat,["{pubsub.RESYNC_EVENT}"'))

    def wait_told(self, n: int, timeout: float = 10) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.told_to_fetch_again()) >= n, timeout)
        return self.told_to_fetch_again()


def wait_until(condition, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _publish_fails(monkeypatch, times: int) -> list[int]:
    """redis.Redis.publish raises ConnectionError `times` times, then works; returns the
    countdown (RedisManager tries twice per publish, then gives up)."""
    publish, left = redis.Redis.publish, [times]

    def flaky(self, *args, **kwargs):
        if left[0]:
            left[0] -= 1
            raise redis.exceptions.ConnectionError("Redis unreachable (test)")
        return publish(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "publish", flaky)
    return left


@pytest.fixture
def channel():
    problem = _check_redis()
    if problem:
        missing_service(problem)
    return f"test-fetch-again-{uuid.uuid4().hex}"


def test_SCL_2_a_process_whose_listener_lost_redis_tells_its_sockets_to_fetch_again(channel):
    """The listener's connection to Redis is cut: python-socketio subscribes again by
    itself, and from Redis's confirmation on this process's sockets, in every namespace,
    are told to fetch again (what was published meanwhile never reached them). The first
    subscription, at start, tells nobody anything."""
    process = Process(channel)
    assert process.told_to_fetch_again() == []

    process.manager.pubsub.connection.disconnect()  # as when Redis restarts

    assert process.wait_told(2) == ["eio-/", "eio-/webchat"]
    time.sleep(0.3)
    assert len(process.told_to_fetch_again()) == 2  # once per socket, not once per retry


def test_SCL_2_a_process_that_could_not_publish_asks_the_others_to_fetch_again(
        channel, monkeypatch):
    """A publish gives up (Redis unreachable for this process only: the other's listener
    never noticed). The next publish that goes through is preceded by a request to fetch
    again: the other process's sockets hear it, then the push; once, not at every
    publish after it. (The sender's own listener loses its connection too here:
    python-socketio's retry replaces the client it listens through, so its sockets are
    told by its new subscription.)"""
    here, there = Process(channel), Process(channel)
    failures = _publish_fails(monkeypatch, 2)

    here.manager.emit("ping", {"n": 1}, namespace="/", room="company:1")  # lost for `there`
    assert failures == [0]
    assert there.told_to_fetch_again() == []
    here.manager.emit("ping", {"n": 2}, namespace="/", room="company:1")

    assert there.wait_told(2) == ["eio-/", "eio-/webchat"]
    heard = there.heard.wait_for(1)
    assert [(event, data) for event, _room, _ns, data in heard] == [("ping", [{"n": 2}])]
    here.manager.emit("ping", {"n": 3}, namespace="/", room="company:1")  # nothing owed now
    assert len(there.heard.wait_for(2)) == 2
    time.sleep(0.3)
    assert len(there.told_to_fetch_again()) == 2


def test_SCL_2_a_process_that_could_not_publish_asks_the_others_even_if_it_publishes_nothing_more(
        channel, monkeypatch):
    """A worker's publish gives up and the worker then has nothing to publish for hours:
    the request to fetch again does not wait for its next publish. A thread of its own
    sends it as soon as Redis takes it (the first try after 1 s), once."""
    here, there = Process(channel), Process(channel)
    left = _publish_fails(monkeypatch, 2)

    here.manager.emit("ping", {"n": 1}, namespace="/", room="company:1")  # lost for `there`
    assert left == [0]
    assert there.told_to_fetch_again() == []

    assert there.wait_told(2) == ["eio-/", "eio-/webchat"]
    wait_until(lambda: here.manager._owed_sender is None, "the sending thread never ended")
    assert not here.manager._owed
    time.sleep(0.3)
    assert len(there.told_to_fetch_again()) == 2
    assert there.heard.heard == []  # the lost push stays lost: the page fetches instead


# A process of its own: emits once while its publishes fail (its sending thread then
# waits 1 s before its first attempt), then exits at once. `back`: Redis takes the next
# publish; else every later publish hangs 30 s, as an unreachable host would.
STOPPING_PROCESS = """
import atexit, sys, time
import redis, socketio
from backoffice.realtime import pubsub

url, channel, back = sys.argv[1], sys.argv[2], sys.argv[3] == "back"
publish, failures = redis.Redis.publish, [2]
ended = {}
atexit.register(lambda: print("exit took %.1f" % (time.monotonic() - ended["at"]), flush=True))

def flaky(self, *args, **kwargs):
    if failures[0]:
        failures[0] -= 1
        raise redis.exceptions.ConnectionError("Redis unreachable (test)")
    if not back:
        time.sleep(30)
        raise redis.exceptions.TimeoutError("Redis unreachable (test)")
    return publish(self, *args, **kwargs)

redis.Redis.publish = flaky
server = socketio.Server(client_manager=pubsub.OneTripRedisManager(url, channel=channel),
                         async_mode="threading")
pubsub.send_owed_at_exit()  # as app.py, gunicorn's workers and AtendeWorker do
server.manager.emit("ping", {"n": 1}, namespace="/", room="company:1")
print("owed", server.manager._owed, flush=True)
ended["at"] = time.monotonic()
"""


# A web process runs under gevent's patch (deploy/gunicorn.conf.py), a worker with threads.
GEVENT_PATCH = "from gevent import monkey\nmonkey.patch_all()\n"
PROCESS_KINDS = pytest.mark.parametrize("patch", ["", GEVENT_PATCH], ids=["threads", "gevent"])


def _stop_owing(channel: str, back: bool, patch: str = ""):
    import subprocess

    return subprocess.run([sys.executable, "-c", patch + STOPPING_PROCESS, REDIS_URL, channel,
                           "back" if back else "down"],
                          capture_output=True, text=True, timeout=60)


@PROCESS_KINDS
def test_SCL_2_a_process_that_stops_while_it_owes_a_request_sends_it_as_it_exits(channel, patch):
    """A worker told to stop right after a publish gave up: its sending thread (a daemon,
    waiting 1 s before its first try) dies with it, so the process makes one last attempt
    as it exits. Redis is back: the other process's sockets are told to fetch again."""
    there = Process(channel)
    done = _stop_owing(channel, back=True, patch=patch)
    assert done.returncode == 0, done.stderr
    assert "owed True" in done.stdout
    assert there.wait_told(2, timeout=5) == ["eio-/", "eio-/webchat"]
    assert "unsent" not in done.stderr


@PROCESS_KINDS
def test_SCL_2_a_process_that_stops_owing_during_the_outage_exits_in_bounded_time(channel, patch):
    """Redis still unreachable at the stop (a publish would hang 30 s): the last attempt
    is given EXIT_ATTEMPT_SECONDS, then the process exits normally and says what it
    leaves unsent."""
    there = Process(channel)
    done = _stop_owing(channel, back=False, patch=patch)
    assert done.returncode == 0, done.stderr
    assert "owed True" in done.stdout
    took = float(done.stdout.split("exit took ")[1])
    assert pubsub.EXIT_ATTEMPT_SECONDS - 0.5 < took < pubsub.EXIT_ATTEMPT_SECONDS + 1.5
    assert "stopping with a request to the other processes to fetch again unsent" in done.stderr
    assert there.told_to_fetch_again() == []


def test_SCL_2_a_listener_tries_redis_again_every_few_seconds_however_long_the_outage(
        channel, monkeypatch, caplog):
    """python-socketio's listener waits 1, 2, 4 ... up to 60 s between attempts, so after a
    long outage a process's pages learnt up to a minute late that they had missed pushes.
    Atende's waits 1, 2, 4, then 5 s at most; and logs the outage once, not per attempt."""
    process = Process(channel)
    waits: list[float] = []
    real_sleep = time.sleep

    class Clock:  # the pubsub module's `time`: the listener loop's sleeps recorded, shortened
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds):
            # Only the listener's: the module is patched for every thread, and a process of
            # an earlier test may still be retrying an owed resync (`_send_owed`) meanwhile.
            if sys._getframe(1).f_code.co_name != "_redis_listen_with_retries":
                return real_sleep(seconds)
            waits.append(seconds)
            real_sleep(0.01)

    monkeypatch.setattr(pubsub, "time", Clock)
    connect, refusals = pubsub.OneTripRedisManager._redis_connect, [7]

    def refused(self):
        # Only this process's listener is refused: the method is patched for every
        # manager, and a publish retrying meanwhile (this process's or an earlier test's)
        # would otherwise use up a refusal, and the listener wait once less.
        listening = sys._getframe(1).f_code.co_name == "_redis_listen_with_retries"
        if self is process.manager and listening and refusals[0]:
            refusals[0] -= 1
            raise redis.exceptions.ConnectionError("Redis down (test)")
        return connect(self)

    monkeypatch.setattr(pubsub.OneTripRedisManager, "_redis_connect", refused)
    caplog.set_level(logging.ERROR, logger=pubsub.__name__)

    process.manager.pubsub.connection.disconnect()  # Redis goes away for 8 attempts

    assert process.wait_told(2) == ["eio-/", "eio-/webchat"]
    assert waits == [1, 2, 4, 5, 5, 5, 5, 5]
    outage = [r for r in caplog.records if "cannot receive from Redis" in r.getMessage()]
    assert len(outage) == 1
