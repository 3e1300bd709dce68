"""Support-hours arithmetic: open windows, holidays, and adding business hours.

All functions are pure (the holiday tables come from the ``holidays`` package's data).
Arithmetic is done in UTC, so daylight-saving changes shorten or lengthen a day's
window exactly as the wall clock does.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from kb.policy.model import Calendar, Window

UTC = dt.UTC
MAX_DAYS = 800  # a calendar with no open hours in two years is unusable


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str | None, year: int) -> dict[dt.date, str]:
    table = holidays_lib.country_holidays(country, subdiv=subdivision, years=year)
    return dict(table.items())


def holiday_name(calendar: Calendar, day: dt.date) -> str | None:
    """The name of the holiday on ``day`` in this calendar, or None."""
    for extra in calendar.extra_closed:
        if extra == day.isoformat() or extra == day.strftime("%m-%d"):
            return "Office closed"
    if calendar.holiday_country:
        table = _country_holidays(calendar.holiday_country, calendar.holiday_subdivision, day.year)
        return table.get(day)
    return None


def _local(day: dt.date, minutes: int, tz: ZoneInfo) -> dt.datetime:
    """The instant a wall-clock time happens on ``day``; a time that does not exist
    (inside a daylight-saving gap) becomes the moment the clocks jump forward."""
    if minutes >= 1440:
        day, minutes = day + dt.timedelta(days=1), minutes - 1440
    wall = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    early = wall.astimezone(UTC)  # fold=0: read with the offset before a transition
    late = wall.replace(fold=1).astimezone(UTC)  # fold=1: with the offset after it
    if late >= early:
        return wall  # an ordinary or an ambiguous (repeated) time: the first occurrence
    # in a gap: the transition lies in (late, early]; find it to the second
    lo, hi = late, early
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == late.astimezone(tz).utcoffset():
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0).astimezone(tz)


def windows_on(calendar: Calendar, day: dt.date) -> tuple[Window, ...]:
    if calendar.has_holidays and holiday_name(calendar, day):
        return calendar.holiday_hours
    return calendar.weekly[day.weekday()]


def open_intervals(calendar: Calendar, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    """The calendar's open intervals on a local date, as aware UTC datetimes."""
    tz = ZoneInfo(calendar.timezone)
    result = []
    for w in windows_on(calendar, day):
        start = _local(day, w.start, tz).astimezone(UTC)
        end = _local(day, w.end, tz).astimezone(UTC)
        if end > start:
            result.append((start, end))
    return result


def _require_aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a time zone-aware datetime is required")
    return moment.astimezone(UTC)


def is_open(calendar: Calendar, moment: dt.datetime) -> bool:
    t = _require_aware(moment)
    local_day = t.astimezone(ZoneInfo(calendar.timezone)).date()
    return any(s <= t < e for s, e in open_intervals(calendar, local_day))


def add_business_hours(calendar: Calendar, start: dt.datetime, hours: float) -> dt.datetime:
    """The moment ``hours`` of open time after ``start`` (in the calendar's time zone).

    With ``hours == 0`` this is the next moment support is open (``start`` itself when
    open). Raises ValueError when the calendar has no open hours in ``MAX_DAYS``.
    """
    if hours < 0:
        raise ValueError("hours must not be negative")
    if not calendar.published:
        raise ValueError(f"calendar '{calendar.id}' has no published hours")
    tz = ZoneInfo(calendar.timezone)
    t = _require_aware(start)
    remaining = dt.timedelta(hours=hours)
    day = t.astimezone(tz).date()
    for _ in range(MAX_DAYS):
        for opens, closes in open_intervals(calendar, day):
            if closes <= t:
                continue
            begin = max(opens, t)
            available = closes - begin
            if available >= remaining:
                return (begin + remaining).astimezone(tz)
            remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError(f"calendar '{calendar.id}' has no open hours")


def next_open(calendar: Calendar, moment: dt.datetime) -> dt.datetime | None:
    """When support is next open: ``moment`` itself when open now, else the start of the
    next open window (in the calendar's zone). None when the calendar publishes no hours
    or is never open."""
    if not calendar.published:
        return None
    try:
        return add_business_hours(calendar, moment, 0)
    except ValueError:
        return None


@dataclass(frozen=True)
class ClosedDay:
    """A holiday of a calendar: its date, name and the hours that replace the usual ones
    (``()``: closed all day)."""

    day: dt.date
    name: str
    hours: tuple[Window, ...]

    def describe(self) -> str:
        return f"{self.day:%a} {self.day.day} {self.day:%b %Y} ({self.name})"


def holidays_between(calendar: Calendar, first: dt.date, days: int = 365) -> list[ClosedDay]:
    """The holidays of a calendar from ``first`` for ``days`` days: the public holidays
    of its country (as the ``holidays`` package lists them, so none for Ukraine since
    2022) and its extra dates, each with the hours that apply then."""
    found = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        name = holiday_name(calendar, day) if calendar.has_holidays else None
        if name:
            found.append(ClosedDay(day, name, calendar.holiday_hours))
    return found


def holiday_hours_text(calendar: Calendar) -> str:
    """The hours on holidays, e.g. '03:00–16:00', 'closed' or '24 hours'."""
    if not calendar.holiday_hours:
        return "closed"
    if calendar.holiday_hours == (Window(0, 1440),):
        return "24 hours"
    return ", ".join(w.describe() for w in calendar.holiday_hours)


def describe_holidays_ahead(calendar: Calendar, today: dt.date, days: int = 365) -> str:
    """The holidays of the next ``days`` days as customers read them: the dates and
    their hours, or that there are none. Empty when the calendar has no holidays."""
    if not calendar.has_holidays:
        return ""
    rule = describe_holidays(calendar)
    ahead = holidays_between(calendar, today, days)
    period = "the next 12 months" if days == 365 else f"the next {days} days"
    hours = holiday_hours_text(calendar)
    if not ahead:
        return f"No holidays in {period} ({rule}; on holidays: {hours})."
    dates = "; ".join(d.describe() for d in ahead)
    opening = "Closed on" if not calendar.holiday_hours else f"Open {hours} on"
    return f"{opening} {dates} ({rule})."


def business_hours_between(calendar: Calendar, start: dt.datetime, end: dt.datetime) -> float:
    """Open hours between two moments (0 when end <= start)."""
    a, b = _require_aware(start), _require_aware(end)
    if b <= a:
        return 0.0
    tz = ZoneInfo(calendar.timezone)
    total = dt.timedelta()
    day = a.astimezone(tz).date()
    last = b.astimezone(tz).date()
    while day <= last:
        for opens, closes in open_intervals(calendar, day):
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += hi - lo
        day += dt.timedelta(days=1)
    return total.total_seconds() / 3600


def describe_holidays(calendar: Calendar) -> str:
    parts = []
    if calendar.holiday_country:
        name = _country_name(calendar.holiday_country)
        parts.append(f"public holidays in {name}")
    for extra in calendar.extra_closed:
        if len(extra) == 5:
            parts.append(dt.date(2000, int(extra[:2]), int(extra[3:])).strftime("%-d %B"))
        else:
            parts.append(dt.date.fromisoformat(extra).strftime("%-d %B %Y"))
    if not parts:
        return ""
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def _country_name(code: str) -> str:
    try:
        from babel import Locale

        return str(Locale("en").territories.get(code, code))
    except Exception:  # pragma: no cover - babel data missing
        return code
