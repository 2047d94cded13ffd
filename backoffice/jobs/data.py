"""Background jobs of Importar/exportar registros (IMP-4, EXP-1)."""
from __future__ import annotations

from .runner import app_job


@app_job
def run_import(job_id: int) -> None:
    from ..services import data_jobs

    data_jobs.run_import(job_id)


@app_job
def run_export(job_id: int) -> None:
    from ..services import data_jobs

    data_jobs.run_export(job_id)
