"""Messages (API-1): a ticket's conversation, one message and its status, and sending
text, a file or a WhatsApp approved template to a ticket or to a phone number.

Sending goes through the inbox's queue (services.api_sending -> services.sending): the
message is saved as queued and the answer is 202; a job delivers it and its status moves
on (sent, delivered, read, or failed with the reason), as GET /messages/<id> shows and
the message.status_changed webhook tells.
"""
from __future__ import annotations

from flask import g, url_for
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import noload, selectinload

from ...extensions import db
from ...models import Connection, Message, Ticket
from ...models.tickets import MESSAGE_STATUSES
from ...services import api_sending, attachments
from ...services.messages import MAX_TEXT
from ...services.serialize import author_name
from ...web.downloads import private_file
from ..core import blueprint, fetch, requires, scoped
from ..idempotency import idempotent
from ..pagination import PageArgs, page, page_schema
from ..problems import ApiError
from ..fields import ID, UtcDateTime

messages = blueprint("mensagens", "/messages",
                     "Envio de mensagens (texto, arquivo ou modelo aprovado do WhatsApp) e "
                     "consulta do status de cada uma.")
conversation = blueprint("conversa", "/tickets",
                         "A conversa de um atendimento: as mensagens, da mais nova para a "
                         "mais antiga.")
BLUEPRINTS = [messages, conversation]



def bounded(longest: int) -> list:
    """Not blank and at most `longest` characters, each with its own Portuguese message
    (marshmallow's "between" message reads as a count of items)."""
    return [validate.Length(min=1), validate.Length(max=longest)]


# --- output -------------------------------------------------------------------------------


class MediaOut(Schema):
    name = fields.String(required=True, metadata={"example": "pedido-123.pdf"})
    mime = fields.String(required=True, metadata={"example": "application/pdf"})
    size = fields.Integer(required=True, metadata={"description": "Tamanho em bytes.",
                                                   "example": 48213})
    url = fields.String(required=True, metadata={
        "description": "Onde baixar o arquivo: GET com o mesmo token (permissão "
                       "api:messages.read).",
        "example": "https://atende.example.com.br/api/v1/messages/981/media"})


class MessageOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 981})
    ticket_id = fields.Integer(required=True, metadata={"example": 120})
    direction = fields.String(required=True, metadata={
        "description": "`in`: do cliente; `out`: enviada pela empresa.", "example": "out"})
    author_kind = fields.String(required=True, metadata={
        "description": "`contact`, `agent`, `bot` (automações e API) ou `system`.",
        "example": "bot"})
    author = fields.String(required=True, allow_none=True, metadata={
        "description": "Nome do atendente, ou `API: <token>` para o que a API enviou.",
        "example": "API: ERP"})
    text = fields.String(required=True, allow_none=True, metadata={
        "example": "Seu pedido 123 saiu para entrega."})
    media = fields.Nested(MediaOut, required=True, allow_none=True,
                          metadata={"description": "O arquivo anexado, ou null."})
    status = fields.String(required=True, metadata={
        "description": "queued (na fila), sending, sent, delivered, read ou failed.",
        "example": "queued"})
    status_label = fields.String(required=True, metadata={"example": "Na fila"})
    error = fields.String(required=True, allow_none=True, metadata={
        "description": "Por que o envio falhou (status failed), em português."})
    created_at = UtcDateTime(required=True, metadata={"example": "2026-12-01T12:00:00+00:00"})
    sent_at = UtcDateTime(required=True, allow_none=True)
    delivered_at = UtcDateTime(required=True, allow_none=True)
    read_at = UtcDateTime(required=True, allow_none=True)


class SentOut(MessageOut):
    contact_id = fields.Integer(required=True, metadata={"example": 57})


MESSAGE_EXAMPLE = {
    "id": 981, "ticket_id": 120, "direction": "out", "author_kind": "bot",
    "author": "API: ERP", "text": "Seu pedido 123 saiu para entrega.", "media": None,
    "status": "sent", "status_label": "Enviada", "error": None,
    "created_at": "2026-12-01T12:00:00+00:00", "sent_at": "2026-12-01T12:00:01+00:00",
    "delivered_at": None, "read_at": None,
}


