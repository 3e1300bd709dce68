"""Pure decisions from a policy: coverage, estimates, response times, emergencies,
versions and contact roles. No I/O and no clock: every moment is an argument."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_currency

from kb.policy.calendar import add_business_hours, next_open
from kb.policy.model import NO_PLAN, Calendar, Fee, Plan, Policy, Rate, RequestType

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


def _join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    return (
        ", ".join(items[:-1])
        + (f" {last} " if len(items) > 1 else "")
        + (items[-1] if items else "")
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


@dataclass(frozen=True)
class Facts:
    """What is known about the customer when asking. ``plan`` None: the account has no
    plan (its plan ended with ``when_ended.plan: none``)."""

    plan: str | None
    version: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class VersionVerdict:
    version: str
    supported: bool
    free_bugfix: bool
    advice: str


def check_version(policy: Policy, version: str | None) -> VersionVerdict | None:
    """Is this product version supported, and does it get free bug fixes?

    Without ``versions.minimum`` nothing is blocked, not even text that is not a version
    number ("X5"); the product's name in front of the number ("MOR 12") is ignored. A
    release newer than every listed one is current, never "old, upgrade"."""
    v = policy.versions
    if v is None or not version:
        return None
    text = version.strip()
    if v.product and text.lower().startswith(v.product.lower()):
        text = text[len(v.product) :].strip()
    parsed = parse_version(text)
    minimum = parse_version(v.minimum) if v.minimum else None
    if parsed is None:
        if minimum is None:
            return VersionVerdict(version, True, False, f"{v.product} {version}")
        return VersionVerdict(version, False, False, f"'{version}' is not a version number.")
    supported = minimum is None or parsed[: len(minimum)] >= minimum
    releases = [r for r in (parse_version(x) for x in v.releases) if r]
    newer = bool(releases) and parsed[: len(releases[-1])] > releases[-1]
    free = bool(v.free_bugfix_latest) and (
        newer
        or any(
            parsed[: len(p)] == p for p in (parse_version(r) for r in v.free_bugfix_releases) if p
        )
    )
    if not supported:
        advice = f"{v.product} {version} is not supported: {v.minimum} or later is required."
        if v.upgrade_advice:
            advice += " " + v.upgrade_advice
    elif newer:
        advice = (
            f"{v.product} {version} is newer than the releases listed here "
            f"({_join(v.releases[-2:])}); it counts as a current release"
            + (" and gets free bug fixes." if free else ".")
        )
    elif free:
        advice = f"{v.product} {version} is supported and gets free bug fixes."
    elif v.free_bugfix_releases:
        latest = " and ".join(v.free_bugfix_releases)
        advice = (
            f"{v.product} {version} is supported; free bug fixes are limited to {latest}, "
            "so upgrading may be the quickest fix."
        )
    elif minimum is not None:
        advice = f"{v.product} {version} is supported."
    else:
        advice = f"{v.product} {version}"
    return VersionVerdict(version, supported, free, advice)


@dataclass(frozen=True)
class Waiver:
    """A condition under which a charge is waived; the customer may claim it when filing
    and staff confirm it once the cause is known."""

    id: str
    text: str

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "text": self.text}


def waivers_for(policy: Policy, request_type: RequestType) -> tuple[Waiver, ...]:
    """The waivers of a request type: its rate's ``waived_when`` and its own ``waivers``."""
    ids = (*(policy.rates[request_type.rate].waived_when if request_type.rate else ()),)
    ids += request_type.waivers
    return tuple(Waiver(w, policy.waivers.get(w, w)) for w in dict.fromkeys(ids))


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
    """Work time rounded up to whole billing units (to whole minutes when the provider
    states no unit), with the minimum applied."""
    exact = round(minutes, 6) if minutes > 0 else 0.0
    unit = rate.unit_minutes or 1
    units = math.ceil(exact / unit)
    return max(rate.minimum_minutes, units * unit)


