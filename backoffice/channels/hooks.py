"""The provider webhooks (CHN-2): `/hooks/<kind>/<public key>`, one URL per connection.

GET answers Meta's verification handshake. POST checks the signature on the raw body
before anything else, stores the items (services.channel_events.store) and answers 200
at once; a job processes them. What each provider's request looks like is its adapter's
business (channels/provider.py).

Answers, in the provider's terms:
- unknown key, wrong kind, inactive connection: 404 (logged): nothing to deliver to;
- bad or missing signature: 403, logged, nothing stored;
- a body over MAX_WEBHOOK_BYTES: 413; malformed JSON or a shape the provider never
  sends: 400 (a correctly signed body is the provider's, so this is logged loudly);
- stored, or nothing new (a redelivery): 200.

No login and no CSRF token: the provider proves itself with the signature (Meta's
X-Hub-Signature-256 with the app secret, Telegram's secret token header), which a
forged cross-site request cannot carry.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import csrf, db
from ..lib import after_commit
from ..models import Connection
from ..models.channels import HOOK_KINDS
from ..services import channel_events
from ..tenancy import acting_for
from . import adapter_for
from .base import InboundError
from .provider import MAX_WEBHOOK_BYTES, Forbidden, parse_json

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
csrf.exempt(bp)


def _connection(kind: str, key: str) -> Connection:
    if kind not in HOOK_KINDS or not key or len(key) > 40:
        abort(404)
    connection = db.session.scalar(select(Connection).where(
        Connection.public_key == key, Connection.kind == kind))
    if connection is None:
        log.warning("webhook %s: unknown key", kind)
        abort(404)
    if not connection.active:
        log.warning("webhook %s for inactive connection %s refused", kind, connection.id)
        abort(404)
    return connection


@bp.get("/<kind>/<key>")
def handshake(kind, key):
    connection = _connection(kind, key)
    try:
        answer = adapter_for(connection).handshake(request.args)
    except Forbidden:
        log.warning("webhook %s handshake refused for connection %s", kind, connection.id)
        abort(403)
    except InboundError as exc:
        return jsonify({"error": str(exc)}), 400
    return answer, 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.post("/<kind>/<key>")
def receive(kind, key):
    connection = _connection(kind, key)
    if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
        log.warning("webhook %s for connection %s: body of %s bytes refused", kind,
                    connection.id, request.content_length)
        abort(413)
    raw = request.stream.read(MAX_WEBHOOK_BYTES + 1)
    if len(raw) > MAX_WEBHOOK_BYTES:
        abort(413)
    adapter = adapter_for(connection)
    if not adapter.verify(request.headers, raw):
        log.warning("webhook %s for connection %s: bad or missing signature, nothing stored",
                    kind, connection.id)
        return jsonify({"error": _("Assinatura inválida.")}), 403
    try:
        items = adapter.split(parse_json(raw))
    except InboundError as exc:
        log.error("webhook %s for connection %s: signed but unreadable: %s", kind,
                  connection.id, exc)
        return jsonify({"error": str(exc)}), 400
    with acting_for(connection.company_id):
        stored = channel_events.store(connection, items)
        after_commit.commit()
    return jsonify({"received": len(items), "stored": len(stored)}), 200
