"""Out of hours (AUT-1, PER-2, HOL-1): services.hours.next_opening in several time zones
and across midnight, DST and holidays; the out-of-hours answer once per closed spell;
the opening announced to the agents (timer "hours", event queue.opened)."""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select

from backoffice.automation import business_hours, timers
from backoffice.extensions import db
from backoffice.models import (
    Company,
    Holiday,
    Period,
    PeriodSchedule,
    Ticket,
    TicketEvent,
)
from backoffice.models.tickets import AUTHOR_SYSTEM, WAITING
from backoffice.services import hours
from backoffice.services.hours import next_opening
from tests.factories import (
    gen_agent_setup, gen_company, gen_holiday, gen_inbound, gen_period, sent_texts,
)

WEEKDAYS = [0, 1, 2, 3, 4]


def _period(schedules=(("Comercial", WEEKDAYS, "08:00", "18:00"),), active=True) -> Period:
    """A period not stored anywhere: next_opening and is_open need no database."""
    return Period(name="P", active=active, schedules=[
        PeriodSchedule(name=n, weekdays=list(days), start_time=time.fromisoformat(a),
                       end_time=time.fromisoformat(b)) for n, days, a, b in schedules])


# --- next_opening (PER-2, HOL-1) -------------------------------------------------------------


def test_PER_2_next_opening_overnight_schedule_across_midnight():
    period = _period([("Noite", WEEKDAYS, "22:00", "02:00")])
    sp = "America/Sao_Paulo"
    # Tuesday 2026-12-01 03:00 in São Paulo (06:00 UTC): closed until 22:00 the same day
    assert next_opening(period, datetime(2026, 12, 1, 6, 0), sp) == datetime(2026, 12, 2, 1, 0)
    # Tuesday 23:30 local: open already
    assert next_opening(period, datetime(2026, 12, 2, 2, 30), sp) == datetime(2026, 12, 2, 2, 30)
    # Saturday 01:00 local: Friday's range runs past midnight
    assert hours.is_open(period, datetime(2026, 12, 5, 4, 0), sp)
    # Saturday 03:00 local: nothing until Monday 22:00
    assert next_opening(period, datetime(2026, 12, 5, 6, 0), sp) == datetime(2026, 12, 8, 1, 0)


def test_HOL_1_next_opening_skips_a_yearly_holiday():
    period = _period()
    christmas = Holiday(name="Natal", date=date(2019, 12, 25), every_year=True)
    # Thursday 2026-12-24 19:00 local: Friday is Christmas, so Monday 08:00 (11:00 UTC)
    at = datetime(2026, 12, 24, 22, 0)
    assert hours.next_opening(period, at, "America/Sao_Paulo", [christmas]) == \
        datetime(2026, 12, 28, 11, 0)
    assert hours.next_opening(period, at, "America/Sao_Paulo") == datetime(2026, 12, 25, 11, 0)


def test_PER_2_next_opening_in_manaus_and_brazil_without_dst():
    period = _period()
    # Manaus is UTC-4 all year: 08:00 there is 12:00 UTC
    assert hours.next_opening(period, datetime(2026, 12, 1, 11, 59), "America/Manaus") == \
        datetime(2026, 12, 1, 12, 0)
    # São Paulo has had no DST since 2019: 08:00 is 11:00 UTC in January as in July
    assert hours.next_opening(period, datetime(2027, 1, 5, 1, 0), "America/Sao_Paulo") == \
        datetime(2027, 1, 5, 11, 0)
    assert hours.next_opening(period, datetime(2027, 7, 6, 1, 0), "America/Sao_Paulo") == \
        datetime(2027, 7, 6, 11, 0)


def test_PER_2_next_opening_across_the_us_dst_change():
    period = _period([("Office", WEEKDAYS, "09:00", "17:00")])
    ny = "America/New_York"
    # Friday 2027-03-12 18:00 EST (23:00 UTC); clocks go forward on Sunday 14 March:
    # Monday 09:00 EDT is 13:00 UTC, not 14:00
    assert next_opening(period, datetime(2027, 3, 12, 23, 0), ny) == datetime(2027, 3, 15, 13, 0)
    # the Friday before, still EST: 09:00 is 14:00 UTC
    assert hours.next_opening(period, datetime(2027, 3, 5, 1, 0), ny) == datetime(2027, 3, 5, 14, 0)


