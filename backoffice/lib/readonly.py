"""Reads without a transaction (SCL-5): the inbox's busiest GETs skip BEGIN and ROLLBACK.

A request's session opens a transaction with its first statement and rolls it back at the
end: two round trips to PostgreSQL that a request made only of SELECTs does not need. The
ROLLBACK costs more than its round trip: psycopg then forgets every statement it prepared
on that connection (and sends DEALLOCATE ALL), so the next requests to take it from the
pool plan their statements again (bench/README.md, twenty-fourth pass). At
READ COMMITTED, which Atende runs at, every statement reads its own snapshot anyway, so
running those SELECTs in autocommit mode reads exactly what they read inside a
transaction. A view marked `@read_only` gets its session's connection in autocommit mode
before anything (the login statement included) touches the database.

Only marked views, never every GET: a GET never changes state (SEC-8), but in autocommit
mode a write would be committed statement by statement, so the session of a marked view
refuses to flush at all (`ReadOnlyWrite`: the request fails whole, never half-written).
Bookkeeping that runs on its own connection (a session's "last seen", sessions._touch) is
not the session's and is unaffected.
"""
from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from . import rowwrite

MARK = "atende_read_only"


class ReadOnlyWrite(RuntimeError):
    """A view marked read-only tried to write through the request's session."""


def read_only(view):
    """Mark a GET view whose request only reads (put it under the route decorator)."""
    setattr(view, MARK, True)
    return view


def _begin_without_transaction() -> None:
    if request.method not in ("GET", "HEAD"):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or not getattr(view, MARK, False):
        return
    g.atende_read_only = True
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _read_only() -> bool:
    return has_request_context() and bool(g.get("atende_read_only"))


def _refuse_writes(session: Session, _context, _instances) -> None:
    if _read_only() and (session.new or session.dirty or session.deleted):
        raise ReadOnlyWrite(f"{request.endpoint} is marked read-only and tried to write")


def _refuse_row(_obj, _keys) -> bool:
    """The same refusal for a row written without a flush (lib/rowwrite.py)."""
    if _read_only():
        raise ReadOnlyWrite(f"{request.endpoint} is marked read-only and tried to write")
    return True


def install(app: Flask) -> None:
    """First of the app's before_request hooks: the login statement runs after it."""
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_without_transaction)
    if not event.contains(Session, "before_flush", _refuse_writes):
        event.listen(Session, "before_flush", _refuse_writes)
    rowwrite.check_rows_with(_refuse_row, _refuse_writes)
