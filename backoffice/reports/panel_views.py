"""The TV panel's pages (PNL-1): GET /tv/<key> and GET /tv/<key>/data.json, no login.

The key in the address is the only credential (reports/panel.py). The page is a shell:
its script fetches data.json, opens the "/panel" socket (realtime/panel.py) and fetches
again on each "panel.changed". data.json is the live snapshot (reports/live.py) of the
key's departments, cut down to what a wall may show: counts, waits and the agents'
names and statuses; never a customer's name, a message or a protocol number.

An unknown or revoked key gets one answer, a 404 with the same text, on the page and on
the JSON alike. Every answer is no-store (a revoked panel must not come back from a
cache) and sends no referrer (the key is in the address). Framing stays refused, as for
every page of the back office (lib/headers.py).
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from ..extensions import db
from ..i18n import SUPPORTED
from ..models import Company
from ..realtime import panel as sockets
from . import live
from . import panel as keys

bp = Blueprint("tv", __name__, url_prefix="/tv")
# Once per app, when create_app registers the blueprint (after socketio.init_app).
bp.record_once(lambda _state: sockets.register())

REFRESH_SECONDS = 60  # the page also refetches this often, in case a push was missed
AGENT_FIELDS = ("user_id", "name", "status", "label", "pause", "since")
COUNTS = ("waiting", "in_progress", "received_today", "closed_today")


@bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _language(company: Company) -> str:
    return company.language if company.language in SUPPORTED else "pt_BR"


def _refused(as_json: bool):
    if as_json:
        return {"error": str(keys.REFUSED)}, 404
    return render_template("panel/gone.html", message=str(keys.REFUSED)), 404


def _key(raw: str):
    """The active key and its company, the tenant of this request; None if refused."""
    key = keys.authenticate(raw)
    if key is None:
        return None, None
    g.tenant_id = key.company_id
    if keys.touch(key):
        db.session.commit()
    return key, db.session.get(Company, key.company_id)


def board(key) -> dict:
    """What the TV shows for `key`: live.snapshot without the alerts' tickets."""
    department_ids = keys.departments_of(key)
    snap = live.snapshot(key.company_id, department_ids, unrouted=department_ids is None)
    over: dict = {}
    for alert in snap["alerts"]:
        over[alert["department_id"]] = over.get(alert["department_id"], 0) + 1
    departments = []
    for row in snap["departments"]:
        if row["id"] is None and not any(row[k] for k in COUNTS):
            continue  # no ticket without a department today: no card for them
        departments.append({
            "id": row["id"],
            "name": row["name"] if row["id"] is not None else _("Sem departamento"),
            **{k: row[k] for k in COUNTS},
            "longest_wait_s": row["longest_wait_s"],
            "alert_minutes": row["alert_minutes"],
            "over_limit": over.get(row["id"], 0),
            "agents": [{k: a.get(k) for k in AGENT_FIELDS} for a in row["agents"]],
        })
    totals = {**snap["totals"], "over_limit": len(snap["alerts"])}
    return {"generated_at": snap["generated_at"], "today": snap["today"],
            "departments": departments, "totals": totals, "agents": snap["agents"]}


@bp.get("/<key>")
def page(key):
    found, company = _key(key)
    if found is None:
        return _refused(False)
    with force_locale(_language(company)):
        data = {
            "key": key,
            "data_url": url_for("tv.data", key=key),
            "namespace": sockets.NAMESPACE,
            "timezone": company.timezone or "America/Sao_Paulo",
            "locale": "en" if _language(company) == "en" else "pt-BR",
            "refresh_s": REFRESH_SECONDS,
            "texts": {
                "revoked": _("Este link do painel foi revogado."),
                "reconnecting": _("Reconectando…"),
                "offline": _("Sem conexão com o servidor. Tentando de novo…"),
                "none": _("Nenhum departamento neste painel."),
                "no_agents": _("Nenhum atendente neste departamento."),
                "updated": _("Atualizado às %(time)s"),
            },
        }
        return render_template("panel/tv.html", data=data, title=found.name,
                               company=company.name, lang=data["locale"])


@bp.get("/<key>/data.json")
def data(key):
    found, company = _key(key)
    if found is None:
        return _refused(True)
    with force_locale(_language(company)):
        return current_app.json.response(board(found))
