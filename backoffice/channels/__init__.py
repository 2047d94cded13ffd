"""One adapter per connection kind behind one contract (CHN-1, CHN-3; channels/base.py):
`send`, `validate_config` and `parse_inbound`.

`adapter_for(connection)` picks the kind's adapter; it reads nothing but `kind`, so it
works for a connection not saved yet (services.connections checks new rows with it).
A new channel is one module (or package) with its Adapter, added to ADAPTERS; the
contract tests (tests/test_channel_contract.py) run over every entry. The kinds whose
provider posts webhooks (WhatsApp, Telegram, Messenger, Instagram) implement the
ProviderAdapter of channels/provider.py, driven by channels/hooks.py and
services/channel_events.py.
"""
from __future__ import annotations

from .base import Adapter, Inbound, InboundError, PermanentSendError, SendError
from .http_api import HttpApiAdapter
from .meta import InstagramAdapter, MessengerAdapter
from .portal import PortalAdapter
from .telegram import TelegramAdapter
from .webchat.adapter import WebchatAdapter
from .whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "whatsapp": WhatsAppAdapter,
    "telegram": TelegramAdapter,
    "messenger": MessengerAdapter,
    "instagram": InstagramAdapter,
    "webchat": WebchatAdapter,
    "http_api": HttpApiAdapter,
    "portal": PortalAdapter,
}


def adapter_for(connection) -> Adapter:
    cls = ADAPTERS.get(connection.kind)
    if cls is None:
        raise PermanentSendError(f"canal sem adaptador: {connection.kind}")
    return cls(connection)


__all__ = ["Adapter", "Inbound", "InboundError", "SendError", "PermanentSendError",
           "adapter_for", "ADAPTERS"]
