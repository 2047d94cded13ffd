"""Runs chatbot conversations (AUT-2). STUB: helper A implements this module.

Contract: see backoffice/automation/flows/spec.py.
"""
from __future__ import annotations


def on_inbound(ticket, message, now) -> bool:
    return False


def on_queued(ticket, now) -> bool:
    return False


def on_closed(ticket, now) -> None:
    return None


def start(ticket, version, message=None):
    raise NotImplementedError
