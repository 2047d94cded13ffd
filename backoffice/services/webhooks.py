"""Webhooks (WHK-1): the rules for their configuration. Delivery comes with a later issue
and must send through lib/outbound (SEC-2), like every request a company can aim."""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l

from .. import events as event_catalogue
from ..lib import outbound
from . import RuleError
from ..lib.hosts import normalise_host

URL_MESSAGE = _l("Informe uma URL http:// ou https://.")
LOCAL_MESSAGE = _l("Use um endereço público da internet: endereços locais ou da rede interna "
                   "não são aceitos.")
EVENTS_MESSAGE = _l("Marque ao menos um evento.")
SECRET_BYTES = 32


def new_secret() -> str:
    """The key deliveries are signed with (HMAC-SHA256); about 43 URL-safe characters."""
    return secrets.token_urlsafe(SECRET_BYTES)


def check_url(value: str | None) -> str:
    """The URL as stored, or RuleError: http/https only, with a valid host, no spaces,
    and (unless ALLOW_PRIVATE_URLS) not a literal private address or a localhost-like
    name (SEC-2). Used by webhooks and by the HTTP API connection.

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
    if not outbound.private_allowed() and outbound.private_target(parts.hostname):
        # early word for the admin; lib/outbound checks the resolved address on every send
        raise RuleError(LOCAL_MESSAGE)
    return text


def check_name(value: str | None) -> str:
    """The name as stored (trimmed), or RuleError when blank."""
    name = (value or "").strip()
    if not name:
        raise RuleError(_l("Informe o nome do webhook."))
    return name


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
