"""Exportar registros (EXP-1): which collections a user may export, and their rows.

The background job (services.data_jobs.run_export) and the CLI (`flask export`) both call
`check` then `rows`; the file itself is written by csvfiles.ExcelWriter (";", UTF-8 with
BOM, formula cells neutralised).

Rules kept here:
- only rows of the user's company, and only what their group may see: tickets and
  messages through visibility.ticket_filter (an agent exports their departments' tickets),
  contacts through contacts.contact_filter (the carteira rule);
- nothing secret leaves: no password hashes, API or webhook secrets, webchat tokens
  (contact addresses), nor other users' personal tags;
- rows are read by keyset pagination on the id, a page of ids then one query for the
  page's columns and one per list column (tags, departments): no cursor stays open
  between pages, because run_export commits its progress while iterating, and a
  million rows are never in memory at once.

The job runs outside any request, so nothing here reads current_user or the request's
company: everything is filtered by `user.company_id` explicitly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import (
    AuditLog, Company, Connection, Contact, Department, DepartmentMember, Message,
    PermissionGroup, Reason, Tag, Ticket, User, contact_tag, message_tag, reason_department,
    ticket_tag,
)
from ..models.tickets import (
    AUTHOR_AGENT, AUTHOR_BOT, AUTHOR_CONTACT, AUTHOR_SYSTEM, IN, MESSAGE_STATUSES,
    TICKET_STATUSES,
)
from . import RuleError, as_id, audit
from .contacts import PERSON_TYPES, contact_filter, fields_of
from ..lib.documents import format_document
from ..lib.phones import format_phone
from .hours import local_time
from .visibility import ticket_filter

PAGE_SIZE = 1000
DEFAULT_TIMEZONE = "America/Sao_Paulo"
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

# Filter names, as the screen's form and the CLI send them.
DATE_FROM, DATE_TO = "date_from", "date_to"
DEPARTMENT, STATUS, TAG = "department_id", "status", "tag_id"
FILTER_LABELS = {
    DATE_FROM: _l("Data inicial"),
    DATE_TO: _l("Data final"),
    DEPARTMENT: _l("Departamento"),
    STATUS: _l("Situação"),
    TAG: _l("Etiqueta"),
}
DATES = (DATE_FROM, DATE_TO)
ACTIVE_CHOICES = {"active": _l("Ativo"), "inactive": _l("Inativo")}


@dataclass(frozen=True)
class Collection:
    label: Any                     # lazy pt-BR label
    right: str                     # "<area>.<action>" the user's group must hold
    slug: str                      # the file name's stem
    filters: tuple[str, ...] = ()
    statuses: Mapping[str, Any] = field(default_factory=dict)


COLLECTIONS: dict[str, Collection] = {
    "contacts": Collection(_l("Contatos"), "contacts.view", "contatos", (DATE_FROM, DATE_TO, TAG)),
    "tickets": Collection(_l("Atendimentos"), "inbox.view", "atendimentos",
                          (DATE_FROM, DATE_TO, DEPARTMENT, STATUS, TAG), TICKET_STATUSES),
    "messages": Collection(_l("Mensagens"), "inbox.view", "mensagens",
                           (DATE_FROM, DATE_TO, DEPARTMENT, STATUS, TAG), MESSAGE_STATUSES),
    "users": Collection(_l("Usuários"), "users.view", "usuarios",
                        (DATE_FROM, DATE_TO, DEPARTMENT, STATUS), ACTIVE_CHOICES),
    "departments": Collection(_l("Departamentos"), "departments.view", "departamentos",
                              (STATUS,), ACTIVE_CHOICES),
    "tags": Collection(_l("Etiquetas"), "tags.view", "etiquetas"),
    "reasons": Collection(_l("Motivos de atendimento"), "reasons.view", "motivos",
                          (DEPARTMENT, STATUS), ACTIVE_CHOICES),
    "audit": Collection(_l("Auditoria"), "audit.view", "auditoria", (DATE_FROM, DATE_TO)),
}


# -- the screen ------------------------------------------------------------------------


def _may(user, collection: Collection) -> bool:
    if user is None or user.is_superuser or user.company_id is None:
        return False
    area, _sep, action = collection.right.partition(".")
    return user.can(area, action)


def collections_for(user) -> list[tuple[str, str]]:
    """(key, label) of the collections the user's group may export, in menu order."""
    return [(key, str(c.label)) for key, c in COLLECTIONS.items() if _may(user, c)]