def test_PER_2_next_opening_none_for_an_inactive_or_empty_period():
    assert hours.next_opening(_period(active=False), datetime(2026, 12, 1, 12, 0),
                              "America/Sao_Paulo") is None
    empty = _period([])
    assert hours.next_opening(empty, datetime(2026, 12, 1, 12, 0), "America/Sao_Paulo") is None


# --- the out-of-hours answer (AUT-1) -----------------------------------------------------------


@pytest.fixture
def desk(app, timeline):
    """Company h: Suporte (Mon-Fri 08:00-18:00 São Paulo), its agent, an HTTP API channel."""
    with app.app_context():
        setup = gen_agent_setup(key="h")
        period = gen_period(db.session.get(Company, setup.company_id), "Comercial")
        setup.department.period = period
        db.session.commit()
        yield setup


def _inbound(setup, text="Oi", address="cliente-noite") -> Ticket:
    message = gen_inbound(setup.connection, text, address, setup.department)
    return db.session.get(Ticket, message.ticket_id)


def _system_texts(ticket) -> list[str]:
    return sent_texts(ticket, AUTHOR_SYSTEM)


def test_AUT_1_out_of_hours_message_once_per_closed_spell(desk, timeline):
    """AUT-1: at 19:00 the customer gets the answer once; the opening ends the spell;
    the next evening's message gets the answer again."""
    timeline.set(datetime(2026, 12, 1, 22, 0))  # Tuesday 19:00 in São Paulo
    ticket = _inbound(desk, "Boa noite")
    texts = _system_texts(ticket)
    assert len(texts) == 1 and "Nosso horário de atendimento terminou" in texts[0]
    assert "Maria" not in texts[0] and texts[0].startswith("Olá, ")
    assert ticket.status == WAITING and ticket.out_of_hours_at == datetime(2026, 12, 1, 22, 0)
    assert ticket.due_at == datetime(2026, 12, 2, 11, 0)  # Wednesday 08:00
    kinds = db.session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
    assert "out_of_hours" in list(kinds)

    timeline.advance(minutes=30)
    ticket = _inbound(desk, "Alguém aí?")
    assert len(_system_texts(ticket)) == 1  # same closed spell: nothing more

    timeline.set(datetime(2026, 12, 2, 10, 59))
    timers.tick()
    assert db.session.get(Ticket, ticket.id).out_of_hours_at is not None  # not yet
    timeline.set(datetime(2026, 12, 2, 11, 0))
    assert timers.tick() == 1
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.out_of_hours_at is None and ticket.status == WAITING

    timeline.set(datetime(2026, 12, 2, 12, 0))  # in hours: no answer
    ticket = _inbound(desk, "Bom dia")
    assert len(_system_texts(ticket)) == 1
    timeline.set(datetime(2026, 12, 2, 22, 30))  # the next closed spell
    ticket = _inbound(desk, "De novo")
    assert len(_system_texts(ticket)) == 2


def test_AUT_1_configured_message_and_connection_period(desk, timeline):
    """AUT-1: the department's message with variables; without a department period the
    connection's applies; with neither, always open."""
    desk.department.out_of_hours_message = "Fechado, {{nome_cliente}}. Protocolo {{protocolo}}."
    db.session.commit()
    timeline.set(datetime(2026, 12, 5, 15, 0))  # Saturday
    ticket = _inbound(desk, "Oi", address="cliente-sabado")
    name = ticket.contact.name
    assert _system_texts(ticket) == [f"Fechado, {name}. Protocolo {ticket.protocol}."]

    period = desk.department.period
    desk.department.period = None
    desk.department.out_of_hours_message = None
    db.session.commit()
    assert _system_texts(_inbound(desk, "Oi", address="sem-periodo")) == []
    desk.connection.period = period
    desk.connection.out_of_hours_message = "Canal fechado."
    db.session.commit()
    assert _system_texts(_inbound(desk, "Oi", address="pela-conexao")) == ["Canal fechado."]


