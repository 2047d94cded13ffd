"""Rows written without the unit of work (SCL-3): an inbound message and its ticket.

Each inbound message writes two rows: its own INSERT and its ticket's UPDATE (the
preview, the unread count, two moments). Through `Session.flush` that was about 15% of
the message's CPU in process (bench/inbound_profile.py), nearly none of it SQL: the unit
of work sorts the mappers involved, runs the dependency processors of every relationship
of both models (eight on a ticket) and each flush listener, for two rows. `write` sends
the same two statements, built once per model (an UPDATE once per set of columns),
compiled once and run on the driver's cursor (lib/precompiled.py: SQLAlchemy's execution
of a Core statement was still a third of the two writes' cost), and leaves the objects
as the flush would: the new one persistent with its id and every column loaded, the
changed one with the new values as its committed state. It is the mirror of
lib/rowload.py, which reads rows the same way.

It writes nothing and returns False, and the caller flushes as before, whenever a flush
would do more than those statements:

- the session holds other unflushed changes (their order against these rows is the
  flush's to decide), or a savepoint is open (its rollback would not know these rows);
- a mapper has its own listeners (before/after insert/update), a version counter, a
  column filled by the server, by SQL or on update, or an inheritance;
- a new object has a related object or a non-empty collection set (the flush would write
  those too); the changed object is not persistent, or has changes of its own;
- a row check says so (below).

The session-wide flush listeners look at the rows of each flush (the tenancy guard, the
read-only request's refusal, the rooms and sessions that follow access changes, the
automation settings' version). Each registers with `check_rows_with` what it would do
with a row, as a function `check(obj, keys) -> bool` (`keys`: the changed columns, None
for a new row) that may raise as the listener would (a row of another company), and
returns False when the row needs the real flush (a ticket changing department).
tests/test_rowwrite.py lists the session's flush listeners and fails for one that did not
register, so a new listener cannot be skipped by this path silently.

A rollback of the transaction makes the new rows' objects transient again, as it does
for rows a flush inserted.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from sqlalchemy import Table, bindparam, event, insert, inspect, update
from sqlalchemy.orm import Session, make_transient, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..extensions import db
from . import precompiled

RowCheck = Callable[[Any, "frozenset[str] | None"], bool]
_CHECKS: list[RowCheck] = []
_COVERED: set[Callable] = set()
_PLANS: dict[type, "_Plan | None"] = {}
_WRITTEN = "atende_rowwrite_new"  # session.info: (root transaction, objects it inserted)
_KEY = "rowwrite_pk"  # the UPDATE's bound primary key (a table with such a column is refused)
_MAPPER_EVENTS = ("before_insert", "after_insert", "before_update", "after_update")


def check_rows_with(check: RowCheck, *listeners: Callable) -> None:
    """Run `check` on every row `write` sends; it stands for the flush `listeners` given
    (the ones `flush_listeners_without_check` then no longer lists)."""
    if check not in _CHECKS:
        _CHECKS.append(check)
    _COVERED.update(listeners)


def flush_listeners_without_check(session: Session) -> list[Callable]:
    """The session's flush listeners that registered no row check (for the test that
    keeps this module honest)."""
    found = []
    for name in ("before_flush", "after_flush", "after_flush_postexec"):
        found.extend(fn for fn in getattr(session.dispatch, name) if fn not in _COVERED)
    return found


class _Plan:
    """One model's statements and how to fill a new row's columns."""

    def __init__(self, model: type):
        mapper = inspect(model)
        table = mapper.local_table
        self.mapper = mapper
        self.columns = [(mapper.get_property_by_column(c).key, c) for c in table.c]
        self.column_of = {key: column.key for key, column in self.columns}
        (self.pk_key, self.pk), = [(k, c) for k, c in self.columns if c.primary_key]
        self.table = table
        # each column's value under a name of its own (a bound parameter may not be named
        # as a column of the statement's table)
        self.bind_of = {column.key: "v_" + column.key for column in table.c}
        self.insert = insert(table).values(
            {column: bindparam(self.bind_of[column.key]) for column in table.c
             if column is not self.pk}).returning(self.pk)
        self._updates: dict[frozenset, Any] = {}
        self.relationships = [r.key for r in mapper.relationships]

    def update(self, columns: frozenset):
        """The UPDATE of these columns (their keys) by primary key, built once per set."""
        statement = self._updates.get(columns)
        if statement is None:
            statement = self._updates[columns] = update(self.table).where(
                self.pk == bindparam(_KEY)).values(
                {self.table.c[key]: bindparam(self.bind_of[key]) for key in sorted(columns)})
        return statement

    @classmethod
    def of(cls, model: type) -> "_Plan | None":
        if model not in _PLANS:
            _PLANS[model] = cls(model) if _plain(model) else None
        return _PLANS[model]

    def new_row(self, obj) -> dict | None:
        """The INSERT's values, the column defaults filled in on `obj` as a flush
        would; None when the flush must write the row (an id chosen by the caller, a
        related object or a collection to write with it)."""
        values = obj.__dict__
        if values.get(self.pk_key) is not None or any(values.get(k) for k in self.relationships):
            return None
        row = {}
        for key, column in self.columns:
            if column is self.pk:
                continue
            if key not in values:
                default = column.default
                setattr(obj, key, None if default is None
                        else default.arg if default.is_scalar else default.arg(None))
            row[self.bind_of[column.key]] = values[key]
        return row


def _plain(model: type) -> bool:
    mapper = inspect(model)
    table = mapper.local_table
    if not isinstance(table, Table) or mapper.inherits is not None \
            or mapper.version_id_col is not None or len(table.primary_key.columns) != 1 \
            or _KEY in table.c:
        return False
    if any(len(getattr(mapper.dispatch, name)) for name in _MAPPER_EVENTS):
        return False
    if len(mapper.column_attrs) != len(table.c) or any(p.deferred for p in mapper.column_attrs):
        return False
    for column in table.c:
        if column.server_default is not None or column.server_onupdate is not None \
                or column.onupdate is not None or column.computed is not None:
            return False
        default = column.default
        if default is not None and not (default.is_scalar or default.is_callable):
            return False
    return True


def write(new: Iterable[Any] = (), changed: dict[Any, dict[str, Any]] | None = None) -> bool:
    """Insert `new` (transient objects) and set `changed` (object -> {column key: value})
    with one statement per row, the updates first (a ticket before its new message, the
    flush's order); False, having written nothing, when a flush must do it."""
    session = db.session()
    changed = changed or {}
    new = list(new)
    if session.new or session.deleted or session.dirty or session.in_nested_transaction():
        return False
    updates = []
    for obj, values in changed.items():
        plan = _Plan.of(type(obj))
        state = inspect(obj)
        if plan is None or not state.persistent or state.session is not session \
                or state.modified or not values:
            return False
        if not values.keys() <= plan.column_of.keys() or plan.pk_key in values:
            return False
        keys = frozenset(values)
        if not all(check(obj, keys) for check in _CHECKS):
            return False
        updates.append((plan, obj, values))
    inserts = []
    for obj in new:
        plan = _Plan.of(type(obj))
        if plan is None or not inspect(obj).transient:
            return False
        if not all(check(obj, None) for check in _CHECKS):
            return False
        row = plan.new_row(obj)
        if row is None:
            return False
        inserts.append((plan, obj, row))
    connection = session.connection()
    for plan, obj, values in updates:
        columns = {plan.column_of[key]: value for key, value in values.items()}
        params = {plan.bind_of[column]: value for column, value in columns.items()}
        params[_KEY] = inspect(obj).identity[0]  # not obj.id: an expired object would load
        matched, _ = precompiled.written(connection, plan.update(frozenset(columns)), params)
        if matched != 1:
            raise StaleDataError(f"UPDATE of {type(obj).__name__} {params[_KEY]} "
                                 f"matched {matched} rows instead of 1")
        for key, value in values.items():
            set_committed_value(obj, key, value)
    for plan, obj, row in inserts:
        _, returned = precompiled.written(connection, plan.insert, row)
        setattr(obj, plan.pk_key, returned[0][0])
        make_transient_to_detached(obj)
        session.add(obj)
        _remember(session, obj)
    return True


def _remember(session: Session, obj) -> None:
    root = session.get_transaction()
    entry = session.info.get(_WRITTEN)
    if entry is None or entry[0] is not root:
        entry = session.info[_WRITTEN] = (root, [])
    entry[1].append(obj)


def _rolled_back(session: Session, previous) -> None:
    """The transaction the rows were inserted in rolled back: their objects go back to
    transient, as a flush's new rows do (SQLite may hand their ids out again)."""
    entry = session.info.get(_WRITTEN)
    if entry is not None and entry[0] is previous:
        del session.info[_WRITTEN]
        for obj in entry[1]:
            if obj in session:
                session.expunge(obj)
            make_transient(obj)


def _committed(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def install() -> None:
    if not event.contains(Session, "after_soft_rollback", _rolled_back):
        event.listen(Session, "after_soft_rollback", _rolled_back)
        event.listen(Session, "after_commit", _committed)
