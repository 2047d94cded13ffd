"""The production-shaped cluster of deploy/cluster.py, started once for tests/cluster (SCL-2).

Two gunicorn web processes, two RQ workers with the scheduler, the sweeper, nginx with
sticky sessions and a Redis server of the cluster's own (so a test may restart it without
touching the Redis the rest of the suite uses), on a PostgreSQL database of its own. `make
test` runs it as a third process beside its two passes (`-m cluster`), which both leave it
out (`-m "not cluster"`): it is PostgreSQL + Redis by definition, and its waiting on
killed processes then overlaps the other tests. A missing PostgreSQL, Redis server
or nginx fails under CI=true.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, make_url, text

from deploy import cluster as cl
from tests.conftest import PG_URL, _check_postgres, missing_service

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PROXY_PORT = 8180      # not make cluster's 8080: both may run on one machine
WEB_BASE = 8180        # web processes on 8181 and 8182
REDIS_PORT = 6391
DATABASE = "test_cluster"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.cluster)


class Provider:
    """The company's system behind the http_api connection: records every attempt and
    answers after `delay` seconds; a well-behaved receiver, it keeps one copy per
    Idempotency-Key (the header the connection sends, the same on every attempt)."""

    def __init__(self):
        self.delay = 0.0
        self.fail_next = 0          # answer 503 to this many attempts (a retry follows)
        self.attempts: list[dict] = []
        self.answered: list[dict] = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                entry = {"key": self.headers.get("Idempotency-Key"), "text": body.get("text"),
                         "message_id": body.get("message_id")}
                with provider.lock:
                    provider.attempts.append(entry)
                    fail = provider.fail_next > 0
                    provider.fail_next -= 1 if fail else 0
                    delay = provider.delay
                time.sleep(delay)
                try:
                    if fail:
                        self.send_response(503)
                        self.end_headers()
                        return
                    reply = json.dumps({"id": f"ext-{entry['message_id']}"}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                    self.wfile.flush()
                except OSError:
                    return  # the sender died while we waited: it never got this answer
                with provider.lock:
                    provider.answered.append(entry)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/atende"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self, text_: str) -> list[dict]:
        """The copies the receiver kept: one per Idempotency-Key among answered attempts."""
        with self.lock:
            keys = {a["key"] for a in self.answered if a["text"] == text_}
        return sorted(keys)

    def tried(self, text_: str) -> list[dict]:
        with self.lock:
            return [a for a in self.attempts if a["text"] == text_]


def _fresh_database() -> str:
    url = make_url(PG_URL).set(database=DATABASE)
    admin = create_engine(make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": DATABASE})
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    admin.dispose()
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def provider():
    found = Provider()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="session")
def running_cluster(tmp_path_factory, provider):
    problem = _check_postgres()
    if problem:
        missing_service(problem)
    for tool in ("redis-server", cl.NGINX):
        if not shutil.which(tool) and not Path(tool).exists():
            missing_service(f"{tool} not found (make test installs nginx-light; redis-server "
                            f"comes with the Redis package)")
    state = tmp_path_factory.mktemp("cluster")
    database_url = _fresh_database()
    env = {
        "ALLOW_PRIVATE_URLS": "true",    # the provider listens on 127.0.0.1
        "SEND_STUCK_SECONDS": "4",       # a send whose worker died is taken again after 4 s
        "WEBCHAT_RATE_LIMIT": "1000/10",
    }
    try:
        info = cl.start(state, web=2, workers=2, port=PROXY_PORT, database_url=database_url,
                        redis_port=REDIS_PORT, demo=False, web_base_port=WEB_BASE,
                        extra_env=env, sweep_interval=1)
    except cl.ClusterError as exc:
        pytest.fail(f"the cluster did not start: {exc}", pytrace=False)
    world_env = {**cl.environment_of(info)}
    done = subprocess.run([sys.executable, "-m", "tests.cluster.world", provider.url], cwd=ROOT,
                          env=world_env, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        cl.stop(state)
        pytest.fail(f"world: {done.stdout}\n{done.stderr}", pytrace=False)
    info["world"] = json.loads(done.stdout.strip().splitlines()[-1])
    yield info
    cl.stop(state)


def session_for(base: str, email: str, password: str) -> requests.Session:
    """A logged-in agent (cookies are per host, so the session works on every process)."""
    s = requests.Session()
    form = s.get(f"{base}/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.text)
    r = s.post(f"{base}/login", data={"email": email, "password": password,
                                      "csrf_token": token.group(1)}, timeout=10)
    assert r.status_code == 200 and "/login" not in r.url, r.text[:500]
    inbox = s.get(f"{base}/inbox/", timeout=10)
    s.headers["X-CSRFToken"] = re.search(r'<meta name="csrf-token" content="([^"]+)"',
                                         inbox.text).group(1)
    return s


def wait_for(check, timeout: float = 10.0, every: float = 0.1, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def kill(proc: dict) -> None:
    """SIGKILL, as a crash or the OOM killer would: no clean shutdown of any kind."""
    import signal

    os.killpg(proc["pid"], signal.SIGKILL)
    wait_for(lambda: not cl._alive(proc), 10, what=f"{proc['name']} gone")


# The browser of the e2e tests (Debian's Chromium), for the page that reconnects.
from tests.e2e.conftest import browser_type_launch_args, page  # noqa: E402

E2E_FIXTURES = (browser_type_launch_args, page)  # registered here by being imported
