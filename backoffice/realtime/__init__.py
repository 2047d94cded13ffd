"""Socket.IO for the back office (RTM-1): rooms, handlers and the socket listener.

- names:     room names (no app imports);
- handlers:  connect, disconnect, ticket.join / ticket.leave;
- rooms:     moves open sockets between rooms when access changes;
- listeners: turns the app's events (backoffice.events) into socket pushes;
- dashboard: tells the managers' dashboard (PAU-4) that its numbers moved;
- panel:     the TV panel's namespace "/panel" (PNL-1), its pushes and revocations;
- sticky:    a logged warning when a proxy sends a session's requests to another process;
- failures:  what a failing event answers, in every namespace (a refusal or an answer the
             page retries when the database was away).
Services never import this package: they emit events, and listeners here deliver them.
Importing it registers the handlers and the listener; create_app does so before
socketio.init_app.
"""
from __future__ import annotations

from . import dashboard, failures, handlers, listeners, panel, rooms  # noqa: F401  (registration)
from .handlers import emit_to_company, rooms_for, session_checked
from .names import (
    company_room, department_room, supervisors_room, ticket_room, ticket_rooms, unrouted_room,
    user_room,
)

__all__ = [
    "company_room", "department_room", "emit_to_company", "rooms_for", "session_checked",
    "supervisors_room", "ticket_room", "ticket_rooms", "unrouted_room", "user_room",
]
