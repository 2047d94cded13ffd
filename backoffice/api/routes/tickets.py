"""Tickets through the API (API-1): the inbox's list and filters over every department of
the company (a token sees what a supervisor sees), one ticket with its history, and the
agent's actions: accept for an agent, transfer, close, reopen, tags.

The actions are services.tickets' own (the same DEP rules, DEP-6 messages and events as
in the inbox); with no user behind a token, the ticket's history names the token
("API (token ERP)") the way it names an automation.
"""
from __future__ import annotations

from datetime import timezone

from flask import g
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import joinedload

from ...models import Ticket
from ...models.tickets import TICKET_STATUSES
from ...services import inbox, serialize
from ...services import tickets as ticket_rules
from ..core import blueprint, company_id, fetch, requires, scoped
from ..pagination import PageArgs, page, page_schema
from ..fields import ID, UtcDateTime
from .contacts import CompanyTags

blp = blueprint("atendimentos", "/tickets",
                "Atendimentos da empresa (todos os departamentos): lista com os filtros da "
                "tela de atendimento, consulta e as ações do atendente.")
BLUEPRINTS = [blp]

STATUSES = list(TICKET_STATUSES)


# --- schemas -------------------------------------------------------------------------------


class Ref(Schema):
    id = fields.Integer(required=True, metadata={"example": 3})
    name = fields.String(required=True, metadata={"example": "Vendas"})


class ContactRef(Ref):
    phone = fields.String(required=True, allow_none=True, metadata={"example": "+5511987654321"})


class ConnectionRef(Ref):
    kind = fields.String(required=True, metadata={"example": "whatsapp"})


class TicketOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 981})
    protocol = fields.String(required=True, metadata={"example": "20261201-0042"})
    status = fields.String(required=True, metadata={
        "description": "waiting (sem atendente), open (em andamento), pending (aguardando "
                       "resposta do cliente) ou closed (finalizado).", "example": "open"})
    contact = fields.Nested(ContactRef, required=True)
    department = fields.Nested(Ref, required=True, allow_none=True)
    agent = fields.Nested(Ref, required=True, allow_none=True)
    connection = fields.Nested(ConnectionRef, required=True, allow_none=True)
    reason = fields.Nested(Ref, required=True, allow_none=True)
    close_note = fields.String(required=True, allow_none=True)
    tags = CompanyTags(required=True, metadata={
        "description": "Etiquetas da empresa (as pessoais dos usuários não aparecem)."})
    favourite = fields.Boolean(required=True)
    has_failed = fields.Boolean(required=True, metadata={
        "description": "Alguma mensagem enviada falhou."})
    automated = fields.Boolean(required=True, metadata={
        "description": "Está com uma automação (chatbot)."})
    unread = fields.Integer(required=True, metadata={"example": 2})
    created_at = UtcDateTime(required=True)
    queued_at = UtcDateTime(required=True, allow_none=True)
    accepted_at = UtcDateTime(required=True, allow_none=True)
    first_response_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    last_activity_at = UtcDateTime(required=True)


class HistoryOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={
        "description": "created, accepted, transferred, closed, reopened, tagged, untagged, "
                       "automation, bot, ...", "example": "transferred"})
    label = fields.String(required=True, metadata={"example": "Transferido"})
    user = fields.String(required=True, allow_none=True, metadata={
        "description": "Quem fez; null quando foi uma automação ou a API (veja source)."})
    source = fields.String(required=True, allow_none=True, metadata={
        "description": "A automação ou o token de API que fez.", "example": "API (token ERP)"})
    automatic = fields.Boolean(required=True)
    created_at = fields.String(required=True, metadata={"example": "2026-12-01T12:00:00Z"})
    observation = fields.String(required=True, allow_none=True)
    from_department = fields.String(required=True, allow_none=True)
    to_department = fields.String(required=True, allow_none=True)
    to_agent = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    detail = fields.String(required=True, allow_none=True)


class History(fields.Nested):
    """The ticket's latest history lines (services.serialize.events), names for ids."""

    def __init__(self, **kwargs):
        super().__init__(HistoryOut, many=True, **kwargs)

    def get_value(self, obj, attr, accessor=None, default=None):
        return serialize.events(obj)


class TicketDetail(TicketOut):
    history = History(required=True, metadata={
        "description": "O histórico do atendimento (as últimas linhas, da mais recente à "
                       "mais antiga)."})


