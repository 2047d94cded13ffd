"""PostgreSQL connections kept from one test to the next (services backend).

Every test builds its own app, so its own engine and pool, and disposes of it at the end.
Each new connection was a new server process, authenticated, with empty catalog caches:
the first statements of every test on every table it touched were planned against cold
caches (the probe of `_empty_postgres` alone took 13 ms on a fresh connection against
3 ms on a used one). That was about a third of the services pass.

Here a connection to the run's database (`PG_URL`) that an engine closes goes back, in a
clean state, to a stash the next engine's pool takes from instead of opening a new one:
- its transaction is rolled back, and RESET ALL, UNLISTEN *, pg_advisory_unlock_all()
  and DISCARD TEMP leave no setting, listener, session lock or temporary table behind;
- it is handed out again as psycopg leaves a new connection (no autocommit, psycopg's
  own cursor class), and the engine's own "connect" handlers run on it as on any new one;
- a connection that is broken, busy or fails the cleaning, or that belongs to another
  database (tests create and drop databases of their own), is really closed;
- a kept connection must answer `SELECT 1` before it is handed out (a test may have
  terminated its server process meanwhile).

Connections of one dialect setting only go to engines of the same setting: psycopg's
adapters of a connection are those of the dialect that opened it.
"""
from __future__ import annotations

import threading

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

_CLEAN = "RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP"


class KeptConnection(psycopg.Connection):
    """A psycopg connection whose close() hands it back to its stash when it can."""

    _stash: "Stash | None" = None
    _stash_key: tuple = ()

    def close(self) -> None:
        stash = self._stash
        if stash is None or self.closed or self.broken or not stash.keeps(self):
            return super().close()
        try:
            if self.info.transaction_status != TransactionStatus.IDLE:
                self.rollback()
            self.autocommit = True
            self.execute(_CLEAN)
            self.autocommit = False
            self.cursor_factory = psycopg.Cursor
        except Exception:
            return super().close()
        stash.put(self)

    def really_close(self) -> None:
        self._stash = None
        super().close()


class Stash:
    """Kept connections to one database, by the dialect settings and connection
    parameters they were opened with."""

    def __init__(self, dbname: str, signature) -> None:
        self.dbname = dbname
        self._signature = signature
        self._kept: dict[tuple, list[KeptConnection]] = {}
        self._lock = threading.Lock()

    def keeps(self, conn: KeptConnection) -> bool:
        return conn.info.dbname == self.dbname

    def put(self, conn: KeptConnection) -> None:
        with self._lock:
            self._kept.setdefault(conn._stash_key, []).append(conn)

    def _take(self, key: tuple) -> KeptConnection | None:
        while True:
            with self._lock:
                kept = self._kept.get(key)
                if not kept:
                    return None
                conn = kept.pop()
            try:
                conn.execute("SELECT 1")
                conn.rollback()  # handed out outside a transaction, as a new one
                return conn
            except Exception:
                conn.really_close()

    def connect(self, dialect, _record, cargs, cparams):
        """SQLAlchemy's do_connect: a kept connection, or a new one that will be kept."""
        params = {k: v for k, v in cparams.items() if k != "context"}
        key = (self._signature(dialect), dialect._json_serializer, dialect._json_deserializer,
               tuple(cargs), tuple(sorted(params.items())))
        conn = self._take(key)
        if conn is None:
            conn = KeptConnection.connect(*cargs, **cparams)
            conn._stash, conn._stash_key = self, key
        return conn

    def close_all(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, {}
        for conns in kept.values():
            for conn in conns:
                conn.really_close()


_INSTALLED: dict[str, Stash] = {}


def install(dbname: str, signature) -> Stash:
    """Every psycopg engine of this process takes its connections through the stash;
    `signature(dialect)` tells which dialects may share them. Once per process (pytest
    may import a conftest twice)."""
    if dbname not in _INSTALLED:
        stash = _INSTALLED[dbname] = Stash(dbname, signature)
        event.listen(PGDialect_psycopg, "do_connect", stash.connect)
    return _INSTALLED[dbname]
