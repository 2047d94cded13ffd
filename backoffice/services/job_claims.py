"""Who runs an import or export job: the claim that keeps a duplicate RQ job from
running the same file twice, and when a running job counts as dead.

Apart from services.data_jobs so that the importer, which claims its job before the
first batch, and data_jobs, which starts and sweeps jobs, import it without importing
each other.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..extensions import db
from ..models import DataJob, utcnow
from ..models import data_jobs as states


def stale_after() -> timedelta:
    """How long a running import may go without a heartbeat (one per batch, a second
    or so) before it counts as dead and may be taken over."""
    return timedelta(seconds=int(current_app.config.get("IMPORT_STALE_SECONDS") or 300))


def claim(job_id: int) -> bool:
    """Take the job for this worker: a queued one, or a running one whose worker stopped
    beating. A duplicate RQ job (the sweep re-queues what looks lost) finds it taken."""
    now = utcnow()
    taken = db.session.execute(update(DataJob).where(
        DataJob.id == job_id,
        or_(DataJob.status == states.QUEUED,
            (DataJob.status == states.RUNNING) & (DataJob.heartbeat_at < now - stale_after())))
        .values(status=states.RUNNING, heartbeat_at=now)).rowcount
    db.session.commit()
    return taken == 1


def stale_jobs() -> list[int]:
    """Running jobs whose worker stopped beating (killed, restarted): an import resumes
    after its last batch, an export starts over."""
    limit = utcnow() - stale_after()
    return list(db.session.scalars(select(DataJob.id).where(
        DataJob.status == states.RUNNING,
        or_(DataJob.heartbeat_at.is_(None), DataJob.heartbeat_at < limit))))
