"""The staff queue's filters, counts and order: pure functions on ``Row`` (one ticket
as the queue sees it), tested with tables of cases. ``portal.staff.queries`` loads
the rows.

Order: tickets still waiting for their first response come first, by the support
hours left until the first response is due (whole hours, overdue first: the hours are
counted on the ticket's plan calendar, its emergency calendar for an accepted
emergency), then by the plan's precedence in the policy (1 first; plans without one
last), then priority (most urgent first), then age. Tickets with no due time follow,
then answered ones (the customer's reply first, the longest waiting first), then
closed ones (in the views that show them).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kb.policy import Policy
from kb.policy.calendar import business_hours_between
from kb.policy.model import Calendar
from portal.tickets.states import CLOSED, STATUSES

ACTIVE = "active"  # every status but the closed ones
ALL = "all"
STATUS_CHOICES = (ACTIVE, *STATUSES, ALL)
EMERGENCY_CHOICES = ("", "claimed", "accepted")
ASSIGNED_CHOICES = ("", "me", "none")
MAX_DUE_HOURS = 24 * 30
PAGE_SIZE = 50  # tickets per page of the queue (the counts are over all of them)
MAX_PAGE = 10_000


@dataclass(frozen=True)
class Row:
    number: str
    title: str
    account: str
    plan: str
    status: str
    priority: str
    request_type: str
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime | None = None
    hours_left: float | None = None  # support hours until due; negative: overdue
    precedence: int | None = None  # the plan's place in the queue (1 first)
    priority_rank: int = 99  # 0 = most urgent
    emergency_claimed: bool = False
    emergency_accepted: bool = False
    answered: bool = False  # staff replied or changed the status (the first response)
    customer_replied: bool = False  # the customer wrote since the last staff reply
    # who wrote the newest internal note since the last staff reply ("upstream": the
    # upstream provider answered by mail; "staff"), "" when none
    noted: str = ""
    assigned_to: int | None = None
    upstream: bool = False

    @property
    def closed(self) -> bool:
        return self.status in CLOSED

    @property
    def upstream_answered(self) -> bool:
        return self.noted == "upstream"

    def overdue(self, now: dt.datetime) -> bool:
        return (
            not self.closed and not self.answered and self.due_at is not None and self.due_at <= now
        )

    def due_within(self, hours: int, now: dt.datetime) -> bool:
        return (
            not self.closed
            and not self.answered
            and self.due_at is not None
            and now < self.due_at <= now + dt.timedelta(hours=hours)
        )


@dataclass(frozen=True)
class Filters:
    status: str = ACTIVE
    priority: str = ""
    emergency: str = ""  # "claimed" (any claim) or "accepted"
    overdue: bool = False
    due_within: int | None = None  # hours
    replied: bool = False  # the customer replied
    assigned: str = ""  # "me" or "none"
    account: str = ""
    request_type: str = ""
    upstream: bool = False

    def query(self) -> dict[str, str]:
        """The filters as query parameters (defaults left out)."""
        out: dict[str, str] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            out[f.name] = "1" if value is True else str(value)
        return out

    @property
    def active(self) -> bool:
        return self != Filters()


def _flag(value: str | None) -> bool:
    return (value or "") in ("1", "yes", "on", "true")


def parse_filters(params: Mapping[str, str], policy: Policy) -> tuple[Filters, dict[str, str]]:
    """Filters from query parameters; what was not understood is named in ``errors``
    (and left out), so the page can say what to fix and still show the queue."""
    errors: dict[str, str] = {}

    def choice(name: str, allowed: Iterable[str], default: str = "") -> str:
        value = (params.get(name) or default).strip()
        if value not in allowed:
            errors[name] = f"Choose one of the offered values for {name.replace('_', ' ')}."
            return default
        return value

    due: int | None = None
    raw_due = (params.get("due_within") or "").strip()
    if raw_due:
        if raw_due.isdigit() and 0 < int(raw_due) <= MAX_DUE_HOURS:
            due = int(raw_due)
        else:
            errors["due_within"] = f"Give a whole number of hours from 1 to {MAX_DUE_HOURS}."
    request_type = (params.get("request_type") or "").strip()
    if request_type and request_type not in policy.request_types:
        errors["request_type"] = "Choose a request type from the list."
        request_type = ""
    account = " ".join((params.get("account") or "").split())[:40]
    filters = Filters(
        status=choice("status", STATUS_CHOICES, ACTIVE),
        priority=choice("priority", ("", *policy.priorities)),
        emergency=choice("emergency", EMERGENCY_CHOICES),
        overdue=_flag(params.get("overdue")),
        due_within=due,
        replied=_flag(params.get("replied")),
        assigned=choice("assigned", ASSIGNED_CHOICES),
        account=account,
        request_type=request_type,
        upstream=_flag(params.get("upstream")),
    )
    return filters, errors


def matches(row: Row, f: Filters, *, me: int | None, now: dt.datetime) -> bool:
    if f.status == ACTIVE and row.closed:
        return False
    if f.status not in (ACTIVE, ALL) and row.status != f.status:
        return False
    if f.priority and row.priority != f.priority:
        return False
    if f.emergency == "claimed" and not row.emergency_claimed:
        return False
    if f.emergency == "accepted" and not row.emergency_accepted:
        return False
    if f.overdue and not row.overdue(now):
        return False
    if f.due_within is not None and not row.due_within(f.due_within, now):
        return False
    if f.replied and not row.customer_replied:
        return False
    if f.assigned == "me" and (me is None or row.assigned_to != me):
        return False
    if f.assigned == "none" and row.assigned_to is not None:
        return False
    if f.account and row.account.lower() != f.account.lower():
        return False
    if f.request_type and row.request_type != f.request_type:
        return False
    return not (f.upstream and not row.upstream)


def sort_key(row: Row) -> tuple[int, float, int, int, float]:
    precedence = row.precedence if row.precedence is not None else 1_000
    age = row.created_at.timestamp()
    if row.closed:  # in the closed and "all" views: after the open ones, newest first
        return (3, -row.updated_at.timestamp(), precedence, row.priority_rank, age)
    if not row.answered and row.hours_left is not None:
        return (0, math.floor(row.hours_left), precedence, row.priority_rank, age)
    if not row.answered:
        return (1, 0.0, precedence, row.priority_rank, age)
    return (
        2,
        0.0 if row.customer_replied or row.upstream_answered else 1.0,
        precedence,
        row.priority_rank,
        row.updated_at.timestamp(),
    )


def order(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=sort_key)


def select_rows(rows: Iterable[Row], f: Filters, *, me: int | None, now: dt.datetime) -> list[Row]:
    """The rows the filters let through, in queue order."""
    return order(r for r in rows if matches(r, f, me=me, now=now))


# --- pages ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """One page of the queue: its rows, which page it is and how many there are."""

    rows: list[Row]
    number: int  # 1 first; clamped to the pages there are
    pages: int  # at least 1, also when nothing matches
    total: int  # the rows over all pages
    size: int

    @property
    def first(self) -> int:
        """The place of the first row shown (1-based; 0 when there is none)."""
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def parse_page(params: Mapping[str, str]) -> tuple[int, str]:
    """The page asked for (1 when none), and what to fix when it is not a page number."""
    raw = (params.get("page") or "").strip()
    if not raw:
        return 1, ""
    if raw.isdigit() and 0 < int(raw) <= MAX_PAGE:
        return int(raw), ""
    return 1, f"Give a page number from 1 to {MAX_PAGE:,}."


def paginate(rows: list[Row], number: int, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` of ``rows`` (already in queue order); a page past the end shows
    the last one (tickets closed since the link was made)."""
    pages = max(1, math.ceil(len(rows) / size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(rows[start : start + size], number, pages, len(rows), size)


def page_numbers(current: int, pages: int, *, around: int = 2) -> list[int | None]:
    """The page links to offer: the first, the last and ``around`` either side of the
    current one; None where pages are left out."""
    wanted = {1, pages, *range(current - around, current + around + 1)}
    out: list[int | None] = []
    previous = 0
    for n in sorted(p for p in wanted if 1 <= p <= pages):
        if n - previous > 1:
            out.append(None)
        out.append(n)
        previous = n
    return out


def facet_options(policy: Policy, due_hours: int) -> list[tuple[str, Filters]]:
    """(key, the change to the current filters) of every count the queue shows."""
    options: list[tuple[str, Filters]] = []
    base = Filters()
    options += [(f"status:{s}", dataclasses.replace(base, status=s)) for s in STATUS_CHOICES]
    options += [(f"priority:{p}", dataclasses.replace(base, priority=p)) for p in policy.priorities]
    options += [
        ("emergency:claimed", dataclasses.replace(base, emergency="claimed")),
        ("emergency:accepted", dataclasses.replace(base, emergency="accepted")),
        ("overdue", dataclasses.replace(base, overdue=True)),
        ("due_within", dataclasses.replace(base, due_within=due_hours)),
        ("replied", dataclasses.replace(base, replied=True)),
        ("assigned:me", dataclasses.replace(base, assigned="me")),
        ("assigned:none", dataclasses.replace(base, assigned="none")),
        ("upstream", dataclasses.replace(base, upstream=True)),
    ]
    return options


_DIMENSIONS = {
    "status": ("status",),
    "priority": ("priority",),
    "emergency": ("emergency",),
    "overdue": ("overdue",),
    "due_within": ("due_within",),
    "replied": ("replied",),
    "assigned": ("assigned",),
    "upstream": ("upstream",),
}


def facet_counts(
    rows: Iterable[Row], f: Filters, policy: Policy, *, me: int | None, now: dt.datetime
) -> dict[str, int]:
    """For each filter option: how many tickets the queue would show with that option
    in place of the current choice for its filter (the other filters kept)."""
    materialised = list(rows)
    counts: dict[str, int] = {}
    for key, option in facet_options(policy, f.due_within or 4):
        dimension = key.split(":", 1)[0]
        changed = {name: getattr(option, name) for name in _DIMENSIONS[dimension]}
        wanted = dataclasses.replace(f, **changed)
        counts[key] = sum(1 for r in materialised if matches(r, wanted, me=me, now=now))
    return counts


# --- the time left, in support hours -----------------------------------------------------


def calendar_of(
    policy: Policy, plan_id: str, snapshot: Mapping[str, object], emergency: bool
) -> Calendar | None:
    """The calendar a ticket's first response is counted on: the plan's (its emergency
    calendar for an accepted emergency), from the policy, else as filed; None when
    neither is known or the hours are not published."""
    plan = policy.plans.get(plan_id)
    ids: list[object] = []
    if plan is not None:
        ids = [plan.emergency_calendar if emergency else None, plan.calendar]
    else:
        ids = [snapshot.get("emergency_calendar") if emergency else None, snapshot.get("calendar")]
    for cid in ids:
        if isinstance(cid, str) and cid in policy.calendars:
            calendar = policy.calendars[cid]
            return calendar if calendar.published else None
    return None


def support_hours_left(
    calendar: Calendar | None, due_at: dt.datetime | None, now: dt.datetime
) -> float | None:
    """Support hours from now until ``due_at`` (negative once it has passed); clock
    hours when the calendar is unknown; None without a due time."""
    if due_at is None:
        return None
    if calendar is None:
        hours = (due_at - now).total_seconds() / 3600
        return hours if hours >= 0 else min(hours, -1 / 60)
    if due_at >= now:
        return business_hours_between(calendar, now, due_at)
    # at least a minute overdue, also when no support hour has passed since
    return -max(business_hours_between(calendar, due_at, now), 1 / 60)


def describe_hours(hours: float | None) -> str:
    """'3 h 20 min left', 'overdue by 1 h 5 min' (support hours)."""
    if hours is None:
        return "no due time"
    minutes = round(abs(hours) * 60)
    text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    return f"overdue by {text}" if hours < 0 else f"{text} left"
