"""What a socket event that fails answers (RTM-1, SCL-2): every namespace's error handler.

Without one, python-socketio logs the exception and answers nothing. An event's ack never
comes, and a connect is neither accepted nor refused, so the page waits for ever with no
room joined. A namespace's own handler that returns a value is no better on connect:
anything but False accepts the connection, again with no room joined (the webchat's did
so). After a database restart or failover, that was every socket that connected or asked
something on a connection from before: the agent's open conversation, or the visitor's
whole chat, stopped getting live messages until a reload.

So, when the database could not serve the event now (lib/dbfailures: a lost connection,
no connection to be had while it restarts, SQLite's writer busy, the pool exhausted):
- a connect is refused with `{"retry": true}` as the error's data: the pages' socket
  helper (static/realtime/socket.js) connects again after 1 to 4 s, and longer each time
  while the database stays away;
- another event answers `{"ok": false, "retry": true}`: the page sends it again (the
  inbox's ticket.join, the widget's receipts).
Any other failure is a bug: logged with its trace, a connect refused, an event answered
`{"ok": false}`. Either way the session's transaction is rolled back.

A disconnect has nobody to try again: `retried_once` runs its handler a second time, on a
new connection, so an agent who closed the tab during a restart is not shown online.
"""
from __future__ import annotations

import functools
import logging

from flask import request
from flask_socketio import ConnectionRefusedError

from ..extensions import db, socketio
from ..lib import dbfailures

log = logging.getLogger(__name__)
RETRY = {"retry": True}


def on_error(exc: Exception):
    db.session.rollback()
    event = (getattr(request, "event", None) or {}).get("message")
    namespace = getattr(request, "namespace", None)
    kind = dbfailures.retryable(exc)
    if kind:
        log.warning("socket %s on %s: database not available (%s), the client retries",
                    event, namespace, kind)
    else:
        log.exception("socket %s on %s failed", event, namespace)
    if event == "connect":
        if kind:
            raise ConnectionRefusedError("retry", RETRY)
        return False
    return {"ok": False, **RETRY} if kind else {"ok": False}


def retried_once(handler):
    """For a handler whose client cannot send it again (a disconnect): a database that was
    not available (lib/dbfailures) gets one more try. The pool has already dropped its
    connections from before a restart, so the second try gets a new one."""

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except Exception as exc:
            kind = dbfailures.retryable(exc)
            if not kind:
                raise
            db.session.rollback()
            log.warning("socket %s: database not available (%s), tried once more",
                        handler.__name__, kind)
            return handler(*args, **kwargs)

    return wrapper


# Kept by the SocketIO object itself, not by the server each init_app builds, so one
# registration at import serves every app and namespace.
socketio.on_error_default(on_error)