def message_out(m: Message) -> dict:
    return {
        "id": m.id, "ticket_id": m.ticket_id, "direction": m.direction,
        "author_kind": m.author_kind, "author": author_name(m), "text": m.text,
        "media": ({"name": m.file_name or "", "mime": m.file_mime or "",
                   "size": m.file_size or 0,
                   "url": url_for("mensagens.media", message_id=m.id, _external=True)}
                  if m.file_key else None),
        "status": m.status, "status_label": str(MESSAGE_STATUSES.get(m.status, m.status)),
        "error": m.error, "created_at": m.created_at, "sent_at": m.sent_at,
        "delivered_at": m.delivered_at, "read_at": m.read_at,
    }


# --- input ----------------------------------------------------------------------------------


class MediaIn(Schema):
    filename = fields.String(required=True, validate=bounded(255), metadata={
        "description": "Nome do arquivo, com a extensão (ela e o conteúdo dizem o tipo).",
        "example": "pedido-123.pdf"})
    content_base64 = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "O arquivo em base64 (até 16 MB). Imagem JPEG, PNG, GIF ou WebP, "
                       "vídeo MP4, áudio MP3 ou OGG, documento PDF, DOCX ou XLSX.",
        "example": "JVBERi0xLjQK..."})
    caption = fields.String(load_default=None, validate=validate.Length(max=MAX_TEXT),
                            metadata={"description": "Texto junto do arquivo.",
                                      "example": "Segue o boleto."})


class TemplateRef(Schema):
    """Um modelo aprovado do WhatsApp da conexão, pelo id ou pelo nome."""

    template_id = fields.Integer(load_default=None, strict=True, validate=ID, metadata={
        "description": "Id do modelo aprovado (ou informe `name`).", "example": 12})
    name = fields.String(load_default=None, validate=bounded(512), metadata={
        "description": "Nome do modelo no WhatsApp (ou informe `template_id`).",
        "example": "pedido_enviado"})
    language = fields.String(load_default=None, validate=bounded(15), metadata={
        "description": "Idioma, quando o nome existe em mais de um.", "example": "pt_BR"})

    @validates_schema
    def _one_way(self, data, **_kw):
        if (data.get("template_id") is None) == (data.get("name") is None):
            raise ValidationError(_("Informe template_id ou name do modelo (um dos dois)."))


class TemplateIn(TemplateRef):
    variables = fields.Dict(
        keys=fields.String(validate=bounded(10)),
        values=fields.String(validate=validate.Length(max=1024)), load_default=dict,
        metadata={"description": "Valor de cada variável do corpo, pelo número: "
                                 "{\"1\": \"Maria\"} preenche {{1}}.",
                  "example": {"1": "Maria", "2": "123"}})


class SendIn(Schema):
    ticket_id = fields.Integer(strict=True, validate=ID, metadata={
        "description": "Atendimento em que a mensagem vai (ou `connection_id` e `phone`).",
        "example": 120})
    connection_id = fields.Integer(strict=True, validate=ID, metadata={
        "description": "Conexão do WhatsApp por onde enviar a `phone`.", "example": 3})
    phone = fields.String(validate=bounded(40), metadata={
        "description": "Telefone do cliente, com DDD: o contato e o atendimento são "
                       "encontrados ou criados.", "example": "+55 11 98765-4321"})
    text = fields.String(validate=bounded(MAX_TEXT), metadata={
        "example": "Seu pedido 123 saiu para entrega."})
    media = fields.Nested(MediaIn, metadata={"description": "Um arquivo (em vez de `text`)."})
    template = fields.Nested(TemplateIn, metadata={
        "description": "Um modelo aprovado do WhatsApp (em vez de `text`): o único envio "
                       "aceito fora da janela de 24 horas."})

    @validates_schema
    def _one_target_one_content(self, data, **_kw):
        by_ticket = "ticket_id" in data
        by_phone = "connection_id" in data or "phone" in data
        if by_ticket == by_phone:
            raise ValidationError(_("Informe ticket_id, ou connection_id e phone (um dos "
                                    "dois destinos)."))
        if by_phone and not ("connection_id" in data and "phone" in data):
            raise ValidationError(_("Para enviar a um telefone, informe connection_id e "
                                    "phone."))
        if sum(k in data for k in ("text", "media", "template")) != 1:
            raise ValidationError(_("Informe um conteúdo: text, media ou template (só um)."))


# --- routes -----------------------------------------------------------------------------------


@conversation.route("/<int:ticket_id>/messages", methods=["GET"], endpoint="list")
@requires("api:messages.read")
@conversation.arguments(PageArgs, location="query")
@conversation.response(200, page_schema(MessageOut, "MessagePage"),
                       example={"data": [MESSAGE_EXAMPLE], "next_cursor": None})