def filters_for(key: str) -> tuple[str, ...]:
    collection = COLLECTIONS.get(key)
    return collection.filters if collection else ()


def status_choices(key: str) -> list[tuple[str, str]]:
    collection = COLLECTIONS.get(key)
    statuses = collection.statuses if collection else {}
    return [(value, str(label)) for value, label in statuses.items()]


def file_name(key: str) -> str:
    slug = COLLECTIONS[key].slug if key in COLLECTIONS else "exportacao"
    return f"{slug}-{datetime.now(timezone.utc).date().isoformat()}.csv"


# -- checking the request --------------------------------------------------------------


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_day(name: str, value) -> date:
    # the HTML date input sends YYYY-MM-DD; fromisoformat alone would also take "20261121"
    text = value.strip() if isinstance(value, str) else ""
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise RuleError(_l("%(field)s inválida: use o formato AAAA-MM-DD (por exemplo "
                           "2026-11-21).", field=FILTER_LABELS[name]))


def _visible_tags(company_id: int, user_id: int):
    """Tags a user may see: the company's, and their own personal ones (never another
    user's "Minhas etiquetas")."""
    return (Tag.company_id == company_id) & or_(Tag.owner_id.is_(None), Tag.owner_id == user_id)


def check(user, key: str, filters: dict | None) -> dict:
    """The request cleaned (JSON-safe, only the filters that apply and are filled in), or
    RuleError with the reason in Portuguese."""
    collection = COLLECTIONS.get(key) if isinstance(key, str) else None
    if collection is None:
        raise RuleError(_l("Coleção desconhecida: escolha uma da lista."))
    if user is None or user.is_superuser or user.company_id is None:
        raise RuleError(_l("Só usuários de uma empresa podem exportar registros."))
    if not _may(user, collection):
        raise RuleError(_l("Seu grupo de permissão não permite exportar %(name)s.",
                           name=str(collection.label).lower()))
    given = filters if isinstance(filters, Mapping) else {}
    clean: dict[str, Any] = {}
    for name in collection.filters:
        value = given.get(name)
        if _blank(value):
            continue
        if name in DATES:
            clean[name] = _parse_day(name, value).isoformat()
        elif name == DEPARTMENT:
            clean[name] = _check_department(user, value)
        elif name == TAG:
            clean[name] = _check_tag(user, value)
        elif name == STATUS:
            status = value.strip() if isinstance(value, str) else None
            if status not in collection.statuses:
                raise RuleError(_l("Situação desconhecida para %(name)s.",
                                   name=str(collection.label).lower()))
            clean[name] = status
    if DATE_FROM in clean and DATE_TO in clean and clean[DATE_FROM] > clean[DATE_TO]:
        raise RuleError(_l("A data inicial é posterior à data final."))
    return clean


def _check_department(user, value) -> int:
    # another company's department and a missing one read the same (no oracle)
    department_id = as_id(value)
    found = Department.get_owned(user.company_id, department_id) is not None
    if not found:
        raise RuleError(_l("Departamento não encontrado."))
    return department_id


def _check_tag(user, value) -> int:
    # another user's personal tag counts as missing: filtering by it would tell which
    # tickets they tagged
    tag_id = as_id(value)
    found = tag_id is not None and db.session.scalar(
        select(Tag.id).where(Tag.id == tag_id, _visible_tags(user.company_id, user.id)))
    if not found:
        raise RuleError(_l("Etiqueta não encontrada."))
    return tag_id


# -- rows ------------------------------------------------------------------------------


@dataclass
class Context:
    """What every collection's builder needs: who asks, what they asked, their clock.

    The ids are copied out of `user`: run_export commits between pages, which expires
    the ORM object, and a page should not reload it."""

    user: User
    filters: dict
    zone: ZoneInfo
    company_id: int = 0
    user_id: int = 0

    def __post_init__(self) -> None:
        self.company_id, self.user_id = self.user.company_id, self.user.id

    def visible_tags(self):
        return _visible_tags(self.company_id, self.user_id)

    def when(self, value: datetime | None) -> str:
        """A stored (naive UTC) datetime as dd/mm/aaaa HH:MM on the company's clock."""
        if value is None:
            return ""
        return local_time(value, self.zone).strftime("%d/%m/%Y %H:%M")

    def day_start(self, day: str) -> datetime:
        """Local midnight of `day` as naive UTC, how the columns store time."""
        local = datetime.combine(date.fromisoformat(day), time.min, tzinfo=self.zone)
        return local.astimezone(timezone.utc).replace(tzinfo=None)

    def in_range(self, column) -> list:
        """Criteria for `column` within the date filters, whole local days, date_to
        inclusive (so up to, not including, the next day's local midnight)."""
        criteria = []
        if DATE_FROM in self.filters:
            criteria.append(column >= self.day_start(self.filters[DATE_FROM]))
        if DATE_TO in self.filters:
            next_day = (date.fromisoformat(self.filters[DATE_TO]) + timedelta(days=1)).isoformat()
            criteria.append(column < self.day_start(next_day))
        return criteria


