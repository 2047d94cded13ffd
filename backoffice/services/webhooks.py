"""Webhooks (WHK-1): the rules for their configuration. Delivery comes with a later issue."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from .. import events as event_catalogue
from . import RuleError
from .hosts import normalise_host

URL_MESSAGE = _l("Informe uma URL http:// ou https://.")
EVENTS_MESSAGE = _l("Marque ao menos um evento.")
SECRET_BYTES = 32


def new_secret() -> str:
    """The key deliveries are signed with (HMAC-SHA256); about 43 URL-safe characters."""
    return secrets.token_urlsafe(SECRET_BYTES)


def check_url(value: str | None) -> str:
    """The URL as stored, or RuleError: http/https only, with a valid host, no spaces.

    javascript:, ftp:, file:, "http:///x", "http://:80" and the like are all refused.
    """
    text = (value or "").strip()
    if not text or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise RuleError(URL_MESSAGE)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number 0-65535
    except ValueError:
        raise RuleError(URL_MESSAGE)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise RuleError(URL_MESSAGE)
    if parts.username is not None or parts.password is not None:
        # "https://trusted.example@evil.example/" reads as the first host and goes to
        # the second; credentials would also be shown to everyone who sees the list.
        raise RuleError(_l("Não coloque usuário e senha na URL."))
    if normalise_host(parts.hostname) is None:
        raise RuleError(URL_MESSAGE)
    return text


def check_events(names) -> list[str]:
    """The chosen event names in catalogue order; at least one, all known."""
    chosen = set(names or ())
    if not chosen:
        raise RuleError(EVENTS_MESSAGE)
    unknown = chosen - set(event_catalogue.EVENTS)
    if unknown:
        raise RuleError(_l("Evento desconhecido: %(names)s", names=", ".join(sorted(unknown))))
    return [name for name in event_catalogue.EVENTS if name in chosen]


def regenerate_secret(webhook) -> str:
    webhook.secret = new_secret()
    return webhook.secret