def ticket_messages(args, ticket_id):
    """Lista as mensagens de um atendimento.

    Da mais nova para a mais antiga, paginadas por cursor."""
    ticket = fetch(Ticket, ticket_id)
    # the agents' names in one query; the tags are not part of the answer
    query = scoped(Message, Message.ticket_id == ticket.id).options(
        selectinload(Message.author), noload(Message.tags))
    found = page(query, Message.id, args)
    return {"data": [message_out(m) for m in found["data"]],
            "next_cursor": found["next_cursor"]}


@messages.route("/<int:message_id>", methods=["GET"], endpoint="get")
@requires("api:messages.read")
@messages.response(200, MessageOut, example=MESSAGE_EXAMPLE)
def get_message(message_id):
    """Consulta uma mensagem e o status do envio."""
    return message_out(fetch(Message, message_id))


MEDIA_DOC = {"type": "string", "format": "binary"}


@messages.route("/<int:message_id>/media", methods=["GET"], endpoint="media")
@requires("api:messages.read")
@messages.response(200, MEDIA_DOC, content_type="application/octet-stream",
                   description="O arquivo, como download com o nome original.",
                   example="(o conteúdo do arquivo)")
def message_media(message_id):
    """Baixa o arquivo de uma mensagem.

    O arquivo que o cliente mandou ou que foi enviado a ele (imagem, áudio, vídeo ou
    documento), com o nome original em Content-Disposition. O tipo vem em Content-Type
    para imagens JPEG, PNG, GIF e WebP, áudio MP3 e OGG, vídeo MP4 e PDF; os demais vêm
    como application/octet-stream. Uma mensagem sem arquivo responde 404."""
    message = fetch(Message, message_id)
    found = attachments.file_of(message)
    if found is None:
        raise ApiError(404, _("Esta mensagem não tem arquivo para baixar.") if not message.file_key
                       else _("O arquivo desta mensagem não está mais disponível."))
    return private_file(found, message.file_name, message.file_mime)


def owned_in_body(model, row_id, field: str, message: str):
    """A row of the token's company named in the body, or 422 on that field."""
    row = db.session.scalar(scoped(model, model.id == row_id))
    if row is None:
        raise ApiError(422, message, {"corpo": {field: [message]}})
    return row


@messages.route("/", methods=["POST"], endpoint="send")
@idempotent
@requires("api:messages.send", large_body=True)
@messages.arguments(SendIn, example={"ticket_id": 120,
                                     "text": "Seu pedido 123 saiu para entrega."})
@messages.response(202, SentOut, example={**MESSAGE_EXAMPLE, "status": "queued",
                                          "status_label": "Na fila", "sent_at": None,
                                          "contact_id": 57})
def send_message(data):
    """Envia uma mensagem.

    Para um atendimento (`ticket_id`) ou para um telefone numa conexão do WhatsApp
    (`connection_id` e `phone`: o contato e o atendimento são encontrados ou criados),
    com um conteúdo: `text`, `media` (arquivo em base64) ou `template` (modelo aprovado
    do WhatsApp e suas variáveis). A mensagem entra na fila (status `queued`) e é
    entregue em seguida; acompanhe em GET /api/v1/messages/{id}. No WhatsApp, fora da
    janela de 24 horas desde a última mensagem do cliente, só um modelo aprovado é
    aceito (422 com o motivo). Um atendimento finalizado recusa a mensagem (422)."""
    upload = None
    if "media" in data:
        media = data["media"]
        upload = api_sending.decode_file(media["filename"], media["content_base64"])
    if "ticket_id" in data:
        ticket = owned_in_body(Ticket, data["ticket_id"], "ticket_id",
                               _("Atendimento não encontrado."))
    else:
        connection = owned_in_body(Connection, data["connection_id"], "connection_id",
                            _("Conexão não encontrada."))
        ticket = api_sending.ticket_for_phone(connection, data["phone"])
    template = None
    if "template" in data:
        wanted = data["template"]
        template = api_sending.provider_template(ticket.connection, wanted["template_id"],
                                                 wanted["name"], wanted["language"])
    text = data.get("text") if upload is None else data["media"]["caption"]
    message = api_sending.send(ticket, g.api_token, text=text, upload=upload,
                               template=template,
                               variables=data["template"]["variables"] if template else None)
    return {**message_out(message), "contact_id": ticket.contact_id}
