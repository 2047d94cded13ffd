"""Messenger and Instagram through Meta's Graph API (issue 12; CHN-1, CHN-2, CHN-4).

One adapter, two kinds: Instagram's Messaging API is Messenger's Platform with another
webhook `object` ("instagram" instead of "page"), IGSIDs instead of PSIDs and a
username on the profile. Both:
- answer the hub.* verification handshake and check X-Hub-Signature-256 (the app secret);
- split a webhook into its `messaging` items: messages, echoes of our own sends
  (ignored), delivery and read receipts, reactions and postbacks;
- send through POST /{page_id}/messages with the page access token, tagged HUMAN_AGENT
  within Meta's 7-day spell (services.window decides; sending.queue marks extra["tag"]).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
import time
from pathlib import PurePosixPath
from urllib.parse import quote, urljoin, urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from urllib3 import encode_multipart_formdata

from ..extensions import db
from ..lib import outbound
from ..models import ContactAddress, Message, Ticket
from ..services import RuleError
from ..services.messages import MAX_TEXT, clean_text
from .base import Inbound, InboundError, PermanentSendError, SendError
from .provider import (
    Field, Forbidden, ProviderAdapter, ProviderEvent, StatusUpdate, TransientError,
    from_epoch, hmac_sha256, media_refusal, retry_or_fail, same, upload_from_bytes,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
MEDIA_TYPES = ("image", "audio", "video", "file")
MEDIA_LABELS = {"image": _l("Imagem"), "audio": _l("Áudio"), "video": _l("Vídeo"),
                "file": _l("Arquivo")}
HUMAN_AGENT_TAG = "HUMAN_AGENT"
WINDOW_SUBCODES = (2018278, 2018065)  # "sent outside of allowed window"
RATE_LIMIT_CODES = (4, 17, 32, 613)
TEMPORARY_CODES = (1, 2, 1200)
EXTERNAL_ID_MAX = 120        # Message.external_id
KEY_MAX = 200                # ChannelEvent.key
MAX_REDIRECTS = 3
_NUMERIC = re.compile(r"\d{1,40}")


def external_id(mid) -> str | None:
    """A Meta message id as Message.external_id. Instagram's mids can be longer than the
    column, and their first characters name the conversation, not the message: a cut
    would make two messages of one chat the same. Long ones are hashed instead, the same
    way wherever a mid is stored or looked up (inbound, reply_to, send, receipts)."""
    if not mid:
        return None
    mid = str(mid)
    if len(mid) <= EXTERNAL_ID_MAX:
        return mid
    return "sha256:" + hashlib.sha256(mid.encode()).hexdigest()


def _key(text: str) -> str:
    if len(text) <= KEY_MAX:
        return text
    return text[:KEY_MAX - 72] + ":" + hashlib.sha256(text.encode()).hexdigest()


def _text(text) -> str:
    """Customer text, cut to the inbox's limit: a long message is kept, not refused."""
    text = text if isinstance(text, str) else ""
    return clean_text(text.replace("\x00", "").strip()[:MAX_TEXT])


def _unsupported(kind) -> str:
    return _("[Mensagem do tipo %(type)s não suportada pelo Atende]", type=str(kind)[:40])


def _now_ms() -> int:
    # rounded up: a watermark "now" covers a message sent earlier in the same millisecond
    return math.ceil(time.time() * 1000)


