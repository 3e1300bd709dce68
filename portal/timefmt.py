"""Times written for people: "Thu 3 Dec, 14:00 (Europe/Berlin)".

Pure functions, no clock and no I/O: the caller passes the zone and, where the year
matters, the moment it is now. Every time a customer sees (pages and mails) and staff
output goes through :func:`human_time`, in the customer's zone (the ticket's, else the
provider's: :func:`ticket_zone`).

The rules:

- the moment in the zone, weekday, day, month, 24-hour clock, and the zone's name;
- the year only when it is not the year of ``now`` in that zone (or with
  ``year=True``);
- in the hour a clock change repeats (autumn), the zone's abbreviation too, so the
  two "02:30"s differ: "Sun 25 Oct, 02:30 CET (Europe/Berlin)";
- a naive moment (what a customer typed in the wizard, "When did it happen?") is
  already in the customer's zone and is not converted.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Any

# the `kind` of a detail field (kb.policy.details.DetailField.kind) written as a time
TIME_KINDS = frozenset({"datetime", "date"})


def zone_of(name: str | None, fallback: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``, else ``fallback`` (a zone the policy declares)."""
    for candidate in (name, fallback):
        if candidate:
            try:
                return zoneinfo.ZoneInfo(candidate)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


def ticket_zone(snapshot: Mapping[str, Any] | None, provider_zone: str) -> str:
    """The customer's zone as stored on a ticket (``plan_snapshot["tz"]``, chosen in the
    wizard), else the provider's."""
    name = str((snapshot or {}).get("tz") or "")
    return str(zone_of(name, provider_zone))


def _repeated_hour(local: dt.datetime) -> bool:
    """Whether the wall-clock time occurs twice (the hour a clock change repeats)."""
    other = local.replace(fold=1 - local.fold)
    return other.utcoffset() != local.utcoffset()


def human_time(
    moment: dt.datetime,
    zone: str,
    *,
    now: dt.datetime | None = None,
    year: bool = False,
) -> str:
    """``moment`` in ``zone`` for people, e.g. "Thu 3 Dec, 14:00 (Europe/Berlin)".

    An aware moment is converted; a naive one is taken as already in ``zone``. The year
    is shown when ``now`` (in ``zone``) is in another year, or always with ``year=True``."""
    tz = zone_of(zone, "UTC")
    local = moment.astimezone(tz) if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    show_year = year or (now is not None and now.astimezone(tz).year != local.year)
    day = f"{local:%a} {local.day} {local:%b}" + (f" {local.year}" if show_year else "")
    clock = f"{local:%H:%M}"
    if moment.tzinfo is not None and _repeated_hour(local):
        clock += f" {local.tzname()}"
    return f"{day}, {clock} ({tz.key})"


def human_date(day: dt.date, *, now: dt.date | None = None) -> str:
    """A calendar day for people, e.g. "Thu 3 Dec" (with the year when it is not
    ``now``'s year)."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text + (f" {day.year}" if now is not None and now.year != day.year else "")


def human_detail(
    kind: str, value: str, zone: str, *, now: dt.datetime | None = None, year: bool = False
) -> str:
    """A detail the customer typed, as they read it back: a ``datetime`` detail
    ("2026-12-01T20:51", in the customer's zone) becomes "Tue 1 Dec, 20:51
    (Europe/Berlin)", a ``date`` detail "Thu 3 Dec"; anything else (or text that is not
    such a value) is returned unchanged."""
    text = value.strip()
    try:
        if kind == "datetime":
            moment = dt.datetime.fromisoformat(text)
            return human_time(moment, zone, now=now, year=year)
        if kind == "date":
            day = dt.date.fromisoformat(text)
            if year:
                return f"{human_date(day)} {day.year}"
            today = now.astimezone(zone_of(zone, "UTC")).date() if now is not None else None
            return human_date(day, now=today)
    except ValueError:
        return value
    return value
