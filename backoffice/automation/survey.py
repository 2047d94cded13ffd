"""Satisfaction survey (AUT-3, RAT-1, DEP-2). STUB: helper C implements this module.

Contract:
- on_closed(ticket, now): the ticket closed; ask the survey when its department has it on.
- on_inbound(ticket, message, now) -> bool: True when the message was a survey answer.
- registers timer "survey" (expiry).
"""
from __future__ import annotations


def on_closed(ticket, now) -> None:
    return None


def on_inbound(ticket, message, now) -> bool:
    return False
