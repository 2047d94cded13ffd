"""Fixed-window rate limits (the webchat's visitors, CHN-5): Redis INCR + EXPIRE.

A limit is "count/seconds" pairs, e.g. "10/10,60/600": at most 10 hits in any 10-second
window and 60 in any 10-minute window. Counters live in Redis so that every web instance
counts the same visitor together. When Redis cannot be reached a limiter must not turn
into an outage: the hit is counted in this process instead (per instance, which is
still a limit), and Redis is left alone for a few seconds before it is tried again.

Which Redis: REDIS_URL when set (a client of our own with short timeouts, so a Redis that
hangs cannot hang the visitor's request), else the task runner's connection (fakeredis in
the embedded mode, shared by the whole process).
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from flask import current_app

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5      # seconds, connect and read
RETRY_REDIS_AFTER = 10   # seconds of in-process counting after a Redis failure
_LOCAL_MAX_KEYS = 50_000

Limits = list[tuple[int, int]]


def parse(spec) -> Limits:
    """"10/10,60/600" or [(10, 10), (60, 600)] -> [(count, seconds), ...]."""
    if isinstance(spec, str):
        pairs = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            count, _, seconds = part.partition("/")
            pairs.append((int(count), int(seconds)))
        spec = pairs
    limits = [(int(c), int(s)) for c, s in (spec or ())]
    if any(c < 1 or s < 1 for c, s in limits):
        raise ValueError(f"bad rate limit: {spec!r}")
    return limits


class _LocalCounters:
    """The same fixed windows, in this process's memory."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def incr(self, keys: list[tuple[str, int]], now: float) -> list[int]:
        with self._lock:
            if len(self._counts) > _LOCAL_MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            out = []
            for key, window in keys:
                count, expires = self._counts.get(key, (0, 0.0))
                if expires <= now:
                    count, expires = 0, now + window
                count += 1
                self._counts[key] = (count, expires)
                out.append(count)
            return out

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


local_counters = _LocalCounters()
_redis_down_until = 0.0


def _client():
    ext = current_app.extensions
    url = current_app.config.get("REDIS_URL")
    if url:
        client = ext.get("atende_ratelimit_redis")
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT,
                                          socket_timeout=REDIS_TIMEOUT)
            ext["atende_ratelimit_redis"] = client
        return client
    from ..jobs import tasks

    return tasks.connection


def _prefix() -> str:
    return current_app.config.get("RATE_LIMIT_PREFIX") or "atende:rl:"


def hit(scope: str, ident: str, limits: Limits) -> int:
    """Count one hit of `ident` under `scope`; returns 0 when allowed, else the seconds
    until the fullest window ends (for Retry-After)."""
    global _redis_down_until
    if not limits:
        return 0
    now = time.time()
    keys = [(f"{_prefix()}{scope}:{ident}:{window}:{int(now // window)}", window)
            for _count, window in limits]
    counts = None
    if now >= _redis_down_until:
        try:
            pipe = _client().pipeline(transaction=False)
            for key, window in keys:
                pipe.incr(key)
                pipe.expire(key, window + 1)
            counts = [int(c) for c in pipe.execute()[0::2]]
        except (redis.RedisError, OSError) as exc:
            log.warning("rate limit: Redis unreachable (%s); counting in this process", exc)
            _redis_down_until = now + RETRY_REDIS_AFTER
    if counts is None:
        counts = local_counters.incr(keys, now)
    wait = 0
    for (limit, window), count in zip(limits, counts):
        if count > limit:
            wait = max(wait, int(window - now % window) + 1)
    return wait


def reset_redis_state() -> None:
    """Tests: forget a previous Redis failure and the in-process counters."""
    global _redis_down_until
    _redis_down_until = 0.0
    local_counters.clear()
