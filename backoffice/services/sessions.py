"""Server-side sessions (SEC-4): which logins are open, and ending them with their sockets.

Each login opens a UserSession row; the signed cookie carries only a random token whose
SHA-256 is the row's key, so a copied cookie is worth nothing once the row is gone. A
request or socket event is accepted only while its row exists (auth.load_user).

What ends sessions:
- logout: this device's session only;
- "Sair de todos os dispositivos" and a raised `User.session_version`: all of the user's;
- a change of the user's password, e-mail, group or active flag, from any writer (admin
  screens, CLI, password reset, jobs): all of the user's, except the current request's own
  session when the user changes their own password, e-mail or group;
- a company disabled: all sessions of its users; a user or company deleted: theirs.
Those changes are noticed at flush time by a SQLAlchemy listener, so no writer has to
call anything; the rows are deleted in the same transaction (a rollback keeps them).

Sockets: every connection records its sid under its session (SessionSocket). Ending
sessions emits `session.ended` with their sids; the socket listener disconnects them after
the commit (realtime.listeners); with a message queue (SOCKETIO_MESSAGE_QUEUE)
python-socketio publishes the disconnect of a sid owned by another process to every
process. Without a queue, sockets of other processes are closed on their next event,
which checks the session again (realtime.session_checked).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta

from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy import bindparam, delete, event, inspect, or_, select, update
from sqlalchemy.orm import Session

from .. import events
from ..extensions import db
from ..lib import precompiled, rowload, rowwrite
from ..models import Company, PermissionGroup, SessionSocket, User, UserSession, utcnow
from . import as_id

log = logging.getLogger(__name__)

COOKIE_KEY = "atende_session"  # key of the token in Flask's signed session
# last_seen_at is informative (Minha conta); written at most this often per session
SEEN_EVERY = timedelta(minutes=5)
# A user's own change of these keeps the session that made it. Before the flush a new
# group may be set through the relationship only, so both are watched.
_KEEP_OWN = ("password_hash", "email", "group_id", "group")
_ALL = _KEEP_OWN + ("active", "session_version")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _summary(text: str | None, size: int) -> str | None:
    return (text or "")[:size] or None


def open_session(user: User) -> str:
    """A new session of `user` on the requesting device; returns the token for the cookie.
    Commits."""
    # Sessions nobody logged out of (a closed browser) expire with their cookie; their rows
    # go at the user's next login, so they do not pile up.
    lifetime = current_app.permanent_session_lifetime if has_app_context() else timedelta(days=1)
    _end(db.session(), UserSession.user_id == user.id,
         UserSession.last_seen_at < utcnow() - lifetime - SEEN_EVERY)
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=token_hash(token))
    if has_request_context():
        row.user_agent = _summary(request.user_agent.string, 255)
        row.ip = _summary(request.remote_addr, 45)
    db.session.add(row)
    db.session.commit()
    return token


@functools.cache
def _find_statement():
    """The statement of `find`, built once: the user's, company's and group's columns and
    the session's id and last-seen time. Core columns, not `select(User)` with eager loads:
    the objects are built from the row by lib.rowload, at a fraction of the ORM loading's
    cost (SCL-5: it runs on every request and socket event)."""
    users, companies, groups = (e.model.__table__ for e in _ENTITIES)
    sessions_ = UserSession.__table__
    return (select(*users.c, *companies.c, *groups.c, sessions_.c.id, sessions_.c.last_seen_at)
            .select_from(users.join(sessions_, sessions_.c.user_id == users.c.id)
                         .outerjoin(companies, companies.c.id == users.c.company_id)
                         .outerjoin(groups, groups.c.id == users.c.group_id))
            .where(users.c.id == bindparam("user_id"),
                   sessions_.c.token_hash == bindparam("token_hash")))


_ENTITIES = (rowload.Entity(User), rowload.Entity(Company), rowload.Entity(PermissionGroup))


def find(user_id: int, token: str | None):
    """(user, session id) of a live session, with the user's company and group, in one
    query; None when the session was ended or never existed."""
    if not token or not isinstance(token, str):
        return None

    session = db.session()
    _keys, found = precompiled.rows(session.connection(), _find_statement(),
                                    {"user_id": user_id, "token_hash": token_hash(token)})
    if not found:
        return None
    row = found[0]
    users, companies, groups = _ENTITIES
    company = companies.take(session, row, len(users))
    group = groups.take(session, row, len(users) + len(companies))
    user = users.take(session, row, 0, {"company": company, "group": group})
    session_id, seen = row[-2], row[-1]
    if seen is None or utcnow() - seen > SEEN_EVERY:
        _touch(session_id)
    return user, session_id


def _touch(session_id: int) -> None:
    """Outside the request's transaction: bookkeeping must neither commit the request's
    own work nor fail it."""
    try:
        with db.engine.begin() as conn:
            conn.execute(update(UserSession).where(UserSession.id == session_id)
                         .values(last_seen_at=utcnow()))
    except Exception:  # a busy database only delays the "last seen" time
        log.debug("could not update last_seen_at of session %s", session_id, exc_info=True)


def current_id() -> int | None:
    """The session id of the current request or socket event, if logged in."""
    return g.get("atende_session_id") if has_app_context() else None


def list_for(user_id: int) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user_id)
                                   .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end(user_id: int, session_id=None) -> bool:
    """End one session of the user (logout, or "Encerrar" on Minha conta); a session of
    someone else, or an unknown id, ends nothing. The caller commits."""

    session_id = as_id(session_id)
    if session_id is None:
        return False
    return _end(db.session(), UserSession.id == session_id, UserSession.user_id == user_id) > 0


def end_all(user: User) -> None:
    """"Sair de todos os dispositivos": every session of the user, this one included.
    The caller commits."""
    _end(db.session(), UserSession.user_id == user.id)


def record_socket(session_id: int, sid: str) -> bool:
    """Remember an open socket of a session; False if the session ended meanwhile.
    Commits."""
    try:
        # FOR UPDATE: an ending in progress (which locks the row too) is waited for
        alive = db.session.scalar(select(UserSession.id).where(UserSession.id == session_id)
                                  .with_for_update())
        if alive is None:
            db.session.rollback()
            return False
        db.session.add(SessionSocket(session_id=session_id, sid=sid[:64]))
        db.session.commit()
        return True
    except Exception:
        db.session.rollback()
        log.warning("could not record socket %s", sid, exc_info=True)
        return False


def forget_socket(sid: str) -> None:
    """Commits."""
    db.session.execute(delete(SessionSocket).where(SessionSocket.sid == sid[:64]))
    db.session.commit()


# -- ending sessions when what they were opened with changes ------------------------------

def _end(session: Session, *where) -> int:
    """Delete the sessions matching `where` and announce their sockets' sids (closed
    after the commit). Returns how many sessions ended."""
    ids = list(session.scalars(select(UserSession.id).where(*where).with_for_update()))
    if not ids:
        return 0
    sids = set(session.scalars(select(SessionSocket.sid).where(SessionSocket.session_id.in_(ids))))
    events.emit("session.ended", session_ids=ids, sids=sids, db_session=session)
    session.execute(delete(SessionSocket).where(SessionSocket.session_id.in_(ids)),
                    execution_options={"synchronize_session": False})
    session.execute(delete(UserSession).where(UserSession.id.in_(ids)),
                    execution_options={"synchronize_session": False})
    return len(ids)


def _changed(obj, names) -> set[str]:
    state = inspect(obj)
    return {name for name in names if state.attrs[name].history.has_changes()}


def _own_session(user_id: int) -> int | None:
    """The current request's session if it belongs to `user_id`."""
    if has_app_context() and g.get("atende_session_user") == user_id:
        return g.get("atende_session_id")
    return None