TICKET_EXAMPLE = {
    "id": 981, "protocol": "20261201-0042", "status": "open",
    "contact": {"id": 12, "name": "Maria Souza", "phone": "+5511987654321"},
    "department": {"id": 3, "name": "Vendas"}, "agent": {"id": 7, "name": "Bruno Lima"},
    "connection": {"id": 2, "name": "WhatsApp Vendas", "kind": "whatsapp"},
    "reason": None, "close_note": None, "tags": [{"id": 4, "name": "VIP", "color": "#3c8dbc"}],
    "favourite": False, "has_failed": False, "automated": False, "unread": 0,
    "created_at": "2026-12-01T12:00:00+00:00", "queued_at": "2026-12-01T12:00:00+00:00",
    "accepted_at": "2026-12-01T12:03:00+00:00", "first_response_at": None, "closed_at": None,
    "last_activity_at": "2026-12-01T12:03:00+00:00",
}
HISTORY_EXAMPLE = [{
    "id": 5501, "kind": "accepted", "label": "Aceito", "user": None,
    "source": "API (token ERP)", "automatic": True, "created_at": "2026-12-01T12:03:00Z",
    "observation": None, "from_department": None, "to_department": None,
    "to_agent": "Bruno Lima", "reason": None, "detail": None,
}]
DETAIL_EXAMPLE = {**TICKET_EXAMPLE, "history": HISTORY_EXAMPLE}


class TicketFilters(PageArgs):
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)), metadata={
        "description": "Um ou mais status (repita o parâmetro): waiting, open, pending, closed.",
        "example": ["waiting", "open"]})
    department_id = fields.Integer(validate=ID, metadata={"example": 3})
    agent_id = fields.Integer(validate=ID, metadata={"example": 7})
    unassigned = fields.Boolean(metadata={"description": "Só os sem atendente."})
    connection_id = fields.Integer(validate=ID, metadata={"example": 2})
    tag_id = fields.Integer(validate=ID, metadata={"example": 4})
    contact_id = fields.Integer(validate=ID, metadata={"example": 12})
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "Nome do contato (parte) ou protocolo exato.", "example": "maria"})
    text = fields.String(validate=validate.Length(max=100), metadata={
        "description": "Palavras nas mensagens da conversa.", "example": "boleto"})
    favourite = fields.Boolean(metadata={"description": "Só os favoritos (true)."})
    has_failed = fields.Boolean(metadata={"description": "Com falha no envio."})
    automated = fields.Boolean(metadata={"description": "Com automação (chatbot)."})
    created_from = fields.DateTime(metadata={
        "description": "Abertos a partir de (ISO 8601; sem fuso, UTC).",
        "example": "2026-12-01T00:00:00-03:00"})
    created_to = fields.DateTime(metadata={
        "description": "Abertos antes de (ISO 8601; sem fuso, UTC).",
        "example": "2026-12-02T00:00:00-03:00"})


class AcceptIn(Schema):
    agent_id = fields.Integer(required=True, validate=ID, metadata={
        "description": "O atendente que assume: ativo, da empresa e do departamento do "
                       "atendimento.", "example": 7})


class TransferIn(Schema):
    department_id = fields.Integer(allow_none=True, validate=ID, metadata={"example": 3})
    agent_id = fields.Integer(allow_none=True, validate=ID, metadata={"example": None})
    observation = fields.String(allow_none=True, validate=validate.Length(max=1000), metadata={
        "description": "Obrigatória quando o departamento de origem exige.",
        "example": "Cliente quer falar sobre a fatura."})


class CloseIn(Schema):
    reason_id = fields.Integer(allow_none=True, validate=ID, metadata={
        "description": "Motivo de atendimento; obrigatório quando o departamento exige.",
        "example": 2})
    farewell_id = fields.Integer(allow_none=True, validate=ID, metadata={
        "description": "Mensagem de despedida enviada ao cliente; sem ela vai a mensagem de "
                       "finalização do departamento.", "example": None})
    note = fields.String(allow_none=True, validate=validate.Length(max=1000),
                         metadata={"example": "Boleto reenviado."})


class TicketTagsIn(Schema):
    tag_ids = fields.List(fields.Integer(validate=ID), required=True,
                          validate=validate.Length(max=100), metadata={
                              "description": "As etiquetas da empresa que o atendimento passa "
                                             "a ter (substituem as da empresa; as pessoais "
                                             "dos usuários ficam).", "example": [4]})


TicketPage = page_schema(TicketOut, "TicketPage")


# --- helpers -------------------------------------------------------------------------------


def _source() -> str:
    """Who asked, for the ticket's history."""
    return _("API (token %(name)s)", name=g.api_token.name)


def _utc(moment):
    if moment is not None and moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _ticket(ticket_id) -> Ticket:
    return fetch(Ticket, ticket_id)


# --- routes --------------------------------------------------------------------------------


