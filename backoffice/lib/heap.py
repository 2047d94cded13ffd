"""What a long-running process does with the objects it loaded at startup (SCL-3).

A web process holds some 270,000 objects once the app is built (modules, SQLAlchemy's
mappers, Flask-Admin's views, the catalogs). CPython's cyclic collector walks all of them
in every full (generation 2) collection: about 70 ms on this 2-core machine, during which
no request of that process advances. Those objects live as long as the process and are
never garbage, so a served process moves them out of the collector's reach once, right
before it serves (`gc.freeze`): later full collections walk only what came after.

Only processes that serve or work call this (app.py, deploy/gunicorn.conf.py, the RQ
worker); the test suite builds an app per test and must not pin them all.
"""
from __future__ import annotations

import gc


def freeze_startup_objects() -> int:
    """Collect what startup left as garbage, then freeze the rest; returns how many
    objects the collector will no longer walk."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
