"""Inbox routes: the page and a small JSON API over services.inbox / tickets / sending.

Every route checks the user first (anonymous: login redirect for pages, 401 JSON for the
API; no inbox.view: 403), every ticket or message is found through services.visibility
(None -> 404, the same answer for another company's, another department's or a missing
one), and malformed input is a 400 with a Portuguese {"error": ...}, never a 500.
"""
from __future__ import annotations

import functools
import logging
import re
from datetime import datetime

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, or_, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from . import bp
from ..downloads import private_file
from ..extensions import db
from ..models import (
    Company, Connection, DepartmentMember, MessageTemplate, Reason, Tag, Ticket, TicketEvent, User,
)
from ..models.templates import KIND_ATTACHMENT, KIND_TEXT
from ..models.tickets import CLOSED, MESSAGE_STATUSES, TICKET_STATUSES, WAITING
from ..services import RuleError, after_commit, as_id, attachments, catalog, departments, inbox
from ..services import messages as message_vars
from ..services import sending, serialize, tickets, visibility
from ..services import templates as template_rules

log = logging.getLogger(__name__)

MAX_BULK = 200
QUICK_REPLIES = 10
EVENTS = 20
CURSOR_RE = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.+-]{2,40}_\d{1,18}\Z")


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


def _is_api() -> bool:
    return request.path.startswith("/inbox/api/")


def _json_error(message: str, status: int):
    return jsonify({"error": str(message)}), status


# --- errors of this blueprint --------------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return _json_error(exc.message, exc.status)


