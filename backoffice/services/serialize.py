"""JSON shapes of tickets and messages, shared by the inbox API and socket events; and the
read-only builders of the inbox panel (meta, a ticket's contact and history).

Text goes out as data; the page puts it in the DOM with textContent, never innerHTML
(MSG-5). Times are UTC ISO-8601 with "Z"; the page shows them in the company's zone.
"""
from __future__ import annotations

import functools
import math
import operator
from datetime import datetime

import orjson
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select

from ..extensions import db
from ..models import (
    Company, Connection, Department, DepartmentMember, Message, Reason, Tag, Ticket, TicketEvent,
    User,
)
from ..models.channels import CONNECTION_KINDS
from ..models.portal import ServiceClassification
from ..models.tickets import MESSAGE_STATUSES, TICKET_STATUSES
from . import attachments, catalog, departments, images, visibility
from .catalog import safe_color

EVENTS = 20

# the short channel names of the inbox badges (the list row and the conversation header)
CHANNEL_BADGES = {
    "whatsapp": "WhatsApp", "instagram": "Instagram", "messenger": "Messenger",
    "telegram": "Telegram", "webchat": _l("Webchat"), "http_api": _l("API"),
    "portal": _l("Portal"),
}


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


# orjson's options that write a (naive, UTC) datetime exactly as `iso` does, from C: the
# list's rows keep their datetimes for the encoder (SCL-5: 150 `iso` calls were about
# 0.2 ms of a 50-row page)
ISO_MOMENTS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


def as_is(moment: datetime | None) -> datetime | None:
    return moment


def tag(t) -> dict:
    return {"id": t.id, "name": t.name, "color": safe_color(t.color), "personal": t.personal}


def tags_for(tags, viewer_id: int | None) -> list[dict]:
    """Company tags plus the viewer's own personal ones (TAG-1): a personal tag is never
    shown to anyone else, so broadcast events (viewer None) carry company tags only."""
    return [tag(t) for t in tags if t.owner_id is None or t.owner_id == viewer_id]


# (locale, id of a module's label dict, key) -> the label translated: the catalogs do not
# change while the process runs, and these dicts live as long as their module
_TRANSLATED: dict[tuple, str] = {}


class Labels:
    """The translated labels one response shows, each translated once per locale and
    process: a lazy string is translated again on every str() (a locale and catalog lookup
    through the request context), and a page of 50 rows or messages would do it hundreds
    of times for a handful of values. The locale is read per response, so a user's
    language change shows on the next request. `source` must be a module-level dict (the
    cache is keyed by its identity)."""

    def __init__(self):
        self._locale = str(get_locale())
        self.avatars: dict = {}

    def get(self, source: dict, key) -> str:
        entry = (self._locale, id(source), key)
        found = _TRANSLATED.get(entry)
        if found is None:
            found = _TRANSLATED[entry] = str(source.get(key, key))
        return found


# The columns a list row is made of, by name: the page SELECT's (services.inbox), or a
# Ticket's (`ticket_summary`).
SUMMARY_KEYS = (
    "id", "protocol", "status", "contact_id", "contact_name", "department_id",
    "department_name", "agent_id", "agent_name", "agent_avatar_key", "connection_id",
    "connection_name", "connection_kind", "favourite", "classification_id", "has_failed",
    "automated", "unread", "preview", "last_activity_at", "created_at", "closed_at")


@functools.lru_cache(maxsize=16)
def _summary_columns(keys: tuple[str, ...]) -> operator.itemgetter:
    return operator.itemgetter(*(keys.index(k) for k in SUMMARY_KEYS))


