"""WhatsApp Cloud API (issue 12) — being written."""
from __future__ import annotations

from .provider import ProviderAdapter


class WhatsAppAdapter(ProviderAdapter):
    kind = "whatsapp"
    url_setting = "WHATSAPP_API_URL"
