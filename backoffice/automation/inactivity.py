"""Inactivity auto-close (AUT-4, DEP-5). STUB: helper C implements this module.

Contract: registers timer "inactivity" (backoffice.automation.timers).
"""
from __future__ import annotations
