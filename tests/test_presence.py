"""PAU-3 (Iniciar / Encerrar Pausa) and PAU-4 (agent status and minutes per status):
the service rules, the JSON endpoints behind the navbar, the navbar itself, the home
cards and the `agent.status` socket event for supervisors."""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

import backoffice.realtime  # noqa: F401  (socket handlers registered before any app exists)
from backoffice.extensions import db
from backoffice.models import (
    Company, DepartmentMember, PauseSession, PresenceSession, User,
)
from backoffice.services import RuleError, presence
from backoffice.lib import after_commit
from tests.conftest import client_as, post
from tests.factories import gen_department, gen_group, gen_pause, gen_user

# 2026-11-23 is a Monday; São Paulo is UTC-3 all year (no DST since 2019).
# 15:00 UTC is 12:00 in São Paulo.
NOON_SP = datetime(2026, 11, 23, 15, 0)
ALL_DAY = ((range(7), "00:00", "12:00"), (range(7), "12:00", "00:00"))  # no gap at 23:59


def utc(day, hour, minute=0, month=11, year=2026):
    return datetime(year, month, day, hour, minute)


@pytest.fixture
def team(app, tenants):
    """Company A's inbox team: agents Bruno and Carla in Suporte, supervisor Diego; pauses
    Almoço (always open), Treinamento (never open now) and Banheiro (inactive)."""
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        agents = gen_group(company, "Atendentes", ["inbox.view"])
        supervisors = gen_group(company, "Supervisores", ["inbox.view", "inbox.supervise"])
        bruno = gen_user(company, "bruno@example.com", agents, name="Bruno Lima")
        carla = gen_user(company, "carla@example.com", agents, name="Carla Mendes")
        diego = gen_user(company, "diego@example.com", supervisors, name="Diego Rocha")
        gen_user(company, "inativo@example.com", agents, name="Aline Inativa", active=False)
        dept = gen_department(company, "Suporte", members=[(bruno, True, False),
                                                           (carla, True, False),
                                                           (diego, True, True)])
        other = gen_department(company, "Vendas")
        db.session.flush()
        almoco = gen_pause(company, "Almoço", [dept], windows=ALL_DAY)
        gen_pause(company, "Café", [other], windows=ALL_DAY)  # not Bruno's department
        treino = gen_pause(company, "Treinamento", [dept],
                           windows=(([0, 1, 2, 3, 4, 5, 6], "03:00", "03:01"),))
        inactive = gen_pause(company, "Banheiro", [dept], windows=ALL_DAY, active=False)
        db.session.commit()
        return {"company_id": company.id, "bruno": bruno.id, "carla": carla.id,
                "diego": diego.id, "almoco": almoco.id, "treino": treino.id,
                "inactive": inactive.id, "dept": dept.id}


def _user(user_id) -> User:
    return db.session.get(User, user_id)


def _presence(user_id, start, end=None, sid=None):
    user = _user(user_id)
    row = PresenceSession(company_id=user.company_id, user_id=user.id, started_at=start,
                          ended_at=end, sid=sid)
    db.session.add(row)
    return row


def _pause(user_id, pause_id, start, end=None):
    user = _user(user_id)
    row = PauseSession(company_id=user.company_id, user_id=user.id, pause_id=pause_id,
                       started_at=start, ended_at=end)
    db.session.add(row)
    return row


# -- PAU-3: start and end a pause ---------------------------------------------------------