class Summaries:
    """Inbox list rows: one shape for the list page, the panel's answers and the socket
    events, so a ticket looks the same wherever it shows.

    Built from positional rows whose column names are `keys` (in any order; other
    columns are ignored), one `Summaries` per page: what the page's rows repeat (status
    and channel labels, an agent's avatar, a tag's colour) is worked out once (SCL-5: a
    row read through a mapping by per-value helpers cost about 4.5 µs, a fifth of a
    millisecond of a 50-row page, and a third of that was reading it by name).
    `moment=as_is` keeps the datetimes for orjson with ISO_MOMENTS."""

    def __init__(self, keys, viewer_id: int | None = None, labels: Labels | None = None,
                 moment=iso):
        self._columns = _summary_columns(tuple(keys))
        self._viewer_id = viewer_id
        self._labels = labels if labels is not None else Labels()
        self._moment = moment
        self._statuses: dict[str, str] = {}
        self._channels: dict[str, tuple[str, str]] = {}
        self._colors: dict[str, str] = {}

    def __call__(self, row, tags) -> dict:
        """One row; `tags`: the ticket's as (id, name, color, owner_id) sequences, in the
        order shown. A personal tag shows only to its owner (TAG-1), so broadcast events
        (no viewer) carry company tags only."""
        (ticket_id, protocol, status, contact_id, contact_name, department_id,
         department_name, agent_id, agent_name, avatar_key, connection_id, connection_name,
         kind, favourite, classification_id, has_failed, automated, unread, preview,
         last_activity_at, created_at, closed_at) = self._columns(row)
        labels = self._labels
        status_label = self._statuses.get(status)
        if status_label is None:
            status_label = self._statuses[status] = labels.get(TICKET_STATUSES, status)
        connection = None
        if connection_id:
            channel = self._channels.get(kind)
            if channel is None:
                channel = self._channels[kind] = (labels.get(CONNECTION_KINDS, kind),
                                                  labels.get(CHANNEL_BADGES, kind))
            connection = {"id": connection_id, "name": connection_name, "kind": kind,
                          "kind_label": channel[0], "kind_short": channel[1]}
        viewer_id, colors, shown = self._viewer_id, self._colors, []
        for tag_id, name, color, owner_id in tags:
            if owner_id is None or owner_id == viewer_id:
                safe = colors.get(color)
                if safe is None:
                    safe = colors[color] = safe_color(color)
                shown.append({"id": tag_id, "name": name, "color": safe,
                              "personal": owner_id is not None})
        moment = self._moment
        return {
            "id": ticket_id,
            "protocol": protocol,
            "status": status,
            "status_label": status_label,
            "contact": {"id": contact_id, "name": contact_name},
            "department": ({"id": department_id, "name": department_name}
                           if department_id else None),
            "agent": ({"id": agent_id, "name": agent_name,
                       "avatar": self._avatar(agent_name, avatar_key)} if agent_id else None),
            "connection": connection,
            "favourite": favourite,
            "classification_id": classification_id,  # POR-1: the list's filter, live too
            "has_failed": has_failed,
            "automated": automated,
            "unread": unread,
            "preview": preview or "",
            "tags": shown,
            "last_activity_at": moment(last_activity_at),
            "created_at": moment(created_at),
            "closed_at": moment(closed_at),
        }

    def _avatar(self, name: str | None, key: str | None) -> dict:
        """UX-5: the agent's initials, and the picture's URL when they have one. The same
        agent on many rows of a page is drawn once (a fresh dict per row all the same)."""
        avatars = self._labels.avatars
        found = avatars.get((name, key))
        if found is None:
            found = images.avatar(None, name)
            found["url"] = images.AVATAR_PATH.format(key=key) if key else None
            avatars[(name, key)] = found
        return dict(found)


def classification(ticket: Ticket) -> dict | None:
    """POR-1: "classification › sub-classification" of a ticket (a portal protocol's)."""
    if not ticket.classification_id or ticket.classification is None:
        return None
    sub = ticket.subclassification if ticket.subclassification_id else None
    return {"id": ticket.classification_id, "name": ticket.classification.name,
            "sub": sub.name if sub is not None else None}