@bp.errorhandler(CSRFError)
def _csrf_error(exc):
    message = _("O formulário expirou ou é inválido. Recarregue a página e tente de novo.")
    if _is_api():
        return _json_error(message, 400)
    from ..errors import _page

    return _page(400, message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    from ..errors import MESSAGES, _page

    code = exc.code or 500
    message = str(MESSAGES.get(code) or _("Erro %(code)s.", code=code))
    if code == 413:
        message = _("Arquivo ou formulário grande demais: o máximo é %(size)s.",
                    size=template_rules.human_size(current_app.config.get("MAX_CONTENT_LENGTH")
                                                   or attachments.max_bytes()))
    if _is_api():
        return _json_error(message, code)
    return _page(code, message)


# --- guards --------------------------------------------------------------------------------


def _refuse_page():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if not visibility.may_use_inbox(current_user):
        abort(403)
    return None


def page(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        refused = _refuse_page()
        if refused is not None:
            return refused
        return view(*args, **kwargs)

    return wrapper


def api(view):
    """JSON route: 401/403 as JSON; a RuleError rolls back and answers 400."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _json_error(_("Faça login para continuar."), 401)
        if not visibility.may_use_inbox(current_user):
            return _json_error(_("Você não tem permissão para usar o atendimento."), 403)
        try:
            return view(*args, **kwargs)
        except RuleError as exc:
            db.session.rollback()
            return _json_error(str(exc), 400)

    return wrapper


# --- input ---------------------------------------------------------------------------------


class Fields:
    """The request's fields, from a JSON object or a form, read the same way."""

    def __init__(self, data, is_json: bool):
        self.data = data
        self.is_json = is_json

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str):
        return self.data.get(name)

    def getlist(self, name: str) -> list:
        """A list field: a JSON array, or a form field repeated (name or name[])."""
        if self.is_json:
            value = self.data.get(name, [])
            if not isinstance(value, list):
                raise ApiError(_("Campo %(name)s inválido: envie uma lista.", name=name))
            return [v for v in value if v != ""]
        values = self.data.getlist(name) or self.data.getlist(f"{name}[]")
        return [v for v in values if v != ""]


def _body() -> Fields:
    if request.is_json:
        if not request.get_data(cache=True):
            return Fields({}, True)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(_("Requisição inválida: envie um objeto JSON."))
        return Fields(data, True)
    return Fields(request.form, False)


def _as_id(value, message: str) -> int | None:
    """An optional id: None when absent/empty, an int in range, else ApiError(400)."""
    if value is None or value == "":
        return None
    number = as_id(value)
    if number is None:
        raise ApiError(message)
    return number


def _ids(values, message: str) -> list[int]:
    out = []
    for value in values:
        number = _as_id(value, message)
        if number is None:
            raise ApiError(message)
        if number not in out:
            out.append(number)
    return out


def _list_field(data: Fields, *names) -> list:
    for name in names:
        if name in data or f"{name}[]" in data:
            return data.getlist(name)
    return []


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters: drop them from what users type."""
    return value.replace("\x00", "")


def _args() -> MultiDict:
    return MultiDict([(k, _no_nul(v)) for k, v in request.args.items(multi=True)])


def _text(data: Fields, name: str, limit: int = 4096) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError(_("Campo %(name)s inválido.", name=name))
    return _no_nul(value[:limit * 2])


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    if value in (1, 0):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "on", "sim", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "off", "nao", "não", "no", ""):
        return False
    raise ApiError(_("Valor inválido: use verdadeiro ou falso."))


def _ticket(ticket_id) -> Ticket:
    ticket = visibility.find_ticket(current_user, ticket_id)
    if ticket is None:
        raise ApiError(_("Atendimento não encontrado."), 404)
    return ticket


def _message(message_id):
    message = visibility.find_message(current_user, message_id)
    if message is None:
        raise ApiError(_("Mensagem não encontrada."), 404)
    return message


# --- JSON shapes for this user -------------------------------------------------------------


def summary(ticket: Ticket, user=None) -> dict:
    return serialize.ticket_summary(ticket, viewer_id=(user or current_user).id)


def message_json(m, connection, user=None) -> dict:
    data = serialize.message(m, connection, viewer_id=(user or current_user).id)
    if data.get("attachment"):
        data["attachment"]["url"] = url_for("inbox.attachment", message_id=m.id)
    return data


def reply_refusal(user, ticket: Ticket) -> str | None:
    """Why `user` cannot write in `ticket` now (shown on the composer), or None."""
    if ticket.status == CLOSED:
        return _("Este atendimento já foi finalizado.")
    if ticket.status == WAITING:
        return _("Aceite o atendimento antes de responder.")
    if not tickets.may_act(user, ticket):
        return _("Este atendimento está com %(name)s.",
                 name=ticket.agent.name if ticket.agent else "")
    return None


def _event_label(kind: str) -> str:
    labels = {
        "created": _("Atendimento aberto"),
        "accepted": _("Aceito"),
        "transferred": _("Transferido"),
        "closed": _("Finalizado"),
        "reopened": _("Reaberto"),
    }
    return labels.get(kind, kind)


def _events(ticket: Ticket) -> list[dict]:
    rows = list(db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                  TicketEvent.company_id == ticket.company_id)
        .order_by(TicketEvent.id.desc()).limit(EVENTS)))
    wanted_departments, wanted_users, wanted_reasons = set(), set(), set()
    for row in rows:
        data = row.data or {}
        for key in ("from_department_id", "to_department_id"):
            if isinstance(data.get(key), int):
                wanted_departments.add(data[key])
        if isinstance(data.get("to_agent_id"), int):
            wanted_users.add(data["to_agent_id"])
        if isinstance(data.get("reason_id"), int):
            wanted_reasons.add(data["reason_id"])
        if row.user_id:
            wanted_users.add(row.user_id)
    from ..models import Department

    def names(model, ids):
        if not ids:
            return {}
        return dict(db.session.execute(select(model.id, model.name).where(
            model.id.in_(ids), model.company_id == ticket.company_id)).all())

    dept_names = names(Department, wanted_departments)
    user_names = names(User, wanted_users)
    reason_names = names(Reason, wanted_reasons)
    out = []
    for row in rows:
        data = row.data or {}
        out.append({
            "id": row.id,
            "kind": row.kind,
            "label": _event_label(row.kind),
            "user": user_names.get(row.user_id),
            "created_at": serialize.iso(row.created_at),
            "observation": data.get("observation") or None,
            "from_department": dept_names.get(data.get("from_department_id")),
            "to_department": dept_names.get(data.get("to_department_id")),
            "to_agent": user_names.get(data.get("to_agent_id")),
            "reason": reason_names.get(data.get("reason_id")),
        })
    return out


def _contact(user, ticket: Ticket) -> dict:
    contact = ticket.contact
    others = db.session.scalar(
        select(func.count()).select_from(Ticket).where(
            Ticket.contact_id == contact.id, Ticket.id != ticket.id,
            visibility.ticket_filter(user)))
    return {"id": contact.id, "name": contact.name, "phone": contact.phone,
            "email": contact.email, "created_at": serialize.iso(contact.created_at),
            "other_tickets": others or 0}


def _limit(default: int = inbox.PAGE) -> int:
    try:
        return max(1, min(inbox.MAX_PAGE, int(request.args.get("limit") or default)))
    except (TypeError, ValueError):
        raise ApiError(_("Parâmetro limit inválido."))


# --- the page ------------------------------------------------------------------------------


@bp.get("/")
@page
def index():
    return render_template("inbox/index.html")


@bp.get("/attachments/<message_id>")
@page
def attachment(message_id):
    message = visibility.find_message(current_user, message_id)
    found = attachments.file_of(message) if message is not None else None
    if found is None:
        abort(404)
    return private_file(found, message.file_name, message.file_mime)


# --- reading -------------------------------------------------------------------------------


@bp.get("/api/meta")
@api
def meta():
    user = current_user
    company = db.session.get(Company, user.company_id)
    supervisor = visibility.supervises(user)
    cid = user.company_id
    connections = list(db.session.scalars(
        select(Connection).where(Connection.company_id == cid)
        .order_by(Connection.active.desc(), Connection.name)))
    all_departments = departments.ordered(cid, active_only=False)
    if supervisor:
        filter_departments = all_departments
    else:
        own = visibility.department_ids(user)
        filter_departments = [d for d in all_departments if d.id in own]
    agents = visibility.agents_of(cid)
    memberships: dict[int, list[int]] = {}
    for user_id, department_id in db.session.execute(
            select(DepartmentMember.user_id, DepartmentMember.department_id)
            .where(DepartmentMember.company_id == cid)):
        memberships.setdefault(user_id, []).append(department_id)
    tags = catalog.visible_tags(db.session.query(Tag).filter(Tag.company_id == cid),
                                user.id).order_by(Tag.name).all()
    reasons = list(db.session.scalars(select(Reason).where(
        Reason.company_id == cid, Reason.active.is_(True)).order_by(Reason.name)))
    return jsonify({
        "user": {"id": user.id, "name": user.name, "supervises": supervisor},
        "company": {"id": cid, "name": company.name if company else ""},
        "timezone": (company.timezone if company else None) or "America/Sao_Paulo",
        "connections": [{"id": c.id, "name": c.name, "kind": c.kind, "kind_label": c.kind_label,
                         "active": c.active} for c in connections],
        "departments": [{"id": d.id, "name": d.name, "active": d.active}
                        for d in filter_departments],
        "transfer_departments": [{"id": d.id, "name": d.name}
                                 for d in departments.ordered(cid, True, True)],
        "agents": [{"id": a.id, "name": a.name,
                    "department_ids": sorted(memberships.get(a.id, [])),
                    "supervises": a.can("inbox", "supervise")} for a in agents],
        "tags": [serialize.tag(t) for t in tags],
        "reasons": [{"id": r.id, "name": r.name} for r in reasons],
        "farewells": [{"id": f.id, "title": f.title} for f in tickets.farewells(cid)],
        "statuses": {
            "ticket": {k: str(v) for k, v in TICKET_STATUSES.items()},
            "message": {k: str(v) for k, v in MESSAGE_STATUSES.items()},
        },
        "max_upload": attachments.max_bytes(),
    })


@bp.get("/api/tickets")
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
            raise ApiError(_("Parâmetro cursor inválido."))
    filters = inbox.Filters.from_args(_args())
    rows, next_cursor = inbox.list_summaries(current_user, filters)
    return jsonify({"tickets": rows, "next_cursor": next_cursor})


def _detail(user, ticket: Ticket) -> dict:
    rows, more = inbox.conversation(ticket, limit=_limit())
    connection = ticket.connection
    return {
        "ticket": {**summary(ticket, user), "contact": _contact(user, ticket),
                   "queued_at": serialize.iso(ticket.queued_at),
                   "accepted_at": serialize.iso(ticket.accepted_at),
                   "reason": ({"id": ticket.reason.id, "name": ticket.reason.name}
                              if ticket.reason_id and ticket.reason else None),
                   "close_note": ticket.close_note},
        "messages": [message_json(m, connection, user) for m in rows],
        "has_more": more,
        "reasons": [{"id": r.id, "name": r.name} for r in tickets.reasons_for(ticket)],
        "reason_required": bool(ticket.department and ticket.department.reason_required_to_close),
        "observation_required": bool(ticket.department
                                     and ticket.department.observation_required_on_transfer),
        "can_act": tickets.may_act(user, ticket),
        "reply_block": reply_refusal(user, ticket),
        "events": _events(ticket),
    }


def _read(user, ticket: Ticket) -> bool:
    """Opening a conversation reads it, for its agent (or anyone while it has none): a
    supervisor looking at another agent's ticket leaves that agent's badge alone."""
    if ticket.agent_id in (None, user.id) and ticket.unread:
        tickets.mark_read(ticket)
        after_commit.commit()
        return True
    return False


@bp.get("/api/tickets/<ticket_id>")
@api
def ticket_detail(ticket_id):
    # A GET never changes state (SEC-8): the page opening the ticket marks it read with
    # POST .../read.
    return jsonify(_detail(current_user, _ticket(ticket_id)))


@bp.post("/api/tickets/<ticket_id>/read")
@api
def ticket_read(ticket_id):
    user = current_user
    ticket = _ticket(ticket_id)
    _read(user, ticket)
    return jsonify({"ticket": summary(ticket, user)})


@bp.get("/api/tickets/<ticket_id>/messages")
@api
def ticket_messages(ticket_id):
    user = current_user
    ticket = _ticket(ticket_id)
    before = _as_id(request.args.get("before"), _("Parâmetro before inválido."))
    rows, more = inbox.conversation(ticket, before=before, limit=_limit())
    connection = ticket.connection
    return jsonify({"messages": [message_json(m, connection, user) for m in rows],
                    "has_more": more})


@bp.get("/api/tickets/<ticket_id>/search")
@api
def ticket_search(ticket_id):
    user = current_user
    ticket = _ticket(ticket_id)
    term = _no_nul(request.args.get("q") or "").strip()
    rows = inbox.search_conversation(ticket, term)
    connection = ticket.connection
    return jsonify({"q": term[:100], "messages": [message_json(m, connection, user) for m in rows]})


# --- writing -------------------------------------------------------------------------------


def _template_upload(template: MessageTemplate):
    if not template.file_key:
        return None
    try:
        path = template_rules.file_path(template.company_id, template.file_key)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        raise ApiError(_("O arquivo do template %(shortcut)s não foi encontrado.",
                         shortcut=template.shortcut))
    return template_rules.Upload(data=path.read_bytes(), name=template.file_name or "arquivo",
                                 mime=template.file_mime or "application/octet-stream")


def _find_template(user, template_id: int) -> MessageTemplate:
    template = db.session.scalar(select(MessageTemplate).where(
        MessageTemplate.id == template_id, MessageTemplate.company_id == user.company_id,
        MessageTemplate.active.is_(True),
        MessageTemplate.kind.in_((KIND_TEXT, KIND_ATTACHMENT))))
    if template is None:
        raise ApiError(_("Resposta rápida não encontrada."), 404)
    return template


def _context(user, ticket: Ticket) -> dict:
    return message_vars.build_context(
        customer=ticket.contact, protocol=ticket.protocol, agent=ticket.agent or user,
        department=ticket.department, company=db.session.get(Company, ticket.company_id))


@bp.post("/api/tickets/<ticket_id>/messages")
@api
def send_message(ticket_id):
    """MSG-1: text and/or a file (or a quick reply's file), with optional tags."""
    user = current_user
    ticket = _ticket(ticket_id)
    data = _body()
    refused = reply_refusal(user, ticket)
    if refused:
        raise ApiError(refused)
    text = _text(data, "text")
    tag_ids = _ids(_list_field(data, "tags", "tag_ids"), _("Etiquetas inválidas."))
    template_id = _as_id(data.get("template_id"), _("Resposta rápida inválida."))
    upload = None
    storage = request.files.get("file")
    if storage is not None and storage.filename:
        upload = attachments.read(storage)
    if template_id is not None:
        template = _find_template(user, template_id)
        if not text.strip():
            text = message_vars.render(template.body, _context(user, ticket))
        if upload is None and template.kind == KIND_ATTACHMENT:
            upload = _template_upload(template)
    message = sending.queue(ticket, user, text, upload=upload, tag_ids=tag_ids or None)
    connection = ticket.connection
    message_id = message.id
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, connection, user)}), 201


