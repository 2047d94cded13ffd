"""The busiest statements, compiled once and run on the driver's cursor (SCL-5, SCL-3).

`Connection.execute` of a Core statement does, on every call, work whose result never
changes for a statement built once per shape (services.inbox's page, the login of every
request in services.sessions): it walks the whole statement to make its cache key, looks
the key up, builds an execution context and a result object over the cursor. For the
inbox list's two statements that was about 0.3 ms of a 4-5 ms request, more than the
rest of SQLAlchemy's share.

`rows(connection, statement, values)` compiles `statement` once per dialect and runs its
SQL on the connection's own DBAPI cursor, in whatever transaction (or autocommit mode) the
connection is in; `written` does the same for an INSERT, UPDATE or DELETE and gives the
rows matched and what RETURNING returns (an inbound message's two rows, lib/rowwrite.py).
What SQLAlchemy does around the cursor is kept:

- bound values go through the compiled statement's defaults and bind processors;
- each result column goes through its type's result processor (chosen, as SQLAlchemy
  chooses it, from the driver's type of the column, read at the first run);
- the engine's `before_cursor_execute` / `after_cursor_execute` listeners are called (with
  no execution context), so statement counters see these statements like any other;
- a driver error is raised as SQLAlchemy's wrapped exception (`DBAPIError.instance`), and a
  lost connection invalidates the connection and the pool's older ones as SQLAlchemy
  would (the exception says `connection_invalidated`).

Not kept: SQLAlchemy's own statement logging (`echo`). A statement that needs work at run
time (an expanding IN, a literal-execute parameter, post-compile rendering) or whose
result columns cannot be named from the statement runs through `Connection.execute`
instead: same rows, the usual cost.
"""
from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase


class Precompiled:
    """One statement compiled for one dialect."""

    __slots__ = ("sql", "compiled", "types", "direct", "keys", "processors", "_lock")

    def __init__(self, statement: Select | UpdateBase, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = compiled.string
        # a SELECT's columns, or what an INSERT/UPDATE returns (none without RETURNING)
        self.types = [column.type for column in statement.exported_columns]
        # run-time rendering (expanding IN, literal execution), positional parameters
        # (SQLite's qmark), schema translation and the column defaults SQLAlchemy works out
        # before an INSERT or UPDATE (a column left out, with a Python default) are left
        # to SQLAlchemy
        self.direct = not (compiled.literal_execute_params or compiled.post_compile_params
                           or compiled.positional or compiled.schema_translate_map
                           or getattr(compiled, "insert_prefetch", None)
                           or getattr(compiled, "update_prefetch", None))
        self.keys: tuple[str, ...] | None = None
        self.processors: list[Callable | None] = []
        self._lock = threading.Lock()

    def params(self, values: dict) -> dict:
        """The driver's parameters, as SQLAlchemy's execution context makes them."""
        compiled = self.compiled
        params = compiled.construct_params(values, escape_names=False)
        # SQLAlchemy's own map (private, on the pinned version; test_precompiled sends a
        # JSON value that only its bind processor makes sendable)
        processors = compiled._bind_processors
        escaped = compiled.escaped_bind_names or {}
        return {escaped.get(key, key): (processors[key](value) if key in processors else value)
                for key, value in params.items()}

    def learn(self, description, dialect: Dialect) -> bool:
        """At the first run: the result's names and each column's processor, chosen from
        the driver's type of the column as SQLAlchemy chooses it. False (and the statement
        goes through SQLAlchemy from then on) when the result does not match the
        statement's columns."""
        with self._lock:
            if self.keys is not None:
                return True
            if description is None or len(description) != len(self.types):
                self.direct = False
                return False
            processors = [type_.dialect_impl(dialect).result_processor(dialect, column[1])
                          for type_, column in zip(self.types, description)]
            self.processors = processors if any(processors) else []
            self.keys = tuple(column[0] for column in description)
            return True


@functools.lru_cache(maxsize=256)
def _precompiled(statement: Select | UpdateBase, dialect: Dialect) -> Precompiled:
    return Precompiled(statement, dialect)


def _processed(rows: list, processors: Sequence[Callable | None]) -> list[tuple]:
    pairs = [(i, p) for i, p in enumerate(processors) if p is not None]
    out = []
    for row in rows:
        values = list(row)
        for i, process in pairs:
            values[i] = process(values[i])
        out.append(tuple(values))
    return out


def rows(connection: Connection, statement: Select, values: dict) -> tuple[tuple[str, ...], list]:
    """(column names, every row as a tuple) of `statement` run with `values` on
    `connection`. The statement object is the cache key: pass one built once per shape."""
    entry = _precompiled(statement, connection.dialect)
    if not entry.direct:
        return _through_sqlalchemy(connection, statement, values)
    _count, found = _run(connection, entry, values)
    if found is None:
        # once per statement and process: a SELECT read twice, then never again here
        return _through_sqlalchemy(connection, statement, values)
    return entry.keys, found


def written(connection: Connection, statement: UpdateBase, values: dict) -> tuple[int, list]:
    """(rows matched, the RETURNING rows as tuples) of an INSERT, UPDATE or DELETE run with
    `values` on `connection`, as `rows` runs a SELECT (lib/rowwrite.py: an inbound
    message's two rows). A statement without RETURNING gives no rows."""
    entry = _precompiled(statement, connection.dialect)
    if not entry.direct:
        result = connection.execute(statement, values)
        if not entry.types:
            return result.rowcount, []
        # with RETURNING the rows matched are the rows returned (SQLAlchemy's rowcount is
        # then -1 on psycopg, and SQLite counts rows only as they are read)
        found = [tuple(row) for row in result.all()]
        return len(found), found
    count, found = _run(connection, entry, values)
    if found is None:  # the statement ran, and what it returned is not what it says
        raise exc.InvalidRequestError(f"RETURNING of {entry.sql!r} gave other columns")
    return count, found


def _run(connection: Connection, entry: Precompiled, values: dict) -> tuple[int, list | None]:
    """The statement's rowcount and rows (each column processed), or None for the rows when
    they do not match the statement's columns."""
    params = entry.params(values)
    dispatch = connection.dispatch
    proxied = connection.connection
    cursor = proxied.cursor()
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, entry.sql, params, None, False)
        try:
            cursor.execute(entry.sql, params)
            found = cursor.fetchall() if entry.types else []
        except connection.dialect.loaded_dbapi.Error as error:
            lost = connection.dialect.is_disconnect(error, proxied.dbapi_connection, cursor)
            if lost:
                # As Connection._handle_dbapi_exception does: the pool's other connections
                # are from before too (a database restart), so they are replaced on their
                # next checkout, not each found dead by a request of its own.
                connection.engine.pool._invalidate(proxied, error)
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                entry.sql, params, error, connection.dialect.loaded_dbapi.Error,
                dialect=connection.dialect, connection_invalidated=lost) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, entry.sql, params, None, False)
        if entry.types and entry.keys is None \
                and not entry.learn(cursor.description, connection.dialect):
            return cursor.rowcount, None
        count = cursor.rowcount
    finally:
        cursor.close()
    if entry.processors:
        found = _processed(found, entry.processors)
    return count, found


def _through_sqlalchemy(connection: Connection, statement: Select, values: dict):
    result = connection.execute(statement, values)
    return tuple(result.keys()), [tuple(row) for row in result.all()]
