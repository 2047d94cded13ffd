"""WhatsApp Cloud API (issue 12; CHN-1, CHN-2, CHN-4, MSG-1): the ProviderAdapter of the
`whatsapp` kind. The contract it implements is channels/provider.py's docstring.

- Webhook: Meta's GET handshake (hub.verify_token), POSTs signed with X-Hub-Signature-256
  (HMAC-SHA256 of the raw body with the app secret). One ProviderEvent per message (key:
  its wamid) and per receipt (key: "status:<wamid>:<status>").
- Inbound: every documented message type. Media is downloaded through the Graph API
  (GET /{media-id}, then its URL, both with the Bearer token) and checked like an
  agent's upload; location, contact cards, reactions and button replies become a
  readable text and go to Message.extra; anything else becomes a visible placeholder.
  The address is the sender's wa_id; `phone` is "+" + wa_id, so a Brazilian mobile seen
  with and without the ninth digit ends on one contact (services.tickets).
- Outbound: text, a file (uploaded to POST /{phone_number_id}/media, then sent by id),
  or an approved template (Message.extra["template"], see services.provider_templates).
  Errors are explained in Portuguese: rate limits, 5xx and no answer are retried
  (SendError), the rest fail for good with what the agent should do.
"""
from __future__ import annotations

import json
import logging
import secrets
import time
from urllib.parse import quote

