"""JSON shapes of tickets and messages, shared by the inbox API and socket events.

Text goes out as data; the page puts it in the DOM with textContent, never innerHTML
(MSG-5). Times are UTC ISO-8601 with "Z"; the page shows them in the company's zone.
"""
from __future__ import annotations

from datetime import datetime

from ..models import Message, Ticket
from ..models.channels import CONNECTION_KINDS
from ..models.tickets import MESSAGE_STATUSES, TICKET_STATUSES
from .catalog import safe_color


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def tag(t) -> dict:
    return {"id": t.id, "name": t.name, "color": safe_color(t.color), "personal": t.personal}


def tags_for(tags, viewer_id: int | None) -> list[dict]:
    """Company tags plus the viewer's own personal ones (TAG-1): a personal tag is never
    shown to anyone else, so broadcast events (viewer None) carry company tags only."""
    return [tag(t) for t in tags if t.owner_id is None or t.owner_id == viewer_id]


def summary(row, tags, viewer_id: int | None = None) -> dict:
    """One inbox list row from a mapping of the ticket's columns plus contact_name,
    department_name, agent_name, connection_name and connection_kind (services.inbox's
    page query, or `ticket_summary` for an object)."""
    kind = row["connection_kind"]
    return {
        "id": row["id"],
        "protocol": row["protocol"],
        "status": row["status"],
        "status_label": str(TICKET_STATUSES.get(row["status"], row["status"])),
        "contact": {"id": row["contact_id"], "name": row["contact_name"]},
        "department": ({"id": row["department_id"], "name": row["department_name"]}
                       if row["department_id"] else None),
        "agent": ({"id": row["agent_id"], "name": row["agent_name"]}
                  if row["agent_id"] else None),
        "connection": ({"id": row["connection_id"], "name": row["connection_name"], "kind": kind,
                        "kind_label": str(CONNECTION_KINDS.get(kind, kind))}
                       if row["connection_id"] else None),
        "favourite": row["favourite"],
        "has_failed": row["has_failed"],
        "automated": row["automated"],
        "unread": row["unread"],
        "preview": row["preview"] or "",
        "tags": tags_for(tags, viewer_id),
        "last_activity_at": iso(row["last_activity_at"]),
        "created_at": iso(row["created_at"]),
        "closed_at": iso(row["closed_at"]),
    }


def ticket_summary(ticket: Ticket, viewer_id: int | None = None) -> dict:
    """`summary` of a Ticket object (socket events, action answers)."""
    columns = {c: getattr(ticket, c) for c in (
        "id", "protocol", "status", "contact_id", "department_id", "agent_id", "connection_id",
        "favourite", "has_failed", "automated", "unread", "preview", "last_activity_at",
        "created_at", "closed_at")}
    connection = ticket.connection
    columns.update(
        contact_name=ticket.contact.name,
        department_name=ticket.department.name if ticket.department_id else None,
        agent_name=ticket.agent.name if ticket.agent_id else None,
        connection_name=connection.name if connection else None,
        connection_kind=connection.kind if connection else None)
    return summary(columns, ticket.tags, viewer_id)


def message(m: Message, connection=None, viewer_id: int | None = None) -> dict:
    """One message of the conversation panel; `connection` is the ticket's (MSG-4)."""
    connection = connection if connection is not None else m.ticket.connection
    data = {
        "id": m.id,
        "ticket_id": m.ticket_id,
        "direction": m.direction,
        "author_kind": m.author_kind,
        "author": m.author.name if m.author_id and m.author else None,
        "text": m.text or "",
        "status": m.status,
        "status_label": str(MESSAGE_STATUSES.get(m.status, m.status)),
        "error": m.error,
        "created_at": iso(m.created_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "read_at": iso(m.read_at),
        "tags": tags_for(m.tags, viewer_id),
        "channel": ({"kind": connection.kind, "label": connection.kind_label,
                     "name": connection.name} if connection else None),
        "attachment": None,
    }
    if m.file_key:
        data["attachment"] = {"name": m.file_name, "mime": m.file_mime, "size": m.file_size,
                              "kind": m.kind}
    return data


def visitor_message(m: Message) -> dict:
    """What the website visitor sees: no agent ids, no tags, no errors."""
    return {
        "id": m.id,
        "direction": m.direction,
        "author": m.author.name if m.author_kind == "agent" and m.author else None,
        "author_kind": m.author_kind,
        "text": m.text or "",
        "created_at": iso(m.created_at),
        "attachment": ({"name": m.file_name, "mime": m.file_mime, "kind": m.kind}
                       if m.file_key else None),
    }
