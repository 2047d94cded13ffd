"""The RQ worker class of production (`rq worker --worker-class backoffice.jobs.worker.AtendeWorker`).

A SimpleWorker (no fork per job: the app is built once per process, see README) that
refuses to start when Redis, SECRET_KEY or DATABASE_URL disagree with the web processes
(lib/startup.py), and that puts back, untouched, a job queued by a process configured
differently from itself, then stops: running it here would act on another database.
"""
from __future__ import annotations

import logging

from rq import SimpleWorker
from rq.intermediate_queue import IntermediateQueue

from ..lib.heap import freeze_startup_objects
from ..lib.startup import StartupError, check_worker, job_mismatch
from .runner import worker_app

log = logging.getLogger(__name__)


class AtendeWorker(SimpleWorker):
    def work(self, *args, **kwargs):
        app = worker_app()
        try:
            check_worker(app.config)
        except StartupError as exc:
            log.error("%s", exc)
            raise SystemExit(f"atende worker: {exc}") from None
        freeze_startup_objects()  # the app is built: see lib/heap.py
        return super().work(*args, **kwargs)

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
        return super().execute_job(job, queue)