import urllib3
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..lib import outbound
from ..services import RuleError
from ..services.messages import MAX_TEXT
from ..services.templates import human_size
from .base import Inbound, InboundError, PermanentSendError, SendError
from .provider import (
    Field, Forbidden, ProviderAdapter, ProviderEvent, Reply, StatusUpdate, TransientError,
    hmac_sha256, media_refusal, same, upload_from_bytes,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_CAPTION = 1024            # WhatsApp's limit on a media caption
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # larger images are refused as images: sent as documents
SENDABLE_IMAGES = ("image/jpeg", "image/png")

# Graph API error codes (developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes)
OUTSIDE_WINDOW = 131047
TOKEN_INVALID = 190
RETRY_CODES = frozenset({4, 80007, 130429, 131056, 131000, 131016, 133004})

MEDIA_KINDS = ("image", "audio", "video", "document", "sticker")
MEDIA_LABELS = {
    "image": _l("Imagem"), "audio": _l("Áudio"), "voice": _l("Mensagem de voz"),
    "video": _l("Vídeo"), "document": _l("Documento"), "sticker": _l("Figurinha"),
}
# a provider file often has no name: upload_from_bytes adds the extension
MEDIA_NAMES = {"image": "imagem", "audio": "audio", "voice": "audio", "video": "video",
               "document": "documento", "sticker": "figurinha"}


class _NotGiven(Exception):
    """The provider answered but will not give the file (gone, no access): a placeholder."""


def cut(text) -> str:
    """A customer's text as the inbox keeps it: never refused for its length (a message
    is never lost), cut to MAX_TEXT instead."""
    text = text.replace("\x00", "").strip() if isinstance(text, str) else ""
    return text[:MAX_TEXT]


def _dict(value) -> dict:
    """A part of a provider's JSON that should be an object; {} when it is not (the
    request is signed, but an odd shape must cost a placeholder, not a crash)."""
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _digits(value) -> bool:
    return isinstance(value, str) and value.isascii() and value.isdigit()


def _join(*parts) -> str:
    return cut("\n".join(p for p in parts if p))


def explain(code, detail: str | None = None, status: int | None = None) -> str:
    """The Portuguese reason of a WhatsApp error code, with the code and the provider's
    own words for support."""
    reasons = {
        OUTSIDE_WINDOW: _("Fora da janela de 24 horas: envie um modelo aprovado."),
        TOKEN_INVALID: _("O token de acesso do WhatsApp é inválido ou expirou: gere um novo "
                         "token no painel da Meta e atualize a conexão."),
        131026: _("Mensagem não entregue: o número pode não ter WhatsApp ou não aceitou os "
                  "termos mais recentes do WhatsApp."),
        131051: _("O WhatsApp não aceita este tipo de mensagem."),
        132000: _("O número de variáveis não confere com o modelo aprovado: sincronize os "
                  "modelos e tente de novo."),
        132001: _("O modelo não existe neste idioma ou não está aprovado: sincronize os "
                  "modelos e escolha outro."),
        100: _("O WhatsApp recusou um parâmetro da mensagem."),
    }
    if code in RETRY_CODES:
        reason = _("O WhatsApp limitou ou adiou o envio; uma nova tentativa será feita em "
                   "instantes.")
    elif code in reasons:
        reason = reasons[code]
    elif code is None and status is not None:
        reason = _("O WhatsApp respondeu com erro HTTP %(status)s.", status=status)
    else:
        reason = _("O WhatsApp recusou a mensagem.")
    if code is None:
        return reason
    return _("%(reason)s (código %(code)s: %(detail)s)", reason=reason, code=code,
             detail=(detail or "-").strip()[:200])


def error_of(reply: Reply) -> tuple[int | None, str | None]:
    """The Graph API error code and its most specific description in an answer."""
    error = reply.data.get("error") if isinstance(reply.data, dict) else None
    if not isinstance(error, dict):
        return None, None
    details = (error.get("error_data") or {}).get("details") \
        if isinstance(error.get("error_data"), dict) else None
    code = error.get("code")
    return (code if isinstance(code, int) else None,
            details or error.get("error_user_msg") or error.get("message"))


def media_kind(mime: str | None, size: int | None) -> str:
    """How WhatsApp is asked to show a file: image (JPEG/PNG within 5 MB), video (MP4),
    audio, or else a document, which carries any type."""
    mime = (mime or "").split(";")[0].strip().lower()
    if mime in SENDABLE_IMAGES and (size or 0) <= MAX_IMAGE_BYTES:
        return "image"
    if mime == "video/mp4":
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    return "document"


class WhatsAppAdapter(ProviderAdapter):
    kind = "whatsapp"
    url_setting = "WHATSAPP_API_URL"
    fields = (
        Field("phone_number_id", _l("ID do número de telefone (Phone number ID)"),
              help=_l("No painel da Meta: WhatsApp > Configuração da API."), max_length=40),
        Field("waba_id", _l("ID da conta do WhatsApp Business (WABA ID)"),
              help=_l("Usado para sincronizar os modelos de mensagem aprovados."),
              max_length=40),
        Field("access_token", _l("Token de acesso"), secret=True, max_length=1024,
              help=_l("Token permanente de um usuário do sistema, com as permissões "
                      "whatsapp_business_messaging e whatsapp_business_management.")),
        Field("app_secret", _l("Chave secreta do aplicativo (App Secret)"), secret=True,
              max_length=128, help=_l("Confere a assinatura de cada webhook recebido.")),
        Field("verify_token", _l("Token de verificação do webhook"), secret=True,
              max_length=128,
              help=_l("O mesmo texto informado no painel da Meta ao cadastrar o webhook.")),
    )

    # -- configuration ---------------------------------------------------------------------
    def validate_config(self, connection) -> None:
        """The base checks, and the two ids digits only: they are put in the Graph API's
        URL paths, where anything else could reach another endpoint."""
        super().validate_config(connection)
        for f in self.fields[:2]:
            value = connection.setting(f.name)
            if value and not _digits(value):
                raise RuleError(_("%(field)s deve ter apenas números.", field=str(f.label)))

    def graph_id(self, name: str) -> str:
        """A numeric id setting (phone_number_id, waba_id), safe in a Graph API path."""
        value = (self.connection.setting(name) or "").strip()
        if not _digits(value):
            label = next(str(f.label) for f in self.fields if f.name == name)
            raise RuleError(_("%(field)s deve ter apenas números.", field=label))
        return value

    def auth(self) -> dict:
        token = self.connection.secret("access_token")
        if not token:
            raise RuleError(_("Informe %(field)s.", field=str(self.fields[2].label)))
        return {"Authorization": f"Bearer {token}"}

    def graph_get(self, path: str, failed: str | None = None, **kwargs) -> Reply:
        """A GET the admin waits for ("Testar conexão", "Sincronizar modelos"): the 2xx
        answer, else RuleError in Portuguese (no answer, bad token, the provider's reason,
        prefixed with `failed` when given)."""
        try:
            reply = self.call("GET", path, headers=self.auth(), **kwargs)
        except outbound.OutboundError as exc:
            raise RuleError(_("O WhatsApp não respondeu. Verifique a conexão do servidor "
                              "com a internet e tente de novo.")) from exc
        code, detail = error_of(reply)
        if reply.status == 401 or code == TOKEN_INVALID:
            raise RuleError(_("O token de acesso é inválido ou expirou. Gere um novo token no "
                              "painel da Meta e salve a conexão de novo."))
        if not 200 <= reply.status < 300:
            reason = explain(code, detail, reply.status)
            raise RuleError(_("%(failed)s: %(reason)s", failed=failed, reason=reason)
                            if failed else reason)
        return reply

    def test_connection(self) -> str:
        reply = self.graph_get(f"{self.graph_id('phone_number_id')}"
                               "?fields=display_phone_number,verified_name")
        number = str(reply.data.get("display_phone_number") or "").strip()
        if number and not number.startswith("+"):
            number = "+" + number
        name = str(reply.data.get("verified_name") or "").strip()
        if name:
            return _("Conectado ao número %(number)s (%(name)s).", number=number, name=name)
        return _("Conectado ao número %(number)s.", number=number)

    # -- webhook: request path -------------------------------------------------------------
    def handshake(self, args) -> str:
        if args.get("hub.mode") != "subscribe":
            raise InboundError(_("Requisição inválida: não é uma verificação do WhatsApp."))
        if not same(args.get("hub.verify_token"), self.connection.secret("verify_token")):
            raise Forbidden()
        challenge = args.get("hub.challenge") or ""
        if not challenge or len(challenge) > 200:
            raise InboundError(_("Requisição inválida: não é uma verificação do WhatsApp."))
        return challenge

    def verify(self, headers, raw: bytes) -> bool:
        secret = self.connection.secret("app_secret")
        given = headers.get(SIGNATURE_HEADER) or ""
        if not secret or not given.startswith("sha256="):
            return False
        return same(given[len("sha256="):].strip().lower(), hmac_sha256(secret, raw))

    def split(self, payload) -> list[ProviderEvent]:
        if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account" \
                or not isinstance(payload.get("entry"), list):
            raise InboundError(_("Requisição inválida: não é um evento do WhatsApp."))
        mine = self.connection.setting("phone_number_id")
        items: list[ProviderEvent] = []
        for entry in payload["entry"]:
            for change in _list(_dict(entry).get("changes")):
                if _dict(change).get("field") != "messages":
                    continue  # template status, account updates...: nothing for the inbox
                value = _dict(change.get("value"))
                number = str(_dict(value.get("metadata")).get("phone_number_id") or "")
                if mine and number and number != mine:
                    # one Meta app may post every number's events to one URL: another
                    # number's customers must not land on this connection
                    log.warning("whatsapp connection %s: event for number %s ignored",
                                self.connection.id, number)
                    continue
                items.extend(self._items(value))
                for error in _list(value.get("errors")):
                    log.warning("whatsapp connection %s: webhook error %s",
                                self.connection.id, error)
        return items

    def _items(self, value: dict) -> list[ProviderEvent]:
        names = {}
        for contact in map(_dict, _list(value.get("contacts"))):
            names[str(contact.get("wa_id"))] = _dict(contact.get("profile")).get("name")
        items = []
        for message in _list(value.get("messages")):
            if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
                log.warning("whatsapp connection %s: message without id or sender ignored",
                            self.connection.id)
                continue
            sender = str(message["from"])
            name = names.get(sender) or (next(iter(names.values())) if len(names) == 1 else None)
            items.append(ProviderEvent(key=str(message["id"])[:200], kind="message",
                                       data={"message": message, "name": name}))
        for status in _list(value.get("statuses")):
            if isinstance(status, dict) and status.get("id") and status.get("status"):
                key = f"status:{status['id']}:{status['status']}"[:200]
                items.append(ProviderEvent(key=key, kind="status", data=status))
        return items

    # -- webhook: job path -------------------------------------------------------------------
    def inbound(self, data: dict) -> Inbound:
        message = _dict(_dict(data).get("message"))
        sender = str(message.get("from") or "").strip()
        if not _digits(sender):
            raise InboundError(_("Requisição inválida: não é um evento do WhatsApp."))
        kind = str(message.get("type") or "unknown")
        text, uploads, extra, reply_to = self._content(kind, message)
        context = _dict(message.get("context"))
        if not reply_to and context.get("id"):
            reply_to = str(context["id"])[:120]
        if not text and not uploads:
            text = self._unsupported(kind)
        name = data.get("name")
        return Inbound(address=sender, name=name if isinstance(name, str) else None,
                       text=text, attachments=tuple(uploads),
                       external_id=str(message.get("id") or "")[:120] or None,
                       reply_to=reply_to, phone="+" + sender, extra=extra or None)

    def _content(self, kind: str, message: dict):
        """(text, uploads, extra, reply_to) of one message."""
        body = _dict(message.get(kind))
        if kind == "text":
            return cut(body.get("body")), [], {}, None
        if kind in MEDIA_KINDS:
            label = "voice" if kind == "audio" and body.get("voice") else kind
            text, uploads = self._media(label, body)
            return text, uploads, {}, None
        if kind == "location":
            return self._location(body)
        if kind == "contacts":
            return self._contacts(message.get("contacts"))
        if kind == "reaction":
            emoji = cut(body.get("emoji"))
            target = str(body.get("message_id") or "") or None
            text = (_("Reagiu com %(emoji)s a uma mensagem.", emoji=emoji) if emoji
                    else _("Removeu a reação de uma mensagem."))
            return text, [], {"reaction": {"message_id": target, "emoji": emoji}}, target
        if kind == "interactive" and body.get("type") in ("button_reply", "list_reply"):
            chosen = _dict(body.get(body["type"]))
            title = cut(chosen.get("title"))
            extra = {"interactive": {"type": body["type"], "id": chosen.get("id"),
                                     "title": title,
                                     "description": chosen.get("description")}}
            return _("Resposta escolhida: %(title)s", title=title), [], extra, None
        if kind == "button":
            title = cut(body.get("text"))
            extra = {"interactive": {"type": "button", "id": body.get("payload"),
                                     "title": title}}
            return _("Resposta escolhida: %(title)s", title=title), [], extra, None
        return self._unsupported(kind), [], {}, None

    @staticmethod
    def _unsupported(kind: str) -> str:
        return _("[Mensagem do tipo %(type)s não suportada pelo Atende]", type=kind[:40])

    def _location(self, body: dict):
        lat, lng = body.get("latitude"), body.get("longitude")
        parts = [" — ".join(cut(p) for p in (body.get("name"), body.get("address")) if cut(p))]
        has_point = isinstance(lat, (int, float)) and isinstance(lng, (int, float))
        if has_point:
            parts.append(f"({lat}, {lng})")
        text = _("Localização: %(place)s", place=" ".join(p for p in parts if p) or "-")
        if has_point:  # a link the agent can open; the inbox shows it as text
            text += f"\nhttps://www.google.com/maps?q={lat},{lng}"
        location = {"latitude": lat, "longitude": lng, "name": body.get("name"),
                    "address": body.get("address")}
        return cut(text), [], {"location": location}, None

    def _contacts(self, cards):
        lines, found = [], []
        for card in _list(cards):
            if not isinstance(card, dict):
                continue
            name = cut(_dict(card.get("name")).get("formatted_name"))
            phones = [cut(p.get("phone")) for p in _list(card.get("phones"))
                      if isinstance(p, dict) and p.get("phone")]
            found.append({"name": name, "phones": phones})
            lines.append(_("Contato compartilhado: %(name)s %(phones)s", name=name or "-",
                           phones=", ".join(phones)).strip())
        if not found:
            return self._unsupported("contacts"), [], {}, None
        extra = {"contact": found[0]} if len(found) == 1 else {"contact": found[0],
                                                               "contacts": found}
        return _join(*lines), [], extra, None

    def _media(self, label: str, body: dict):
        caption = cut(body.get("caption"))
        title = str(MEDIA_LABELS[label])
        try:
            upload = self._download(body, MEDIA_NAMES[label])
        except _NotGiven:
            return _join(media_refusal(title, _("o provedor não entregou o arquivo")),
                         caption), []
        except RuleError as exc:  # the inbox's type and size rules
            return _join(media_refusal(title, str(exc)), caption), []
        return caption, [upload]

    def _download(self, body: dict, default_name: str):
        """The media as an Upload. TransientError when the provider did not answer or
        answered 5xx/429 (the job retries); _NotGiven for any other refusal."""
        media_id = str(body.get("id") or "")
        if not media_id or len(media_id) > 100:
            raise _NotGiven()
        limit = int(current_app.config.get("MESSAGE_MAX_BYTES") or 16 * 1024 * 1024)
        try:
            found = self.call("GET", quote(media_id, safe=""), headers=self.auth())
            self._check_media(found)
            url = str(found.data.get("url") or "")
            if not url.startswith(("https://", "http://")):
                raise _NotGiven()
            size = found.data.get("file_size")
            if isinstance(size, int) and size > limit:
                raise RuleError(_("Arquivo grande demais: máximo %(size)s",
                                  size=human_size(limit)))
            got = self.call("GET", url, headers=self.auth(), max_bytes=limit + 1)
            self._check_media(got)
        except outbound.OutboundError as exc:
            raise TransientError(f"whatsapp media {media_id}: {exc.detail}") from exc
        mime = next((m for m in (body.get("mime_type"), found.data.get("mime_type"),
                                 got.headers.get("Content-Type")) if isinstance(m, str)), None)
        name = body.get("filename") if isinstance(body.get("filename"), str) else None
        return upload_from_bytes(got.raw, name or default_name, mime)

    @staticmethod
    def _check_media(reply: Reply) -> None:
        if reply.status in (408, 429) or reply.status >= 500:
            raise TransientError(f"whatsapp media: HTTP {reply.status}")
        if not 200 <= reply.status < 300:
            raise _NotGiven()

    def status(self, data: dict) -> StatusUpdate | None:
        """delivered / read / failed. "sent" changes nothing: the message is sent once
        the API accepted it (and a "sent" for a message sent elsewhere would be retried
        as a receipt that came too early)."""
        data = _dict(data)
        found = data.get("status")
        if found not in ("delivered", "read", "failed") or not data.get("id"):
            return None
        error = None
        if found == "failed":
            first = _dict((_list(data.get("errors")) or [None])[0])
            code = first.get("code") if isinstance(first.get("code"), int) else None
            error = explain(code, first.get("title") or _dict(first.get("error_data"))
                            .get("details") or first.get("message"))
        return StatusUpdate(status=found, external_ids=(str(data["id"]),),
                            address=str(data.get("recipient_id") or "") or None, error=error)

    # -- sending ------------------------------------------------------------------------------
    def send(self, message) -> str | None:
        try:
            return self._send(message)
        except RuleError as exc:  # configuration missing: retrying will not help
            raise PermanentSendError(str(exc)) from exc
        except outbound.OutboundError as exc:
            raise SendError(str(exc)) from exc

    def _send(self, message) -> str | None:
        from ..services import attachments

        to = self.recipient(message.ticket)
        extra = message.extra or {}
        text = message.text or ""
        template = extra.get("template")
        if isinstance(template, dict) and template.get("name"):
            return self._post(to, {"type": "template", "template": _template_body(template)},
                              extra)
        if not message.file_key:
            return self._post(to, _text_body(text), extra)
        path = attachments.file_of(message)
        if path is None:
            raise PermanentSendError(_("O arquivo anexado não foi encontrado no servidor."))
        kind = media_kind(message.file_mime, message.file_size)
        media = {"id": self._upload(path.read_bytes(), message.file_name or path.name,
                                    message.file_mime or "application/octet-stream")}
        captioned = kind != "audio" and len(text) <= MAX_CAPTION
        if text and captioned:
            media["caption"] = text
        if kind == "document":
            media["filename"] = message.file_name or path.name
        wamid = self._post(to, {"type": kind, kind: media}, extra)
        if text and not captioned:  # audio has no caption; the text follows on its own
            self._post(to, _text_body(text), {})
        return wamid

    def _upload(self, data: bytes, name: str, mime: str) -> str:
        body, content_type = urllib3.encode_multipart_formdata({
            "messaging_product": "whatsapp", "type": mime, "file": (name, data, mime)})
        reply = self.call("POST", f"{self.graph_id('phone_number_id')}/media", body=body,
                          headers={**self.auth(), "Content-Type": content_type})
        self._raise_for(reply)
        media_id = reply.data.get("id")
        if not media_id:
            raise SendError(_("O WhatsApp não devolveu o identificador do arquivo enviado."))
        return str(media_id)

    def _post(self, to: str, content: dict, extra: dict) -> str | None:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                **content}
        quoted = extra.get("reply_to")
        quoted = quoted.get("external_id") if isinstance(quoted, dict) else quoted
        if isinstance(quoted, str) and quoted:
            body["context"] = {"message_id": quoted}
        reply = self.call("POST", f"{self.graph_id('phone_number_id')}/messages", json_body=body,
                          headers=self.auth())
        self._raise_for(reply)
        sent = reply.data.get("messages")
        if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
            return str(sent[0]["id"])[:120]
        return None

    @staticmethod
    def _raise_for(reply: Reply) -> None:
        if 200 <= reply.status < 300:
            return
        code, detail = error_of(reply)
        reason = explain(code, detail, reply.status)
        if code in RETRY_CODES or reply.status in (408, 429) or reply.status >= 500:
            raise SendError(reason, retry_after=_retry_after(reply.headers))
        raise PermanentSendError(reason)

    # -- simulation (flask channels simulate, benchmarks, tests) --------------------------------
    def _signed(self, value: dict) -> tuple[bytes, dict]:
        number = self.connection.setting("phone_number_id") or "0"
        payload = {"object": "whatsapp_business_account", "entry": [{
            "id": self.connection.setting("waba_id") or "0",
            "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550000000",
                             "phone_number_id": number},
                **value}}]}]}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        signature = hmac_sha256(self.connection.secret("app_secret") or "", raw)
        return raw, {SIGNATURE_HEADER: f"sha256={signature}",
                     "Content-Type": "application/json"}

    def simulated(self, address: str, text: str, name: str | None = None,
                  external_id: str | None = None) -> tuple[bytes, dict]:
        external_id = external_id or f"wamid.{secrets.token_hex(16)}"
        return self._signed({
            "contacts": [{"profile": {"name": name or ""}, "wa_id": address}],
            "messages": [{"from": address, "id": external_id, "timestamp": str(int(time.time())),
                          "type": "text", "text": {"body": text}}]})

    def simulated_status(self, external_id: str, status: str,
                         address: str | None = None) -> tuple[bytes, dict]:
        item = {"id": external_id, "status": status, "timestamp": str(int(time.time())),
                "recipient_id": address or "5511987654321"}
        if status == "failed":
            item["errors"] = [{"code": OUTSIDE_WINDOW, "title": "Re-engagement message",
                               "message": "Re-engagement message",
                               "error_data": {"details": "Message failed to send because "
                                              "more than 24 hours have passed since the "
                                              "customer last replied to this number."}}]
        return self._signed({"statuses": [item]})


def _retry_after(headers: dict) -> float | None:
    """An HTTP Retry-After in seconds (the Graph API rarely sends one; honoured when it
    does)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _text_body(text: str) -> dict:
    return {"type": "text", "text": {"body": text, "preview_url": False}}


def _template_body(template: dict) -> dict:
    language = template.get("language")
    if isinstance(language, str):
        language = {"code": language}
    return {"name": template["name"], "language": language or {"code": "pt_BR"},
            "components": list(template.get("components") or [])}