def _ticket_action(ticket_id, action):
    user = current_user
    ticket = _ticket(ticket_id)
    data = _body()
    action(ticket, user, data)
    after_commit.commit()
    ticket = visibility.find_ticket(user, ticket.id)
    if ticket is None:  # transferred somewhere this user no longer sees
        return jsonify({"ticket": None, "visible": False})
    return jsonify({"ticket": summary(ticket, user), "visible": True})


def _transfer_fields(data: Fields) -> dict:
    return {
        "department_id": _as_id(data.get("department_id"), _("Departamento inválido.")),
        "agent_id": _as_id(data.get("agent_id"), _("Atendente inválido.")),
        "observation": _text(data, "observation", 1000),
    }


def _close_fields(data: Fields) -> dict:
    return {
        "reason_id": _as_id(data.get("reason_id"), _("Motivo inválido.")),
        "farewell_id": _as_id(data.get("farewell_id"), _("Mensagem de despedida inválida.")),
        "note": _text(data, "note", 1000),
    }


@bp.post("/api/tickets/<ticket_id>/accept")
@api
def ticket_accept(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.accept(t, u))


@bp.post("/api/tickets/<ticket_id>/transfer")
@api
def ticket_transfer(ticket_id):
    return _ticket_action(ticket_id,
                          lambda t, u, d: tickets.transfer(t, u, **_transfer_fields(d)))


