"""Socket.IO namespace "/panel": the TV panel's live channel (PNL-1).

connect(auth={key}): the key must be an active panel link (reports.panel.authenticate);
the socket then joins `panel:<company_id>` (the company's pushes) and `panelkey:<key_id>`
(its own, for revocation), and nothing else. Anything else is refused (connect_error).
The panel sends no event of its own: it only listens.

Pushes carry no data at all: "panel.changed" says "fetch /tv/<key>/data.json again",
which answers with what that key may see, so one push serves every panel of the company
whatever its departments. It is sent after the commit of a transaction that created,
moved, closed or transferred a ticket or changed an agent's status, at most once per
transaction and company (a bulk close does not make every TV fetch a hundred times).

Revocation: once the commit that revoked a key is done, "panel.revoked" goes to the
key's room and this process disconnects that room's sockets itself. Why both: with a
Redis message queue (several web processes), `socketio.emit` reaches the sockets of every
process, but a server-side disconnect of a room does not exist across processes (each
process knows only its own sockets' rooms, see python-socketio's get_participants, and
`server.disconnect` needs a sid). So the event travels through the queue and the page
closes its socket and stops retrying when it hears it; the sockets held by this
process are cut at once whatever their client does; and a client that ignored the event
learns nothing more: pushes carry no data and data.json refuses the key from the commit
on, and a reconnect is refused at connect.
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from flask_socketio import join_room
from sqlalchemy import event
from sqlalchemy.orm import Session

from .. import events
from ..extensions import socketio
from ..lib import after_commit
from ..reports import panel as keys

log = logging.getLogger(__name__)
NAMESPACE = "/panel"


def company_room(company_id: int) -> str:
    return f"panel:{company_id}"


def key_room(key_id: int) -> str:
    return f"panelkey:{key_id}"


def on_connect(auth=None):
    if not isinstance(auth, dict):
        return False
    # a database that fails here is answered by realtime/failures.py: refused, retried
    key = keys.authenticate(auth.get("key"))
    if key is None:
        return False
    join_room(company_room(key.company_id), namespace=NAMESPACE)
    join_room(key_room(key.id), namespace=NAMESPACE)
    return True


def register() -> None:
    """Attach the handler to the app's Socket.IO server; called once per app (when its
    blueprint is registered, after socketio.init_app), as channels/webchat/sockets.py
    explains."""
    socketio.on("connect", namespace=NAMESPACE)(on_connect)


# -- pushes ---------------------------------------------------------------------------------

@events.listen("ticket.created", "ticket.status_changed", "ticket.transferred", "agent.status")
def changed(_name, ticket=None, user=None, **_data) -> None:
    row = ticket if ticket is not None else user
    company_id = getattr(row, "company_id", None)
    if company_id is None:
        return
    after_commit.gather(company_room(company_id), lambda _: socketio.emit(
        "panel.changed", {}, to=company_room(company_id), namespace=NAMESPACE))


# -- revocation -------------------------------------------------------------------------------

def _close_revoked(session: Session) -> None:
    """After the commit (SQLAlchemy's hook: no SQL here): tell the revoked keys' panels,
    wherever they are, and cut the sockets this process holds."""
    revoked = session.info.pop(keys.REVOKED_INFO, None)
    server = getattr(socketio, "server", None)
    if not revoked or server is None or not has_app_context():
        return
    # a fresh app context, as realtime/listeners.py does: whatever runs on a disconnect
    # must not use the session that is finishing its commit
    with current_app._get_current_object().app_context():
        for key_id in sorted(revoked):
            room = key_room(key_id)
            try:
                socketio.emit("panel.revoked", {}, to=room, namespace=NAMESPACE)
            except Exception:
                log.warning("could not tell panel key %s it was revoked", key_id, exc_info=True)
            for sid, _eio_sid in list(server.manager.get_participants(NAMESPACE, room)):
                try:
                    server.disconnect(sid, namespace=NAMESPACE)
                except Exception:  # one gone socket must not keep the others open
                    log.warning("could not disconnect panel socket %s", sid, exc_info=True)


def _drop(session: Session) -> None:
    session.info.pop(keys.REVOKED_INFO, None)


def install() -> None:
    if not event.contains(Session, "after_commit", _close_revoked):
        event.listen(Session, "after_commit", _close_revoked)
        event.listen(Session, "after_rollback", _drop)


install()  # Session class hooks: global, installed once whatever the number of apps
