"""Generic "API HTTP" connection: each outgoing message is POSTed as JSON to the
connection's URL, signed with HMAC-SHA256 of the body when a secret is set
(header X-Atende-Signature: sha256=<hex>). 2xx = sent (the JSON reply's "id", if any, is
kept as the provider id); 4xx = refused for good; anything else = retried."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import urllib.error
import urllib.request

from .base import Adapter, PermanentSendError, SendError

TIMEOUT = 10


class HttpApiAdapter(Adapter):
    kind = "http_api"

    def payload(self, message) -> dict:
        from ..services import serialize

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
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise PermanentSendError(f"HTTP {exc.code} do destino") from exc
            raise SendError(f"HTTP {exc.code} do destino") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            # the agent reads this next to the message: say what happened in Portuguese,
            # not the operating system's English text
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                what = "o destino não respondeu a tempo"
            elif isinstance(reason, ConnectionRefusedError):
                what = "conexão recusada"
            elif isinstance(reason, socket.gaierror):
                what = "endereço não encontrado"
            else:
                what = "falha de rede"
            raise SendError(f"destino inacessível: {what}") from exc
        try:
            reply = json.loads(raw or b"{}")
        except ValueError:
            return None
        found = reply.get("id") if isinstance(reply, dict) else None
        return str(found)[:120] if found is not None else None