@blp.route("/", methods=["GET"], endpoint="list")
@requires("api:tickets.read")
@blp.arguments(TicketFilters, location="query")
@blp.response(200, TicketPage, example={"data": [TICKET_EXAMPLE], "next_cursor": None})
def ticket_list(args):
    """Lista os atendimentos, do mais novo ao mais antigo.

    Os filtros da tela de atendimento (departamento, conexão, etiqueta, nome do contato ou
    protocolo, palavras na conversa, favoritos, falha, automação) e mais: status, atendente,
    contato, período de abertura. O token vê todos os departamentos da empresa."""
    filters = inbox.Filters(status="any", connection_id=args.get("connection_id"),
                            department_id=args.get("department_id"), tag_id=args.get("tag_id"),
                            favourite=bool(args.get("favourite")), q=args.get("q") or "",
                            text=args.get("text") or "")
    q = inbox.narrow(scoped(Ticket), filters, company_id())
    if args.get("status"):
        q = q.where(Ticket.status.in_(args["status"]))
    if args.get("agent_id"):
        q = q.where(Ticket.agent_id == args["agent_id"])
    if args.get("unassigned"):
        q = q.where(Ticket.agent_id.is_(None))
    if args.get("contact_id"):
        q = q.where(Ticket.contact_id == args["contact_id"])
    if "has_failed" in args:
        q = q.where(Ticket.has_failed.is_(args["has_failed"]))
    if "automated" in args:
        q = q.where(Ticket.automated.is_(args["automated"]))
    if args.get("created_from"):
        q = q.where(Ticket.created_at >= _utc(args["created_from"]))
    if args.get("created_to"):
        q = q.where(Ticket.created_at < _utc(args["created_to"]))
    q = q.options(joinedload(Ticket.contact), joinedload(Ticket.department),
                  joinedload(Ticket.agent), joinedload(Ticket.connection),
                  joinedload(Ticket.reason))
    return page(q, Ticket.id, args)


@blp.route("/<int:ticket_id>", methods=["GET"], endpoint="get")
@requires("api:tickets.read")
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_get(ticket_id):
    """Consulta um atendimento, com o histórico."""
    return _ticket(ticket_id)


@blp.route("/<int:ticket_id>/accept", methods=["POST"], endpoint="accept")
@requires("api:tickets.write")
@blp.arguments(AcceptIn, example={"agent_id": 7})
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_accept(data, ticket_id):
    """Põe o atendimento com um atendente (como se ele aceitasse).

    O atendente precisa estar ativo e fazer parte do departamento do atendimento; a
    mensagem de início do departamento é enviada; o histórico registra o token."""
    return ticket_rules.accept_for(_ticket(ticket_id), data["agent_id"], source=_source())


@blp.route("/<int:ticket_id>/transfer", methods=["POST"], endpoint="transfer")
@requires("api:tickets.write")
@blp.arguments(TransferIn, example={"department_id": 3,
                                    "observation": "Cliente quer falar sobre a fatura."})
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_transfer(data, ticket_id):
    """Transfere para um departamento (volta à fila) e/ou um atendente.

    As regras do departamento valem: observação obrigatória, departamento que recebe
    atendimentos, atendente do departamento."""
    return ticket_rules.transfer(_ticket(ticket_id), None, department_id=data.get("department_id"),
                                 agent_id=data.get("agent_id"),
                                 observation=data.get("observation"), source=_source())


@blp.route("/<int:ticket_id>/close", methods=["POST"], endpoint="close")
@requires("api:tickets.write")
@blp.arguments(CloseIn, example={"reason_id": 2, "note": "Boleto reenviado."})
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_close(data, ticket_id):
    """Finaliza o atendimento.

    Quando o departamento exige um motivo, `reason_id` é obrigatório (422 sem ele); o
    motivo precisa valer para o departamento."""
    return ticket_rules.close(_ticket(ticket_id), None, reason_id=data.get("reason_id"),
                              farewell_id=data.get("farewell_id"), note=data.get("note"),
                              source=_source())


@blp.route("/<int:ticket_id>/reopen", methods=["POST"], endpoint="reopen")
@requires("api:tickets.write")
@blp.arguments(AcceptIn, example={"agent_id": 7})
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_reopen(data, ticket_id):
    """Reabre um atendimento finalizado, com o atendente informado."""
    return ticket_rules.reopen_for(_ticket(ticket_id), data["agent_id"], source=_source())


@blp.route("/<int:ticket_id>/tags", methods=["PUT"], endpoint="tags")
@requires("api:tickets.write")
@blp.arguments(TicketTagsIn, example={"tag_ids": [4]})
@blp.response(200, TicketDetail, example=DETAIL_EXAMPLE)
def ticket_tags(data, ticket_id):
    """Define as etiquetas da empresa no atendimento (substitui; lista vazia tira todas)."""
    return ticket_rules.set_company_tags(_ticket(ticket_id), data["tag_ids"], source=_source())
