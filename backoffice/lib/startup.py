"""Checks a production process makes before it serves or works (issue 17, SCL-1).

Several web processes and RQ workers must share one Redis, one database and one
SECRET_KEY. A web process that cannot reach Redis would serve pages whose live events
never reach the other processes; a worker on another database or with another key would
run jobs against the wrong data or fail to read what the web signed. Either is refused
here with a message that says what is wrong, instead of events going silently missing.

The fingerprint published in Redis is made of hashes only: neither the key nor the
database password ever leaves the process.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import time
from typing import Mapping

import redis

log = logging.getLogger(__name__)

FINGERPRINT_KEY = "atende:deploy:web"


class StartupError(RuntimeError):
    """The process must not start: the message says why and what to change."""


def _digest(value: str) -> str:
    return hashlib.sha256(("atende-deploy:" + value).encode()).hexdigest()[:16]


def _database_identity(url: str) -> str:
    # The same database reached with another password or driver spelling is the same
    # database: compare host, port and name only.
    from sqlalchemy import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return f"sqlite:{os.path.abspath(u.database or '')}"
    return f"{u.get_backend_name()}://{u.host or ''}:{u.port or ''}/{u.database or ''}"


def fingerprint(config: Mapping) -> dict:
    """What every process of one installation must agree on, as hashes."""
    return {
        "secret_key": _digest(str(config.get("SECRET_KEY") or "")),
        "database": _digest(_database_identity(str(config.get("SQLALCHEMY_DATABASE_URI")
                                                   or "sqlite://"))),
    }


def _redis_urls(config: Mapping) -> list[tuple[str, str]]:
    urls = []
    if config.get("REDIS_URL"):
        urls.append(("REDIS_URL", config["REDIS_URL"]))
    mq = config.get("SOCKETIO_MESSAGE_QUEUE")
    if mq and mq != config.get("REDIS_URL"):
        urls.append(("SOCKETIO_MESSAGE_QUEUE", mq))
    return urls


def _connect(name: str, url: str) -> redis.Redis:
    conn = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        conn.ping()
    except redis.RedisError as exc:
        raise StartupError(
            f"{name}={url}: o Redis não responde ({exc}). Sem ele os eventos ao vivo e a "
            f"fila de tarefas não chegam aos outros processos; suba o Redis ou corrija "
            f"{name} antes de iniciar este processo."
        ) from exc
    return conn


def check_web(config: Mapping) -> None:
    """A web process of a multi-process installation: Redis answers, and the process
    publishes its fingerprint for the workers to compare with."""
    urls = _redis_urls(config)
    if not urls:
        return  # embedded default: one process, nothing to share
    if config.get("SOCKETIO_MESSAGE_QUEUE") is None and config.get("TASK_MODE") == "redis":
        log.warning("REDIS_URL está definido mas SOCKETIO_MESSAGE_QUEUE não: eventos ao vivo "
                    "de um processo (ou de um worker) não chegam aos agentes ligados a outro. "
                    "Defina SOCKETIO_MESSAGE_QUEUE (normalmente igual a REDIS_URL).")
    conns = [_connect(name, url) for name, url in urls]
    mine = fingerprint(config)
    previous = conns[0].get(FINGERPRINT_KEY)
    if previous:
        theirs = json.loads(previous)
        if {k: theirs.get(k) for k in mine} != mine:
            log.warning("Outro processo web registrou neste Redis uma configuração diferente "
                        "(%s). Se você trocou SECRET_KEY ou DATABASE_URL de propósito, "
                        "reinicie todos os processos; senão eles divergem.",
                        ", ".join(_differences(mine, theirs)))
    conns[0].set(FINGERPRINT_KEY, json.dumps(
        {**mine, "host": socket.gethostname(), "pid": os.getpid(), "at": int(time.time())}))


def _differences(mine: dict, theirs: dict) -> list[str]:
    names = {"secret_key": "SECRET_KEY", "database": "DATABASE_URL"}
    return [names[k] for k in mine if theirs.get(k) != mine[k]]


def check_worker(config: Mapping) -> None:
    """An RQ worker: Redis answers, and its SECRET_KEY and database are the web's."""
    urls = _redis_urls(config)
    if not urls:
        raise StartupError("REDIS_URL não está definido: um worker separado precisa do mesmo "
                           "Redis que os processos web.")
    conns = [_connect(name, url) for name, url in urls]
    published = conns[0].get(FINGERPRINT_KEY)
    if not published:
        log.warning("Nenhum processo web se registrou ainda neste Redis: não deu para conferir "
                    "se SECRET_KEY e DATABASE_URL deste worker são os da web.")
        return
    differing = _differences(fingerprint(config), json.loads(published))
    if differing:
        raise StartupError(
            f"Este worker não usa a mesma configuração que os processos web: "
            f"{' e '.join(differing)} diferente(s). Ele rodaria tarefas em outro banco ou "
            f"não leria o que a web assinou; use o mesmo ambiente em todos os processos."
        )


def job_mismatch(config: Mapping, meta: Mapping) -> list[str]:
    """Names of the settings in which the process that queued a job differs from this
    worker (empty when it agrees, or when the job carries no fingerprint)."""
    theirs = meta.get("atende_fp")
    if not theirs:
        return []
    return _differences(fingerprint(config), theirs)
