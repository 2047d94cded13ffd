"""The provider channels' side of the contract (CHN-1, CHN-2, CHN-4): the kinds whose
provider posts webhooks to `/hooks/<kind>/<public key>` (WhatsApp Cloud API, Telegram
Bot API, Messenger and Instagram through Meta's Graph API). One module per provider
implements a `ProviderAdapter`; channels/hooks.py and services/channel_events.py drive it.

The request path answers the provider at once (it retries slow answers):
1. GET: `handshake(args)` returns the text to answer (Meta's `hub.challenge`), or raises
   `Forbidden` (wrong verify token) / InboundError.
2. POST: `verify(headers, raw)` on the raw body, before anything is parsed or stored
   (HMAC compared in constant time); False -> 403, logged, nothing stored.
3. `split(payload)` turns the parsed JSON into `ProviderEvent`s, one per item (a message,
   a status, an echo...), each with the provider's id as `key`: stored as ChannelEvent
   rows, unique per connection, so a redelivery stores nothing new.

The job path (services.channel_events.process) then calls, per stored item:
4. kind "message": `inbound(data) -> Inbound`, downloading media through the provider's
   media API (`fetch_media` helpers below check type and size like the inbox); an
   unsupported type becomes a visible placeholder text, never nothing;
5. kind "status": `status(data) -> StatusUpdate`;
   any other kind: `other(data)` (default: nothing to do).
   `TransientError` from either asks for a retry with backoff.

Sending: `send(message)` speaks the provider's send API through `call()` (lib/outbound:
the SSRF-safe helper, SEC-2) and maps its errors: `SendError` to retry (429, 5xx,
timeouts), `PermanentSendError` with the reason in Portuguese. Base URLs come from the app
config (WHATSAPP_API_URL, META_GRAPH_URL, TELEGRAM_API_URL), so tests point them at a
local fake provider.

Configuration: `fields` lists the kind's settings; public ones live in
`connection.settings`, secret ones in `connection.credentials` (encrypted, SEC-8, never
shown again). `test_connection()` asks the provider and returns what it found in
Portuguese, or RuleError saying what is wrong.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime, timezone

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..lib import outbound
from ..models import ContactAddress
from ..services import RuleError
from ..services.catalog import DEFAULT_COLOR
from ..services.templates import Upload, read_upload
from .base import Adapter, Inbound, InboundError, PermanentSendError, SendError

DEFAULT_URLS = {
    "WHATSAPP_API_URL": "https://graph.facebook.com/v21.0",
    "META_GRAPH_URL": "https://graph.facebook.com/v21.0",
    "TELEGRAM_API_URL": "https://api.telegram.org",
}
MAX_WEBHOOK_BYTES = 1024 * 1024  # a provider's webhook body; larger is refused (413)


class Forbidden(Exception):
    """A webhook request that does not prove it comes from the provider (403)."""


class TransientError(Exception):
    """Processing a stored item failed for a reason that may pass (the provider's media
    API timed out, a receipt arrived before its message was saved): retried later."""


@dataclass(frozen=True)
class Field:
    """One setting of a provider connection, as the Conexões form and the CLI show it."""

    name: str
    label: object
    secret: bool = False
    required: bool = True
    help: object = ""
    max_length: int = 255


@dataclass(frozen=True)
class ProviderEvent:
    """One item of a webhook: `key` unique per connection (the provider's id; 200 chars
    at most), `kind` ("message", "status", ...), `data` a JSON-able dict the job reads."""

    key: str
    kind: str
    data: dict


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt. Either `external_ids` (the provider's ids of our messages) or a
    `watermark` (Meta: everything sent to `address` up to that moment)."""

    status: str                       # sent, delivered, read, failed
    external_ids: tuple = ()
    address: str | None = None
    watermark: datetime | None = None
    error: str | None = None          # failed: the reason, in Portuguese


@dataclass
class Reply:
    """A provider's answer, parsed: the status and the JSON body (or {})."""

    status: int
    data: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    raw: bytes = b""


def base_url(name: str) -> str:
    return (current_app.config.get(name) or DEFAULT_URLS[name]).rstrip("/")


def hmac_sha256(secret: str, raw: bytes) -> str:
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two texts (False when either is missing)."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def upload_from_bytes(data: bytes, name: str | None, mime: str | None) -> Upload:
    """Downloaded media as an inbox attachment, checked by content, extension and size
    like an agent's upload (RuleError in Portuguese when refused). A provider file often
    has no name: one is made from the MIME type ("imagem.jpg")."""
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    name = (name or "").strip()
    if not name or "." not in name:
        ext = mimetypes.guess_extension((mime or "").split(";")[0].strip()) or ""
        ext = {".jpe": ".jpg", ".oga": ".ogg"}.get(ext, ext)
        name = (name or "arquivo") + ext
    limit = int(current_app.config.get("MESSAGE_MAX_BYTES") or 16 * 1024 * 1024)
    return read_upload(FileStorage(stream=BytesIO(data), filename=name), limit=limit)


def media_refusal(label: str, reason: str) -> str:
    """The placeholder text of a media the inbox could not keep, shown to the agent."""
    # "[Imagem: arquivo não recebido — ...]": one wording that agrees with every label
    return _("[%(label)s: arquivo não recebido — %(reason)s]", label=label, reason=reason)


