"""Pure decisions from a policy: coverage, estimates, response times, emergencies,
versions and contact roles. No I/O and no clock: every moment is an argument."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

from kb.policy.calendar import add_business_hours
from kb.policy.model import Calendar, Fee, Plan, Policy, Rate, RequestType

_VERSION = re.compile(r"^\d+(\.\d+)*$")

# coverage statuses beyond the policy's own four
ROLE_NOT_ALLOWED = "role_not_allowed"
VERSION_UNSUPPORTED = "version_unsupported"


def parse_version(text: str) -> tuple[int, ...] | None:
    text = str(text).strip().lstrip("vV")
    return tuple(int(p) for p in text.split(".")) if _VERSION.match(text) else None


def money(policy: Policy, amount: Decimal, currency: str) -> str:
    """An amount formatted for the provider's locale, e.g. '€100.00'."""
    return str(format_currency(amount, currency, locale=policy.provider.locale))


@dataclass(frozen=True)
class Facts:
    """What is known about the customer when asking."""

    plan: str
    version: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class VersionVerdict:
    version: str
    supported: bool
    free_bugfix: bool
    advice: str


def check_version(policy: Policy, version: str | None) -> VersionVerdict | None:
    """Is this product version supported, and does it get free bug fixes?"""
    v = policy.versions
    if v is None or not version:
        return None
    parsed = parse_version(version)
    if parsed is None:
        return VersionVerdict(version, False, False, f"'{version}' is not a version number.")
    minimum = parse_version(v.minimum) if v.minimum else None
    supported = minimum is None or parsed[: len(minimum)] >= minimum
    free = any(
        parsed[: len(p)] == p for p in (parse_version(r) for r in v.free_bugfix_releases) if p
    )
    if not supported:
        advice = f"{v.product} {version} is not supported: {v.minimum} or later is required."
        if v.upgrade_advice:
            advice += " " + v.upgrade_advice
    elif free:
        advice = f"{v.product} {version} is supported and gets free bug fixes."
    elif v.free_bugfix_releases:
        latest = " and ".join(v.free_bugfix_releases)
        advice = (
            f"{v.product} {version} is supported; free bug fixes are limited to {latest}, "
            "so upgrading may be the quickest fix."
        )
    else:
        advice = f"{v.product} {version} is supported."
    return VersionVerdict(version, supported, free, advice)


@dataclass(frozen=True)
class Estimate:
    currency: str
    low: Decimal
    high: Decimal
    minutes_low: int | None = None
    minutes_high: int | None = None
    rate: Rate | None = None
    fee: Fee | None = None
    text: str = ""
    waivers: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "low": str(self.low),
            "high": str(self.high),
            "text": self.text,
            "waivers": list(self.waivers),
        }


def billable_minutes(rate: Rate, minutes: float) -> int:
    """Work time rounded up to whole billing units, with the minimum applied."""
    units = math.ceil(round(minutes, 6) / rate.unit_minutes) if minutes > 0 else 0
    return max(rate.minimum_minutes, units * rate.unit_minutes)