@bp.post("/api/tickets/<ticket_id>/close")
@api
def ticket_close(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.close(t, u, **_close_fields(d)))


@bp.post("/api/tickets/<ticket_id>/reopen")
@api
def ticket_reopen(ticket_id):
    return _ticket_action(ticket_id, lambda t, u, d: tickets.reopen(t, u))


@bp.post("/api/tickets/<ticket_id>/favourite")
@api
def ticket_favourite(ticket_id):
    def act(ticket, user, data):
        if "value" not in data:
            raise ApiError(_("Informe o valor (value)."))
        tickets.set_favourite(ticket, user, _flag(data.get("value")))

    return _ticket_action(ticket_id, act)


@bp.post("/api/tickets/<ticket_id>/tags")
@api
def ticket_tags(ticket_id):
    def act(ticket, user, data):
        tickets.set_tags(ticket, user, _ids(_list_field(data, "tag_ids", "tags"),
                                            _("Etiquetas inválidas.")))

    return _ticket_action(ticket_id, act)


@bp.post("/api/messages/<message_id>/retry")
@api
def message_retry(message_id):
    user = current_user
    message = _message(message_id)
    if not tickets.may_act(user, message.ticket):
        raise ApiError(_("Este atendimento está com %(name)s.", name=message.ticket.agent.name))
    sending.retry(message, user)
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, message.ticket.connection, user)})


