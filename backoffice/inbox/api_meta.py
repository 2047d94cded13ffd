"""The inbox API's lookups: the page's meta data and the quick replies (MSG-2)."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from ..services import replies, serialize, tickets, visibility
from ..web.api import no_nul
from .blueprint import bp
from .common import api


@bp.get("/api/meta")
@api
def meta():
    user = current_user
    return jsonify(serialize.meta(user, tickets.farewells(user.company_id)))


@bp.get("/api/quick-replies")
@api
def quick_replies():
    """MSG-2: the active text and attachment templates matching what follows "/", plus
    those of the ticket's channel kind (TPL-3); `channel=1`: only those (closed window)."""
    user = current_user
    ticket = None
    if request.args.get("ticket"):
        ticket = visibility.find_ticket(user, request.args.get("ticket"))
    q = no_nul(request.args.get("q") or "")
    channel_only = ticket is not None and request.args.get("channel") == "1"
    return jsonify({"replies": replies.search(user, q, ticket, channel_only)})
