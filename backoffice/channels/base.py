"""The provider contract every channel implements (CHN-1, CHN-3, issue 11).

An Adapter wraps one Connection and answers three questions:
- `send(message)`: deliver an outgoing message; the provider's id (or None). SendError
  for a transient failure (retried), PermanentSendError when the provider refused for
  good; the message is shown to the agent.
- `validate_config(connection)`: tidy and check the kind's own fields before the
  connection is saved; RuleError in Portuguese with the reason. The fields common to
  every kind (name, plan limit, kind) are services.connections.check_connection's.
- `parse_inbound(request)`: what the provider sent us, as neutral `Inbound` objects
  (services.tickets.receive_inbound stores them); InboundError (a 400) for a body that
  is not what the provider sends. A kind that receives nothing this way raises
  NotImplementedError (`receives_inbound = False`).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..services import RuleError


class SendError(Exception):
    """A delivery attempt failed; worth retrying (network, 5xx, timeout, rate limit).
    `retry_after`: seconds the provider asked us to wait (Telegram's retry_after, an
    HTTP Retry-After); the next attempt is not sooner."""

    def __init__(self, *args, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """The provider refused the message for good (4xx, no such recipient): no retry."""


class InboundError(RuleError):
    """An inbound request that is not what the provider sends (malformed, empty, too
    long): answered 400 with the message, nothing stored. A RuleError, so every
    blueprint's RuleError handler answers it already."""


@dataclass(frozen=True)
class Inbound:
    """One message from a contact, in no provider's shape.

    address: the contact's address on the connection (phone, e-mail, visitor token);
    name: the name the provider gave, if any; text: cleaned (no NUL, within MAX_TEXT);
    attachments: uploads as services.attachments.read returns them; external_id: the
    provider's id of the message (stored, and used to drop a redelivery); reply_to: the
    provider id of the message it answers, if any; phone: the contact's phone when the
    channel is a phone number (WhatsApp), in any form normalise_phone reads: contacts are
    matched and merged on it (the Brazilian ninth digit); extra: what the message carries
    beyond text and file (location, contact card, reaction, button reply...), kept in
    Message.extra for the inbox."""

    address: str
    name: str | None = None
    text: str = ""
    attachments: tuple = ()
    external_id: str | None = None
    reply_to: str | None = None
    phone: str | None = None
    extra: dict | None = None


def clean_field(text: str | None) -> str | None:
    """A configuration field stripped; None when empty."""
    text = (text or "").strip()
    return text or None


class Adapter:
    kind = ""
    receives_inbound = True

    def __init__(self, connection):
        self.connection = connection

    def send(self, message) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError

    def validate_config(self, connection) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def parse_inbound(self, request) -> list[Inbound]:  # pragma: no cover - interface
        raise NotImplementedError
