"""The inbox list (FLT-1), search (MSG-3) and the conversation panel, as queries; and the
typed inputs of the inbox API: `Filters` (forgiving, from the query string) and the request
bodies (`TransferInput`, `CloseInput`, `SendInput`, ..., strict, from services.inputs.Fields).

Built for 100k tickets and more: keyset pagination on (last_activity_at, id) over the
ticket_inbox indexes, the related rows and the tags loaded in the page's own SELECT (one
query whatever the page size), no COUNT(*) of the whole set.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Callable

from flask_babel import gettext as _

from sqlalchemy import JSON, and_, bindparam, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..extensions import db
from ..lib import precompiled
from ..models import Connection, Department, Message, Tag, Ticket, User
from ..models.contacts import Contact
from ..models.tickets import CLOSED, OPEN_STATUSES, PENDING, ticket_tag
from . import MAX_ID, RuleError, as_id, serialize, visibility
from .inputs import Fields, flag, ids, list_field, opt_id, text

PAGE = 50
MAX_PAGE = 100
VIEWS = ("all", "mine", "unassigned")
ORDERS = ("newest", "oldest")
STATUSES = ("open", "pending", "failed", "closed", "automation", "any")


@dataclass
class Filters:
    view: str = "all"
    order: str = "newest"
    status: str = "open"
    connection_id: int | None = None
    department_id: int | None = None
    tag_id: int | None = None
    classification_id: int | None = None  # POR-1: the portal protocols' classification
    favourite: bool = False
    q: str = ""          # contact name or protocol
    text: str = ""       # words inside the conversations (MSG-3, across)
    cursor: str | None = None
    limit: int = PAGE

    @classmethod
    def from_args(cls, args) -> "Filters":
        """From a query string, forgiving: an unknown value falls back to the default
        instead of erroring, a non-numeric id is ignored."""
        def pick(name, allowed, default):
            value = args.get(name, default)
            return value if value in allowed else default

        def number(name):
            try:
                value = int(args.get(name) or 0)
            except (TypeError, ValueError):
                return None
            return value if 0 < value <= MAX_ID else None

        try:
            limit = max(1, min(MAX_PAGE, int(args.get("limit") or PAGE)))
        except (TypeError, ValueError):
            limit = PAGE
        return cls(view=pick("view", VIEWS, "all"), order=pick("order", ORDERS, "newest"),
                   status=pick("status", STATUSES, "open"),
                   connection_id=number("connection"), department_id=number("department"),
                   tag_id=number("tag"), classification_id=number("classification"),
                   favourite=args.get("favourite") in ("1", "true"),
                   q=_clean(args.get("q")), text=_clean(args.get("text")),
                   cursor=args.get("cursor") or None, limit=limit)


# --- request bodies (strict: a malformed field is a Portuguese 400, never a 500) -----------
# Read from services.inputs.Fields (a JSON object or a form, read the same way); the field order
# below is the order in which errors are reported.

MAX_BULK = 200
BULK_ACTIONS = ("close", "transfer")


def _tag_ids(body: Fields, *names) -> list[int]:
    return ids(list_field(body, *names), _("Etiquetas inválidas."))


@dataclass
class TransferInput:
    department_id: int | None = None
    agent_id: int | None = None
    observation: str = ""

    @classmethod
    def from_body(cls, body: Fields) -> "TransferInput":
        return cls(department_id=opt_id(body.get("department_id"), _("Departamento inválido.")),
                   agent_id=opt_id(body.get("agent_id"), _("Atendente inválido.")),
                   observation=text(body, "observation", 1000))

    def fields(self) -> dict:
        """Keyword arguments of services.tickets.transfer."""
        return asdict(self)


@dataclass
class CloseInput:
    reason_id: int | None = None
    farewell_id: int | None = None
    note: str = ""

    @classmethod
    def from_body(cls, body: Fields) -> "CloseInput":
        return cls(reason_id=opt_id(body.get("reason_id"), _("Motivo inválido.")),
                   farewell_id=opt_id(body.get("farewell_id"),
                                      _("Mensagem de despedida inválida.")),
                   note=text(body, "note", 1000))

    def fields(self) -> dict:
        """Keyword arguments of services.tickets.close."""
        return asdict(self)


MAX_TEMPLATE_VARIABLES = 20


def _variables(body: Fields) -> list[str]:
    # read raw, not with Fields.getlist: an empty value keeps its place ({{2}} stays 2nd)
    if body.is_json:
        values = body.get("variables")
        values = [] if values is None else values
    else:
        values = body.data.getlist("variables") or body.data.getlist("variables[]")
    if (not isinstance(values, list) or len(values) > MAX_TEMPLATE_VARIABLES
            or not all(isinstance(v, str) for v in values)):
        raise RuleError(_("Variáveis do modelo inválidas."))
    return values


@dataclass
class SendInput:
    """A reply (MSG-1): text, tags and a quick reply; the file comes as multipart. Or an
    approved WhatsApp template (CHN-4) with the values of its {{1}}, {{2}}... in order."""
    text: str = ""
    tag_ids: list[int] = field(default_factory=list)
    template_id: int | None = None
    provider_template_id: int | None = None
    variables: list[str] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Fields) -> "SendInput":
        values = _variables(body)
        return cls(text=text(body, "text"), tag_ids=_tag_ids(body, "tags", "tag_ids"),
                   template_id=opt_id(body.get("template_id"), _("Resposta rápida inválida.")),
                   provider_template_id=opt_id(body.get("provider_template_id"),
                                               _("Modelo aprovado inválido.")),
                   variables=[v.replace("\x00", "")[:4096] for v in values])


@dataclass
class TagsInput:
    tag_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_body(cls, body: Fields) -> "TagsInput":
        return cls(tag_ids=_tag_ids(body, "tag_ids", "tags"))


@dataclass
class FavouriteInput:
    value: bool

    @classmethod
    def from_body(cls, body: Fields) -> "FavouriteInput":
        if "value" not in body:
            raise RuleError(_("Informe o valor (value)."))
        return cls(value=flag(body.get("value")))


@dataclass
class BulkInput:
    """BLK-1: close or transfer up to MAX_BULK tickets with the same fields."""
    action: str
    ids: list[int]
    fields: dict

    @classmethod
    def from_body(cls, body: Fields) -> "BulkInput":
        action = body.get("action")
        if action not in BULK_ACTIONS:
            raise RuleError(_("Ação inválida: use close ou transfer."))
        ticket_ids = ids(list_field(body, "ids"), _("Lista de atendimentos inválida."))
        if not ticket_ids:
            raise RuleError(_("Selecione ao menos um atendimento."))
        if len(ticket_ids) > MAX_BULK:
            raise RuleError(_("Selecione no máximo %(n)s atendimentos por vez.", n=MAX_BULK))
        chosen = CloseInput if action == "close" else TransferInput
        return cls(action=action, ids=ticket_ids, fields=chosen.from_body(body).fields())


def _clean(value) -> str:
    """A search term: no NUL (PostgreSQL refuses it), at most 100 characters."""
    return (value or "").replace("\x00", "").strip()[:100] if isinstance(value, str) else ""


def like_pattern(term: str) -> str:
    """`term` anywhere in the text, for LIKE/ILIKE with escape="\\": its % and _ literal."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _decode_cursor(cursor: str | None):
    if not cursor:
        return None
    moment, _, ident = cursor.partition("_")
    try:
        moment, ident = datetime.fromisoformat(moment), int(ident)
    except ValueError:
        return None
    return (moment.replace(tzinfo=None), ident) if 0 < ident <= MAX_ID else None


