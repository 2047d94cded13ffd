"""SCL-5: per-request work the inbox no longer pays, and the rules it keeps meanwhile.

The busiest GETs run without a transaction (lib/readonly.py) and an unchanged session
cookie is re-issued at most once a minute (lib/session_cookie.py). Neither may weaken
anything: a read-only view cannot write, a POST can never be read-only, the session's
expiry still slides with use and still ends it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import itsdangerous.timed
from flask_login import current_user
from sqlalchemy import select

from backoffice.extensions import db
from backoffice.lib import readonly, session_cookie
from backoffice.models import User
from tests.conftest import client_as

AGENT = "suporte@example.com"  # webchat_world: a Suporte agent with inbox.view
LIST = "/inbox/api/tickets"


def test_SCL_5_only_get_views_may_be_marked_read_only(app):
    """Every route whose view is marked read-only answers GET (and HEAD) only: a mark put
    on a view that changes state would commit its writes one statement at a time."""
    marked = [rule for rule in app.url_map.iter_rules()
              if getattr(app.view_functions[rule.endpoint], readonly.MARK, False)]
    assert {r.endpoint for r in marked} >= {"inbox.ticket_list", "inbox.ticket_detail",
                                            "inbox.ticket_messages", "inbox.unread_counts"}
    for rule in marked:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule


def test_SCL_5_a_read_only_view_reads_outside_a_transaction_and_cannot_write(
        app, webchat_world):
    """The marked view's session is in autocommit mode from its first statement (the
    login's); a write from it is refused whole and nothing reaches the database."""
    seen = {}

    @app.get("/_scl5/reads")
    @readonly.read_only
    def reads():
        seen["mode"] = db.session.connection().get_execution_options().get("isolation_level")
        seen["user"] = current_user.email
        return "ok"

    @app.get("/_scl5/writes")
    @readonly.read_only
    def writes():
        current_user.name = "Escrito num GET"
        db.session.commit()
        return "written"

    @app.get("/_scl5/unmarked")
    def unmarked():
        seen["unmarked"] = db.session.connection().get_execution_options().get(
            "isolation_level")
        return "ok"

    agent = client_as(app, AGENT)
    assert agent.get("/_scl5/reads").status_code == 200
    assert seen == {"mode": "AUTOCOMMIT", "user": AGENT}
    assert agent.get("/_scl5/unmarked").status_code == 200
    assert seen["unmarked"] is None  # the default: a transaction per request

    assert agent.get("/_scl5/writes").status_code == 500
    with app.app_context():
        name = db.session.scalar(select(User.name).where(User.email == AGENT))
    assert name != "Escrito num GET"
    # the inbox list itself still answers, read-only, with the agent's tickets
    listed = agent.get(LIST)
    assert listed.status_code == 200 and "tickets" in listed.get_json()


def test_SCL_5_an_unchanged_session_cookie_is_sent_again_once_a_minute(app, webchat_world,
                                                                        monkeypatch):
    """Right after the login the list sends no new cookie; once the cookie is older than
    a minute the next request re-issues it with an expiry a full lifetime away (the
    sliding expiry of before); a cookie older than the lifetime is anonymous."""
    agent = client_as(app, AGENT)
    assert "Set-Cookie" not in agent.get(LIST).headers

    monkeypatch.setattr(session_cookie, "REFRESH_AFTER", 0)
    refreshed = agent.get(LIST)
    assert refreshed.status_code == 200
    cookie = refreshed.headers["Set-Cookie"]
    expires = datetime.strptime(cookie.split("Expires=")[1].split(";")[0],
                                "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
    lifetime = app.permanent_session_lifetime
    assert abs(expires - (datetime.now(timezone.utc) + lifetime)) < timedelta(seconds=5)

    real = itsdangerous.timed.time.time

    class Later:
        @staticmethod
        def time():
            return real() + lifetime.total_seconds() + 5

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    assert agent.get(LIST).status_code == 401