def charge(rate: Rate, minutes: float) -> Decimal:
    if rate.amount is None:
        raise ValueError(f"rate '{rate.id}' is priced on request")
    billed = Decimal(billable_minutes(rate, minutes))
    return (rate.amount * billed / Decimal(60)).quantize(Decimal("0.01"), ROUND_HALF_UP)


QUOTE_TEXT = "priced on request: you get a quote before any work starts"


def describe_rate(policy: Policy, rate: Rate) -> str:
    """The rate's terms as the provider states them; no unit or minimum is invented."""
    if rate.amount is None:
        return QUOTE_TEXT
    text = f"{money(policy, rate.amount, rate.currency)} per hour"
    if rate.unit_minutes:
        text += f", billed in {rate.unit_minutes}-minute units"
    if rate.minimum_minutes:
        text += f", minimum {rate.minimum_minutes} minutes"
    if rate.in_advance:
        text += ", paid in advance"
    return text


def estimate(policy: Policy, request_type: RequestType) -> Estimate | None:
    """The expected charge for a paid request type; None when it has no published price
    (no rate or fee, or a rate priced on request)."""
    waivers = tuple(w.text for w in waivers_for(policy, request_type))
    if request_type.fee:
        fee = policy.fees[request_type.fee]
        text = f"{money(policy, fee.amount, fee.currency)} fixed fee"
        return Estimate(fee.currency, fee.amount, fee.amount, fee=fee, text=text, waivers=waivers)
    if not request_type.rate:
        return None
    rate = policy.rates[request_type.rate]
    if rate.amount is None:
        return None
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


ACCEPT_CHARGES = "I accept the charges described above"
ACCEPT_QUOTE = "I want a quote before any work starts"


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
    note: str = ""  # the request type's note for the customer, on every status
    waivers: tuple[Waiver, ...] = ()  # what the customer may claim when filing paid work
    quote_required: bool = False  # paid work with no published price: a quote comes first

    @property
    def can_continue(self) -> bool:
        return self.status in ("included", "paid")

    @property
    def needs_acceptance(self) -> bool:
        return self.status == "paid"

    @property
    def acceptance_text(self) -> str:
        """The checkbox the customer ticks to go on with paid work: a request for a quote
        when no price is published, never an acceptance of charges nobody stated."""
        if self.status != "paid":
            return ""
        return ACCEPT_QUOTE if self.quote_required else ACCEPT_CHARGES

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
            if rate and rate.amount is not None
            else None,
            "fee": {"amount": str(fee.amount), "currency": fee.currency} if fee else None,
            "quote_required": self.quote_required,
            "estimate": self.estimate.as_json() if self.estimate else None,
            "note": self.note or None,
            "waivers": [w.as_json() for w in self.waivers],
            "acceptance_text": self.acceptance_text or None,
            "plans_covering": list(self.plans_covering),
            "articles": list(self.articles),
        }


def _names(policy: Policy, plan_ids: Sequence[str], last: str = "or") -> str:
    return _join([policy.plans[p].name for p in plan_ids], last)


def plans_offering(policy: Policy, request_type: RequestType) -> tuple[str, ...]:
    """The plans that include or charge for a request type."""
    return tuple(p for p in policy.plans if request_type.status_for(p) in ("included", "paid"))


def plan_status(policy: Policy, request_type: str, plan_id: str) -> str | None:
    """The status a plan gives a request type, as customers read it: ``not_in_plan``
    only when another plan includes or charges for it, else ``unsupported``."""
    rt = policy.request_types[request_type]
    status = rt.status_for(plan_id)
    if status == "not_in_plan" and not plans_offering(policy, rt):
        return "unsupported"
    return status