class ProviderAdapter(Adapter):
    """Base of the webhook-driven kinds; see the module docstring for the contract."""

    fields: tuple[Field, ...] = ()
    url_setting = ""          # WHATSAPP_API_URL, META_GRAPH_URL or TELEGRAM_API_URL
    window_hours = 24         # CHN-4: free text only this long after the customer wrote

    # -- configuration ---------------------------------------------------------------
    def validate_config(self, connection) -> None:
        """Every required field present (secrets may be kept from before), none too
        long; the webchat's and HTTP API's fields are not kept."""
        connection.widget_title = connection.widget_greeting = None
        connection.widget_color = DEFAULT_COLOR
        connection.endpoint_url = None
        connection.endpoint_secret = None
        for f in self.fields:
            value = connection.secret(f.name) if f.secret else connection.setting(f.name)
            if isinstance(value, str):
                value = value.strip()
                (connection.set_secret if f.secret else connection.set_setting)(f.name, value)
            if not value:
                if f.required:
                    raise RuleError(_("Informe %(field)s.", field=str(f.label)))
                continue
            if len(value) > f.max_length:
                raise RuleError(_("%(field)s pode ter no máximo %(max)d caracteres.",
                                  field=str(f.label), max=f.max_length))

    def test_connection(self) -> str:  # pragma: no cover - interface
        """Ask the provider whether the credentials work; a sentence on success."""
        raise NotImplementedError

    # Telegram: the webhook is registered by us (setWebhook), not in the provider's panel
    registers_webhook = False

    def register_webhook(self, url: str) -> str:  # pragma: no cover - interface
        """Tell the provider to post to `url`; a sentence on success, RuleError else."""
        raise NotImplementedError

    # -- webhooks ----------------------------------------------------------------------
    def handshake(self, args) -> str:
        raise InboundError(_("Esta conexão não usa verificação por GET."))

    def verify(self, headers, raw: bytes) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def split(self, payload) -> list[ProviderEvent]:  # pragma: no cover - interface
        raise NotImplementedError

    def inbound(self, data: dict) -> Inbound:  # pragma: no cover - interface
        raise NotImplementedError

    def status(self, data: dict) -> StatusUpdate | None:  # pragma: no cover - interface
        raise NotImplementedError

    def other(self, data: dict) -> None:
        return None

    def simulated(self, address: str, text: str, name: str | None = None,
                  external_id: str | None = None) -> tuple[bytes, dict]:  # pragma: no cover
        """A text message from `address` exactly as the provider would post it to our
        webhook, signed with this connection's secret: (raw body, headers). Used by
        `flask channels simulate`, the benchmarks and the tests."""
        raise NotImplementedError

    def simulated_status(self, external_id: str, status: str,
                         address: str | None = None) -> tuple[bytes, dict]:  # pragma: no cover
        """A signed receipt ("delivered", "read", ...) for our message `external_id`, as
        the provider posts it (Telegram has none: NotImplementedError)."""
        raise NotImplementedError

    def parse_inbound(self, request) -> list[Inbound]:
        """The contract's synchronous form (tests, tools): verify, split, and each message
        item as an Inbound (media downloaded now). The webhook route stores the items and
        lets a job do the rest instead."""
        raw = request.get_data(cache=True)
        if not self.verify(request.headers, raw):
            raise InboundError(_("Assinatura inválida."))
        return [self.inbound(e.data) for e in self.split(parse_json(raw))
                if e.kind == "message"]

    # -- calling the provider -------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{base_url(self.url_setting)}/{path.lstrip('/')}"

    def call(self, method: str, path_or_url: str, *, json_body=None, body: bytes | None = None,
             headers: dict | None = None, max_bytes: int = 256 * 1024) -> Reply:
        """One request to the provider through lib/outbound. Any HTTP answer comes back as
        a Reply (4xx and 5xx included, with the provider's JSON error) for `explain` to
        read; only no answer at all (unreachable, timeout) raises OutboundError."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url(path_or_url)
        headers = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        try:
            response = outbound.request(method, url, body=body, headers=headers,
                                        max_bytes=max_bytes)
        except outbound.Refused as exc:
            return Reply(status=exc.status, data=_json_of(exc.body), headers=exc.headers,
                         raw=exc.body)
        return Reply(status=response.status, data=_json_of(response.body),
                     headers=response.headers, raw=response.body)

    def recipient(self, ticket) -> str:
        """The contact's address on this connection, the one they last wrote from (a
        WhatsApp contact may have two: with and without the ninth digit)."""
        found = db.session.scalars(
            select(ContactAddress).where(ContactAddress.contact_id == ticket.contact_id,
                                         ContactAddress.connection_id == self.connection.id)
            .order_by(ContactAddress.last_inbound_at.desc().nulls_last(),
                      ContactAddress.id.desc())).first()
        if found is None:
            raise PermanentSendError(_("O contato não tem endereço nesta conexão."))
        return found.address


def from_epoch(value) -> datetime | None:
    """A provider's Unix time (seconds or milliseconds) as naive UTC."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 10**11:  # milliseconds
        number /= 1000
    return datetime.fromtimestamp(number, timezone.utc).replace(tzinfo=None)


def parse_json(raw: bytes):
    try:
        return json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InboundError(_("Requisição inválida: o corpo não é JSON.")) from exc


def _json_of(raw) -> dict:
    try:
        found = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, TypeError):
        return {}
    return found if isinstance(found, dict) else {"result": found}


def retry_or_fail(reply: Reply, reason: str) -> None:
    """Raise for a failed send: SendError (retried) for 408, 429 and 5xx, else
    PermanentSendError with `reason` (Portuguese, shown to the agent)."""
    if reply.status in (408, 429) or reply.status >= 500:
        raise SendError(reason)
    raise PermanentSendError(reason)


__all__ = ["Field", "Forbidden", "MAX_WEBHOOK_BYTES", "ProviderAdapter",
           "ProviderEvent", "Reply", "from_epoch", "StatusUpdate", "TransientError", "base_url",
           "hmac_sha256", "media_refusal", "parse_json", "retry_or_fail",
           "same", "upload_from_bytes"]