def ticket_summary(ticket: Ticket, viewer_id: int | None = None,
                   labels: Labels | None = None) -> dict:
    """The list row of a Ticket object (socket events, action answers): see `Summaries`."""
    connection = ticket.connection
    agent = ticket.agent if ticket.agent_id else None
    row = (ticket.id, ticket.protocol, ticket.status, ticket.contact_id, ticket.contact.name,
           ticket.department_id, ticket.department.name if ticket.department_id else None,
           ticket.agent_id, agent.name if agent else None, agent.avatar_key if agent else None,
           ticket.connection_id, connection.name if connection else None,
           connection.kind if connection else None, ticket.favourite,
           ticket.classification_id, ticket.has_failed, ticket.automated, ticket.unread,
           ticket.preview, ticket.last_activity_at, ticket.created_at, ticket.closed_at)
    tags = [(t.id, t.name, t.color, t.owner_id) for t in ticket.tags]
    return Summaries(SUMMARY_KEYS, viewer_id, labels)(row, tags)


def author_name(m: Message) -> str | None:
    """The name on a message: its agent's, or "API: <token>" for one an integration sent
    through the public API (API-1); None for the contact, the system and automations."""
    if m.author_id and m.author:
        return m.author.name
    sender = m.api_sender
    return _("API: %(name)s", name=sender) if sender else None


def _author_avatar(m: Message, labels: Labels) -> dict | None:
    """UX-5: the agent's picture or initials beside their bubbles (once per agent a page)."""
    if not (m.author_kind == "agent" and m.author_id and m.author):
        return None
    found = labels.avatars.get(("user", m.author_id))
    if found is None:
        found = labels.avatars[("user", m.author_id)] = images.avatar(m.author)
    return dict(found)


def message(m: Message, connection=None, viewer_id: int | None = None,
            quotes: dict | None = None, labels: Labels | None = None) -> dict:
    """One message of the conversation panel; `connection` is the ticket's (MSG-4);
    `quotes` the page's quoted messages (quoted_messages), else looked up alone;
    `labels` the page's, shared by its messages."""
    connection = connection if connection is not None else m.ticket.connection
    labels = labels if labels is not None else Labels()
    data = {
        "id": m.id,
        "ticket_id": m.ticket_id,
        "direction": m.direction,
        "author_kind": m.author_kind,
        "author": author_name(m),
        "author_avatar": _author_avatar(m, labels),
        "text": m.text or "",
        "status": m.status,
        "status_label": labels.get(MESSAGE_STATUSES, m.status),
        "error": m.error,
        "created_at": iso(m.created_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "read_at": iso(m.read_at),
        "tags": tags_for(m.tags, viewer_id),
        "channel": ({"kind": connection.kind,
                     "label": labels.get(CONNECTION_KINDS, connection.kind),
                     "name": connection.name} if connection else None),
        "attachment": None,
    }
    if m.file_key:
        data["attachment"] = {"name": m.file_name, "mime": m.file_mime, "size": m.file_size,
                              "kind": m.kind}
    data["extra"] = message_extra(m, quotes)
    return data


# --- what a provider message carries besides its text (Message.extra) -----------------------

QUOTE_CHARS = 140


def _short(value, limit: int = 200) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    value = str(value).strip()
    return value[:limit] if value else None


def _coordinate(value, bound: float) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and -bound <= number <= bound else None


def _quoted_id(m: Message) -> int | None:
    reply_to = m.extra.get("reply_to") if isinstance(m.extra, dict) else None
    found = reply_to.get("message_id") if isinstance(reply_to, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) else None


def _quotable(quoted_ids, contact_ids, company_id: int):
    """The quoted messages among `quoted_ids` that belong to the given contacts'
    tickets of the company (the chat they were quoted from), nothing else."""
    # columns, not entities: no tags loaded, no instance of the page touched
    return (select(Message.id, Message.text, Message.file_name, Message.direction)
            .join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.id.in_(quoted_ids), Message.company_id == company_id,
                   Ticket.company_id == company_id, Ticket.contact_id.in_(contact_ids)))


