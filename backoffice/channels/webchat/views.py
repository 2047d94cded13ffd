"""HTTP side of the widget: /widget.js, the frame page and the visitor's JSON API.

API under /widget/<key>/api/ (JSON in Portuguese; the visitor's token in the header
X-Visitor-Token):
  GET  config                    title, greeting, colour, departments (ordered)
  POST start                     name?, email?, department_id, text (JSON, or multipart
                                 with a file) -> {token, ticket, messages}
  GET  conversation              {ticket, messages} of the current or last ticket
  POST messages                  text and/or file into the open ticket (409 when finished)
  GET  attachments/<message_id>  a file of the visitor's own conversation
  GET  articles?q=               ART-1: public help articles for what is being typed
  POST articles/feedback         ART-1: "Isso resolveu?" {article, solved} (where=widget)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from flask import current_app, g, render_template, request, send_from_directory, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ...extensions import db
from ...services import RuleError, attachments, ratelimit
from ...lib import after_commit
from ...lib.addresses import client_address
from ...help import suggestions as help_suggestions
from ...models import Company
from ...models.articles import WHERE_WIDGET
from ...services import articles
from ...services.messages import MAX_TEXT
from ...services.templates import ALLOWED, human_size
from ...web import errors
from ...web.api import ApiError, handle_api_errors, json_error
from ...web.downloads import private_file
from . import visitor as rules
from ..base import InboundError
from .adapter import (
    TOKEN_HEADER, TOKEN_RE, WebchatAdapter, client_message_id, read_client_id,
)
from .blueprint import bp

STATIC = Path(__file__).resolve().parents[2] / "static" / "webchat"
# A copy of the token for browsers that refuse storage to third-party frames (Chromium
# with third-party cookies blocked, incognito): HttpOnly, only under /widget/<key>/, and
# Partitioned (CHIPS), so it exists only under the site that embeds the chat. It is read
# by the frame page alone, to hand the token back to the frame; the API authenticates by
# the header only, so the cookie gives a cross-site request nothing (no CSRF surface).
RESUME_COOKIE = "atende_visitor"
RESUME_DAYS = 365
DEFAULT_RATE_LIMIT = "10/10,60/600"          # per visitor: messages
# new conversations (see _limit_start): per browser, or per IP address and chat for a
# request that did not come through the chat frame; and from all the browsers behind
# one IP address together
DEFAULT_START_RATE_LIMIT = "10/60,100/3600"
DEFAULT_ADDRESS_START_RATE_LIMIT = "120/60,2000/3600"
BROWSER_HEADER = "X-Visitor-Browser"

# The frame is framed by any site on purpose (no frame-ancestors). Everything else is
# this origin only: a message text that slipped into the DOM as HTML still could not
# run a script (MSG-5 is enforced by textContent; this is the second lock).
FRAME_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
             "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
             "base-uri 'none'; form-action 'none'")


handle_api_errors(bp)


def _is_api() -> bool:
    return "/api/" in request.path


@bp.errorhandler(RuleError)
def _rule_error(exc: RuleError):
    db.session.rollback()
    status = 409 if isinstance(exc, rules.TicketClosed) else 400
    return json_error(exc, status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    """Portuguese JSON for the API (a too large upload is a 413 the frame can show)."""
    db.session.rollback()
    if exc.code == 413:
        message = _("Arquivo grande demais: máximo %(size)s", size=human_size(attachments.max_bytes()))
    else:
        message = str(errors.MESSAGES.get(exc.code) or _("Erro %(code)s.", code=exc.code))
    if _is_api():
        return json_error(message, exc.code)
    return errors.error_page(exc.code, message)


# --- lookups --------------------------------------------------------------------------------


def _connection(key: str):
    connection = rules.find_connection(key)
    if connection is None:
        raise ApiError(404, _("Chat não encontrado."))
    # The tenant of everything written here is the connection's company, also when the
    # browser happens to carry an agent's session of another company (same host).
    g.tenant_id = connection.company_id
    return connection


def _visitor(connection):
    address = rules.find_visitor(connection, request.headers.get(TOKEN_HEADER))
    if address is None:
        raise ApiError(401, _("Conversa não encontrada. Inicie uma nova conversa."))
    return address


def _connection_and_visitor(key: str, external_id: str | None = None):
    """_connection and _visitor, in one statement when both are found (every message);
    given the message's external id, that statement also tells whether it is stored."""
    found = rules.find_visitor_at(key, request.headers.get(TOKEN_HEADER), external_id)
    if found is None:  # ask again, to answer 404 (no such chat) or 401 (no such visitor)
        connection = _connection(key)
        return connection, _visitor(connection)
    connection, address = found
    g.tenant_id = connection.company_id  # as _connection does
    return connection, address


