"""Pauses from the navbar (PAU-3): JSON endpoints for "Iniciar Pausa" / "Encerrar Pausa",
and the agent's Disponível / Ausente switch (UX-3).

Thin: the rules are in services.presence; guard and error answers are web.api's. Every
answer is JSON; a refused or malformed request is a 400 with {"error": "<mensagem>"},
never a 500. POSTs carry the CSRF token
(form field csrf_token or the X-CSRFToken header).
"""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from .services import RuleError, presence
from .services.inputs import flag
from .lib import after_commit
from .services.pauses import available_pauses
from .web.api import guard, handle_api_errors, json_error, read_body
from .web.errors import CSRF_MESSAGE

bp = Blueprint("presence", __name__, url_prefix="/presence")
handle_api_errors(bp)

# every route of the blueprint is an agent's JSON route (a RuleError answers 400)
agent_api = guard(presence.is_agent, _l("Faça login para acessar esta página."),
                  _l("Você não tem permissão para acessar esta página."))


@bp.errorhandler(CSRFError)
def _csrf(exc):
    return json_error(CSRF_MESSAGE, 400)


def pauses_payload(user) -> dict:
    """The pauses the user may start now, their status and their availability switch
    (also used by the navbar)."""
    status = presence.current_status(user)
    offered = [] if status["status"] == presence.PAUSED else available_pauses(user)
    return {"pauses": [{"id": p.id, "name": p.name} for p in offered], "status": status,
            "available": bool(user.available)}


def _pause_id():
    data = request.get_json(silent=True) if request.is_json else None
    if isinstance(data, dict):
        return data.get("pause_id")
    return request.form.get("pause_id")


@bp.get("/pauses")
@agent_api
def pauses():
    return jsonify(pauses_payload(current_user))


@bp.post("/pause/start")
@agent_api
def pause_start():
    status = presence.start_pause(current_user, _pause_id())
    after_commit.commit()
    return jsonify({"status": status})


@bp.post("/pause/end")
@agent_api
def pause_end():
    status = presence.end_pause(current_user)
    after_commit.commit()
    return jsonify({"status": status})


@bp.post("/availability")
@agent_api
def availability():
    """Body {"available": true|false} (or the form field): Disponível or Ausente."""
    body = read_body()
    if "available" not in body:
        raise RuleError(_l("Informe a disponibilidade (available)."))
    status = presence.set_available(current_user, flag(body.get("available")))
    after_commit.commit()
    return jsonify({"status": status, "available": bool(current_user.available)})


def navbar_presence() -> dict | None:
    """For the admin navbar: the agent's status and the pauses offered now, or None for
    users who do not work in the inbox. Computed once per request (the navbar and the
    notice under it both ask)."""
    if "navbar_presence" not in g:
        agent = current_user.is_authenticated and presence.is_agent(current_user)
        g.navbar_presence = pauses_payload(current_user) if agent else None
    return g.navbar_presence


@bp.app_context_processor
def _inject():
    return {"navbar_presence": navbar_presence}
