"""Messenger and Instagram through Meta's Graph API (issue 12) — being written."""
from __future__ import annotations

from .provider import ProviderAdapter


class MessengerAdapter(ProviderAdapter):
    kind = "messenger"
    url_setting = "META_GRAPH_URL"


class InstagramAdapter(MessengerAdapter):
    kind = "instagram"
