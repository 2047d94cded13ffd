"""The company's automation configuration, kept in each process (SCL-3).

Every inbound message asks three questions about its company: its active automation
rules (automation.rules), whether it has any chatbot flow that could be running on the
ticket (automation.flows.engine), and its active webhooks with their events
(webhooks.outbox). The answers change when an administrator edits something, a few
times a day; they were read from the database on every message (three statements). Here
they are read once per process and kept, as plain values (ids, names, conditions and
actions as dicts: never ORM rows, which belong to one session), until the company's
configuration changes.

How a process knows it changed: `Company.config_version`, a token that gets a new random
value in the very transaction that writes an AutomationRule, a Webhook's active flag,
events or company, or that publishes or deletes a flow (a FlowVersion inserted or
deleted, a Flow deleted). The bump is made by SQLAlchemy listeners, not by the write
paths, so none can forget it:
- a flush that inserts, updates or deletes such a row: one UPDATE of the companies'
  tokens at the start of the flush (before_flush), so the company row is locked before
  the rows, in the same order as the bulk path below; the mapper events check after the
  flush that no company was missed;
- an ORM bulk UPDATE or DELETE of such a model (`session.execute(update(Webhook)...)`,
  as the webhooks' 24-hour switch does): the companies of the rows it matches are bumped
  first, in the same transaction; a bulk INSERT bumps every company (none is made).
Only SQL written by hand around the ORM (a migration, psql) must bump it itself.

Each message reads the token: the widget's message request in the statement that finds
the visitor (`note_version`, no statement of its own), any other path with one small
SELECT the first time `current` is asked in the transaction. When the kept entry has
that token it answers; otherwise the configuration is read again (three statements, once
per change per process) and kept under the token read. Within one transaction (READ
COMMITTED) the configuration is read after the token, so it is never older than the
token says: at worst newer, as if the message had come a moment later.

A transaction that wrote any of these rows itself (flushed, or still pending in the
session) gets None from `current`: its callers read the rows through their own
per-transaction memo, which sees its uncommitted changes, and nothing it could roll back
is ever kept. The entries live on the app (one per process in production; each test's
app has its own), at most `COMPANY_CONFIG_CACHE_SIZE` companies (default 2000), the
least recently used dropped first.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, event, exists, select, update
from sqlalchemy.orm import Session, object_session

from ..extensions import db
from ..lib import after_commit, rowwrite
from ..models import Company
from ..models.automation import AutomationRule, Flow, FlowVersion
from ..models.company import new_config_version
from ..models.webhooks import Webhook

DEFAULT_SIZE = 2000
_EXTENSION = "atende_company_config"
_VERSIONS = "company_config.version"   # after_commit.memo: company id -> token read
_WRITTEN = "atende_company_config_written"  # session.info: companies bumped/written here

# What a change of each model may alter in the kept answers: None is any column; an
# empty set means only its insert or delete matters (a published version never changes;
# a flow's own columns are read from the row by the engine, only whether the company has
# one is kept).
WATCHED: dict[type, frozenset[str] | None] = {
    AutomationRule: None,
    Webhook: frozenset({"active", "events", "company_id"}),
    FlowVersion: frozenset(),
    Flow: frozenset(),
}


@dataclass(frozen=True)
class RuleSnapshot:
    """An active AutomationRule as automation.rules runs it (same attribute names). Its
    conditions and actions are handed out as copies: what a run does with them never
    reaches the kept entry."""

    id: int
    company_id: int
    name: str
    trigger: str
    position: int
    idle_minutes: int | None
    match: str | None
    _conditions: tuple
    _actions: tuple
    active: bool = True

    @property
    def conditions(self) -> list:
        return copy.deepcopy(list(self._conditions))

    @property
    def actions(self) -> list:
        return copy.deepcopy(list(self._actions))


@dataclass(frozen=True)
class CompanyConfig:
    version: int
    rules: tuple[RuleSnapshot, ...]          # active rules of every trigger, in order
    webhooks: tuple[tuple[int, tuple[str, ...]], ...]  # (id, events) of active webhooks
    has_flows: bool                          # any published flow version (runs need one)


class _Cache:
    def __init__(self, size: int):
        self.size = max(1, size)
        self.entries: OrderedDict[int, CompanyConfig] = OrderedDict()
        self.lock = threading.Lock()
        self.loads = 0  # how many times a configuration was read (tests, benches)

    def get(self, company_id: int, version: int) -> CompanyConfig | None:
        with self.lock:
            entry = self.entries.get(company_id)
            if entry is None or entry.version != version:
                return None
            self.entries.move_to_end(company_id)
            return entry

    def put(self, company_id: int, entry: CompanyConfig) -> None:
        with self.lock:
            self.loads += 1
            self.entries[company_id] = entry
            self.entries.move_to_end(company_id)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)


def cache() -> _Cache:
    """This app's (this process's) entries."""
    app = current_app._get_current_object()
    found = app.extensions.get(_EXTENSION)
    if found is None:
        found = app.extensions.setdefault(
            _EXTENSION, _Cache(int(app.config.get("COMPANY_CONFIG_CACHE_SIZE") or DEFAULT_SIZE)))
    return found


def note_version(company_id: int, version: int | None) -> None:
    """The company's token as a statement of the caller read it in this transaction (the
    widget reads it with the visitor): `current` then asks no statement for it."""
    if version is not None:
        after_commit.memo(_VERSIONS)[company_id] = version


_VERSION_OF = select(Company.config_version).where(Company.id == bindparam("company_id"))


def current(company_id: int) -> CompanyConfig | None:
    """The company's configuration as of the token this transaction reads; None when the
    transaction has written the rows it is made of (the caller reads them itself), or
    when the company does not exist."""
    if company_id is None or _written_here(company_id):
        return None
    versions = after_commit.memo(_VERSIONS)
    version = versions.get(company_id)
    if version is None:
        version = db.session.scalar(_VERSION_OF, {"company_id": company_id})
        if version is None:
            return None
        after_commit.memo(_VERSIONS)[company_id] = version  # a flush may have dropped it
    kept = cache()
    entry = kept.get(company_id, version)
    if entry is None:
        entry = _load(company_id, version)
        if _written_here(company_id):  # the loading queries' autoflush wrote some
            return None
        kept.put(company_id, entry)
    return entry


def _load(company_id: int, version: int) -> CompanyConfig:
    rules = tuple(
        RuleSnapshot(id=r.id, company_id=r.company_id, name=r.name, trigger=r.trigger,
                     position=r.position, idle_minutes=r.idle_minutes, match=r.match,
                     _conditions=tuple(copy.deepcopy(list(r.conditions or []))),
                     _actions=tuple(copy.deepcopy(list(r.actions or []))))
        for r in db.session.execute(
            select(AutomationRule.id, AutomationRule.company_id, AutomationRule.name,
                   AutomationRule.trigger, AutomationRule.position,
                   AutomationRule.idle_minutes, AutomationRule.match,
                   AutomationRule.conditions, AutomationRule.actions)
            .where(AutomationRule.company_id == company_id,
                   AutomationRule.active.is_(True))
            .order_by(AutomationRule.position, AutomationRule.id)))
    webhooks = tuple(
        (hook_id, tuple(names or ()))
        for hook_id, names in db.session.execute(
            select(Webhook.id, Webhook.events)
            .where(Webhook.company_id == company_id, Webhook.active.is_(True))
            .order_by(Webhook.id)))
    has_flows = bool(db.session.scalar(
        select(exists().where(FlowVersion.company_id == company_id))))
    return CompanyConfig(version=version, rules=rules, webhooks=webhooks, has_flows=has_flows)


# --- knowing that this transaction wrote the configuration ---------------------------------


def _written_here(company_id: int) -> bool:
    session = db.session()
    written = session.info.get(_WRITTEN)
    if written is not None and (company_id in written or None in written):
        return True
    # rows added, changed or deleted but not flushed yet (their flush would bump)
    return any(type(o) in WATCHED for group in (session.new, session.deleted) for o in group) \
        or any(type(o) in WATCHED and session.is_modified(o) for o in session.dirty)


def _mark(session: Session, company_ids) -> None:
    session.info.setdefault(_WRITTEN, set()).update(company_ids)


# --- the bump ----------------------------------------------------------------------------

_PENDING = "atende_company_config_pending"  # session.info: companies to bump after flush


def _relevant_update(target, columns: frozenset[str] | None) -> bool:
    if columns is None:
        return True
    state = db.inspect(target)
    return any(state.attrs[name].history.has_changes() for name in columns)


def _collect(target, *, old_company: bool = False) -> None:
    session = object_session(target)
    if session is None:
        return
    pending = session.info.setdefault(_PENDING, set())
    pending.add(target.company_id)
    if old_company:  # a row moved to another company changes the old one's too
        pending.update(db.inspect(target).attrs["company_id"].history.deleted or ())


def _inserted_or_deleted(_mapper, _connection, target) -> None:
    _collect(target)


def _updated(_mapper, _connection, target) -> None:
    columns = WATCHED[type(target)]
    if columns is None or (columns and _relevant_update(target, columns)):
        _collect(target, old_company=True)


for _model, _columns in WATCHED.items():
    event.listen(_model, "after_insert", _inserted_or_deleted)
    event.listen(_model, "after_delete", _inserted_or_deleted)
    if _columns is None or _columns:
        event.listen(_model, "after_update", _updated)

_company = Company.__table__


def _bump(session: Session, company_ids) -> None:
    """A new token for these companies (None: every company), in the session's
    transaction; the transaction is marked as having written them."""
    company_ids = set(company_ids)
    statement = update(_company).values(config_version=new_config_version())
    if None not in company_ids:
        statement = statement.where(_company.c.id.in_(sorted(company_ids)))
    session.connection().execute(statement)
    _mark(session, company_ids)


_BUMPED = "atende_company_config_bumped"  # session.info: bumped by this flush already


def _changed_before_flush(obj) -> bool:
    columns = WATCHED[type(obj)]
    if columns is None:
        return db.inspect(obj).modified
    return bool(columns) and _relevant_update(obj, columns)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _flush_context, _instances) -> None:
    """Bump the companies whose rows this flush will write, before it writes them: every
    writer then locks the company row first and the rows after (the bulk path too), so
    two of them never wait on each other in opposite orders. A new row without its
    company yet is the tenant's (backoffice.tenancy fills it at this same flush); one
    still unknown is bumped after the flush, from the mapper events (_after_flush)."""
    companies = set()
    for obj in session.new:
        if type(obj) in WATCHED:
            company_id = obj.company_id
            if company_id is None:
                from ..tenancy import current_company_id

                company_id = current_company_id()
            if company_id is not None:
                companies.add(company_id)
    for obj in session.deleted:
        if type(obj) in WATCHED and obj.company_id is not None:
            companies.add(obj.company_id)
    for obj in session.dirty:
        if type(obj) in WATCHED and _changed_before_flush(obj):
            companies.add(obj.company_id)
            companies.update(db.inspect(obj).attrs["company_id"].history.deleted or ())
    companies.discard(None)
    if companies:
        _bump(session, companies)
        session.info[_BUMPED] = companies


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _flush_context) -> None:
    """The companies the mapper events saw written that the flush did not bump first."""
    pending = session.info.pop(_PENDING, None)
    bumped = session.info.pop(_BUMPED, None) or set()
    if pending and not pending <= bumped:
        _bump(session, pending - bumped)


def _row(obj, _keys) -> bool:
    """A watched row takes the flush, not lib/rowwrite.py: its write must bump the
    company (the listeners above)."""
    return type(obj) not in WATCHED


rowwrite.check_rows_with(_row, _before_flush, _after_flush)


@event.listens_for(Session, "do_orm_execute")
def _bulk(orm_execute_state) -> None:
    """An ORM bulk UPDATE/DELETE (or INSERT) of a watched model skips the mapper events."""
    if not (orm_execute_state.is_update or orm_execute_state.is_delete
            or orm_execute_state.is_insert):
        return
    mapper = orm_execute_state.bind_mapper
    model = mapper.class_ if mapper is not None else None
    if model not in WATCHED:
        return
    session = orm_execute_state.session
    if orm_execute_state.is_insert:
        _bump(session, {None})
        return
    table = model.__table__
    matched = select(table.c.company_id)
    whereclause = orm_execute_state.statement.whereclause
    if whereclause is not None:
        matched = matched.where(whereclause)
    company_ids = set(session.connection().execute(matched).scalars())
    if company_ids:
        _bump(session, company_ids)


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session: Session, transaction) -> None:
    """The outermost transaction ended (commit or rollback): what it wrote is either
    committed with its new token or gone. A savepoint's end keeps the mark: the
    transaction may still hold writes made before it."""
    if transaction.parent is None:
        for key in (_WRITTEN, _PENDING, _BUMPED):
            session.info.pop(key, None)
