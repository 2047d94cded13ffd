"""Gunicorn settings of one Atende web process (SCL-1).

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8101 app:app

One worker per process, always: a Socket.IO session lives in the memory of the process
that opened it, and gunicorn's own balancing is not sticky. Scale with more processes on
more ports behind the proxy (deploy/nginx).

The worker is gevent's (WEB_WORKER_CLASS, default `gevent`): every connection, an
agent's WebSocket included, is a greenlet of the process's one thread, and the standard
library is patched so that waits on PostgreSQL (psycopg sees the patch and waits
cooperatively), Redis and sockets let the others run. With one OS thread per WebSocket
(`gthread`, the earlier mode, still selectable) the CPU per inbound message is about the
same, but under a sustained 200 messages/s the cluster's p99 went to hundreds of
milliseconds (its ~300 threads per process share Python's lock), against 25-34 ms
under gevent (bench/README.md, "Load"). CPU work that would hold the one thread for long,
and releases Python's lock, goes to gevent's thread pool (lib/offload.py: the password
hashes).
"""
import os

WORKER_CLASSES = ("gevent", "gthread")
worker_class = os.environ.get("WEB_WORKER_CLASS", "").strip() or "gevent"
if worker_class not in WORKER_CLASSES:
    raise SystemExit(f"atende web: WEB_WORKER_CLASS deve ser gevent ou gthread "
                     f"(recebido: {worker_class!r})")
if worker_class == "gevent" and __name__ == "__config__":
    # Patched before anything of the app is imported, here in gunicorn's master (which
    # imports the app's settings below): a lock or a psycopg wait function picked before
    # the patch would block the whole process instead of one greenlet. `__config__` is
    # the name gunicorn loads this file under; a test reading the settings is not patched.
    from gevent import monkey

    monkey.patch_all()

from pathlib import Path  # noqa: E402

from backoffice.config import SettingError, env_number  # noqa: E402

workers = 1
# Each worker class reads only its own setting, so a leftover value of the other one
# (WEB_THREADS kept from a gthread deployment) cannot stop a gevent process from starting.
# gevent: WEB_CONNECTIONS bounds the open connections (WebSockets and requests) of the
# process. gthread: each open WebSocket holds one thread, so WEB_THREADS must exceed the
# agents one process serves plus its concurrent requests.
try:
    if worker_class == "gevent":
        worker_connections = env_number("WEB_CONNECTIONS", 2000, minimum=1)
    else:
        threads = env_number("WEB_THREADS", 256, minimum=1)
        worker_connections = threads + 64
except SettingError as exc:
    raise SystemExit(f"atende web: {exc}") from None
# gthread: a request's longest run (not a WebSocket's: each has its own thread). gevent:
# the longest the one thread may run without yielding before the master restarts it.
timeout = 60
graceful_timeout = 10
keepalive = 5           # seconds; nginx drops idle upstream connections sooner (deploy/nginx)
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# Only what the proxy adds is trusted (WEBCHAT_PROXY_HOPS); the rest of the chain is not.
forwarded_allow_ips = "127.0.0.1"


def on_starting(server):
    """Refuse to start, with the reason, when Redis does not answer (lib/startup.py) or a
    setting cannot be used (config.SettingError)."""
    from backoffice import ROOT, config
    from backoffice.lib.startup import StartupError, check_web

    instance = os.environ.get("ATENDE_INSTANCE") or str(Path(ROOT) / "instance")
    try:
        check_web(config.load(instance))
    except (StartupError, config.SettingError) as exc:
        server.log.error("%s", exc)
        raise SystemExit(f"atende web: {exc}") from None


def post_worker_init(worker):
    """The app is built: full collections stop walking its objects (lib/heap.py), and a
    resync request owed when the worker stops gets a last try (realtime/pubsub.py)."""
    from backoffice.lib.heap import freeze_startup_objects
    from backoffice.realtime.pubsub import send_owed_at_exit

    freeze_startup_objects()
    send_owed_at_exit()


control_socket_disable = True  # each instance is supervised by systemd or deploy/cluster.py, not a socket
