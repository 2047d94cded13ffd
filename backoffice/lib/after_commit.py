"""Work that must wait for the transaction: socket events and job enqueues.

CHN-3 says a message is committed before its job is queued (else a fast worker finds no
row, or a rollback leaves a job for a message that never existed); sockets likewise must
not announce rows another request cannot read yet. Services call `later(fn)`; whoever
ends the unit of work calls `commit()`, which commits and then runs them (SQLAlchemy's
own after_commit hook cannot be used: no SQL may run inside it, and an eager job does).
A rollback drops them; a savepoint's rollback (a failed automation step, a resend refused
by the unique index) drops only what was queued inside that savepoint: the customer's
message queued before it is still pushed.

`run_callbacks_within(wrapper)`: the callbacks of a commit run inside `wrapper()`, a
context manager (realtime.pubsub: their pushes leave for the other processes in one
message to Redis, SCL-3).

`memo(name)`: answers the transaction has already read (the visitor's open ticket, the
company's webhooks), so one unit of work asks the database once. Kept until the
transaction ends, and dropped whole when a savepoint rolls back (the rows it held may be
gone): never across transactions, so nothing read there can be stale.
"""
from __future__ import annotations

import logging
from contextlib import AbstractContextManager, ExitStack
from typing import Any, Callable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ..extensions import db

log = logging.getLogger(__name__)
_KEY = "atende_after_commit"
_GATHERED = "atende_after_commit_gathered"
_MARKS = "atende_after_commit_savepoints"
_ENDED = "atende_after_commit_savepoint_ended"
_MEMO = "atende_transaction_memo"
_WITHIN: list[Callable[[], AbstractContextManager]] = []


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


def memo(name: str) -> dict:
    """A dict for answers already read in this transaction (see the module's docstring);
    the caller still checks that a remembered row says what it needs (the ticket is still
    open...): the transaction's own writes may have changed it since."""
    return db.session().info.setdefault(_MEMO, {}).setdefault(name, {})


def forget(name: str, session: Session | None = None) -> None:
    """Drop the memo `name` (the rows it answered from were just written)."""
    memos = (session if session is not None else db.session()).info.get(_MEMO)
    if memos:
        memos.pop(name, None)


def forget_when_written(model, name: str,
                        events: tuple[str, ...] = ("after_insert", "after_update", "after_delete"),
                        also: Callable[[], None] | None = None) -> None:
    """Keep the memo `name` honest: drop it when a row of `model` is written (`events`,
    at flush) or a new one is added to a session (its flush comes later); `also` runs at
    each write too (another cache of the same rows)."""
    from sqlalchemy import inspect

    def written(_mapper, _connection, target) -> None:
        if also is not None:
            also()
        session = inspect(target).session
        if session is not None:
            forget(name, session)

    def added(session, instance) -> None:
        if isinstance(instance, model):
            forget(name, session)

    for name_of_event in events:
        event.listen(model, name_of_event, written)
    event.listen(Session, "transient_to_pending", added)


def run_callbacks_within(wrapper: Callable[[], AbstractContextManager]) -> None:
    """Run the callbacks of each commit inside `wrapper()` (once, whatever the number of
    calls: every app of a process installs it)."""
    if wrapper not in _WITHIN:
        _WITHIN.append(wrapper)


def commit(*, last: bool = False) -> None:
    """Commit, then run what waited for it (`later`).

    `last`: the request's final commit, after which nothing reads its rows again (the
    widget's message: its answer is built before). They are then not expired, which is a
    pass over every row of the session, about 3% of a message's CPU (SCL-3): the session
    ends with the request anyway, and the callbacks, which read nothing expired (they
    send what the events prepared), see the rows as just committed."""
    session = db.session()
    if last:
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire
    else:
        session.commit()
    pending = session.info.pop(_KEY, [])
    session.info.pop(_GATHERED, None)  # the callbacks above hold what they send
    if not pending:
        return
    with ExitStack() as within:
        for wrapper in _WITHIN:
            within.enter_context(wrapper())
        for fn in pending:
            try:
                fn()
            except Exception:  # one failed emit or enqueue must not hide the others
                log.exception("after-commit callback failed")


def _savepoint(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint starts: remember how much was queued before it."""
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = (
            len(session.info.get(_KEY, ())), set(session.info.get(_GATHERED, ())))


def _rolled_back(session: Session, transaction: SessionTransaction) -> None:
    """A savepoint rolled back: drop what was queued inside it (and the memo). The whole
    transaction rolled back: drop everything."""
    session.info.pop(_MEMO, None)
    if not transaction.nested:
        if transaction.parent is None:
            _drop(session)
        return
    ended = session.info.pop(_ENDED, None)  # after_transaction_end came first
    if ended is None or ended[0] is not transaction:
        return
    queued, gathered_before = ended[1]
    del session.info.get(_KEY, [])[queued:]
    gathered = session.info.get(_GATHERED)
    if gathered:
        for key in set(gathered) - gathered_before:
            del gathered[key]


def _ended(session: Session, transaction: SessionTransaction) -> None:
    """Any transaction ends (SQLAlchemy calls this before after_soft_rollback): a
    savepoint's mark is kept aside for _rolled_back, the only one that may need it."""
    if transaction.nested:
        mark = session.info.get(_MARKS, {}).pop(transaction, None)
        if mark is not None:
            session.info[_ENDED] = (transaction, mark)
    elif transaction.parent is None:
        for key in (_MEMO, _MARKS, _ENDED):
            session.info.pop(key, None)


def _drop(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_GATHERED, None)
    session.info.pop(_MARKS, None)
    session.info.pop(_ENDED, None)
    session.info.pop(_MEMO, None)


def install() -> None:
    # after_soft_rollback, not after_rollback: the latter also fires for a savepoint and
    # does not say which transaction ended, so a failed automation step used to drop the
    # pushes of the message it ran for
    if not event.contains(Session, "after_soft_rollback", _rolled_back):
        event.listen(Session, "after_transaction_create", _savepoint)
        event.listen(Session, "after_soft_rollback", _rolled_back)
        event.listen(Session, "after_transaction_end", _ended)
