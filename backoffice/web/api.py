"""The JSON API kit shared by the inbox, the pauses (presence) and the website chat (webchat).

One error type, `ApiError(status, message)`, answered as {"error": "<mensagem>"} with its
status (the app-wide handlers of web.errors answer {"error", "status"} for what reaches
them); a guard for JSON routes (401 JSON for anonymous users, 403 JSON without the right,
a RuleError rolled back and answered 400); and typed readers for request input (ids,
lists of ids, flags, text: services.inputs, re-exported here) that refuse malformed values
with a Portuguese 400, never a 500. The request bodies themselves are small dataclasses
next to the filters they belong to (services.inbox.TransferInput, CloseInput, SendInput,
...), built from `read_body()`.
"""
from __future__ import annotations

import functools
from typing import Callable

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..services import RuleError
from ..services.inputs import (  # noqa: F401  (the readers, for the views)
    Fields, flag, ids, list_field, no_nul, opt_id, text,
)


class ApiError(Exception):
    """An answer other than success: `status` and a message shown to the user as is."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def json_error(message, status: int = 400, headers: dict | None = None):
    return jsonify({"error": str(message)}), status, headers or {}


def handle_api_errors(bp) -> None:
    """Answer the blueprint's ApiErrors as JSON; what the request wrote is dropped."""

    @bp.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        db.session.rollback()
        return json_error(exc.message, exc.status, exc.headers)


# --- guard ---------------------------------------------------------------------------------


def refusal(may: Callable, login_message, refused_message):
    """The 401/403 JSON answer for the current user, or None when `may(user)` allows."""
    if not current_user.is_authenticated:
        return json_error(login_message, 401)
    if not may(current_user):
        return json_error(refused_message, 403)
    return None


def guard(may: Callable, login_message, refused_message):
    """Decorator for JSON routes of users allowed by `may(user)`: 401/403 as JSON; a
    RuleError from the rules rolls back and answers 400 with its message."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            refused = refusal(may, login_message, refused_message)
            if refused is not None:
                return refused
            try:
                return view(*args, **kwargs)
            except RuleError as exc:
                db.session.rollback()
                return json_error(str(exc), 400)

        return wrapper

    return decorate


# --- input ---------------------------------------------------------------------------------


def read_body() -> Fields:
    """The body as Fields: a JSON object (an empty body is an empty object) or the form."""
    if request.is_json:
        if not request.get_data(cache=True):
            return Fields({}, True)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, _("Requisição inválida: envie um objeto JSON."))
        return Fields(data, True)
    return Fields(request.form, False)


def clean_args() -> MultiDict:
    """The query string without NUL characters."""
    return MultiDict([(k, no_nul(v)) for k, v in request.args.items(multi=True)])


def int_arg(name: str, default: int, maximum: int, message: str) -> int:
    """A bounded positive integer from the query string (1..maximum), else 400."""
    try:
        return max(1, min(maximum, int(request.args.get(name) or default)))
    except (TypeError, ValueError):
        raise ApiError(400, message)
