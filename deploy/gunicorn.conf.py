"""Gunicorn settings of one Atende web process (SCL-1).

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8101 app:app

One worker per process, always: a Socket.IO session lives in the memory of the process
that opened it, and gunicorn's own balancing is not sticky. Scale with more processes on
more ports behind the proxy (deploy/nginx). Threads, because Flask-SocketIO runs in
threading mode here (simple-websocket): each open WebSocket holds one thread, so
WEB_THREADS must exceed the agents one process serves plus its concurrent requests.
"""
import os
from pathlib import Path

from backoffice.config import env_number

worker_class = "gthread"
workers = 1
threads = env_number("WEB_THREADS", 256, minimum=1)
worker_connections = threads + 64
timeout = 60            # a request (not a WebSocket: those are served by their own thread)
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