def encode_cursor(row) -> str:
    """Where the next page starts: after this ticket."""
    return _cursor(row.last_activity_at, row.id)


def _cursor(last_activity_at: datetime, ticket_id: int) -> str:
    return f"{last_activity_at.isoformat()}_{ticket_id}"


# --- the list's filters --------------------------------------------------------------------
# Each optional filter is one entry of NARROWINGS: the Filters field that turns it on and
# its WHERE clause, which reads its values through `v(name)`. Through `narrow` and
# `ticket_query` (the public API, the unread counts) `v` gives the values themselves;
# through `page_query` it gives named bind parameters, so the page's SELECT is built once
# per shape (which filters are on) and run with each request's values (`_values`).
# A new filter: a Filters field and its from_args line, one entry here, and in `_values`
# any value its clause reads under a name other than its field's.


@dataclass(frozen=True)
class Narrowing:
    field: str         # the Filters field: the filter is on when it is truthy
    clause: Callable   # v -> the WHERE clause, its values read through v(name)


def _contact_or_protocol(v):
    matching = select(Contact.id).where(Contact.company_id == v("company_id"),
                                        Contact.name.ilike(v("q_pattern"), escape="\\"))
    return or_(Ticket.protocol == v("q"), Ticket.contact_id.in_(matching))


NARROWINGS = (
    Narrowing("connection_id", lambda v: Ticket.connection_id == v("connection_id")),
    Narrowing("department_id", lambda v: Ticket.department_id == v("department_id")),
    Narrowing("tag_id", lambda v: exists().where(ticket_tag.c.ticket_id == Ticket.id,
                                                 ticket_tag.c.tag_id == v("tag_id"))),
    # POR-1: the portal protocols' classification
    Narrowing("classification_id",
              lambda v: Ticket.classification_id == v("classification_id")),
    Narrowing("favourite", lambda v: Ticket.favourite.is_(True)),
    Narrowing("q", _contact_or_protocol),          # contact name or protocol
    Narrowing("text", lambda v: exists().where(   # words in the conversation (MSG-3)
        Message.ticket_id == Ticket.id, Message.text.ilike(v("text_pattern"), escape="\\"))),
)

STATUS_CLAUSES = {
    # one bind parameter per status, not an expanding one: an expanding list is rendered
    # into the SQL text again on every execution of the cached page statement (SCL-5)
    "open": lambda: Ticket.status.in_([literal(s) for s in OPEN_STATUSES]),
    "pending": lambda: Ticket.status == PENDING,
    "failed": lambda: Ticket.has_failed.is_(True),
    "closed": lambda: Ticket.status == CLOSED,
    "automation": lambda: Ticket.automated.is_(True),
}  # "any": no clause


def _values(f: Filters, company_id) -> dict:
    """The values the clauses read through `v`, by name (None: the filter is off)."""
    values = {n.field: getattr(f, n.field) for n in NARROWINGS}
    values.update(company_id=company_id,
                  q_pattern=like_pattern(f.q) if f.q else None,
                  text_pattern=like_pattern(f.text) if f.text else None)
    return values


def _narrowed(q, status: str, on: tuple[str, ...], v):
    clause = STATUS_CLAUSES.get(status)
    if clause is not None:
        q = q.where(clause())
    for narrowing in NARROWINGS:
        if narrowing.field in on:
            q = q.where(narrowing.clause(v))
    return q


def _on(f: Filters) -> tuple[str, ...]:
    return tuple(n.field for n in NARROWINGS if getattr(f, n.field))


def narrow(q, f: Filters, company_id: int):
    """The list's filters (status, connection, department, tag, classification, favourite,
    contact name or protocol, words in the conversation) on a select() of the company's
    tickets."""
    return _narrowed(q, f.status, _on(f), _values(f, company_id).__getitem__)


def _tickets(user, view: str, status: str, order: str, on: tuple[str, ...], paged: bool, v):
    """The select() of the list's tickets for `user`, ordered, after the cursor when
    `paged` (its position read as v("cursor_at"), v("cursor_id"))."""
    q = select(Ticket).where(visibility.ticket_filter(user))
    if view == "mine":
        q = q.where(Ticket.agent_id == user.id)
    elif view == "unassigned":
        q = q.where(Ticket.agent_id.is_(None))
    q = _narrowed(q, status, on, v)
    newest = order == "newest"
    if paged:
        moment, ident = v("cursor_at"), v("cursor_id")
        # The first bound is redundant with the OR but is what the index can seek on;
        # without it a deep page reads every row before it.
        if newest:
            q = q.where(Ticket.last_activity_at <= moment,
                        or_(Ticket.last_activity_at < moment,
                            and_(Ticket.last_activity_at == moment, Ticket.id < ident)))
        else:
            q = q.where(Ticket.last_activity_at >= moment,
                        or_(Ticket.last_activity_at > moment,
                            and_(Ticket.last_activity_at == moment, Ticket.id > ident)))
    if newest:
        return q.order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
    return q.order_by(Ticket.last_activity_at.asc(), Ticket.id.asc())


def ticket_query(user: User, f: Filters):
    """The select() of the list's tickets for `user` (without the limit)."""
    position = _decode_cursor(f.cursor)
    values = _values(f, user.company_id)
    if position is not None:
        values["cursor_at"], values["cursor_id"] = position
    return _tickets(user, f.view, f.status, f.order, _on(f), position is not None,
                    values.__getitem__)


# The list reads columns, not objects: the page is one SELECT of exactly what a row
# shows (not the department's 30 settings or the agent's password hash), its tags
# included, and no ORM objects are built for it. serialize.Summaries gives it the same
# shape as the socket events' ticket_summary.
AgentUser = aliased(User, name="agent")
SUMMARY_COLUMNS = (
    Ticket.id, Ticket.protocol, Ticket.status, Ticket.contact_id, Ticket.department_id,
    Ticket.agent_id, Ticket.connection_id, Ticket.favourite, Ticket.classification_id,
    Ticket.has_failed,
    Ticket.automated, Ticket.unread, Ticket.preview, Ticket.last_activity_at,
    Ticket.created_at, Ticket.closed_at,
    Contact.name.label("contact_name"), Department.name.label("department_name"),
    AgentUser.name.label("agent_name"), AgentUser.avatar_key.label("agent_avatar_key"),
    Connection.name.label("connection_name"), Connection.kind.label("connection_kind"),
)


def tags_column(viewer_id, ticket=Ticket, dialect: str | None = None):
    """The ticket's tags the viewer may see (company tags and their own, TAG-1), as one
    JSON array of [id, name, color, owner_id] ordered by name (NULL or [] without tags):
    a column of the row's own SELECT instead of a second statement for the page's tags."""
    visible = (ticket_tag.c.ticket_id == ticket.id,
               or_(Tag.owner_id.is_(None), Tag.owner_id == viewer_id))
    joined = ticket_tag.join(Tag, Tag.id == ticket_tag.c.tag_id)
    if (dialect or _dialect()) == "postgresql":
        row = func.json_build_array(Tag.id, Tag.name, Tag.color, Tag.owner_id)
        agg = func.json_agg(aggregate_order_by(row, Tag.name), type_=JSON)
    else:  # SQLite: no ORDER BY inside an aggregate; sorted by name in Python (tag_rows)
        agg = func.json_group_array(func.json_array(Tag.id, Tag.name, Tag.color, Tag.owner_id),
                                    type_=JSON)
    return select(agg).select_from(joined).where(*visible).scalar_subquery().label("tags")


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def tag_rows(found, ordered: bool):
    """The `tags` column of a row, [id, name, color, owner_id] lists by name: `ordered` on
    PostgreSQL (its collation ordered them), else sorted here (SQLite's binary order is
    Python's)."""
    if not found:
        return ()
    return found if ordered else sorted(found, key=operator.itemgetter(1))


class _Viewer:
    """The user as a shared SELECT (the list's page, the panel's ticket) sees them: id and
    company as bind parameters, the rest (superuser flag, rights) their own and part of
    the statement's cache key (`_viewer_key`).
    That is everything visibility.ticket_filter reads of a user; were it to read something
    else one day, this fails loudly (AttributeError) rather than freezing one user's value
    into a statement other users run."""
    __slots__ = ("id", "company_id", "is_superuser", "rights")
    is_authenticated = True

    def __init__(self, superuser: bool, has_company: bool, rights: frozenset):
        self.id = bindparam("viewer_id")
        self.company_id = bindparam("company_id") if has_company else None
        self.is_superuser, self.rights = superuser, rights

    def can(self, area: str, action: str = "view") -> bool:
        return f"{area}.{action}" in self.rights


def _viewer_key(user: User) -> tuple:
    """What a statement shared through `_Viewer` is chosen by: everything of the user
    visibility.ticket_filter reads but the ids."""
    return bool(user.is_superuser), user.company_id is not None, user.rights


@functools.lru_cache(maxsize=512)
def _page_statement(dialect: str, superuser: bool, has_company: bool, rights: frozenset,
                    view: str, status: str, order: str, on: tuple[str, ...], paged: bool):
    """The page SELECT of one shape, its values as bind parameters. Built once per shape
    and process: building it and its cache key took 0.6 ms of every request, against 2-3 ms
    for running it. Only the statement is kept, never a row: every request reads fresh
    data, with its own user's values."""
    viewer = _Viewer(superuser, has_company, rights)
    return (_tickets(viewer, view, status, order, on, paged, bindparam)
            .with_only_columns(*SUMMARY_COLUMNS,
                               tags_column(bindparam("viewer_id"), dialect=dialect))
            .join(Contact, Contact.id == Ticket.contact_id)
            .outerjoin(Department, Department.id == Ticket.department_id)
            .outerjoin(AgentUser, AgentUser.id == Ticket.agent_id)
            .outerjoin(Connection, Connection.id == Ticket.connection_id)
            .limit(bindparam("page_limit")))


def page_query(user: User, f: Filters):
    """The SELECT of one page of the list (limit + 1 rows, to know if there is more), each
    row with everything it shows, its tags included; and its parameters."""
    position = _decode_cursor(f.cursor)
    statement = _page_statement(_dialect(), *_viewer_key(user), f.view, f.status, f.order,
                                _on(f), position is not None)
    params = {name: value for name, value in _values(f, user.company_id).items()
              if value is not None}
    params.update(viewer_id=user.id, page_limit=f.limit + 1)
    if position is not None:
        params["cursor_at"], params["cursor_id"] = position
    return statement, params


def unread_counts(user: User) -> dict[str, int]:
    """UX-1: per view (all, mine, unassigned), how many open tickets the user may see have
    unread customer messages: the list's own query (ticket_query, so the same visibility
    and view rules), counted over the open tickets only."""
    counts = {}
    for view in VIEWS:
        q = (ticket_query(user, Filters(view=view)).with_only_columns(Ticket.id)
             .where(Ticket.unread > 0).order_by(None))
        counts[view] = db.session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return counts


def list_summaries(user: User, f: Filters) -> tuple[list[dict], str | None]:
    """One page of the list as rows ready for orjson with serialize.ISO_MOMENTS (their
    times are datetimes), and the cursor of the next page."""
    statement, params = page_query(user, f)
    # columns only, nothing for the ORM session to track, on the driver's cursor
    keys, found = precompiled.rows(db.session.connection(), statement, params)
    more = len(found) > f.limit
    found = found[:f.limit]
    summary = serialize.Summaries(keys, user.id, serialize.Labels(), serialize.as_is)
    tags = keys.index("tags")
    ordered = _dialect() == "postgresql"
    page = [summary(row, tag_rows(row[tags], ordered)) for row in found]
    last = page[-1] if more and page else None
    return page, (_cursor(last["last_activity_at"], last["id"]) if last else None)


# Made once: an alias built per request re-derives its 30 columns on first use (about as
# much CPU as the rest of the SELECT's building).
OtherTicket = aliased(Ticket, name="other_ticket")


@dataclass
class Panel:
    """A ticket as the conversation panel opens it (services.inbox.open_ticket)."""
    ticket: Ticket
    other_tickets: int      # the contact's other tickets the user may see
    survey: object | None   # its SurveyAnswer (AUT-3, RAT-1), None when none was asked


@functools.lru_cache(maxsize=64)
def _panel_statement(superuser: bool, has_company: bool, rights: frozenset):
    """open_ticket's SELECT for users of these rights, built once (as _page_statement):
    the ticket, the viewer and the company are bind parameters."""
    from ..models.automation import SurveyAnswer

    viewer = _Viewer(superuser, has_company, rights)
    other = OtherTicket
    others = (select(func.count()).select_from(other)
              .where(other.contact_id == Ticket.contact_id, other.id != Ticket.id,
                     visibility.ticket_filter(viewer, other))
              .correlate(Ticket).scalar_subquery())
    return (select(Ticket, others, SurveyAnswer)
            .outerjoin(SurveyAnswer, and_(SurveyAnswer.ticket_id == Ticket.id,
                                          SurveyAnswer.company_id == Ticket.company_id))
            .where(Ticket.id == bindparam("ticket_id"), visibility.ticket_filter(viewer))
            .options(joinedload(Ticket.contact), joinedload(Ticket.agent),
                     joinedload(Ticket.connection), joinedload(Ticket.reason),
                     # the department's members are not shown: loaded only if asked for
                     joinedload(Ticket.department).lazyload(Department.members),
                     joinedload(Ticket.tags)))


def open_ticket(user: User, ticket_id) -> Panel | None:
    """The ticket if `user` may see it (services.visibility's rule: None for another
    company's, another department's or a missing one alike), read in one SELECT with what
    the panel shows about it: contact, department, agent, connection, reason, tags, its
    survey and how many other tickets of the contact the user may see. (Loaded one by
    one, the same took nine statements.)"""
    ticket_id = as_id(ticket_id)
    if ticket_id is None:
        return None
    found = db.session.execute(
        _panel_statement(*_viewer_key(user)),
        {"ticket_id": ticket_id, "viewer_id": user.id, "company_id": user.company_id},
    ).unique().first()
    if found is None:
        return None
    ticket, other_tickets, survey = found
    return Panel(ticket, other_tickets or 0, survey)


@functools.lru_cache(maxsize=2)
def _conversation_statement(paged: bool):
    q = (select(Message).where(Message.ticket_id == bindparam("ticket_id"))
         .options(joinedload(Message.author), joinedload(Message.tags)))
    if paged:
        q = q.where(Message.id < bindparam("before"))
    return q.order_by(Message.id.desc()).limit(bindparam("conversation_limit"))


def conversation(ticket: Ticket, before: int | None = None, limit: int = PAGE) -> tuple[list[Message], bool]:
    """The latest `limit` messages (older than message id `before`), oldest first, and
    whether there are older ones; with their authors and tags, in one SELECT (built once)."""
    params = {"ticket_id": ticket.id, "conversation_limit": limit + 1}
    if before:
        params["before"] = before
    rows = list(db.session.scalars(_conversation_statement(bool(before)), params).unique())
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


def search_conversation(ticket: Ticket, term: str, limit: int = 50) -> list[Message]:
    """MSG-3: messages of one conversation containing `term`, newest first."""
    term = _clean(term)
    if not term:
        return []
    return list(db.session.scalars(
        select(Message).where(Message.ticket_id == ticket.id,
                              Message.text.ilike(like_pattern(term), escape="\\"))
        .options(joinedload(Message.author), selectinload(Message.tags))
        .order_by(Message.id.desc()).limit(limit)).unique())