@dataclass
class Plan:
    """One collection's export: the header, a query of the matching ids (filters and
    visibility, nothing else), and how a page of ids becomes rows."""

    header: list[str]
    ids: Select
    id_column: Any
    page: Callable[[list[int]], list[list]]


def _zone(company_id: int) -> ZoneInfo:
    name = db.session.scalar(select(Company.timezone).where(Company.id == company_id))
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (KeyError, ValueError):  # a zone the system's tzdata no longer knows
        return ZoneInfo(DEFAULT_TIMEZONE)


def _language(user) -> str:
    # as the screens choose it (backoffice.i18n): the user's, else the company's
    company_language = db.session.scalar(
        select(Company.language).where(Company.id == user.company_id))
    return user.language or company_language or "pt_BR"


def rows(user, key: str, filters: dict) -> tuple[list[str], int, Iterator[list]]:
    """(header, how many rows match, the rows). The check runs again here: the job may
    run a while after it was asked for, and the user's rights may have changed since."""
    clean = check(user, key, filters)
    context = Context(user=user, filters=clean, zone=_zone(user.company_id))
    language = _language(user)
    with force_locale(language):
        plan = BUILDERS[key](context)
    total = db.session.scalar(select(func.count()).select_from(plan.ids.subquery()))
    return plan.header, total or 0, _iterate(plan, language)


def _iterate(plan: Plan, language: str) -> Iterator[list]:
    """Keyset pages: the ids after the last one seen, each page read whole (.all()) so no
    cursor is open while the caller commits its progress."""
    last = 0
    while True:
        ids = db.session.scalars(plan.ids.where(plan.id_column > last)
                                 .order_by(plan.id_column).limit(PAGE_SIZE)).all()
        if not ids:
            return
        with force_locale(language):  # the page is built whole, not across a yield
            page = plan.page(list(ids))
        yield from page
        if len(ids) < PAGE_SIZE:
            return
        last = ids[-1]


# -- cell helpers ----------------------------------------------------------------------


def yes_no(value) -> str:
    return _("Sim") if value else _("Não")


def joined(names: Sequence[str] | None) -> str:
    return ", ".join(names or ())


def _names_by(query) -> dict[int, list[str]]:
    """{owner id: [names]} from rows of (owner id, name), in the query's order."""
    out: dict[int, list[str]] = {}
    for owner_id, name in db.session.execute(query):
        out.setdefault(owner_id, []).append(name)
    return out


def _tags_of(context: Context, link_table, link_column: str,
             ids: list[int]) -> dict[int, list[str]]:
    """The visible tag names of a page of rows, one query for the page."""
    owner = link_table.c[link_column]
    return _names_by(select(owner, Tag.name).join(Tag, Tag.id == link_table.c.tag_id)
                     .where(owner.in_(ids), context.visible_tags())
                     .order_by(owner, Tag.name))


def _tagged(link_table, link_column: str, id_column, tag_id: int):
    return id_column.in_(select(link_table.c[link_column]).where(link_table.c.tag_id == tag_id))


def _label(choices: Mapping[str, Any], value) -> str:
    label = choices.get(value)
    return str(label) if label is not None else (value or "")


# -- the collections -------------------------------------------------------------------


