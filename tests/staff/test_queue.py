"""The queue's filters, counts and order: pure functions, tables of cases."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from kb.policy import Policy, load_policy
from portal.staff import queue
from portal.staff.queue import Filters, Row
from tests.support.paths import CONTENT

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # a Wednesday
H = dt.timedelta(hours=1)
ME, OTHER = 1, 2


@pytest.fixture(scope="module")
def policy() -> Policy:
    loaded, problems = load_policy(CONTENT / "policy.yaml")
    assert loaded is not None and not problems
    return loaded


def row(number: str, **kw: object) -> Row:
    base: dict[str, object] = {
        "number": number,
        "title": "t",
        "account": "HH-10234",
        "plan": "standard",
        "status": "open",
        "priority": "high",
        "request_type": "email-not-working",
        "created_at": NOW - 2 * H,
        "updated_at": NOW - 2 * H,
    }
    base.update(kw)
    return Row(**base)  # type: ignore[arg-type]


ROWS = [
    row("OVERDUE", due_at=NOW - H, hours_left=-1.0, assigned_to=ME),
    row("SOON", due_at=NOW + 2 * H, hours_left=2.0, emergency_claimed=True),
    row(
        "EMERGENCY",
        due_at=NOW + 3 * H,
        hours_left=3.0,
        emergency_claimed=True,
        emergency_accepted=True,
        priority="blocker",
        assigned_to=OTHER,
    ),
    row("REPLIED", answered=True, customer_replied=True, account="HH-20417", upstream=True),
    row("ANSWERED", answered=True, due_at=NOW - 5 * H, hours_left=-5.0),
    row("CLOSED", status="completed", due_at=NOW - H, hours_left=-1.0),
    row("NODUE", request_type="dns-change", priority="low"),
]


def numbers(rows: list[Row]) -> list[str]:
    return [r.number for r in rows]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(), ["OVERDUE", "SOON", "EMERGENCY", "NODUE", "REPLIED", "ANSWERED"]),
        (
            Filters(status="all"),
            ["OVERDUE", "SOON", "EMERGENCY", "NODUE", "REPLIED", "ANSWERED", "CLOSED"],
        ),
        (Filters(status="completed"), ["CLOSED"]),
        (Filters(overdue=True), ["OVERDUE"]),  # answered and closed tickets are not overdue
        (Filters(due_within=2), ["SOON"]),
        (Filters(due_within=3), ["SOON", "EMERGENCY"]),
        (Filters(emergency="claimed"), ["SOON", "EMERGENCY"]),
        (Filters(emergency="accepted"), ["EMERGENCY"]),
        (Filters(priority="blocker"), ["EMERGENCY"]),
        (Filters(replied=True), ["REPLIED"]),
        (Filters(assigned="me"), ["OVERDUE"]),
        (Filters(assigned="none"), ["SOON", "NODUE", "REPLIED", "ANSWERED"]),
        (Filters(account="hh-20417"), ["REPLIED"]),
        (Filters(request_type="dns-change"), ["NODUE"]),
        (Filters(upstream=True), ["REPLIED"]),
        (Filters(emergency="claimed", assigned="none"), ["SOON"]),
    ],
)
def test_filters(filters: Filters, expected: list[str]) -> None:
    assert numbers(queue.select_rows(ROWS, filters, me=ME, now=NOW)) == expected


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # fewer support hours left first; overdue before anything due
        ([row("B", due_at=NOW, hours_left=5.0), row("A", due_at=NOW, hours_left=-2.0)], ["A", "B"]),
        # within the same support hour the plan's precedence decides (priority plan: 1)
        (
            [
                row("STD", due_at=NOW, hours_left=1.2, plan="standard", precedence=2),
                row("PRIO", due_at=NOW, hours_left=1.9, plan="priority", precedence=1),
            ],
            ["PRIO", "STD"],
        ),
        # a plan with no stated precedence comes after those with one
        (
            [
                row("NONE", due_at=NOW, hours_left=1.1, precedence=None),
                row("TWO", due_at=NOW, hours_left=1.5, precedence=2),
            ],
            ["TWO", "NONE"],
        ),
        # then priority, then age
        (
            [
                row("LOW", due_at=NOW, hours_left=1.0, precedence=2, priority_rank=3),
                row("HIGH", due_at=NOW, hours_left=1.0, precedence=2, priority_rank=1),
                row(
                    "OLDER",
                    due_at=NOW,
                    hours_left=1.0,
                    precedence=2,
                    priority_rank=1,
                    created_at=NOW - 9 * H,
                ),
            ],
            ["OLDER", "HIGH", "LOW"],
        ),
        # no due time after the due ones; answered last, the customer's reply first
        (
            [
                row("ANSWERED", answered=True),
                row("REPLIED", answered=True, customer_replied=True),
                row("NODUE"),
                row("DUE", due_at=NOW, hours_left=40.0),
            ],
            ["DUE", "NODUE", "REPLIED", "ANSWERED"],
        ),
    ],
)
def test_order(rows: list[Row], expected: list[str]) -> None:
    assert numbers(queue.order(rows)) == expected


def test_counts_per_filter_keep_the_other_filters(policy: Policy) -> None:
    counts = queue.facet_counts(ROWS, Filters(), policy, me=ME, now=NOW)
    assert counts["overdue"] == 1
    assert counts["due_within"] == 2  # the default window, 4 hours: SOON and EMERGENCY
    assert counts["emergency:claimed"] == 2
    assert counts["replied"] == 1
    assert counts["assigned:me"] == 1 and counts["assigned:none"] == 4
    assert counts["status:all"] == 7 and counts["status:active"] == 6
    assert counts["status:completed"] == 1
    assert counts["priority:blocker"] == 1
    # with a filter on, the other counts are within it; its own dimension is replaced
    narrowed = queue.facet_counts(ROWS, Filters(emergency="claimed"), policy, me=ME, now=NOW)
    assert narrowed["assigned:none"] == 1
    assert narrowed["emergency:accepted"] == 1
    assert narrowed["status:all"] == 2


@pytest.mark.parametrize(
    ("params", "changed", "errors"),
    [
        ({}, {}, set()),
        ({"status": "waiting_for_customer"}, {"status": "waiting_for_customer"}, set()),
        ({"status": "bogus"}, {}, {"status"}),
        ({"priority": "blocker", "overdue": "1"}, {"priority": "blocker", "overdue": True}, set()),
        ({"priority": "urgent!"}, {}, {"priority"}),
        ({"due_within": "8"}, {"due_within": 8}, set()),
        ({"due_within": "0"}, {}, {"due_within"}),
        ({"due_within": "soon"}, {}, {"due_within"}),
        ({"request_type": "no-such-type"}, {}, {"request_type"}),
        ({"assigned": "me", "replied": "on"}, {"assigned": "me", "replied": True}, set()),
        ({"account": "  HH-10234 "}, {"account": "HH-10234"}, set()),
        (
            {"upstream": "1", "emergency": "accepted"},
            {"upstream": True, "emergency": "accepted"},
            set(),
        ),
    ],
)
def test_parse_filters(
    policy: Policy, params: dict[str, str], changed: dict[str, object], errors: set[str]
) -> None:
    filters, problems = queue.parse_filters(params, policy)
    assert filters == dataclasses.replace(Filters(), **changed)  # type: ignore[arg-type]
    assert set(problems) == errors
    # the filters go back into links unchanged
    again, _ = queue.parse_filters(filters.query(), policy)
    assert again == filters


def test_time_left_counts_only_support_hours(policy: Policy) -> None:
    calendar = queue.calendar_of(policy, "standard", {}, emergency=False)
    assert calendar is not None and not calendar.always_open
    friday_evening = dt.datetime(2026, 12, 4, 17, 0, tzinfo=dt.UTC)
    monday_morning = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
    # over a weekend only a few support hours pass, not 64 clock hours
    left = queue.support_hours_left(calendar, monday_morning, friday_evening)
    assert left is not None and 0 < left < 10
    # overdue: negative, at least a minute even when no support hour has passed since
    late = queue.support_hours_left(calendar, friday_evening, friday_evening + 3 * H)
    assert late is not None and late < 0
    assert queue.support_hours_left(None, NOW + 90 * dt.timedelta(minutes=1), NOW) == 1.5
    assert queue.support_hours_left(calendar, None, NOW) is None


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (None, "no due time"),
        (2.5, "2 h 30 min left"),
        (0.25, "15 min left"),
        (-1.0, "overdue by 1 h 0 min"),
    ],
)
def test_describe_hours(hours: float | None, text: str) -> None:
    assert queue.describe_hours(hours) == text


# --- pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "asked", "number", "pages", "first", "last"),
    [
        (0, 1, 1, 1, 0, 0),  # nothing matches: one empty page
        (3, 1, 1, 1, 1, 3),
        (50, 1, 1, 1, 1, 50),
        (51, 1, 1, 2, 1, 50),
        (51, 2, 2, 2, 51, 51),
        (120, 3, 3, 3, 101, 120),
        (120, 9, 3, 3, 101, 120),  # past the end (tickets closed since): the last page
        (120, 0, 1, 3, 1, 50),
    ],
)
def test_paginate(total: int, asked: int, number: int, pages: int, first: int, last: int) -> None:
    rows = [row(f"R{i:03}") for i in range(total)]
    page = queue.paginate(rows, asked)
    assert (page.number, page.pages, page.total) == (number, pages, total)
    assert (page.first, page.last) == (first, last)
    assert numbers(page.rows) == numbers(rows[first - 1 : last] if total else [])


@pytest.mark.parametrize(
    ("current", "pages", "expected"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (1, 8, [1, 2, 3, None, 8]),
        (5, 8, [1, None, 3, 4, 5, 6, 7, 8]),
        (4, 8, [1, 2, 3, 4, 5, 6, None, 8]),
        (50, 100, [1, None, 48, 49, 50, 51, 52, None, 100]),
    ],
)
def test_page_numbers(current: int, pages: int, expected: list[int | None]) -> None:
    assert queue.page_numbers(current, pages) == expected


@pytest.mark.parametrize(
    ("params", "number", "error"),
    [
        ({}, 1, False),
        ({"page": "3"}, 3, False),
        ({"page": " 2 "}, 2, False),
        ({"page": "0"}, 1, True),
        ({"page": "-1"}, 1, True),
        ({"page": "two"}, 1, True),
        ({"page": "99999999"}, 1, True),
    ],
)
def test_parse_page(params: dict[str, str], number: int, error: bool) -> None:
    got, problem = queue.parse_page(params)
    assert got == number and bool(problem) is error
