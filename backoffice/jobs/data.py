"""Background jobs of Importar/exportar registros (IMP-4, EXP-1); the work is
services.data_jobs."""
from __future__ import annotations

from ..extensions import db
from ..models import DataJob
from ..services import data_jobs
from ..tenancy import acting_for
from .runner import app_job


def _company_of(job_id: int) -> int | None:
    job = db.session.get(DataJob, job_id)
    return job.company_id if job is not None else None


@app_job
def run_import(job_id: int) -> None:
    with acting_for(_company_of(job_id)):
        data_jobs.run_import(job_id)


@app_job
def run_export(job_id: int) -> None:
    with acting_for(_company_of(job_id)):
        data_jobs.run_export(job_id)
