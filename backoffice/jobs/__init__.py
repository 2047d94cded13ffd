"""RQ job functions and the task runner (see runner.py)."""
from .runner import TaskRunner, app_job, tasks

__all__ = ["TaskRunner", "app_job", "tasks"]
