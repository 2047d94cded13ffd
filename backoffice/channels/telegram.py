"""Telegram Bot API (CHN-1, CHN-2, CHN-4): customers write to the company's bot.

The admin gives the bot token (@BotFather) and, optionally, the webhook's secret token
(one is generated when left blank). `register_webhook` calls setWebhook with our
`/hooks/telegram/<public key>` URL and that secret; Telegram then posts one update per
request with the secret in `X-Telegram-Bot-Api-Secret-Token`, which `verify` compares in
constant time.

Ids: Telegram numbers messages per chat, so a message id alone is not unique on a
connection (two customers both send their message 5). Messages are stored with
"<chat id>:<message id>" as external id, in and out, and quotes (reply_to) use the same
form; an edit is a new message "<chat id>:<message id>:edit:<edit_date>".

Telegram has no delivery or read receipts: `status` has nothing to do.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from posixpath import basename

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from urllib3 import encode_multipart_formdata

from ..lib import outbound
from ..services import RuleError, attachments
from ..services.messages import MAX_TEXT, clean_text
from ..services.templates import human_size
from .base import Inbound, InboundError, PermanentSendError, SendError
from .provider import (
    Field, ProviderAdapter, ProviderEvent, Reply, StatusUpdate, TransientError,
    media_refusal, same, upload_from_bytes,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]{30,}")
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
CAPTION_MAX = 1024  # Telegram's limit on a media caption; longer text goes on its own
_MESSAGE_ID = re.compile(r"-?\d+:(\d+)(?::edit:\d+)?")

# update keys of a message that carry what it is (the rest is metadata)
MEDIA = (  # key, label (placeholder), default MIME
    ("photo", _l("Imagem"), "image/jpeg"),
    ("video", _l("Vídeo"), "video/mp4"),
    ("document", _l("Documento"), None),
    ("audio", _l("Áudio"), "audio/mpeg"),
    ("voice", _l("Áudio"), "audio/ogg"),
    ("video_note", _l("Vídeo"), "video/mp4"),
    ("sticker", _l("Figurinha"), "image/webp"),
)
META_KEYS = frozenset({
    "message_id", "message_thread_id", "from", "sender_chat", "sender_boost_count",
    "sender_business_bot", "date", "business_connection_id", "chat", "forward_origin",
    "forward_from", "forward_from_chat", "forward_from_message_id", "forward_signature",
    "forward_sender_name", "forward_date", "is_topic_message", "is_automatic_forward",
    "reply_to_message", "external_reply", "quote", "reply_to_story", "via_bot",
    "edit_date", "has_protected_content", "is_from_offline", "media_group_id",
    "author_signature", "text", "entities", "link_preview_options", "effect_id",
    "caption", "caption_entities", "show_caption_above_media", "has_media_spoiler",
    "reply_markup", "animation",  # an animation also comes as "document"
})

_sequence = itertools.count(1)


class TelegramAdapter(ProviderAdapter):
    kind = "telegram"
    url_setting = "TELEGRAM_API_URL"
    registers_webhook = True
    fields = (
        Field("bot_token", _l("Token do bot"), secret=True, max_length=100,
              help=_l("O token que o @BotFather deu ao criar o bot, como "
                      "123456789:AAE...")),
        Field("secret_token", _l("Token secreto do webhook"), secret=True, required=False,
              max_length=256,
              help=_l("O Telegram o envia em cada webhook, provando que a chamada veio "
                      "dele. Deixe em branco para gerar um automaticamente.")),
    )

    # -- configuration ----------------------------------------------------------------
    def validate_config(self, connection) -> None:
        super().validate_config(connection)
        if not TOKEN_RE.fullmatch(connection.secret("bot_token") or ""):
            raise RuleError(_("O token do bot não parece um token do Telegram: ele tem o "
                              "formato 123456789:AAE... (copie-o inteiro do @BotFather)."))
        secret = connection.secret("secret_token")
        if not secret:
            connection.set_secret("secret_token", secrets.token_urlsafe(32))
        elif not SECRET_RE.fullmatch(secret):
            raise RuleError(_("O token secreto do webhook só pode ter letras sem acento, "
                              "números, _ e -, até 256 caracteres."))

    def test_connection(self) -> str:
        reply = self._request("getMe")
        if _ok(reply):
            username = (reply.data.get("result") or {}).get("username") or "?"
            return _("Conectado ao bot @%(username)s", username=username)
        if _code(reply) in (401, 404):
            raise RuleError(_("O token do bot é inválido: confira o token que o @BotFather "
                              "deu ao criar o bot."))
        raise RuleError(_("O Telegram não confirmou o bot: %(reason)s",
                          reason=_description(reply)))

    def register_webhook(self, url: str) -> str:
        """setWebhook with our URL and the secret token (generated now when the
        connection has none: the caller saves the connection only when Telegram agreed)."""
        if not (url or "").lower().startswith("https://"):
            raise RuleError(_webhook_refusal(_("o endereço não é https")))
        secret = self.connection.secret("secret_token")
        if not secret:  # a connection saved before it had one: the caller commits it
            secret = secrets.token_urlsafe(32)
            self.connection.set_secret("secret_token", secret)
        reply = self._request("setWebhook", {"url": url, "secret_token": secret,
                                             "allowed_updates": ALLOWED_UPDATES})
        if _ok(reply):
            return _("Webhook registrado no Telegram.")
        if _code(reply) in (401, 404):
            raise RuleError(_("O token do bot é inválido: confira o token que o @BotFather "
                              "deu ao criar o bot."))
        description = _description(reply)
        if "webhook" in description.lower():
            raise RuleError(_webhook_refusal(description))
        raise RuleError(_("O Telegram não registrou o webhook: %(reason)s", reason=description))

    # -- webhooks -----------------------------------------------------------------------
    def verify(self, headers, raw: bytes) -> bool:
        return same(headers.get(SECRET_HEADER), self.connection.secret("secret_token"))

    def split(self, payload) -> list[ProviderEvent]:
        if not isinstance(payload, dict) or not _is_int(payload.get("update_id")):
            raise InboundError(_("Requisição inválida: não é uma atualização do Telegram."))
        kind = "other"
        if any(k in payload for k in ("message", "edited_message")):
            message = payload.get("message") or payload.get("edited_message")
            if not isinstance(message, dict) or not _chat_id(message):
                raise InboundError(_("Requisição inválida: mensagem do Telegram sem chat."))
            kind = "message"
        elif "callback_query" in payload:
            query = payload["callback_query"]
            if not isinstance(query, dict) or not _callback_chat(query):
                raise InboundError(_("Requisição inválida: botão do Telegram sem chat."))
            kind = "message"
        return [ProviderEvent(f"update:{payload['update_id']}", kind, payload)]

    def inbound(self, data: dict) -> Inbound:
        if "callback_query" in data:
            return self._button(data["callback_query"])
        edited = "message" not in data
        message = data.get("message") or data.get("edited_message")
        chat = _chat_id(message)
        text, attachments_, extra = self._content(message)
        if edited:
            text = _("(editada) %(text)s", text=text)
            external_id = f"{chat}:{message.get('message_id')}:edit:{message.get('edit_date')}"
        else:
            external_id = f"{chat}:{message.get('message_id')}"
        quoted = message.get("reply_to_message")
        reply_to = (f"{chat}:{quoted['message_id']}" if isinstance(quoted, dict)
                    and _is_int(quoted.get("message_id")) else None)
        return Inbound(address=chat, name=_name(message.get("from"), message.get("chat")),
                       text=_clean(text), attachments=tuple(attachments_),
                       external_id=external_id[:120], reply_to=reply_to, extra=extra or None)

    def status(self, data: dict) -> StatusUpdate | None:
        return None  # the Bot API has no delivery or read receipts

    def simulated(self, address: str, text: str, name: str | None = None,
                  external_id: str | None = None) -> tuple[bytes, dict]:
        """A private-chat text update from `address` (a Telegram user id). A numeric
        `external_id` is both the update_id and the message_id; otherwise both come from
        the clock and a counter (unique within a run)."""
        if external_id and str(external_id).isdigit():
            update_id = message_id = int(external_id)
        else:
            update_id = message_id = int(time.time() * 1000) * 1000 + next(_sequence) % 1000
        first, _sep, last = (name or "Cliente").partition(" ")
        user_id = int(address) if str(address).lstrip("-").isdigit() else address
        person = {"id": user_id, "is_bot": False, "first_name": first}
        if last:
            person["last_name"] = last
        update = {"update_id": update_id, "message": {
            "message_id": message_id, "from": person,
            "chat": {**{k: v for k, v in person.items() if k != "is_bot"}, "type": "private"},
            "date": int(time.time()), "text": text}}
        raw = json.dumps(update, ensure_ascii=False).encode()
        return raw, {"Content-Type": "application/json",
                     SECRET_HEADER: self.connection.secret("secret_token") or ""}

    def simulated_status(self, external_id: str, status: str,
                         address: str | None = None) -> tuple[bytes, dict]:
        raise NotImplementedError("Telegram has no delivery or read receipts")

    # -- what a customer's message holds -----------------------------------------------------
    def _content(self, message: dict) -> tuple[str, list, dict]:
        text = message.get("text") or message.get("caption") or ""
        text = text if isinstance(text, str) else ""
        files, extra = [], {}
        for key, label, mime in MEDIA:
            media = message.get(key)
            if key == "photo" and isinstance(media, list) and media:
                media = max((m for m in media if isinstance(m, dict)),
                            key=lambda m: ((m.get("width") or 0) * (m.get("height") or 0),
                                           m.get("file_size") or 0),
                            default=None)
            if not isinstance(media, dict) or not media.get("file_id"):
                continue
            try:
                files.append(self._download(media, mime))
            except RuleError as refused:
                text = _join(media_refusal(str(label), str(refused)), text)
            return text, files, extra
        location = message.get("location")
        if isinstance(location, dict):
            venue = message.get("venue") if isinstance(message.get("venue"), dict) else {}
            place = {"latitude": location.get("latitude"),
                     "longitude": location.get("longitude")}
            if venue.get("title"):
                place["name"] = venue["title"]
            if venue.get("address"):
                place["address"] = venue["address"]
            extra["location"] = place
            shown = " — ".join(str(place[k]) for k in ("name", "address") if place.get(k))
            text = _join(_("Localização: %(lat)s, %(lon)s", lat=place["latitude"],
                           lon=place["longitude"]) + (f" ({shown})" if shown else ""), text)
            return text, files, extra
        card = message.get("contact")
        if isinstance(card, dict):
            person = " ".join(str(card.get(k)) for k in ("first_name", "last_name")
                              if card.get(k))
            extra["contact"] = {"name": person, "phone": card.get("phone_number") or ""}
            text = _join(_("Contato: %(name)s %(phone)s", name=person,
                           phone=card.get("phone_number") or ""), text)
            return text, files, extra
        if not text.strip():
            text = _("[Mensagem do tipo %(type)s não suportada pelo Atende]",
                     type=_type_of(message))
        return text, files, extra

    def _button(self, query: dict) -> Inbound:
        """A press on an inline button of one of our messages: the button's text (found
        in the message's keyboard by its callback data), else the data itself."""
        self._answer_button(query)
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat = _callback_chat(query)
        data = str(query.get("data") or query.get("game_short_name") or "")
        title = data
        keyboard = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        for row in keyboard if isinstance(keyboard, list) else []:
            for button in row if isinstance(row, list) else []:
                if isinstance(button, dict) and button.get("callback_data") == data:
                    title = str(button.get("text") or data)
        reply_to = (f"{chat}:{message['message_id']}"
                    if _is_int(message.get("message_id")) else None)
        return Inbound(address=chat, name=_name(query.get("from"), message.get("chat")),
                       text=_clean(_("Botão: %(title)s", title=title or "?")),
                       external_id=f"callback:{query.get('id')}"[:120], reply_to=reply_to,
                       extra={"interactive": {"type": "callback_query", "id": data,
                                              "title": title}})

    def _answer_button(self, query: dict) -> None:
        """Telegram keeps the pressed button loading on the customer's screen until the
        bot answers the press (answerCallbackQuery). The press is the customer's message
        either way: an answer that fails is logged, never a reason to lose it."""
        if not isinstance(query.get("id"), str) or not query["id"]:
            return
        try:
            reply = self._request("answerCallbackQuery", {"callback_query_id": query["id"]})
        except RuleError as exc:
            log.warning("Telegram: não foi possível responder ao botão %s: %s", query["id"], exc)
            return
        if not _ok(reply):
            log.warning("Telegram: o botão %s não foi respondido: %s", query["id"],
                        _description(reply))

    def _download(self, media: dict, mime: str | None):
        """The file behind `media`, as an inbox upload. RuleError (placeholder) when the
        inbox refuses it or Telegram will not give it; TransientError when Telegram did
        not answer or failed on its side (retried)."""
        limit = int(current_app.config.get("MESSAGE_MAX_BYTES") or 16 * 1024 * 1024)
        if _is_int(media.get("file_size")) and media["file_size"] > limit:
            raise RuleError(_("o arquivo passa do limite de %(size)s", size=human_size(limit)))
        found = self._request("getFile", {"file_id": media["file_id"]}, transient=True)
        path = (found.data.get("result") or {}).get("file_path") if _ok(found) else None
        if not path:
            _transient_or(found)
            raise RuleError(_("o provedor não entregou o arquivo"))
        try:
            reply = self.call("GET", self.url(f"file/bot{self._token()}/{path}"),
                              max_bytes=limit + 1)
        except outbound.OutboundError as exc:
            raise TransientError(exc.detail) from exc
        if reply.status != 200:
            _transient_or(reply)
            raise RuleError(_("o provedor não entregou o arquivo"))
        if len(reply.raw) > limit:
            raise RuleError(_("o arquivo passa do limite de %(size)s", size=human_size(limit)))
        name = media.get("file_name") or basename(path)
        return upload_from_bytes(reply.raw, name, media.get("mime_type") or mime)

    # -- sending ----------------------------------------------------------------------------
    def send(self, message) -> str | None:
        chat = self.recipient(message.ticket)
        chat_id = int(chat) if chat.lstrip("-").isdigit() else chat
        text = message.text or ""
        quoted = _message_id_of(((message.extra or {}).get("reply_to") or {}).get("external_id"))
        reply_parameters = ({"message_id": quoted, "allow_sending_without_reply": True}
                            if quoted else None)
        if not message.file_key:
            return self._send_text(chat, chat_id, text, reply_parameters)
        path = attachments.file_of(message)
        if path is None:
            raise PermanentSendError(_("O arquivo desta mensagem não foi encontrado."))
        method, field = _send_method(message.file_mime)
        fields = {"chat_id": str(chat_id),
                  field: (message.file_name or path.name, path.read_bytes(),
                          message.file_mime or "application/octet-stream")}
        caption = text if len(text) <= CAPTION_MAX else ""
        if caption:
            fields["caption"] = caption
        if reply_parameters:
            fields["reply_parameters"] = json.dumps(reply_parameters)
        body, content_type = encode_multipart_formdata(fields)
        sent = self._send(method, body=body, headers={"Content-Type": content_type})
        if text and not caption:
            return self._send_text(chat, chat_id, text, None)
        return f"{chat}:{sent['message_id']}"

    def _send_text(self, chat, chat_id, text, reply_parameters) -> str:
        body = {"chat_id": chat_id, "text": text}
        if reply_parameters:
            body["reply_parameters"] = reply_parameters
        sent = self._send("sendMessage", json_body=body)
        return f"{chat}:{sent['message_id']}"

    def _send(self, method: str, **kwargs) -> dict:
        try:
            reply = self.call("POST", self._method_url(method), **kwargs)
        except outbound.OutboundError as exc:
            raise SendError(str(exc)) from exc
        if _ok(reply) and isinstance(reply.data.get("result"), dict) \
                and "message_id" in reply.data["result"]:
            return reply.data["result"]
        raise _send_error(reply)

    # -- calling the Bot API -----------------------------------------------------------------
    def _token(self) -> str:
        token = self.connection.secret("bot_token")
        if not token:
            raise RuleError(_("Informe o token do bot."))
        return token

    def _method_url(self, method: str) -> str:
        return self.url(f"bot{self._token()}/{method}")

    def _request(self, method: str, body: dict | None = None, transient: bool = False) -> Reply:
        """A Bot API method; no answer is a RuleError in Portuguese, or with `transient`
        (processing a webhook item) a TransientError, retried."""
        try:
            return self.call("POST", self._method_url(method), json_body=body or {})
        except outbound.OutboundError as exc:
            if transient:
                raise TransientError(exc.detail) from exc
            raise RuleError(_("Não foi possível falar com o Telegram: %(reason)s",
                              reason=str(exc))) from exc