def quoted_messages(rows) -> dict:
    """The messages that a page of one conversation quotes, in one query (instead of one
    per quoting message): pass it to `message(..., quotes=)`."""
    rows = list(rows)
    quoted_ids = {q for m in rows if (q := _quoted_id(m)) is not None}
    if not quoted_ids:
        return {}
    contact_ids = select(Ticket.contact_id).where(Ticket.id.in_({m.ticket_id for m in rows}))
    return {q.id: q for q in db.session.execute(
        _quotable(quoted_ids, contact_ids, rows[0].company_id))}


def _quoted(m: Message, reply_to, quotes: dict | None) -> dict | None:
    """The message a customer's (or agent's) reply quotes: its short text and direction,
    looked up in the same contact's conversations only (the chat it was quoted from);
    `found` False when it is not stored here. `quotes`: a page's, from quoted_messages."""
    if not isinstance(reply_to, dict):
        return None
    quoted = None
    quoted_id = _quoted_id(m)
    if quoted_id is not None and quotes is not None:
        quoted = quotes.get(quoted_id)
    elif quoted_id is not None:
        same_contact = select(Ticket.contact_id).where(Ticket.id == m.ticket_id)
        quoted = db.session.execute(_quotable([quoted_id], same_contact, m.company_id)).first()
    if quoted is None:
        return {"found": False, "id": None, "text": None, "direction": None}
    text = (quoted.text or quoted.file_name or "").strip()
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS - 1] + "…"
    return {"found": True, "id": quoted.id, "text": text, "direction": quoted.direction}


def _location(found) -> dict | None:
    if not isinstance(found, dict):
        return None
    lat = _coordinate(found.get("latitude", found.get("lat")), 90)
    lon = _coordinate(found.get("longitude", found.get("lng", found.get("lon"))), 180)
    if lat is None or lon is None:
        return None
    # built from the two numbers only: nothing the customer typed reaches the address
    url = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"
    return {"latitude": lat, "longitude": lon, "url": url,
            "name": _short(found.get("name")), "address": _short(found.get("address"), 300)}


def _phones(found) -> list[str]:
    phones = found.get("phones") if isinstance(found, dict) else None
    if isinstance(phones, str):
        phones = [phones]
    out = []
    for phone in phones if isinstance(phones, list) else []:
        number = _short(phone.get("phone") or phone.get("wa_id") if isinstance(phone, dict)
                        else phone, 40)
        if number:
            out.append(number)
    single = _short(found.get("phone") or found.get("phone_number"), 40) \
        if isinstance(found, dict) else None
    if single and single not in out:
        out.append(single)
    return out[:5]


def _contact_cards(found) -> list[dict]:
    cards = found if isinstance(found, list) else [found]
    out = []
    for card in cards[:5]:
        if not isinstance(card, dict):
            continue
        name = card.get("name")
        if isinstance(name, dict):
            name = name.get("formatted_name") or " ".join(
                str(v) for v in (name.get("first_name"), name.get("last_name")) if v)
        name = _short(name or card.get("formatted_name") or card.get("first_name"))
        phones = _phones(card)
        if name or phones:
            out.append({"name": name, "phones": phones})
    return out


def message_extra(m: Message, quotes: dict | None = None) -> dict:
    """The essentials of Message.extra the conversation panel shows (quoted reply,
    location, contact cards, reaction, WhatsApp template, Meta tag), as plain data: the
    page renders every string as text."""
    extra = m.extra if isinstance(m.extra, dict) else {}
    out: dict = {}
    if extra.get("reply_to"):
        out["reply_to"] = _quoted(m, extra["reply_to"], quotes)
    if (location := _location(extra.get("location"))) is not None:
        out["location"] = location
    if extra.get("contact") or extra.get("contacts"):
        cards = _contact_cards(extra.get("contact") or extra.get("contacts"))
        if cards:
            out["contacts"] = cards
    reaction = extra.get("reaction")
    if isinstance(reaction, dict) and (reaction.get("emoji") or reaction.get("action")):
        out["reaction"] = {"emoji": _short(reaction.get("emoji"), 16),
                           "removed": reaction.get("action") == "unreact"
                           or not reaction.get("emoji")}
    template = extra.get("template")
    if isinstance(template, dict) and template.get("name"):
        out["template"] = {"name": _short(template.get("name"), 512),
                           "language": _short(template.get("language")
                                              if not isinstance(template.get("language"), dict)
                                              else template["language"].get("code"), 15)}
    if extra.get("tag"):
        out["tag"] = _short(extra.get("tag"), 40)
    return out


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


