"""Calls that hold the CPU for long, and release Python's lock, kept off gevent's loop.

A web process under gevent's worker (deploy/gunicorn.conf.py) serves all its connections
from one thread: a password check (scrypt, about 75 ms here) run there stops every agent's
socket of that process for as long, and the logins at the start of a shift would stop
them for seconds. hashlib's scrypt releases Python's lock, so in gevent's thread pool it
runs beside the loop, and the loop goes on. Anywhere else (the embedded server's threads,
workers, tests) the call is made in place.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def gevent_patched() -> bool:
    """True in a process whose standard library gevent has patched (a gevent web worker)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def off_loop(fn: Callable[..., T], *args, **kwargs) -> T:
    """fn(*args, **kwargs), in gevent's thread pool when the process runs under gevent."""
    if gevent_patched():
        from gevent import get_hub

        return get_hub().threadpool.apply(fn, args, kwargs)
    return fn(*args, **kwargs)
