"""SEC-4: logout, password change, deactivation, group change and company disable end the
sessions concerned and their open sockets at once; SEC-1: a password set by someone else
must be replaced at the next login."""
from __future__ import annotations

import pytest
import socketio as python_socketio
from sqlalchemy import delete, select

from backoffice.extensions import db, socketio
from backoffice.models import SessionSocket, User, UserSession
from backoffice.realtime import company_room, emit_to_company
from tests.conftest import login
from tests.factories import PASSWORD, gen_group

AGENT = "agente-a@example.com"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"


def device(app, email, user_agent=None):
    client = app.test_client()
    if user_agent:
        client.environ_base["HTTP_USER_AGENT"] = user_agent
    assert login(client, email).status_code == 302
    return client


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


def room_members(cid) -> list[str]:
    return [sid for sid, _eio in socketio.server.manager.get_participants("/", company_room(cid))]


def test_SEC_4_a_logged_out_cookie_is_dead_and_the_other_device_stays(app, tenants):
    """The cookie copied before logout opens nothing afterwards (page or socket); the same
    user's session on another device is untouched."""
    laptop, phone = device(app, AGENT), device(app, AGENT)
    stolen = laptop.get_cookie("session").value
    assert laptop.submit("/logout").status_code == 302

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    page = replay.get("/admin/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    assert not socketio.test_client(app, flask_test_client=replay).is_connected()
    assert logged_in(phone)


def _writer(change):
    """A plain ORM commit, as Flask-Admin, the CLI or a job makes: nobody calls the
    session service, the change alone must end the sessions."""
    def act(app, tenants, sc):
        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == AGENT))
            change(user, tenants)
            db.session.rollback()  # a rolled-back change ends nothing
            assert sc.is_connected()
            user = db.session.scalar(select(User).where(User.email == AGENT))
            change(user, tenants)
            db.session.commit()
    return act


def _regroup(user, tenants):
    user.group = gen_group(user.company, "Outro grupo", ["company.view"])


ENDINGS = {
    "logout": lambda app, tenants, sc: sc.http.submit("/logout"),
    "sair de todos os dispositivos": lambda app, tenants, sc: sc.http.submit("/admin/account/logout-all"),
    "deactivation": _writer(lambda user, _t: setattr(user, "active", False)),
    "group change": _writer(_regroup),
    "password set by an admin": _writer(lambda user, _t: user.set_password("provisoria-123")),
    "e-mail change": _writer(lambda user, _t: setattr(user, "email", "novo-email@example.com")),
    "company disabled": _writer(lambda user, _t: setattr(user.company, "active", False)),
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_SEC_4_ending_a_session_disconnects_its_socket_at_once(app, tenants, socket_for, ending):
    """The open socket is disconnected by the server and left out of every room: the
    next company event reaches no one of that session, and its cookie is dead."""
    cid = tenants["a"].company_id
    sc = socket_for(AGENT, drain=True)
    with app.app_context():
        emit_to_company(cid, "ping", {})
    assert [e["name"] for e in sc.get_received()] == ["ping"]
    watcher = socket_for(tenants["b"].admin_email, drain=True)  # another company's

    ENDINGS[ending](app, tenants, sc)

    assert not sc.is_connected()
    assert room_members(cid) == []  # no further company event is sent to it
    with app.app_context():
        emit_to_company(tenants["b"].company_id, "ping", {})
    assert "ping" in [e["name"] for e in watcher.get_received()]  # other sessions live on
    page = sc.http.get("/admin/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_SEC_4_socket_of_a_session_ended_elsewhere_is_closed_on_its_next_event(app, tenants, socket_for):
    """A session ended where this process's sockets cannot be reached (another process
    without a message queue): the socket's next event is refused and the socket closed."""
    sc = socket_for(AGENT, drain=True)
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.email == AGENT))
        db.session.execute(delete(UserSession).where(UserSession.user_id == user_id))
        db.session.commit()
    assert sc.emit("ticket.leave", {"id": 1}, callback=True) == {"ok": False}
    assert not sc.is_connected()


class _RecordingQueue(python_socketio.PubSubManager):
    """The message-queue manager of a multi-process install, with the queue recorded."""

    def __init__(self):
        super().__init__()
        self.published = []

    def initialize(self):  # no listener thread: nothing to receive here
        pass

    def _publish(self, data):
        self.published.append(data)


