"""Socket.IO namespace "/webchat": the visitor's live channel (CHN-5, RTM-1).

connect(auth={key, token}): the connection must exist and be active and the token must be
one of its visitors; the socket then joins visitor_room(address) (the room the
WebchatAdapter emits to) and nothing else. Anything else is refused (connect_error).
ack({id, status}): "delivered"/"read" receipts, for outgoing messages of this visitor's
own tickets only. The visitor's identity is kept in the socket's server-side session,
taken from the connect check, never from an event's payload.
"""
from __future__ import annotations

import hashlib

from flask import g, session
from flask_socketio import join_room

from ...extensions import socketio
from ...services import ratelimit
from ...lib import after_commit
from . import visitor as rules
from .adapter import NAMESPACE, visitor_room

SESSION_KEY = "atende_webchat_visitor"
ACK_RATE_LIMIT = "300/60"


def on_connect(auth=None):
    if not isinstance(auth, dict):
        return False
    connection = rules.find_connection(auth.get("key"))
    if connection is None:
        return False
    address = rules.find_visitor(connection, auth.get("token"))
    if address is None:
        return False
    join_room(visitor_room(address.id), namespace=NAMESPACE)
    session[SESSION_KEY] = {"connection_id": connection.id, "company_id": connection.company_id,
                            "contact_id": address.contact_id, "address_id": address.id,
                            "ident": hashlib.sha256(address.address.encode()).hexdigest()[:32]}
    return True


def on_ack(data=None):
    me = session.get(SESSION_KEY)
    if not me or not isinstance(data, dict):
        return {"ok": False}
    if ratelimit.hit("webchat-ack", me["ident"], ratelimit.parse(ACK_RATE_LIMIT)):
        return {"ok": False}
    g.tenant_id = me["company_id"]
    changed = rules.acknowledge(me["connection_id"], me["contact_id"], data.get("id"),
                               data.get("status"))
    after_commit.commit()
    return {"ok": True, "changed": changed}


def register() -> None:
    """Attach the handlers to the app's Socket.IO server; called for every app.

    Not decorators at import time: `socketio.on` attaches a handler only to the server
    that exists at that moment (each `socketio.init_app` builds a new one), so a module
    first imported after one app was set up would leave every later app without them.
    """
    socketio.on("connect", namespace=NAMESPACE)(on_connect)
    socketio.on("ack", namespace=NAMESPACE)(on_ack)
    # a failing event is answered by the default handler of every namespace
    # (realtime/failures.py): a refusal the widget retries when the database was away