# --- helpers ------------------------------------------------------------------------------------


def _ok(reply: Reply) -> bool:
    return reply.status == 200 and reply.data.get("ok") is True


def _code(reply: Reply) -> int:
    code = reply.data.get("error_code")
    return code if _is_int(code) else reply.status


def _description(reply: Reply) -> str:
    return str(reply.data.get("description") or f"HTTP {reply.status}")[:300]


def _transient_or(reply: Reply) -> None:
    """TransientError for an answer that may change by asking again (429, 5xx)."""
    if reply.status in (408, 429) or reply.status >= 500 or _code(reply) in (429,) \
            or _code(reply) >= 500:
        raise TransientError(f"Telegram answered {reply.status}: {_description(reply)}")


def _send_error(reply: Reply) -> SendError:
    """A refused send as the agent reads it: SendError (retried) or PermanentSendError."""
    code = _code(reply)
    description = _description(reply)
    lowered = description.lower()
    if code == 429 or reply.status == 429:
        wait = (reply.data.get("parameters") or {}).get("retry_after")
        wait = wait if _is_int(wait) and wait > 0 else None
        return SendError(_("O Telegram limitou os envios do bot: nova tentativa após "
                           "%(seconds)s segundos.", seconds=wait or "?"), retry_after=wait)
    if reply.status >= 500 or code >= 500 or reply.status == 408:
        return SendError(_("O Telegram está instável (erro %(code)s); nova tentativa em "
                           "instantes.", code=code))
    if code == 401:
        return PermanentSendError(_("O token do bot é inválido."))
    if code == 403:
        if "blocked" in lowered:
            return PermanentSendError(_("O cliente bloqueou o bot no Telegram."))
        if "deactivated" in lowered:
            return PermanentSendError(_("A conta do cliente no Telegram foi desativada."))
        return PermanentSendError(_("O Telegram não deixa o bot escrever neste chat: "
                                    "%(reason)s", reason=description))
    if "chat not found" in lowered:
        return PermanentSendError(_("Chat não encontrado no Telegram: o cliente precisa "
                                    "iniciar uma conversa com o bot."))
    if code == 413 or "too big" in lowered or "too large" in lowered:
        return PermanentSendError(_("O arquivo é grande demais para o Telegram."))
    if "too long" in lowered:
        return PermanentSendError(_("A mensagem é longa demais para o Telegram."))
    return PermanentSendError(_("O Telegram recusou a mensagem: %(reason)s",
                                reason=description))


