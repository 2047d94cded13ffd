"""The pieces every /api/v1 route shares: the flask-smorest `Api` of the app (OpenAPI
built from the code), blueprints that authenticate, check the token's right and commit,
and the `requires` decorator that names the right of each route.

A request goes: Bearer token (401) -> plan includes the API (403) -> rate limit per token
(429 + Retry-After) -> body size (413) -> the route's right in the token's API group
(403) -> the view. The view never commits: `_finish` commits when the answer is a
success and rolls back otherwise, so a refused request leaves nothing half created, and
an Idempotency-Key record (api/idempotency.py) lands in the same transaction as what the
request created.
"""
from __future__ import annotations

import logging
from flask import current_app, g, request
from flask_babel import gettext as _
import http

from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from .. import permissions
from ..extensions import csrf, db
from ..lib import after_commit, dbfailures
from ..lib.errors import RuleError
from ..lib.ids import as_id
from ..models import Company
from ..services import api_tokens, modules, ratelimit
from ..services import audit as audit_rules
from ..web.errors import busy_response
from .problems import MEDIA_TYPE, ApiError, from_http_exception, problem

log = logging.getLogger(__name__)

RIGHT_ATTR = "api_right"
LARGE_BODY_ATTR = "api_large_body"
DEFAULT_RATE_LIMIT = "600/60"        # requests per token: 600 a minute
DEFAULT_MAX_JSON_BYTES = 1024 * 1024  # bodies of every route but media uploads


def requires(right: str, *, large_body: bool = False):
    """Mark a view with the API right (permissions.API_ACTIONS) a token needs to call it.
    Checked once for every route by `_guard`; the generic tests iterate the registered
    routes and fail on one without a right."""
    if right not in permissions.API_ACTIONS:
        raise ValueError(f"unknown API right {right!r}: add it to permissions.API_ACTIONS")

    def mark(fn):
        setattr(fn, RIGHT_ATTR, right)
        setattr(fn, LARGE_BODY_ATTR, large_body)
        label = permissions.API_ACTIONS[right]
        fn.__doc__ = (fn.__doc__ or "").rstrip() + f"\n\nPermissão necessária: `{right}` ({label})."
        return fn

    return mark


def right_of(view) -> str | None:
    return getattr(view, RIGHT_ATTR, None)


