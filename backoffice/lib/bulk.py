"""Many rows into (or out of) one table in the current transaction: COPY, array
parameters and set-based UPDATE on PostgreSQL (psycopg), the driver's executemany for
new rows on SQLite, plain multi-row statements elsewhere.

The contact import writes thousands of rows per batch; COPY sends them as one stream
instead of one statement (or one parameter set) each. Everything here joins the
session's open transaction, so a batch still commits or rolls back whole.
"""
from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
from psycopg.copy import LibpqWriter
from psycopg.generators import fetch_many
from psycopg.waiting import Wait
from sqlalchemy import JSON, Integer, String, Table, any_, bindparam, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError

from ..extensions import db


def postgresql() -> bool:
    """True when the session's connection is PostgreSQL through psycopg (COPY, arrays)."""
    connection = db.session.connection()
    return connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg"


def insert_rows(table: Table, rows: list[dict]) -> None:
    """`rows` must all have the same keys (the table's column names)."""
    if rows:
        columns = list(rows[0])
        insert_tuples(table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_tuples(table: Table, columns: list[str], rows: list[tuple],
                  meanwhile: Callable[[], object] | None = None) -> None:
    """Rows given as tuples of the `columns`' values (no dict per row: the import
    writes a hundred thousand of them).

    `meanwhile`: work of the caller's own that needs no database, done while the server
    takes the rows in. On PostgreSQL it runs once the last row and the end of the COPY are
    sent, before its result is read (`_EndThenWork`): the server indexes the rows and checks
    their foreign keys meanwhile, and one thread does its Python work instead of waiting.
    Elsewhere, and with no rows, it is not called: the caller does that work afterwards."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        _sqlite_executemany(connection, table, columns, rows)
        return
    if not postgresql():
        connection.execute(insert(table), [dict(zip(columns, row)) for row in rows])
        return
    as_json = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
    quote = connection.dialect.identifier_preparer.quote
    sql = (f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN")
    try:
        with connection.connection.driver_connection.cursor() as cursor:
            writer = _EndThenWork(cursor, meanwhile) if meanwhile is not None else None
            with cursor.copy(sql, writer=writer) as copy:
                write = copy.write_row
                for row in rows:
                    if as_json:
                        row = list(row)
                        for i in as_json:
                            if row[i] is not None:
                                row[i] = json.dumps(row[i])
                    write(row)
    except psycopg.errors.IntegrityError as exc:
        # as SQLAlchemy reports it for its own statements: the import redoes a batch
        # whose phone or document a concurrent write took (importer._flush)
        raise IntegrityError(sql, None, exc) from exc


class _EndThenWork(LibpqWriter):
    """psycopg's writer to the connection, except at the end: the end of the COPY is sent
    at once, then `meanwhile` runs, then the result is read. PostgreSQL checks a COPY's
    foreign keys only once it has the end (they are AFTER triggers, fired at the end of the
    statement): sent after `meanwhile`, the server would wait idle for it and then check
    while Python waited (about a third of the import's server time, SCL-4). An error of
    the COPY (a unique key taken) is raised after `meanwhile`, as before."""

    def __init__(self, cursor, meanwhile: Callable[[], object]):
        super().__init__(cursor)
        self.meanwhile = meanwhile

    def finish(self, exc: BaseException | None = None) -> None:
        if exc is not None:  # psycopg's way: the COPY is ended with the error
            super().finish(exc)
            return
        pgconn = self.connection.pgconn
        self.connection.wait(_copy_end_sent(pgconn))
        try:
            self.meanwhile()
        finally:
            (result,) = self.connection.wait(fetch_many(pgconn))
        if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
            raise psycopg.errors.error_from_result(result, encoding=self.connection.info.encoding)
        self.cursor._results = [result]  # as LibpqWriter.finish leaves it: the rowcount


def _copy_end_sent(pgconn):
    """psycopg's copy_end up to the result: the end message queued and flushed."""
    while pgconn.put_copy_end() == 0:
        while not (yield Wait.W):
            continue
    while True:
        while not (yield Wait.W):
            continue
        if pgconn.flush() == 0:
            return


def _sqlite_executemany(connection, table: Table, columns: list[str], rows: list[tuple]) -> None:
    """The rows by one executemany of the driver, each value through its column type's
    bind processor as SQLAlchemy's own INSERT would pass it (a datetime to SQLite's text
    form, JSON to text). SQLAlchemy's insert of the same rows given as dicts (a dict per
    row, its multi-VALUES batching, all in Python) took 3.4 s of a 7.2 s import of 100k
    rows (bench/import.py); this takes 2.8 s, most of it SQLite's own index work."""
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    processors = [(i, processor) for i, processor in enumerate(
        table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
        if processor is not None]
    if processors:
        def bound(row: tuple) -> tuple:
            values = list(row)
            for i, processor in processors:
                values[i] = processor(values[i])
            return tuple(values)

        rows = [bound(row) for row in rows]
    marks = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({marks})", rows)


def among(column, values, type_=String):
    """`column IN values`. On PostgreSQL one array parameter (`= ANY(:values)`): the
    same SQL text whatever the count, where an expanded IN list of a thousand values
    costs more to render and parse on the client than the lookup costs the server."""
    values = list(values)
    if postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(type_)))
    return column.in_(values)


def next_ids(table: Table, count: int) -> list[int] | None:
    """`count` new primary keys taken from the table's sequence (PostgreSQL), so rows
    that refer to new rows (tag links) go in with the same COPY, without reading the
    new ids back; None elsewhere."""
    if not count or not postgresql():
        return None
    # the sequence named once: as nextval's argument, pg_get_serial_sequence would run
    # (with its catalog lookups) for every id, five times the cost of the ids themselves
    sequence = db.session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                 {"table": table.name})
    return sorted(db.session.execute(
        text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
        {"sequence": sequence, "n": count}).scalars())


