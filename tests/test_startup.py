"""Issue 17, bad input of a multi-process installation (SCL-1): a web process without
Redis, a worker configured differently from the web, a proxy that is not sticky. Each
gets a clear refusal or a logged warning that says what is wrong."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import fakeredis
import pytest
from rq import Queue

from backoffice.jobs.worker import SCHEDULER_RETRY_SECONDS
from backoffice.lib import startup
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def _config(**over) -> dict:
    return {"SECRET_KEY": "chave-da-web", "SQLALCHEMY_DATABASE_URI":
            "postgresql+psycopg://atende:senha@db:5432/atende", "REDIS_URL": REDIS_URL,
            "SOCKETIO_MESSAGE_QUEUE": REDIS_URL, "TASK_MODE": "redis", **over}


def test_SCL_1_web_without_redis_is_refused_saying_which_setting():
    with pytest.raises(startup.StartupError) as refused:
        startup.check_web(_config(REDIS_URL=DOWN, SOCKETIO_MESSAGE_QUEUE=DOWN))
    assert "REDIS_URL=redis://127.0.0.1:1/0" in str(refused.value)
    assert "não responde" in str(refused.value)


def test_SCL_1_embedded_default_needs_no_redis():
    startup.check_web(_config(REDIS_URL=None, SOCKETIO_MESSAGE_QUEUE=None, TASK_MODE="embedded"))


def _start_web(env: dict) -> subprocess.CompletedProcess:
    """The real start command of a web process of deploy/ (gunicorn with its settings file),
    run until it exits (each test gives it a setting that must stop it)."""
    return subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "-c",
                           str(ROOT / "deploy" / "gunicorn.conf.py"), "--bind", "127.0.0.1:0",
                           "app:app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


def test_SCL_1_gunicorn_web_process_exits_with_the_reason_when_redis_is_down(tmp_path):
    """The real start command of deploy/ (gunicorn + deploy/gunicorn.conf.py)."""
    env = {**os.environ, "REDIS_URL": DOWN, "SOCKETIO_MESSAGE_QUEUE": DOWN,
           "ATENDE_INSTANCE": str(tmp_path), "SECRET_KEY": "x",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    done = _start_web(env)
    assert done.returncode != 0
    assert "o Redis não responde" in done.stderr and "REDIS_URL" in done.stderr


def test_SCL_1_worker_with_another_secret_key_or_database_is_refused(real_redis):
    startup.check_web(_config())
    published = json.loads(real_redis.get(startup.FINGERPRINT_KEY))
    assert "chave-da-web" not in json.dumps(published) and "senha" not in json.dumps(published)

    startup.check_worker(_config())  # same environment: fine
    # same database reached with another password and driver spelling: the same database
    startup.check_worker(_config(SQLALCHEMY_DATABASE_URI="postgresql://atende:outra@db:5432/atende"))
    with pytest.raises(startup.StartupError, match="SECRET_KEY diferente"):
        startup.check_worker(_config(SECRET_KEY="outra-chave"))
    with pytest.raises(startup.StartupError, match="DATABASE_URL diferente"):
        startup.check_worker(_config(SQLALCHEMY_DATABASE_URI="postgresql://atende@db:5432/outro"))


def test_SCL_1_rq_worker_process_exits_with_the_reason(real_redis, tmp_path):
    """The real worker command of deploy/ with a SECRET_KEY that is not the web's."""
    startup.check_web(_config(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'db.sqlite'}"))
    env = {**os.environ, "REDIS_URL": REDIS_URL, "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
           "ATENDE_INSTANCE": str(tmp_path), "SECRET_KEY": "chave-errada",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    done = subprocess.run([str(Path(sys.executable).parent / "rq"), "worker", "--burst",
                           "--worker-class", "backoffice.jobs.worker.AtendeWorker",
                           "--url", REDIS_URL, "--path", str(ROOT), "atende-startup-test"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "SECRET_KEY diferente" in done.stdout + done.stderr


def test_SCL_1_a_job_from_a_differently_configured_process_goes_back_to_the_queue(app, monkeypatch):
    """A worker that meets a job queued by a web on another database neither runs it nor
    drops it: the job goes back to the queue for a worker that agrees, and this one stops."""
    from backoffice.jobs import worker as worker_module

    monkeypatch.setattr(worker_module, "worker_app", lambda: app)
    monkeypatch.setattr(worker_module, "check_worker", lambda config: None)
    frozen = []
    monkeypatch.setattr(worker_module, "freeze_startup_objects", lambda: frozen.append(1))
    # the worker imports it once its app is built (jobs/worker.py): patched where it lives
    from backoffice.realtime import pubsub

    monkeypatch.setattr(pubsub, "send_owed_at_exit", lambda: frozen.append("exit"))
    conn = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    queue = Queue("default", connection=conn)
    other = startup.fingerprint({**app.config, "SQLALCHEMY_DATABASE_URI": "postgresql://x@y/z"})
    job = queue.enqueue("builtins.print", "não deveria rodar", meta={"atende_fp": other})
    agreeing = queue.enqueue("builtins.len", "abc", meta={"atende_fp": startup.fingerprint(app.config)})

    worker = worker_module.AtendeWorker([queue], connection=conn)
    worker.work(burst=True)

    assert queue.job_ids == [job.id, agreeing.id]   # both waiting, untouched, in order
    assert job.get_status(refresh=True) == "queued"
    # SCL-3: the worker froze its startup objects before working; SCL-2: and asked for a
    # last try at a resync request it may owe when it stops (realtime/pubsub.py)
    assert frozen == [1, "exit"]


_outage: dict = {}


def job_during_which_redis_goes_away(text):
    """A job of the test below: Redis stops while it runs."""
    _outage["ran"].append(text)
    _outage["server"].connected = False


class RedisBackWhenTheWorkerSaysItIsDown(logging.Handler):
    """Redis comes back once the worker has logged the outage (not after a delay: the
    test must see the failed bookkeeping, however slow the machine)."""

    def emit(self, record):
        if "Redis fora do ar" in record.getMessage():
            _outage["logged"].append(record.getMessage())
            _outage["server"].connected = True


def job_after_the_outage(text):
    _outage["ran"].append(text)


@pytest.fixture
def worker_of(app, monkeypatch):
    """An AtendeWorker on `app`, without the checks a real process runs at start."""
    from backoffice.jobs import worker as worker_module

    monkeypatch.setattr(worker_module, "worker_app", lambda: app)
    monkeypatch.setattr(worker_module, "check_worker", lambda config: None)
    monkeypatch.setattr(worker_module, "freeze_startup_objects", lambda: 0)
    from backoffice.realtime import pubsub

    monkeypatch.setattr(pubsub, "send_owed_at_exit", lambda: None)  # no exit hook in pytest
    return lambda queue: worker_module.AtendeWorker([queue], connection=queue.connection)


def test_SCL_2_a_worker_rides_out_a_redis_outage_in_the_middle_of_a_job(worker_of):
    """Redis stops while a job runs: RQ's bookkeeping after the job fails. RQ's own worker
    quits there (CI saw a cluster worker die on a Redis restart); ours logs it, waits for
    Redis, and runs the next job."""
    server = fakeredis.FakeServer()
    _outage.update(server=server, ran=[], logged=[])
    queue = Queue("default", connection=fakeredis.FakeRedis(server=server))
    queue.enqueue(job_during_which_redis_goes_away, "primeira")
    queue.enqueue(job_after_the_outage, "segunda")
    watcher = RedisBackWhenTheWorkerSaysItIsDown(logging.WARNING)
    worker_log = logging.getLogger("backoffice.jobs.worker")
    worker_log.addHandler(watcher)
    # should the worker never say so, Redis is back anyway after 10 s: a failure, not a hang
    deadline = threading.Timer(10, setattr, (server, "connected", True))
    deadline.start()
    try:
        worker_of(queue).work(burst=True)
    finally:
        deadline.cancel()
        worker_log.removeHandler(watcher)

    assert _outage["ran"] == ["primeira", "segunda"]
    assert "durante a tarefa" in _outage["logged"][0]
    assert queue.job_ids == []


def job_during_which_the_worker_is_told_to_stop(text):
    """A job of the test below: Redis stops, then the worker is told to stop (SIGTERM)."""
    _outage["ran"].append(text)
    _outage["server"].connected = False
    _outage["worker"].request_stop(15, None)


def test_SCL_2_a_worker_told_to_stop_during_a_redis_outage_ends_without_a_traceback(
        worker_of, caplog):
    """systemd stops a worker while Redis is down: RQ's teardown (its death record, its
    pubsub) cannot reach Redis. The worker still ends, returning normally, and says why in
    one line instead of dying with a traceback."""
    server = fakeredis.FakeServer()
    queue = Queue("default", connection=fakeredis.FakeRedis(server=server))
    queue.enqueue(job_during_which_the_worker_is_told_to_stop, "última")
    worker = worker_of(queue)
    _outage.update(server=server, ran=[], worker=worker)
    caplog.set_level(logging.WARNING, logger="backoffice.jobs.worker")

    worker.work(burst=True)  # the stop is seen before the queue is asked for a next job

    assert _outage["ran"] == ["última"]
    said = [r.getMessage() for r in caplog.records if r.name == "backoffice.jobs.worker"]
    assert any("ao encerrar o worker" in m and "register_death" in m for m in said), said
    assert not [r for r in caplog.records if r.exc_info]


class _Scheduler:
    """RQScheduler as far as the worker looks after it: a process (or None) and the lock
    in Redis, taken by a SET NX under its name; `started` records what auto_start did."""

    def __init__(self, connection, name, process=None):
        self.connection, self.name, self._process = connection, name, process
        self.started = 0

    def acquire_locks(self, auto_start=False):
        held = self.connection.set("rq:scheduler-lock:default", self.name, nx=True, ex=61) \
            or self.connection.get("rq:scheduler-lock:default") == self.name.encode()
        if held and auto_start and not (self._process and self._process.is_alive()):
            self.started += 1
            self._process = SimpleNamespace(is_alive=lambda: True)
        return {"default"} if held else set()


def _dead():
    return SimpleNamespace(is_alive=lambda: False)


def test_SCL_2_a_worker_starts_its_dead_scheduler_again_soon(worker_of):
    """The scheduler process a worker started dies (with Redis, or a crash of its own):
    the worker's next turn starts it again, not at RQ's maintenance ten minutes later, and
    a worker does not try on every turn (a busy one turns once per job)."""
    worker = worker_of(Queue("default", connection=fakeredis.FakeRedis()))
    worker.last_cleaned_at = datetime.now(timezone.utc)  # RQ's maintenance just ran
    worker.scheduler = _Scheduler(worker.connection, "agendador-1", _dead())

    assert not worker.should_run_maintenance_tasks  # RQ's cleaning is not due: only this
    assert worker.scheduler.started == 1
    worker.scheduler._process = _dead()
    worker.keep_a_scheduler()
    assert worker.scheduler.started == 1  # tried a moment ago: not again yet

    worker._scheduler_tried_at -= SCHEDULER_RETRY_SECONDS  # the next turn, seconds later
    worker._stop_requested = True  # systemd's stop: its SIGTERM ended the scheduler too
    worker.keep_a_scheduler()
    assert worker.scheduler.started == 1  # not started again just to be stopped
    worker._stop_requested = False
    worker.keep_a_scheduler()
    assert worker.scheduler.started == 2


def test_SCL_2_a_worker_takes_over_the_scheduler_once_its_holder_is_gone(worker_of):
    """Only the worker holding the lock runs a scheduler. When that worker is killed, its
    lock outlives it by a minute at most; then another worker takes it at its next turn."""
    worker = worker_of(Queue("default", connection=fakeredis.FakeRedis()))
    worker.last_cleaned_at = datetime.now(timezone.utc)
    worker.connection.set("rq:scheduler-lock:default", "agendador-do-outro", ex=61)
    worker.scheduler = _Scheduler(worker.connection, "agendador-2")  # never started

    worker.keep_a_scheduler()
    assert worker.scheduler.started == 0  # the other one's is running

    worker.connection.delete("rq:scheduler-lock:default")  # its lifetime ran out
    worker._scheduler_tried_at -= SCHEDULER_RETRY_SECONDS  # the next turn, seconds later
    worker.keep_a_scheduler()
    assert worker.scheduler.started == 1
    assert worker.connection.get("rq:scheduler-lock:default") == b"agendador-2"


def test_SCL_2_a_scheduler_restart_that_met_redis_down_is_tried_again_once_it_is_back(
        worker_of, caplog):
    """The worker's try to start its dead scheduler finds Redis still down: that try does
    not count, so the first turn with Redis back tries again at once, instead of going on
    to RQ's wait for a job with no scheduler."""
    server = fakeredis.FakeServer()
    worker = worker_of(Queue("default", connection=fakeredis.FakeRedis(server=server)))
    worker.last_cleaned_at = datetime.now(timezone.utc)
    worker.scheduler = _Scheduler(worker.connection, "agendador-1", _dead())
    caplog.set_level(logging.WARNING, logger="backoffice.jobs.worker")

    server.connected = False
    worker.keep_a_scheduler()  # RQ's loop goes on: the outage is logged, not raised
    assert "Redis fora do ar" in caplog.text and "acquire_locks" in caplog.text
    assert worker.scheduler.started == 0

    server.connected = True
    worker.keep_a_scheduler()  # at once, not seconds later
    assert worker.scheduler.started == 1


def test_SCL_2_a_worker_tries_redis_again_every_few_seconds_however_long_the_outage(
        worker_of, monkeypatch):
    """RQ's wait for a job doubles its pause after each failed try to reach Redis, up to a
    minute, and starts over only when a job comes: a worker (and the scheduler it
    restarts) could be back a minute after Redis. Ours tries every few seconds. RQ's own
    loop runs here, on a Redis that is down for ten tries and then has a job."""
    import time

    import rq.worker.base

    server = fakeredis.FakeServer()
    queue = Queue("default", connection=fakeredis.FakeRedis(server=server))
    worker = worker_of(queue)
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) == 10:
            server.connected = True
            queue.enqueue(job_during_which_the_worker_is_told_to_stop, "depois")

    monkeypatch.setattr(rq.worker.base, "time", SimpleNamespace(sleep=sleep, time=time.time))
    server.connected = False
    job, _queue = worker.dequeue_job_and_maintain_ttl(timeout=1)

    assert job.args == ("depois",) and len(pauses) == 10
    assert pauses[:3] == [1.0, 2.0, 4.0]  # RQ's doubling, kept for short outages
    assert max(pauses) <= 5


def test_SCL_3_served_processes_take_their_startup_objects_out_of_the_collector(monkeypatch):
    """A full collection walks every tracked object (about 70 ms for a web process's
    270,000): the web process under gunicorn and the embedded server freeze what startup
    loaded, once, before serving (lib/heap.py); the RQ worker does (test above)."""
    import gc
    import runpy

    from backoffice.lib import heap

    from backoffice.realtime import pubsub

    calls = []
    monkeypatch.setattr(heap, "freeze_startup_objects", lambda: calls.append("gunicorn"))
    # SCL-2: and a resync request owed when the process stops gets a last try
    monkeypatch.setattr(pubsub, "send_owed_at_exit", lambda: calls.append("exit"))
    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    settings["post_worker_init"](None)
    assert calls == ["gunicorn", "exit"]
    served = (ROOT / "app.py").read_text()
    assert "freeze_startup_objects()" in served and "send_owed_at_exit()" in served
    monkeypatch.undo()

    assert gc.get_freeze_count() == 0
    try:
        frozen = heap.freeze_startup_objects()
        assert frozen > 1000 and gc.get_freeze_count() > 1000  # other threads run meanwhile
        assert not any(gc.get_count()[1:])  # collected first: nothing young left behind
    finally:
        gc.unfreeze()


def test_SCL_3_an_app_is_built_with_the_collector_paused_and_it_is_back_after(
        app_config, monkeypatch, tmp_path):
    """create_app (and the first import of the app's modules inside it) runs without a
    cyclic collection (lib/heap.py); the collector is on again when it returns, also when
    the settings are refused, and a process that had it off keeps it off."""
    import gc

    import backoffice
    from backoffice import create_app
    from backoffice.config import SettingError

    monkeypatch.setenv("ATENDE_INSTANCE", str(tmp_path / "instance"))
    collections, building = [], []
    build = backoffice._build_app

    def watched_build(config):
        building.append(1)
        try:
            return build(config)
        finally:
            building.pop()

    monkeypatch.setattr(backoffice, "_build_app", watched_build)

    def seen(phase, info):
        if phase == "start" and building:
            collections.append(info["generation"])

    assert gc.isenabled()
    thresholds = gc.get_threshold()  # the suite's (tests/conftest.py), put back after
    gc.callbacks.append(seen)
    try:
        gc.set_threshold(1)  # without the pause, the build would collect all the time
        built = create_app(app_config)
        during = list(collections)
        gc.set_threshold(*thresholds)
        assert during == [] and gc.isenabled()
        with built.app_context():
            from backoffice.extensions import db

            db.engine.dispose()
        with monkeypatch.context() as bad, pytest.raises(SettingError):
            bad.setenv("DB_POOL_SIZE", "muitas")
            create_app(app_config)
        assert gc.isenabled()
        gc.disable()
        try:
            create_app(app_config)
            assert not gc.isenabled()
        finally:
            gc.enable()
    finally:
        gc.callbacks.remove(seen)
        gc.set_threshold(*thresholds)


def test_SCL_1_web_processes_run_gevent_s_worker_and_another_worker_class_is_refused(tmp_path):
    """One gevent worker per web process (SCL-3: a greenlet per connection, not a thread per
    WebSocket); gthread stays selectable. Reading the settings outside gunicorn patches
    nothing (the test process keeps its threads); a worker class Atende does not run is
    refused at start with the setting's name, as is a connection bound that is no number."""
    import runpy

    from backoffice.lib.offload import gevent_patched

    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gevent" and settings["workers"] == 1
    assert settings["worker_connections"] == 2000
    assert not gevent_patched()
    for name, value, said in (
            ("WEB_WORKER_CLASS", "eventlet", "deve ser gevent ou gthread (recebido: 'eventlet')"),
            ("WEB_CONNECTIONS", "muitas", "deve ser um número inteiro (recebido: 'muitas')")):
        env = {**os.environ, "ATENDE_INSTANCE": str(tmp_path), "SECRET_KEY": "x",
               "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", name: value}
        web = _start_web(env)
        assert web.returncode != 0
        assert f"atende web: {name} {said}" in web.stderr


def test_SCL_1_each_worker_class_reads_only_its_own_setting(monkeypatch):
    """WEB_CONNECTIONS is gevent's, WEB_THREADS gthread's: a value of the other one is not
    read (a WEB_THREADS left from a gthread deployment does not stop a gevent process),
    and the worker class's own bad value is refused by name."""
    import runpy

    path = str(ROOT / "deploy" / "gunicorn.conf.py")
    monkeypatch.setenv("WEB_THREADS", "muitas")
    monkeypatch.setenv("WEB_CONNECTIONS", "500")
    settings = runpy.run_path(path)
    assert settings["worker_class"] == "gevent" and settings["worker_connections"] == 500
    assert "threads" not in settings  # gunicorn's default: gevent's worker has no threads

    monkeypatch.setenv("WEB_WORKER_CLASS", "gthread")
    with pytest.raises(SystemExit, match="^atende web: WEB_THREADS deve ser um número inteiro"):
        runpy.run_path(path)
    monkeypatch.setenv("WEB_THREADS", "8")
    monkeypatch.setenv("WEB_CONNECTIONS", "muitas")
    settings = runpy.run_path(path)
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == 8 and settings["worker_connections"] == 72


def test_SCL_1_a_request_for_a_session_this_process_never_opened_is_logged(client, caplog):
    """What a proxy without sticky sessions causes, said in the log."""
    with caplog.at_level(logging.WARNING, logger="backoffice.realtime.sticky"):
        client.get("/socket.io/?EIO=4&transport=polling&sid=naoexiste123")
    assert any("sticky sessions" in r.getMessage() for r in caplog.records)


def test_SCL_1_the_proxy_drops_idle_connections_before_the_web_process_does():
    """nginx reuses its connections to the web processes; were gunicorn to close an idle
    one first, a request nginx sends on it at that instant is answered 502 (and a POST, a
    visitor's message, is not sent again). Seen under the load test."""
    import re
    import runpy

    settings = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    conf = (ROOT / "deploy" / "nginx" / "atende.conf").read_text()
    upstream = re.search(r"upstream atende_web \{(.*?)\}", conf, re.S).group(1)
    proxy = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream, re.M)
    assert proxy is not None, "upstream atende_web has no keepalive_timeout"
    assert int(proxy.group(1)) < settings["keepalive"]


# -- numeric settings (issue 17, bad input): a clear refusal naming the setting ------------

NUMBER_SETTINGS = ("DB_POOL_SIZE", "DB_MAX_OVERFLOW", "DB_POOL_TIMEOUT", "DB_PING_IDLE_SECONDS",
                   "SESSION_MINUTES", "MAIL_PORT", "IMPORT_MAX_MB", "IMPORT_BATCH_SIZE",
                   "OUTBOUND_TIMEOUT", "API_MAX_JSON_KB", "WEBHOOK_TIMEOUT", "SEND_STUCK_SECONDS",
                   "WEBCHAT_PROXY_HOPS", "WEBHOOK_RETRY_DELAYS", "COMPANY_CONFIG_CACHE_SIZE",
                   "WEB_MAX_REQUESTS", "WEB_QUEUE_SECONDS")


@pytest.mark.parametrize("name", NUMBER_SETTINGS)
def test_SCL_1_a_number_setting_that_is_not_a_number_is_refused_by_name(name, tmp_path,
                                                                        monkeypatch):
    from backoffice import config

    monkeypatch.setenv(name, "dez")
    with pytest.raises(config.SettingError) as refused:
        config.load(tmp_path)
    assert str(refused.value).startswith(f"{name} deve ser ")
    assert "'dez'" in str(refused.value)


@pytest.mark.parametrize("name, value", [
    ("DB_POOL_SIZE", "0"), ("DB_MAX_OVERFLOW", "-2"), ("DB_POOL_TIMEOUT", "0"),
    ("SESSION_MINUTES", "0"),
    ("IMPORT_BATCH_SIZE", "-5"), ("OUTBOUND_TIMEOUT", "0"), ("WEBHOOK_TIMEOUT", "nan"),
    ("OUTBOUND_TIMEOUT", "inf"),
    ("DB_PING_IDLE_SECONDS", "-1"), ("WEBHOOK_RETRY_DELAYS", "60,-1"),
    ("WEBHOOK_RETRY_DELAYS", "60,,300"), ("MAIL_PORT", "2.5"),
    ("COMPANY_CONFIG_CACHE_SIZE", "0"), ("WEB_MAX_REQUESTS", "-1"), ("WEB_QUEUE_SECONDS", "-0.5"),
    ("WEB_QUEUE_SECONDS", "inf"),
])
def test_SCL_1_a_number_setting_out_of_its_range_is_refused(name, value, tmp_path,
                                                             monkeypatch):
    from backoffice import config

    monkeypatch.setenv(name, value)
    with pytest.raises(config.SettingError, match=f"^{name} deve ser"):
        config.load(tmp_path)


def test_SCL_1_number_settings_read_as_before(tmp_path, monkeypatch):
    """Unset or empty: the defaults; spaces around a number are fine; -1 is SQLAlchemy's
    "no limit" for DB_MAX_OVERFLOW; a MAIL_PORT or IMPORT_BATCH_SIZE of 0 is "unset"."""
    from backoffice import config

    for name in NUMBER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_PORT", "")
    defaults = config.load(tmp_path)
    assert defaults["SQLALCHEMY_ENGINE_OPTIONS"] == {}
    assert defaults["PERMANENT_SESSION_LIFETIME"].total_seconds() == 480 * 60
    assert defaults["MAIL_PORT"] is None and defaults["IMPORT_BATCH_SIZE"] is None
    assert defaults["WEBHOOK_RETRY_DELAYS"] == (60, 300, 1800, 7200, 43200)
    assert defaults["OUTBOUND_TIMEOUT"] == 5.0 and defaults["DB_PING_IDLE_SECONDS"] == 10.0
    assert defaults["COMPANY_CONFIG_CACHE_SIZE"] == 2000
    assert defaults["WEB_MAX_REQUESTS"] is None and defaults["WEB_QUEUE_SECONDS"] == 5.0

    for name, value in (("DB_POOL_SIZE", " 12 "), ("DB_MAX_OVERFLOW", "-1"),
                        ("DB_POOL_TIMEOUT", "2.5"), ("MAIL_PORT", "0"), ("IMPORT_BATCH_SIZE", "0"),
                        ("WEBHOOK_RETRY_DELAYS", "30, 90"), ("OUTBOUND_TIMEOUT", "2.5"),
                        ("WEBCHAT_PROXY_HOPS", "1"), ("COMPANY_CONFIG_CACHE_SIZE", "50000"),
                        ("WEB_MAX_REQUESTS", "0"), ("WEB_QUEUE_SECONDS", "0.5")):
        monkeypatch.setenv(name, value)
    given = config.load(tmp_path)
    assert given["COMPANY_CONFIG_CACHE_SIZE"] == 50000
    assert given["WEB_MAX_REQUESTS"] == 0 and given["WEB_QUEUE_SECONDS"] == 0.5
    assert given["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_size": 12, "max_overflow": -1,
                                                  "pool_timeout": 2.5}
    assert given["MAIL_PORT"] is None and given["IMPORT_BATCH_SIZE"] is None
    assert given["WEBHOOK_RETRY_DELAYS"] == (30, 90)
    assert given["OUTBOUND_TIMEOUT"] == 2.5 and given["WEBCHAT_PROXY_HOPS"] == 1


def test_SCL_1_web_and_worker_processes_exit_naming_a_bad_number_setting(real_redis, tmp_path):
    """The real start commands of deploy/: gunicorn and the rq worker stop with the
    setting's name and what it must be, not a Python traceback of int()."""
    env = {**os.environ, "ATENDE_INSTANCE": str(tmp_path), "SECRET_KEY": "x",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", "DB_POOL_SIZE": "dez"}
    web = _start_web(env)
    assert web.returncode != 0
    assert "atende web: DB_POOL_SIZE deve ser um número inteiro (recebido: 'dez')" in web.stderr
    worker = subprocess.run([str(Path(sys.executable).parent / "rq"), "worker", "--burst",
                             "--worker-class", "backoffice.jobs.worker.AtendeWorker",
                             "--url", REDIS_URL, "--path", str(ROOT), "atende-startup-test"],
                            cwd=ROOT, env={**env, "REDIS_URL": REDIS_URL}, capture_output=True,
                            text=True, timeout=60)
    assert worker.returncode != 0
    assert "atende worker: DB_POOL_SIZE deve ser um número inteiro" in worker.stdout + worker.stderr
