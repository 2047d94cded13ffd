"""Períodos de atendimento (PER-1, PER-2) and Feriados (HOL-1)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.extensions import db
from backoffice.models import Company, Holiday, Period, PeriodSchedule
from backoffice.services.hours import company_is_open, is_open
from tests.conftest import flashes, login
from tests.factories import gen_holiday, gen_period

SP = "America/Sao_Paulo"
UTC = timezone.utc
MON_FRI = ["0", "1", "2", "3", "4"]


# --- helpers -------------------------------------------------------------------------


def _schedule(weekdays, start, end, name="Horário"):
    return SimpleNamespace(name=name, weekdays=list(weekdays),
                           start_time=start if isinstance(start, time) else time.fromisoformat(start),
                           end_time=end if isinstance(end, time) else time.fromisoformat(end))


def _period(*schedules, active=True):
    return SimpleNamespace(active=active, schedules=list(schedules), company_id=None)


def _holiday(day, every_year=False):
    return SimpleNamespace(name="Feriado", date=day, every_year=every_year)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def _count(model):
    with db.session.no_autoflush:
        return db.session.scalar(select(func.count()).select_from(model))


def _period_form(name="Horário comercial", schedules=(), **extra):
    data = {"name": name, "description": "Atendimento humano", "active": "y"}
    for i, (sname, days, start, end) in enumerate(schedules):
        data[f"schedules-{i}-name"] = sname
        data[f"schedules-{i}-weekdays"] = list(days)
        data[f"schedules-{i}-start_time"] = start
        data[f"schedules-{i}-end_time"] = end
    data.update(extra)
    return data


@pytest.fixture
def admin_a(app, tenants, client):
    assert login(client, tenants["a"].admin_email).status_code == 302
    return client


def _counts(app):
    with app.app_context():
        return _count(Period), _count(PeriodSchedule)


# --- PER-1: the screen -------------------------------------------------------------------


def test_PER_1_create_form_has_inline_schedules_with_weekday_checkboxes_and_time_fields(admin_a):
    html = admin_a.get("/admin/periods/new/").text
    assert 'id="schedules"' in html and "inline-field-template" in html
    # the template of a new schedule (escaped, the page's JS prefixes it with schedules-N-)
    assert "Dias da semana" in html and "Segunda-feira" in html and "Domingo" in html
    assert "type=&#34;checkbox&#34;" in html and "type=&#34;time&#34;" in html
    assert "Se o fim for antes do início, o horário atravessa a meia-noite" in html


def test_PER_1_admin_creates_period_with_two_schedules_and_sees_it_listed(app, tenants, admin_a):
    resp = admin_a.submit("/admin/periods/new/", _period_form(schedules=[
        ("Manhã", MON_FRI, "08:00", "12:00"),
        ("Sábado", ["5"], "09:00", "13:00"),
    ]))
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        period = db.session.scalar(select(Period).where(Period.name == "Horário comercial"))
        assert period.company_id == tenants["a"].company_id and period.active
        rows = [(s.name, s.weekdays, s.start_time, s.end_time, s.company_id) for s in period.schedules]
        assert rows == [
            ("Manhã", [0, 1, 2, 3, 4], time(8), time(12), tenants["a"].company_id),
            ("Sábado", [5], time(9), time(13), tenants["a"].company_id),
        ]
        period_id = period.id
    listing = admin_a.get("/admin/periods/").text
    assert "Horário comercial" in listing
    assert "Manhã: Seg, Ter, Qua, Qui, Sex 08:00–12:00" in listing
    assert "Sábado: Sáb 09:00–13:00" in listing
    # the edit form shows the saved schedules under the inline field names
    edit = admin_a.get(f"/admin/periods/edit/?id={period_id}").text
    for name in ("schedules-0-name", "schedules-0-weekdays", "schedules-0-start_time",
                 "schedules-1-end_time", "schedules-1-id"):
        assert f'name="{name}"' in edit, name
    assert 'value="08:00"' in edit and 'value="13:00"' in edit
    # the other company does not see it
    other = app.test_client()
    login(other, tenants["b"].admin_email)
    assert "Horário comercial" not in other.get("/admin/periods/").text


def test_PER_1_overnight_range_is_accepted(app, admin_a):
    resp = admin_a.submit("/admin/periods/new/", _period_form(
        "Plantão", [("Noite", ["4"], "22:00", "06:00")]))
    assert resp.status_code == 302, flashes(resp.text)
    assert "Noite: Sex 22:00–06:00 (até o dia seguinte)" in admin_a.get("/admin/periods/").text


@pytest.mark.parametrize("schedules, message", [
    ([("Manhã", [], "08:00", "12:00")], "Marque ao menos um dia da semana."),
    ([("Manhã", MON_FRI, "08:00", "12:00"), ("Tarde", [], "13:00", "18:00")],
     "Marque ao menos um dia da semana."),
    ([("Manhã", MON_FRI, "08:00", "08:00")], "O fim deve ser diferente do início."),
    ([("Manhã", MON_FRI, "", "12:00")], "Campo obrigatório."),
    ([("Manhã", MON_FRI, "8h", "12:00")], "Não é um valor de tempo válido."),
    ([("Manhã", ["9"], "08:00", "12:00")], "‘9’ não é uma escolha válida para este campo."),
    ([("Manhã", ["x"], "08:00", "12:00")], "Escolha(s) inválida(s)"),
    ([], "Cadastre ao menos um horário para o período."),
])
def test_PER_1_invalid_schedules_are_refused_with_a_message(app, admin_a, schedules, message):
    before = _counts(app)
    page = admin_a.submit("/admin/periods/new/", _period_form(schedules=schedules))
    assert page.status_code == 200
    assert message in page.text
    assert _counts(app) == before


def test_PER_1_duplicate_period_name_is_refused(app, tenants, admin_a):
    before = _counts(app)
    page = admin_a.submit("/admin/periods/new/", _period_form(
        "Período exclusivo A", [("Manhã", MON_FRI, "08:00", "12:00")]))
    assert "Já existe um período com este nome." in page.text
    assert _counts(app) == before
    # the same name in another company is fine
    resp = admin_a.submit("/admin/periods/new/", _period_form(
        "Período exclusivo B", [("Manhã", MON_FRI, "08:00", "12:00")]))
    assert resp.status_code == 302


def test_PER_1_edit_adds_and_deletes_schedules_but_never_the_last_one(app, tenants, admin_a):
    pid = tenants["a"].ids["periods"]
    with app.app_context():
        first_id = db.session.get(Period, pid).schedules[0].id
    # add a second schedule
    resp = admin_a.submit(f"/admin/periods/edit/?id={pid}", _period_form(
        "Período exclusivo A", [("Comercial", MON_FRI, "08:00", "18:00"),
                                ("Domingo", ["6"], "10:00", "14:00")],
        **{"schedules-0-id": str(first_id)}))
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        period = db.session.get(Period, pid)
        assert [s.name for s in period.schedules] == ["Comercial", "Domingo"]
        assert all(s.company_id == tenants["a"].company_id for s in period.schedules)
        ids = [s.id for s in period.schedules]
    # delete the first one
    form = _period_form("Período exclusivo A", [("Comercial", MON_FRI, "08:00", "18:00"),
                                                ("Domingo", ["6"], "10:00", "14:00")],
                        **{"schedules-0-id": str(ids[0]), "schedules-1-id": str(ids[1]),
                           "del-schedules-0": "on"})
    assert admin_a.submit(f"/admin/periods/edit/?id={pid}", form).status_code == 302
    with app.app_context():
        assert [s.name for s in db.session.get(Period, pid).schedules] == ["Domingo"]
    # deleting the last one is refused, nothing changes
    form = _period_form("Período exclusivo A", [("Domingo", ["6"], "10:00", "14:00")],
                        **{"schedules-0-id": str(ids[1]), "del-schedules-0": "on"})
    page = admin_a.submit(f"/admin/periods/edit/?id={pid}", form)
    assert "Cadastre ao menos um horário para o período." in page.text
    with app.app_context():
        assert [s.name for s in db.session.get(Period, pid).schedules] == ["Domingo"]


def test_PER_1_forged_schedule_id_of_other_company_is_not_touched(app, tenants):
    b = app.test_client()
    login(b, tenants["b"].admin_email)
    with app.app_context():
        a_schedule = db.session.get(Period, tenants["a"].ids["periods"]).schedules[0]
        a_id, a_name = a_schedule.id, a_schedule.name
    b.submit(f"/admin/periods/edit/?id={tenants['b'].ids['periods']}", _period_form(
        "Período exclusivo B", [("Sequestrado", MON_FRI, "01:00", "02:00")],
        **{"schedules-0-id": str(a_id)}))
    with app.app_context():
        row = db.session.get(PeriodSchedule, a_id)
        assert row.name == a_name and row.company_id == tenants["a"].company_id
        assert row.period_id == tenants["a"].ids["periods"]
        # whatever was saved on B's side belongs to B
        assert not db.session.scalar(select(PeriodSchedule).where(
            PeriodSchedule.company_id == tenants["a"].company_id,
            PeriodSchedule.name == "Sequestrado"))


def test_PER_1_deleting_a_period_deletes_its_schedules(app, tenants, admin_a):
    pid = tenants["a"].ids["periods"]
    assert admin_a.submit("/admin/periods/delete/", {"id": str(pid)}).status_code == 302
    with app.app_context():
        assert db.session.get(Period, pid) is None
        assert not db.session.scalar(select(func.count()).select_from(PeriodSchedule).where(
            PeriodSchedule.period_id == pid))


def test_PER_1_list_search_and_filter(app, tenants, admin_a):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        gen_period(company, "Período desligado", active=False)
        db.session.commit()
    found = admin_a.get("/admin/periods/?search=desligado").text
    assert "Período desligado" in found and "Período exclusivo A" not in found
    html = admin_a.get("/admin/periods/").text
    assert "Ativo" in html


# --- HOL-1: the screen -------------------------------------------------------------------


def test_HOL_1_admin_creates_holiday_and_sees_it_listed(app, tenants, admin_a):
    form = admin_a.get("/admin/holidays/new/").text
    assert "Repete todo ano" in form and 'type="date"' in form
    resp = admin_a.submit("/admin/holidays/new/", {"name": "Consciência Negra",
                                                   "date": "2026-11-20", "every_year": "y"})
    assert resp.status_code == 302, flashes(resp.text)
    with app.app_context():
        h = db.session.scalar(select(Holiday).where(Holiday.name == "Consciência Negra"))
        assert (h.date, h.every_year, h.company_id) == (date(2026, 11, 20), True,
                                                        tenants["a"].company_id)
    listing = admin_a.get("/admin/holidays/").text
    assert "Consciência Negra" in listing and "20/11/2026" in listing
    assert "Repete todo ano" in listing


def test_HOL_1_holiday_needs_a_valid_date(app, admin_a):
    with app.app_context():
        before = _count(Holiday)
    for bad, message in (("", "Campo obrigatório."), ("31/02/2026", "A data não é válida."),
                         ("2026-02-31", "A data não é válida.")):
        page = admin_a.submit("/admin/holidays/new/", {"name": "Sem data", "date": bad})
        assert page.status_code == 200 and message in page.text, bad
    with app.app_context():
        assert _count(Holiday) == before


# --- PER-2: is_open examples ---------------------------------------------------------------


WEEKDAYS_8_18 = _schedule([0, 1, 2, 3, 4], "08:00", "18:00", "Comercial")
FRIDAY_NIGHT = _schedule([4], "22:00", "06:00", "Plantão")


@pytest.mark.parametrize("at, expected", [
    (utc(2026, 11, 18, 11, 0), True),     # Wed 08:00 SP: start is inside
    (utc(2026, 11, 18, 10, 59), False),   # Wed 07:59 SP
    (utc(2026, 11, 18, 20, 59), True),    # Wed 17:59 SP
    (utc(2026, 11, 18, 21, 0), False),    # Wed 18:00 SP: end is outside
    (utc(2026, 11, 20, 23, 30), False),   # Fri 20:30 SP (23:30 UTC), after hours
    (utc(2026, 11, 21, 14, 0), False),    # Sat 11:00 SP: no Saturday schedule
    (utc(2026, 11, 16, 2, 0), False),     # Sun 23:00 SP, although Monday in UTC
])
def test_PER_2_weekday_schedule_in_sao_paulo(at, expected):
    assert is_open(_period(WEEKDAYS_8_18), at, SP, []) is expected


@pytest.mark.parametrize("at, expected", [
    (utc(2026, 11, 21, 1, 0), True),      # Fri 22:00 SP
    (utc(2026, 11, 21, 0, 59), False),    # Fri 21:59 SP
    (utc(2026, 11, 21, 6, 0), True),      # Sat 03:00 SP: the Friday range spills over
    (utc(2026, 11, 21, 8, 59), True),     # Sat 05:59 SP
    (utc(2026, 11, 21, 9, 0), False),     # Sat 06:00 SP
    (utc(2026, 11, 21, 10, 0), False),    # Sat 07:00 SP
    (utc(2026, 11, 20, 6, 0), False),     # Fri 03:00 SP: Thursday has no range
    (utc(2026, 11, 22, 1, 0), False),     # Sat 22:00 SP: only Fridays start
])
def test_PER_2_overnight_range_belongs_to_the_day_it_starts(at, expected):
    assert is_open(_period(FRIDAY_NIGHT), at, SP, []) is expected


def test_PER_2_time_zone_string_zoneinfo_and_naive_utc():
    period = _period(WEEKDAYS_8_18)
    at = utc(2026, 11, 18, 11, 30)  # 08:30 in Sao Paulo, 06:30 in New York
    assert is_open(period, at, SP, []) and is_open(period, at, ZoneInfo(SP), [])
    assert is_open(period, at.replace(tzinfo=None), SP, [])  # naive = UTC, as stored
    assert not is_open(period, at, "America/New_York", [])
    assert is_open(period, at, "UTC", [])


def test_PER_2_sao_paulo_has_no_dst_since_2019():
    lunch = _period(_schedule(range(7), "12:00", "13:00"))
    assert is_open(lunch, utc(2026, 1, 15, 15, 30), SP, [])      # 12:30, UTC-3 in summer
    assert not is_open(lunch, utc(2019, 1, 15, 15, 30), SP, [])  # 13:30, DST (UTC-2) then


def test_PER_2_inactive_period_is_closed():
    assert not is_open(_period(WEEKDAYS_8_18, active=False), utc(2026, 11, 18, 12), SP, [])
    assert not is_open(_period(), utc(2026, 11, 18, 12), SP, [])  # no schedules


def test_HOL_1_fixed_date_holiday_closes_that_day_only():
    period = _period(WEEKDAYS_8_18)
    holidays = [_holiday(date(2026, 11, 20))]
    assert not is_open(period, utc(2026, 11, 20, 13), SP, holidays)   # Fri 10:00
    assert is_open(period, utc(2026, 11, 19, 13), SP, holidays)       # the day before
    assert is_open(period, utc(2027, 11, 19, 13), SP, holidays)       # next year, Fri
    # the day is the local one: 02:00 UTC on the 21st is still the 20th in Sao Paulo
    night = _period(_schedule(range(7), "00:00", "23:59"))
    assert not is_open(night, utc(2026, 11, 21, 2, 0), SP, holidays)
    assert is_open(night, utc(2026, 11, 21, 3, 0), SP, holidays)


def test_HOL_1_every_year_holiday_repeats_on_day_and_month():
    period = _period(_schedule(range(7), "08:00", "18:00"))
    christmas = [_holiday(date(2020, 12, 25), every_year=True)]
    for year in (2020, 2026, 2031):
        assert not is_open(period, utc(year, 12, 25, 13), SP, christmas)
        assert is_open(period, utc(year, 12, 24, 13), SP, christmas)
    once = [_holiday(date(2020, 12, 25))]
    assert is_open(period, utc(2026, 12, 25, 13), SP, once)


def test_HOL_1_holiday_closes_the_spill_of_an_overnight_range_too():
    """Closed the whole holiday: Friday 22:00 -> Saturday 06:00 stops at midnight."""
    holidays = [_holiday(date(2026, 11, 21))]
    assert is_open(_period(FRIDAY_NIGHT), utc(2026, 11, 21, 2, 0), SP, holidays)  # Fri 23:00
    assert not is_open(_period(FRIDAY_NIGHT), utc(2026, 11, 21, 6, 0), SP, holidays)  # Sat 03:00


def test_PER_2_company_is_open_uses_company_timezone_and_holidays(app, tenants):
    with app.app_context():
        company = db.session.get(Company, tenants["a"].company_id)
        period = db.session.get(Period, tenants["a"].ids["periods"])  # Mon-Fri 08-18
        wed_0830_sp = utc(2026, 11, 18, 11, 30)
        assert company_is_open(company, period, wed_0830_sp)
        # 25/12 every year comes from the fixture
        assert not company_is_open(company, period, utc(2026, 12, 25, 13))
        gen_holiday(company, "Emenda", date(2026, 11, 18))
        db.session.flush()
        assert not company_is_open(company, period, wed_0830_sp)
        company.timezone = "Asia/Tokyo"  # 20:30 in Tokyo, and not the 18th's holiday there
        assert not company_is_open(company, period, wed_0830_sp)
        # another company's holidays do not count, another company's period is refused
        other = db.session.get(Company, tenants["b"].company_id)
        other_period = db.session.get(Period, tenants["b"].ids["periods"])
        assert company_is_open(other, other_period, wed_0830_sp)
        with pytest.raises(ValueError):
            company_is_open(other, period, wed_0830_sp)
        db.session.rollback()


# --- PER-2 / HOL-1: properties -------------------------------------------------------------

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ZONES = st.sampled_from([SP, "America/Manaus", "America/New_York", "Europe/Lisbon", "UTC",
                         "Asia/Kolkata"])
INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 12, 31),
                        timezones=st.just(UTC))
CLOCKS = st.builds(time, st.integers(0, 23), st.integers(0, 59))
SCHEDULES = st.builds(
    _schedule, st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True), CLOCKS, CLOCKS)
HOLIDAYS = st.lists(st.builds(_holiday, st.dates(date(2000, 1, 1), date(2060, 12, 31)),
                              st.booleans()), max_size=4)

WEEK = 7 * 24 * 60


def reference_is_open(period, at, tz, holidays) -> bool:
    """Brute force on minutes of the week: each schedule marks the minutes it covers."""
    if not period.active:
        return False
    local = at.astimezone(ZoneInfo(tz))
    day = local.date()
    if any(h.date == day or (h.every_year and (h.date.month, h.date.day) == (day.month, day.day))
           for h in holidays):
        return False
    minute = local.weekday() * 1440 + local.hour * 60 + local.minute
    for s in period.schedules:
        start = s.start_time.hour * 60 + s.start_time.minute
        end = s.end_time.hour * 60 + s.end_time.minute
        length = (end - start) % 1440  # 0 when equal: covers nothing
        for d in s.weekdays:
            first = d * 1440 + start
            if (minute - first) % WEEK < length:
                return True
    return False


@FAST
@given(at=INSTANTS, tz=ZONES, holidays=HOLIDAYS)
def test_PER_2_property_all_week_schedule_is_open_except_holidays_and_last_minute(at, tz, holidays):
    period = _period(_schedule(range(7), "00:00", "23:59"))
    local = at.astimezone(ZoneInfo(tz))
    day = local.date()
    holiday = any(h.date == day or (h.every_year and (h.date.month, h.date.day) == (day.month, day.day))
                  for h in holidays)
    expected = not holiday and (local.hour, local.minute) != (23, 59)
    assert is_open(period, at, tz, holidays) is expected


@FAST
@given(schedules=st.lists(SCHEDULES, max_size=3), at=INSTANTS, tz=ZONES, holidays=HOLIDAYS,
       active=st.booleans())
def test_PER_2_property_is_open_matches_brute_force_reference(schedules, at, tz, holidays, active):
    period = _period(*schedules, active=active)
    assert is_open(period, at, tz, holidays) is reference_is_open(period, at, tz, holidays)


@FAST
@given(schedules=st.lists(SCHEDULES, min_size=1, max_size=3),
       at=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2060, 12, 31),
                       timezones=st.just(UTC)),
       weeks=st.integers(-52, 52))
def test_PER_2_property_same_answer_a_whole_number_of_weeks_later(schedules, at, weeks):
    """Sao Paulo has no DST since 2019, so whole weeks later the wall clock is the same."""
    period = _period(*schedules)
    assert is_open(period, at, SP, []) is is_open(period, at + timedelta(weeks=weeks), SP, [])
    assert is_open(period, at, SP, []) is is_open(period, at + timedelta(days=7), SP, [])


@FAST
@given(schedules=st.lists(SCHEDULES, min_size=1, max_size=3), at=INSTANTS, tz=ZONES,
       every_year=st.booleans())
def test_HOL_1_property_a_holiday_on_the_local_date_always_closes(schedules, at, tz, every_year):
    local_day = at.astimezone(ZoneInfo(tz)).date()
    holiday_day = local_day.replace(year=2000) if every_year else local_day  # 2000 was leap
    assert not is_open(_period(*schedules), at, tz, [_holiday(holiday_day, every_year)])
