"""The agents' inbox (deliverable 4): the page at /inbox/ and its JSON API at /inbox/api/.

One blueprint, one module per resource: common (guards, lookups, error answers), pages
(the page, attachments), api_tickets, api_messages and api_meta (meta, quick replies).
Views stay thin: every ticket is looked up through services.visibility (404 when the user
may not see it), rules live in services.tickets / sending / replies, request bodies are
read by services.inbox's inputs, JSON shapes come from services.serialize, and each unit
of work ends with after_commit.commit() so socket events and send jobs follow the commit.
"""
from __future__ import annotations

from . import api_automations, api_messages, api_meta, api_scheduled, api_tickets, common, pages  # noqa: F401  (routes register on bp)
from . import api_alerts  # noqa: F401  (UX-1: unread counts, alert preferences)
from .blueprint import bp  # noqa: F401