def _limit(scope: str, ident: str, config_key: str, default: str) -> None:
    limits = ratelimit.parse(current_app.config.get(config_key) or default)
    wait = ratelimit.hit(scope, ident, limits)
    if wait:
        raise ApiError(429, _("Muitas mensagens em pouco tempo. Aguarde alguns segundos e tente "
                              "de novo."), {"Retry-After": str(wait)})


def _limit_visitor(address) -> None:
    # keyed by a digest of the token: row ids restart with a fresh database, tokens do not
    ident = hashlib.sha256(address.address.encode()).hexdigest()[:32]
    _limit("webchat-msg", ident, "WEBCHAT_RATE_LIMIT", DEFAULT_RATE_LIMIT)


def _limit_start(connection) -> None:
    """A start without a visitor token (a new visitor). The frame's key (X-Visitor-Browser,
    visitor.browser_key) tells browsers apart behind one address: each browser has the
    start limit (WEBCHAT_START_RATE_LIMIT) of its own, and all of them together behind
    one IP address the far larger WEBCHAT_ADDRESS_START_RATE_LIMIT, so the fifty people
    of an office behind one address each open a chat. A request without a valid key (a
    script that never loads the chat) keeps the start limit per IP address, which is
    what every browser would otherwise share."""
    address = f"{connection.id}:{client_address()}"
    browser = rules.browser_of(connection, request.headers.get(BROWSER_HEADER))
    if browser is None:
        _limit("webchat-start", address, "WEBCHAT_START_RATE_LIMIT", DEFAULT_START_RATE_LIMIT)
        return
    _limit("webchat-start-browser", f"{connection.id}:{browser}", "WEBCHAT_START_RATE_LIMIT",
           DEFAULT_START_RATE_LIMIT)
    _limit("webchat-start-address", address, "WEBCHAT_ADDRESS_START_RATE_LIMIT",
           DEFAULT_ADDRESS_START_RATE_LIMIT)


def _payload() -> dict:
    """The fields of a JSON body or of a form (multipart, when a file goes with them)."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, _("Requisição inválida."))
        return data
    return request.form.to_dict()


def _upload():
    storage = request.files.get("file")
    if storage is None or not storage.filename:
        return None
    return attachments.read(storage)  # RuleError: size or type


def _conversation(address, ticket=None) -> dict:
    ticket = ticket or rules.current_ticket(address)
    return {"token": address.address, "ticket": rules.ticket_info(ticket),
            "messages": rules.history(ticket)}


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# --- pages ---------------------------------------------------------------------------------


@bp.get("/widget.js")
def script():
    """The loader a site embeds; no key inside, so one short-cached file serves all."""
    response = send_from_directory(STATIC, "widget.js", mimetype="text/javascript",
                                   max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/widget/<key>/")
def frame(key: str):
    connection = rules.find_connection(key)
    if connection is None:
        response = current_app.make_response(
            (render_template("webchat/unavailable.html"), 404))
    else:
        config = rules.config(connection)
        locale = str(get_locale() or "pt_BR")
        data = {
            **config,
            "key": connection.public_key,
            "api": request.path + "api/",
            "locale": "en" if locale == "en" else "pt-BR",
            "max_bytes": attachments.max_bytes(),
            "max_size": human_size(attachments.max_bytes()),
            "accept": ",".join(sorted(ALLOWED)),
            "max_text": MAX_TEXT,
            "strings": _strings(),
        }
        resumed = rules.find_visitor(connection, request.cookies.get(RESUME_COOKIE))
        data["resume_token"] = resumed.address if resumed is not None else None
        data["browser"] = rules.browser_key(connection)  # sent back with a start
        response = current_app.make_response(render_template("webchat/frame.html",
                                                             config=config, data=data))
    response.headers["Content-Security-Policy"] = FRAME_CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _no_store(response)


def _strings() -> dict:
    """The frame's texts, translated here (frame.js has no catalogue of its own)."""
    return {
        "start": _("Iniciar conversa"),
        "send": _("Enviar"),
        "choose_department": _("Escolha o departamento"),
        "empty": _("Escreva uma mensagem."),
        "too_big": _("Arquivo grande demais: máximo %(size)s", size=human_size(attachments.max_bytes())),
        "network": _("Sem conexão com o servidor. Verifique sua internet e tente de novo."),
        "generic": _("Não foi possível enviar. Tente de novo."),
        "reconnecting": _("Reconectando…"),
        "busy_retrying": _("O servidor está ocupado. Tentando de novo…"),
        "finished": _("Seu atendimento foi finalizado. Escolha um departamento para iniciar "
                      "um novo."),
        "protocol": _("Protocolo"),
        "you": _("Você"),
        "attachment": _("Anexo"),
        "remove_file": _("Remover anexo"),
        "download_failed": _("Não foi possível baixar o arquivo."),
    }


