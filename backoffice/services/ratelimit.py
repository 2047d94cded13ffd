"""Fixed-window rate limits (the webchat's visitors, CHN-5): Redis INCR + EXPIRE; and
growing delays after failures (login, SEC-5), at the end of the module.

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
from typing import NamedTuple

import redis
from flask import current_app

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5      # seconds, connect and read
RETRY_REDIS_AFTER = 10   # seconds of in-process counting after a Redis failure
_LOCAL_MAX_KEYS = 50_000

Limits = list[tuple[int, int]]
clock = time.time  # a module attribute, so tests move time instead of sleeping


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
    now = clock()
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
    local_backoff.clear()


# --- Growing delays after failures (SEC-5) ---------------------------------------------
#
# A counter per (scope, ident) holds the attempts not known to have succeeded and the
# time the next one is allowed. `attempt` checks every counter of an attempt and, when
# all allow it, counts it at once (atomically, in one Lua script): parallel requests
# cannot slip several guesses through one delay. A success then forgets the counter
# (`forget`) or un-counts the attempt (`uncount`).

BACKOFF_MEMORY = 24 * 3600  # seconds a counter outlives its last attempt

_ATTEMPT_LUA = """
local now = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local allowed_at = tonumber(redis.call('HGET', key, 't') or '0')
  if allowed_at - now > wait then wait = allowed_at - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[3 * i - 1])
  local base = tonumber(ARGV[3 * i])
  local cap = tonumber(ARGV[3 * i + 1])
  local n = redis.call('HINCRBY', key, 'c', 1)
  local delay = 0
  if n >= free then delay = math.min(cap, base * 2 ^ (n - free)) end
  redis.call('HSET', key, 't', tostring(now + delay))
  redis.call('EXPIRE', key, math.floor(cap) + %d)
end
return '0'
""" % BACKOFF_MEMORY

_UNCOUNT_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  local n = redis.call('HINCRBY', KEYS[1], 'c', -1)
  if n < 0 then redis.call('HSET', KEYS[1], 'c', 0) end
  redis.call('HSET', KEYS[1], 't', ARGV[1])
end
return 0
"""


class Backoff(NamedTuple):
    """`free` failures pass at once; after that the next attempt waits base, 2*base,
    4*base ... seconds, never more than `cap`."""

    free: int
    base: float = 1.0
    cap: float = 600.0


def _backoff_delay(count: int, rule: Backoff) -> float:
    if count < rule.free:
        return 0.0
    return min(rule.cap, rule.base * 2 ** (count - rule.free))


class _LocalBackoff:
    """The same counters in this process's memory, while Redis is unreachable."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state: dict[str, tuple[int, float, float]] = {}  # key -> count, allowed_at, expires

    def attempt(self, keys: list[tuple[str, Backoff]], now: float) -> float:
        with self._lock:
            if len(self._state) > _LOCAL_MAX_KEYS:
                self._state = {k: v for k, v in self._state.items() if v[2] > now}
            current = {key: self._state.get(key, (0, 0.0, 0.0)) for key, _rule in keys}
            current = {k: (v if v[2] > now else (0, 0.0, 0.0)) for k, v in current.items()}
            wait = max((allowed - now for _c, allowed, _e in current.values()), default=0.0)
            if wait > 0:
                return wait
            for key, rule in keys:
                count = current[key][0] + 1
                self._state[key] = (count, now + _backoff_delay(count, rule),
                                    now + rule.cap + BACKOFF_MEMORY)
            return 0.0

    def forget(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)

    def uncount(self, key: str, now: float) -> None:
        with self._lock:
            if key in self._state:
                count, _allowed, expires = self._state[key]
                self._state[key] = (max(0, count - 1), now, expires)

    def clear(self) -> None:
        with self._lock:
            self._state.clear()


local_backoff = _LocalBackoff()


def _backoff_key(scope: str, ident: str) -> str:
    return f"{_prefix()}backoff:{scope}:{ident}"


def _with_redis(call):
    """Run call(client); None when Redis is unreachable (the caller counts locally)."""
    global _redis_down_until
    if clock() < _redis_down_until:
        return None
    try:
        return call(_client())
    except (redis.RedisError, OSError) as exc:
        log.warning("rate limit: Redis unreachable (%s); counting in this process", exc)
        _redis_down_until = clock() + RETRY_REDIS_AFTER
        return None


def attempt(counters: list[tuple[str, str, Backoff]]) -> float:
    """One attempt counted under every (scope, ident, rule): 0 when allowed (and then
    counted), else the seconds to wait (and nothing counted)."""
    now = clock()
    keys = [(_backoff_key(scope, ident), rule) for scope, ident, rule in counters]
    args = [repr(now)]
    for _key, rule in keys:
        args += [str(int(rule.free)), repr(float(rule.base)), repr(float(rule.cap))]
    result = _with_redis(lambda client: client.eval(
        _ATTEMPT_LUA, len(keys), *[k for k, _r in keys], *args))
    if result is None:
        return local_backoff.attempt(keys, now)
    return float(result)


def forget(scope: str, ident: str) -> None:
    """A success that proves the owner (right password, reset link): start afresh."""
    key = _backoff_key(scope, ident)
    local_backoff.forget(key)
    _with_redis(lambda client: client.delete(key))


def uncount(scope: str, ident: str) -> None:
    """The attempt counted by `attempt` succeeded: it was no failure."""
    key, now = _backoff_key(scope, ident), clock()
    local_backoff.uncount(key, now)
    _with_redis(lambda client: client.eval(_UNCOUNT_LUA, 1, key, repr(now)))
