"""Actions shared by chatbot nodes (AUT-2) and automation rules (AUT-8).

An action is a dict with a "type" and that type's keys:

    {"type": "move", "department_id": 2, "agent_id": null}   to a queue, or to an agent
    {"type": "add_tag", "tag_id": 5}  /  {"type": "remove_tag", "tag_id": 5}
    {"type": "send_text", "text": "Olá {{nome_cliente}}"}    message variables (DEP-8)
    {"type": "send_template", "template_id": 7}             a text/attachment template
    {"type": "send_template", "provider_template_id": 9}    an approved WhatsApp template
    {"type": "favourite", "value": true}
    {"type": "close", "reason_id": 1, "text": "..."}         close, automatically
    {"type": "http", "method": "POST", "url": "https://...", "body": "{...}",
     "map": {"variable": "json.path"}}                      INT-1, through lib.outbound
    {"type": "http", "integration": "ERP", "body": "{...}", "map": {...}}
        the same to a named integration (services.integrations): its URL, method,
        headers and timeout instead of "url"/"method"
    {"type": "start_flow", "flow_id": 3}

`check` validates before saving (the company's ids only, known variables, a public URL);
`run` does it on behalf of `source` ("Automação X", "Fluxo Y v2"), recorded in the
ticket's history, and raises ActionError (Portuguese reason) when it cannot.
"""
from __future__ import annotations

import json
import logging
from typing import Callable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..extensions import db
from ..lib import outbound
from ..lib.ids import as_id
from ..models import Department, MessageTemplate, ProviderTemplate, Reason, Tag, User
from ..models.automation import Flow
from ..models.tickets import AUTHOR_BOT
from ..services import RuleError, integrations, messages, provider_templates, replies, sending
from ..services import tickets
from ..services.webhooks import check_url
from .conditions import Context

log = logging.getLogger(__name__)

ACTION_TYPES: dict[str, str] = {
    "move": _l("Mover para departamento ou atendente"),
    "add_tag": _l("Adicionar etiqueta"),
    "remove_tag": _l("Remover etiqueta"),
    "send_text": _l("Enviar texto"),
    "send_template": _l("Enviar template"),
    "favourite": _l("Marcar como favorito"),
    "close": _l("Finalizar com motivo"),
    "http": _l("Chamar integração (HTTP)"),
    "start_flow": _l("Iniciar fluxo de chatbot"),
}
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH")
HTTP_TIMEOUT = 8.0          # seconds: the customer is waiting for the answer
HTTP_MAX_BYTES = 256 * 1024


class ActionError(Exception):
    """An action that could not be done; str() is the reason in Portuguese."""


# start(ticket, version, message) of the chatbot engine, which registers itself on import:
# the engine runs actions, so actions never import the engine (no import cycle)
flow_starter: Callable | None = None


# --- message variables -------------------------------------------------------------------


def render(text: str | None, ctx: Context) -> str:
    """`text` with the message variables (DEP-8) and the flow's variables filled in."""
    values = dict(tickets._context(ctx.ticket, ctx.ticket.agent))
    values.update({k: v for k, v in ctx.variables.items() if k not in values})
    return messages.render(text, values, extra=tuple(ctx.variables))


def check_text(text, variables=()) -> list[str]:
    unknown = messages.validate_template(text, extra=tuple(variables))
    return [messages.unknown_variables_message(unknown)] if unknown else []


# --- checking before saving ------------------------------------------------------------------


