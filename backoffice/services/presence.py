"""Agents at work (PAU-3, PAU-4): connected, available or in a pause, and for how long.

- Presence: every socket connection opens a PresenceSession (one per browser tab) and its
  disconnect closes it. An agent is online while at least one session is open.
- Pauses: started from the pauses offered right now (services.pauses.available_pauses)
  and running until the agent ends them, even after the pause's window has closed (the
  manual: a pause never ends by itself).
- Status: "paused" while a pause runs (connected or not), else, with an open session,
  "online" (Disponível) or "away" (Ausente) by the agent's own switch (User.available,
  UX-3), else "offline". A pause wins over the switch. Supervisors get each change as the
  socket event `agent.status`, sent after the commit. Nothing hands tickets out by
  presence (agents accept them from the queue), so the switch tells managers, it does
  not route.
- Minutes per status, on the company's wall clock: "paused" is the time in pauses;
  "online" is the time connected (the union of the sessions, so two tabs count once)
  outside pauses, Ausente included (the switch keeps no history). Sessions are clipped
  at the day / month boundaries, and the ones still open count until now.

A server that stops without its sockets disconnecting leaves sessions open. A session
open for more than STALE_AFTER is closed at the user's next connect, where the user's
next session began (the browser reconnects at once) when that was within STALE_AFTER, or
else at its own start (it counts nothing).

Times are stored as naive UTC, like everywhere else in the app.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from .. import events
from ..extensions import db
from ..models import Company, Pause, PauseSession, PresenceSession, User
from ..models.base import utcnow
from . import RuleError, as_id
from ..lib import after_commit
from .hours import local_time
from .pauses import available_pauses
from .visibility import agents_of

STALE_AFTER = timedelta(hours=12)

PAUSED, ONLINE, AWAY, OFFLINE = "paused", "online", "away", "offline"
STATUS_LABELS = {
    PAUSED: _l("Em pausa"),
    ONLINE: _l("Disponível"),
    AWAY: _l("Ausente"),
    OFFLINE: _l("Offline"),
}
SCOPES = ("today", "month")
EVENT = "agent.status"


# -- helpers ------------------------------------------------------------------------------

def _naive_utc(at: datetime | None) -> datetime:
    if at is None:
        return utcnow()
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc)


def _iso(at: datetime | None) -> str | None:
    return _aware(at).isoformat() if at is not None else None


def tracked(user) -> bool:
    """Presence and pauses are for company users; the SaaS operator has neither."""
    return bool(user is not None and not user.is_superuser and user.company_id is not None)


def _lock_user(user_id: int) -> None:
    """Serialise status changes of one user (two tabs starting a pause at once)."""
    db.session.execute(select(User.id).where(User.id == user_id).with_for_update())


def running_pause(user_id: int) -> PauseSession | None:
    return db.session.scalar(
        select(PauseSession).where(PauseSession.user_id == user_id,
                                   PauseSession.ended_at.is_(None))
        .order_by(PauseSession.started_at.desc(), PauseSession.id.desc()).limit(1))


# -- status -------------------------------------------------------------------------------

def _status_dict(status: str, pause: str | None, since: datetime | None) -> dict:
    return {"status": status, "label": str(STATUS_LABELS[status]), "pause": pause,
            "since": _iso(since)}


def _statuses(user_ids: Iterable[int]) -> dict[int, dict]:
    """The status of each user, in five queries whatever the number of users."""
    ids = list(user_ids)
    if not ids:
        return {}
    running: dict[int, tuple[datetime, str]] = {}
    for uid, started, name in db.session.execute(
            select(PauseSession.user_id, PauseSession.started_at, Pause.name)
            .join(Pause, Pause.id == PauseSession.pause_id)
            .where(PauseSession.user_id.in_(ids), PauseSession.ended_at.is_(None))
            .order_by(PauseSession.started_at, PauseSession.id)):
        running[uid] = (started, name)  # the latest wins (there should be one)
    online_since = dict(db.session.execute(
        select(PresenceSession.user_id, func.min(PresenceSession.started_at))
        .where(PresenceSession.user_id.in_(ids), PresenceSession.ended_at.is_(None))
        .group_by(PresenceSession.user_id)).all())
    pause_ended = dict(db.session.execute(
        select(PauseSession.user_id, func.max(PauseSession.ended_at))
        .where(PauseSession.user_id.in_(ids), PauseSession.ended_at.is_not(None))
        .group_by(PauseSession.user_id)).all())
    last_seen = dict(db.session.execute(
        select(PresenceSession.user_id, func.max(PresenceSession.ended_at))
        .where(PresenceSession.user_id.in_(ids), PresenceSession.ended_at.is_not(None))
        .group_by(PresenceSession.user_id)).all())
    absent = set(db.session.scalars(
        select(User.id).where(User.id.in_(ids), User.available.is_(False))))
    result = {}
    for uid in ids:
        if uid in running:
            started, name = running[uid]
            result[uid] = _status_dict(PAUSED, name, started)
        elif uid in online_since and uid in absent:
            # the switch keeps no time of its own: "since" would claim too much
            result[uid] = _status_dict(AWAY, None, None)
        elif uid in online_since:
            since = online_since[uid]
            ended = pause_ended.get(uid)
            result[uid] = _status_dict(ONLINE, None, max(since, ended) if ended else since)
        else:
            result[uid] = _status_dict(OFFLINE, None, last_seen.get(uid))
    return result


def current_status(user) -> dict:
    """{status: paused|online|away|offline, label, pause (name or None), since (UTC ISO)}."""
    if not tracked(user):
        return _status_dict(OFFLINE, None, None)
    return _statuses([user.id])[user.id]


def agent_payload(user, status: dict | None = None) -> dict:
    """What the `agent.status` event and the team list carry for one agent."""
    return {"user_id": user.id, "name": user.name, **(status or current_status(user))}


def is_agent(user) -> bool:
    """A company user who works in the inbox (inbox.view)."""
    return tracked(user) and user.active and user.can("inbox", "view")


def team_status(company_id: int) -> list[dict]:
    """Active users of the company whose group works in the inbox (inbox.view), with
    their current status, by name."""
    users = agents_of(company_id)
    users.sort(key=lambda u: ((u.name or "").casefold(), u.id))
    statuses = _statuses(u.id for u in users)
    return [agent_payload(u, statuses[u.id]) for u in users]


def _announce(user) -> None:
    """The user's status changed: supervisors hear of it after the commit."""
    events.emit(EVENT, user=user)


