"""One adapter per connection kind behind one small interface (CHN-1, CHN-3).

`adapter_for(connection).send(message)` delivers an outgoing message and returns the
provider's id (or None); it raises SendError with a message for the agent when the
provider refuses, and any other exception for a transient failure (retried).
"""
from __future__ import annotations

from .base import Adapter, PermanentSendError, SendError
from .http_api import HttpApiAdapter
from .webchat import WebchatAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "webchat": WebchatAdapter,
    "http_api": HttpApiAdapter,
}


def adapter_for(connection) -> Adapter:
    cls = ADAPTERS.get(connection.kind)
    if cls is None:
        raise PermanentSendError(f"canal sem adaptador: {connection.kind}")
    return cls(connection)


__all__ = ["Adapter", "SendError", "PermanentSendError", "adapter_for", "ADAPTERS"]