def check(company_id: int, action, variables=()) -> list[str]:
    """Why `action` cannot be saved for this company (empty list: it can). `variables`
    are the flow variables known where it runs."""
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        return [_("Ação desconhecida.")]
    kind = action["type"]
    if kind == "move":
        return _check_move(company_id, action)
    if kind in ("add_tag", "remove_tag"):
        tag = Tag.get_owned(company_id, action.get("tag_id"))
        return [] if tag is not None and tag.owner_id is None else [
            _("Escolha uma etiqueta da empresa.")]
    if kind == "send_text":
        if not str(action.get("text") or "").strip():
            return [_("Escreva o texto da mensagem.")]
        return check_text(action.get("text"), variables)
    if kind == "send_template":
        if action.get("provider_template_id") not in (None, ""):
            found = ProviderTemplate.get_owned(company_id, action.get("provider_template_id"))
            return [] if found is not None else [_("Escolha um modelo do WhatsApp da empresa.")]
        found = MessageTemplate.get_owned(company_id, action.get("template_id"))
        return [] if found is not None else [_("Escolha um template de mensagem da empresa.")]
    if kind == "close":
        if action.get("reason_id") not in (None, "") and \
                Reason.get_owned(company_id, action.get("reason_id")) is None:
            return [_("Escolha um motivo da empresa.")]
        return check_text(action.get("text"), variables)
    if kind == "http":
        return check_http(action, variables, company_id)
    if kind == "start_flow":
        flow = Flow.get_owned(company_id, action.get("flow_id"))
        return [] if flow is not None else [_("Escolha um fluxo de chatbot da empresa.")]
    return []


def _check_move(company_id: int, action: dict) -> list[str]:
    department_id, agent_id = action.get("department_id"), action.get("agent_id")
    if department_id in (None, "") and agent_id in (None, ""):
        return [_("Escolha o departamento ou o atendente de destino.")]
    if department_id not in (None, "") and \
            Department.get_owned(company_id, department_id) is None:
        return [_("Escolha um departamento da empresa.")]
    if agent_id not in (None, ""):
        agent = company_user(company_id, agent_id)
        if agent is None or not agent.active:
            return [_("Escolha um atendente ativo da empresa.")]
    return []


def company_user(company_id: int, user_id) -> User | None:
    """A user of the company by id, or None (users are not TenantMixin rows: superusers
    have no company)."""
    user_id = as_id(user_id)
    user = db.session.get(User, user_id) if user_id is not None else None
    return user if user is not None and user.company_id == company_id else None


def check_http(action: dict, variables=(), company_id: int | None = None) -> list[str]:
    """A public http(s) URL (SEC-2: a private address is refused here, and again on the
    address actually connected to) and a known method, or an integration of the company
    by name; known variables, a valid map."""
    errors = []
    name = str(action.get("integration") or "").strip()
    if name:
        if integrations.by_name(company_id, name) is None:
            errors.append(_("Integração desconhecida: «%(name)s». Cadastre-a em Configurações "
                            "> Integrações ou escolha outra.", name=name[:80]))
    else:
        if str(action.get("method") or "GET").upper() not in HTTP_METHODS:
            errors.append(_("Método HTTP inválido."))
        url = str(action.get("url") or "")
        try:
            # variables are filled in at run time: check the URL with a neutral value there
            check_url(messages._VARIABLE.sub("x", url))
        except RuleError as exc:
            errors.append(str(exc))
        errors += check_text(url, variables)
    errors += check_text(action.get("body"), variables)
    mapping = action.get("map") or {}
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and k.strip() and isinstance(v, str) for k, v in mapping.items()):
        errors.append(_("Mapeamento de campos inválido: use variável = caminho.no.json."))
    return errors


# --- running -------------------------------------------------------------------------------


