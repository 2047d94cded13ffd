"""Background work: the task runner (runner.py) and the job entry points, one module per
area (sending, data, mail, system), plus the periodic tasks (periodic.py).

An entry point is a few lines: find whom the work is for, then call a service under
`acting_for(company_id)`, so the flush guard holds in jobs as it does in requests.
Services enqueue entry points by dotted name ("backoffice.jobs.data.run_import") and
never import this package's job modules: imports go one way, jobs -> services.
"""
from .runner import TaskRunner, app_job, tasks

__all__ = ["TaskRunner", "app_job", "tasks"]
