"""Background task runner: one API over three ways of running RQ jobs.

TASK_MODE (see backoffice/config.py):
- "redis":    real Redis; separate `rq worker --with-scheduler` processes run the jobs.
- "embedded": no server at all (what `make run` uses). One fakeredis server shared by the
              web code and a worker thread in this process.
- "eager":    jobs run synchronously inside `enqueue` (unit tests).

Jobs need an app context (they use the database); wrap them with `@app_job`.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

import redis
from flask import Flask, has_app_context
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.timeouts import TimerDeathPenalty

from ..lib import dbfailures

if TYPE_CHECKING:
    import fakeredis

log = logging.getLogger(__name__)

MODES = ("redis", "embedded", "eager")
QUEUE_NAME = "default"


class EmbeddedWorker(SimpleWorker):
    """A SimpleWorker that can live in a non-main thread.

    The stock worker arms job timeouts with SIGALRM and installs SIGINT/SIGTERM handlers;
    `signal.signal` raises ValueError outside the main thread. A timer-based timeout and
    no handlers make it thread-safe (and leave the web server's own handlers alone).
    """

    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args, flask_app: Flask | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.flask_app = flask_app

    def _install_signal_handlers(self):
        pass

    def execute_job(self, job, queue):
        # One app context per job, like one per request: the db session is removed at
        # the end of each job instead of leaking across jobs.
        if self.flask_app is None:
            return super().execute_job(job, queue)
        with self.flask_app.app_context():
            return super().execute_job(job, queue)


# --- app context for jobs -------------------------------------------------------------

_worker_app: Flask | None = None
_worker_app_lock = threading.Lock()


def _create_worker_app() -> Flask:
    # Imported late: backoffice imports this module, and only `rq worker` processes
    # (which have no app of their own) ever get here.
    from backoffice import create_app

    return create_app()


def worker_app() -> Flask:
    """The app of a standalone `rq worker` process, built once per process.

    Note: the default forking `rq worker` runs each job in a fresh child, so unless the
    parent built the app before forking, this runs once per job there.
    """
    global _worker_app
    with _worker_app_lock:
        if _worker_app is None:
            _worker_app = _create_worker_app()
        return _worker_app


# A standalone worker's job that finds the database down (a restart: a few seconds) waits
# this long before each new try, then gives up to RQ's failed list and the sweeps.
DATABASE_WAITS = (0.5, 1.0, 2.0, 4.0)


def app_job(func: Callable) -> Callable:
    """Run `func` inside a Flask app context wherever the job is executed.

    Embedded worker / eager enqueue / a request: a context is already pushed (the app
    that owns the runner) and is used as is. A standalone `rq worker`: build the app;
    there, a job that meets a database restart (lib/dbfailures) runs again in a new
    context: at once after a connection lost under it, after DATABASE_WAITS while no
    connection can be opened. Not in the other cases: the context, and its transaction,
    are the caller's.
    `functools.wraps` keeps `module.name`, which is what RQ stores and imports back.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return func(*args, **kwargs)
        # Jobs are safe to run twice (the sweeps already re-run them: claims, idempotent
        # writes). Without this the work waited for the next sweep, up to a minute and a
        # half for an outgoing message, and a password-reset e-mail was lost. Each try is
        # a new context, so a new session; after a lost connection the pool has already
        # replaced its connections from before the restart.
        waits = iter(DATABASE_WAITS)
        lost_before = False
        while True:
            with worker_app().app_context():
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    kind = dbfailures.retryable(exc)
                    if kind == dbfailures.LOST and not lost_before:
                        lost_before, wait = True, 0.0
                    elif kind == dbfailures.UNREACHABLE:
                        wait = next(waits, None)
                        if wait is None:
                            raise
                    else:
                        raise
                    log.warning("job %s: database not available (%s), tried again in %.1f s",
                                func.__name__, kind, wait)
            time.sleep(wait)

    return wrapper


# --- the extension ----------------------------------------------------------------------


class TaskRunner:
    """Flask extension: `tasks.init_app(app)`, then `tasks.enqueue(func, ...)`."""

    def __init__(self, app: Flask | None = None):
        self.app: Flask | None = None
        self.mode: str | None = None
        self._connection: redis.Redis | None = None
        self._queue: Queue | None = None
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._stop_event = threading.Event()  # replaced per thread: a late old thread stays stopped
        self._wake_event = threading.Event()
        self._fingerprint: dict | None = None
        self._fake_server: fakeredis.FakeServer | None = None
        self.embedded_interval = 1.0
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        mode = app.config.get("TASK_MODE") or "embedded"
        if mode not in MODES:
            raise RuntimeError(f"TASK_MODE must be one of {', '.join(MODES)}, not {mode!r}")
        url = app.config.get("REDIS_URL")
        if mode == "redis" and not url:
            raise RuntimeError(
                "TASK_MODE is 'redis' but REDIS_URL is not set; set REDIS_URL "
                "(e.g. redis://localhost:6379/0) or use TASK_MODE=embedded"
            )
        self.stop()  # re-initialised with another app (tests): drop the old worker

        self._fake_server = None
        if mode == "redis":
            # Connects lazily (the CLI works without Redis). A short connect timeout: when
            # Redis is down a request that saves a message must not hang (CHN-3: the
            # message stays queued and the sweep enqueues it later).
            connection = redis.Redis.from_url(url, socket_connect_timeout=2)
        else:
            # One server per runner, so the web code and the worker thread see the same
            # data; a bare FakeRedis() per call would each get an empty server.
            import fakeredis  # embedded mode only: a tenth of a second of every process's start

            self._fake_server = fakeredis.FakeServer()
            connection = fakeredis.FakeRedis(server=self._fake_server)

        self.app = app
        self.mode = mode
        self._connection = connection
        self._queue = Queue(QUEUE_NAME, connection=connection, is_async=(mode != "eager"))
        self.embedded_interval = float(app.config.get("TASK_EMBEDDED_INTERVAL", 1.0))
        self._fingerprint = None
        if mode == "redis":
            from ..lib.startup import fingerprint

            self._fingerprint = fingerprint(app.config)
        app.extensions["tasks"] = self

    # -- public API

    @property
    def connection(self) -> redis.Redis:
        self._require_init()
        return self._connection

    @property
    def queue(self) -> Queue:
        self._require_init()
        return self._queue

    def enqueue(self, func: Callable, *args: Any, **kwargs: Any) -> Job:
        """Queue `func(*args, **kwargs)`; RQ options (job_timeout, ...) pass through."""
        return self._submit(self.queue.enqueue, func, *args, **kwargs)

    def enqueue_in(self, delay: timedelta, func: Callable, *args: Any, **kwargs: Any) -> Job:
        """Run later. In eager mode the job is only scheduled, never run (RQ behaviour)."""
        return self._submit(self.queue.enqueue_in, delay, func, *args, **kwargs)

    def start_embedded_worker(self) -> None:
        """Start the worker thread (embedded mode only; no-op if already running).

        Started lazily by the first enqueue, so CLI commands like `flask db upgrade`
        never get a worker thread.
        """
        self._require_init()
        if self.mode != "embedded":
            raise RuntimeError(f"no embedded worker in TASK_MODE={self.mode!r}")
        with self._thread_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop_event = threading.Event()
            self._thread = threading.Thread(
                target=self._embedded_loop,
                args=(self._stop_event,),
                name="atende-embedded-worker",
                daemon=True,
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the embedded worker thread after its current burst (tests, shutdown)."""
        with self._thread_lock:
            thread, self._thread = self._thread, None
            self._stop_event.set()
        if thread is None:
            return
        self._wake_event.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("embedded worker did not stop within %.1fs", timeout)

    @property
    def embedded_worker_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drop_expired_keys(self) -> int:
        """Free the in-process Redis's expired keys; returns how many (0 on a real Redis,
        which expires keys itself).

        fakeredis drops an expired key only when that key is read again or the keyspace
        is counted or walked. Keys written once with a TTL and never read again (one
        rate-limit window per visitor and window, a finished job's hash) would stay in
        memory for the life of the process: about 1 MB per thousand webchat messages in
        the embedded default. A periodic task (jobs/periodic.py) counts the keys, which
        sweeps them out.
        """
        if self._fake_server is None:
            return 0
        held = self._fake_server.dbs[0]._dict  # fakeredis's store: nothing public counts expired keys
        before = len(held)
        self._connection.dbsize()  # under the server's lock, at the current time
        return max(before - len(held), 0)

    # -- internals

    def _require_init(self) -> None:
        if self._queue is None:
            raise RuntimeError("TaskRunner is not initialised: call tasks.init_app(app)")

    def _submit(self, method: Callable, *args: Any, **kwargs: Any) -> Job:
        self._require_init()
        if self.mode == "eager" and not has_app_context():
            # The job runs right here; give it the owning app, as the worker thread would.
            with self.app.app_context():
                return method(*args, **kwargs)
        if self._fingerprint is not None and "meta" not in kwargs:
            # The worker compares this with its own settings before running the job
            # (jobs/worker.py): a worker on another database or key refuses it.
            kwargs["meta"] = {"atende_fp": self._fingerprint}
        job = method(*args, **kwargs)
        if self.mode == "embedded":
            self.start_embedded_worker()
            self._wake_event.set()  # run it now rather than at the next tick
        return job

    def _embedded_loop(self, stop_event: threading.Event) -> None:
        # Bursts, not one long `work()`: non-burst `with_scheduler` starts the scheduler
        # in a separate *process*, which cannot see this process's fakeredis. In burst
        # mode the scheduler just moves due jobs to the queue, in this thread.
        worker = None
        while not stop_event.is_set():
            self._wake_event.clear()
            if worker is None:
                worker = EmbeddedWorker(
                    [self._queue], connection=self._connection, flask_app=self.app
                )
            try:
                # WARNING: each burst would otherwise log start/listen/quit at INFO.
                worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            except Exception:
                # Keep the thread alive. A worker that raised out of work() may still be
                # registered as alive, and would refuse to start again under its name.
                log.exception("embedded worker burst failed")
                worker = None
            self._wake_event.wait(self.embedded_interval)


tasks = TaskRunner()