def run(action: dict, ctx: Context, source: str) -> dict:
    """Do `action` on ctx.ticket; returns the variables it produced (HTTP)."""
    kind = action.get("type")
    ticket = ctx.ticket
    company_id = ticket.company_id
    try:
        if kind == "move":
            department = Department.get_owned(company_id, action.get("department_id"))
            agent = company_user(company_id, action.get("agent_id"))
            if department is None and agent is None:
                raise ActionError(_("Departamento ou atendente não encontrado."))
            if ticket.is_open:
                tickets.route(ticket, department, agent if agent and agent.active else None,
                              source=source)
        elif kind == "add_tag":
            tag = Tag.get_owned(company_id, action.get("tag_id"))
            if tag is not None:
                tickets.add_tags_automatically(ticket, [tag], source=source)
        elif kind == "remove_tag":
            tickets.remove_tags_automatically(ticket, [as_id(action.get("tag_id"))], source=source)
        elif kind == "send_text":
            send_text(ctx, action.get("text"))
        elif kind == "send_template":
            _send_template(ctx, action)
        elif kind == "favourite":
            ticket.favourite = bool(action.get("value", True))
            tickets.history(ticket, "automation", source=source,
                            detail=_("Favorito") if ticket.favourite else _("Não favorito"))
        elif kind == "close":
            if ticket.is_open:
                reason = Reason.get_owned(company_id, action.get("reason_id"))
                tickets.close_automatically(ticket, source=source, reason=reason,
                                            message=render(action.get("text"), ctx) or None)
        elif kind == "http":
            return call_http(action, ctx)
        elif kind == "start_flow":
            flow = Flow.get_owned(company_id, action.get("flow_id"))
            if flow is None or flow.published_version_id is None or flow_starter is None:
                raise ActionError(_("O fluxo não está publicado."))
            flow_starter(ticket, flow.published_version, ctx.message)
        else:
            raise ActionError(_("Ação desconhecida."))
    except RuleError as exc:
        raise ActionError(str(exc)) from exc
    return {}


def send_text(ctx: Context, text: str | None) -> None:
    """A bot message (author "bot") with the variables filled in; nothing when empty."""
    body = render(text, ctx)
    if body.strip():
        sending.queue(ctx.ticket, None, body, author_kind=AUTHOR_BOT)


def _send_template(ctx: Context, action: dict) -> None:
    ticket = ctx.ticket
    if action.get("provider_template_id") not in (None, ""):
        found = replies.find_provider_template(ticket, as_id(action.get("provider_template_id")))
        if found is None:
            raise ActionError(_("Modelo do WhatsApp não encontrado ou não aprovado."))
        values = [replies.first_name(ticket)] + [""] * max(0, (found.variables or 0) - 1)
        text, extra = provider_templates.render(found, values[:found.variables or 0])
        sending.queue(ticket, None, text, author_kind=AUTHOR_BOT, extra=extra, template=True)
        return
    template = MessageTemplate.get_owned(ticket.company_id, action.get("template_id"))
    if template is None or not template.active:
        raise ActionError(_("Template de mensagem não encontrado."))
    upload = replies.template_upload(template) if template.file_key else None
    sending.queue(ticket, None, render(template.body, ctx), upload=upload, author_kind=AUTHOR_BOT)


def call_http(action: dict, ctx: Context) -> dict:
    """INT-1: call the URL through the SSRF-safe helper and map the JSON answer's fields
    to variables ({"cpf_ok": "data.valid"}). With "integration", the company's integration
    of that name is called instead of "url"/"method". ActionError on any failure."""
    name = str(action.get("integration") or "").strip()
    integration = integrations.by_name(ctx.ticket.company_id, name) if name else None
    if name and integration is None:
        raise ActionError(_("Integração não encontrada: %(name)s.", name=name[:80]))
    if integration is not None and not integration.active:
        raise ActionError(_("A integração %(name)s está desativada.", name=integration.name))
    method = integration.method if integration else str(action.get("method") or "GET").upper()
    body = render(action.get("body"), ctx).encode() if method != "GET" else None
    headers = {"Accept": "application/json", "User-Agent": "Atende-Automacao"}
    if body:
        headers["Content-Type"] = "application/json"
    try:
        if integration is not None:
            answer = integrations.call(integration, body, headers, max_bytes=HTTP_MAX_BYTES)
        else:
            answer = outbound.request(method, render(action.get("url"), ctx), body, headers,
                                      timeout=HTTP_TIMEOUT, max_bytes=HTTP_MAX_BYTES)
    except outbound.OutboundError as exc:
        raise ActionError(str(exc)) from exc
    mapping = action.get("map") or {}
    if not mapping:
        return {}
    try:
        data = json.loads(answer.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ActionError(_("A integração não respondeu em JSON.")) from exc
    return {name: _stringify(_dig(data, path)) for name, path in mapping.items()}


def _dig(data, path: str):
    for part in [p for p in str(path or "").split(".") if p]:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _stringify(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)[:1000]
    if isinstance(value, bool):
        return "sim" if value else "não"
    return str(value)[:1000]


