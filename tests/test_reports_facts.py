"""REP-1's per-ticket facts (TicketReport) against hand-computed values,
services.hours.business_seconds, and the demo's past month (seed.load_history).

The history is lived through the ticket services with the app's clock moved by hand
(the `timeline` fixture): company A in America/Sao_Paulo (UTC-3, no DST), Suporte open
Mon-Fri 08:00-18:00 with a holiday on Tuesday 2026-12-08, Vendas with no period (always
open); company B in America/Manaus (UTC-4). December 2026: the 7th is a Monday.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select

from backoffice.extensions import db
from backoffice.lib import after_commit
from backoffice.models import Ticket, TicketReport
from backoffice.reports import facts
from backoffice.services import hours, sending
from backoffice.services import tickets as ticket_rules
from tests.factories import (
    gen_company, gen_connection, gen_department, gen_group, gen_holiday, gen_inbound,
    gen_period, gen_plan, gen_reason, gen_user,
)

SP, MANAUS = "America/Sao_Paulo", "America/Manaus"
COLUMNS = [c.name for c in TicketReport.__table__.columns]


def sp(day: int, hour: int, minute: int = 0) -> datetime:
    """A wall-clock instant of December 2026 in São Paulo, as naive UTC (UTC-3)."""
    return datetime(2026, 12, day, hour, minute) + timedelta(hours=3)


def _rows(company_id: int) -> dict[int, dict]:
    db.session.expire_all()
    return {r.ticket_id: {c: getattr(r, c) for c in COLUMNS}
            for r in db.session.scalars(select(TicketReport).where(
                TicketReport.company_id == company_id))}


def _act(timeline, at: datetime, fn, *args, **kwargs):
    """`fn` at instant `at`, committed as a request commits."""
    timeline.set(at)
    result = fn(*args, **kwargs)
    after_commit.commit()
    return result


def _arrive(timeline, at, connection, department, address, text="Olá") -> Ticket:
    message = _act(timeline, at, gen_inbound, connection, text, address, department)
    return db.session.get(Ticket, message.ticket_id)


def test_REP_1_facts_of_a_fixed_history(app, timeline):
    """REP-1: day/hour on the company's wall clock across midnight and zones; calendar and
    business-hours times (period, holiday); transfers, reopens, survey (RAT-1), reason
    (RSN-1); another company's tickets apart; rebuild equal to the listeners' rows."""
    with app.app_context():
        company, _admin = gen_company("Alfa", "admin-a@example.com", gen_plan("Plano A"))
        company.timezone = SP
        group = gen_group(company, "Atendentes", ["inbox.view"])
        ana = gen_user(company, "ana@example.com", group, name="Ana")
        bruno = gen_user(company, "bruno@example.com", group, name="Bruno")
        carla = gen_user(company, "carla@example.com", group, name="Carla")
        period = gen_period(company, "Comercial")
        db.session.flush()
        suporte = gen_department(company, "Suporte", members=[(ana, True, False)],
                                 period_id=period.id, survey_enabled=True)
        vendas = gen_department(company, "Vendas", members=[(bruno, True, False),
                                                            (carla, True, False)])
        gen_holiday(company, "Feriado municipal", date(2026, 12, 8))
        connection = gen_connection(company, "Site", kind="webchat")
        reason = gen_reason(company, "Dúvida")

        other, _ = gen_company("Beta", "admin-b@example.com", gen_plan("Plano B"))
        other.timezone = MANAUS
        other_agent = gen_user(other, "agente-b@example.com",
                               gen_group(other, "Atendentes", ["inbox.view"]))
        db.session.flush()
        other_dept = gen_department(other, "Suporte", members=[(other_agent, True, False)])
        other_conn = gen_connection(other, "Site B", kind="webchat")
        db.session.commit()

        # T1: Monday 23:30 in São Paulo (Tuesday 02:30 UTC); Tuesday is a holiday, so it
        # is accepted on Wednesday 08:30, answered 08:40, closed 09:00; the survey is
        # answered with 5 and a comment.
        t1 = _arrive(timeline, sp(7, 23, 30), connection, suporte, "cliente-1")
        assert t1.created_at == datetime(2026, 12, 8, 2, 30)
        row = _rows(company.id)[t1.id]
        assert (row["day"], row["hour"], row["status"]) == (date(2026, 12, 7), 23, "waiting")
        assert row["wait_s"] is None and row["channel"] == "webchat"
        assert row["first_response_s"] is None  # the out-of-hours answer is no agent's
        _act(timeline, sp(9, 8, 30), ticket_rules.accept, t1, ana)
        _act(timeline, sp(9, 8, 40), sending.queue, t1, ana, "Bom dia!")
        _act(timeline, sp(9, 8, 50), sending.queue, t1, ana, "Algo mais?")
        _act(timeline, sp(9, 9, 0), ticket_rules.close, t1, ana, reason_id=reason.id)
        assert _arrive(timeline, sp(9, 9, 5), connection, suporte, "cliente-1", "5").id == t1.id
        _arrive(timeline, sp(9, 9, 6), connection, suporte, "cliente-1", "Muito bom")

        # T2: Wednesday 10:00 in Suporte; Ana accepts (10:05) and answers (10:10), sends it
        # to Vendas' queue (10:20), Bruno accepts (10:30) and hands it to Carla (10:40),
        # who closes it at 11:00.
        t2 = _arrive(timeline, sp(9, 10, 0), connection, suporte, "cliente-2")
        _act(timeline, sp(9, 10, 5), ticket_rules.accept, t2, ana)
        _act(timeline, sp(9, 10, 10), sending.queue, t2, ana, "Vou transferir.")
        _act(timeline, sp(9, 10, 20), ticket_rules.transfer, t2, ana, department_id=vendas.id)
        row = _rows(company.id)[t2.id]
        assert (row["department_id"], row["agent_id"], row["transfers"]) == (vendas.id, None, 1)
        _act(timeline, sp(9, 10, 30), ticket_rules.accept, t2, bruno)
        _act(timeline, sp(9, 10, 40), ticket_rules.transfer, t2, bruno, agent_id=carla.id)
        _act(timeline, sp(9, 11, 0), ticket_rules.close, t2, carla)

        # T4: Wednesday 14:00 in Suporte's queue; nobody accepts it, Ana hands it to Bruno
        # in Vendas at 14:12: its wait ends there.
        t4 = _arrive(timeline, sp(9, 14, 0), connection, suporte, "cliente-4")
        _act(timeline, sp(9, 14, 12), ticket_rules.transfer, t4, ana, department_id=vendas.id,
             agent_id=bruno.id)

        # T3: Thursday 17:00, accepted 17:10, answered 17:20, closed 17:30 (its survey is
        # asked, never answered); reopened on Friday 09:00 and closed again at 09:15.
        t3 = _arrive(timeline, sp(10, 17, 0), connection, suporte, "cliente-3")
        _act(timeline, sp(10, 17, 10), ticket_rules.accept, t3, ana)
        _act(timeline, sp(10, 17, 20), sending.queue, t3, ana, "Resolvido?")
        _act(timeline, sp(10, 17, 30), ticket_rules.close, t3, ana, reason_id=reason.id)
        assert _rows(company.id)[t3.id]["closed_day"] == date(2026, 12, 10)
        _act(timeline, sp(11, 9, 0), ticket_rules.reopen, t3, ana)
        row = _rows(company.id)[t3.id]
        assert (row["status"], row["closed_day"], row["resolution_s"], row["reopens"]) == (
            "open", None, None, 1)
        _act(timeline, sp(11, 9, 15), ticket_rules.close, t3, ana)

        # Company B, Manaus (UTC-4): Tuesday 03:30 UTC is Monday 23:30 there (00:30 on
        # Tuesday in São Paulo); accepted ten minutes later.
        tb = _arrive(timeline, datetime(2026, 12, 8, 3, 30), other_conn, other_dept, "c-b")
        _act(timeline, datetime(2026, 12, 8, 3, 40), ticket_rules.accept, tb, other_agent)

        rows = _rows(company.id)
        assert set(rows) == {t1.id, t2.id, t3.id, t4.id}
        r1, r2, r3, r4 = rows[t1.id], rows[t2.id], rows[t3.id], rows[t4.id]
        assert (r1["day"], r1["hour"], r1["closed_day"]) == (date(2026, 12, 7), 23,
                                                             date(2026, 12, 9))
        assert (r1["department_id"], r1["agent_id"], r1["reason_id"]) == (suporte.id, ana.id,
                                                                          reason.id)
        # 33 h of calendar; business hours: Monday night closed, Tuesday a holiday
        assert (r1["wait_s"], r1["wait_bh"]) == (33 * 3600, 30 * 60)
        assert (r1["first_response_s"], r1["first_response_bh"]) == (33 * 3600 + 600, 40 * 60)
        assert (r1["resolution_s"], r1["resolution_bh"]) == (33 * 3600 + 1800, 3600)
        assert r1["handle_s"] == 1800 and (r1["transfers"], r1["reopens"]) == (0, 0)
        assert (r1["survey_scale"], r1["survey_score"], r1["status"]) == ("csat", 5, "closed")

        assert (r2["day"], r2["hour"]) == (date(2026, 12, 9), 10)
        assert (r2["department_id"], r2["agent_id"], r2["transfers"]) == (vendas.id, carla.id, 2)
        # wait ends at the first acceptance; Vendas has no period: always open
        assert (r2["wait_s"], r2["wait_bh"], r2["first_response_s"]) == (300, 300, 600)
        assert (r2["resolution_s"], r2["resolution_bh"], r2["handle_s"]) == (3600, 3600, 3300)
        assert (r2["reason_id"], r2["survey_score"]) == (None, None)

        assert (r3["day"], r3["hour"], r3["closed_day"]) == (date(2026, 12, 10), 17,
                                                             date(2026, 12, 11))
        assert (r3["wait_s"], r3["first_response_s"], r3["first_response_bh"]) == (600, 1200, 1200)
        # to the close that stands: 16h15 of calendar; Thursday 17-18 + Friday 08-09:15
        assert (r3["resolution_s"], r3["resolution_bh"]) == (16 * 3600 + 900, 3600 + 4500)
        assert r3["handle_s"] == 16 * 3600 + 300
        assert (r3["reopens"], r3["transfers"], r3["survey_scale"]) == (1, 0, None)

        assert (r4["agent_id"], r4["status"], r4["transfers"]) == (bruno.id, "open", 1)
        assert (r4["wait_s"], r4["wait_bh"], r4["handle_s"]) == (720, 720, None)

        rb = _rows(other.id)
        assert set(rb) == {tb.id}
        assert (rb[tb.id]["day"], rb[tb.id]["hour"]) == (date(2026, 12, 7), 23)
        assert (rb[tb.id]["wait_s"], rb[tb.id]["wait_bh"], rb[tb.id]["status"]) == (600, 600, "open")

        # rebuild: the same rows from the tickets as they are
        lived = {**rows, **rb}
        db.session.execute(delete(TicketReport))
        db.session.commit()
        assert facts.rebuild() == 5
        assert {**_rows(company.id), **_rows(other.id)} == lived
        assert facts.rebuild() == 0  # nothing missing
        assert facts.rebuild(company.id, everything=True) == 4
        assert {**_rows(company.id), **_rows(other.id)} == lived


# --- services.hours.business_seconds -----------------------------------------------------

def _period(*schedules, active=True):
    """A period as business_seconds reads it: schedules (weekdays, "HH:MM", "HH:MM")."""
    return SimpleNamespace(active=active, schedules=[
        SimpleNamespace(weekdays=list(days), start_time=time.fromisoformat(start),
                        end_time=time.fromisoformat(end)) for days, start, end in schedules])


def _holiday(day: date, every_year=False):
    return SimpleNamespace(date=day, every_year=every_year)


def test_REP_1_business_seconds():
    """REP-1's business-hours times: overnight ranges, holidays, inactive and missing
    periods, empty spans, a DST change; equal to counting is_open minute by minute."""
    night = _period(([0, 1, 2, 3, 4], "22:00", "06:00"))  # starts Mon-Fri
    # Friday 20:00 -> Monday 07:00: Friday 22-24 and Saturday 00-06 (Friday's range)
    start, end = sp(4, 20), sp(7, 7)
    assert hours.business_seconds(night, start, end, SP) == 8 * 3600
    assert hours.business_seconds(night, start, end, SP, [_holiday(date(2026, 12, 5))]) == 7200
    assert hours.business_seconds(night, start, end, SP,
                                  [_holiday(date(2020, 12, 4), every_year=True)]) == 6 * 3600
    assert hours.business_seconds(_period(([0], "08:00", "18:00"), active=False),
                                  start, end, SP) == 0
    assert hours.business_seconds(None, start, end, SP) == 59 * 3600
    assert hours.business_seconds(night, end, start, SP) == 0
    assert hours.business_seconds(None, end, start, SP) == 0
    assert hours.business_seconds(night, start, start, SP) == 0
    # a zone-aware instant counts as that instant
    aware = datetime(2026, 12, 4, 20, tzinfo=ZoneInfo(SP))
    assert hours.business_seconds(night, aware, end, SP) == 8 * 3600

    office = _period(([0, 1, 2, 3, 4], "08:00", "18:00"), ([0, 1, 2, 3, 4], "12:00", "20:00"))
    holidays = [_holiday(date(2026, 12, 8))]
    # Monday 07:00 -> Wednesday 09:30: Monday 08-20 (overlapping ranges once), Tuesday off
    assert hours.business_seconds(office, sp(7, 7), sp(9, 9, 30), SP, holidays) == (
        12 * 3600 + 5400)

    # Lisbon moves to summer time on Sunday 2026-03-29 (01:00 UTC): that day has 23 hours
    always = _period((range(7), "00:00", "12:00"), (range(7), "12:00", "00:00"))
    lisbon = "Europe/Lisbon"
    assert hours.business_seconds(always, datetime(2026, 3, 28, 12), datetime(2026, 3, 30, 12),
                                  lisbon) == 48 * 3600
    weekend = _period(([6], "00:30", "03:00"), ([5], "23:00", "02:00"))
    for zone, first in ((lisbon, datetime(2026, 3, 27, 12)), (SP, sp(4, 12))):
        last = first.replace(day=first.day + 3)
        counted, at = 0, first
        while at < last:
            counted += 60 if hours.is_open(weekend, at, zone, ()) else 0
            at += timedelta(minutes=1)
        assert hours.business_seconds(weekend, first, last, zone) == counted, zone


def test_REP_1_demo_history_gives_the_reports_a_month(app):
    """REP-1: `make run`'s demo (load_demo with its history) has a past month of closed
    tickets with their facts: transfers, reopens, surveys, several channels; none today,
    so the demo agents' inboxes are as the other seed tests expect."""
    from backoffice.lib import clock
    from backoffice.seed import load_demo

    with app.app_context():
        assert load_demo(history=True) is True
        rows = list(db.session.scalars(select(TicketReport)))
        today = hours.local_time(clock.now(), SP).date()
        past = [r for r in rows if r.day < today]
        assert 60 <= len(past) <= 150 and len(rows) == db.session.scalar(
            select(func.count()).select_from(Ticket))
        assert min(r.day for r in past) >= today - timedelta(days=30)
        assert all(r.status == "closed" and r.resolution_s > 0 for r in past)
        assert any(r.transfers for r in past) and any(r.reopens for r in past)
        assert sum(r.survey_score is not None for r in past) > 20
        assert {r.channel for r in past} == {"webchat", "whatsapp", "telegram"}
        assert any(r.first_response_s is None for r in past)  # closed unanswered
