"""The inbox API on messages: a ticket's conversation and search (MSG-3), replying (MSG-1)
with text, a file, a quick reply or an approved WhatsApp template (CHN-4), sending a
failed message again and tagging one message."""
from __future__ import annotations

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from ..services import (
    attachments, inbox, provider_templates, replies, sending, tickets, visibility,
)
from ..lib import after_commit
from ..lib.readonly import read_only
from ..services.inbox import SendInput, TagsInput
from ..web.api import ApiError, no_nul, opt_id, read_body
from .blueprint import bp
from .common import api, find_message, find_ticket, limit_arg, message_json, messages_json


@bp.get("/api/tickets/<ticket_id>/messages")
@read_only
@api
def ticket_messages(ticket_id):
    user = current_user
    ticket = find_ticket(ticket_id)
    before = opt_id(request.args.get("before"), _("Parâmetro before inválido."))
    rows, more = inbox.conversation(ticket, before=before, limit=limit_arg())
    connection = ticket.connection
    return jsonify({"messages": messages_json(rows, connection, user),
                    "has_more": more})


@bp.get("/api/tickets/<ticket_id>/search")
@api
def ticket_search(ticket_id):
    user = current_user
    ticket = find_ticket(ticket_id)
    term = no_nul(request.args.get("q") or "").strip()
    rows = inbox.search_conversation(ticket, term)
    connection = ticket.connection
    return jsonify({"q": term[:100], "messages": messages_json(rows, connection, user)})


@bp.post("/api/tickets/<ticket_id>/messages")
@api
def send_message(ticket_id):
    """MSG-1: text and/or a file (or a quick reply's file), with optional tags."""
    user = current_user
    ticket = find_ticket(ticket_id)
    body = read_body()
    replies.check_reply(user, ticket)
    data = SendInput.from_body(body)
    text, upload, extra, template = data.text, None, None, False
    if data.provider_template_id is not None:
        # CHN-4: an approved WhatsApp template, the one message allowed after 24 hours
        found = replies.find_provider_template(ticket, data.provider_template_id)
        if found is None:
            raise ApiError(404, _("Modelo aprovado não encontrado."))
        text, extra = provider_templates.render(found, data.variables)
        template = True
    else:
        storage = request.files.get("file")
        if storage is not None and storage.filename:
            upload = attachments.read(storage)
        if data.template_id is not None:
            found = replies.find_template(user, data.template_id, ticket)
            if found is None:
                raise ApiError(404, _("Resposta rápida não encontrada."))
            text, upload, template = replies.template_reply(user, ticket, found, text, upload)
    message = sending.queue(ticket, user, text, upload=upload, tag_ids=data.tag_ids or None,
                            extra=extra, template=template)
    connection = ticket.connection
    message_id = message.id
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, connection, user)}), 201


@bp.get("/api/tickets/<ticket_id>/provider-templates")
@api
def ticket_provider_templates(ticket_id):
    """CHN-4: the approved WhatsApp templates the ticket's connection may send."""
    ticket = find_ticket(ticket_id)
    return jsonify({"templates": replies.provider_template_list(ticket)})


@bp.post("/api/messages/<message_id>/retry")
@api
def message_retry(message_id):
    user = current_user
    message = find_message(message_id)
    replies.check_retry(user, message)
    sending.retry(message, user)
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, message.ticket.connection, user)})


@bp.post("/api/messages/<message_id>/tags")
@api
def message_tags(message_id):
    """MSG-3: tag one message."""
    user = current_user
    message = find_message(message_id)
    data = TagsInput.from_body(read_body())
    tickets.set_message_tags(message, user, data.tag_ids)
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, message.ticket.connection, user)})
