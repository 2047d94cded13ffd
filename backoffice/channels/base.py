from __future__ import annotations


class SendError(Exception):
    """A delivery attempt failed; worth retrying (network, 5xx, timeout)."""


class PermanentSendError(SendError):
    """The provider refused the message for good (4xx, no such recipient): no retry."""


class Adapter:
    kind = ""

    def __init__(self, connection):
        self.connection = connection

    def send(self, message) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError
