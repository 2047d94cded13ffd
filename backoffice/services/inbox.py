"""The inbox list (FLT-1), search (MSG-3) and the conversation panel, as queries; and the
typed inputs of the inbox API: `Filters` (forgiving, from the query string) and the request
bodies (`TransferInput`, `CloseInput`, `SendInput`, ..., strict, from services.inputs.Fields).

Built for 100k tickets and more: keyset pagination on (last_activity_at, id) over the
ticket_inbox indexes, the related rows and the tags loaded in the page's own SELECT (one
query whatever the page size), no COUNT(*) of the whole set.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from flask_babel import gettext as _

from sqlalchemy import JSON, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased, joinedload, selectinload

from ..extensions import db
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
                   tag_id=number("tag"), favourite=args.get("favourite") in ("1", "true"),
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
    """Where the next page starts: after this ticket (or page row)."""
    return f"{row.last_activity_at.isoformat()}_{row.id}"


def narrow(q, f: Filters, company_id: int):
    """The list's filters (status, connection, department, tag, favourite, contact name or
    protocol, words in the conversation) on a select() of the company's tickets."""
    if f.status == "open":
        q = q.where(Ticket.status.in_(OPEN_STATUSES))
    elif f.status == "pending":
        q = q.where(Ticket.status == PENDING)
    elif f.status == "failed":
        q = q.where(Ticket.has_failed.is_(True))
    elif f.status == "closed":
        q = q.where(Ticket.status == CLOSED)
    elif f.status == "automation":
        q = q.where(Ticket.automated.is_(True))
    if f.connection_id:
        q = q.where(Ticket.connection_id == f.connection_id)
    if f.department_id:
        q = q.where(Ticket.department_id == f.department_id)
    if f.tag_id:
        q = q.where(exists().where(ticket_tag.c.ticket_id == Ticket.id,
                                   ticket_tag.c.tag_id == f.tag_id))
    if f.favourite:
        q = q.where(Ticket.favourite.is_(True))
    if f.q:
        contact_match = select(Contact.id).where(Contact.company_id == company_id,
                                                 Contact.name.ilike(like_pattern(f.q), escape="\\"))
        q = q.where(or_(Ticket.protocol == f.q, Ticket.contact_id.in_(contact_match)))
    if f.text:
        q = q.where(exists().where(Message.ticket_id == Ticket.id,
                                   Message.text.ilike(like_pattern(f.text), escape="\\")))
    return q


def ticket_query(user: User, f: Filters):
    """The select() of one page of the list for `user` (without the limit)."""
    q = select(Ticket).where(visibility.ticket_filter(user))
    if f.view == "mine":
        q = q.where(Ticket.agent_id == user.id)
    elif f.view == "unassigned":
        q = q.where(Ticket.agent_id.is_(None))
    q = narrow(q, f, user.company_id)
    position = _decode_cursor(f.cursor)
    newest = f.order == "newest"
    if position is not None:
        moment, ident = position
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
        q = q.order_by(Ticket.last_activity_at.desc(), Ticket.id.desc())
    else:
        q = q.order_by(Ticket.last_activity_at.asc(), Ticket.id.asc())
    return q


# The list reads columns, not objects: the page is one SELECT of exactly what a row
# shows (not the department's 30 settings or the agent's password hash), its tags
# included, and no ORM objects are built for it. serialize.summary gives it the same shape
# as the socket events' ticket_summary.
AgentUser = aliased(User, name="agent")
SUMMARY_COLUMNS = (
    Ticket.id, Ticket.protocol, Ticket.status, Ticket.contact_id, Ticket.department_id,
    Ticket.agent_id, Ticket.connection_id, Ticket.favourite, Ticket.has_failed,
    Ticket.automated, Ticket.unread, Ticket.preview, Ticket.last_activity_at,
    Ticket.created_at, Ticket.closed_at,
    Contact.name.label("contact_name"), Department.name.label("department_name"),
    AgentUser.name.label("agent_name"), AgentUser.avatar_key.label("agent_avatar_key"),
    Connection.name.label("connection_name"), Connection.kind.label("connection_kind"),
)


def tags_column(viewer_id: int, ticket=Ticket):
    """The ticket's tags the viewer may see (company tags and their own, TAG-1), as one
    JSON array of [id, name, color, owner_id] ordered by name (NULL or [] without tags):
    a column of the row's own SELECT instead of a second statement for the page's tags."""
    visible = (ticket_tag.c.ticket_id == ticket.id,
               or_(Tag.owner_id.is_(None), Tag.owner_id == viewer_id))
    joined = ticket_tag.join(Tag, Tag.id == ticket_tag.c.tag_id)
    if db.session.get_bind().dialect.name == "postgresql":
        row = func.json_build_array(Tag.id, Tag.name, Tag.color, Tag.owner_id)
        agg = func.json_agg(aggregate_order_by(row, Tag.name), type_=JSON)
    else:  # SQLite: no ORDER BY inside an aggregate; sorted by name in Python (tag_rows)
        agg = func.json_group_array(func.json_array(Tag.id, Tag.name, Tag.color, Tag.owner_id),
                                    type_=JSON)
    return select(agg).select_from(joined).where(*visible).scalar_subquery().label("tags")


def tag_rows(found, ordered: bool) -> list[serialize.TagRow]:
    """The `tags` column of a row as TagRows by name: `ordered` on PostgreSQL (its
    collation ordered them), else sorted here (SQLite's binary order is Python's)."""
    if not found:
        return []
    rows = [serialize.TagRow(t) for t in found]
    if not ordered:
        rows.sort(key=lambda t: t.name)
    return rows


def page_query(user: User, f: Filters):
    """The SELECT of one page of the list (limit + 1 rows, to know if there is more), each
    row with everything it shows, its tags included."""
    return (ticket_query(user, f).with_only_columns(*SUMMARY_COLUMNS, tags_column(user.id))
            .join(Contact, Contact.id == Ticket.contact_id)
            .outerjoin(Department, Department.id == Ticket.department_id)
            .outerjoin(AgentUser, AgentUser.id == Ticket.agent_id)
            .outerjoin(Connection, Connection.id == Ticket.connection_id)
            .limit(f.limit + 1))


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
    """One page of the list as JSON-ready rows, and the cursor of the next page."""
    rows = db.session.execute(page_query(user, f)).all()
    more = len(rows) > f.limit
    rows = rows[:f.limit]
    labels = serialize.Labels()
    viewer_id = user.id
    ordered = db.session.get_bind().dialect.name == "postgresql"
    page = [serialize.summary(r._mapping, tag_rows(r.tags, ordered), viewer_id, labels)
            for r in rows]
    return page, (encode_cursor(rows[-1]) if more and rows else None)


# Made once: an alias built per request re-derives its 30 columns on first use (about as
# much CPU as the rest of the SELECT's building).
OtherTicket = aliased(Ticket, name="other_ticket")


@dataclass
class Panel:
    """A ticket as the conversation panel opens it (services.inbox.open_ticket)."""
    ticket: Ticket
    other_tickets: int      # the contact's other tickets the user may see
    survey: object | None   # its SurveyAnswer (AUT-3, RAT-1), None when none was asked


def open_ticket(user: User, ticket_id) -> Panel | None:
    """The ticket if `user` may see it (services.visibility's rule: None for another
    company's, another department's or a missing one alike), read in one SELECT with what
    the panel shows about it: contact, department, agent, connection, reason, tags, its
    survey and how many other tickets of the contact the user may see. (Loaded one by
    one, the same took nine statements.)"""
    from ..models.automation import SurveyAnswer

    ticket_id = as_id(ticket_id)
    if ticket_id is None:
        return None
    other = OtherTicket
    others = (select(func.count()).select_from(other)
              .where(other.contact_id == Ticket.contact_id, other.id != Ticket.id,
                     visibility.ticket_filter(user, other))
              .correlate(Ticket).scalar_subquery())
    found = db.session.execute(
        select(Ticket, others, SurveyAnswer)
        .outerjoin(SurveyAnswer, and_(SurveyAnswer.ticket_id == Ticket.id,
                                      SurveyAnswer.company_id == Ticket.company_id))
        .where(Ticket.id == ticket_id, visibility.ticket_filter(user))
        .options(joinedload(Ticket.contact), joinedload(Ticket.agent),
                 joinedload(Ticket.connection), joinedload(Ticket.reason),
                 # the department's members are not shown: loaded only if asked for
                 joinedload(Ticket.department).lazyload(Department.members),
                 joinedload(Ticket.tags))).unique().first()
    if found is None:
        return None
    ticket, other_tickets, survey = found
    return Panel(ticket, other_tickets or 0, survey)


def conversation(ticket: Ticket, before: int | None = None, limit: int = PAGE) -> tuple[list[Message], bool]:
    """The latest `limit` messages (older than message id `before`), oldest first, and
    whether there are older ones; with their authors and tags, in one SELECT."""
    q = (select(Message).where(Message.ticket_id == ticket.id)
         .options(joinedload(Message.author), joinedload(Message.tags)))
    if before:
        q = q.where(Message.id < before)
    rows = list(db.session.scalars(q.order_by(Message.id.desc()).limit(limit + 1)).unique())
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