def update_rows(table: Table, columns: tuple[str, ...], rows: list[dict], extra: dict) -> None:
    """Set `columns` (and the constant `extra` values) on the rows whose id is each
    row's "_id". PostgreSQL: one `UPDATE ... FROM unnest(arrays)` for them all;
    elsewhere an executemany."""
    if not rows:
        return
    if not postgresql():
        stmt = (update(table).where(table.c.id == bindparam("_id"))
                .values({c: bindparam(c) for c in columns} | extra))
        db.session.execute(stmt, rows)
        return
    quote = db.session.connection().dialect.identifier_preparer.quote
    arrays = {"_id": [r["_id"] for r in rows]}
    casts, sets = ["CAST(:_id AS integer[])"], []
    for i, c in enumerate(columns):
        kind = table.c[c].type
        values = [r[c] for r in rows]
        if isinstance(kind, JSON):
            # arrays of json are awkward to bind: text, cast back per value
            arrays[f"v{i}"] = [None if v is None else json.dumps(v) for v in values]
            casts.append(f"CAST(:v{i} AS text[])")
            sets.append(f"{quote(c)} = CAST(v.c{i} AS json)")
        else:
            arrays[f"v{i}"] = values
            casts.append(f"CAST(:v{i} AS {'integer' if isinstance(kind, Integer) else 'text'}[])")
            sets.append(f"{quote(c)} = v.c{i}")
    for i, c in enumerate(extra, len(columns)):
        arrays[f"v{i}"] = extra[c]
        sets.append(f"{quote(c)} = :v{i}")
    names = ", ".join(["id"] + [f"c{i}" for i in range(len(columns))])
    db.session.execute(text(
        f"UPDATE {quote(table.name)} AS t SET {', '.join(sets)} "
        f"FROM unnest({', '.join(casts)}) AS v({names}) WHERE t.id = v.id"), arrays)
