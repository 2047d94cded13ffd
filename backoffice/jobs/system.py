"""Tiny jobs that prove the runner works end to end (tests, health checks)."""
from __future__ import annotations

from flask import current_app

from .runner import app_job


@app_job
def ping(value):
    # current_app only resolves inside an app context: the return value proves one was pushed.
    return {"value": value, "app": current_app.name, "mode": current_app.config["TASK_MODE"]}


def add(a, b):
    # No app context needed: runnable by a bare `rq worker` before create_app exists.
    return a + b
