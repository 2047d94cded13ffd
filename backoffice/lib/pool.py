"""Pessimistic disconnect handling, paid only by connections that sat idle.

`pool_pre_ping` sends a round trip before *every* checkout, so every request (and every
inbound message) paid one more round trip than its own statements. A connection that was
used a moment ago is alive; one that sat in the pool may have been cut (a database
restart, a firewall's idle timeout). Only the latter is pinged here; a dead one is
replaced before the request sees it (SQLAlchemy retries the checkout on DisconnectionError).
"""
from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

IDLE_SECONDS = 10.0  # a connection back in the pool for longer than this is pinged first


def install(engine: Engine, idle_seconds: float = IDLE_SECONDS) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        record.info["atende_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        since = record.info.get("atende_idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # fresh from connect, or used a moment ago
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        except Exception as error:
            raise exc.DisconnectionError(f"idle connection is gone: {error}") from error
        finally:
            try:
                cursor.close()
            except Exception:
                pass
        # psycopg opened a transaction for the ping: end it, as the pool's own reset does
        dbapi_connection.rollback()