def test_PAU_3_agent_starts_and_ends_an_available_pause(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        status = presence.start_pause(bruno, team["almoco"], now=NOON_SP)
        after_commit.commit()
        assert status == {"status": "paused", "label": "Em pausa", "pause": "Almoço",
                          "since": "2026-11-23T15:00:00+00:00"}
        with pytest.raises(RuleError, match="Você já está em pausa."):
            presence.start_pause(bruno, team["almoco"], now=NOON_SP)
        status = presence.end_pause(bruno, now=NOON_SP + timedelta(minutes=40))
        after_commit.commit()
        assert status["status"] == "offline" and status["pause"] is None
        with pytest.raises(RuleError, match="Você não está em pausa."):
            presence.end_pause(bruno, now=NOON_SP + timedelta(minutes=41))
        (row,) = db.session.scalars(select(PauseSession)).all()
        assert (row.started_at, row.ended_at) == (NOON_SP, NOON_SP + timedelta(minutes=40))
        assert row.company_id == team["company_id"]


@pytest.mark.parametrize("which", ["treino", "inactive", "other_company", "missing",
                                   "text", "none", "bool", "list"])
def test_PAU_3_only_pauses_available_now_can_be_started(app, tenants, team, which):
    with app.app_context():
        ids = {
            "treino": team["treino"],       # its window is closed at noon
            "inactive": team["inactive"],
            "other_company": tenants["b"].ids["pauses"],
            "missing": 999999,
            "text": "abc",
            "none": None,
            "bool": True,
            "list": [team["almoco"]],
        }
        with pytest.raises(RuleError, match="Esta pausa não está disponível agora."):
            presence.start_pause(_user(team["bruno"]), ids[which], now=NOON_SP)
        db.session.rollback()
        assert db.session.scalars(select(PauseSession)).all() == []


def test_PAU_3_pause_of_another_department_is_not_offered(app, team):
    with app.app_context():
        from backoffice.models import Pause

        cafe = db.session.scalar(select(Pause.id).where(Pause.name == "Café",
                                                       Pause.company_id == team["company_id"]))
        with pytest.raises(RuleError, match="Esta pausa não está disponível agora."):
            presence.start_pause(_user(team["bruno"]), cafe, now=NOON_SP)


def test_PAU_3_pause_runs_until_ended_even_after_its_window_closes(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        # Treinamento is open 03:00-03:01 local (06:00 UTC)
        presence.start_pause(bruno, team["treino"], now=utc(23, 6, 0))
        after_commit.commit()
        assert presence.current_status(bruno)["pause"] == "Treinamento"
        later = presence.minutes_by_status(bruno, "today", now=utc(23, 8, 0))
        assert later == {"online": 0, "paused": 120}
        assert presence.current_status(bruno)["status"] == "paused"


def test_PAU_3_superuser_has_no_pauses(app, team):
    with app.app_context():
        root = User(name="Root", email="root@example.com", is_superuser=True)
        root.set_password("senha-segura-1")
        db.session.add(root)
        db.session.commit()
        with pytest.raises(RuleError):
            presence.start_pause(root, team["almoco"])
        assert presence.current_status(root)["status"] == "offline"
        presence.connected(root, "sid-root")
        assert db.session.scalars(select(PresenceSession)).all() == []


# -- PAU-4: presence sessions ---------------------------------------------------------------

def test_PAU_4_tabs_open_and_close_sessions_online_while_one_is_open(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        assert presence.current_status(bruno)["status"] == "offline"
        presence.connected(bruno, "tab-1", now=utc(23, 12))
        presence.connected(bruno, "tab-2", now=utc(23, 13))
        assert presence.current_status(bruno) == {
            "status": "online", "label": "Disponível", "pause": None,
            "since": "2026-11-23T12:00:00+00:00"}
        presence.disconnected(bruno, "tab-1", now=utc(23, 14))
        assert presence.current_status(bruno)["status"] == "online"
        presence.disconnected(bruno, "tab-unknown", now=utc(23, 14))
        presence.disconnected(bruno, "tab-2", now=utc(23, 15))
        status = presence.current_status(bruno)
        assert status["status"] == "offline" and status["since"] == "2026-11-23T15:00:00+00:00"
        rows = db.session.scalars(select(PresenceSession).order_by(PresenceSession.id)).all()
        assert [(r.sid, r.started_at, r.ended_at) for r in rows] == [
            ("tab-1", utc(23, 12), utc(23, 14)), ("tab-2", utc(23, 13), utc(23, 15))]


def test_PAU_4_paused_takes_precedence_and_online_resumes_after_the_pause(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        presence.connected(bruno, "tab-1", now=utc(23, 12))
        presence.start_pause(bruno, team["almoco"], now=utc(23, 15))
        after_commit.commit()
        assert presence.current_status(bruno)["status"] == "paused"
        presence.end_pause(bruno, now=utc(23, 15, 30))
        after_commit.commit()
        assert presence.current_status(bruno) == {
            "status": "online", "label": "Disponível", "pause": None,
            "since": "2026-11-23T15:30:00+00:00"}


def test_PAU_4_stale_sessions_are_closed_on_the_next_connect(app, team):
    """A server restart leaves sessions open: more than 12 h old, they are closed at the
    user's next connect, where the reconnect after the restart began; with no session
    within 12 h after them, nothing is known and they count nothing."""
    with app.app_context():
        bruno, carla = _user(team["bruno"]), _user(team["carla"])
        _presence(bruno.id, utc(22, 11), sid="lost-in-restart")  # 08:00 in São Paulo
        _presence(bruno.id, utc(22, 17), utc(22, 21), sid="after-restart")
        _presence(carla.id, utc(22, 8), sid="lost")
        _presence(carla.id, utc(23, 7), sid="recent-open")  # 2 h old: not stale
        db.session.commit()
        presence.connected(bruno, "today", now=utc(23, 12))
        presence.connected(carla, "today", now=utc(23, 12))
        rows = {r.sid: r for r in db.session.scalars(select(PresenceSession))}
        assert rows["lost-in-restart"].ended_at == utc(22, 17)
        assert rows["lost"].ended_at == utc(22, 8)  # next session 23 h later: unknown
        assert rows["recent-open"].ended_at is None
        assert rows["today"].ended_at is None
        _presence(carla.id, utc(20, 8), sid="forgotten")
        db.session.commit()
        presence.connected(carla, "again", now=utc(23, 12, 5))
        forgotten = db.session.scalar(select(PresenceSession).where(
            PresenceSession.sid == "forgotten"))
        assert forgotten.ended_at == utc(20, 8)
        assert presence.minutes_by_status(bruno, "today", now=utc(22, 23)) == {
            "online": 10 * 60, "paused": 0}


# -- PAU-4: minutes per status ---------------------------------------------------------------

def test_PAU_4_minutes_are_clipped_at_the_company_local_day(app, team):
    """22/11 23:00 to 23/11 01:00 in São Paulo: 60 min today (23/11), 120 this month."""
    with app.app_context():
        bruno = _user(team["bruno"])
        _presence(bruno.id, utc(23, 2), utc(23, 4))
        db.session.commit()
        assert presence.minutes_by_status(bruno, "today", now=NOON_SP) == {
            "online": 60, "paused": 0}
        assert presence.minutes_by_status(bruno, "month", now=NOON_SP) == {
            "online": 120, "paused": 0}
        # the day before, seen from its own evening: the other 60 minutes
        assert presence.minutes_by_status(bruno, "today", now=utc(23, 2, 30)) == {
            "online": 30, "paused": 0}


def test_PAU_4_minutes_are_clipped_at_the_company_local_month(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        # 30/11 23:00 to 01/12 01:00 in São Paulo, paused in the last half hour of November
        _presence(bruno.id, utc(1, 2, month=12), utc(1, 4, month=12))
        _pause(bruno.id, team["almoco"], utc(1, 2, 30, month=12), utc(1, 3, 0, month=12))
        db.session.commit()
        december = utc(1, 15, month=12)
        assert presence.minutes_by_status(bruno, "month", now=december) == {
            "online": 60, "paused": 0}
        november = presence.minutes_by_status(bruno, "month", now=utc(30, 20))
        assert november == {"online": 0, "paused": 0}  # "now" is before the session
        assert presence.minutes_by_status(bruno, "month", now=utc(1, 2, 59, month=12)) == {
            "online": 30, "paused": 29}


def test_PAU_4_two_tabs_count_once_and_pauses_are_not_available_time(app, team):
    with app.app_context():
        bruno = _user(team["bruno"])
        _presence(bruno.id, utc(23, 12), utc(23, 14))        # tab 1
        _presence(bruno.id, utc(23, 13), utc(23, 15))        # tab 2, overlapping
        _presence(bruno.id, utc(23, 16))                     # still open
        _pause(bruno.id, team["almoco"], utc(23, 13, 30), utc(23, 14))
        _pause(bruno.id, team["almoco"], utc(23, 16, 45))    # still running
        db.session.commit()
        now = utc(23, 17)
        # connected 12-15 and 16-17 = 240 min; paused 30 + 15 = 45 min
        assert presence.minutes_by_status(bruno, "today", now=now) == {
            "online": 240 - 45, "paused": 45}
        assert presence.minutes_by_status(bruno, "month", now=now) == {
            "online": 195, "paused": 45}
        with pytest.raises(ValueError):
            presence.minutes_by_status(bruno, "year", now=now)


def test_PAU_4_minutes_follow_the_company_time_zone(app, team):
    with app.app_context():
        company = db.session.get(Company, team["company_id"])
        company.timezone = "Asia/Tokyo"  # UTC+9: the local day 24/11 starts 23/11 15:00 UTC
        bruno = _user(team["bruno"])
        _presence(bruno.id, utc(23, 14), utc(23, 16))
        db.session.commit()
        assert presence.minutes_by_status(bruno, "today", now=utc(23, 20)) == {
            "online": 60, "paused": 0}


# -- PAU-4: team status and the socket event ------------------------------------------------

def test_PAU_4_team_status_lists_inbox_agents_by_name(app, tenants, team):
    with app.app_context():
        presence.connected(_user(team["carla"]), "tab", now=utc(23, 14))
        presence.start_pause(_user(team["diego"]), team["almoco"], now=NOON_SP)
        after_commit.commit()
        listed = presence.team_status(team["company_id"])
        names = [a["name"] for a in listed]
        # admins hold every right (inbox.view included); the inactive user and the
        # fixture's "company.view" user are out, and so is company B
        assert names == sorted(names, key=str.casefold)
        assert "Aline Inativa" not in names and "Agente Exclusivo A" not in names
        assert all("Beta" not in n for n in names)
        by_name = {a["name"]: a for a in listed}
        assert by_name["Bruno Lima"]["status"] == "offline"
        assert by_name["Carla Mendes"] == {
            "user_id": team["carla"], "name": "Carla Mendes", "status": "online",
            "label": "Disponível", "pause": None, "since": "2026-11-23T14:00:00+00:00"}
        assert by_name["Diego Rocha"]["status"] == "paused"
        assert by_name["Diego Rocha"]["pause"] == "Almoço"


def _status_events(sc):
    return [e["args"][0] for e in sc.get_received() if e["name"] == "agent.status"]


def test_PAU_4_supervisors_get_agent_status_events(app, tenants, team, socket_for):
    supervisor = socket_for("diego@example.com")
    other_company = socket_for(tenants["b"].admin_email)
    supervisor.get_received(), other_company.get_received()

    agent = socket_for("bruno@example.com")  # connect: offline -> online
    agent_http = agent.http
    (event,) = _status_events(supervisor)
    assert event["user_id"] == team["bruno"] and event["name"] == "Bruno Lima"
    assert (event["status"], event["label"], event["pause"]) == ("online", "Disponível", None)
    assert event["since"]

    agent_http.post("/presence/pause/start", json={"pause_id": team["almoco"]},
                    headers={"X-CSRFToken": agent_http.csrf_token()})
    (event,) = _status_events(supervisor)
    assert (event["status"], event["label"], event["pause"]) == ("paused", "Em pausa", "Almoço")

    agent_http.post("/presence/pause/end", headers={"X-CSRFToken": agent_http.csrf_token()})
    assert _status_events(supervisor)[0]["status"] == "online"

    agent.disconnect()
    assert _status_events(supervisor)[0]["status"] == "offline"
    assert _status_events(other_company) == []  # never another company's agents
    with app.app_context():
        (row,) = db.session.scalars(select(PresenceSession).where(
            PresenceSession.user_id == team["bruno"])).all()
        assert row.ended_at is not None and row.sid


def test_PAU_4_a_second_tab_announces_nothing(app, team, socket_for):
    supervisor = socket_for("diego@example.com")
    socket_for("bruno@example.com")
    supervisor.get_received()
    socket_for("bruno@example.com")
    assert _status_events(supervisor) == []


# -- the JSON endpoints ---------------------------------------------------------------------

def test_PAU_3_endpoints_list_start_and_end(app, team):
    bruno = client_as(app, "bruno@example.com")
    listed = bruno.get("/presence/pauses")
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json["pauses"]] == ["Almoço"]
    assert listed.json["status"]["status"] == "offline"

    started = post(bruno, "/presence/pause/start", json={"pause_id": team["almoco"]})
    assert started.status_code == 200, started.json
    assert started.json["status"]["label"] == "Em pausa"
    assert bruno.get("/presence/pauses").json == {
        "pauses": [], "status": started.json["status"], "available": True}

    again = post(bruno, "/presence/pause/start", json={"pause_id": team["almoco"]})
    assert again.status_code == 400 and again.json == {"error": "Você já está em pausa."}

    ended = post(bruno, "/presence/pause/end")
    assert ended.status_code == 200 and ended.json["status"]["status"] == "offline"
    again = post(bruno, "/presence/pause/end")
    assert again.status_code == 400 and again.json == {"error": "Você não está em pausa."}

    # a classic form post works too
    form = post(bruno, "/presence/pause/start", data={"pause_id": str(team["almoco"])})
    assert form.status_code == 200


@pytest.mark.parametrize("body", [
    {"pause_id": "abc"}, {"pause_id": ""}, {"pause_id": None}, {"pause_id": [1]},
    {"pause_id": {"id": 1}}, {"pause_id": 99999999999999999999999}, {"pause_id": "-1"},
    {"pause_id": 1.5}, {"pause_id": "9" * 40}, {}, [1, 2], "texto",
])
def test_PAU_3_bad_pause_ids_are_400_never_500(app, team, body):
    bruno = client_as(app, "bruno@example.com")
    resp = post(bruno, "/presence/pause/start", json=body)
    assert resp.status_code == 400
    assert resp.json == {"error": "Esta pausa não está disponível agora."}


def test_PAU_3_malformed_bodies_are_400(app, team):
    bruno = client_as(app, "bruno@example.com")
    headers = {"X-CSRFToken": bruno.csrf_token(), "Content-Type": "application/json"}
    resp = bruno.post("/presence/pause/start", data="{not json", headers=headers)
    assert resp.status_code == 400 and "error" in resp.json
    resp = post(bruno, "/presence/pause/start", data={"pause_id": "\x00"})
    assert resp.status_code == 400


def test_PAU_3_pause_of_another_company_is_refused(app, tenants, team):
    bruno = client_as(app, "bruno@example.com")
    resp = post(bruno, "/presence/pause/start", json={"pause_id": tenants["b"].ids["pauses"]})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(PauseSession)).all() == []


def test_PAU_3_posts_need_the_csrf_token(app, team):
    bruno = client_as(app, "bruno@example.com")
    resp = post(bruno, "/presence/pause/start", json={"pause_id": team["almoco"]}, csrf=False)
    assert resp.status_code == 400 and resp.json["error"].startswith("O formulário expirou")
    with app.app_context():
        assert db.session.scalars(select(PauseSession)).all() == []


def test_PAU_3_without_inbox_view_the_endpoints_are_403(app, tenants, team):
    with app.app_context():
        company = db.session.get(Company, team["company_id"])
        user = gen_user(company, "config@example.com",
                        gen_group(company, "Só configuração", ["pauses.view"]))
        db.session.flush()
        db.session.add(DepartmentMember(company_id=company.id, department_id=team["dept"],
                                        user_id=user.id))
        db.session.commit()
    client = client_as(app, "config@example.com")
    assert client.get("/presence/pauses").status_code == 403
    resp = post(client, "/presence/pause/start", json={"pause_id": team["almoco"]})
    assert resp.status_code == 403 and resp.json["error"]
    assert post(client, "/presence/pause/end").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/presence/pauses").status_code == 401
    assert "Iniciar Pausa" not in client.get("/admin/").text


# -- the navbar and the home page ------------------------------------------------------------

def test_PAU_3_navbar_offers_the_pauses_available_now(app, team):
    bruno = client_as(app, "bruno@example.com")
    page = bruno.get("/admin/")
    text = html.unescape(page.text)
    assert 'data-testid="presence-badge"' in page.text and ">Offline<" in text
    menu = text[text.index('id="presence-pauses"'):]
    menu = menu[:menu.index("</div>")]
    assert f'data-pause-id="{team["almoco"]}">Almoço<' in menu
    assert "Treinamento" not in menu and "Banheiro" not in menu and "Café" not in menu
    assert "Iniciar Pausa" in text
    # the notice and "Encerrar Pausa" are there for the script, hidden
    assert 'id="presence-end" class="btn btn-warning btn-sm" hidden' in page.text
    assert 'data-testid="presence-notice"' in page.text
    assert page.text.count('data-testid="presence-notice"') == 1

    post(bruno, "/presence/pause/start", json={"pause_id": team["almoco"]})
    page = bruno.get("/admin/")
    text = html.unescape(page.text)
    assert ">Em pausa: Almoço<" in text
    assert 'id="presence-end" class="btn btn-warning btn-sm">' in page.text
    notice = text[text.index('data-testid="presence-notice"'):]
    assert not notice.split(">", 1)[0].rstrip().endswith("hidden")
    assert "Seu status é em pausa" in notice[:400]
    assert "Encerrar Pausa" in text


def test_PAU_4_home_shows_minutes_and_team_status(app, team):
    with app.app_context():
        _presence(team["bruno"], datetime.utcnow() - timedelta(minutes=5))
        db.session.commit()
    bruno = client_as(app, "bruno@example.com")
    home = html.unescape(bruno.get("/admin/").text)
    assert "Tempo por status" in home
    assert "Status dos atendentes" not in home  # agents do not supervise

    diego = client_as(app, "diego@example.com")
    home = html.unescape(diego.get("/admin/").text)
    assert "Status dos atendentes" in home and "Tempo por status" in home
    team_card = home[home.index('data-testid="team-status"'):]
    assert f'data-user-id="{team["bruno"]}" data-status="online"' in team_card
    assert f'data-user-id="{team["carla"]}" data-status="offline"' in team_card
    assert "Aline Inativa" not in team_card
    assert "socket.io.min.js" in home and "agent.status" in home


def test_PAU_4_home_of_users_outside_the_inbox_has_no_cards(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_user(company, "rh@example.com", gen_group(company, "RH", ["users.view"]))
        db.session.commit()
    home = client_as(app, "rh@example.com").get("/admin/").text
    assert "Tempo por status" not in home and "Status dos atendentes" not in home
    assert "Iniciar Pausa" not in home


# -- UX-3: Disponível / Ausente ----------------------------------------------------------------

def test_UX_3_availability_switch_rules_pause_wins_over_it(app, team):
    """Connected and switched off is "Ausente"; a pause wins over the switch; offline
    stays offline; the switch keeps no time of its own, so "since" is not claimed."""
    with app.app_context():
        bruno = _user(team["bruno"])
        assert presence.set_available(bruno, False)["status"] == "offline"  # not connected
        _presence(team["bruno"], NOON_SP, sid="tab")
        db.session.flush()
        assert presence.current_status(bruno) == {
            "status": "away", "label": "Ausente", "pause": None, "since": None}
        presence.start_pause(bruno, team["almoco"], now=NOON_SP)
        assert presence.current_status(bruno)["status"] == "paused"
        presence.end_pause(bruno, now=NOON_SP + timedelta(minutes=5))
        assert presence.current_status(bruno)["status"] == "away"
        assert presence.set_available(bruno, True)["status"] == "online"
        after_commit.commit()
        assert _user(team["bruno"]).available is True
        by_name = {a["name"]: a for a in presence.team_status(team["company_id"])}
        assert by_name["Bruno Lima"]["status"] == "online"
        root = User(name="Root", email="root-disp@example.com", is_superuser=True)
        with pytest.raises(RuleError):
            presence.set_available(root, False)


def test_UX_3_availability_endpoint_and_the_navbar_switch(app, team):
    bruno = client_as(app, "bruno@example.com")
    page = bruno.get("/admin/").text
    switch = re.search(r'<input [^>]*id="availability-switch"[^>]*>', page).group(0)
    assert " checked" in switch and 'data-url="/presence/availability"' in switch
    assert "presence/availability.js" in page

    resp = post(bruno, "/presence/availability", json={"available": False})
    assert resp.status_code == 200, resp.json
    assert resp.json["available"] is False and resp.json["status"]["status"] == "offline"
    assert bruno.get("/presence/pauses").json["available"] is False
    switch = re.search(r'<input [^>]*id="availability-switch"[^>]*>', bruno.get("/admin/").text).group(0)
    assert " checked" not in switch
    inbox = bruno.get("/inbox/").text
    assert re.search(r'<input [^>]*id="availability-switch"(?![^>]*checked)[^>]*>', inbox)
    # a classic form post works too
    assert post(bruno, "/presence/availability", data={"available": "1"}).json["available"] is True

    for body in ({}, {"available": "talvez"}, {"available": [1]}, {"available": None}, [1], "x"):
        resp = post(bruno, "/presence/availability", json=body)
        assert resp.status_code == 400 and resp.json["error"], body
    resp = post(bruno, "/presence/availability", json={"available": False}, csrf=False)
    assert resp.status_code == 400 and resp.json["error"].startswith("O formulário expirou")
    with app.app_context():
        assert _user(team["bruno"]).available is True


def test_UX_3_managers_see_ausente_live_and_on_the_home(app, team, socket_for):
    supervisor = socket_for("diego@example.com")
    agent = socket_for("bruno@example.com")
    supervisor.get_received()
    resp = post(agent.http, "/presence/availability", json={"available": False})
    assert resp.status_code == 200
    (event,) = _status_events(supervisor)
    assert (event["user_id"], event["status"], event["label"]) == (team["bruno"], "away", "Ausente")
    # the same value again announces nothing
    post(agent.http, "/presence/availability", json={"available": False})
    assert _status_events(supervisor) == []

    home = html.unescape(supervisor.http.get("/admin/").text)
    card = home[home.index('data-testid="team-status"'):]
    row = card[card.index(f'data-user-id="{team["bruno"]}"'):]
    assert row.startswith(f'data-user-id="{team["bruno"]}" data-status="away"')
    assert ">Ausente<" in row[:400]

    post(agent.http, "/presence/availability", json={"available": True})
    (event,) = _status_events(supervisor)
    assert (event["status"], event["label"]) == ("online", "Disponível")