def _collect(session: Session, _context, _instances) -> None:
    everything: set[int] = set()
    keep: dict[int, int] = {}  # user id -> their own session, to spare
    companies: set[int] = set()
    for obj in session.dirty:
        if isinstance(obj, User) and obj.id is not None:
            changed = _changed(obj, _ALL)
            if not changed:
                continue
            own = _own_session(obj.id)
            if own is not None and changed <= set(_KEEP_OWN):
                keep[obj.id] = own
            else:
                everything.add(obj.id)
        elif isinstance(obj, Company) and obj.id is not None and _changed(obj, ("active",)) \
                and not obj.active:
            companies.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, User) and obj.id is not None:
            everything.add(obj.id)
        elif isinstance(obj, Company) and obj.id is not None:
            companies.add(obj.id)
    keep = {uid: sid for uid, sid in keep.items() if uid not in everything}
    if everything or companies:
        clauses = []
        if everything:
            clauses.append(UserSession.user_id.in_(everything))
        if companies:
            clauses.append(UserSession.user_id.in_(
                select(User.id).where(User.company_id.in_(companies))))
        _end(session, or_(*clauses))
    for user_id, own in keep.items():
        _end(session, UserSession.user_id == user_id, UserSession.id != own)


def _row(obj, keys) -> bool:
    """A user or company changed takes the flush, not lib/rowwrite.py (_collect ends the
    sessions it concerns)."""
    return keys is None or not isinstance(obj, (User, Company))


def install() -> None:
    if not event.contains(Session, "before_flush", _collect):
        event.listen(Session, "before_flush", _collect)
    rowwrite.check_rows_with(_row, _collect)


# -- what Minha conta shows ------------------------------------------------------------------

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def describe(user_agent: str | None) -> str:
    """A short name for the device of a session ("Firefox em Windows")."""

    text = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in text), None)
    system = next((name for key, name in _SYSTEMS if key in text), None)
    if browser and system:
        return _("%(browser)s em %(system)s", browser=browser, system=system)
    return browser or system or _("Navegador desconhecido")
