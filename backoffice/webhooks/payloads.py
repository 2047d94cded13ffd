"""The JSON body of one webhook delivery (WHK-1): a public contract, documented on the API
documentation page. Fields are added, never renamed or removed.

    {
      "id": "5b0c7a3e-...",              event id (uuid4): the same for every webhook that
                                          receives the event, also in X-Atende-Delivery;
                                          a retry or "Reenviar" repeats it (deduplicate on it)
      "type": "ticket.created",          the event (backoffice.events.EVENTS), or "ping"
      "created_at": "2026-12-01T12:00:00Z",   when it happened, UTC
      "company_id": 3,
      "data": { ... }                    the objects of the event, by kind
    }

`data` by event:

    ticket.created, ticket.updated, ticket.status_changed, ticket.closed
                              {"ticket": TICKET}
    ticket.transferred        {"ticket": TICKET, "from_department_id": int|null,
                               "from_agent_id": int|null}
    message.created           {"message": MESSAGE, "ticket": TICKET}
    message.status_changed, message.failed
                              {"message": MESSAGE}
    contact.created, contact.updated, contact.deleted
                              {"contact": CONTACT}   (deleted: as it was before it went)
    survey.answered           {"survey": SURVEY, "ticket": TICKET}
    ping                      {"webhook": {"id", "name"}}   ("Testar" on the Webhooks screen)

    TICKET   id, protocol, status (waiting|open|pending|closed), contact {id, name},
             department {id, name}|null, agent {id, name}|null,
             connection {id, name, kind}|null, reason {id, name}|null, tags [{id, name}],
             automated, has_failed, created_at, accepted_at, closed_at, last_activity_at
    MESSAGE  id, ticket_id, direction (in|out), author_kind (contact|agent|bot|system),
             author {id, name}|null, text, status, error, created_at, sent_at,
             delivered_at, read_at, attachment {name, mime, size, kind, path}|null
             (path: where the API serves the file, GET on this site with a token that
             has api:messages.read),
             tags [{id, name}], extra {reply_to, location, contacts, reaction, template, tag}
    CONTACT  id, name, phone (E.164)|null, email|null, person_type (PF|PJ)|null,
             document (CPF/CNPJ digits)|null, custom_fields {key: text}, tags [{id, name}],
             created_at, updated_at
    SURVEY   id, ticket_id, scale (csat|nps), score, max, comment|null,
             agent {id, name}|null, department_id|null, asked_at, answered_at

Times are UTC ISO-8601 with "Z". Nothing here depends on who looks (a user's personal
tags are never included) and no secret is (connection credentials, tokens, notes of the
agents' own). Built inside the emitting transaction, from the rows as the change left them.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from ..services.serialize import iso, message_extra


def envelope(event: str, company_id: int, data: dict, at: datetime,
             event_id: str | None = None) -> dict:
    return {"id": event_id or str(uuid.uuid4()), "type": event, "created_at": iso(at),
            "company_id": company_id, "data": data}


def dumps(body: dict) -> str:
    """The exact text that is stored, signed and sent (UTF-8, compact)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _ref(row) -> dict | None:
    return None if row is None else {"id": row.id, "name": row.name}


def _tags(tags) -> list[dict]:
    return [{"id": t.id, "name": t.name} for t in tags if t.owner_id is None]


def ticket(t) -> dict:
    connection = t.connection
    return {
        "id": t.id,
        "protocol": t.protocol,
        "status": t.status,
        "contact": _ref(t.contact),
        "department": _ref(t.department) if t.department_id else None,
        "agent": _ref(t.agent) if t.agent_id else None,
        "connection": ({"id": connection.id, "name": connection.name, "kind": connection.kind}
                       if connection is not None else None),
        "reason": _ref(t.reason) if t.reason_id else None,
        "tags": _tags(t.tags),
        "automated": bool(t.automated),
        "has_failed": bool(t.has_failed),
        "created_at": iso(t.created_at),
        "accepted_at": iso(t.accepted_at),
        "closed_at": iso(t.closed_at),
        "last_activity_at": iso(t.last_activity_at),
    }


def media_path(message_id: int) -> str:
    """The API's download of a message's file, relative to the site: a delivery is built
    wherever the message was made (a worker has no host to put in front)."""
    return f"/api/v1/messages/{message_id}/media"


def message(m) -> dict:
    return {
        "id": m.id,
        "ticket_id": m.ticket_id,
        "direction": m.direction,
        "author_kind": m.author_kind,
        "author": _ref(m.author) if m.author_id else None,
        "text": m.text or "",
        "status": m.status,
        "error": m.error,
        "created_at": iso(m.created_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "read_at": iso(m.read_at),
        "attachment": ({"name": m.file_name, "mime": m.file_mime, "size": m.file_size,
                        "kind": m.kind, "path": media_path(m.id)} if m.file_key else None),
        "tags": _tags(m.tags),
        "extra": message_extra(m),
    }


def contact(c) -> dict:
    return {
        "id": c.id,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "person_type": c.person_type,
        "document": c.document,
        "custom_fields": dict(c.custom_fields or {}),
        "tags": _tags(c.tags),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def survey(s) -> dict:
    from ..models.automation import SURVEY_NPS

    return {
        "id": s.id,
        "ticket_id": s.ticket_id,
        "scale": s.scale,
        "score": s.score,
        "max": 10 if s.scale == SURVEY_NPS else 5,
        "comment": s.comment,
        "agent": _ref(s.agent) if s.agent_id else None,
        "department_id": s.department_id,
        "asked_at": iso(s.asked_at),
        "answered_at": iso(s.answered_at),
    }


def data_of(event: str, **kwargs) -> dict:
    """`data` of an event from the keyword arguments of its `events.emit`."""
    kind = event.partition(".")[0]
    if kind == "ticket":
        out = {"ticket": ticket(kwargs["ticket"])}
        if event == "ticket.transferred":
            out["from_department_id"] = kwargs.get("from_department_id")
            out["from_agent_id"] = kwargs.get("from_agent_id")
        return out
    if kind == "message":
        out = {"message": message(kwargs["message"])}
        if event == "message.created":
            out["ticket"] = ticket(kwargs.get("ticket") or kwargs["message"].ticket)
        return out
    if kind == "contact":
        return {"contact": contact(kwargs["contact"])}
    if kind == "survey":
        return {"survey": survey(kwargs["survey"]), "ticket": ticket(kwargs["ticket"])}
    raise ValueError(f"no payload for event {event!r}")


def subject_of(event: str, **kwargs):
    """The row the event is about, for its company and its order key."""
    kind = event.partition(".")[0]
    return kwargs[kind] if kind in kwargs else None


def order_key(event: str, row) -> str | None:
    """Deliveries with one key reach a webhook in the order of their events: a ticket's
    events and its messages' share the ticket's key, a contact's events the contact's."""
    kind = event.partition(".")[0]
    if kind == "ticket":
        return f"ticket:{row.id}"
    if kind in ("message", "survey"):
        return f"ticket:{row.ticket_id}"
    if kind == "contact":
        return f"contact:{row.id}"
    return None