def _webhook_refusal(reason: str) -> str:
    return _("O Telegram recusou o endereço do webhook: ele precisa ser um endereço https "
             "público, acessível pela internet (portas 443, 80, 88 ou 8443). Resposta: "
             "%(reason)s", reason=reason)


def _send_method(mime: str | None) -> tuple[str, str]:
    mime = (mime or "").lower()
    if mime in ("image/jpeg", "image/png", "image/webp"):
        return "sendPhoto", "photo"
    if mime == "audio/ogg":
        return "sendVoice", "voice"
    if mime.startswith("audio/"):
        return "sendAudio", "audio"
    if mime == "video/mp4":
        return "sendVideo", "video"
    return "sendDocument", "document"  # PDF, DOCX, XLSX, GIF (Telegram animates it)


def _message_id_of(external_id) -> int | None:
    """The Telegram message id inside one of our external ids ("<chat>:<id>")."""
    found = _MESSAGE_ID.fullmatch(str(external_id or ""))
    return int(found[1]) if found else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _chat_id(message) -> str | None:
    chat = message.get("chat") if isinstance(message, dict) else None
    if isinstance(chat, dict) and _is_int(chat.get("id")):
        return str(chat["id"])
    return None


def _callback_chat(query: dict) -> str | None:
    # without the message (too old, or sent inline) the user's id is their private chat
    found = _chat_id(query.get("message"))
    person = query.get("from")
    if found is None and isinstance(person, dict) and _is_int(person.get("id")):
        found = str(person["id"])
    return found


def _name(person, chat) -> str | None:
    for source in (person, chat):
        if not isinstance(source, dict):
            continue
        full = " ".join(str(source[k]) for k in ("first_name", "last_name") if source.get(k))
        found = full or source.get("username") or source.get("title")
        if found:
            return str(found)[:120]
    return None


def _type_of(message: dict) -> str:
    for key in message:
        if key not in META_KEYS:
            return str(key)[:40]
    return "desconhecido"


def _join(first: str, second: str) -> str:
    return f"{first}\n{second}" if second and second.strip() else first


def _clean(text: str) -> str:
    # a customer's message is never lost for being long: cut, not refused
    return clean_text((text or "").replace("\x00", "").strip()[:MAX_TEXT])