@bp.post("/api/messages/<message_id>/tags")
@api
def message_tags(message_id):
    """MSG-3: tag one message."""
    user = current_user
    message = _message(message_id)
    data = _body()
    tickets.set_message_tags(message, user, _ids(_list_field(data, "tag_ids", "tags"),
                                                 _("Etiquetas inválidas.")))
    after_commit.commit()
    message = visibility.find_message(user, message_id)
    return jsonify({"message": message_json(message, message.ticket.connection, user)})


@bp.post("/api/bulk")
@api
def bulk():
    """BLK-1: close or transfer many tickets, each in its own transaction."""
    user = current_user
    data = _body()
    action = data.get("action")
    if action not in ("close", "transfer"):
        raise ApiError(_("Ação inválida: use close ou transfer."))
    ids = _ids(_list_field(data, "ids"), _("Lista de atendimentos inválida."))
    if not ids:
        raise ApiError(_("Selecione ao menos um atendimento."))
    if len(ids) > MAX_BULK:
        raise ApiError(_("Selecione no máximo %(n)s atendimentos por vez.", n=MAX_BULK))
    fields = _close_fields(data) if action == "close" else _transfer_fields(data)
    run = tickets.close if action == "close" else tickets.transfer
    done, errors = [], []
    for ticket_id in ids:
        ticket = visibility.find_ticket(user, ticket_id)
        if ticket is None:
            errors.append({"id": ticket_id, "protocol": None,
                           "error": _("Atendimento não encontrado.")})
            continue
        protocol = ticket.protocol
        try:
            run(ticket, user, **fields)
            after_commit.commit()
            done.append(ticket_id)
        except RuleError as exc:
            db.session.rollback()
            errors.append({"id": ticket_id, "protocol": protocol, "error": str(exc)})
        except Exception:  # one broken ticket must not stop the others
            db.session.rollback()
            log.exception("bulk %s failed on ticket %s", action, ticket_id)
            errors.append({"id": ticket_id, "protocol": protocol,
                           "error": _("Não foi possível concluir a ação neste atendimento.")})
    return jsonify({"done": done, "errors": errors})


