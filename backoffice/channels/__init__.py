"""One adapter per connection kind behind one contract (CHN-1, CHN-3; channels/base.py):
`send`, `validate_config` and `parse_inbound`.

`adapter_for(connection)` picks the kind's adapter; it reads nothing but `kind`, so it
works for a connection not saved yet (services.connections checks new rows with it).
A new channel is one module (or package) with its Adapter, added to ADAPTERS; the
contract tests (tests/test_channel_contract.py) run over every entry.
"""
from __future__ import annotations

from .base import Adapter, Inbound, InboundError, PermanentSendError, SendError
from .http_api import HttpApiAdapter
from .webchat.adapter import WebchatAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "webchat": WebchatAdapter,
    "http_api": HttpApiAdapter,
}


def adapter_for(connection) -> Adapter:
    cls = ADAPTERS.get(connection.kind)
    if cls is None:
        raise PermanentSendError(f"canal sem adaptador: {connection.kind}")
    return cls(connection)


__all__ = ["Adapter", "Inbound", "InboundError", "SendError", "PermanentSendError",
           "adapter_for", "ADAPTERS"]
