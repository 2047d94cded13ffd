"""Scheduled messages (API-1, AUT-5): list, get, create and cancel, with the rules of the
Agendamentos screen (automation.scheduled): a time in the future, a contact that has an
address on the connection, the text or a template. What the API schedules is sent by the
system (no user created it) when its minute comes.
"""
from __future__ import annotations

from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ...automation import scheduled as rules
from ...models import Connection
from ...models.automation import REPEATS, SCHEDULE_STATUSES, ScheduledMessage
from ...services import api_sending, hours
from ..core import audit, blueprint, company_id, fetch, requires, scoped
from ..idempotency import idempotent
from ..pagination import PageArgs, page, page_schema
from ..fields import ID, UtcDateTime
from .messages import TemplateRef, bounded, owned_in_body

blp = blueprint("agendamentos", "/scheduled",
                "Mensagens agendadas para um contato numa data e hora (como na tela "
                "Agendamentos).")
BLUEPRINTS = [blp]



class ScheduledOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 31})
    contact_id = fields.Integer(required=True, metadata={"example": 57})
    connection_id = fields.Integer(required=True, allow_none=True, metadata={"example": 3})
    text = fields.String(required=True, allow_none=True, metadata={
        "example": "Lembrete: sua consulta é amanhã às 9h."})
    provider_template_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Modelo aprovado do WhatsApp enviado em vez do texto."})
    message_template_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Template de mensagem da empresa usado."})
    send_at = UtcDateTime(required=True, metadata={
        "description": "Quando será enviada (UTC).", "example": "2026-12-05T12:00:00+00:00"})
    repeat = fields.String(required=True, metadata={
        "description": "none, daily, weekly ou monthly.", "example": "none"})
    status = fields.String(required=True, metadata={
        "description": "scheduled, sending, sent, failed ou cancelled.", "example": "scheduled"})
    status_label = fields.String(required=True, metadata={"example": "Agendada"})
    error = fields.String(required=True, allow_none=True, metadata={
        "description": "Por que o envio falhou, em português."})
    sent_count = fields.Integer(required=True, metadata={"example": 0})
    last_sent_at = UtcDateTime(required=True, allow_none=True)
    ticket_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Atendimento do último envio."})
    message_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Mensagem do último envio (consulte em /api/v1/messages/{id})."})
    created_at = UtcDateTime(required=True)


class ScheduledCreatedOut(ScheduledOut):
    warning = fields.String(required=True, allow_none=True, metadata={
        "description": "Aviso quando o texto vai encontrar a janela de 24 horas fechada."})


EXAMPLE = {
    "id": 31, "contact_id": 57, "connection_id": 3,
    "text": "Lembrete: sua consulta é amanhã às 9h.", "provider_template_id": None,
    "message_template_id": None, "send_at": "2026-12-05T12:00:00+00:00", "repeat": "none",
    "status": "scheduled", "status_label": "Agendada", "error": None, "sent_count": 0,
    "last_sent_at": None, "ticket_id": None, "message_id": None,
    "created_at": "2026-12-01T12:00:00+00:00",
}


def scheduled_out(item: ScheduledMessage) -> dict:
    return {
        "id": item.id, "contact_id": item.contact_id, "connection_id": item.connection_id,
        "text": item.text, "provider_template_id": item.provider_template_id,
        "message_template_id": item.template_id, "send_at": item.send_at,
        "repeat": item.repeat, "status": item.status,
        "status_label": str(SCHEDULE_STATUSES.get(item.status, item.status)),
        "error": item.error, "sent_count": item.sent_count or 0,
        "last_sent_at": item.last_sent_at, "ticket_id": item.ticket_id,
        "message_id": item.message_id, "created_at": item.created_at,
    }


class ListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(list(SCHEDULE_STATUSES)),
                           metadata={"description": "Só os desta situação."})
    contact_id = fields.Integer(load_default=None, validate=ID,
                                metadata={"description": "Só os deste contato."})


