"""PAU-4 and PNL-1: the live queue snapshot (reports.live.snapshot) behind the managers'
dashboard and the TV panel, and whose dashboard covers which departments
(managed_departments).

Now is Wednesday 2026-12-09 12:00 in São Paulo (15:00 UTC); "today" is the company's
local day, so a ticket from 02:00 UTC (23:00 the day before there) is not today's.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import PauseSession, PresenceSession, Ticket
from backoffice.reports import live
from backoffice.services import tickets as ticket_rules
from backoffice.services.settings import get_settings
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_group, gen_inbound, gen_pause,
    gen_plan, gen_user,
)

NOW = datetime(2026, 12, 9, 15, 0)


def sp(day: int, hour: int, minute: int = 0) -> datetime:
    """December 2026 on São Paulo's wall clock (UTC-3), as naive UTC."""
    return datetime(2026, 12, day, hour, minute) + timedelta(hours=3)


def _arrive(timeline, at, connection, department, address, name) -> Ticket:
    timeline.set(at)
    message = gen_inbound(connection, "Preciso de ajuda com meu pedido", address, department,
                          name=name)
    return db.session.get(Ticket, message.ticket_id)


def test_PAU_4_PNL_1_snapshot_counters_alerts_and_scope(app, timeline):
    """PAU-4/PNL-1: waiting, in progress, today's arrivals and closes (local day), longest
    wait, by hour, agents by status, alerts against the department's limit or the
    company's SLA; department scoping, the unrouted row, another company never counted,
    no customer name nor message text; managed_departments per role."""
    with app.app_context():
        company, _admin = gen_company("Alfa", "admin-a@example.com", gen_plan("Plano A"))
        agents = gen_group(company, "Atendentes", ["inbox.view"])
        chiefs = gen_group(company, "Supervisores", ["inbox.view", "inbox.supervise"])
        sofia = gen_user(company, "sofia@example.com", chiefs, name="Sofia")
        rita = gen_user(company, "rita@example.com", agents, name="Rita")
        ana = gen_user(company, "ana@example.com", agents, name="Ana")
        bruno = gen_user(company, "bruno@example.com", agents, name="Bruno")
        carla = gen_user(company, "carla@example.com", agents, name="Carla")
        suporte = gen_department(company, "Suporte", wait_alert_minutes=10, members=[
            (rita, True, True), (ana, True, False), (carla, True, False)])
        vendas = gen_department(company, "Vendas", members=[(bruno, True, False),
                                                            (carla, True, False)])
        archive = gen_department(company, "Arquivo", active=False)
        connection = gen_connection(company, "Site", kind="webchat")
        get_settings(company.id).sla_minutes = 30

        other, _ = gen_company("Beta", "admin-b@example.com", gen_plan("Plano B"))
        other_agent = gen_user(other, "agente-b@example.com",
                               gen_group(other, "Atendentes", ["inbox.view"]))
        other_dept = gen_department(other, "Suporte", members=[(other_agent, True, True)])
        other_conn = gen_connection(other, "Site B", kind="webchat")
        db.session.flush()
        pause = gen_pause(company, "Almoço", [vendas])
        db.session.commit()

        x1 = _arrive(timeline, sp(8, 17, 0), connection, suporte, "c1", "Cliente Um")
        timeline.set(sp(8, 17, 5))
        ticket_rules.accept(x1, ana)
        timeline.set(sp(9, 9, 0))
        ticket_rules.close(x1, ana)  # yesterday's ticket closed today
        x0 = _arrive(timeline, datetime(2026, 12, 9, 2, 0), connection, suporte, "c0",
                     "Cliente Zero")  # 23:00 yesterday in São Paulo, still waiting
        x2 = _arrive(timeline, sp(9, 8, 15), connection, suporte, "c2", "Cliente Dois")
        ticket_rules.accept(x2, ana)
        _arrive(timeline, sp(9, 11, 55), connection, suporte, "c3", "Cliente Três")
        x4 = _arrive(timeline, sp(9, 11, 20), connection, vendas, "c4", "Cliente Quatro")
        _arrive(timeline, sp(9, 11, 45), connection, vendas, "c5", "Cliente Cinco")
        x6 = _arrive(timeline, sp(9, 10, 0), connection, None, "c6", "Cliente Seis")
        _arrive(timeline, sp(9, 6, 0), other_conn, other_dept, "b1", "Cliente Beta")
        db.session.add_all([
            PresenceSession(company_id=company.id, user_id=ana.id, started_at=sp(9, 8)),
            PresenceSession(company_id=company.id, user_id=carla.id, started_at=sp(9, 8)),
            PresenceSession(company_id=company.id, user_id=bruno.id, started_at=sp(9, 8)),
            PauseSession(company_id=company.id, user_id=bruno.id, pause_id=pause.id,
                         started_at=sp(9, 11, 30)),
        ])
        carla.available = False
        after_commit.commit()
        timeline.set(NOW)

        snap = live.snapshot(company.id)
        assert snap["today"] == "2026-12-09" and snap["generated_at"] == "2026-12-09T15:00:00Z"
        sup, ven = snap["departments"]
        assert (sup["id"], ven["id"]) == (suporte.id, vendas.id)  # not the inactive one
        assert {k: sup[k] for k in ("waiting", "in_progress", "received_today", "closed_today",
                                    "longest_wait_s", "alert_minutes")} == {
            "waiting": 2, "in_progress": 1, "received_today": 2, "closed_today": 1,
            "longest_wait_s": 13 * 3600, "alert_minutes": 10}
        assert {k: ven[k] for k in ("waiting", "in_progress", "received_today", "closed_today",
                                    "longest_wait_s", "alert_minutes")} == {
            "waiting": 2, "in_progress": 0, "received_today": 2, "closed_today": 0,
            "longest_wait_s": 40 * 60, "alert_minutes": 30}
        assert snap["totals"] == {"waiting": 4, "in_progress": 1, "received_today": 4,
                                  "closed_today": 1, "longest_wait_s": 13 * 3600}
        assert snap["by_hour"][8] == 1 and snap["by_hour"][11] == 3 and sum(snap["by_hour"]) == 4
        assert [(a["name"], a["status"]) for a in sup["agents"]] == [
            ("Ana", "online"), ("Carla", "away"), ("Rita", "offline")]
        assert [(a["name"], a["status"], a["pause"]) for a in ven["agents"]] == [
            ("Bruno", "paused", "Almoço"), ("Carla", "away", None)]
        # the whole company: Sofia, Rita and the admin are offline
        assert snap["agents"] == {"online": 1, "paused": 1, "away": 1, "offline": 3}
        # Suporte waits 10 minutes, Vendas the company's 30 (x5: 15 minutes, no alert)
        assert [(a["ticket_id"], a["department_id"], a["waiting_s"], a["limit_minutes"])
                for a in snap["alerts"]] == [(x0.id, suporte.id, 13 * 3600, 10),
                                             (x4.id, vendas.id, 40 * 60, 30)]
        assert snap["alerts"][0]["protocol"] == x0.protocol

        text = json.dumps(snap)
        assert "Cliente" not in text and "pedido" not in text

        unrouted = live.snapshot(company.id, unrouted=True)
        row = unrouted["departments"][-1]
        assert (row["id"], row["waiting"], row["received_today"]) == (None, 1, 1)
        assert unrouted["totals"]["waiting"] == 5 and unrouted["by_hour"][10] == 1
        assert [a["ticket_id"] for a in unrouted["alerts"]] == [x0.id, x6.id, x4.id]

        mine = live.snapshot(company.id, [suporte.id])
        assert [d["id"] for d in mine["departments"]] == [suporte.id]
        assert mine["totals"]["waiting"] == 2 and [a["ticket_id"] for a in mine["alerts"]] == [x0.id]
        assert mine["agents"] == {"online": 1, "paused": 0, "away": 1, "offline": 1}
        assert sum(mine["by_hour"]) == 2

        foreign = live.snapshot(company.id, [other_dept.id])
        assert foreign["departments"] == [] and foreign["totals"]["waiting"] == 0
        beta = live.snapshot(other.id)
        assert beta["totals"]["waiting"] == 1 and beta["alerts"][0]["limit_minutes"] == 15

        assert live.managed_departments(sofia) == sorted([suporte.id, vendas.id, archive.id])
        assert live.managed_departments(rita) == [suporte.id]
        assert live.managed_departments(ana) is None
