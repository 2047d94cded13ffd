"""What a long-running process does with the objects it loaded at startup (SCL-3).

A web process holds some 270,000 objects once the app is built (modules, SQLAlchemy's
mappers, Flask-Admin's views, the catalogs). CPython's cyclic collector walks all of them
in every full (generation 2) collection: about 70 ms on this 2-core machine, during which
no request of that process advances. Those objects live as long as the process and are
never garbage, so a served process moves them out of the collector's reach once, right
before it serves (`gc.freeze`): later full collections walk only what came after.

Only processes that serve or work call this (app.py, deploy/gunicorn.conf.py, the RQ
worker); the test suite builds an app per test and must not pin them all.

While an app is being built (`create_app`, which also imports most of the app's modules
the first time), the collector is paused: those objects are not garbage either, and
collecting over and over a heap that only grows was a sixth of a process's start (some
600 collections, 0.5-0.9 s of the 3-5 s it takes a web or worker process, a benchmark or
a test's subprocess to build its app on this machine).
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is back as it was after it
    (a block inside another, or in a process that had it off, leaves it off)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def freeze_startup_objects() -> int:
    """Collect what startup left as garbage, then freeze the rest; returns how many
    objects the collector will no longer walk."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
