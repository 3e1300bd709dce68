"""Times for people (portal/timefmt.py): a table of moments, zones and what the
customer reads — zones, DST transitions, midnight, the year change."""

from __future__ import annotations

import datetime as dt

import pytest

from portal.timefmt import human_date, human_detail, human_time, ticket_zone, zone_of

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        # the example: 13:00 UTC is 14:00 in Berlin in winter
        (utc("2026-12-03 13:00"), "Europe/Berlin", "Thu 3 Dec, 14:00 (Europe/Berlin)"),
        (utc("2026-12-03 13:00"), "UTC", "Thu 3 Dec, 13:00 (UTC)"),
        (utc("2026-12-03 13:00"), "America/New_York", "Thu 3 Dec, 08:00 (America/New_York)"),
        (utc("2026-12-03 13:00"), "Asia/Kolkata", "Thu 3 Dec, 18:30 (Asia/Kolkata)"),
        (utc("2026-12-03 13:00"), "Asia/Kathmandu", "Thu 3 Dec, 18:45 (Asia/Kathmandu)"),
        # midnight: the local day, not UTC's
        (utc("2026-12-03 23:00"), "Europe/Berlin", "Fri 4 Dec, 00:00 (Europe/Berlin)"),
        (utc("2026-12-04 04:59"), "America/New_York", "Thu 3 Dec, 23:59 (America/New_York)"),
        (utc("2026-12-03 10:00"), "Pacific/Auckland", "Thu 3 Dec, 23:00 (Pacific/Auckland)"),
        (utc("2026-12-03 11:00"), "Pacific/Auckland", "Fri 4 Dec, 00:00 (Pacific/Auckland)"),
        # summer time: Berlin is UTC+2 from 29 March 2026
        (utc("2026-03-29 00:59"), "Europe/Berlin", "Sun 29 Mar, 01:59 (Europe/Berlin)"),
        (utc("2026-03-29 01:00"), "Europe/Berlin", "Sun 29 Mar, 03:00 (Europe/Berlin)"),
        (utc("2026-07-01 12:00"), "Europe/Berlin", "Wed 1 Jul, 14:00 (Europe/Berlin)"),
        # the autumn hour that repeats: both 02:30s say which one they are
        (utc("2026-10-25 00:30"), "Europe/Berlin", "Sun 25 Oct, 02:30 CEST (Europe/Berlin)"),
        (utc("2026-10-25 01:30"), "Europe/Berlin", "Sun 25 Oct, 02:30 CET (Europe/Berlin)"),
        (utc("2026-10-25 02:30"), "Europe/Berlin", "Sun 25 Oct, 03:30 (Europe/Berlin)"),
        (utc("2026-11-01 05:30"), "America/New_York", "Sun 1 Nov, 01:30 EDT (America/New_York)"),
        (utc("2026-11-01 06:30"), "America/New_York", "Sun 1 Nov, 01:30 EST (America/New_York)"),
        # the year change: the year appears once the moment is in another year than now
        (utc("2026-12-31 22:59"), "Europe/Berlin", "Thu 31 Dec, 23:59 (Europe/Berlin)"),
        (utc("2026-12-31 23:00"), "Europe/Berlin", "Fri 1 Jan 2027, 00:00 (Europe/Berlin)"),
        (utc("2027-01-01 03:00"), "America/Los_Angeles", "Thu 31 Dec, 19:00 (America/Los_Angeles)"),
        (utc("2025-12-30 09:00"), "Europe/Berlin", "Tue 30 Dec 2025, 10:00 (Europe/Berlin)"),
        # an unknown zone never fails a page: UTC, named
        (utc("2026-12-03 13:00"), "Mars/Olympus", "Thu 3 Dec, 13:00 (UTC)"),
    ],
)
def test_human_time(moment: dt.datetime, zone: str, expected: str) -> None:
    assert human_time(moment, zone, now=NOW) == expected


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # on New Year's Eve in UTC it is already 2027 in Auckland: 2026 gets its year
        (utc("2026-12-31 12:00"), "Pacific/Auckland", "Wed 30 Dec 2026, 14:00 (Pacific/Auckland)"),
        (utc("2026-12-31 12:00"), "Europe/Berlin", "Wed 30 Dec, 02:00 (Europe/Berlin)"),
    ],
)
def test_the_year_is_now_s_year_in_the_customer_s_zone(
    now: dt.datetime, zone: str, expected: str
) -> None:
    moment = utc("2026-12-30 01:00")
    assert human_time(moment, zone, now=now) == expected


def test_the_year_on_request_and_without_now() -> None:
    moment = utc("2026-12-03 13:00")
    assert human_time(moment, "Europe/Berlin", year=True) == "Thu 3 Dec 2026, 14:00 (Europe/Berlin)"
    assert human_time(moment, "Europe/Berlin") == "Thu 3 Dec, 14:00 (Europe/Berlin)"


def test_a_naive_moment_is_already_in_the_zone() -> None:
    typed = dt.datetime(2026, 12, 1, 20, 51)
    assert human_time(typed, "Europe/Berlin", now=NOW) == "Tue 1 Dec, 20:51 (Europe/Berlin)"
    # typed in the repeated hour: no abbreviation can be known, none is made up
    repeated = dt.datetime(2026, 10, 25, 2, 30)
    assert human_time(repeated, "Europe/Berlin", now=NOW) == "Sun 25 Oct, 02:30 (Europe/Berlin)"


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("datetime", "2026-12-01T20:51", "Tue 1 Dec, 20:51 (Europe/Berlin)"),
        ("datetime", "2025-12-31T23:59", "Wed 31 Dec 2025, 23:59 (Europe/Berlin)"),
        ("datetime", "yesterday evening", "yesterday evening"),
        ("date", "2026-12-24", "Thu 24 Dec"),
        ("date", "2027-01-04", "Mon 4 Jan 2027"),
        ("date", "24.12.", "24.12."),
        ("text", "2026-12-01T20:51", "2026-12-01T20:51"),
        ("textarea", "anything", "anything"),
    ],
)
def test_human_detail(kind: str, value: str, expected: str) -> None:
    assert human_detail(kind, value, "Europe/Berlin", now=NOW) == expected


def test_human_date() -> None:
    assert human_date(dt.date(2026, 12, 3)) == "Thu 3 Dec"
    assert human_date(dt.date(2027, 1, 1), now=dt.date(2026, 12, 31)) == "Fri 1 Jan 2027"


@pytest.mark.parametrize(
    ("snapshot", "provider", "expected"),
    [
        ({"tz": "Asia/Tokyo"}, "Europe/Berlin", "Asia/Tokyo"),
        ({"tz": ""}, "Europe/Berlin", "Europe/Berlin"),
        ({}, "Europe/Berlin", "Europe/Berlin"),
        (None, "Europe/Berlin", "Europe/Berlin"),
        ({"tz": "Not/AZone"}, "Europe/Berlin", "Europe/Berlin"),
    ],
)
def test_the_ticket_s_zone_defaults_to_the_provider_s(
    snapshot: dict[str, str] | None, provider: str, expected: str
) -> None:
    assert ticket_zone(snapshot, provider) == expected
    assert str(zone_of(expected, "UTC")) == expected
