"""REP-1's report queries (backoffice.reports.queries) and filter (reports.filters)
against hand-computed values on a small fixed set of facts.

Company A (America/Sao_Paulo) has seven tickets whose TicketReport rows are written by
hand (the facts themselves are tests/test_reports_facts.py's business); the report
covers 2026-12-01 (a Tuesday) to 2026-12-07, the previous period 2026-11-24 to 11-30.

    T1 12-01 Suporte/Ana    closed 12-01  fr 120/60   res 3600/1800 wait 60/30  VIP transferred csat 5
    T2 12-01 Suporte/Ana    open          fr 300/300                wait 100/100
    T3 12-02 Vendas/Bruno   closed 12-03  fr 600/0    res 7200/3000 wait 30/30  VIP reopened    csat 3
       (arrived 23:30 local, 02:30 UTC on the 3rd: it is the 2nd's)
    T4 12-05 no department, agent nor connection, waiting
    T5 11-28 Suporte/Ana    closed 12-01  fr 900                    (previous period)
    T6 12-07 Vendas/Carla   closed 12-07  fr 1200/600 res 1800/1800 wait 10/10  nps 10
    T7 12-07 Vendas/Carla   closed 12-07  fr 60/60    res 600/600   wait 20/20  nps 8
Company B has one ticket on 12-02 that must never be counted.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest

from backoffice.extensions import db
from backoffice.models import PauseSession, TicketReport
from backoffice.reports import queries
from backoffice.reports.filters import MAX_DAYS, ReportFilter, parse
from backoffice.services import RuleError
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_group, gen_pause, gen_plan, gen_reason,
    gen_tag, gen_ticket, gen_user,
)

START, END = date(2026, 12, 1), date(2026, 12, 7)


def _fact(ticket, day: date, created_at: datetime | None = None, **values) -> None:
    row = db.session.get(TicketReport, ticket.id)
    noon = datetime.combine(day, datetime.min.time()).replace(hour=15)  # 12:00 in São Paulo
    base = dict(day=day, hour=12, created_at=created_at or noon,
                department_id=ticket.department_id, agent_id=ticket.agent_id,
                connection_id=ticket.connection_id, channel="webchat", reason_id=None,
                status="open", closed_at=None, closed_day=None, wait_s=None, wait_bh=None,
                first_response_s=None, first_response_bh=None, resolution_s=None,
                resolution_bh=None, handle_s=None, transfers=0, reopens=0,
                survey_scale=None, survey_score=None)
    base.update(values)
    if base["closed_day"] is not None:
        base["status"] = "closed"
        base["closed_at"] = datetime.combine(base["closed_day"], datetime.min.time()).replace(hour=16)
    for name, value in base.items():
        setattr(row, name, value)


def _world():
    company, _admin = gen_company("Alfa", "admin-a@example.com", gen_plan("Plano A"))
    company.timezone = "America/Sao_Paulo"
    group = gen_group(company, "Atendentes", ["inbox.view"])
    ana = gen_user(company, "ana@example.com", group, name="Ana")
    bruno = gen_user(company, "bruno@example.com", group, name="Bruno")
    carla = gen_user(company, "carla@example.com", group, name="Carla")
    db.session.flush()
    suporte = gen_department(company, "Suporte", members=[(ana, True, False)])
    vendas = gen_department(company, "Vendas", members=[(bruno, True, False),
                                                        (carla, True, False)])
    site = gen_connection(company, "Site", kind="webchat")
    vip = gen_tag(company, "VIP")
    reason = gen_reason(company, "Dúvida")
    db.session.flush()

    t1 = gen_ticket(site, department=suporte, agent=ana, tags=[vip])
    t2 = gen_ticket(site, department=suporte, agent=ana)
    t3 = gen_ticket(site, department=vendas, agent=bruno, tags=[vip])
    t4 = gen_ticket(site)
    t5 = gen_ticket(site, department=suporte, agent=ana)
    t6 = gen_ticket(site, department=vendas, agent=carla)
    t7 = gen_ticket(site, department=vendas, agent=carla)
    db.session.flush()
    _fact(t1, date(2026, 12, 1), closed_day=date(2026, 12, 1), first_response_s=120,
          first_response_bh=60, resolution_s=3600, resolution_bh=1800, wait_s=60, wait_bh=30,
          transfers=1, survey_scale="csat", survey_score=5, reason_id=reason.id)
    _fact(t2, date(2026, 12, 1), first_response_s=300, first_response_bh=300, wait_s=100,
          wait_bh=100)
    _fact(t3, date(2026, 12, 2), created_at=datetime(2026, 12, 3, 2, 30),
          closed_day=date(2026, 12, 3), first_response_s=600, first_response_bh=0,
          resolution_s=7200, resolution_bh=3000, wait_s=30, wait_bh=30, reopens=1,
          survey_scale="csat", survey_score=3)
    _fact(t4, date(2026, 12, 5), department_id=None, agent_id=None, connection_id=None,
          channel=None, status="waiting")
    _fact(t5, date(2026, 11, 28), closed_day=date(2026, 12, 1), first_response_s=900,
          first_response_bh=900)
    _fact(t6, date(2026, 12, 7), closed_day=date(2026, 12, 7), first_response_s=1200,
          first_response_bh=600, resolution_s=1800, resolution_bh=1800, wait_s=10, wait_bh=10,
          survey_scale="nps", survey_score=10)
    _fact(t7, date(2026, 12, 7), closed_day=date(2026, 12, 7), first_response_s=60,
          first_response_bh=60, resolution_s=600, resolution_bh=600, wait_s=20, wait_bh=20,
          survey_scale="nps", survey_score=8)

    pause = gen_pause(company, "Almoço", [suporte, vendas])
    db.session.flush()
    for user, started, ended in [
            (ana, datetime(2026, 11, 30, 23, 0), datetime(2026, 12, 1, 4, 0)),  # 1 h inside
            (ana, datetime(2026, 12, 2, 12, 0), datetime(2026, 12, 2, 12, 30)),
            (bruno, datetime(2026, 12, 7, 23, 0), None),                        # still running
            (carla, datetime(2026, 11, 20, 12, 0), datetime(2026, 11, 20, 13, 0))]:
        db.session.add(PauseSession(company_id=company.id, user=user, pause_id=pause.id,
                                    started_at=started, ended_at=ended))

    other, _ = gen_company("Beta", "admin-b@example.com", gen_plan("Plano B"))
    other_department = gen_department(other, "Suporte B")
    other_site = gen_connection(other, "Site B", kind="webchat")
    db.session.flush()
    tb = gen_ticket(other_site, department=other_department)
    db.session.flush()
    _fact(tb, date(2026, 12, 2), closed_day=date(2026, 12, 2), first_response_s=5,
          first_response_bh=5, resolution_s=5, resolution_bh=5, wait_s=5, wait_bh=5,
          transfers=3, reopens=2, survey_scale="csat", survey_score=1)
    db.session.commit()
    return dict(company=company, ana=ana, bruno=bruno, carla=carla, suporte=suporte,
                vendas=vendas, site=site, vip=vip, reason=reason, other=other,
                other_department=other_department, tickets=[t1, t2, t3, t4, t5, t6, t7])


def _by_key(rows):
    return {r["key"]: r for r in rows}


def test_REP_1_report_queries_on_fixed_facts(app, timeline):
    """REP-1 volume (day/week/month, previous period), breakdowns, times (calendar and
    business hours), SLA, satisfaction (RAT-1), reasons (RSN-1), pauses (PAU-4), the
    drill-down and the filter; another company's rows never counted."""
    timeline.set(datetime(2026, 12, 8, 1, 0))
    with app.app_context():
        w = _world()
        cid = w["company"].id
        f = ReportFilter(company_id=cid, start=START, end=END)

        # Volume: arrivals by `day` (T3 on the 2nd though it is the 3rd in UTC), closes
        # by `closed_day` (T5 arrived in November, closed in range)
        days = queries.volume(f)
        assert [r["period"] for r in days] == [date(2026, 12, d) for d in range(1, 8)]
        assert [(r["created"], r["closed"], r["reopened"], r["transferred"]) for r in days] == [
            (2, 2, 0, 1), (1, 0, 1, 0), (0, 1, 0, 0), (0, 0, 0, 0), (1, 0, 0, 0),
            (0, 0, 0, 0), (2, 2, 0, 0)]
        weeks = queries.volume(f, "week")
        assert [(r["period"], r["created"], r["closed"]) for r in weeks] == [
            (date(2026, 11, 30), 4, 3), (date(2026, 12, 7), 2, 2)]
        assert [(r["period"], r["created"], r["closed"]) for r in queries.volume(f, "month")] \
            == [(date(2026, 12, 1), 6, 5)]
        assert queries.totals(f) == {"created": 6, "closed": 5}
        previous = f.previous()
        assert (previous.start, previous.end) == (date(2026, 11, 24), date(2026, 11, 30))
        assert queries.totals(previous) == {"created": 1, "closed": 0}

        # Breakdowns (medians of first response and resolution, calendar seconds)
        departments = queries.breakdown(f, "department")
        assert [(r["label"], r["tickets"], r["closed"], r["first_response_median"],
                 r["resolution_median"]) for r in departments] == [
            ("Vendas", 3, 3, 600.0, 1800.0), ("Suporte", 2, 2, 210.0, 3600.0),
            ("Sem departamento", 1, 0, None, None)]
        agents = _by_key(queries.breakdown(f, "agent"))
        assert (agents[w["ana"].id]["tickets"], agents[w["ana"].id]["closed"]) == (2, 2)
        assert agents[w["carla"].id]["first_response_median"] == 630.0
        assert agents[None]["label"] == "Sem atendente"
        tags = _by_key(queries.breakdown(f, "tag"))
        assert (tags[w["vip"].id]["label"], tags[w["vip"].id]["tickets"],
                tags[w["vip"].id]["closed"]) == ("VIP", 2, 2)
        assert (tags[None]["tickets"], tags[None]["closed"]) == (4, 3)
        # TAG-1: Bruno's own tag on T2 is his alone: no row, T2 still untagged, no filter
        mine = gen_tag(w["company"], "Meu lembrete", owner=w["bruno"])
        db.session.flush()
        w["tickets"][1].tags = [mine]
        db.session.flush()
        tags = _by_key(queries.breakdown(f, "tag"))
        assert set(tags) == {w["vip"].id, None} and tags[None]["tickets"] == 4
        assert mine.id not in queries.labels(cid, "tag")
        assert queries.tickets(f, tag=None)[1] == 4
        with pytest.raises(RuleError, match="Etiqueta não encontrada."):
            parse(cid, {"tag": str(mine.id)}, END)
        channels = _by_key(queries.breakdown(f, "channel"))
        assert (channels["webchat"]["tickets"], channels[None]["tickets"]) == (5, 1)
        reasons = _by_key(queries.breakdown(f, "reason"))
        assert reasons[w["reason"].id]["label"] == "Dúvida"
        assert reasons[w["reason"].id]["tickets"] == 1 and reasons[None]["tickets"] == 5
        connections = _by_key(queries.breakdown(f, "connection"))
        assert connections[w["site"].id]["label"] == "Site"

        # Times: calendar, then business hours (the *_bh columns)
        assert queries.times(f) == {
            "first_response": {"median": 300.0, "p90": 960.0, "avg": 456.0, "count": 5},
            "resolution": {"median": 2700.0, "p90": 6120.0, "avg": 3300.0, "count": 4},
            "wait": {"median": 30.0, "p90": 84.0, "avg": 44.0, "count": 5}}
        bh = ReportFilter(company_id=cid, start=START, end=END, business_hours=True)
        assert queries.times(bh) == {
            "first_response": {"median": 60.0, "p90": 480.0, "avg": 204.0, "count": 5},
            "resolution": {"median": 1800.0, "p90": 2640.0, "avg": 1800.0, "count": 4},
            "wait": {"median": 30.0, "p90": 72.0, "avg": 38.0, "count": 5}}
        assert queries.sla(f) == {"target_minutes": 15, "answered": 5, "within": 4,
                                  "share": 0.8}
        assert queries.sla(bh)["share"] == 1.0

        # Satisfaction: CSAT scale (average, share of 4-5) and NPS (promoters - detractors)
        by_agent = _by_key(queries.satisfaction(f, "agent"))
        assert (by_agent[w["ana"].id]["average"], by_agent[w["ana"].id]["csat"]) == (5.0, 1.0)
        assert (by_agent[w["bruno"].id]["average"], by_agent[w["bruno"].id]["csat"]) == (3.0, 0.0)
        assert (by_agent[w["carla"].id]["nps"], by_agent[w["carla"].id]["answers"]) == (50.0, 2)
        by_department = _by_key(queries.satisfaction(f, "department"))
        vendas = by_department[w["vendas"].id]
        assert (vendas["answers"], vendas["average"], vendas["csat"], vendas["nps"]) == (
            3, 3.0, 0.0, 50.0)

        # Pauses: the part inside the range; a running one up to now (01:00 UTC on the 8th)
        assert [(r["label"], r["count"], r["seconds"]) for r in queries.pauses(f)] == [
            ("Bruno", 1, 7200), ("Ana", 2, 5400)]

        # Filters: a tag, an agent
        vip = ReportFilter(company_id=cid, start=START, end=END, tag_ids=(w["vip"].id,))
        assert queries.totals(vip) == {"created": 2, "closed": 2}
        assert queries.times(vip)["first_response"]["median"] == 360.0
        carla = ReportFilter(company_id=cid, start=START, end=END, agent_ids=(w["carla"].id,))
        assert queries.totals(carla) == {"created": 2, "closed": 2}
        assert [r["label"] for r in queries.pauses(carla)] == []

        # Drill-down
        t1, t2, t3, t4, t5, t6, t7 = w["tickets"]
        rows, total = queries.tickets(f, day=date(2026, 12, 1))
        assert total == 2 and {r["ticket_id"] for r in rows} == {t1.id, t2.id}
        rows, total = queries.tickets(f, closed=date(2026, 12, 1))
        assert {r["ticket_id"] for r in rows} == {t1.id, t5.id}
        rows, total = queries.tickets(f, department=None)
        assert [r["ticket_id"] for r in rows] == [t4.id] and rows[0]["department"] == "Sem departamento"
        assert queries.tickets(f, tag=w["vip"].id)[1] == 2
        assert queries.tickets(f, tag=None)[1] == 4
        assert queries.tickets(f, grain="week", day=date(2026, 11, 30))[1] == 4
        rows, total = queries.tickets(f, page=2, per_page=2)
        assert total == 6 and len(rows) == 2
        rows, _ = queries.tickets(f, day=date(2026, 12, 2))
        assert rows[0]["arrived"] == datetime(2026, 12, 2, 23, 30)  # local wall clock
        assert rows[0]["agent"] == "Bruno" and rows[0]["status_label"] == "Finalizado"

        # parse(): defaults and every refusal, in pt-BR
        today = date(2026, 12, 7)
        default = parse(cid, {}, today)
        assert (default.start, default.end) == (date(2026, 11, 8), today)
        parsed = parse(cid, {"start": "01/12/2026", "end": "2026-12-07",
                             "department": f"{w['suporte'].id},{w['vendas'].id}",
                             "tag": str(w["vip"].id), "business_hours": "1"}, today)
        assert parsed == ReportFilter(cid, START, END, tuple(sorted(
            (w["suporte"].id, w["vendas"].id))), tag_ids=(w["vip"].id,), business_hours=True)
        for args, message in [
                ({"start": "31/02/2026"}, "Data inválida"),
                ({"start": "2026-12-08", "end": "2026-12-01"}, "depois da data final"),
                ({"start": "2024-01-01", "end": "2026-01-01"}, "Escolha um período de até 12 meses."),
                ({"department": str(w["other_department"].id)}, "Departamento não encontrado."),
                ({"department": "1 or 1=1"}, "Departamento não encontrado."),
                ({"agent": "999999"}, "Atendente não encontrado."),
                ({"connection": "x"}, "Canal não encontrado."),
                ({"tag": "0"}, "Etiqueta não encontrada.")]:
            with pytest.raises(RuleError, match=message):
                parse(cid, args, today)
        assert parse(cid, {"start": "2025-12-07", "end": "2026-12-07"}, today).days == MAX_DAYS
