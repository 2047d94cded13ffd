"""The periodic part of CHN-3: messages saved while the queue was down get their job.

`python app.py` runs it in a thread beside the web server; a production deployment can
run `flask inbox sweeper` instead (or as well: the job's claim makes duplicates harmless).
"""
from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)


def sweep_once(app: Flask) -> int:
    from ..extensions import db
    from . import data_jobs, sending

    with app.app_context():
        try:
            return sending.sweep() + data_jobs.sweep()
        except Exception:  # the database or the queue is down: try again next time
            log.exception("sweep failed")
            db.session.rollback()
            return 0


def run_forever(app: Flask, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.wait(interval):
        count = sweep_once(app)
        if count:
            log.info("sweep re-enqueued %s message(s)", count)


def start_thread(app: Flask, interval: float = 60.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, interval, stop), name="atende-sweeper",
                     daemon=True).start()
    return stop