# --- the inbox panel -----------------------------------------------------------------------


def meta(user: User, farewells) -> dict:
    """What the inbox page needs once: the user, the company's connections, departments
    (those the user filters by, those a ticket may go to), agents, tags, reasons, the
    active `farewells` (services.tickets.farewells) and the labels."""
    company = db.session.get(Company, user.company_id)
    supervisor = visibility.supervises(user)
    cid = user.company_id
    connections = list(db.session.scalars(
        Connection.owned(cid)
        .order_by(Connection.active.desc(), Connection.name)))
    all_departments = departments.ordered(cid, active_only=False)
    if supervisor:
        filter_departments = all_departments
    else:
        own = visibility.department_ids(user)
        filter_departments = [d for d in all_departments if d.id in own]
    agents = visibility.agents_of(cid)
    memberships: dict[int, list[int]] = {}
    for user_id, department_id in db.session.execute(
            DepartmentMember.owned(cid, DepartmentMember.user_id,
                                   DepartmentMember.department_id)):
        memberships.setdefault(user_id, []).append(department_id)
    tags = catalog.visible_tags(db.session.query(Tag).filter(Tag.company_id == cid),
                                user.id).order_by(Tag.name).all()
    reasons = list(db.session.scalars(
        Reason.owned(cid).where(Reason.active.is_(True)).order_by(Reason.name)))
    return {
        "user": {"id": user.id, "name": user.name, "supervises": supervisor,
                 "avatar": images.avatar(user)},
        "logo_url": images.logo_url(company),
        "company": {"id": cid, "name": company.name if company else ""},
        "timezone": (company.timezone if company else None) or "America/Sao_Paulo",
        "connections": [{"id": c.id, "name": c.name, "kind": c.kind, "kind_label": c.kind_label,
                         "active": c.active} for c in connections],
        "departments": [{"id": d.id, "name": d.name, "active": d.active}
                        for d in filter_departments],
        "transfer_departments": [{"id": d.id, "name": d.name}
                                 for d in departments.ordered(cid, True, True)],
        "agents": [{"id": a.id, "name": a.name, "avatar": images.avatar(a),
                    "department_ids": sorted(memberships.get(a.id, [])),
                    "supervises": a.can("inbox", "supervise")} for a in agents],
        "tags": [tag(t) for t in tags],
        # POR-1: the list's filter by classification
        "classifications": [{"id": c.id, "name": c.name} for c in db.session.scalars(
            ServiceClassification.owned(cid).order_by(ServiceClassification.position,
                                                      ServiceClassification.name))],
        "reasons": [{"id": r.id, "name": r.name} for r in reasons],
        "farewells": [{"id": f.id, "title": f.title} for f in farewells],
        "statuses": {
            "ticket": {k: str(v) for k, v in TICKET_STATUSES.items()},
            "message": {k: str(v) for k, v in MESSAGE_STATUSES.items()},
        },
        "max_upload": attachments.max_bytes(),
    }


def contact(user: User, ticket: Ticket, others: int | None = None) -> dict:
    """The ticket's contact, with how many other tickets of it `user` may see (`others`
    when the caller counted them already: services.inbox.open_ticket)."""
    person = ticket.contact
    if others is None:
        others = db.session.scalar(
            select(func.count()).select_from(Ticket).where(
                Ticket.contact_id == person.id, Ticket.id != ticket.id,
                visibility.ticket_filter(user)))
    return {"id": person.id, "name": person.name, "phone": person.phone,
            "email": person.email, "created_at": iso(person.created_at),
            "other_tickets": others or 0}


