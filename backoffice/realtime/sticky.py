"""A logged warning when Socket.IO requests reach a process that does not know them.

Behind a proxy, every request of one Socket.IO session must reach the process that
opened it (sticky sessions, deploy/nginx). A proxy that spreads them round-robin breaks
long-polling: the other process answers "Invalid session" and the browser reconnects in a
loop, its live events lost in between. Each such request is seen here, so the operator
reads what is wrong in the log instead of guessing. Right after a process restarts a few
are normal (browsers still hold the old session).
"""
from __future__ import annotations

import logging
import threading
import time
from urllib.parse import parse_qs

from flask import Flask

from ..extensions import socketio

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds: one line per minute per process, not one per request


class StickyCheck:
    def __init__(self, wsgi_app, path: str = "/socket.io"):
        self.wsgi_app = wsgi_app
        self.path = path
        self.unknown = 0          # requests with a session this process never opened
        self._last_warning = 0.0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.path):
            sid = parse_qs(environ.get("QUERY_STRING", "")).get("sid")
            server = getattr(socketio, "server", None)
            if sid and server is not None and sid[0] not in server.eio.sockets:
                self._unknown(sid[0], environ)
        return self.wsgi_app(environ, start_response)

    def _unknown(self, sid: str, environ) -> None:
        with self._lock:
            self.unknown += 1
            now = time.monotonic()
            if now - self._last_warning < WARN_EVERY and self._last_warning:
                return
            self._last_warning = now
            count = self.unknown
        log.warning(
            "Socket.IO: pedido da sessão %s, que este processo não abriu (%d desde o início). "
            "Se isso se repete, o proxy não manda cada navegador sempre ao mesmo processo "
            "(sticky sessions, veja deploy/nginx): os eventos ao vivo desses navegadores se "
            "perdem entre reconexões. Logo depois de reiniciar um processo é normal.",
            sid, count)


def install(app: Flask) -> StickyCheck:
    check = StickyCheck(app.wsgi_app)
    app.wsgi_app = check
    app.extensions["socketio_sticky_check"] = check
    return check