def _contacts(context: Context) -> Plan:
    # The columns are the import's (services.importer.FIELDS) so an export can be edited
    # and imported back; "Carteira" is the owner's e-mail, which the import recognises.
    custom = fields_of(context.company_id)
    header = [_("Nome"), _("Telefone"), _("E-mail"), _("Tipo de pessoa"), _("CPF/CNPJ"),
              _("Etiquetas"), _("Carteira"), _("Observações"), *[cf.label for cf in custom],
              _("Criado em")]
    ids = select(Contact.id).where(contact_filter(context.user),
                                   *context.in_range(Contact.created_at))
    if TAG in context.filters:
        ids = ids.where(_tagged(contact_tag, "contact_id", Contact.id, context.filters[TAG]))
    Owner = aliased(User)

    def page(chunk: list[int]) -> list[list]:
        tags = _tags_of(context, contact_tag, "contact_id", chunk)
        q = (select(Contact.id, Contact.name, Contact.phone, Contact.email, Contact.person_type,
                    Contact.document, Owner.email, Contact.notes, Contact.custom_fields,
                    Contact.created_at)
             .outerjoin(Owner, Owner.id == Contact.owner_id)
             .where(Contact.id.in_(chunk)).order_by(Contact.id))
        out = []
        for r in db.session.execute(q):
            cid, name, phone, email, person, document, owner, notes, values, created = r
            values = values or {}
            out.append([name, format_phone(phone), email or "", _label(PERSON_TYPES, person),
                        format_document(document), joined(tags.get(cid)), owner or "",
                        notes or "", *[values.get(cf.key) or "" for cf in custom],
                        context.when(created)])
        return out

    return Plan(header, ids, Contact.id, page)


def _tickets(context: Context) -> Plan:
    header = [_("ID"), _("Protocolo"), _("Contato"), _("Telefone"), _("Conexão"),
              _("Departamento"), _("Atendente"), _("Situação"), _("Motivo"),
              _("Observação de encerramento"), _("Etiquetas"), _("Favorito"), _("Aberto em"),
              _("Aceito em"), _("Primeira resposta em"), _("Finalizado em"),
              _("Última atividade")]
    f = context.filters
    ids = select(Ticket.id).where(ticket_filter(context.user),
                                  *context.in_range(Ticket.created_at))
    if DEPARTMENT in f:
        ids = ids.where(Ticket.department_id == f[DEPARTMENT])
    if STATUS in f:
        ids = ids.where(Ticket.status == f[STATUS])
    if TAG in f:
        ids = ids.where(_tagged(ticket_tag, "ticket_id", Ticket.id, f[TAG]))
    Agent = aliased(User)

    def page(chunk: list[int]) -> list[list]:
        tags = _tags_of(context, ticket_tag, "ticket_id", chunk)
        q = (select(Ticket.id, Ticket.protocol, Contact.name, Contact.phone, Connection.name,
                    Department.name, Agent.name, Ticket.status, Reason.name, Ticket.close_note,
                    Ticket.favourite, Ticket.created_at, Ticket.accepted_at,
                    Ticket.first_response_at, Ticket.closed_at, Ticket.last_activity_at)
             .outerjoin(Contact, Contact.id == Ticket.contact_id)
             .outerjoin(Connection, Connection.id == Ticket.connection_id)
             .outerjoin(Department, Department.id == Ticket.department_id)
             .outerjoin(Agent, Agent.id == Ticket.agent_id)
             .outerjoin(Reason, Reason.id == Ticket.reason_id)
             .where(Ticket.id.in_(chunk)).order_by(Ticket.id))
        out = []
        for r in db.session.execute(q):
            (tid, protocol, contact, phone, connection, department, agent, status, reason, note,
             favourite, created, accepted, first_response, closed, last_activity) = r
            out.append([tid, protocol, contact or "", format_phone(phone), connection or "",
                        department or "", agent or "", _label(TICKET_STATUSES, status),
                        reason or "", note or "", joined(tags.get(tid)), yes_no(favourite),
                        context.when(created), context.when(accepted),
                        context.when(first_response), context.when(closed),
                        context.when(last_activity)])
        return out

    return Plan(header, ids, Ticket.id, page)


def _author(kind: str, contact: str | None, author: str | None) -> str:
    if kind == AUTHOR_CONTACT:
        return contact or ""
    if kind == AUTHOR_AGENT:
        return author or _("Atendente")
    if kind == AUTHOR_BOT:
        return _("Robô")
    if kind == AUTHOR_SYSTEM:
        return _("Sistema")
    return author or ""