def _guard():
    try:
        token = api_tokens.authenticate(request.headers.get("Authorization"),
                                        request.remote_addr or "")
    except api_tokens.TokenRefused as exc:
        raise ApiError(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="atende"'})
    company = db.session.get(Company, token.company_id)
    if company is None or not company.active:
        raise ApiError(401, str(api_tokens.INVALID))
    g.api_token = token
    g.tenant_id = token.company_id  # the tenancy flush guard and scoped queries
    if not modules.area_enabled(token.company_id, "api_tokens"):
        raise ApiError(403, _("O plano da empresa não inclui a API."))
    limits = ratelimit.parse(current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT)
    wait = ratelimit.hit("api", str(token.id), limits)
    if wait:
        raise ApiError(429, None, headers={"Retry-After": str(wait)})
    view = current_app.view_functions.get(request.endpoint)
    limit = (current_app.config.get("MAX_CONTENT_LENGTH") if getattr(view, LARGE_BODY_ATTR, False)
             else current_app.config.get("API_MAX_JSON_BYTES", DEFAULT_MAX_JSON_BYTES))
    if limit and (request.content_length or 0) > limit:
        raise ApiError(413)
    right = right_of(view)
    if right is None or right not in api_tokens.rights(token):
        raise ApiError(403)
    # TOK-1's "last used" is the one write a GET makes: bookkeeping of the token (at most
    # once a minute), never a change to the company's data
    if api_tokens.touch(token, request.remote_addr or ""):
        db.session.commit()


def _finish(response):
    if response.status_code < 400:
        after_commit.commit()  # then what the change queued: socket pushes, jobs (webhooks)
    else:
        db.session.rollback()
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _api_error(exc: ApiError):
    db.session.rollback()
    return problem(exc.status, exc.detail, exc.errors, exc.headers)


def _rule_error(exc: RuleError):
    db.session.rollback()
    return problem(422, str(exc))


def _http_error(exc: HTTPException):
    db.session.rollback()
    return from_http_exception(exc)


def _bad_value(exc):
    db.session.rollback()
    log.warning("bad input reached the database on %s: %s", request.path, type(exc).__name__)
    return problem(400)


def _busy(exc):
    # every database connection of this process busy: web.errors.busy_response says why
    # nothing more is asked of the database here
    log.warning("no free database connection on %s: %s", request.path, exc)
    return busy_response()


def _unexpected(exc: Exception):
    db.session.rollback()
    kind = dbfailures.retryable(exc)
    if kind:
        # the database could not serve it now (a restart, a failover): this handler takes
        # every exception of the API's routes, before the app's own for these errors
        log.warning("database %s on %s", kind, request.path)
        return busy_response()
    log.exception("unhandled error on %s", request.path)
    return problem(500)


def blueprint(name: str, url_prefix: str, description: str) -> Blueprint:
    """A blueprint of /api/v1 routes with the guard, the commit and the problem answers.
    `description` (Portuguese) is its section in the documentation."""
    blp = Blueprint(name, __name__, url_prefix=f"/api/v1{url_prefix}", description=description)
    csrf.exempt(blp)  # a bearer token, not a cookie: a cross-site form cannot carry it
    blp.before_request(_guard)
    blp.after_request(_finish)
    blp.register_error_handler(ApiError, _api_error)
    blp.register_error_handler(RuleError, _rule_error)
    blp.register_error_handler(HTTPException, _http_error)
    blp.register_error_handler(DataError, _bad_value)
    blp.register_error_handler(OverflowError, _bad_value)
    blp.register_error_handler(PoolTimeout, _busy)
    blp.register_error_handler(Exception, _unexpected)
    return blp


def not_found():
    """The one answer for a missing id, another company's id and a value that is no id."""
    return ApiError(404)


class _TokenActor:
    """Who the audit log says changed a row through the API: the token, by name (it is not
    a user, so no user id)."""

    id = None

    def __init__(self, token):
        self.name = f"API: {token.name}"[:120]


def audit(action: str, row, changes: dict | None = None) -> None:
    """PLT-7: a configuration change made through the API goes to the audit log like the
    screens' own. "update": call it before anything flushes (it reads the pending
    changes) or give `changes`; "delete": before the delete; "create": after adding."""
    if changes is None and action == "delete":
        changes = audit_rules.snapshot(row)
    elif changes is None and action == "create":
        db.session.flush()  # the new row's id
        changes = audit_rules.pending_changes(row, True)
    elif changes is None:
        changes = audit_rules.pending_changes(row, False)
    audit_rules.record(_TokenActor(g.api_token), action, row, changes, company_id())


def company_id() -> int:
    """The company of the request's token: the only tenant an API request ever sees."""
    return g.api_token.company_id


def scoped(model, *conditions):
    """select() of the token company's rows of `model` (PLT-1)."""
    return select(model).where(model.company_id == company_id(), *conditions)


def fetch(model, row_id, *conditions):
    """The company's row `row_id` of `model`, or a 404 problem: another company's id, a
    missing one and a value out of range (lib.ids.as_id) answer alike."""
    row_id = as_id(row_id)
    row = db.session.scalar(scoped(model, model.id == row_id, *conditions)) if row_id else None
    if row is None:
        raise not_found()
    return row


class ProblemSchema(Schema):
    """RFC 9457 problem document."""

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Dados inválidos"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(required=True, metadata={
        "example": "Dados inválidos: corpo.phone: Telefone inválido."})
    errors = fields.Dict(metadata={"description": "Por campo, as mensagens de erro.",
                                   "example": {"corpo": {"phone": ["Telefone inválido."]}}})


class AtendeApi(Api):
    """flask-smorest's Api with two changes: its app-wide error handler is not installed
    (the panel keeps its HTML error pages; the API blueprints answer problem documents),
    and the OpenAPI document is built on first request, not at start: the test suite
    builds an app per test and would pay for the document every time."""

    def __init__(self, *args, **kwargs):
        self._pending: list = []
        self._documented = False
        super().__init__(*args, **kwargs)

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        pass  # in document(): resolving ~60 responses costs 10 ms, paid by every app

    def _register_problem_responses(self):
        # flask-smorest documents errors as application/json; ours are problem documents
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, MEDIA_TYPE if status >= 400
                             else self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Erro (documento problem+json)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def register_blueprint(self, blp, *, parameters=None, **options):
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._pending.append((blp, name, parameters))

    def document(self) -> dict:
        if not self._documented:
            self._register_problem_responses()
            for blp, name, parameters in self._pending:
                blp.register_views_in_doc(self, self._app, self.spec, name=name,
                                          parameters=parameters)
                self.spec.tag({"name": name, "description": blp.description})
            self._documented = True
        return self.spec.to_dict()