class MessengerAdapter(ProviderAdapter):
    """Facebook Messenger (a Page's conversations)."""

    kind = "messenger"
    url_setting = "META_GRAPH_URL"
    webhook_object = "page"
    profile_fields = "name"            # a customer's profile
    account_fields = "name"            # the page, for test_connection
    fields = (
        Field("page_id", _l("ID da página do Facebook"), max_length=40,
              help=_l("Configurações da página > Transparência, ou o Meta Business Suite.")),
        Field("page_access_token", _l("Token de acesso da página"), secret=True,
              max_length=1000),
        Field("app_secret", _l("Chave secreta do app"), secret=True, max_length=200,
              help=_l("Painel do app no Meta for Developers > Configurações > Básico.")),
        Field("verify_token", _l("Token de verificação do webhook"), secret=True,
              max_length=200, help=_l("O mesmo texto informado ao configurar o webhook no "
                                      "Meta for Developers.")),
    )

    # -- configuration ---------------------------------------------------------------
    def validate_config(self, connection) -> None:
        super().validate_config(connection)
        # it goes into the Graph API path: digits only, nothing that could move the path
        if not _NUMERIC.fullmatch(connection.setting("page_id") or ""):
            raise RuleError(_("%(field)s deve ter só números.",
                              field=str(self.fields[0].label)))

    def _page(self) -> str:
        page_id = self.connection.setting("page_id") or ""
        if not _NUMERIC.fullmatch(page_id):
            raise PermanentSendError(_("A conexão está sem o ID da página: revise a "
                                       "configuração."))
        return page_id

    def _token_query(self) -> str:
        return "access_token=" + quote(self.connection.secret("page_access_token") or "", safe="")

    def test_connection(self) -> str:
        page_id = self.connection.setting("page_id") or ""
        if not _NUMERIC.fullmatch(page_id):
            raise RuleError(_("Informe %(field)s.", field=str(self.fields[0].label)))
        try:
            reply = self.call("GET", f"{page_id}?fields={self.account_fields}&{self._token_query()}")
        except outbound.OutboundError as exc:
            raise RuleError(str(exc)) from exc
        if reply.status in (401,) or _error(reply).get("code") == 190:
            raise RuleError(_("O token de acesso da página é inválido ou expirou: gere um "
                              "novo token no Meta e salve a conexão de novo."))
        if reply.status >= 400:
            raise RuleError(_("O Meta recusou a verificação: %(detail)s",
                              detail=_detail(reply)))
        return self._connected(reply.data)

    def _connected(self, data: dict) -> str:
        return _("Conectado à página %(name)s", name=str(data.get("name") or data.get("id")))

    # -- webhooks ----------------------------------------------------------------------
    def handshake(self, args) -> str:
        if args.get("hub.mode") != "subscribe" or not same(
                args.get("hub.verify_token"), self.connection.secret("verify_token")):
            raise Forbidden()
        challenge = args.get("hub.challenge") or ""
        if not challenge or len(challenge) > 200:
            raise InboundError(_("Requisição inválida: falta o hub.challenge."))
        return challenge

    def verify(self, headers, raw: bytes) -> bool:
        secret = self.connection.secret("app_secret")
        found = headers.get(SIGNATURE_HEADER) or ""
        if not secret or not found.startswith("sha256="):
            return False
        return same(found[len("sha256="):].strip().lower(), hmac_sha256(secret, raw or b""))

    def split(self, payload) -> list[ProviderEvent]:
        if not isinstance(payload, dict) or payload.get("object") != self.webhook_object:
            raise InboundError(_("Requisição inválida: este webhook não é do %(kind)s.",
                                 kind=self.connection.kind_label))
        entries = payload.get("entry")
        if not isinstance(entries, list):
            raise InboundError(_("Requisição inválida: falta a lista entry."))
        items: list[ProviderEvent] = []
        for entry in entries:
            messaging = entry.get("messaging") if isinstance(entry, dict) else None
            # "changes" (comments, mentions) and "standby" are not conversations we hold
            for item in messaging if isinstance(messaging, list) else ():
                items.append(self._event(item))
        return items

    def _event(self, item) -> ProviderEvent:
        if not isinstance(item, dict):
            raise InboundError(_("Requisição inválida: item de mensagem malformado."))
        psid = str((item.get("sender") or {}).get("id") or "")
        if not psid:
            raise InboundError(_("Requisição inválida: item sem remetente."))
        message, delivery, read = (item.get("message"), item.get("delivery"), item.get("read"))
        if isinstance(message, dict):
            mid = str(message.get("mid") or "")
            if not mid:
                raise InboundError(_("Requisição inválida: mensagem sem mid."))
            if message.get("is_echo"):  # our own send, told back: nothing to store
                return ProviderEvent(_key(f"echo:{mid}"), "other", item)
            return ProviderEvent(_key(mid), "message", item)
        if isinstance(delivery, dict):
            mark = delivery.get("watermark") or ",".join(map(str, delivery.get("mids") or ()))
            return ProviderEvent(_key(f"delivery:{mark}:{psid}"), "status", item)
        if isinstance(read, dict):
            # Instagram's read receipt names the message (mid) instead of a watermark
            mark = read.get("watermark") or read.get("mid")
            return ProviderEvent(_key(f"read:{mark}:{psid}"), "status", item)
        reaction = item.get("reaction")
        if isinstance(reaction, dict):
            return ProviderEvent(_key(f"reaction:{reaction.get('mid')}:{reaction.get('action')}"
                                      f":{reaction.get('emoji', '')}:{psid}"), "message", item)
        postback = item.get("postback")
        if isinstance(postback, dict):
            key = postback.get("mid") or f"postback:{item.get('timestamp')}:{psid}"
            return ProviderEvent(_key(str(key)), "message", item)
        # optin, referral, policy notices...: kept, nothing to do
        name = next((k for k in item if k not in ("sender", "recipient", "timestamp")), "")
        return ProviderEvent(_key(f"other:{name}:{item.get('timestamp')}:{psid}"), "other", item)

    # -- processing (the job) ------------------------------------------------------------
    def inbound(self, data: dict) -> Inbound:
        psid = str((data.get("sender") or {}).get("id") or "")
        name = self._profile_name(psid)
        reaction, postback = data.get("reaction"), data.get("postback")
        if isinstance(reaction, dict):
            reacted = reaction.get("emoji") or ""
            if reaction.get("action") == "unreact":
                text = _("Removeu a reação")
            else:
                text = _("Reagiu com %(emoji)s", emoji=reacted)
            return Inbound(address=psid, name=name, text=_text(text),
                           reply_to=external_id(reaction.get("mid")),
                           extra={"reaction": {"emoji": reacted,
                                               "action": reaction.get("action"),
                                               "mid": reaction.get("mid")}})
        if isinstance(postback, dict):
            title = postback.get("title") or postback.get("payload") or ""
            return Inbound(address=psid, name=name,
                           text=_text(title) or _unsupported("postback"),
                           external_id=external_id(postback.get("mid")),
                           extra={"postback": {"title": postback.get("title"),
                                               "payload": postback.get("payload")}})
        message = data.get("message") or {}
        parts = [message.get("text") or ""]
        uploads, extra = [], {}
        for attachment in message.get("attachments") or ():
            if not isinstance(attachment, dict):
                continue
            kind = attachment.get("type") or "unsupported"
            payload = attachment.get("payload") if isinstance(attachment.get("payload"), dict) else {}
            if kind in MEDIA_TYPES and isinstance(payload.get("url"), str):
                found, refusal = self._download(kind, payload["url"])
                if found is not None:
                    uploads.append(found)
                else:
                    parts.append(refusal)
            elif kind == "location" and isinstance(payload.get("coordinates"), dict):
                spot = payload["coordinates"]
                location = {"latitude": spot.get("lat"), "longitude": spot.get("long"),
                            "name": attachment.get("title")}
                extra["location"] = location
                parts.append(_("Localização: %(lat)s, %(lng)s", lat=location["latitude"],
                               lng=location["longitude"]))
            else:  # fallback (a shared link), story mentions, reels...: said, never dropped
                parts.append(_unsupported(kind))
        quick = message.get("quick_reply")
        if isinstance(quick, dict):
            extra["quick_reply"] = {"payload": quick.get("payload")}
        text = "\n".join(p for p in parts if p)
        if not text and not uploads:
            text = _unsupported("unsupported")
        reply_to = (message.get("reply_to") or {}).get("mid") \
            if isinstance(message.get("reply_to"), dict) else None
        return Inbound(address=psid, name=name, text=_text(text), attachments=tuple(uploads),
                       external_id=external_id(message.get("mid")),
                       reply_to=external_id(reply_to), extra=extra or None)

    def _profile_name(self, psid: str) -> str | None:
        """The customer's name from their profile, asked only for a first contact. Meta
        often refuses (privacy, app review): any failure leaves the default name."""
        if self.connection.id is None or not _NUMERIC.fullmatch(psid):
            return None
        known = db.session.scalar(select(ContactAddress.id).where(
            ContactAddress.connection_id == self.connection.id,
            ContactAddress.address == psid))
        if known is not None:
            return None
        try:
            reply = self.call("GET", f"{psid}?fields={self.profile_fields}&{self._token_query()}")
        except Exception as exc:  # never block a message on a name
            log.info("%s profile of %s not read: %s", self.kind, psid, exc)
            return None
        if reply.status != 200:
            return None
        return self._name_of(reply.data)

    def _name_of(self, data: dict) -> str | None:
        name = data.get("name")
        return name.strip()[:120] or None if isinstance(name, str) else None

    def _download(self, kind: str, url: str):
        """(Upload, None) or (None, the placeholder text). TransientError when Meta's CDN
        timed out or failed: the job tries again later."""
        from flask import current_app

        label = str(MEDIA_LABELS[kind])
        limit = int(current_app.config.get("MESSAGE_MAX_BYTES") or 16 * 1024 * 1024)
        try:
            reply = self.call("GET", url, max_bytes=limit + 1)
            # Meta's lookaside links may redirect to the CDN: each hop goes through
            # call() again, so every address is checked (SEC-2)
            for _hop in range(MAX_REDIRECTS):
                location = reply.headers.get("Location") or reply.headers.get("location")
                if reply.status not in (301, 302, 303, 307, 308) or not location:
                    break
                url = urljoin(url, location)
                reply = self.call("GET", url, max_bytes=limit + 1)
        except outbound.OutboundError as exc:
            raise TransientError(f"{kind} download: {exc.detail}") from exc
        if reply.status in (408, 429) or reply.status >= 500:
            raise TransientError(f"{kind} download: HTTP {reply.status}")
        if reply.status >= 300:
            return None, media_refusal(label, _("o provedor não entregou o arquivo"))
        mime = (reply.headers.get("Content-Type") or reply.headers.get("content-type") or "")
        name = PurePosixPath(urlsplit(url).path).name
        name = name if "." in name else None  # "arquivo.jpg" from the type instead
        try:
            return upload_from_bytes(reply.raw, name, mime), None
        except RuleError as exc:
            return None, media_refusal(label, str(exc))

    def status(self, data: dict) -> StatusUpdate | None:
        psid = str((data.get("sender") or {}).get("id") or "")
        delivery, read = data.get("delivery"), data.get("read")
        if isinstance(delivery, dict):
            mids = tuple(external_id(m) for m in delivery.get("mids") or () if m)
            if mids:
                return StatusUpdate(status="delivered", external_ids=mids)
            return StatusUpdate(status="delivered", address=psid,
                                watermark=from_epoch(delivery.get("watermark")))
        if isinstance(read, dict):
            if not read.get("watermark") and read.get("mid"):
                return StatusUpdate(status="read", external_ids=(external_id(read["mid"]),))
            return StatusUpdate(status="read", address=psid,
                                watermark=from_epoch(read.get("watermark")))
        return None

    # -- sending ---------------------------------------------------------------------------
    def send(self, message) -> str | None:
        from ..services import attachments

        psid = self.recipient(message.ticket)
        path = f"{self._page()}/messages?{self._token_query()}"
        envelope = {"recipient": {"id": psid}, "messaging_type": "RESPONSE"}
        if (message.extra or {}).get("tag") == HUMAN_AGENT_TAG:
            envelope.update(messaging_type="MESSAGE_TAG", tag=HUMAN_AGENT_TAG)
        # A retry after the file went and the text failed sends the text only: the
        # file's id is kept on the message (the job commits it with the retry).
        file_id = message.external_id if message.file_key else None
        if message.file_key and file_id is None:
            stored = attachments.file_of(message)
            if stored is None:
                raise PermanentSendError(_("O arquivo anexado não foi encontrado."))
            file_id = self._post_file(path, envelope, message, stored.read_bytes())
            message.external_id = file_id
        text_id = None
        if message.text:
            text_id = self._post(path, json_body={**envelope, "message": {"text": message.text}})
        return file_id or text_id

    def _post_file(self, path: str, envelope: dict, message, data: bytes) -> str | None:
        mime = message.file_mime or "application/octet-stream"
        kind = next((k for k in ("image", "audio", "video") if mime.startswith(k + "/")), "file")
        fields = {key: (json.dumps(value) if isinstance(value, dict) else value)
                  for key, value in envelope.items()}
        fields["message"] = json.dumps({"attachment": {"type": kind,
                                                       "payload": {"is_reusable": False}}})
        fields["filedata"] = (message.file_name or "arquivo", data, mime)
        body, content_type = encode_multipart_formdata(fields)
        return self._post(path, body=body, headers={"Content-Type": content_type})

    def _post(self, path: str, **kwargs) -> str | None:
        try:
            reply = self.call("POST", path, **kwargs)
        except outbound.OutboundError as exc:
            raise SendError(str(exc)) from exc
        if reply.status >= 300:
            self._explain(reply)
        return external_id(reply.data.get("message_id"))

    def _explain(self, reply) -> None:
        error = _error(reply)
        code, subcode = error.get("code"), error.get("error_subcode")
        if subcode in WINDOW_SUBCODES or (code == 10 and subcode is None):
            raise PermanentSendError(_(
                "Fora da janela de atendimento do Messenger/Instagram: o Meta só aceita "
                "respostas até 24 horas depois da última mensagem do cliente (7 dias como "
                "atendimento humano). Aguarde o cliente escrever de novo."))
        if code == 10:
            raise PermanentSendError(_(
                "O app do Meta não tem permissão para enviar por esta conta: revise as "
                "permissões do app (pages_messaging / instagram_manage_messages)."))
        if code == 551:
            raise PermanentSendError(_(
                "O cliente não está disponível para receber mensagens (bloqueou a página ou "
                "desativou as mensagens)."))
        if code == 190:
            raise PermanentSendError(_(
                "O token de acesso da página expirou ou é inválido: gere um novo token no "
                "Meta e atualize a conexão."))
        if code in RATE_LIMIT_CODES:
            raise SendError(_("Limite de envios do Meta atingido: nova tentativa em instantes."))
        if code in TEMPORARY_CODES:
            raise SendError(_("O Meta está indisponível no momento: nova tentativa em instantes."))
        retry_or_fail(reply, _("O Meta recusou a mensagem: %(detail)s", detail=_detail(reply)))

    # -- simulation (flask channels simulate, benchmarks, tests) -------------------------
    def simulated(self, address: str, text: str, name: str | None = None,
                  external_id: str | None = None) -> tuple[bytes, dict]:
        # Meta's webhook carries no name: the profile lookup gives it
        mid = external_id or "m_" + secrets.token_urlsafe(24)
        return self._signed({"sender": {"id": address}, "timestamp": _now_ms(),
                             "message": {"mid": mid, "text": text}})

    def simulated_status(self, external_id: str, status: str,
                         address: str | None = None) -> tuple[bytes, dict]:
        address = address or self._address_of(external_id)
        if status == "delivered":
            item = {"delivery": {"mids": [external_id], "watermark": _now_ms()}}
        elif status == "read":
            item = {"read": {"watermark": _now_ms()}}
        else:
            raise NotImplementedError(f"Meta sends no {status!r} receipt")
        return self._signed({"sender": {"id": address}, "timestamp": _now_ms(), **item})

    def _address_of(self, mid: str) -> str:
        message = db.session.scalar(
            select(Message).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Ticket.connection_id == self.connection.id,
                   Message.external_id == mid).limit(1))
        if message is None:
            raise ValueError(f"no message {mid} on this connection")
        return self.recipient(message.ticket)

    def _signed(self, item: dict) -> tuple[bytes, dict]:
        page_id = self.connection.setting("page_id") or "0"
        item = {**item, "recipient": {"id": page_id}}
        payload = {"object": self.webhook_object,
                   "entry": [{"id": page_id, "time": _now_ms(), "messaging": [item]}]}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        signature = hmac_sha256(self.connection.secret("app_secret") or "", raw)
        return raw, {"Content-Type": "application/json",
                     SIGNATURE_HEADER: f"sha256={signature}"}