def _messages(context: Context) -> Plan:
    header = [_("ID"), _("Protocolo"), _("Contato"), _("Departamento"), _("Data"),
              _("Direção"), _("Autor"), _("Texto"), _("Anexo"), _("Situação"), _("Erro"),
              _("Etiquetas")]
    f = context.filters
    # a message is seen with its ticket: the ticket's visibility rule decides
    ids = (Message.owned(context.company_id, Message.id).join(Ticket, Ticket.id == Message.ticket_id)
           .where(ticket_filter(context.user),
                  *context.in_range(Message.created_at)))
    if DEPARTMENT in f:
        ids = ids.where(Ticket.department_id == f[DEPARTMENT])
    if STATUS in f:
        ids = ids.where(Message.status == f[STATUS])
    if TAG in f:
        ids = ids.where(_tagged(message_tag, "message_id", Message.id, f[TAG]))
    Author = aliased(User)

    def page(chunk: list[int]) -> list[list]:
        tags = _tags_of(context, message_tag, "message_id", chunk)
        q = (select(Message.id, Ticket.protocol, Contact.name, Department.name,
                    Message.created_at, Message.direction, Message.author_kind, Author.name,
                    Message.text, Message.file_name, Message.status, Message.error)
             .join(Ticket, Ticket.id == Message.ticket_id)
             .outerjoin(Contact, Contact.id == Ticket.contact_id)
             .outerjoin(Department, Department.id == Ticket.department_id)
             .outerjoin(Author, Author.id == Message.author_id)
             .where(Message.id.in_(chunk)).order_by(Message.id))
        out = []
        for r in db.session.execute(q):
            (mid, protocol, contact, department, created, direction, kind, author, text,
             attachment, status, error) = r
            out.append([mid, protocol, contact or "", department or "", context.when(created),
                        _("Recebida") if direction == IN else _("Enviada"),
                        _author(kind, contact, author), text or "", attachment or "",
                        _label(MESSAGE_STATUSES, status), error or "", joined(tags.get(mid))])
        return out

    return Plan(header, ids, Message.id, page)


def _users(context: Context) -> Plan:
    # never the password hash, lock-out counters or the like: who they are and their access
    header = [_("ID"), _("Nome"), _("E-mail"), _("Grupo de permissão"), _("Departamentos"),
              _("Ativo"), _("Idioma"), _("Último acesso"), _("Criado em")]
    f = context.filters
    ids = select(User.id).where(User.company_id == context.company_id,
                                *context.in_range(User.created_at))
    if DEPARTMENT in f:
        ids = ids.where(User.id.in_(select(DepartmentMember.user_id).where(
            DepartmentMember.department_id == f[DEPARTMENT])))
    if STATUS in f:
        ids = ids.where(User.active.is_(f[STATUS] == "active"))

    def page(chunk: list[int]) -> list[list]:
        departments = _names_by(
            select(DepartmentMember.user_id, Department.name)
            .join(Department, Department.id == DepartmentMember.department_id)
            .where(DepartmentMember.user_id.in_(chunk))
            .order_by(DepartmentMember.user_id, Department.order, Department.name))
        q = (select(User.id, User.name, User.email, PermissionGroup.name, User.active,
                    User.language, User.last_login_at, User.created_at)
             .outerjoin(PermissionGroup, PermissionGroup.id == User.group_id)
             .where(User.id.in_(chunk)).order_by(User.id))
        return [[uid, name, email, group or "", joined(departments.get(uid)), yes_no(active),
                 _language_name(language), context.when(last_login), context.when(created)]
                for uid, name, email, group, active, language, last_login, created
                in db.session.execute(q)]

    return Plan(header, ids, User.id, page)


# as the Usuários screen names them (admin.users.LANGUAGES; the service layer does not
# import the admin)
LANGUAGE_NAMES = {"pt_BR": "Português (Brasil)", "en": "English"}


def _language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code, code) if code else _("Idioma da empresa")


def _departments(context: Context) -> Plan:
    header = [_("ID"), _("Nome"), _("Descrição"), _("Ativo"), _("Ordem"),
              _("Recebe atendimentos"), _("Membros"), _("Criado em")]
    ids = Department.owned(context.company_id, Department.id)
    if STATUS in context.filters:
        ids = ids.where(Department.active.is_(context.filters[STATUS] == "active"))

    def page(chunk: list[int]) -> list[list]:
        members = _names_by(
            select(DepartmentMember.department_id, User.name)
            .join(User, User.id == DepartmentMember.user_id)
            .where(DepartmentMember.department_id.in_(chunk))
            .order_by(DepartmentMember.department_id, User.name))
        q = (select(Department.id, Department.name, Department.description, Department.active,
                    Department.order, Department.receives_tickets, Department.created_at)
             .where(Department.id.in_(chunk)).order_by(Department.id))
        return [[did, name, description or "", yes_no(active), order, yes_no(receives),
                 joined(members.get(did)), context.when(created)]
                for did, name, description, active, order, receives, created
                in db.session.execute(q)]

    return Plan(header, ids, Department.id, page)


