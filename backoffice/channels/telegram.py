"""Telegram Bot API (issue 12) — being written."""
from __future__ import annotations

from .provider import ProviderAdapter


class TelegramAdapter(ProviderAdapter):
    kind = "telegram"
    url_setting = "TELEGRAM_API_URL"
