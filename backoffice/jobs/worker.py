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
back. And it keeps a scheduler running in the cluster: when the one there was dies (with
Redis, or with its worker), a worker starts one within seconds, not at RQ's next
maintenance, ten minutes later (`keep_a_scheduler`).
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
    run_maintenance_tasks = _rides_out_redis_outage(SimpleWorker.run_maintenance_tasks)
    # What its teardown says to Redis, each step on its own (a failed one skips none after it).
    register_death = _rides_out_redis_outage(SimpleWorker.register_death, _LAST_WORDS)
    unsubscribe = _rides_out_redis_outage(SimpleWorker.unsubscribe, _LAST_WORDS)

    # -- the scheduler
    # RQ runs one scheduler for the queue, in a process of the worker holding its lock in
    # Redis, and looks after it only in its maintenance, every ten minutes: a scheduler
    # that died (with Redis, or with its worker, killed) left the cluster without one for
    # that long, and retries and delayed jobs waited for the sweeper. Every worker here
    # looks at each turn of its loop, at most every few seconds, and takes the lock (one
    # SET NX in Redis) and starts its scheduler when nobody holds it: within seconds of
    # Redis coming back, within a minute of the holder's death (the lock's lifetime).

    @property
    def dequeue_timeout(self) -> int:
        # One wait for a job lasts at most this long, so an idle worker comes round its
        # loop (RQ's is worker_ttl - 15 s: 405 s by default).
        return min(super().dequeue_timeout, SCHEDULER_RETRY_SECONDS)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        # Read at each turn of RQ's loop, before each wait for a job.
        self.keep_a_scheduler()
        return super().should_run_maintenance_tasks

    def keep_a_scheduler(self) -> None:
        """Start this worker's scheduler when it has none running and the lock is free."""
        scheduler = self.scheduler
        if scheduler is None or (scheduler._process is not None and scheduler._process.is_alive()):
            return
        if self._stop_requested:
            return  # a stop (systemd's, a deploy) ends the scheduler with the worker
        if time.monotonic() - self._scheduler_tried_at <= SCHEDULER_RETRY_SECONDS:
            return
        self._scheduler_tried_at = time.monotonic()
        try:
            scheduler.acquire_locks(auto_start=True)
        except REDIS_DOWN as exc:
            log.warning(_OUTAGE, exc, "acquire_locks")
            # A try that could not reach Redis does not count: the first turn with Redis
            # back tries again.
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