def _tags(context: Context) -> Plan:
    header = [_("ID"), _("Nome"), _("Cor"), _("Tipo"), _("Criado em")]
    ids = select(Tag.id).where(context.visible_tags())

    def page(chunk: list[int]) -> list[list]:
        q = (select(Tag.id, Tag.name, Tag.color, Tag.owner_id, Tag.created_at)
             .where(Tag.id.in_(chunk)).order_by(Tag.id))
        return [[tid, name, color, _("Pessoal") if owner else _("Da empresa"),
                 context.when(created)]
                for tid, name, color, owner, created in db.session.execute(q)]

    return Plan(header, ids, Tag.id, page)


def _reasons(context: Context) -> Plan:
    header = [_("ID"), _("Nome"), _("Descrição"), _("Ativo"), _("Departamentos"),
              _("Criado em")]
    f = context.filters
    ids = Reason.owned(context.company_id, Reason.id)
    if DEPARTMENT in f:
        ids = ids.where(Reason.id.in_(select(reason_department.c.reason_id).where(
            reason_department.c.department_id == f[DEPARTMENT])))
    if STATUS in f:
        ids = ids.where(Reason.active.is_(f[STATUS] == "active"))

    def page(chunk: list[int]) -> list[list]:
        departments = _names_by(
            select(reason_department.c.reason_id, Department.name)
            .join(Department, Department.id == reason_department.c.department_id)
            .where(reason_department.c.reason_id.in_(chunk))
            .order_by(reason_department.c.reason_id, Department.order, Department.name))
        q = (select(Reason.id, Reason.name, Reason.description, Reason.active, Reason.created_at)
             .where(Reason.id.in_(chunk)).order_by(Reason.id))
        return [[rid, name, description or "", yes_no(active), joined(departments.get(rid)),
                 context.when(created)]
                for rid, name, description, active, created in db.session.execute(q)]

    return Plan(header, ids, Reason.id, page)


AUDIT_ACTIONS = {"create": _l("Criação"), "update": _l("Alteração"), "delete": _l("Exclusão")}
# services.audit masks these when it records; masked again here in case a screen forgot
SECRET_HINTS = ("password", "secret", "token", "api_key")


def _masked(changes) -> dict:
    if not isinstance(changes, dict):
        return {}
    out = {}
    for name, pair in changes.items():
        before, after = (list(pair) + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        if any(hint in str(name).lower() for hint in SECRET_HINTS):
            before, after = ("***" if before is not None else None,
                             "***" if after is not None else None)
        out[name] = [before, after]
    return out


def _audit(context: Context) -> Plan:
    """UX-4: the screen's name and its field labels, values as the screens show them."""
    header = [_("ID"), _("Quando"), _("Usuário"), _("Ação"), _("Tela"), _("Registro"),
              _("Descrição"), _("Alterações")]
    ids = select(AuditLog.id).where(AuditLog.company_id == context.company_id,
                                    *context.in_range(AuditLog.at))

    def page(chunk: list[int]) -> list[list]:
        q = select(AuditLog).where(AuditLog.id.in_(chunk)).order_by(AuditLog.id)
        out = []
        for entry in db.session.scalars(q):
            shown = SimpleNamespace(table=entry.table, company_id=entry.company_id,
                                    action=entry.action, changes=_masked(entry.changes))
            out.append([entry.id, context.when(entry.at), entry.user_name,
                        _label(AUDIT_ACTIONS, entry.action),
                        audit.screen_name(entry.table, entry.company_id is None),
                        entry.row_id, entry.row_label, audit.summary(shown, context.zone)])
        return out

    return Plan(header, ids, AuditLog.id, page)


BUILDERS: dict[str, Callable[[Context], Plan]] = {
    "contacts": _contacts,
    "tickets": _tickets,
    "messages": _messages,
    "users": _users,
    "departments": _departments,
    "tags": _tags,
    "reasons": _reasons,
    "audit": _audit,
}
assert BUILDERS.keys() == COLLECTIONS.keys()