def test_AUT_1_holiday_closes_and_accepted_ticket_is_not_answered(desk, timeline):
    """AUT-1/HOL-1: a holiday in the middle of the week is out of hours; a ticket an agent
    already works on gets no automatic answer."""
    company = db.session.get(Company, desk.company_id)
    gen_holiday(company, "Feriado", date(2026, 12, 8))
    db.session.commit()
    timeline.set(datetime(2026, 12, 8, 14, 0))  # Tuesday 11:00, a holiday
    ticket = _inbound(desk, "Oi", address="no-feriado")
    assert len(_system_texts(ticket)) == 1
    assert ticket.due_at == datetime(2026, 12, 9, 11, 0)
    # the agent's own accepted ticket (gen_agent_setup) stays quiet
    accepted = _inbound(desk, "Mais uma coisa", address="cliente-1")
    assert accepted.id == desk.ticket.id and _system_texts(accepted) == []


def test_AUT_1_other_company_period_never_applies(desk, timeline, app):
    """AUT-1: a period id of another company on a department is ignored (no hours)."""
    other, _ = gen_company("Outra Ltda", "admin@outra-h.example")
    foreign = gen_period(other, "Alheio", [("Nunca", [6], "03:00", "04:00")])
    db.session.flush()
    desk.department.period_id = foreign.id
    db.session.commit()
    db.session.expire_all()
    timeline.set(datetime(2026, 12, 1, 22, 0))
    assert business_hours.period_of(desk.ticket) is None
    assert _system_texts(_inbound(desk, "Oi", address="outra-empresa")) == []


def test_AUT_1_opening_announced_to_the_department_agent(app, timeline, socket_for):
    """AUT-1/RTM-1: when the period opens, the tick clears the hold and the agents who
    may see the ticket hear "queue.opened"; another company's agent hears nothing."""
    with app.app_context():
        setup = gen_agent_setup(key="h")
        setup.department.period = gen_period(db.session.get(Company, setup.company_id),
                                             "Comercial")
        gen_agent_setup(key="x")
        db.session.commit()
        timeline.set(datetime(2026, 12, 1, 22, 0))
        ticket_id = _inbound(setup, "Boa noite").id
    agent = socket_for("agente-h@example.com", drain=True)
    stranger = socket_for("agente-x@example.com", drain=True)
    with app.app_context():
        timeline.set(datetime(2026, 12, 2, 11, 0))
        assert timers.tick() == 1
        assert db.session.get(Ticket, ticket_id).out_of_hours_at is None
    opened = [e["args"][0] for e in agent.get_received() if e["name"] == "queue.opened"]
    assert opened and opened[0]["count"] == 1 and opened[0]["tickets"][0]["id"] == ticket_id
    assert not [e for e in stranger.get_received() if e["name"] == "queue.opened"]


# --- the screens (AUT-1 fields on departments and connections) ----------------------------


@pytest.fixture
def screens(app, client):
    """Company r's admin logged in; r's period and flow; company o's period and flow."""
    from backoffice.models.automation import Flow
    from tests.conftest import login
    from tests.factories import gen_connection, gen_department, gen_ticket

    with app.app_context():
        mine, _ = gen_company("Relógio Ltda", "admin@relogio-r.example")
        other, _ = gen_company("Outra Ltda", "admin@outra-o.example")
        ids = {"period": gen_period(mine, "Comercial R"), "foreign": gen_period(other, "Alheio O"),
               "flow": Flow(company_id=mine.id, name="Bot R", draft={}),
               "foreign_flow": Flow(company_id=other.id, name="Bot O", draft={}),
               "department": gen_department(mine, "Suporte R"),
               "connection": gen_connection(mine, "Site R")}
        db.session.add_all([ids["flow"], ids["foreign_flow"]])
        db.session.flush()
        ids["ticket"] = gen_ticket(ids["connection"], department=ids["department"])
        db.session.commit()
        ids = {k: v.id for k, v in ids.items()}
    assert login(client, "admin@relogio-r.example").status_code == 302
    return ids