EVENT_LABELS = {
    "created": _l("Atendimento aberto"),
    "accepted": _l("Aceito"),
    "transferred": _l("Transferido"),
    "closed": _l("Finalizado"),
    "reopened": _l("Reaberto"),
    "tagged": _l("Etiquetas adicionadas"),
    "untagged": _l("Etiquetas removidas"),
    "automation": _l("Automação"),
    "bot": _l("Chatbot"),
    "out_of_hours": _l("Fora do horário de atendimento"),
    "survey": _l("Pesquisa de satisfação"),
    "scheduled": _l("Mensagem agendada"),
}


def event_label(kind: str, labels: Labels | None = None) -> str:
    """The history line's name in the user's language (`labels`: the response's, so 20
    lines translate each kind once)."""
    return (labels or Labels()).get(EVENT_LABELS, kind)


def events(ticket: Ticket, limit: int = EVENTS) -> list[dict]:
    """The ticket's latest history entries, newest first, with names instead of ids
    (names looked up in the ticket's company only)."""
    # who did each line comes with it (joined): the names of the users a line only
    # mentions (a transfer's agent) are looked up after, with departments and reasons
    found = db.session.execute(
        select(TicketEvent, User.name)
        .outerjoin(User, and_(User.id == TicketEvent.user_id,
                              User.company_id == ticket.company_id))
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.company_id == ticket.company_id)
        .order_by(TicketEvent.id.desc()).limit(limit)).all()
    rows = [row for row, _name in found]
    doers = {row.user_id: name for row, name in found if name is not None}
    wanted_departments, wanted_users, wanted_reasons = set(), set(), set()
    for row in rows:
        data = row.data or {}
        for key in ("from_department_id", "to_department_id"):
            if isinstance(data.get(key), int):
                wanted_departments.add(data[key])
        if isinstance(data.get("to_agent_id"), int):
            wanted_users.add(data["to_agent_id"])
        if isinstance(data.get("reason_id"), int):
            wanted_reasons.add(data["reason_id"])
    wanted_users -= doers.keys()

    def names(model, ids):
        if not ids:
            return {}
        return dict(db.session.execute(select(model.id, model.name).where(
            model.id.in_(ids), model.company_id == ticket.company_id)).all())

    dept_names = names(Department, wanted_departments)
    user_names = {**doers, **names(User, wanted_users)}
    reason_names = names(Reason, wanted_reasons)
    out = []
    labels = Labels()
    for row in rows:
        data = row.data or {}
        out.append({
            "id": row.id,
            "kind": row.kind,
            "label": event_label(row.kind, labels),
            "user": user_names.get(row.user_id),
            "created_at": iso(row.created_at),
            "observation": data.get("observation") or None,
            "from_department": dept_names.get(data.get("from_department_id")),
            "to_department": dept_names.get(data.get("to_department_id")),
            "to_agent": user_names.get(data.get("to_agent_id")),
            "reason": reason_names.get(data.get("reason_id")),
            # automation lines (AUT-8): done by no one, in the name of a rule, flow or timer
            "automatic": bool(data.get("automatic")),
            "source": data.get("source") or None,
            "detail": data.get("detail") or None,
        })
    return out


_LOOK_UP = object()


def survey(ticket: Ticket, found=_LOOK_UP) -> dict | None:
    """The ticket's satisfaction survey (AUT-3, RAT-1) for the inbox's panel: None when
    none was asked. `found`: its SurveyAnswer (or None) when the caller read it already."""
    from ..models.automation import SURVEY_NPS, SURVEY_STATUSES, SurveyAnswer

    if found is _LOOK_UP:
        found = db.session.scalar(select(SurveyAnswer).where(
            SurveyAnswer.ticket_id == ticket.id, SurveyAnswer.company_id == ticket.company_id))
    if found is None:
        return None
    return {"status": found.status,
            "status_label": str(SURVEY_STATUSES.get(found.status, found.status)),
            "score": found.score, "max": 10 if found.scale == SURVEY_NPS else 5,
            "scale": found.scale, "comment": found.comment,
            "answered_at": iso(found.answered_at)}
