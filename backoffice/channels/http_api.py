"""Generic "API HTTP" connection: each outgoing message is POSTed as JSON to the
connection's URL, signed with HMAC-SHA256 of the body when a secret is set
(header X-Atende-Signature: sha256=<hex>). 2xx = sent (the JSON reply's "id", if any, is
kept as the provider id); 3xx/4xx = refused for good (408 and 429 retried); anything else
= retried. Sent through lib/outbound (SEC-2): public addresses only, no redirects, and
errors in generic words for the agent, details in the server log.

Receives nothing through parse_inbound (`receives_inbound = False`): the contact's side
posts through the company's own integration, not to a route of ours."""
from __future__ import annotations

import hashlib
import hmac
import json

from flask_babel import lazy_gettext as _l

from ..lib import outbound
from ..services import RuleError, serialize
from ..services.catalog import DEFAULT_COLOR
from ..services.webhooks import check_url
from .base import Adapter, PermanentSendError, SendError, clean_field

ENDPOINT_REQUIRED = _l("Informe a URL de envio: a conexão API HTTP envia as mensagens "
                       "para ela.")


class HttpApiAdapter(Adapter):
    kind = "http_api"
    receives_inbound = False

    def validate_config(self, connection) -> None:
        """The URL messages are posted to (required; public http(s), SEC-2) and the
        optional signing secret. The widget's fields are not kept (no widget here)."""
        connection.widget_title = connection.widget_greeting = None
        connection.widget_color = DEFAULT_COLOR
        url = clean_field(connection.endpoint_url)
        if url is None:
            raise RuleError(ENDPOINT_REQUIRED)
        url = check_url(url)
        if len(url) > 500:
            raise RuleError(_l("A URL pode ter no máximo 500 caracteres."))
        connection.endpoint_url = url
        connection.endpoint_secret = clean_field(connection.endpoint_secret)
        if connection.endpoint_secret and len(connection.endpoint_secret) > 128:
            raise RuleError(_l("O segredo pode ter no máximo 128 caracteres."))

    def parse_inbound(self, request):
        raise NotImplementedError("the HTTP API connection receives nothing from a route")

    def payload(self, message) -> dict:
        ticket = message.ticket
        contact = ticket.contact
        return {
            "event": "message.outgoing",
            "message_id": message.id,
            "ticket": {"id": ticket.id, "protocol": ticket.protocol},
            "contact": {"id": contact.id, "name": contact.name, "phone": contact.phone,
                        "addresses": [a.address for a in contact.addresses
                                      if a.connection_id == self.connection.id]},
            "text": message.text or "",
            "attachment": ({"name": message.file_name, "mime": message.file_mime,
                            "size": message.file_size} if message.file_key else None),
            "created_at": serialize.iso(message.created_at),
        }

    def send(self, message) -> str | None:
        url = self.connection.endpoint_url
        if not url:
            raise PermanentSendError("conexão sem URL de envio")
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": f"atende-message-{message.id}"}
        secret = self.connection.endpoint_secret
        if secret:
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Atende-Signature"] = f"sha256={digest}"
        try:
            response = outbound.post(url, body, headers)
        except outbound.Refused as exc:
            # the company reads generic words; the status is in the server log
            if exc.permanent:
                raise PermanentSendError(str(exc)) from exc
            raise SendError(str(exc)) from exc
        except outbound.OutboundError as exc:
            raise SendError(str(exc)) from exc
        raw = b"" if response.truncated else response.body
        try:
            reply = json.loads(raw or b"{}")
        except ValueError:
            return None
        found = reply.get("id") if isinstance(reply, dict) else None
        return str(found)[:120] if found is not None else None