def charge(rate: Rate, minutes: float) -> Decimal:
    billed = Decimal(billable_minutes(rate, minutes))
    return (rate.amount * billed / Decimal(60)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def describe_rate(policy: Policy, rate: Rate) -> str:
    amount = money(policy, rate.amount, rate.currency)
    text = f"{amount} per hour, billed in {rate.unit_minutes}-minute units"
    if rate.minimum_minutes:
        text += f", minimum {rate.minimum_minutes} minutes"
    if rate.in_advance:
        text += ", paid in advance"
    return text


def estimate(policy: Policy, request_type: RequestType) -> Estimate | None:
    """The expected charge for a paid request type, or None when it has no price."""
    waivers = tuple(
        policy.waivers.get(w, w)
        for w in (policy.rates[request_type.rate].waived_when if request_type.rate else ())
    )
    if request_type.fee:
        fee = policy.fees[request_type.fee]
        text = f"{money(policy, fee.amount, fee.currency)} fixed fee"
        return Estimate(fee.currency, fee.amount, fee.amount, fee=fee, text=text, waivers=waivers)
    if not request_type.rate:
        return None
    rate = policy.rates[request_type.rate]
    low_h, high_h = request_type.effort_hours or (0.0, 0.0)
    lo_min, hi_min = billable_minutes(rate, low_h * 60), billable_minutes(rate, high_h * 60)
    low, high = charge(rate, low_h * 60), charge(rate, high_h * 60)
    if request_type.effort_hours is None:
        text = f"{describe_rate(policy, rate)}; the total depends on the time the work takes"
    elif low == high:
        terms = describe_rate(policy, rate)
        text = f"about {money(policy, low, rate.currency)} ({lo_min} minutes at {terms})"
    else:
        text = (
            f"{money(policy, low, rate.currency)}–{money(policy, high, rate.currency)} "
            f"({lo_min}–{hi_min} minutes at {describe_rate(policy, rate)})"
        )
    return Estimate(rate.currency, low, high, lo_min, hi_min, rate=rate, text=text, waivers=waivers)


@dataclass(frozen=True)
class Coverage:
    status: str
    reason: str
    rule: str
    articles: tuple[str, ...] = ()
    estimate: Estimate | None = None
    plans_covering: tuple[str, ...] = ()
    version: VersionVerdict | None = None
    alternative: str | None = None

    @property
    def can_continue(self) -> bool:
        return self.status in ("included", "paid")

    @property
    def needs_acceptance(self) -> bool:
        return self.status == "paid"

    def as_json(self) -> dict[str, object]:
        rate = self.estimate.rate if self.estimate else None
        fee = self.estimate.fee if self.estimate else None
        return {
            "status": self.status,
            "reason": self.reason,
            "rule": self.rule,
            "rate": {
                "amount": str(rate.amount),
                "currency": rate.currency,
                "unit_minutes": rate.unit_minutes,
                "minimum_minutes": rate.minimum_minutes,
            }
            if rate
            else None,
            "fee": {"amount": str(fee.amount), "currency": fee.currency} if fee else None,
            "estimate": self.estimate.as_json() if self.estimate else None,
            "plans_covering": list(self.plans_covering),
            "articles": list(self.articles),
        }


def _names(policy: Policy, plan_ids: Sequence[str]) -> str:
    names = [policy.plans[p].name for p in plan_ids]
    return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + (names[-1] if names else "")


def coverage(policy: Policy, request_type: str, facts: Facts) -> Coverage:
    """Is this request covered for this customer, and on what terms?"""
    rt = policy.request_types[request_type]
    plan = policy.plans[facts.plan]
    rule = f"request_types.{rt.id}.coverage.{plan.id}"
    articles = rt.articles
    version = check_version(policy, facts.version)
    if version is not None and not version.supported and not rt.any_version:
        return Coverage(
            VERSION_UNSUPPORTED, version.advice, "versions.minimum", articles, version=version
        )
    if rt.roles and facts.role is not None and facts.role not in rt.roles:
        allowed = " or ".join(
            (policy.contacts.role(r).name if policy.contacts.role(r) else r).lower()  # type: ignore[union-attr]
            for r in rt.roles
        )
        return Coverage(
            ROLE_NOT_ALLOWED,
            f"Only the account's {allowed} may ask for “{rt.title}”. "
            "Ask them to file it, or to add you as such a contact.",
            f"request_types.{rt.id}.roles",
            articles,
            version=version,
        )
    status = rt.status_for(plan.id)
    if rt.id not in rt.coverage and plan.id not in rt.coverage:
        rule = f"request_types.{rt.id}.coverage.default"
    if status == "paid" and version is not None and version.free_bugfix and rt.bugfix:
        return Coverage(
            "included",
            f"Bugs in {version.version} are fixed free of charge.",
            "versions.free_bugfix_latest",
            articles,
            version=version,
        )
    if status == "included":
        reason = f"Included in your {plan.name} plan at no extra cost."
        return Coverage("included", reason, rule, articles, version=version)
    if status == "paid":
        est = estimate(policy, rt)
        reason = f"Billable work: {est.text}." if est else "Billable work."
        if est and est.waivers:
            reason += " No charge if " + ", or if ".join(w.rstrip(".") for w in est.waivers) + "."
        return Coverage("paid", reason, rule, articles, estimate=est, version=version)
    if status == "not_in_plan":
        covering = tuple(
            p for p in policy.plans if rt.status_for(p) in ("included", "paid") and p != plan.id
        )
        reason = f"Not part of the {plan.name} plan."
        if covering:
            reason += f" It is available with the {_names(policy, covering)} plan."
        return Coverage(
            "not_in_plan",
            reason,
            rule,
            articles,
            plans_covering=covering,
            version=version,
            alternative=rt.alternative,
        )
    reason = "We do not offer this service under any plan."
    if rt.note:
        reason += " " + rt.note
    return Coverage(
        "unsupported", reason, rule, articles, version=version, alternative=rt.alternative
    )


@dataclass(frozen=True)
class Due:
    at: dt.datetime | None  # None: the plan promises no response time
    hours: float | None
    calendar: Calendar
    emergency: bool = False

    def describe(self) -> str:
        if self.at is None or self.hours is None:
            return "No guaranteed response time on this plan."
        unit = "hour" if self.hours == 1 else "hours"
        hours = (
            f"{self.hours:g} {unit}"
            if self.calendar.always_open
            else (f"{self.hours:g} business {unit}")
        )
        return f"{hours}; support hours are {self.calendar.describe()} ({self.calendar.timezone})"


def first_response_due(
    policy: Policy,
    plan_id: str,
    priority_id: str,
    filed_at: dt.datetime,
    *,
    emergency: bool = False,
) -> Due:
    """When the first response is due, counting only the plan's support hours.

    Emergencies use the plan's emergency calendar (for example 24x7) when it has one.
    """
    plan: Plan = policy.plans[plan_id]
    calendar = policy.calendars[plan.calendar]
    if emergency and plan.emergency_calendar:
        calendar = policy.calendars[plan.emergency_calendar]
    hours = plan.reaction.get(priority_id)
    if hours is None:
        return Due(None, None, calendar, emergency)
    return Due(add_business_hours(calendar, filed_at, hours), hours, calendar, emergency)


# What happened to a ticket's emergency claim (stored on the ticket as emergency_outcome).
EMERGENCY_NONE = "none"  # no claim
EMERGENCY_ACCEPTED = "accepted"
EMERGENCY_NOT_EMERGENCY = "rejected_not_emergency"  # the request type is no emergency
EMERGENCY_IGNORED = "ignored_abuse"  # the account's mark is ignored (abuse rule)
EMERGENCY_NOT_ON_PLAN = "not_on_plan"  # no emergency handling on the plan (or at all)
EMERGENCY_REJECTED_BY_STAFF = "rejected_by_staff"  # accepted, then found not to be one
EMERGENCY_OUTCOMES = (
    EMERGENCY_NONE,
    EMERGENCY_ACCEPTED,
    EMERGENCY_NOT_EMERGENCY,
    EMERGENCY_IGNORED,
    EMERGENCY_NOT_ON_PLAN,
    EMERGENCY_REJECTED_BY_STAFF,
)
# Only claims found false count toward the abuse rule: refused by definition, or
# rejected by staff. A claim ignored under the rule does not (or the ignore period would
# extend itself), nor one refused because the plan has no emergency handling.
COUNTED_OUTCOMES = (EMERGENCY_NOT_EMERGENCY, EMERGENCY_REJECTED_BY_STAFF)


@dataclass(frozen=True)
class EmergencyDecision:
    accepted: bool
    priority: str
    explanation: str
    flag_ignored: bool = False
    ignored_until: dt.datetime | None = None
    outcome: str = EMERGENCY_NONE
    # the review step's projection: filing checks the account too and may decide otherwise
    provisional: bool = False
    fallback_priority: str | None = None  # what a provisional acceptance becomes if not

    @property
    def counts_as_rejected(self) -> bool:
        return self.outcome in COUNTED_OUTCOMES


def emergency_priority(policy: Policy) -> str | None:
    """The priority kept for accepted emergencies: ``emergency.priority``, or the most
    urgent one. None when the provider has no emergency service."""
    if policy.emergency is None:
        return None
    return policy.emergency.priority or next(iter(policy.priorities), None)


def ordinary_priorities(policy: Policy, request_type: str) -> tuple[str, ...]:
    """The priorities a customer may choose for a request type without an accepted
    emergency claim: the type's priorities without the emergency priority."""
    reserved = emergency_priority(policy)
    return tuple(p for p in policy.request_types[request_type].priorities if p != reserved)


def ordinary_priority(policy: Policy, request_type: str, chosen: str | None = None) -> str:
    """The priority a request is filed at when no emergency claim stands: the one chosen
    if the type offers it (and it is not the emergency priority), else the type's
    ``default_priority`` on the same terms, else the type's most urgent ordinary
    priority, else the policy's most urgent priority that is not the emergency one."""
    rt = policy.request_types[request_type]
    allowed = ordinary_priorities(policy, request_type)
    for candidate in (chosen, rt.default_priority):
        if candidate and candidate in allowed:
            return candidate
    if allowed:
        return allowed[0]
    reserved = emergency_priority(policy)
    others = [p for p in policy.priorities if p != reserved]
    return others[0] if others else next(iter(policy.priorities))


def emergency_flag_ignored_until(
    policy: Policy, rejected_claims: Sequence[dt.datetime], now: dt.datetime
) -> dt.datetime | None:
    """When repeated false claims make the emergency flag ignored, until when.

    ``rejected_claims`` are the moments of the account's claims found false: refused by
    definition or rejected by staff (``COUNTED_OUTCOMES``), never claims ignored under
    this rule or refused for the plan.
    """
    e = policy.emergency
    if e is None or not e.max_rejected or not e.window_days:
        return None
    recent = sorted(t for t in rejected_claims if t <= now)
    window = dt.timedelta(days=e.window_days)
    # the flag is ignored from the moment max_rejected claims fell within one window
    for i in range(len(recent) - e.max_rejected, -1, -1):
        first, last = recent[i], recent[i + e.max_rejected - 1]
        if last - first <= window:
            until = last + dt.timedelta(days=e.ignore_days or e.window_days)
            return until if now < until else None
    return None


def gate_emergency(
    policy: Policy,
    request_type: str,
    plan_id: str,
    priority: str,
    *,
    claimed: bool,
    rejected_claims: Sequence[dt.datetime] = (),
    now: dt.datetime,
) -> EmergencyDecision:
    """Decide whether an 'emergency' mark stands, and at which priority to file.

    Only an accepted claim gets the emergency priority (and, in ``first_response_due``,
    the plan's emergency calendar): every other outcome files at ``ordinary_priority``.
    """
    rt = policy.request_types[request_type]
    priority = ordinary_priority(policy, rt.id, priority)
    name = policy.priorities[priority].name
    if not claimed:
        return EmergencyDecision(False, priority, "")
    e = policy.emergency
    if e is None:
        return EmergencyDecision(
            False,
            priority,
            "This provider has no emergency service; filed at normal priority.",
            outcome=EMERGENCY_NOT_ON_PLAN,
        )
    until = emergency_flag_ignored_until(policy, rejected_claims, now)
    if until is not None:
        return EmergencyDecision(
            False,
            priority,
            f"The emergency mark is ignored for this account until {until:%d %b %Y}: "
            f"{e.max_rejected} requests marked as emergencies in {e.window_days} days were "
            "not emergencies. Your request is filed at its normal priority.",
            flag_ignored=True,
            ignored_until=until,
            outcome=EMERGENCY_IGNORED,
        )
    if not rt.emergency:
        return EmergencyDecision(
            False,
            priority,
            f"“{rt.title}” is not an emergency. {e.definition} "
            f"Your request is filed at {name} priority instead.",
            outcome=EMERGENCY_NOT_EMERGENCY,
        )
    if e.plans and plan_id not in e.plans:
        return EmergencyDecision(
            False,
            priority,
            f"Emergency handling is part of the {_names(policy, e.plans)} plan; your request "
            f"is filed at {name} priority and handled first within support hours.",
            outcome=EMERGENCY_NOT_ON_PLAN,
        )
    target = emergency_priority(policy) or priority
    note = " It ranks among the highest emergencies." if rt.id in e.highest else ""
    return EmergencyDecision(
        True, target, f"Accepted as an emergency.{note}", outcome=EMERGENCY_ACCEPTED
    )


def expected_emergency(
    policy: Policy,
    request_type: str,
    plan_id: str,
    priority: str,
    *,
    claimed: bool,
    now: dt.datetime,
) -> EmergencyDecision:
    """What filing will do with an emergency mark, as far as the policy alone decides.

    The review step knows neither whether the sender is a listed contact nor the
    account's plan in the directory or its rejected claims (and must not reveal them),
    so an acceptance is only provisional here: it says what will happen and on what
    condition. Filing decides with ``gate_emergency`` and the account's claims.
    """
    decision = gate_emergency(policy, request_type, plan_id, priority, claimed=claimed, now=now)
    if decision.outcome != EMERGENCY_ACCEPTED:
        return decision
    e = policy.emergency
    assert e is not None
    rt = policy.request_types[request_type]
    fallback = ordinary_priority(policy, request_type, priority)
    text = (
        f"“{rt.title}” can be an emergency: it will be filed as one, at "
        f"{policy.priorities[decision.priority].name} priority"
    )
    if e.plans:
        text += f", if the account is on the {_names(policy, e.plans)} plan"
    if e.max_rejected and e.window_days:
        text += (
            f", unless the account's emergency mark is being ignored because {e.max_rejected} "
            f"requests marked as emergencies within {e.window_days} days turned out not to be "
            "emergencies"
        )
    text += (
        f". Otherwise it is filed at {policy.priorities[fallback].name} priority. The link "
        "we email you checks this against your account and shows the decision before you "
        "file."
    )
    if rt.id in e.highest:
        text += " It ranks among the highest emergencies."
    return replace(decision, explanation=text, provisional=True, fallback_priority=fallback)


def role_allowed(policy: Policy, request_type: str, role: str | None) -> bool:
    rt = policy.request_types[request_type]
    return not rt.roles or role in rt.roles


def plan_on(
    policy: Policy,
    plan_id: str,
    plan_ends: dt.date | None,
    moment: dt.datetime,
    fallback: str | None,
) -> str:
    """The plan in force at ``moment`` for an account whose plan ends on ``plan_ends``."""
    if plan_ends is None or moment.date() <= plan_ends:
        return plan_id
    return fallback if fallback in policy.plans else plan_id


def plan_for_ticket(policy: Policy, plan_at_filing: str, plan_now: str) -> str:
    """The plan whose treatment a ticket gets: with ``priority_persists`` a ticket keeps
    the plan it was filed under, even after that plan has ended."""
    return plan_at_filing if policy.priority_persists else plan_now