def test_SEC_4_sockets_held_by_another_process_are_ended_through_the_queue(app, tenants, monkeypatch):
    """A socket of the session lives in another web process: ending the session publishes
    its disconnect on the message queue, which every process listens to."""
    phone = device(app, AGENT)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == AGENT))
        session_id = db.session.scalar(select(UserSession.id).where(UserSession.user_id == user.id))
        db.session.add(SessionSocket(session_id=session_id, sid="sid-em-outro-processo"))
        db.session.commit()
    queue = _RecordingQueue()
    queue.set_server(socketio.server)
    monkeypatch.setattr(socketio.server, "manager", queue)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == AGENT))
        user.active = False
        db.session.commit()
    assert {"method": "disconnect", "sid": "sid-em-outro-processo", "namespace": "/"} in [
        {k: m[k] for k in ("method", "sid", "namespace")} for m in queue.published]
    assert not logged_in(phone)


def test_SEC_4_own_password_change_ends_the_other_devices_only(app, tenants):
    """Changing one's own password on Minha conta keeps this session and ends the rest."""
    email = tenants["a"].admin_email
    here, there = device(app, email), device(app, email)
    resp = here.submit("/admin/account/", {"language": "", "current_password": PASSWORD,
                                           "new_password": "outra-senha-forte-1"})
    assert resp.status_code == 302
    assert logged_in(here)
    assert not logged_in(there)


def test_SEC_4_minha_conta_lists_the_open_sessions_and_ends_one(app, tenants):
    """Minha conta lists the user's open sessions (device, this one marked); one can be
    ended; forged ids end nothing and never answer 500."""
    email = tenants["a"].admin_email
    laptop, phone = device(app, email, FIREFOX), device(app, email, CHROME)
    other_user = device(app, tenants["b"].admin_email)
    page = laptop.get("/admin/account/")
    assert page.status_code == 200
    assert "Firefox" in page.text and "Chrome" in page.text and "Esta sessão" in page.text
    with app.app_context():
        ids = dict(db.session.execute(select(UserSession.user_agent, UserSession.id)).all())
        foreign = db.session.scalar(select(UserSession.id).join(User).where(
            User.email == tenants["b"].admin_email))
    assert laptop.post("/admin/account/sessions/end", data={"id": ids[CHROME]}).status_code == 400  # no CSRF
    for forged in (str(foreign), "abc", str(2 ** 63), ""):
        assert laptop.submit("/admin/account/sessions/end", {"id": forged}).status_code == 302
    assert logged_in(other_user) and logged_in(phone)
    assert laptop.submit("/admin/account/sessions/end", {"id": ids[CHROME]}).status_code == 302
    assert not logged_in(phone) and logged_in(laptop)
    assert laptop.post("/admin/account/logout-all").status_code == 400  # no CSRF
    assert logged_in(laptop)


def test_SEC_1_a_password_set_by_someone_else_must_be_replaced_at_next_login(app, tenants):
    """After an admin set a temporary password, the user gets only the password form:
    pages redirect to it, the JSON API answers 403, sockets are refused, until a new
    password is set (the temporary one is asked for)."""
    email = tenants["a"].admin_email
    with app.app_context():
        user = db.session.get(User, tenants["a"].admin_id)
        user.set_password("provisoria-123")
        user.must_change_password = True
        db.session.commit()
    client = app.test_client()
    assert login(client, email, "provisoria-123").status_code == 302
    for url in ("/admin/", "/admin/users/", "/inbox/"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/account/"), url
    api = client.get("/inbox/api/meta")
    assert api.status_code == 403 and "nova senha" in api.get_json()["error"]
    assert not socketio.test_client(app, flask_test_client=client).is_connected()
    page = client.get("/admin/account/")
    assert page.status_code == 200 and "Defina uma nova senha" in page.text

    # the language alone, or a wrong temporary password, does not lift it
    client.submit("/admin/account/", {"language": "", "current_password": "", "new_password": ""})
    client.submit("/admin/account/", {"language": "", "current_password": "errada-000",
                                      "new_password": "nova-senha-forte-1"})
    assert client.get("/admin/").status_code == 302
    resp = client.submit("/admin/account/", {"language": "", "current_password": "provisoria-123",
                                             "new_password": "nova-senha-forte-1"})
    assert resp.status_code == 302
    assert logged_in(client)
    with app.app_context():
        user = db.session.get(User, tenants["a"].admin_id)
        assert user.must_change_password is False and user.check_password("nova-senha-forte-1")