def _like_prefix(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@bp.get("/api/quick-replies")
@api
def quick_replies():
    """MSG-2: the active text and attachment templates matching what follows "/"."""
    user = current_user
    q = _no_nul(request.args.get("q") or "").strip().lower()[:40]
    term = q.lstrip("/")
    query = select(MessageTemplate).where(
        MessageTemplate.company_id == user.company_id, MessageTemplate.active.is_(True),
        MessageTemplate.kind.in_((KIND_TEXT, KIND_ATTACHMENT)))
    if term:
        escaped = _like_prefix(term)
        query = query.where(or_(
            MessageTemplate.shortcut.like("/" + escaped + "%", escape="\\"),
            MessageTemplate.title.ilike("%" + escaped + "%", escape="\\")))
    rows = list(db.session.scalars(query.order_by(MessageTemplate.shortcut).limit(QUICK_REPLIES)))
    ticket = None
    if request.args.get("ticket"):
        ticket = visibility.find_ticket(user, request.args.get("ticket"))
    context = _context(user, ticket) if ticket is not None else None
    return jsonify({"replies": [{
        "id": t.id, "shortcut": t.shortcut, "title": t.title,
        "body": message_vars.render(t.body, context) if context else (t.body or ""),
        "kind": t.kind, "kind_label": t.kind_label,
        "attachment": ({"name": t.file_name, "mime": t.file_mime, "size": t.file_size}
                       if t.kind == KIND_ATTACHMENT and t.file_key else None),
    } for t in rows]})
