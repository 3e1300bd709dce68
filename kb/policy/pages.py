"""What the policy's pages say, as data: ``/plans``, ``/coverage`` and the article
tables (``{policy}`plans```, ``{policy}`coverage```) are built from these, so a page can
only say what the policy file says. Pure functions of the policy (and of the day, for
the holidays ahead); no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kb.policy.calendar import describe_holidays, describe_holidays_ahead, holiday_hours_text
from kb.policy.engine import (
    NO_HOURS,
    NO_RESPONSE_TIME,
    emergency_handling,
    estimate,
    money,
    plan_status,
    precedence_text,
    waivers_for,
)
from kb.policy.model import NO_PLAN, Calendar, Plan, Policy

STATUS_LABELS = {
    "included": "Included",
    "paid": "Paid",
    "unsupported": "Not offered",
    "not_in_plan": "Not in this plan",
}


def _hours(value: float) -> str:
    if value < 1:
        return f"{round(value * 60)} minutes"
    return f"{value:g} hour" + ("" if value == 1 else "s")


def response_text(policy: Policy, plan: Plan, priority_id: str) -> str:
    """One plan's first response for a priority as customers read it: its
    ``reaction_text``, its target, or the policy's words for "no target"."""
    shown = plan.reaction_text.get(priority_id)
    hours = plan.reaction.get(priority_id)
    if shown:
        return shown
    if hours is None:
        return plan.first_response_text or NO_RESPONSE_TIME
    return _hours(hours)


def promises_response(plan: Plan) -> bool:
    """Whether the plan states a first-response time for any priority."""
    return any(h is not None for h in plan.reaction.values()) or bool(plan.reaction_text)


def hours_text(calendar: Calendar) -> str:
    """'Mon–Fri 08:00–18:00 (Europe/Berlin)', or 'Not published'."""
    if not calendar.published:
        return "Not published"
    return f"{calendar.describe()} ({calendar.timezone})"


def holidays_text(calendar: Calendar, today: dt.date | None = None) -> str:
    """The holidays as customers read them: with ``today``, the actual dates of the next
    12 months (or that there are none); without it, the rule. Empty without holidays."""
    if not calendar.has_holidays:
        return ""
    if today is not None:
        return describe_holidays_ahead(calendar, today)
    rule = describe_holidays(calendar)
    if calendar.holiday_hours:
        return f"On {rule}: {holiday_hours_text(calendar)}"
    return f"Closed on {rule}"


def when_ended_text(policy: Policy, plan: Plan) -> str:
    """What happens when the plan ends, as the policy states it; empty when it says
    nothing."""
    ended = plan.when_ended
    if ended is None:
        return ""
    if ended.text:
        return ended.text
    if ended.plan == NO_PLAN:
        text = (
            "When the plan ends, the account has no plan: requests are paid work, priced on "
            "request unless a price is published."
        )
    else:
        text = f"When the plan ends, the account is on the {policy.plans[ended.plan].name} plan."
    if ended.tickets_keep_plan:
        text += f" Tickets filed during the plan keep the {plan.name} plan's priority."
    return text


@dataclass(frozen=True)
class ChannelView:
    id: str
    name: str
    description: str
    address: str


@dataclass(frozen=True)
class PlanView:
    """One plan as ``/plans`` and ``{policy}`plans``` show it."""

    id: str
    name: str
    description: str
    price: str
    hours: str  # "Mon–Fri 02:00–16:00 (America/New_York)" or "Not published"
    hours_note: str  # the calendar's note (how an ambiguous source was read)
    holidays: str  # the holidays ahead (with today) or the rule; "" without holidays
    holiday_hours: str  # "03:00–16:00", "closed"; "" without holidays
    emergencies: str  # only what the policy says
    precedence: str  # the plan's place in the queue; "" when the policy states none
    channels: tuple[ChannelView, ...]
    responses: tuple[tuple[str, str], ...]  # (priority name, text) when any target exists
    response: str  # the plan's words when it promises no response time
    when_ended: str


def plan_view(policy: Policy, plan_id: str, today: dt.date | None = None) -> PlanView:
    plan = policy.plans[plan_id]
    calendar = policy.calendars[plan.calendar]
    channels = tuple(
        ChannelView(c.id, c.name, c.description, c.address)
        for c in policy.provider.channels
        if c.id in plan.channels
    )
    responses: tuple[tuple[str, str], ...] = ()
    response = ""
    if promises_response(plan):
        responses = tuple(
            (p.name, response_text(policy, plan, p.id)) for p in policy.priorities.values()
        )
        if len(responses) > 1 and len({text for _, text in responses}) == 1:
            responses = (("Every priority", responses[0][1]),)
        if not calendar.published:
            response = calendar.note or NO_HOURS
    else:
        response = plan.first_response_text or NO_RESPONSE_TIME
    return PlanView(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        price=plan.price.text,
        hours=hours_text(calendar),
        hours_note=calendar.note,
        holidays=holidays_text(calendar, today),
        holiday_hours=holiday_hours_text(calendar) if calendar.has_holidays else "",
        emergencies=emergency_handling(policy, plan.id),
        precedence=precedence_text(policy, plan.id),
        channels=channels,
        responses=responses,
        response=response,
        when_ended=when_ended_text(policy, plan),
    )


def plan_views(policy: Policy, today: dt.date | None = None) -> list[PlanView]:
    """Every plan, in file order."""
    return [plan_view(policy, plan_id, today) for plan_id in policy.plans]


@dataclass(frozen=True)
class CoverageCell:
    """What ``/coverage`` shows for one request type on one plan."""

    status: str  # as customers read it: not_in_plan only when another plan has it
    label: str  # Included, Paid, Not offered, Not in this plan
    price: str  # for paid work: "€100.00 per hour", "€25.00 fixed fee" or "priced on request"
    waivers: tuple[str, ...]  # for paid work: "No charge if …" conditions


def coverage_cell(policy: Policy, request_type: str, plan_id: str) -> CoverageCell:
    rt = policy.request_types[request_type]
    status = plan_status(policy, request_type, plan_id) or ""
    price = ""
    waivers: tuple[str, ...] = ()
    if status == "paid":
        est = estimate(policy, rt)
        if est is None:
            price = "priced on request"
        elif est.fee is not None:
            price = f"{money(policy, est.fee.amount, est.fee.currency)} fixed fee"
        elif est.rate is not None and est.rate.amount is not None:
            price = f"{money(policy, est.rate.amount, est.rate.currency)} per hour"
        waivers = tuple(w.text for w in waivers_for(policy, rt))
    return CoverageCell(status, STATUS_LABELS.get(status, "—"), price, waivers)