def _paid(
    policy: Policy, rt: RequestType, rule: str, version: VersionVerdict | None, lead: str = ""
) -> Coverage:
    est = estimate(policy, rt)
    waivers = waivers_for(policy, rt)
    rate = policy.rates[rt.rate] if rt.rate and not rt.fee else None
    if est is None:
        reason = lead + "Paid work, " + QUOTE_TEXT + ", and nothing is done until you agree to it."
    else:
        reason = lead + f"Billable work: {est.text}."
    if rate is not None and rate.description:
        reason += " " + _sentence(rate.description)
    if waivers:
        reason += " No charge if " + ", or if ".join(w.text.rstrip(".") for w in waivers) + "."
    return Coverage(
        "paid",
        reason,
        rule,
        rt.articles,
        estimate=est,
        version=version,
        note=rt.note,
        waivers=waivers,
        quote_required=est is None,
    )


def coverage(policy: Policy, request_type: str, facts: Facts) -> Coverage:
    """Is this request covered for this customer, and on what terms?"""
    rt = policy.request_types[request_type]
    articles = rt.articles
    version = check_version(policy, facts.version)
    if version is not None and not version.supported and not rt.any_version:
        return Coverage(
            VERSION_UNSUPPORTED,
            version.advice,
            "versions.minimum",
            articles,
            version=version,
            note=rt.note,
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
            note=rt.note,
        )
    offering = plans_offering(policy, rt)
    if facts.plan is None:
        if not offering:
            return _unsupported(rt, f"request_types.{rt.id}.coverage", version)
        lead = "Your account has no support plan at the moment. "
        return _paid(policy, rt, "plans.when_ended", version, lead)
    plan = policy.plans[facts.plan]
    rule = f"request_types.{rt.id}.coverage.{plan.id}"
    status = plan_status(policy, rt.id, plan.id)
    if plan.id not in rt.coverage:
        rule = f"request_types.{rt.id}.coverage.default"
    if status == "paid" and version is not None and version.free_bugfix and rt.bugfix:
        return Coverage(
            "included",
            f"Bugs in {version.version} are fixed free of charge.",
            "versions.free_bugfix_latest",
            articles,
            version=version,
            note=rt.note,
        )
    if status == "included":
        reason = f"Included in your {plan.name} plan at no extra cost."
        return Coverage("included", reason, rule, articles, version=version, note=rt.note)
    if status == "paid":
        return _paid(policy, rt, rule, version)
    if status == "not_in_plan":
        covering = tuple(p for p in offering if p != plan.id)
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
            note=rt.note,
        )
    return _unsupported(rt, rule, version)


def _unsupported(rt: RequestType, rule: str, version: VersionVerdict | None) -> Coverage:
    return Coverage(
        "unsupported",
        "We do not offer this service under any plan.",
        rule,
        rt.articles,
        version=version,
        alternative=rt.alternative,
        note=rt.note,
    )


# --- first responses ---------------------------------------------------------------------

NO_RESPONSE_TIME = "No response time is promised on this plan."
NO_PLAN_RESPONSE = "Without a support plan, no response time is promised."
NO_HOURS = "The support hours are not published, so no due time can be given."


def _unpublished_calendar(policy: Policy) -> Calendar:
    return Calendar(
        id="",
        name="No plan",
        timezone=policy.provider.timezone,
        weekly=((),) * 7,
        published=False,
    )


def _hours_text(value: float) -> str:
    if value < 1:
        return f"{round(value * 60)} minutes"
    return f"{value:g} hour" + ("" if value == 1 else "s")


@dataclass(frozen=True)
class Due:
    at: dt.datetime | None  # None: the plan promises no response time (or has no hours)
    hours: float | None
    calendar: Calendar
    emergency: bool = False
    text: str = ""  # what the customer reads: the target, or the policy's own words
    opens_at: dt.datetime | None = None  # when support is next open (None: not published)

    @property
    def first_response_text(self) -> str:
        return self.describe()

    def describe(self) -> str:
        if self.text:
            return self.text
        if self.at is None or self.hours is None:
            return NO_RESPONSE_TIME
        unit = "hour" if self.hours == 1 else "hours"
        hours = (
            f"{self.hours:g} {unit}"
            if self.calendar.always_open
            else (f"{self.hours:g} business {unit}")
        )
        return f"{hours}; support hours are {self.calendar.describe()} ({self.calendar.timezone})"

    def as_json(self) -> dict[str, str | None]:
        """The triage fields: ``first_response_due`` (None when nothing is promised),
        ``first_response_text`` and ``support_opens_at``."""
        return {
            "first_response_due": self.at.isoformat() if self.at else None,
            "first_response_text": self.describe(),
            "support_opens_at": self.opens_at.isoformat() if self.opens_at else None,
        }


