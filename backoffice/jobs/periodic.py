"""The periodic tasks, in one list run alike by the thread `python app.py` starts, by
`flask inbox sweeper` (forever; the production process beside the RQ workers) and by
`flask inbox sweep` (once, e.g. from cron).

Each task finds stalled or due work of every company and acts on each row under
`acting_for(row.company_id)`; running one twice (two instances, the thread and the
command) is harmless, the claims make duplicates no-ops. Sweeps of stalled work run
every minute; the automation ticks (AUT-1..5) every TICK seconds, so an inactivity
close or a scheduled message goes out within that much of its minute.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, NamedTuple

from flask import Flask

from ..automation import scheduled, timers
from ..extensions import db
from ..services import api_tokens, channel_events, data_jobs, sending
from ..webhooks import delivery as webhook_delivery
from .runner import tasks

log = logging.getLogger(__name__)


TICK = 15.0    # seconds between automation ticks
SWEEP = 60.0   # seconds between sweeps of stalled work


class Periodic(NamedTuple):
    what: str                 # "<count> <what>." is what `flask inbox sweep` prints
    run: Callable[[], int]    # returns how many items it queued again or handled
    every: float = SWEEP      # seconds between runs under run_forever


PERIODIC: list[Periodic] = [
    # CHN-3: messages saved while the queue was down, or stuck in "sending"
    Periodic("mensagem(ns) recolocada(s) na fila", sending.sweep),
    # CHN-2: provider webhook items stored while the queue was down, or left half-done
    Periodic("evento(s) de canal recolocado(s) na fila", channel_events.sweep),
    # IMP-4, EXP-1: imports and exports whose worker died or that never reached the queue
    Periodic("importação(ões) ou exportação(ões) recolocada(s) na fila", data_jobs.sweep),
    # AUT-1..4, AUT-8: inactivity, surveys, chatbot waits, opening hours, idle rules
    Periodic("atendimento(s) com automação executada", timers.tick, TICK),
    # AUT-5: scheduled messages whose minute has come
    Periodic("mensagem(ns) agendada(s) enviada(s)", scheduled.tick, TICK),
    # WHK-1: webhook deliveries due for a retry, saved while the queue was down, or stuck
    Periodic("entrega(s) de webhook recolocada(s) na fila", webhook_delivery.sweep),
    # API-1: Idempotency-Key answers older than a day
    Periodic("chave(s) de idempotência antiga(s) apagada(s)", api_tokens.forget_old_requests),
    # SCL-3: the embedded queue's expired keys (rate-limit windows, finished jobs)
    Periodic("chave(s) expirada(s) liberada(s) da fila embutida", tasks.drop_expired_keys,
             TICK),
]


def run_all(tasks: list[Periodic] | None = None) -> list[tuple[Periodic, int]]:
    """Run every task (or `tasks`) once in the current app context; a failing task (the
    database or the queue is down) counts 0 and the others still run."""
    done = []
    for task in PERIODIC if tasks is None else tasks:
        try:
            count = task.run()
        except Exception:
            log.exception("periodic task %s failed", task.what)
            db.session.rollback()
            count = 0
        done.append((task, count))
    return done


def sweep_once(app: Flask, tasks: list[Periodic] | None = None) -> int:
    with app.app_context():
        return sum(count for _, count in run_all(tasks))


def run_forever(app: Flask, interval: float | None = None,
                stop: threading.Event | None = None) -> None:
    """Run each task every `task.every` seconds (or every `interval`, when given)."""
    stop = stop or threading.Event()
    step = interval or min(task.every for task in PERIODIC)
    last: dict[str, float] = {}
    while not stop.wait(step):
        now = time.monotonic()
        due = [t for t in PERIODIC
               if interval or now - last.get(t.what, float("-inf")) >= t.every - 0.5]
        for task in due:
            last[task.what] = now
        count = sweep_once(app, due)
        if count:
            log.info("periodic tasks handled %s item(s)", count)


def start_thread(app: Flask, interval: float | None = None) -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, interval, stop), name="atende-sweeper",
                     daemon=True).start()
    return stop