class ScheduleIn(Schema):
    connection_id = fields.Integer(required=True, strict=True, validate=ID, metadata={
        "description": "Conexão por onde a mensagem sai.", "example": 3})
    contact_id = fields.Integer(strict=True, validate=ID, metadata={
        "description": "Contato (que já escreveu nesta conexão), ou informe `phone`.",
        "example": 57})
    phone = fields.String(validate=bounded(40), metadata={
        "description": "Telefone (conexão do WhatsApp): o contato é encontrado ou criado.",
        "example": "+55 11 98765-4321"})
    send_at = fields.DateTime(required=True, metadata={
        "description": "Data e hora do envio, no futuro (ISO 8601; sem fuso: UTC). "
                       "Minutos exatos: os segundos são ignorados.",
        "example": "2026-12-05T09:00:00-03:00"})
    text = fields.String(validate=bounded(rules.MAX_TEXT), metadata={
        "description": "O texto; aceita as variáveis das mensagens ({{nome}}...).",
        "example": "Lembrete: sua consulta é amanhã às 9h."})
    template = fields.Nested(TemplateRef, metadata={
        "description": "Um modelo aprovado do WhatsApp sem variáveis, ou só com {{1}} "
                       "(preenchida com o primeiro nome do cliente)."})
    message_template_id = fields.Integer(strict=True, validate=ID, metadata={
        "description": "Um template de mensagem da empresa (texto ou anexo)."})
    repeat = fields.String(load_default="none", validate=validate.OneOf(list(REPEATS)),
                           metadata={"description": "none, daily, weekly ou monthly.",
                                     "example": "none"})

    @validates_schema
    def _one_of_each(self, data, **_kw):
        if ("contact_id" in data) == ("phone" in data):
            raise ValidationError(_("Informe contact_id ou phone (um dos dois)."))
        if "template" in data and ("text" in data or "message_template_id" in data):
            raise ValidationError(_("Um modelo aprovado do WhatsApp é a mensagem inteira: "
                                    "não envie text nem message_template_id com ele."))
        if not any(k in data for k in ("text", "template", "message_template_id")):
            raise ValidationError(_("Escreva a mensagem (text) ou escolha um template."))


@blp.route("/", methods=["GET"], endpoint="list")
@requires("api:scheduled.read")
@blp.arguments(ListArgs, location="query")
@blp.response(200, page_schema(ScheduledOut, "ScheduledPage"),
              example={"data": [EXAMPLE], "next_cursor": None})
def list_scheduled(args):
    """Lista as mensagens agendadas.

    Da mais nova para a mais antiga; filtre por `status` e `contact_id`."""
    conditions = []
    if args["status"]:
        conditions.append(ScheduledMessage.status == args["status"])
    if args["contact_id"]:
        conditions.append(ScheduledMessage.contact_id == args["contact_id"])
    found = page(scoped(ScheduledMessage, *conditions), ScheduledMessage.id, args)
    return {"data": [scheduled_out(i) for i in found["data"]],
            "next_cursor": found["next_cursor"]}


@blp.route("/<int:scheduled_id>", methods=["GET"], endpoint="get")
@requires("api:scheduled.read")
@blp.response(200, ScheduledOut, example=EXAMPLE)
def get_scheduled(scheduled_id):
    """Consulta uma mensagem agendada."""
    return scheduled_out(fetch(ScheduledMessage, scheduled_id))


@blp.route("/", methods=["POST"], endpoint="create")
@idempotent
@requires("api:scheduled.write")
@blp.arguments(ScheduleIn, example={"connection_id": 3, "contact_id": 57,
                                    "send_at": "2026-12-05T09:00:00-03:00",
                                    "text": "Lembrete: sua consulta é amanhã às 9h."})
@blp.response(201, ScheduledCreatedOut, example={**EXAMPLE, "warning": None})
def create_scheduled(data):
    """Agenda uma mensagem.

    Para um contato (`contact_id`, que já tenha escrito na conexão) ou um telefone
    (`phone`, numa conexão do WhatsApp), com `text`, um modelo aprovado (`template`) ou
    um template da empresa (`message_template_id`), em `send_at` no futuro, repetindo ou
    não. `warning` avisa quando o texto vai encontrar a janela de 24 horas do WhatsApp
    fechada (só um modelo aprovado passa)."""
    cid = company_id()
    connection = owned_in_body(Connection, data["connection_id"], "connection_id",
                               _("Conexão não encontrada."))
    contact = data.get("contact_id")
    if "phone" in data:
        contact = api_sending.contact_for_phone(connection, data["phone"])
    provider = None
    if "template" in data:
        wanted = data["template"]
        provider = api_sending.provider_template(connection, wanted["template_id"],
                                                 wanted["name"], wanted["language"])
    local = hours.local_time(data["send_at"], rules.zone_of(cid)).replace(tzinfo=None)
    item = rules.create_for(cid, contact, connection, local, text=data.get("text"),
                            template=data.get("message_template_id"),
                            provider_template=provider, repeat=data["repeat"])
    audit("create", item)
    return {**scheduled_out(item), "warning": rules.window_warning(item)}


@blp.route("/<int:scheduled_id>/cancel", methods=["POST"], endpoint="cancel")
@requires("api:scheduled.write")
@blp.response(200, ScheduledOut, example={**EXAMPLE, "status": "cancelled",
                                          "status_label": "Cancelada"})
def cancel_scheduled(scheduled_id):
    """Cancela uma mensagem agendada.

    Só as que ainda esperam o envio (status `scheduled`); as outras: 422."""
    item = fetch(ScheduledMessage, scheduled_id)
    before = item.status
    rules.cancel_pending(item)  # a conditional UPDATE: no pending change to read
    audit("update", item, {"status": [before, item.status]})
    return scheduled_out(item)