def _plan_calendar(policy: Policy, plan: Plan, emergency: bool) -> Calendar:
    if emergency and plan.emergency_calendar:
        return policy.calendars[plan.emergency_calendar]
    return policy.calendars[plan.calendar]


def support_opens_at(
    policy: Policy, plan_id: str | None, moment: dt.datetime, *, emergency: bool = False
) -> dt.datetime | None:
    """When the plan's support is next open after ``moment`` (``moment`` itself when it
    is open); None without a plan or when the hours are not published."""
    if plan_id is None:
        return None
    return next_open(_plan_calendar(policy, policy.plans[plan_id], emergency), moment)


def first_response_due(
    policy: Policy,
    plan_id: str | None,
    priority_id: str,
    filed_at: dt.datetime,
    *,
    emergency: bool = False,
) -> Due:
    """When the first response is due, counting only the plan's support hours.

    Emergencies use the plan's emergency calendar (for example 24x7) when it has one. A
    plan with no target for the priority, or whose hours are not published, gives no
    due time (``at`` None) and the policy's own words, with when support is next open.
    """
    if plan_id is None:
        return Due(None, None, _unpublished_calendar(policy), emergency, NO_PLAN_RESPONSE)
    plan: Plan = policy.plans[plan_id]
    calendar = _plan_calendar(policy, plan, emergency)
    opens = next_open(calendar, filed_at)
    hours = plan.reaction.get(priority_id)
    if hours is None:
        text = plan.reaction_text.get(priority_id) or plan.first_response_text or NO_RESPONSE_TIME
        return Due(None, None, calendar, emergency, _sentence(text), opens)
    if not calendar.published:
        shown = plan.reaction_text.get(priority_id) or _hours_text(hours)
        text = f"{_sentence(shown)} {_sentence(calendar.note or NO_HOURS)}"
        return Due(None, hours, calendar, emergency, text, None)
    due = Due(add_business_hours(calendar, filed_at, hours), hours, calendar, emergency)
    words = plan.reaction_text.get(priority_id)  # the policy's own words, e.g. "0–1 h"
    text = (
        f"{words}; support hours are {calendar.describe()} ({calendar.timezone})"
        if words
        else due.describe()
    )
    return replace(due, text=text, opens_at=opens)


def triage_due(
    policy: Policy, plan_id: str | None, request_type: str, filed_at: dt.datetime
) -> Due:
    """The first response for a request type at its default priority, as triage shows it:
    an emergency type whose default is the emergency priority is timed as an accepted
    emergency (on the plan's emergency calendar) where the plan has emergency handling."""
    rt = policy.request_types[request_type]
    priority = rt.default_priority or next(iter(policy.priorities))
    e = policy.emergency
    as_emergency = (
        e is not None
        and rt.emergency
        and plan_id is not None
        and priority == emergency_priority(policy)
        and (not e.plans or plan_id in e.plans)
    )
    return first_response_due(policy, plan_id, priority, filed_at, emergency=as_emergency)


# --- what the plans page says about a plan ------------------------------------------------


def precedence_text(policy: Policy, plan_id: str) -> str:
    """The plan's place in the queue as customers read it; empty when none is stated."""
    plan = policy.plans[plan_id]
    if plan.precedence is None:
        return ""
    if plan.precedence_text:
        return plan.precedence_text
    before = [
        p.id
        for p in policy.plans.values()
        if p.precedence is not None and p.precedence < plan.precedence
    ]
    return "Served first" if not before else f"Served after {_names(policy, before, 'and')}"


