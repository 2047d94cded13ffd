"""SCL-5: per-request work the inbox no longer pays, and the rules it keeps meanwhile.

The busiest GETs run without a transaction (lib/readonly.py), an unchanged session
cookie is re-issued at most once a minute (lib/session_cookie.py) and the login's user,
company and group are built from one Core row (lib/rowload.py). None may weaken anything:
a read-only view cannot write, a POST can never be read-only, the session's expiry still
slides with use and still ends it, the login's objects are those a query would load."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import itsdangerous.timed
import pytest
from flask_login import current_user
from sqlalchemy import inspect, select

from backoffice.extensions import db
from backoffice.lib import readonly, rowload, session_cookie
from backoffice.models import User
from backoffice.services import sessions
from tests.conftest import client_as, sql_statements

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


def _opened(app, value: str):
    """The session the app opens for a request carrying this session cookie."""
    from flask import request
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={value}"}):
        return app.session_interface.open_session(app, request)


def test_SCL_5_a_cookie_read_before_is_checked_again_on_every_request(app, webchat_world,
                                                                      monkeypatch):
    """lib/session_cookie keeps the cookie strings it verified. A kept cookie with one
    character changed is no session; a kept cookie past its lifetime, or signed in the
    future, is no session; a new secret key without the old one as a fallback refuses it,
    with the fallback accepts it; and each request gets its own copy of what is kept, so
    a message one request flashes is not in the next request's session."""
    agent = client_as(app, AGENT)
    assert agent.get(LIST).status_code == 200            # read, and kept
    cookie = agent.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    user_id = _opened(app, cookie)["_user_id"]
    assert user_id

    # one character of the signature changed: not the last one, whose low bits are
    # base64's padding (A, B, C and D there decode to the same signature)
    changed = "A" if cookie[-2] != "A" else "B"
    assert dict(_opened(app, cookie[:-2] + changed + cookie[-1])) == {}
    assert _opened(app, cookie)["_user_id"] == user_id

    flashed = app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": user_id, "_flashes": [("success", "Salvo.")]})
    one = _opened(app, flashed)
    one["_flashes"].append(("info", "Outra mensagem"))  # as flask.flash does, in place
    assert _opened(app, flashed)["_flashes"] == [("success", "Salvo.")]

    lifetime = app.permanent_session_lifetime.total_seconds()
    real = itsdangerous.timed.time.time

    class Clock:
        shift = lifetime + 5

        @classmethod
        def time(cls):
            return real() + cls.shift

    monkeypatch.setattr(itsdangerous.timed, "time", Clock)
    assert dict(_opened(app, cookie)) == {}              # expired, though kept
    Clock.shift = -120
    assert dict(_opened(app, cookie)) == {}              # signed "in the future"
    Clock.shift = 0
    assert _opened(app, cookie)["_user_id"] == user_id

    old = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a-new-secret-key-for-this-test"
    assert dict(_opened(app, cookie)) == {}
    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert _opened(app, cookie)["_user_id"] == user_id


def _columns(obj) -> dict:
    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}


def test_SCL_5_the_login_builds_the_user_as_a_query_would(app, webchat_world):
    """sessions.find builds the user, company and group from one Core row (lib/rowload.py)
    instead of the ORM's loading: the objects hold the same values as a query's, are
    persistent and unmodified, load their other relationships lazily, flush a change like
    any loaded object, and one already in the session is the one returned."""
    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.email == AGENT))
        token = sessions.open_session(user)
        expected = {"user": _columns(user), "company": _columns(user.company),
                    "group": _columns(user.group)}
        db.session.remove()

        with sql_statements(app) as statements:
            found, session_id = sessions.find(expected["user"]["id"], token)
            assert {"user": _columns(found), "company": _columns(found.company),
                    "group": _columns(found.group)} == expected
        assert len(statements) == 1  # the company and the group came with the user
        assert session_id is not None
        for obj in (found, found.company, found.group):
            state = inspect(obj)
            assert state.persistent and not state.modified
        assert not db.session.dirty and not db.session.new
        assert found in found.group.users  # not given: loaded lazily, as after a query

        # the session keeps one object per row
        assert sessions.find(found.id, token)[0] is found

        found.name = "Nome trocado"
        db.session.commit()
        db.session.remove()
        uid = expected["user"]["id"]
        assert db.session.scalar(select(User.name).where(User.id == uid)) == "Nome trocado"
        assert sessions.find(uid, "outro-token") is None


def test_SCL_5_the_login_of_a_user_without_company_or_group(app, webchat_world):
    """The SaaS operator has no company and no group: both come back as None (the outer
    joins found nothing) and the user is still the query's."""
    with app.test_request_context():
        root = User(name="Operador", email="operador@example.com", is_superuser=True)
        root.set_password("senha-segura-1")
        db.session.add(root)
        db.session.commit()
        token = sessions.open_session(root)
        expected = _columns(root)
        db.session.remove()
        found, _session_id = sessions.find(expected["id"], token)
        assert _columns(found) == expected
        assert found.company is None and found.group is None and found.is_active


def test_SCL_5_row_loading_refuses_models_it_cannot_build():
    """A model with a column_property would lose it when built from its table's columns."""
    from sqlalchemy import Column, Integer, String, func
    from sqlalchemy.orm import DeclarativeBase, column_property

    class Base(DeclarativeBase):
        pass

    class Thing(Base):
        __tablename__ = "thing"
        id = Column(Integer, primary_key=True)
        name = Column(String(10))
        shout = column_property(func.upper(name))

    class Plain(Base):
        __tablename__ = "plain"
        id = Column(Integer, primary_key=True)
        name = Column(String(10))

    assert rowload.Entity(Plain).keys == ["id", "name"]

    with pytest.raises(TypeError):
        rowload.Entity(Thing)


def test_SCL_5_list_labels_follow_each_users_language(app, webchat_world):
    """The list's labels are translated once per language and process (serialize.Labels),
    never once for everybody: the same page shows Portuguese to one user, English to the
    next, and Portuguese again once the language is set back."""
    from backoffice.i18n import compile_catalogues
    from backoffice.models import Connection, Department
    from tests.factories.inbox import gen_ticket

    compile_catalogues()
    with app.app_context():
        gen_ticket(db.session.get(Connection, webchat_world.connection_id),
                   department=db.session.get(Department, webchat_world.departments["support"]))
        db.session.commit()
    agent = client_as(app, AGENT)

    def labels():
        row = agent.get(LIST).get_json()["tickets"][0]
        return row["status_label"], row["connection"]["kind_label"]

    def set_language(language):
        with app.app_context():
            db.session.scalar(select(User).where(User.email == AGENT)).language = language
            db.session.commit()

    assert labels() == ("Sem atendente", "Webchat (site)")
    set_language("en")
    english = labels()
    assert english[0] == "Unassigned" and english[1] != "Webchat (site)"
    set_language("pt_BR")
    assert labels() == ("Sem atendente", "Webchat (site)")
