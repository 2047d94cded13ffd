"""The RQ worker class of production (`rq worker --worker-class backoffice.jobs.worker.AtendeWorker`).

A SimpleWorker (no fork per job: the app is built once per process, see README) that
refuses to start when Redis, SECRET_KEY or DATABASE_URL disagree with the web processes
(lib/startup.py), and that puts back, untouched, a job queued by a process configured
differently from itself, then stops: running it here would act on another database.

It also rides out a Redis outage instead of quitting. RQ's own loop retries only its
blocking wait for a job; a connection error anywhere else (the state it writes before
that wait, its heartbeat, the bookkeeping after a job) ends the worker. What a job did is
already in the database, and the sweeper puts back what Redis lost, so this worker logs
the outage and goes back to waiting; RQ's wait then retries with backoff until Redis is
back. The scheduler process it started dies with the outage; it is started again as soon
as the worker sees it dead and Redis back, not at RQ's next maintenance, ten minutes later.
"""
from __future__ import annotations

import functools
import logging
import time

import redis
from rq import SimpleWorker
from rq.intermediate_queue import IntermediateQueue

from ..lib.heap import freeze_startup_objects
from ..config import SettingError
from ..lib.startup import StartupError, check_worker, job_mismatch
from .runner import worker_app

log = logging.getLogger(__name__)

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
SCHEDULER_RETRY_SECONDS = 5
REDIS_RETRY_SECONDS = 4


_OUTAGE = "Redis fora do ar (%s em %s): o worker continua e espera o Redis voltar."


def _rides_out_redis_outage(method, message: str = _OUTAGE):
    """`method` of the worker, logging a Redis outage (`message`, with the error and the
    method's name) instead of ending the work loop."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except REDIS_DOWN as exc:
            log.warning(message, exc, method.__name__)
            return None

    return wrapper


# A worker stopped during an outage (systemd's stop, a deploy): RQ's last words to Redis
# fail. The worker still ends, with this line instead of a traceback; its record in Redis
# expires by itself and the other workers' maintenance drops it from the list.
_LAST_WORDS = ("Redis fora do ar ao encerrar o worker (%s em %s): o registro dele no Redis "
               "expira sozinho.")


class AtendeWorker(SimpleWorker):
    _scheduler_tried_at = float("-inf")
    # RQ doubles its wait for Redis on each failed try, up to a minute, and forgets it only
    # when a job comes: after a few outages with no job between them, a worker (and the
    # scheduler it restarts) would be back up to a minute after Redis. A try every few
    # seconds costs nothing.
    max_connection_wait_time = float(REDIS_RETRY_SECONDS)

    def work(self, *args, **kwargs):
        try:
            app = worker_app()
            check_worker(app.config)
        except (StartupError, SettingError) as exc:
            log.error("%s", exc)
            raise SystemExit(f"atende worker: {exc}") from None
        freeze_startup_objects()  # the app is built: see lib/heap.py
        # imported once the app is built: the app's modules load inside create_app, with
        # the collector paused (lib/heap.py)
        from ..realtime.pubsub import send_owed_at_exit

        send_owed_at_exit()  # a resync request owed at the stop: realtime/pubsub.py
        return super().work(*args, **kwargs)

    # Every call of the work loop that talks to Redis outside RQ's own retry.
    heartbeat = _rides_out_redis_outage(SimpleWorker.heartbeat)
    set_state = _rides_out_redis_outage(SimpleWorker.set_state)
    check_for_suspension = _rides_out_redis_outage(SimpleWorker.check_for_suspension)
    # What its teardown says to Redis, each step on its own (a failed one skips none after it).
    register_death = _rides_out_redis_outage(SimpleWorker.register_death, _LAST_WORDS)
    unsubscribe = _rides_out_redis_outage(SimpleWorker.unsubscribe, _LAST_WORDS)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        # The maintenance is what starts the scheduler again (RQ's run_maintenance_tasks);
        # at most every few seconds, since it also cleans the registries.
        process = self.scheduler._process if self.scheduler else None
        if process is not None and not process.is_alive():
            if time.monotonic() - self._scheduler_tried_at > SCHEDULER_RETRY_SECONDS:
                self._scheduler_tried_at = time.monotonic()
                return True
        return super().should_run_maintenance_tasks

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except REDIS_DOWN as exc:
            log.warning(_OUTAGE, exc, "run_maintenance_tasks")
            # A try that could not reach Redis started no scheduler, so it does not count:
            # the first loop with Redis back tries again. Waiting out the few seconds
            # instead, the loop could reach RQ's wait for a job first, which blocks for
            # minutes when no job comes, and the scheduler stayed dead all that time.
            self._scheduler_tried_at = float("-inf")

    def execute_job(self, job, queue):
        differing = job_mismatch(worker_app().config, job.meta or {})
        if differing:
            log.error("A tarefa %s veio de um processo com %s diferente(s) deste worker: "
                      "devolvida à fila sem rodar, e este worker para. Use o mesmo ambiente "
                      "em todos os processos.", job.id, " e ".join(differing))
            # Back to the queue for a worker that agrees with the web; this one stops so
            # it does not take it again in a loop.
            IntermediateQueue(queue.key, connection=queue.connection).remove(job.id)
            queue.enqueue_job(job, at_front=True)
            self._stop_requested = True  # the work loop ends before taking the next job
            return None
        try:
            return super().execute_job(job, queue)
        except REDIS_DOWN as exc:
            log.warning("Redis fora do ar durante a tarefa %s (%s): o que ela gravou no banco "
                        "fica; o worker continua e espera o Redis voltar.", job.id, exc)
            return None
