"""What every inbox route shares: the error answers of the blueprint, the guards, the
lookups through services.visibility and the JSON shapes for the current user.

Every route checks the user first (anonymous: login redirect for pages, 401 JSON for the
API; no inbox.view: 403), every ticket or message is found through services.visibility
(None -> 404, the same answer for another company's, another department's or a missing
one), and malformed input is a 400 with a Portuguese {"error": ...}, never a 500.
"""
from __future__ import annotations

import functools

from flask import abort, current_app, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..models import Ticket
from ..services import attachments, inbox, serialize, visibility
from ..services import templates as template_rules
from ..web import errors
from ..web.api import ApiError, guard, handle_api_errors, int_arg, json_error
from .blueprint import bp

handle_api_errors(bp)

# JSON route of a user who may use the inbox
api = guard(visibility.may_use_inbox, _l("Faça login para continuar."),
            _l("Você não tem permissão para usar o atendimento."))


def _is_api() -> bool:
    return request.path.startswith("/inbox/api/")


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    if _is_api():
        return json_error(errors.CSRF_MESSAGE, 400)
    return errors.error_page(400, str(errors.CSRF_MESSAGE))


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    code = exc.code or 500
    message = str(errors.MESSAGES.get(code) or _("Erro %(code)s.", code=code))
    if code == 413:
        message = _("Arquivo ou formulário grande demais: o máximo é %(size)s.",
                    size=template_rules.human_size(current_app.config.get("MAX_CONTENT_LENGTH")
                                                   or attachments.max_bytes()))
    if _is_api():
        return json_error(message, code)
    return errors.error_page(code, message)


def page(view):
    """An HTML page: anonymous users go to the login, users without the inbox get 403."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not visibility.may_use_inbox(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def find_ticket(ticket_id) -> Ticket:
    ticket = visibility.find_ticket(current_user, ticket_id)
    if ticket is None:
        raise ApiError(404, _("Atendimento não encontrado."))
    return ticket


def find_message(message_id):
    message = visibility.find_message(current_user, message_id)
    if message is None:
        raise ApiError(404, _("Mensagem não encontrada."))
    return message


def limit_arg(default: int = inbox.PAGE) -> int:
    return int_arg("limit", default, inbox.MAX_PAGE, _("Parâmetro limit inválido."))


def me():
    """The request's user itself, not the current_user proxy: a view passes it to the
    services, which read it many times a request (each read through the proxy is a
    context lookup)."""
    return current_user._get_current_object()


def summary(ticket: Ticket, user=None, labels: serialize.Labels | None = None) -> dict:
    return serialize.ticket_summary(ticket, viewer_id=(user or current_user).id, labels=labels)


def message_json(m, connection, user=None, quotes: dict | None = None,
                 labels: serialize.Labels | None = None) -> dict:
    data = serialize.message(m, connection, viewer_id=(user or current_user).id, quotes=quotes,
                             labels=labels)
    if data.get("attachment"):
        data["attachment"]["url"] = url_for("inbox.attachment", message_id=m.id)
    return data


def messages_json(rows, connection, user=None, labels: serialize.Labels | None = None) -> list[dict]:
    """A page of one conversation; its quoted messages are read in one query, its labels
    translated once."""
    quotes = serialize.quoted_messages(rows)
    labels = labels if labels is not None else serialize.Labels()
    return [message_json(m, connection, user, quotes, labels) for m in rows]
