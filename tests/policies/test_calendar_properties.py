"""Property tests for kb.policy.calendar.add_business_hours.

They run over every calendar of the demo policy (content/policy.yaml) and of the example
packs (examples/*/policy.yaml): office hours, extended hours with holiday hours,
weekend-only windows, Ukrainian, Lithuanian, German and US holidays, and 24x7 calendars.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kb.policy import load_policy
from kb.policy.calendar import (
    add_business_hours,
    business_hours_between,
    is_open,
    open_intervals,
)
from kb.policy.model import Calendar, Window

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "policy": ROOT / "content" / "policy.yaml",
    **{path.parent.name: path for path in sorted((ROOT / "examples").glob("*/policy.yaml"))},
}
UTC = dt.UTC
ONE_SECOND_IN_HOURS = 1 / 3600

BOUNDED = settings(max_examples=150, deadline=None, database=None)


@functools.cache
def all_calendars() -> dict[str, Calendar]:
    calendars = {}
    for name, path in SOURCES.items():
        policy, problems = load_policy(path)
        assert policy is not None, problems
        # only the calendars matter here; the pack tests check the rest of each file
        assert [p for p in problems if "calendars" in p.message] == []
        for cid, calendar in policy.calendars.items():
            if calendar.published:  # a calendar without published hours counts nothing
                calendars[f"{name}:{cid}"] = calendar
    return calendars


def test_the_calendar_set_is_complete() -> None:
    names = set(all_calendars())
    assert {"policy:office", "policy:extended", "policy:always"} <= names
    assert {"hsphere:regular", "hsphere:priority", "kolmisoft:skype"} <= names
    assert {"itpossible:always", "kolmisoft:always"} <= names
    # calendars whose hours are not published are left out: nothing is counted on them
    assert not {"hsphere-reseller:office", "kolmisoft:working"} & names


calendars = st.sampled_from(sorted(all_calendars())).map(lambda name: all_calendars()[name])
zones = st.sampled_from(
    [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")]
)
# 2021 has Ukrainian holidays in the holidays package; later years do not (martial law)
moments = st.builds(
    lambda base, zone: base.replace(tzinfo=UTC).astimezone(zone),
    st.datetimes(min_value=dt.datetime(2021, 1, 1), max_value=dt.datetime(2027, 6, 30)),
    zones,
)
hours = st.one_of(
    st.integers(min_value=0, max_value=120).map(float),
    st.floats(min_value=0, max_value=120, allow_nan=False, allow_infinity=False),
)

# the 2026 daylight-saving changes, as UTC instants
DST_CHANGES = [
    dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # America/New_York springs forward
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Europe/Berlin (and Vilnius) spring forward
    dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Europe/Berlin (and Vilnius) fall back
    dt.datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # America/New_York falls back
]
near_dst = st.builds(
    lambda change, minutes, zone: (change + dt.timedelta(minutes=minutes)).astimezone(zone),
    st.sampled_from(DST_CHANGES),
    st.integers(min_value=-4 * 24 * 60, max_value=4 * 24 * 60),
    zones,
)


def local_date(calendar: Calendar, moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(calendar.timezone)).date()


def within_open_time(calendar: Calendar, moment: dt.datetime) -> bool:
    """Inside an open interval, or exactly at its end (an interval may end at midnight,
    which belongs to the next local date)."""
    day = local_date(calendar, moment)
    intervals = [
        *open_intervals(calendar, day - dt.timedelta(days=1)),
        *open_intervals(calendar, day),
    ]
    return any(start <= moment <= end for start, end in intervals)


def later_than(start: dt.datetime, seconds: int) -> dt.datetime:
    """``seconds`` of real time after ``start``, in the same zone. (Adding a timedelta to
    an aware datetime is wall-clock arithmetic and drops ``fold``, so go through UTC.)"""
    assert start.tzinfo is not None
    return (start.astimezone(UTC) + dt.timedelta(seconds=seconds)).astimezone(start.tzinfo)


def check_due(calendar: Calendar, start: dt.datetime, amount: float) -> dt.datetime:
    due = add_business_hours(calendar, start, amount)
    assert due.tzinfo is not None
    assert due.utcoffset() == ZoneInfo(calendar.timezone).utcoffset(due.replace(tzinfo=None))
    assert due >= start
    assert within_open_time(calendar, due), f"{due} is in closed time"
    assert abs(business_hours_between(calendar, start, due) - amount) < ONE_SECOND_IN_HOURS
    if amount == 0 and is_open(calendar, start):
        # compare in UTC: '==' between zones is always False for a repeated (fold) time
        assert due.astimezone(UTC) == start.astimezone(UTC)
    return due


@BOUNDED
@given(calendar=calendars, start=moments, amount=hours)
def test_due_is_in_open_time_and_counts_exactly_the_hours(
    calendar: Calendar, start: dt.datetime, amount: float
) -> None:
    check_due(calendar, start, amount)


@BOUNDED
@given(
    calendar=calendars,
    start=moments,
    later_by=st.integers(min_value=0, max_value=10 * 24 * 3600),
    amount=hours,
)
def test_due_is_monotonic_in_filing_time(
    calendar: Calendar, start: dt.datetime, later_by: int, amount: float
) -> None:
    later = later_than(start, later_by)
    assert add_business_hours(calendar, start, amount) <= add_business_hours(
        calendar, later, amount
    )


@BOUNDED
@given(calendar=calendars, start=moments, a=hours, b=hours)
def test_due_is_monotonic_in_hours(
    calendar: Calendar, start: dt.datetime, a: float, b: float
) -> None:
    low, high = sorted((a, b))
    assert add_business_hours(calendar, start, low) <= add_business_hours(calendar, start, high)


@BOUNDED
@given(calendar=calendars, start=near_dst, amount=hours)
def test_dst_changes_keep_every_property(
    calendar: Calendar, start: dt.datetime, amount: float
) -> None:
    due = check_due(calendar, start, amount)
    if calendar.always_open:
        # around the clock, business hours are real elapsed hours, 23- and 25-hour days too
        # (subtract in UTC: between datetimes of one zone '-' is wall-clock arithmetic)
        elapsed = due.astimezone(UTC) - start.astimezone(UTC)
        assert abs(elapsed.total_seconds() - amount * 3600) < 1


@BOUNDED
@given(calendar=calendars, start=near_dst, later_by=st.integers(0, 3 * 24 * 3600), amount=hours)
def test_dst_changes_keep_monotonicity(
    calendar: Calendar, start: dt.datetime, later_by: int, amount: float
) -> None:
    later = later_than(start, later_by)
    assert add_business_hours(calendar, start, amount) <= add_business_hours(
        calendar, later, amount
    )


# --- concrete DST examples: opening hours follow the local wall clock -----------------------


BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("calendar", "start", "amount", "due"),
    [
        pytest.param(
            "policy:office",
            dt.datetime(2026, 3, 27, 17, 30, tzinfo=BERLIN),
            1,
            dt.datetime(2026, 3, 30, 8, 30, tzinfo=BERLIN),
            id="berlin-office-friday-before-spring-forward",
        ),
        pytest.param(
            "policy:extended",
            dt.datetime(2026, 10, 24, 21, 30, tzinfo=BERLIN),
            1,
            dt.datetime(2026, 10, 25, 7, 30, tzinfo=BERLIN),
            id="berlin-extended-over-the-25-hour-night",
        ),
        pytest.param(
            "hsphere:priority",
            dt.datetime(2026, 3, 7, 15, 0, tzinfo=NEW_YORK),
            2,
            dt.datetime(2026, 3, 8, 4, 0, tzinfo=NEW_YORK),
            id="new-york-weekend-hours-on-the-spring-forward-sunday",
        ),
        pytest.param(
            "hsphere:priority",
            dt.datetime(2026, 10, 31, 15, 0, tzinfo=NEW_YORK),
            2,
            dt.datetime(2026, 11, 1, 4, 0, tzinfo=NEW_YORK),
            id="new-york-weekend-hours-on-the-fall-back-sunday",
        ),
        pytest.param(
            "policy:always",
            dt.datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN),
            1,
            dt.datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN),
            id="berlin-24x7-one-real-hour-skips-the-missing-clock-hour",
        ),
    ],
)
def test_dst_examples(calendar: str, start: dt.datetime, amount: float, due: dt.datetime) -> None:
    result = add_business_hours(all_calendars()[calendar], start, amount)
    assert result.astimezone(UTC) == due.astimezone(UTC)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone-aware"):
        add_business_hours(all_calendars()["policy:office"], dt.datetime(2026, 1, 5, 9), 1)


# --- windows that start or end inside the spring-forward gap -------------------------


def _daily(start: int, end: int) -> Calendar:
    return Calendar("gap", "Gap", "Europe/Berlin", tuple([(Window(start, end),)] * 7))


# windows that start or end inside the spring-forward gap begin or end when the clock
# jumps (a local time that does not exist must not shift the boundary by an hour)
@pytest.mark.parametrize(
    ("window", "expected"),
    [
        pytest.param(
            (150, 240),  # 02:30-04:00: opens when the clock jumps to 03:00
            (
                dt.datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN),
                dt.datetime(2026, 3, 29, 4, 0, tzinfo=BERLIN),
            ),
            id="window-starting-in-the-gap",
        ),
        pytest.param(
            (0, 150),  # 00:00-02:30: closes when the clock jumps past 02:30
            (
                dt.datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN),
                dt.datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN),
            ),
            id="window-ending-in-the-gap",
        ),
    ],
)
def test_window_boundaries_inside_the_dst_gap(
    window: tuple[int, int], expected: tuple[dt.datetime, dt.datetime]
) -> None:
    (interval,) = open_intervals(_daily(*window), dt.date(2026, 3, 29))
    assert interval == tuple(moment.astimezone(UTC) for moment in expected)
