"""Automation rules (AUT-8). STUB: helper E implements this module.

Contract:
- fire(trigger, ticket, now, message=None, tag_ids=None): run the company's active rules
  of `trigger` on `ticket`, in order, loop-safe.
- registers timer "idle_rules".
"""
from __future__ import annotations


def fire(trigger, ticket, now, message=None, tag_ids=None) -> None:
    return None