def _changed(before: dict, user) -> bool:
    after = current_status(user)
    return (before["status"], before["pause"]) != (after["status"], after["pause"])


# -- presence -----------------------------------------------------------------------------

def _close_stale(user_id: int, now: datetime) -> int:
    """Close the user's sessions open for more than STALE_AFTER: their socket died with
    a server that stopped, so the disconnect never came. The browser reconnects to the
    new server at once, so a stale session ends where the user's next session began, if
    that was within STALE_AFTER; otherwise nothing is known and it counts nothing (it
    ends at its own start)."""
    stale = list(db.session.scalars(
        select(PresenceSession).where(PresenceSession.user_id == user_id,
                                      PresenceSession.ended_at.is_(None),
                                      PresenceSession.started_at < now - STALE_AFTER)))
    for session in stale:
        next_start = db.session.scalar(
            select(func.min(PresenceSession.started_at))
            .where(PresenceSession.user_id == user_id, PresenceSession.id != session.id,
                   PresenceSession.started_at > session.started_at))
        reconnected = next_start is not None and next_start - session.started_at <= STALE_AFTER
        session.ended_at = min(next_start, now) if reconnected else session.started_at
    return len(stale)


def connected(user, sid: str | None, now: datetime | None = None) -> None:
    """A socket of `user` connected: open a presence session for it (and close the
    user's stale ones). Commits."""
    if not tracked(user):
        return
    now = _naive_utc(now)
    before = current_status(user)
    _close_stale(user.id, now)
    db.session.add(PresenceSession(company_id=user.company_id, user_id=user.id,
                                   sid=(sid or "")[:64] or None, started_at=now))
    db.session.flush()
    if _changed(before, user):
        _announce(user)
    after_commit.commit()


def disconnected(user, sid: str | None, now: datetime | None = None) -> None:
    """The socket `sid` of `user` went away: close its session. Commits."""
    if not tracked(user) or not sid:
        return
    now = _naive_utc(now)
    sessions = list(db.session.scalars(
        select(PresenceSession).where(PresenceSession.user_id == user.id,
                                      PresenceSession.sid == sid[:64],
                                      PresenceSession.ended_at.is_(None))))
    if not sessions:
        return
    before = current_status(user)
    for session in sessions:
        session.ended_at = max(now, session.started_at)
    db.session.flush()
    if _changed(before, user):
        _announce(user)
    after_commit.commit()


