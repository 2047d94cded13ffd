"""Many rows into one table in the current transaction: COPY on PostgreSQL (psycopg),
a multi-row INSERT elsewhere.

The contact import writes thousands of rows per batch; COPY sends them as one stream
instead of one statement (or one parameter set) each. It joins the session's open
transaction, so a batch still commits or rolls back whole.
"""
from __future__ import annotations

import json

from sqlalchemy import JSON, Table, insert

from ..extensions import db


def insert_rows(table: Table, rows: list[dict]) -> None:
    """`rows` must all have the same keys (the table's column names)."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
    quote = connection.dialect.identifier_preparer.quote
    sql = (f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN")
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in as_json and row[c] is not None
                                else row[c] for c in columns])
