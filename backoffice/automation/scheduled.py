"""Scheduled messages (AUT-5). STUB: helper D implements this module.

Contract: tick(now=None) -> int sends what is due (registered in jobs.periodic).
"""
from __future__ import annotations


def tick(now=None) -> int:
    return 0
