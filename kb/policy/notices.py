"""When scheduled notices are due, from the policy's ``notices`` section: pure
functions, no I/O. A number the policy leaves out means no such notice (None)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from kb.policy.model import Policy


def start_of_day(day: dt.date, timezone: str) -> dt.datetime:
    """Midnight at the start of ``day`` in ``timezone``, as an aware UTC datetime."""
    local = dt.datetime.combine(day, dt.time(0, 0), tzinfo=zoneinfo.ZoneInfo(timezone))
    return local.astimezone(dt.UTC)


def cancellation_at(policy: Policy, last_day: dt.date) -> dt.datetime:
    """A cancellation on ``last_day`` (the billing period's last day, or a date staff
    set) takes effect when that day ends in the provider's time zone."""
    return start_of_day(last_day + dt.timedelta(days=1), policy.provider.timezone)


def cancellation_warning_at(policy: Policy, last_day: dt.date) -> dt.datetime | None:
    """When the warning before a cancellation on ``last_day`` is due: the start of the
    day ``cancellation_warning_days`` before the cancellation takes effect."""
    days = policy.notices.cancellation_warning_days
    if days is None or days <= 0:
        return None
    return cancellation_at(policy, last_day) - dt.timedelta(days=days)


def plan_ending_at(policy: Policy, plan_ends: dt.date) -> dt.datetime | None:
    """When the notice that a plan ends on ``plan_ends`` (its last day) is due."""
    days = policy.notices.plan_ending_days
    if days is None or days <= 0:
        return None
    return start_of_day(plan_ends - dt.timedelta(days=days), policy.provider.timezone)


def waiting_reminder_at(policy: Policy, waiting_since: dt.datetime) -> dt.datetime | None:
    """When a ticket waiting for the customer since ``waiting_since`` is reminded."""
    days = policy.notices.waiting_reminder_days
    if days is None or days <= 0:
        return None
    return waiting_since + dt.timedelta(days=days)