def queue_order(policy: Policy) -> list[tuple[int, str]]:
    """(place, plan id) for the plans whose place in the queue is stated, first first."""
    ranked = [(p.precedence, p.id) for p in policy.plans.values() if p.precedence is not None]
    return sorted(ranked, key=lambda item: item[0])


def has_emergency_handling(policy: Policy, plan_id: str) -> bool:
    e = policy.emergency
    return e is not None and (not e.plans or plan_id in e.plans)


def emergency_handling(policy: Policy, plan_id: str) -> str:
    """What a plan does with emergencies, only as the policy states it: the plan's own
    words, else its emergency hours, else its support hours, else that it has none."""
    plan = policy.plans[plan_id]
    if plan.emergency_text:
        return _sentence(plan.emergency_text)
    if policy.emergency is None:
        return "No emergency service."
    if not has_emergency_handling(policy, plan_id):
        return "No emergency handling on this plan."
    calendar = _plan_calendar(policy, plan, emergency=True)
    if not calendar.published:
        return "Emergencies are accepted; the support hours are not published."
    which = "Emergency hours" if plan.emergency_calendar else "Within the plan's support hours"
    return f"{which}: {calendar.describe()} ({calendar.timezone})."


@dataclass(frozen=True)
class PlanPrice:
    servers: int
    amount: Decimal  # per period
    period: str  # "month" or "year"
    currency: str
    minimum_total: Decimal | None  # amount × minimum term, when a minimum is stated
    text: str


def plan_price(policy: Policy, plan_id: str, servers: int) -> PlanPrice | None:
    """A plan's price for a number of servers, from its structured price (``amount`` for
    up to ``included_servers``, ``per_extra_server`` for each further one, at least
    ``minimum_months``). None when the plan's price is not per month or year."""
    if servers < 1:
        raise ValueError("the number of servers must be 1 or more")
    price = policy.plans[plan_id].price
    if price.amount is None or price.kind not in ("per_month", "per_year"):
        return None
    currency = price.currency or policy.provider.currency
    period = "month" if price.kind == "per_month" else "year"
    extra = 0
    if price.included_servers is not None and price.per_extra_server is not None:
        extra = max(0, servers - price.included_servers)
    amount = price.amount + extra * (price.per_extra_server or Decimal(0))
    servers_text = f"{servers} server" + ("" if servers == 1 else "s")
    text = f"{money(policy, amount, currency)} per {period} for {servers_text}"
    if extra:
        text += (
            f" ({money(policy, price.amount, currency)} for up to {price.included_servers}, "
            f"plus {extra} × {money(policy, price.per_extra_server or Decimal(0), currency)})"
        )
    minimum_total = None
    if price.minimum_months and period == "month":
        minimum_total = amount * price.minimum_months
        text += (
            f"; at least {price.minimum_months} months, "
            f"{money(policy, minimum_total, currency)} in all"
        )
    return PlanPrice(servers, amount, period, currency, minimum_total, text)


