"""A test world built once per run and restored for each test that asks for it.

`populate_company` writes a row in every admin screen of a company: about a hundred
statements, the largest part of the setup of the 600-odd tests that take the `tenants`
fixture (0.2 s each on PostgreSQL, against 0.04 s to empty the tables). Built once and
restored, the same world costs a file copy on SQLite and one COPY per written table on
PostgreSQL.

What a restore brings back is exactly what the build left: every row as stored (text
COPY on PostgreSQL, the database file on SQLite), every id sequence where it stood, and
the app's instance folder (its encryption key, so secrets stored encrypted by the build
still read). `tests/test_world_snapshot.py` compares a restored world with one built
afresh, column by column.
"""
from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text


@dataclass
class Snapshot:
    instance: Path
    value: Any
    sqlite_file: Path | None = None
    # PostgreSQL: (table, quoted column list, COPY text) of every table with rows, and
    # (sequence, last value or None when never used) of every sequence
    tables: list[tuple[str, str, bytes]] = field(default_factory=list)
    sequences: list[tuple[str, int | None]] = field(default_factory=list)

    def restore_files(self, instance: Path, sqlite_file: Path | None) -> Any:
        """Copy the instance folder (and the SQLite database) into a test's places;
        return a copy of what the build returned, for the test to keep or change."""
        shutil.copytree(self.instance, instance, dirs_exist_ok=True)
        if sqlite_file is not None:
            shutil.copyfile(self.sqlite_file, sqlite_file)
        return copy.deepcopy(self.value)


def _driver_connection(session):
    return session.connection().connection.driver_connection


def _stored_columns(cur, table: str) -> str:
    """The table's columns as COPY reads and writes them: generated columns are computed
    by the server, never copied."""
    cur.execute("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) "
                "FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped AND attgenerated = ''", (f'"{table}"',))
    return cur.fetchone()[0]


def capture_postgres(session, table_names: list[str]) -> tuple[list, list]:
    """Every row of every non-empty table, and every sequence's position."""
    conn = _driver_connection(session)
    tables = []
    with conn.cursor() as cur:
        for name in table_names:
            cur.execute(f'SELECT EXISTS (SELECT 1 FROM "{name}")')
            if not cur.fetchone()[0]:
                continue
            columns = _stored_columns(cur, name)
            data = bytearray()
            with cur.copy(f'COPY "{name}" ({columns}) TO STDOUT') as out:
                for block in out:
                    data += block
            tables.append((name, columns, bytes(data)))
        cur.execute("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), "
                    "last_value FROM pg_sequences")
        sequences = [(name, last) for name, last in cur.fetchall()]
    return tables, sequences


def restore_postgres(session, snapshot: Snapshot) -> None:
    """Write the snapshot's rows into tables the caller has just emptied, in the caller's
    transaction, with the foreign-key triggers off (the caller turned them off: rows
    point at each other both ways, and the set is whole)."""
    conn = _driver_connection(session)
    with conn.cursor() as cur:
        for name, columns, data in snapshot.tables:
            with cur.copy(f'COPY "{name}" ({columns}) FROM STDIN') as into:
                into.write(data)
    used = [(name, last) for name, last in snapshot.sequences if last is not None]
    if used:
        session.execute(text("SELECT setval(CAST(name AS regclass), last) "
                             "FROM unnest(CAST(:names AS text[]), CAST(:lasts AS bigint[])) "
                             "AS s(name, last)"),
                        {"names": [n for n, _ in used], "lasts": [v for _, v in used]})
