"""The busiest SELECTs, compiled once and run on the driver's cursor (SCL-5).

`Connection.execute` of a Core statement does, on every call, work whose result never
changes for a statement built once per shape (services.inbox's page, the login of every
request in services.sessions): it walks the whole statement to make its cache key, looks
the key up, builds an execution context and a result object over the cursor. For the
inbox list's two statements that was about 0.3 ms of a 4-5 ms request, more than the
rest of SQLAlchemy's share.

`rows(connection, statement, values)` compiles `statement` once per dialect and runs its
SQL on the connection's own DBAPI cursor, in whatever transaction (or autocommit mode) the
connection is in. What SQLAlchemy does around the cursor is kept:

- bound values go through the compiled statement's defaults and bind processors;
- each result column goes through its type's result processor (chosen, as SQLAlchemy
  chooses it, from the driver's type of the column, read at the first run);
- the engine's `before_cursor_execute` / `after_cursor_execute` listeners are called (with
  no execution context), so statement counters see these statements like any other;
- a driver error is raised as SQLAlchemy's wrapped exception (`DBAPIError.instance`), and a
  lost connection invalidates the connection as SQLAlchemy would.

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


class Precompiled:
    """One statement compiled for one dialect."""

    __slots__ = ("sql", "compiled", "types", "direct", "keys", "processors", "_lock")

    def __init__(self, statement: Select, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        self.compiled = compiled
        self.sql = compiled.string
        self.types = [column.type for column in statement.selected_columns]
        # run-time rendering (expanding IN, literal execution), positional parameters
        # (SQLite's qmark) and schema translation are left to SQLAlchemy
        self.direct = not (compiled.literal_execute_params or compiled.post_compile_params
                           or compiled.positional or compiled.schema_translate_map)
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
def _precompiled(statement: Select, dialect: Dialect) -> Precompiled:
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
    params = entry.params(values)
    dispatch = connection.dispatch
    proxied = connection.connection
    cursor = proxied.cursor()
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, entry.sql, params, None, False)
        try:
            cursor.execute(entry.sql, params)
            found = cursor.fetchall()
        except connection.dialect.loaded_dbapi.Error as error:
            if connection.dialect.is_disconnect(error, proxied.dbapi_connection, cursor):
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                entry.sql, params, error, connection.dialect.loaded_dbapi.Error,
                dialect=connection.dialect) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, entry.sql, params, None, False)
        if entry.keys is None and not entry.learn(cursor.description, connection.dialect):
            # once per statement and process: a SELECT read twice, then never again here
            return _through_sqlalchemy(connection, statement, values)
    finally:
        cursor.close()
    if entry.processors:
        found = _processed(found, entry.processors)
    return entry.keys, found


def _through_sqlalchemy(connection: Connection, statement: Select, values: dict):
    result = connection.execute(statement, values)
    return tuple(result.keys()), [tuple(row) for row in result.all()]
