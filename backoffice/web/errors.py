"""Error pages in Portuguese: a malformed request is a 400, never a 500 with a trace; a
database that cannot take the request now (SQLite's one writer busy, every connection
of this process's pool busy for the pool's whole wait: an overload, the connection lost
under the request or no connection to be had: a database restart or failover;
lib/dbfailures) is a 503 with Retry-After, which the widget and the pages send again
(the widget with the same client id), never a 500.

SEC-7: ids, pages and text are checked where they are read (services.as_id, the admin
base view, the request class); a value that slips past them and is refused by the
database (DataError on PostgreSQL, OverflowError from SQLite for integers beyond 64
bits) is still the client's bad input: a 400, logged as BAD_INPUT_LOG so tests catch it.
"""
from __future__ import annotations

import logging

from flask import (current_app, flash, make_response, redirect, render_template, request,
                   url_for)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from ..extensions import db
from ..lib import dbfailures
from ..services import data_jobs

log = logging.getLogger(__name__)

PROBLEM_PREFIX = "/api/v1/"
BAD_INPUT_LOG = "bad input reached the database on %s: %s"

MESSAGES = {
    400: _l("Requisição inválida."),
    403: _l("Você não tem permissão para acessar esta página."),
    404: _l("Página não encontrada."),
    405: _l("Método não permitido."),
    413: _l("Arquivo ou formulário grande demais."),
    429: _l("Muitas requisições. Aguarde um pouco e tente de novo."),
    500: _l("Erro interno. A equipe foi avisada; tente novamente em instantes."),
}
CSRF_MESSAGE = _l("O formulário expirou ou é inválido. Recarregue a página e tente de novo.")
BUSY_MESSAGE = _l("O servidor está ocupado. Tente de novo em instantes.")


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or "/api/" in request.path


def error_page(code: int, message: str):
    if request.path.startswith(PROBLEM_PREFIX):  # the public API answers problem documents
        from ..api.problems import problem

        return problem(code)
    if _wants_json():
        return {"error": message, "status": code}, code
    return render_template("errors/error.html", code=code, message=message), code


def busy_response():
    """503 + Retry-After, built without the database: when the pool has no connection to
    give, asking it again (the user's language, the user a template's context loads)
    would wait as long once more and end in a 500. So the message is in the default
    language and the page is rendered without the context processors."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "pt_BR"):
        message = str(BUSY_MESSAGE)
        if request.path.startswith(PROBLEM_PREFIX):
            from ..api.problems import problem

            response = problem(503)
        elif _wants_json():
            response = make_response({"error": message, "status": 503}, 503)
        else:
            page = current_app.jinja_env.get_template("errors/error.html")
            response = make_response(page.render(code=503, message=message,
                                                 get_locale=get_locale), 503)
    response.headers["Retry-After"] = "1"
    return response


def init_errors(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_page(400, str(CSRF_MESSAGE))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if exc.code == 413 and request.endpoint == "data.upload":
            # the import screen says what the limit is, on the screen itself
            flash(data_jobs.too_big_message(), "error")
            return redirect(url_for("data.index"))
        return error_page(exc.code or 500, str(MESSAGES.get(exc.code) or _("Erro %(code)s.", code=exc.code)))

    @app.errorhandler(DataError)
    @app.errorhandler(OverflowError)
    def bad_value(exc):
        db.session.rollback()
        log.warning(BAD_INPUT_LOG, request.path, type(exc).__name__)
        return error_page(400, str(MESSAGES[400]))

    @app.errorhandler(DBAPIError)
    def database_not_now(exc):
        # lib/dbfailures: SQLite's one writer busy past its timeout; the connection lost
        # under the request (a restart, a failover: SQLAlchemy has already dropped the
        # pool's other connections, so the next request gets a new one); or no connection
        # to be had while the database restarts. Nothing was saved: a 503 asks the client
        # to send again, which the widget does by itself with the same client id.
        db.session.rollback()
        kind = dbfailures.retryable(exc)
        if kind is None:
            return unexpected(exc)
        log.warning("database %s on %s: %s", kind, request.path,
                    type(getattr(exc, "orig", exc)).__name__)
        return busy_response()

    @app.errorhandler(PoolTimeout)
    def pool_exhausted(exc):
        # No rollback here: the session got no connection, and the request's teardown
        # closes it either way.
        log.warning("no free database connection on %s: %s", request.path, exc)
        return busy_response()

    @app.errorhandler(Exception)
    def unexpected(exc):
        log.exception("unhandled error on %s", request.path)
        return error_page(500, str(MESSAGES[500]))
