"""The inbox API on tickets: the list (FLT-1), a ticket's panel, reading it, and the agent's
actions on one ticket or many (BLK-1). Bodies are read by services.inbox's inputs."""
from __future__ import annotations

import logging
import re
from datetime import datetime

import orjson
from flask import current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..services import RuleError, inbox, replies, serialize, tickets, visibility, window
from ..lib import after_commit
from ..lib.readonly import read_only
from ..services.inbox import BulkInput, CloseInput, FavouriteInput, TagsInput, TransferInput
from ..web.api import ApiError, clean_args, read_body
from .blueprint import bp
from .common import api, find_ticket, limit_arg, me, messages_json, summary

log = logging.getLogger(__name__)

CURSOR_RE = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.+-]{2,40}_\d{1,18}\Z")


def _json(payload: dict, option: int = orjson.OPT_PASSTHROUGH_DATETIME):
    """The list's and the panel's answer, encoded by orjson (SCL-5): jsonify (the json
    module, keys sorted) took 0.3 ms of a 50-row page, orjson 0.02. The same JSON, keys in
    the order written and text as UTF-8 instead of \\u escapes; what orjson does not
    know (a lazy translation; a datetime, unless `option` says how) goes through Flask's
    own conversion."""
    body = orjson.dumps(payload, default=current_app.json.default, option=option)
    return current_app.response_class(body, mimetype="application/json")


@bp.get("/api/tickets")
@read_only
@api
def ticket_list():
    cursor = request.args.get("cursor")
    if cursor:
        moment = cursor.partition("_")[0]
        try:
            valid = CURSOR_RE.match(cursor) is not None and bool(datetime.fromisoformat(moment))
        except ValueError:
            valid = False
        if not valid:
            raise ApiError(400, _("Parâmetro cursor inválido."))
    filters = inbox.Filters.from_args(clean_args())
    rows, next_cursor = inbox.list_summaries(me(), filters)
    return _json({"tickets": rows, "next_cursor": next_cursor}, serialize.ISO_MOMENTS)


def _detail(user, panel: inbox.Panel) -> dict:
    ticket = panel.ticket
    rows, more = inbox.conversation(ticket, limit=limit_arg())
    connection = ticket.connection
    labels = serialize.Labels()
    return {
        "ticket": {**summary(ticket, user, labels),
                   "contact": serialize.contact(user, ticket, panel.other_tickets),
                   "queued_at": serialize.iso(ticket.queued_at),
                   "accepted_at": serialize.iso(ticket.accepted_at),
                   "reason": ({"id": ticket.reason.id, "name": ticket.reason.name}
                              if ticket.reason_id and ticket.reason else None),
                   "close_note": ticket.close_note,
                   "classification": serialize.classification(ticket),  # POR-1
                   "survey": serialize.survey(ticket, panel.survey)},  # AUT-3, RAT-1
        "messages": messages_json(rows, connection, user, labels),
        "has_more": more,
        "reasons": [{"id": r.id, "name": r.name} for r in tickets.reasons_for(ticket)],
        "reason_required": bool(ticket.department and ticket.department.reason_required_to_close),
        "observation_required": bool(ticket.department
                                     and ticket.department.observation_required_on_transfer),
        "can_act": tickets.may_act(user, ticket),
        "reply_block": replies.reply_refusal(user, ticket),
        "window": window.state(ticket).as_dict(),
        "events": serialize.events(ticket),
    }


@bp.get("/api/tickets/<ticket_id>")
@read_only
@api
def ticket_detail(ticket_id):
    # A GET never changes state (SEC-8): the page opening the ticket marks it read with
    # POST .../read. The ticket is found through the same visibility rule as find_ticket,
    # with what the panel shows about it read in the same SELECT.
    user = me()
    panel = inbox.open_ticket(user, ticket_id)
    if panel is None:
        raise ApiError(404, _("Atendimento não encontrado."))
    return _json(_detail(user, panel))


@bp.post("/api/tickets/<ticket_id>/read")
@api
def ticket_read(ticket_id):
    """Opening a conversation reads it, for its agent (or anyone while it has none): a
    supervisor looking at another agent's ticket leaves that agent's badge alone."""
    user = current_user
    ticket = find_ticket(ticket_id)
    if ticket.agent_id in (None, user.id) and ticket.unread:
        tickets.mark_read(ticket)
        after_commit.commit()
    return jsonify({"ticket": summary(ticket, user)})


# --- actions -------------------------------------------------------------------------------


def _ticket_action(ticket_id, action):
    user = current_user
    ticket = find_ticket(ticket_id)
    data = read_body()
    action(ticket, user, data)
    after_commit.commit()
    ticket = visibility.find_ticket(user, ticket.id)
    if ticket is None:  # transferred somewhere this user no longer sees
        return jsonify({"ticket": None, "visible": False})
    return jsonify({"ticket": summary(ticket, user), "visible": True})


@bp.post("/api/tickets/<ticket_id>/accept")
@api
def ticket_accept(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.accept(t, u))


@bp.post("/api/tickets/<ticket_id>/transfer")
@api
def ticket_transfer(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.transfer(
        t, u, **TransferInput.from_body(d).fields()))


@bp.post("/api/tickets/<ticket_id>/close")
@api
def ticket_close(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.close(
        t, u, **CloseInput.from_body(d).fields()))


@bp.post("/api/tickets/<ticket_id>/reopen")
@api
def ticket_reopen(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.reopen(t, u))


@bp.post("/api/tickets/<ticket_id>/favourite")
@api
def ticket_favourite(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.set_favourite(
        t, u, FavouriteInput.from_body(d).value))


@bp.post("/api/tickets/<ticket_id>/tags")
@api
def ticket_tags(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.set_tags(
        t, u, TagsInput.from_body(d).tag_ids))


@bp.post("/api/bulk")
@api
def bulk():
    """BLK-1: close or transfer many tickets, each in its own transaction."""
    user = current_user
    data = BulkInput.from_body(read_body())
    run = tickets.close if data.action == "close" else tickets.transfer
    done, errors = [], []
    for ticket_id in data.ids:
        ticket = visibility.find_ticket(user, ticket_id)
        if ticket is None:
            errors.append({"id": ticket_id, "protocol": None,
                           "error": _("Atendimento não encontrado.")})
            continue
        protocol = ticket.protocol
        try:
            run(ticket, user, **data.fields)
            after_commit.commit()
            done.append(ticket_id)
        except RuleError as exc:
            db.session.rollback()
            errors.append({"id": ticket_id, "protocol": protocol, "error": str(exc)})
        except Exception:  # one broken ticket must not stop the others
            db.session.rollback()
            log.exception("bulk %s failed on ticket %s", data.action, ticket_id)
            errors.append({"id": ticket_id, "protocol": protocol,
                           "error": _("Não foi possível concluir a ação neste atendimento.")})
    return jsonify({"done": done, "errors": errors})
