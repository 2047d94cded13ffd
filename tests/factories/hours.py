"""Time rules: periods and holidays (the company's hours) and agents' pauses (PAU-1)."""
from __future__ import annotations

from datetime import date, time

from backoffice.extensions import db
from backoffice.models import Holiday, Pause, PauseWindow, Period, PeriodSchedule


def gen_period(company, name: str, schedules=None, active=True) -> Period:
    """A period; schedules are (name, weekdays, "HH:MM", "HH:MM"), default Mon-Fri 08-18."""
    period = Period(company_id=company.id, name=name, active=active)
    for sname, days, start, end in schedules or [("Comercial", [0, 1, 2, 3, 4], "08:00", "18:00")]:
        period.schedules.append(PeriodSchedule(
            company_id=company.id, name=sname, weekdays=list(days),
            start_time=time.fromisoformat(start), end_time=time.fromisoformat(end)))
    db.session.add(period)
    return period


def gen_holiday(company, name: str, day: date, every_year=False) -> Holiday:
    holiday = Holiday(company_id=company.id, name=name, date=day, every_year=every_year)
    db.session.add(holiday)
    return holiday


def gen_pause(company, name: str, departments, windows=((range(7), "00:00", "23:59"),),
              active=True) -> Pause:
    """A pause; windows are (weekdays, "HH:MM" start, "HH:MM" end)."""
    pause = Pause(company_id=company.id, name=name, active=active, departments=list(departments))
    for days, start, end in windows:
        pause.windows.append(PauseWindow(company_id=company.id, weekdays=list(days),
                                         start_time=time.fromisoformat(start),
                                         end_time=time.fromisoformat(end)))
    db.session.add(pause)
    return pause
