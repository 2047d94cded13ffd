"""The task runner in its three modes, each end to end with a tiny job.

Minimal Flask apps on purpose: these tests must not depend on backoffice.create_app.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker
from rq.job import JobStatus

from backoffice.jobs import runner as runner_module
from backoffice.jobs.runner import TaskRunner
from backoffice.jobs.system import add, ping
from tests.conftest import REDIS_URL

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The real_redis fixture (conftest.py) flushes this db before and after each test.
TEST_REDIS_URL = REDIS_URL


def make_app(mode: str, **config) -> Flask:
    app = Flask(__name__)
    app.config.update({"TASK_MODE": mode, "REDIS_URL": None, **config})
    return app


@pytest.fixture
def make_runner():
    """A fresh TaskRunner per test, always stopped afterwards (no thread outlives a test)."""
    runners = []

    def _make(app: Flask) -> TaskRunner:
        runner = TaskRunner()
        runner.init_app(app)
        runners.append(runner)
        return runner

    yield _make
    for runner in runners:
        runner.stop()


def wait_until_finished(job, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status in (JobStatus.FINISHED, JobStatus.FAILED):
            return status
        time.sleep(0.05)
    pytest.fail(f"job {job.id} still {job.get_status()} after {timeout}s")


# --- eager --------------------------------------------------------------------------


def test_task_runner_eager_mode_runs_job_at_enqueue(make_runner):
    app = make_app("eager")
    tasks = make_runner(app)

    # Outside any app context on purpose: the runner must push its own app's context.
    job = tasks.enqueue(ping, "olá")

    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"value": "olá", "app": app.name, "mode": "eager"}


def test_task_runner_eager_mode_uses_the_callers_app_context(make_runner):
    app = make_app("eager")
    tasks = make_runner(app)
    with app.app_context():
        app.config["TASK_MODE"] = "eager (inside context)"
        job = tasks.enqueue(ping, 7)
    assert job.return_value()["mode"] == "eager (inside context)"


# --- embedded -------------------------------------------------------------------------


def test_task_runner_embedded_mode_runs_job_in_background_thread(make_runner):
    app = make_app("embedded")
    tasks = make_runner(app)
    # Lazy: init_app alone (e.g. `flask db upgrade`) must not start a worker thread.
    assert not tasks.embedded_worker_running

    job = tasks.enqueue(ping, {"n": 1})

    assert tasks.embedded_worker_running
    assert wait_until_finished(job) == JobStatus.FINISHED
    assert job.return_value() == {"value": {"n": 1}, "app": app.name, "mode": "embedded"}


def test_task_runner_embedded_mode_runs_scheduled_job(make_runner):
    app = make_app("embedded", TASK_EMBEDDED_INTERVAL=0.2)
    tasks = make_runner(app)

    job = tasks.enqueue_in(timedelta(seconds=1), ping, "later")

    # No timing assertion: RQ stores run times in whole seconds (truncated), so a 1 s
    # delay may fall due after anything between 0 and 1 s.
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.id in tasks.queue.scheduled_job_registry.get_job_ids()
    assert wait_until_finished(job) == JobStatus.FINISHED
    assert job.return_value() == {"value": "later", "app": app.name, "mode": "embedded"}


def test_task_runner_embedded_mode_stop_ends_thread(make_runner):
    tasks = make_runner(make_app("embedded"))
    tasks.start_embedded_worker()
    thread = tasks._thread
    assert thread.is_alive() and thread.daemon

    tasks.stop()

    assert not thread.is_alive()
    assert not tasks.embedded_worker_running


def test_SCL_3_the_embedded_queue_frees_expired_keys_nobody_reads_again(make_runner):
    """The in-process Redis drops an expired key only when it is read again: a webchat's
    rate-limit windows (one key per visitor and window, never read after its window)
    piled up for the life of `python app.py`, about 1 MB per thousand messages.
    `drop_expired_keys`, run by the periodic tasks, frees them; live keys stay."""
    tasks = make_runner(make_app("embedded"))
    store = tasks._fake_server.dbs[0]._dict  # what the process holds in memory
    for i in range(500):
        tasks.connection.set(f"atende:rl:webchat-msg:{i}:1:0", 1, px=1)
    tasks.connection.set("vivo", 1, ex=60)
    time.sleep(0.01)
    assert len(store) == 501  # expired, still held: nothing read them again

    assert tasks.drop_expired_keys() == 500
    assert list(store) == [b"vivo"]
    assert tasks.connection.get("vivo") == b"1"
    # a real Redis expires keys itself: nothing to do, and no connection made for it
    assert make_runner(make_app("redis", REDIS_URL="redis://127.0.0.1:1/0")).drop_expired_keys() == 0


def test_SCL_3_the_periodic_tasks_free_the_embedded_queue_s_expired_keys(app):
    """The thread `python app.py` starts runs the sweep (jobs/periodic.py)."""
    from backoffice.jobs import tasks
    from backoffice.jobs.periodic import PERIODIC, sweep_once

    task = next(t for t in PERIODIC if t.run == tasks.drop_expired_keys)
    for i in range(20):
        tasks.connection.set(f"atende:rl:teste:{i}", 1, px=1)
    time.sleep(0.01)
    assert sweep_once(app, [task]) == 20
    assert tasks.connection.dbsize() == 0


# --- redis (real server) ------------------------------------------------------------------


@pytest.mark.services
def test_task_runner_redis_mode_in_process_worker_builds_app_once(
    real_redis, make_runner, monkeypatch
):
    app = make_app("redis", REDIS_URL=TEST_REDIS_URL)
    tasks = make_runner(app)
    first = tasks.enqueue(ping, 1)
    second = tasks.enqueue(ping, 2)
    assert first.get_status() == JobStatus.QUEUED

    # Stand in for a standalone `rq worker` process: no app context while the worker
    # runs, so @app_job must build the app itself, once per process.
    built = []

    def fake_create_app():
        built.append(1)
        return app

    monkeypatch.setattr(runner_module, "_worker_app", None)
    monkeypatch.setattr(runner_module, "_create_worker_app", fake_create_app)
    # SimpleWorker.work() installs SIGINT/SIGTERM handlers; give pytest its own back.
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker = SimpleWorker(["default"], connection=tasks.connection)
        assert worker.work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    assert first.return_value(refresh=True) == {"value": 1, "app": app.name, "mode": "redis"}
    assert second.return_value(refresh=True) == {"value": 2, "app": app.name, "mode": "redis"}
    assert len(built) == 1


@pytest.mark.services
def test_task_runner_redis_mode_rq_worker_process_runs_jobs(real_redis, make_runner):
    tasks = make_runner(make_app("redis", REDIS_URL=TEST_REDIS_URL))
    now_job = tasks.enqueue(add, 2, 3)
    later_job = tasks.enqueue_in(timedelta(seconds=1), add, 40, 2)
    assert later_job.get_status() == JobStatus.SCHEDULED
    time.sleep(1.1)  # let the scheduled job fall due before the burst worker looks

    # The real production command, in its own process, as `make worker` would run it.
    rq_bin = Path(sys.executable).parent / "rq"
    pythonpath = [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, pythonpath))}
    proc = subprocess.run(
        [str(rq_bin), "worker", "--burst", "--with-scheduler", "--url", TEST_REDIS_URL, "default"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    assert now_job.get_status(refresh=True) == JobStatus.FINISHED, proc.stdout + proc.stderr
    assert now_job.return_value(refresh=True) == 5
    assert later_job.get_status(refresh=True) == JobStatus.FINISHED, proc.stdout + proc.stderr
    assert later_job.return_value(refresh=True) == 42


# --- configuration errors -------------------------------------------------------------


def test_task_runner_redis_mode_without_redis_url_fails_at_init():
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        TaskRunner().init_app(make_app("redis"))


def test_task_runner_rejects_unknown_mode():
    with pytest.raises(RuntimeError, match="TASK_MODE"):
        TaskRunner().init_app(make_app("celery"))


def test_task_runner_used_before_init_app_fails_clearly():
    with pytest.raises(RuntimeError, match="init_app"):
        TaskRunner().enqueue(add, 1, 2)
