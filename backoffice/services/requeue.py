"""The periodic sweep of rows that a job works on (outgoing messages, webhook items):
one rule for both, so a fix to one cannot miss the other.

A row waits in `waiting` until a job claims it (`working`, with `claimed_at`). The sweep
returns to `waiting` the rows claimed longer than `stuck` ago (the worker died: at least
once, never lost), then enqueues the waiting rows that are due: those backing off once
their `next_attempt_at` has passed, and fresh ones older than `grace` (their own job
normally ran by then; these were saved while the queue was down).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select, update

from ..extensions import db

BATCH = 1000


def sweep_rows(model, created, waiting: str, working: str, stuck: timedelta,
               grace: timedelta, enqueue: Callable[[int], bool], now: datetime) -> int:
    """How many rows were enqueued again. `created` is the column a fresh row's age is
    read from; `model` has status, claimed_at and next_attempt_at."""
    db.session.execute(
        update(model).where(model.status == working, model.claimed_at < now - stuck)
        .values(status=waiting).execution_options(synchronize_session=False))
    db.session.commit()
    due = list(db.session.scalars(
        select(model.id).where(
            model.status == waiting,
            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
            or_(model.next_attempt_at.is_not(None), created <= now - grace))
        .order_by(model.id).limit(BATCH)))
    return sum(1 for row_id in due if enqueue(row_id))
