"""The periodic tasks, in one list run alike by the thread `python app.py` starts, by
`flask inbox sweeper` (forever) and by `flask inbox sweep` (once, e.g. from cron).

Each task finds stalled work of every company and acts on each row under
`acting_for(row.company_id)`; running one twice (two instances, the thread and the
command) is harmless, the jobs' claims make duplicates no-ops.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, NamedTuple

from flask import Flask

from ..extensions import db
from ..services import channel_events, data_jobs, sending

log = logging.getLogger(__name__)


class Periodic(NamedTuple):
    what: str                 # what the count is of, as `flask inbox sweep` prints it
    run: Callable[[], int]    # returns how many items it queued again


PERIODIC: list[Periodic] = [
    # CHN-3: messages saved while the queue was down, or stuck in "sending"
    Periodic("mensagem(ns)", sending.sweep),
    # CHN-2: provider webhook items stored while the queue was down, or left half-done
    Periodic("evento(s) de canal", channel_events.sweep),
    # IMP-4, EXP-1: imports and exports whose worker died or that never reached the queue
    Periodic("importação(ões) ou exportação(ões)", data_jobs.sweep),
]


def run_all() -> list[tuple[Periodic, int]]:
    """Run every task once in the current app context; a failing task (the database or
    the queue is down) counts 0 and the others still run."""
    done = []
    for task in PERIODIC:
        try:
            count = task.run()
        except Exception:
            log.exception("periodic task %s failed", task.what)
            db.session.rollback()
            count = 0
        done.append((task, count))
    return done


def sweep_once(app: Flask) -> int:
    with app.app_context():
        return sum(count for _, count in run_all())


def run_forever(app: Flask, interval: float, stop: threading.Event | None = None) -> None:
    stop = stop or threading.Event()
    while not stop.wait(interval):
        count = sweep_once(app)
        if count:
            log.info("sweep re-enqueued %s item(s)", count)


def start_thread(app: Flask, interval: float = 60.0) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, interval, stop), name="atende-sweeper",
                     daemon=True).start()
    return stop