# -- pauses -------------------------------------------------------------------------------

def start_pause(user, pause_id, now: datetime | None = None) -> dict:
    """Start one of the pauses available to the user now. The caller commits (with
    after_commit.commit(), which then announces the change). Returns the new status."""
    not_available = _("Esta pausa não está disponível agora.")
    if not tracked(user):
        raise RuleError(not_available)
    now = _naive_utc(now)
    _lock_user(user.id)
    if running_pause(user.id) is not None:
        raise RuleError(_("Você já está em pausa."))
    wanted = as_id(pause_id)
    pause = next((p for p in available_pauses(user, _aware(now)) if p.id == wanted), None)
    if wanted is None or pause is None:
        raise RuleError(not_available)
    db.session.add(PauseSession(company_id=user.company_id, user_id=user.id, pause_id=pause.id,
                                started_at=now))
    db.session.flush()
    _announce(user)
    return current_status(user)


def end_pause(user, now: datetime | None = None) -> dict:
    """End the user's running pause. The caller commits. Returns the new status."""
    if not tracked(user):
        raise RuleError(_("Você não está em pausa."))
    now = _naive_utc(now)
    _lock_user(user.id)
    session = running_pause(user.id)
    if session is None:
        raise RuleError(_("Você não está em pausa."))
    session.ended_at = max(now, session.started_at)
    db.session.flush()
    _announce(user)
    return current_status(user)


# -- availability (UX-3) -----------------------------------------------------------------

def set_available(user, available: bool) -> dict:
    """The agent's own switch, Disponível (True) or Ausente (False). The caller commits
    (with after_commit.commit(), which then announces a change). Returns the new status."""
    if not tracked(user):
        raise RuleError(_("Somente atendentes de uma empresa têm disponibilidade."))
    _lock_user(user.id)
    before = current_status(user)
    user.available = bool(available)
    db.session.flush()
    if _changed(before, user):
        _announce(user)
    return current_status(user)


# -- minutes per status -------------------------------------------------------------------

def _bounds(company: Company | None, scope: str, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the company's local day or month containing `now`, naive UTC."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope: {scope!r}")
    local = local_time(now, company.timezone if company else None)
    zone = local.tzinfo
    if scope == "today":
        start = datetime(local.year, local.month, local.day, tzinfo=zone)
        nxt = (start + timedelta(days=1)).date()
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)
    else:
        start = datetime(local.year, local.month, 1, tzinfo=zone)
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end = datetime(year, month, 1, tzinfo=zone)
    return _naive_utc(start), _naive_utc(end)


def _intervals(model, user_id: int, start: datetime, upper: datetime):
    rows = db.session.execute(
        select(model.started_at, model.ended_at)
        .where(model.user_id == user_id, model.started_at < upper,
               or_(model.ended_at.is_(None), model.ended_at > start)))
    for began, ended in rows:
        lo, hi = max(began, start), min(ended or upper, upper)
        if hi > lo:
            yield lo, hi


def _union(intervals) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [(lo, hi) for lo, hi in merged]


def _seconds(intervals) -> float:
    return sum((hi - lo).total_seconds() for lo, hi in intervals)


def _overlap(a, b) -> float:
    """Seconds shared by two sorted lists of disjoint intervals."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += (hi - lo).total_seconds()
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def minutes_by_status(user, scope: str = "today", now: datetime | None = None) -> dict:
    """{"online": minutes, "paused": minutes} in the company's local day ("today") or
    month ("month") containing `now` (default: now). Whole minutes, rounded down."""
    if not tracked(user):
        if scope not in SCOPES:
            raise ValueError(f"unknown scope: {scope!r}")
        return {ONLINE: 0, PAUSED: 0}
    now = _naive_utc(now)
    company = db.session.get(Company, user.company_id)
    start, end = _bounds(company, scope, now)
    upper = min(end, now)
    if upper <= start:
        return {ONLINE: 0, PAUSED: 0}
    connected_spans = _union(_intervals(PresenceSession, user.id, start, upper))
    paused_spans = _union(_intervals(PauseSession, user.id, start, upper))
    online = _seconds(connected_spans) - _overlap(connected_spans, paused_spans)
    return {ONLINE: int(online // 60), PAUSED: int(_seconds(paused_spans) // 60)}