# What happened to a ticket's emergency claim (stored on the ticket as emergency_outcome).
EMERGENCY_NONE = "none"  # no claim
EMERGENCY_ACCEPTED = "accepted"
EMERGENCY_NOT_EMERGENCY = "rejected_not_emergency"  # the request type is no emergency
EMERGENCY_IGNORED = "ignored_abuse"  # the account's mark is ignored (abuse rule)
EMERGENCY_NOT_ON_PLAN = "not_on_plan"  # no emergency handling on the plan (or at all)
EMERGENCY_REJECTED_BY_STAFF = "rejected_by_staff"  # accepted, then found not to be one
# no emergency by definition, but made during a matching open incident: attached to it
EMERGENCY_KNOWN_INCIDENT = "known_incident"
EMERGENCY_OUTCOMES = (
    EMERGENCY_NONE,
    EMERGENCY_ACCEPTED,
    EMERGENCY_NOT_EMERGENCY,
    EMERGENCY_IGNORED,
    EMERGENCY_NOT_ON_PLAN,
    EMERGENCY_REJECTED_BY_STAFF,
    EMERGENCY_KNOWN_INCIDENT,
)
# Only claims found false count toward the abuse rule: refused by definition, or
# rejected by staff. A claim ignored under the rule does not (or the ignore period would
# extend itself), nor one refused because the plan has no emergency handling, nor one
# made during a matching open incident (the provider already knows the outage is real).
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
    plan_id: str | None,
    priority: str,
    *,
    claimed: bool,
    rejected_claims: Sequence[dt.datetime] = (),
    now: dt.datetime,
    incident: str = "",
) -> EmergencyDecision:
    """Decide whether an 'emergency' mark stands, and at which priority to file.

    Only an accepted claim gets the emergency priority (and, in ``first_response_due``,
    the plan's emergency calendar): every other outcome files at ``ordinary_priority``.
    ``incident`` is the title of a matching open incident: a claim the definition
    would refuse is then attached to it (``EMERGENCY_KNOWN_INCIDENT``), not counted.
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
    if not rt.emergency and incident:
        return EmergencyDecision(
            False,
            priority,
            f"This matches the known incident “{incident}”: your request is attached to "
            f"it and filed at {name} priority; it does not count as a false emergency.",
            outcome=EMERGENCY_KNOWN_INCIDENT,
        )
    if not rt.emergency:
        return EmergencyDecision(
            False,
            priority,
            f"“{rt.title}” is not an emergency. {e.definition} "
            f"Your request is filed at {name} priority instead.",
            outcome=EMERGENCY_NOT_EMERGENCY,
        )
    if plan_id is None:  # the plan ended and the policy names no other: no plan
        return EmergencyDecision(
            False,
            priority,
            "Your account has no support plan at the moment, so there is no emergency "
            f"handling; your request is filed at {name} priority.",
            outcome=EMERGENCY_NOT_ON_PLAN,
        )
    if e.plans and plan_id not in e.plans:
        return EmergencyDecision(
            False,
            priority,
            f"Emergency handling is part of the {_names(policy, e.plans)} plan; your request "
            f"is filed at {name} priority.",
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
    plan_id: str | None,
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


# --- when a plan ends ---------------------------------------------------------------------


def plan_in_force(
    policy: Policy, plan_id: str, plan_ends: dt.date | None, moment: dt.datetime
) -> str | None:
    """The plan in force at ``moment`` for an account on ``plan_id`` until ``plan_ends``
    (its last day, in the provider's time zone): from the day after, the plan's
    ``when_ended.plan``, or None when that is ``none`` (no plan: paid work, priced on
    request unless published)."""
    day = moment.astimezone(ZoneInfo(policy.provider.timezone)).date()
    if plan_ends is None or day <= plan_ends:
        return plan_id
    ended = policy.plans[plan_id].when_ended
    after = ended.plan if ended else NO_PLAN
    return None if after == NO_PLAN or after not in policy.plans else after


def plan_on(
    policy: Policy,
    plan_id: str,
    plan_ends: dt.date | None,
    moment: dt.datetime,
    fallback: str | None = None,
) -> str:
    """Deprecated, for callers that cannot handle "no plan" yet: ``plan_in_force``, with
    ``fallback`` (else the ended plan) where the policy says the account has no plan."""
    found = plan_in_force(policy, plan_id, plan_ends, moment)
    if found is not None:
        return found
    return fallback if fallback is not None and fallback in policy.plans else plan_id


def plan_for_ticket(policy: Policy, plan_at_filing: str | None, plan_now: str | None) -> str | None:
    """The plan whose treatment an open ticket gets: the plan it was filed under when
    that plan says ``when_ended.tickets_keep_plan`` (Kolmisoft's "priority does not
    expire"), else the account's plan of the moment."""
    if plan_at_filing is None or plan_at_filing not in policy.plans:
        return plan_now
    ended = policy.plans[plan_at_filing].when_ended
    return plan_at_filing if ended is not None and ended.tickets_keep_plan else plan_now