# --- API -----------------------------------------------------------------------------------


@bp.get("/widget/<key>/api/config")
def api_config(key: str):
    return _no_store(current_app.make_response(rules.config(_connection(key))))


@bp.post("/widget/<key>/api/start")
def api_start(key: str):
    connection = _connection(key)
    address = rules.find_visitor(connection, request.headers.get(TOKEN_HEADER))
    if address is None:
        _limit_start(connection)
    else:
        _limit_visitor(address)
    data = _payload()
    upload = _upload()
    address, ticket, _message = rules.start(
        connection, address, text=data.get("text"), upload=upload,
        department_id=data.get("department_id"), name=data.get("name"),
        email=data.get("email"), client_id=read_client_id(data))
    # read before the commit, which expires every row (after it, the same answer would
    # read the visitor, the ticket, its messages and the connection again)
    conversation, path = _conversation(address, ticket), f"/widget/{connection.public_key}/"
    after_commit.commit()
    response = current_app.make_response((conversation, 201))
    response.set_cookie(RESUME_COOKIE, conversation["token"], max_age=RESUME_DAYS * 86400,
                        path=path, secure=True, httponly=True, samesite="None",
                        partitioned=True)
    return _no_store(response)


@bp.get("/widget/<key>/api/conversation")
def api_conversation(key: str):
    _connection_, address = _connection_and_visitor(key)
    return _no_store(current_app.make_response(_conversation(address)))


# The largest JSON message read ahead of the visitor's lookup (_declared_external_id): a
# text of MAX_TEXT characters, each escaped as \uXXXX, with the other fields. A longer
# body (up to MAX_CONTENT_LENGTH) waits for the lookup and the rate limit, as before.
READ_AHEAD_BYTES = 6 * MAX_TEXT + 8 * 1024


def _declared_external_id() -> str | None:
    """The external id a JSON message declares (its client id), read ahead of the visitor's
    lookup, which then answers whether it is stored (SCL-3). None when the body or the id
    is not what parse_inbound takes (it answers for that, after the lookup and the rate
    limit, as before), without a well-formed token (no visitor is found), for a form (a
    file) and for a body over READ_AHEAD_BYTES: an unknown or limited visitor's request
    must not cost the parse of a large body before its 401 or 429."""
    token = request.headers.get(TOKEN_HEADER)
    if (not request.is_json or not isinstance(token, str) or not TOKEN_RE.fullmatch(token)
            or request.content_length is None or request.content_length > READ_AHEAD_BYTES):
        return None
    try:
        return client_message_id(token, read_client_id(request.get_json(silent=True)))
    except InboundError:
        return None


@bp.post("/widget/<key>/api/messages")
def api_messages(key: str):
    connection, address = _connection_and_visitor(key, _declared_external_id())
    _limit_visitor(address)
    inbound, = WebchatAdapter(connection).parse_inbound(request)
    message = rules.say(address, inbound)
    # shown before the commit, the request's last: nothing reads a row after it, so it
    # leaves them unexpired (a commit that expired them would make the same dict cost
    # the message, its tags and the company read again)
    shown = rules.shown(message)
    after_commit.commit(last=True)
    return _no_store(current_app.make_response(({"message": shown}, 201)))


@bp.get("/widget/<key>/api/attachments/<int:message_id>")
def api_attachment(key: str, message_id: int):
    connection = _connection(key)
    address = _visitor(connection)
    message = rules.own_message(address, message_id)
    found = attachments.file_of(message) if message is not None else None
    if found is None:
        raise ApiError(404, _("Arquivo não encontrado."))
    return private_file(found, message.file_name, message.file_mime)


# --- help articles (ART-1): suggested as the visitor types, before a conversation starts --


@bp.get("/widget/<key>/api/articles")
def api_articles(key: str):
    connection = _connection(key)
    help_suggestions.limit("webchat-help", connection.company_id)
    domain = db.session.get(Company, connection.company_id).domain
    found = help_suggestions.suggestions(
        connection.company_id, articles.PUBLIC,
        lambda a: url_for("help.article", domain=domain, article_id=a.id))
    return _no_store(current_app.make_response(found))


@bp.post("/widget/<key>/api/articles/feedback")
def api_article_feedback(key: str):
    connection = _connection(key)
    help_suggestions.limit("webchat-help", connection.company_id)
    article_id, solved = help_suggestions.read_feedback()
    article = articles.readable(connection.company_id, article_id, articles.PUBLIC)
    if article is None:
        raise ApiError(404, _("Artigo não encontrado."))
    articles.record(article, solved, WHERE_WIDGET)
    after_commit.commit()
    return _no_store(current_app.make_response(({"ok": True}, 201)))
