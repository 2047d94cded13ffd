"""Is a period open at a given instant? (PER-2, HOL-1)

Everything is decided on the company's local wall clock: the instant is converted to the
company's time zone (zoneinfo knows that America/Sao_Paulo has had no DST since 2019),
then compared with the schedules' local times.

- A schedule with start < end covers [start, end) on each of its weekdays.
- A schedule with end < start is an overnight range: it belongs to the weekday where it
  starts, covers [start, 24:00) that day and [00:00, end) the next day.
- A schedule with end == start covers nothing (the admin screen refuses it).
- A holiday closes every period for its whole local calendar day (00:00 to 24:00); an
  `every_year` holiday does so on the same day and month of every year.
- An inactive period is always closed.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timezone, tzinfo
from zoneinfo import ZoneInfo

from ..extensions import db
from ..lib import clock

DEFAULT_TIMEZONE = "America/Sao_Paulo"


def _zone(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return ZoneInfo(DEFAULT_TIMEZONE)
    return tz if isinstance(tz, tzinfo) else ZoneInfo(tz)


def local_time(at: datetime, tz: str | tzinfo | None) -> datetime:
    """`at` on the company's wall clock. A naive `at` is UTC (how the app stores times)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(_zone(tz))


def is_holiday(day: date, holidays: Iterable) -> bool:
    for h in holidays or ():
        if h.date == day:
            return True
        if h.every_year and (h.date.month, h.date.day) == (day.month, day.day):
            return True
    return False


def schedule_covers(schedule, weekday: int, clock) -> bool:
    """Does `schedule` cover local weekday `weekday` (0 = Monday) at wall-clock `clock`?"""
    days = {int(d) for d in (schedule.weekdays or ())}
    start, end = schedule.start_time, schedule.end_time
    if start is None or end is None or start == end:
        return False
    clock = clock.replace(tzinfo=None)
    if start < end:
        return weekday in days and start <= clock < end
    # overnight: from `start` on its own weekday, until `end` on the next day
    return (weekday in days and clock >= start) or ((weekday - 1) % 7 in days and clock < end)


def is_open(period, at: datetime, tz: str | tzinfo | None, holidays: Iterable = ()) -> bool:
    """True when `at` falls inside one of the period's schedules, in time zone `tz`."""
    if period is None or not period.active:
        return False
    local = local_time(at, tz)
    if is_holiday(local.date(), holidays):
        return False
    weekday, clock = local.weekday(), local.timetz()
    return any(schedule_covers(s, weekday, clock) for s in period.schedules)


def company_holidays(company_id: int) -> list:
    from ..models import Holiday

    return list(db.session.scalars(Holiday.owned(company_id)))


def company_is_open(company, period, at: datetime | None = None) -> bool:
    """is_open with the company's own time zone and holidays; `at` defaults to now."""
    if period is not None and period.company_id != company.id:
        raise ValueError("the period belongs to another company")
    at = at or clock.aware_now()
    return is_open(period, at, company.timezone or DEFAULT_TIMEZONE, company_holidays(company.id))


OPENING_HORIZON_DAYS = 14


def next_opening(period, at: datetime, tz: str | tzinfo | None,
                 holidays: Iterable = ()) -> datetime | None:
    """The first instant from `at` on when `period` is open (naive UTC): `at` itself when
    it is open already, else the earliest schedule start or local midnight (a holiday or
    an overnight range ends there) of the next OPENING_HORIZON_DAYS days at which
    `is_open` holds, in the zone `tz` (DST included: a start inside a skipped hour is
    read as zoneinfo does, then checked). None when the period never opens in that span
    (inactive, no schedule, a long run of holidays)."""
    if period is None or not period.active:
        return None
    zone = _zone(tz)
    holidays = list(holidays or ())
    start_utc = local_time(at, timezone.utc)
    if is_open(period, start_utc, zone, holidays):
        return start_utc.replace(tzinfo=None)
    first_day = local_time(at, zone).date()
    starts = {s.start_time.replace(tzinfo=None) for s in period.schedules
              if s.start_time is not None and s.end_time is not None
              and s.start_time != s.end_time}
    if not starts:
        return None
    candidates = set()
    for offset in range(OPENING_HORIZON_DAYS + 1):
        day = date.fromordinal(first_day.toordinal() + offset)
        for moment in (time(0, 0), *starts):
            local = datetime.combine(day, moment).replace(tzinfo=zone)
            candidates.add(local.astimezone(timezone.utc))
    for candidate in sorted(c for c in candidates if c > start_utc):
        if is_open(period, candidate, zone, holidays):
            return candidate.replace(tzinfo=None)
    return None


def business_seconds(period, start: datetime, end: datetime, tz: str | tzinfo | None,
                     holidays: Iterable = ()) -> int:
    """Seconds of [start, end) during which `period` is open (REP-1's business-hours
    times), by the same rules as `is_open`: the schedules on the company's wall clock,
    overnight ranges belonging to the weekday they start on, holidays closing their whole
    local day, an inactive period never open. Naive instants are UTC. No period at all
    (a department without opening hours is always open) counts every second."""
    start, end = local_time(start, timezone.utc), local_time(end, timezone.utc)
    if end <= start:
        return 0
    if period is None:
        return int((end - start).total_seconds())
    if not period.active:
        return 0
    zone = _zone(tz)
    holidays = list(holidays or ())
    first, last = local_time(start, zone).date(), local_time(end, zone).date()
    open_spans: list[tuple[datetime, datetime]] = []
    for ordinal in range(first.toordinal() - 1, last.toordinal() + 1):
        day = date.fromordinal(ordinal)
        for s in period.schedules:
            if s.start_time is None or s.end_time is None or s.start_time == s.end_time:
                continue
            if day.weekday() not in {int(d) for d in (s.weekdays or ())}:
                continue
            begin = s.start_time.replace(tzinfo=None)
            finish = s.end_time.replace(tzinfo=None)
            following = date.fromordinal(ordinal + 1)
            # an overnight range: [start, 24:00) on its day and [00:00, end) on the next
            pieces = ([(day, begin, finish)] if begin < finish
                      else [(day, begin, None), (following, time(0, 0), finish)])
            for piece_day, piece_start, piece_end in pieces:
                if is_holiday(piece_day, holidays):
                    continue
                lo = datetime.combine(piece_day, piece_start).replace(tzinfo=zone)
                hi = (datetime.combine(piece_day, piece_end).replace(tzinfo=zone) if piece_end
                      else datetime.combine(date.fromordinal(piece_day.toordinal() + 1),
                                            time(0, 0)).replace(tzinfo=zone))
                open_spans.append((lo.astimezone(timezone.utc), hi.astimezone(timezone.utc)))
    total, reach = 0.0, start
    for lo, hi in sorted(open_spans):  # union of the spans, clipped to [start, end)
        lo, hi = max(lo, reach), min(hi, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
            reach = hi
    return int(total)
