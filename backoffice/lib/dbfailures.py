"""Which database errors mean "not now" rather than "never" (SCL-2, SCL-3).

These four failures say nothing about the request itself and go away by themselves:
asked again a moment later, the same request works. The HTTP error handlers answer them
with a 503 and Retry-After (web/errors.py, api/core.py), the socket events with a refusal
or an answer that asks the page to try again (realtime/failures.py), and a worker's job
tries again (jobs/runner.app_job). Anything else is a bug or bad input, answered as such.

- "lost": a connection of the pool died under the request (the database restarted, failed
  over, or the network cut it). SQLAlchemy, and lib/precompiled on its own path, have
  already invalidated the pool's connections from before, so the next try gets a new one.
- "locked": SQLite (the embedded default) lets one writer at a time, and past its busy
  timeout a write under heavy load gives up. Nothing was saved.
- "unreachable": no new connection could be opened (the database is down or restarting,
  or refuses connections while it shuts down). SQLAlchemy raises this while connecting,
  before any statement, so the error carries none.
- "pool": every connection of this process's pool stayed busy for the pool's whole wait
  (an overload).
"""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

LOST, LOCKED, UNREACHABLE, POOL = "lost", "locked", "unreachable", "pool"


def retryable(exc: BaseException) -> str | None:
    """LOST, LOCKED, UNREACHABLE or POOL when `exc` is one of the failures above, else
    None."""
    if isinstance(exc, PoolTimeout):
        return POOL
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return LOST
        if isinstance(exc, OperationalError):
            if "database is locked" in str(getattr(exc, "orig", exc)):
                return LOCKED
            if exc.statement is None:
                return UNREACHABLE
    return None
