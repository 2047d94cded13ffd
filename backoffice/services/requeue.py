"""Rows that a job works on (outgoing messages, webhook items): the retry of a failed
attempt and the periodic sweep, one rule for both, so a fix to one cannot miss the other.

A row waits in `waiting` until a job claims it (`working`, with `claimed_at`). The sweep
returns to `waiting` the rows claimed longer than `stuck` ago (the worker died: at least
once, never lost), then enqueues the waiting rows that are due: those backing off once
their `next_attempt_at` has passed, and fresh ones older than `grace` (their own job
normally ran by then; these were saved while the queue was down).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import or_, select, update

from ..extensions import db
from ..jobs.runner import tasks
from ..models.base import utcnow

log = logging.getLogger(__name__)

BATCH = 1000


def sweep_rows(model, created, waiting: str, working: str, stuck: timedelta,
               grace: timedelta, enqueue: Callable[[int], bool], now: datetime,
               claimed=None) -> int:
    """How many rows were enqueued again. `created` is the column a fresh row's age is
    read from; `model` has status, next_attempt_at and claimed_at (or the column given as
    `claimed`, set when a job takes the row)."""
    claimed = model.claimed_at if claimed is None else claimed
    db.session.execute(
        update(model).where(model.status == working, claimed < now - stuck)
        # due at once: its worker died, the grace of a fresh row's own job is long past
        .values(status=waiting, next_attempt_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    due = list(db.session.scalars(
        select(model.id).where(
            model.status == waiting,
            or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
            or_(model.next_attempt_at.is_not(None), created <= now - grace))
        .order_by(model.id).limit(BATCH)))
    return sum(1 for row_id in due if enqueue(row_id))


def retry_later(row, waiting: str, error: str, delay: int, job: str, job_timeout: int) -> None:
    """Put a row whose attempt failed back to `waiting` with the error, due in `delay`
    seconds, commit, and schedule its job then; if the queue refuses, the sweep finds
    the row when it is due."""
    row.status = waiting
    row.error = (error or "")[:500]
    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
    db.session.commit()
    try:
        tasks.enqueue_in(timedelta(seconds=delay), job, row.id, job_timeout=job_timeout)
    except Exception:
        log.warning("could not schedule %s for row %s; the sweep will", job, row.id)