def _department_form(**extra):
    data = {"name": "Suporte R", "description": "", "active": "True", "order": "1",
            "overflow_department": "__None", "period": "__None", "flow": "__None",
            "survey_scale": "csat"}
    data.update(extra)
    return data


def _department(app, dept_id):
    from backoffice.models import Department

    with app.app_context():
        d = db.session.get(Department, dept_id)
        return (d.period_id, d.out_of_hours_message, d.flow_id, d.survey_scale)


def test_DEP_5_department_screen_minutes_reschedule_the_open_tickets(app, timeline, client,
                                                                   screens):
    url = f"/admin/departments/edit/?id={screens['department']}"
    assert client.submit(url, _department_form(close_queue_after_minutes="30")).status_code == 302
    with app.app_context():
        assert db.session.get(Ticket, screens["ticket"]).due_at == datetime(2026, 12, 1, 12, 30)


def test_AUT_1_department_screen_period_message_flow_and_scale(app, client, screens):
    url = f"/admin/departments/edit/?id={screens['department']}"
    page = client.get(url).text
    for label in ("Período de atendimento", "Mensagem fora do horário", "Fluxo de chatbot",
                  "Escala da pesquisa", "Comercial R", "Bot R"):
        assert label in page
    assert "Alheio O" not in page and "Bot O" not in page
    resp = client.submit(url, _department_form(
        period=str(screens["period"]), flow=str(screens["flow"]), survey_scale="nps",
        out_of_hours_message="Voltamos às 8h, {{nome_cliente}}."))
    assert resp.status_code == 302
    assert _department(app, screens["department"]) == (
        screens["period"], "Voltamos às 8h, {{nome_cliente}}.", screens["flow"], "nps")

    page = client.submit(url, _department_form(out_of_hours_message="Oi {{apelido}}"))
    assert page.status_code == 200 and "{{apelido}}" in page.text
    for forged in ({"period": str(screens["foreign"])}, {"flow": str(screens["foreign_flow"])}):
        page = client.submit(url, _department_form(**forged))
        assert page.status_code == 200 and "não pertence à sua empresa" in page.text
    assert _department(app, screens["department"])[:3] == (
        screens["period"], "Voltamos às 8h, {{nome_cliente}}.", screens["flow"])


def test_AUT_1_connection_screen_period_message_and_entry_flow(app, client, screens):
    from backoffice.models import Connection

    url = f"/admin/connections/edit/?id={screens['connection']}"
    page = client.get(url).text
    for label in ("Período de atendimento", "Mensagem fora do horário",
                  "Fluxo de entrada (chatbot)", "Comercial R"):
        assert label in page
    assert "Alheio O" not in page
    form = {"name": "Site R", "active": "y", "widget_title": "", "widget_greeting": "",
            "widget_color": "#1F6F8B", "period": str(screens["period"]),
            "flow": str(screens["flow"]), "out_of_hours_message": "Fechado, {{nome_cliente}}."}
    assert client.submit(url, form).status_code == 302
    with app.app_context():
        conn = db.session.get(Connection, screens["connection"])
        assert (conn.period_id, conn.flow_id, conn.out_of_hours_message) == (
            screens["period"], screens["flow"], "Fechado, {{nome_cliente}}.")
    page = client.submit(url, {**form, "out_of_hours_message": "Oi {{apelido}}"})
    assert page.status_code == 200 and "{{apelido}}" in page.text
    page = client.submit(url, {**form, "period": str(screens["foreign"])})
    assert page.status_code == 200 and "não pertence à sua empresa" in page.text
    with app.app_context():
        conn = db.session.get(Connection, screens["connection"])
        assert conn.period_id == screens["period"]
        assert conn.out_of_hours_message == "Fechado, {{nome_cliente}}."
