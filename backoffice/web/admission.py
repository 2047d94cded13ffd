"""How many HTTP requests one web process works on at once (issue 17, overload; SCL-3).

A gevent web process accepts every connection (up to WEB_CONNECTIONS, 2,000) and gives
each request a greenlet at once. Past the machine's capacity every accepted request
shared the one core, so each took longer the more there were; together they asked for
more database connections than the pool keeps, which it opened and closed all the time;
and a request the visitor had given up on was still worked on. At 200 website messages a
second offered for a minute to a two-process cluster that serves about 150-170: p99 13 to
30 s and growing, up to 621 requests unanswered after 30 s, 222-493 PostgreSQL
connections opened, 127-171 messages served a second (the machine's speed moved between
runs).

Here at most WEB_MAX_REQUESTS requests of a process run at once, by default as many as
the database connections its pool keeps (DB_POOL_SIZE): a request beyond those would wait
for a connection anyway, or make the pool open one more and close it when returned (a
limit of 16 over the default pool of 5 opened 1,616 connections in that minute and served
88 a second). The next requests wait for one to end (the longest waiter is woken first,
though one arriving just as a slot frees may take it); one that waits WEB_QUEUE_SECONDS is
answered 503 with Retry-After and "O servidor está ocupado. Tente de novo em instantes."
without having touched the database (the widget sends it again by itself after
Retry-After, with the same client id, stored once). A waiting
request holds no database connection and costs no CPU, so the running ones keep their
speed: the same overload, in runs alternated with the unlimited process, was served at
142-171 messages a second, p99 9-19 s, every request answered, no connection opened
(bench/README.md, "twenty-third pass").

A request's slot is given back when the app has built its answer: a download streamed
afterwards does not hold it. Not counted: Socket.IO (`/socket.io`, whose long-polling
requests and WebSockets stay open for minutes) and static files (cheap, and a page should
not lose its stylesheet to an overload of visitors' messages).
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from ..extensions import db
from ..lib import headers
from .errors import busy_response

log = logging.getLogger(__name__)

WARN_EVERY = 60.0  # seconds: one line per minute per process while it refuses
EXEMPT = ("/socket.io", "/static/")


class Admission:
    """The WSGI middleware; `limit` None lets every request in (WEB_MAX_REQUESTS=0)."""

    def __init__(self, app: Flask, wsgi_app, limit: int | None, wait: float):
        self.app = app
        self.wsgi_app = wsgi_app
        self.limit = limit
        self.wait = wait
        # a freed slot wakes the longest waiter (threading's Condition notifies in order),
        # though a request arriving at that instant may take it first
        self._slots = threading.Semaphore(limit) if limit else None
        self.refused = 0          # requests answered busy since the process started
        self._last_warning = 0.0
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        slots = self._slots
        if slots is None or environ.get("PATH_INFO", "").startswith(EXEMPT):
            return self.wsgi_app(environ, start_response)
        if not slots.acquire(timeout=self.wait):
            return self._refuse(environ, start_response)
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            slots.release()

    def _refuse(self, environ, start_response):
        with self.app.request_context(environ):
            response = headers.secure(busy_response())
        self._warn(environ)
        return response(environ, start_response)

    def _warn(self, environ) -> None:
        with self._lock:
            self.refused += 1
            now = time.monotonic()
            if self._last_warning and now - self._last_warning < WARN_EVERY:
                return
            self._last_warning = now
            count = self.refused
        log.warning(
            "Servidor ocupado: %s recusado com 503 depois de esperar %.1f s por uma das %d "
            "vagas de requisição deste processo (%d recusados desde o início). Se isso se "
            "repete fora de um pico, a máquina não dá conta da carga: mais processos web ou "
            "mais CPU (WEB_MAX_REQUESTS, WEB_QUEUE_SECONDS).",
            environ.get("PATH_INFO", ""), self.wait, self.limit, count)


def kept_connections(app: Flask) -> int | None:
    """The database connections the app's pool keeps open (DB_POOL_SIZE), None for a pool
    that keeps no fixed number."""
    with app.app_context():
        size = getattr(db.engine.pool, "size", None)
    return size() if callable(size) else None


def install(app: Flask) -> Admission:
    """Outermost of the app's WSGI middlewares, so a waiting request has done nothing."""
    limit = app.config["WEB_MAX_REQUESTS"]
    if limit is None:
        limit = kept_connections(app)
    admission = Admission(app, app.wsgi_app, limit or None, app.config["WEB_QUEUE_SECONDS"])
    app.wsgi_app = admission
    return admission
