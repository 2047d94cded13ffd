"""Work that must wait for the transaction: socket events and job enqueues.

CHN-3 says a message is committed before its job is queued (else a fast worker finds no
row, or a rollback leaves a job for a message that never existed); sockets likewise must
not announce rows another request cannot read yet. Services call `later(fn)`; whoever
ends the unit of work calls `commit()`, which commits and then runs them (SQLAlchemy's
own after_commit hook cannot be used: no SQL may run inside it, and an eager job does).
A rollback drops them.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db

log = logging.getLogger(__name__)
_KEY = "atende_after_commit"
_GATHERED = "atende_after_commit_gathered"


def later(fn: Callable[[], None]) -> None:
    db.session().info.setdefault(_KEY, []).append(fn)


def gather(key: str, send: Callable[[Any], None], factory: Callable[[], Any] = set):
    """What the transaction collects under `key` (made by `factory` on first use), handed
    to `send` once after the commit; a rollback drops it. For pushes that must go once per
    transaction whatever the number of rows it changed (a bulk close, an import): the
    caller adds to the returned collection, and `send` gets it whole."""
    gathered = db.session().info.setdefault(_GATHERED, {})
    if key not in gathered:
        gathered[key] = factory()
        later(lambda: send(gathered.pop(key)))
    return gathered[key]


def commit() -> None:
    session = db.session()
    session.commit()
    pending = session.info.pop(_KEY, [])
    session.info.pop(_GATHERED, None)  # the callbacks above hold what they send
    for fn in pending:
        try:
            fn()
        except Exception:  # one failed emit or enqueue must not hide the others
            log.exception("after-commit callback failed")


def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_GATHERED, None)


def install() -> None:
    if not event.contains(Session, "after_rollback", _drop):
        event.listen(Session, "after_rollback", _drop)
