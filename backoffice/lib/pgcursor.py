"""psycopg cursors whose `description` builds its columns when they are first read (SCL-5).

psycopg answers `cursor.description` with a new `Column` per result column, each decoding
its name and looking up its type, and SQLAlchemy reads `cursor.description` after every
statement. For a statement it has run before, SQLAlchemy keeps the result's column map
with the compiled statement and only checks that the description is not None: the columns
are built and thrown away. The inbox list's two statements (the login's and the page's)
carry about 70 columns; building them was about 0.2 ms of a 6 ms request, and every
statement of an inbound message paid the same toll (about 40 µs for a 20-column result).

`Description` holds what psycopg's `Column` reads of a cursor (the result, the encoding,
the type adapters) as they were when the description was asked for, so it describes that
result even if the cursor runs another statement before it is read. Its columns are
psycopg's own `Column` objects, built all at once on first access. Results without
columns (an INSERT, `SELECT ;`) get psycopg's own answer.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import psycopg
from psycopg import Column

_psycopg_description = psycopg.Cursor.description


class _ResultState:
    """The three attributes of a cursor psycopg's Column reads, fixed at one result."""

    __slots__ = ("pgresult", "_encoding", "adapters")

    def __init__(self, cursor: psycopg.Cursor):
        self.pgresult = cursor.pgresult
        self._encoding = cursor._encoding
        self.adapters = cursor.adapters


class Description(Sequence):
    """A result's columns as psycopg describes them, built on first access."""

    __slots__ = ("_state", "_size", "_columns")

    def __init__(self, cursor: psycopg.Cursor, size: int):
        self._state = _ResultState(cursor)
        self._size = size
        self._columns: list[Column] | None = None

    def _built(self) -> list[Column]:
        if self._columns is None:
            self._columns = [Column(self._state, i) for i in range(self._size)]
        return self._columns

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        return self._built()[index]

    def __iter__(self) -> Iterator[Column]:
        return iter(self._built())

    def __repr__(self) -> str:
        return repr(self._built())


class Cursor(psycopg.Cursor):
    """psycopg's cursor, with the description above."""

    @property
    def description(self):
        result = self.pgresult
        size = result.nfields if result is not None else 0
        if not size:
            return _psycopg_description.fget(self)
        return Description(self, size)


def install(engine) -> None:
    """Every connection `engine` opens to PostgreSQL (psycopg 3) uses `Cursor`."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _lazy_description(dbapi_connection, _record):
        dbapi_connection.cursor_factory = Cursor
