"""The company's webhooks through the API (API-1, WHK-1): list, read, create, change,
delete, a new signing secret, and the delivery log with "Reenviar".

The rules are those of the Webhooks screen (services/webhooks.py: public http(s) URL,
known events, generated secret). The secret appears in two answers only, the 201 of the
creation and the answer of POST /secret, as on the screen where it is shown once: no
other answer of the API carries it.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ... import events
from ...extensions import db
from ...models.webhooks import DELIVERY_STATUSES, Webhook, WebhookDelivery
from ...services import webhooks as rules
from ...webhooks import delivery as deliveries
from ..core import audit, blueprint, company_id, fetch, requires, scoped
from ..idempotency import idempotent
from ..pagination import PageArgs, page, page_schema
from ..fields import UtcDateTime

EVENT_NAMES = list(events.EVENTS)
EXAMPLE_URL = "https://erp.empresa.com.br/atende/webhook"
EXAMPLE_SECRET = "Jx3kq9VwZ0sXhT1bYp8uLr2mNc5dFg7aQe4iOw6zKyE"

_events = fields.List(
    fields.String(validate=validate.OneOf(EVENT_NAMES)), validate=validate.Length(min=1),
    metadata={"description": "Os eventos enviados para a URL (ao menos um).",
              "example": ["ticket.created", "message.created"]})


class WebhookIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=80),
                         metadata={"description": "Para reconhecer a integração.", "example": "ERP"})
    url = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={
        "description": "Endereço público que recebe os eventos (POST), http:// ou https://; "
                       "endereços locais ou da rede interna não são aceitos.",
        "example": EXAMPLE_URL})
    events = _events
    active = fields.Boolean(load_default=True, metadata={
        "description": "Desligado, o webhook não recebe eventos.", "example": True})


class WebhookChange(Schema):
    """Only the fields sent change."""

    name = fields.String(validate=validate.Length(min=1, max=80), metadata={"example": "ERP novo"})
    url = fields.String(validate=validate.Length(min=1, max=500), metadata={"example": EXAMPLE_URL})
    events = _events
    active = fields.Boolean(metadata={"example": False})


class WebhookOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 5})
    name = fields.String(required=True, metadata={"example": "ERP"})
    url = fields.String(required=True, metadata={"example": EXAMPLE_URL})
    events = fields.List(fields.String(), required=True,
                         metadata={"example": ["ticket.created", "message.created"]})
    active = fields.Boolean(required=True, metadata={"example": True})
    created_at = UtcDateTime(required=True, metadata={"example": "2026-12-01T12:00:00+00:00"})
    failing_since = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "Desde quando as entregas falham (null quando a última deu certo); "
                       "após 24 horas de falhas o webhook é desligado.", "example": None})
    disabled_at = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "Quando o sistema desligou o webhook por falhas.", "example": None})


class WebhookCreated(WebhookOut):
    secret = fields.String(required=True, metadata={
        "description": "Segredo das assinaturas (X-Atende-Signature). Mostrado só nesta "
                       "resposta: guarde-o.", "example": EXAMPLE_SECRET})


class SecretOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 5})
    secret = fields.String(required=True, metadata={
        "description": "O novo segredo; o anterior deixou de valer. Mostrado só nesta resposta.",
        "example": EXAMPLE_SECRET})


class DeliveryOut(Schema):
    id = fields.Integer(required=True, metadata={"example": 812})
    event_id = fields.String(required=True, metadata={
        "description": "Id do evento (o mesmo em cada reenvio).",
        "example": "5b0c7a3e-2f1d-4c8e-9a57-3d2b1e0f9c11"})
    event = fields.String(required=True, metadata={"example": "ticket.created"})
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES), metadata={
        "description": "pending (aguardando tentativa), sending, delivered ou failed.",
        "example": "delivered"})
    attempts = fields.Integer(required=True, metadata={"example": 1})
    response_status = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Código HTTP da última resposta do receptor.", "example": 200})
    error = fields.String(required=True, allow_none=True, metadata={"example": None})
    created_at = UtcDateTime(required=True, metadata={"example": "2026-12-01T12:00:00+00:00"})
    last_attempt_at = UtcDateTime(required=True, allow_none=True,
                                  metadata={"example": "2026-12-01T12:00:01+00:00"})
    next_attempt_at = UtcDateTime(required=True, allow_none=True, metadata={"example": None})
    delivered_at = UtcDateTime(required=True, allow_none=True,
                               metadata={"example": "2026-12-01T12:00:01+00:00"})


WEBHOOK_EXAMPLE = {"id": 5, "name": "ERP", "url": EXAMPLE_URL,
                   "events": ["ticket.created", "message.created"], "active": True,
                   "created_at": "2026-12-01T12:00:00+00:00", "failing_since": None,
                   "disabled_at": None}
DELIVERY_EXAMPLE = {"id": 812, "event_id": "5b0c7a3e-2f1d-4c8e-9a57-3d2b1e0f9c11",
                    "event": "ticket.created", "status": "delivered", "attempts": 1,
                    "response_status": 200, "error": None,
                    "created_at": "2026-12-01T12:00:00+00:00",
                    "last_attempt_at": "2026-12-01T12:00:01+00:00", "next_attempt_at": None,
                    "delivered_at": "2026-12-01T12:00:01+00:00"}

# "webhooks" is the name of the admin screen's blueprint
blp = blueprint("api_webhooks", "/webhooks",
                "Webhooks: a URL que recebe os eventos escolhidos, assinados com o segredo "
                "do webhook, e o registro das entregas.")
BLUEPRINTS = [blp]


@blp.route("/", methods=["GET"], endpoint="list")
@requires("api:webhooks.manage")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(WebhookOut, "WebhookPage"),
              example={"data": [WEBHOOK_EXAMPLE], "next_cursor": None})
def list_webhooks(args):
    """Lista os webhooks da empresa.

    O segredo nunca aparece aqui."""
    return page(scoped(Webhook), Webhook.id, args)


@blp.route("/<int:webhook_id>", methods=["GET"], endpoint="get")
@requires("api:webhooks.manage")
@blp.response(200, WebhookOut, example=WEBHOOK_EXAMPLE)
def get_webhook(webhook_id):
    """Consulta um webhook pelo id."""
    return fetch(Webhook, webhook_id)


@blp.route("/", methods=["POST"], endpoint="create")
@idempotent
@requires("api:webhooks.manage")
@blp.arguments(WebhookIn, example={"name": "ERP", "url": EXAMPLE_URL,
                                   "events": ["ticket.created", "message.created"]})
@blp.response(201, WebhookCreated, example={**WEBHOOK_EXAMPLE, "secret": EXAMPLE_SECRET})
def create_webhook(data):
    """Cria um webhook.

    A resposta traz o segredo das assinaturas, que não é mostrado de novo: guarde-o.
    Uma URL de endereço local ou da rede interna, ou sem http:// ou https://, é recusada
    (422)."""
    hook = Webhook(company_id=company_id(), name=rules.check_name(data["name"]),
                   url=rules.check_url(data["url"]), events=rules.check_events(data["events"]),
                   active=data["active"], secret=rules.new_secret())
    db.session.add(hook)
    audit("create", hook)
    return hook  # WebhookCreated: the one answer that carries `secret`


@blp.route("/<int:webhook_id>", methods=["PATCH"], endpoint="update")
@requires("api:webhooks.manage")
@blp.arguments(WebhookChange, example={"events": ["ticket.closed"], "active": True})
@blp.response(200, WebhookOut, example=WEBHOOK_EXAMPLE)
def update_webhook(data, webhook_id):
    """Altera nome, URL, eventos ou se está ativo.

    Só mudam os campos enviados. Religar um webhook desligado por falhas zera a contagem
    das 24 horas."""
    hook = fetch(Webhook, webhook_id)
    if "name" in data:
        hook.name = rules.check_name(data["name"])
    if "url" in data:
        hook.url = rules.check_url(data["url"])
    if "events" in data:
        hook.events = rules.check_events(data["events"])
    if "active" in data:
        if data["active"] and not hook.active:
            hook.failing_since = hook.disabled_at = None
        hook.active = data["active"]
    audit("update", hook)
    return hook


@blp.route("/<int:webhook_id>", methods=["DELETE"], endpoint="delete")
@requires("api:webhooks.manage")
@blp.response(204)
def delete_webhook(webhook_id):
    """Exclui um webhook e o registro das suas entregas."""
    hook = fetch(Webhook, webhook_id)
    audit("delete", hook)
    db.session.delete(hook)
    return None


@blp.route("/<int:webhook_id>/secret", methods=["POST"], endpoint="secret")
@requires("api:webhooks.manage")
@blp.response(200, SecretOut, example={"id": 5, "secret": EXAMPLE_SECRET})
def regenerate_secret(webhook_id):
    """Gera um novo segredo de assinatura.

    O segredo atual deixa de valer na hora; o novo só aparece nesta resposta."""
    hook = fetch(Webhook, webhook_id)
    secret = rules.regenerate_secret(hook)
    audit("update", hook)  # the secret itself is masked (services.audit.MASKED)
    return {"id": hook.id, "secret": secret}


@blp.route("/<int:webhook_id>/deliveries", methods=["GET"], endpoint="deliveries")
@requires("api:webhooks.manage")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(DeliveryOut, "WebhookDeliveryPage"),
              example={"data": [DELIVERY_EXAMPLE], "next_cursor": None})
def list_deliveries(args, webhook_id):
    """Lista as entregas de um webhook, das mais novas às mais antigas."""
    hook = fetch(Webhook, webhook_id)
    return page(scoped(WebhookDelivery, WebhookDelivery.webhook_id == hook.id),
                WebhookDelivery.id, args)


@blp.route("/<int:webhook_id>/deliveries/<int:delivery_id>/resend", methods=["POST"],
           endpoint="resend")
@requires("api:webhooks.manage")
@blp.response(202, DeliveryOut, example={**DELIVERY_EXAMPLE, "status": "pending", "attempts": 0,
                                         "delivered_at": None})
def resend_delivery(webhook_id, delivery_id):
    """Reenvia uma entrega.

    O mesmo corpo (o mesmo id de evento) é enviado de novo, com nova assinatura; as
    tentativas recomeçam. Uma entrega sendo enviada agora é recusada (422)."""
    hook = fetch(Webhook, webhook_id)
    return deliveries.resend(fetch(WebhookDelivery, delivery_id,
                                   WebhookDelivery.webhook_id == hook.id))