class InstagramAdapter(MessengerAdapter):
    """Instagram Direct of a professional account linked to a Page."""

    kind = "instagram"
    webhook_object = "instagram"
    profile_fields = "name,username"
    account_fields = "username,name"
    fields = (
        Field("page_id", _l("ID da conta do Instagram (ou da página)"), max_length=40,
              help=_l("O ID da conta profissional do Instagram ou da página do Facebook "
                      "ligada a ela.")),
        *MessengerAdapter.fields[1:],
    )

    def _connected(self, data: dict) -> str:
        if data.get("username"):
            return _("Conectado a @%(user)s", user=str(data["username"]))
        return _("Conectado à conta %(name)s", name=str(data.get("name") or data.get("id")))

    def _name_of(self, data: dict) -> str | None:
        name = super()._name_of(data)
        username = data.get("username")
        if name is None and isinstance(username, str) and username.strip():
            return "@" + username.strip()[:119]
        return name


def _error(reply) -> dict:
    found = reply.data.get("error") if isinstance(reply.data, dict) else None
    return found if isinstance(found, dict) else {}


def _detail(reply) -> str:
    error = _error(reply)
    message = str(error.get("message") or "")[:200]
    code = error.get("code")
    if code is None:
        return message or f"HTTP {reply.status}"
    return _("%(message)s (código %(code)s)", message=message or f"HTTP {reply.status}",
             code=code)


__all__ = ["InstagramAdapter", "MessengerAdapter", "external_id"]
