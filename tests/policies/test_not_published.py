"""A policy can say what a provider said and nothing more (#12): prices on request, no
unit or minimum, hours or response times not published, no plan after a plan ends,
"one of these" details, notes and waivers on every verdict. Small edits of the loader
tests' policy (tests/support/policies.py), one fact each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy, parse_policy
from kb.policy.calendar import describe_holidays_ahead, holidays_between, next_open
from kb.policy.details import missing_details
from kb.policy.directives import resolver
from kb.policy.engine import (
    ACCEPT_CHARGES,
    ACCEPT_QUOTE,
    EMERGENCY_NOT_ON_PLAN,
    Facts,
    check_version,
    coverage,
    emergency_handling,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    plan_in_force,
    plan_on,
    triage_due,
)
from kb.policy.pages import plan_view
from tests.support.policies import BASE, edit

BERLIN = ZoneInfo("Europe/Berlin")


def load(text: str, *, problems_allowed: bool = False) -> Policy:
    policy, problems = parse_policy(text, "policy.yaml")
    assert policy is not None
    if not problems_allowed:
        assert problems == []
    return policy


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_a_rate_without_an_amount_is_priced_on_request() -> None:
    policy = load(edit("    amount: 100\n    unit_minutes: 15\n", "    name: Services\n"))
    result = coverage(policy, "scripting", Facts(plan="basic"))
    assert (result.status, result.quote_required, result.estimate) == ("paid", True, None)
    assert "you get a quote before any work starts" in result.reason
    assert result.acceptance_text == ACCEPT_QUOTE
    data = result.as_json()
    assert (data["rate"], data["estimate"], data["quote_required"]) == (None, None, True)
    assert estimate(policy, policy.request_types["scripting"]) is None
    assert resolver(policy)("rate.hourly.amount") is None
    assert resolver(policy)("rate.hourly.unit") is None


def test_a_rate_without_a_unit_is_not_rounded_to_one() -> None:
    text = edit("    unit_minutes: 15\n", "").replace(
        "    rate: hourly\n", "    rate: hourly\n    effort_hours: [0.1, 1.1]\n"
    )
    policy = load(text)
    est = estimate(policy, policy.request_types["scripting"])
    assert est is not None
    # 6 and 66 minutes at €100/h, not rounded up to 60-minute units
    assert (est.low, est.high, est.minutes_low, est.minutes_high) == (
        Decimal("10.00"),
        Decimal("110.00"),
        6,
        66,
    )
    assert "unit" not in est.text
    result = coverage(policy, "scripting", Facts(plan="basic"))
    assert not result.quote_required and result.acceptance_text == ACCEPT_CHARGES


def test_hours_not_published_give_no_due_time_and_say_why() -> None:
    text = edit(
        '    hours:\n      mon-fri: "08:00-18:00"\n    holidays:\n      country: DE\n',
        "    hours: not published\n    note: Our hours are not published.\n",
    )
    policy = load(text)
    calendar = policy.calendars["office"]
    assert not calendar.published and calendar.describe() == "not published"
    assert next_open(calendar, at("2026-11-20 10:00")) is None
    due = first_response_due(policy, "basic", "high", at("2026-11-20 10:00"))
    assert (due.at, due.opens_at, due.hours) == (None, None, 4.0)
    assert due.describe() == "4 hours. Our hours are not published."
    assert plan_view(policy, "basic").hours == "Not published"
    assert resolver(policy)("hours.office") == ("not published", False)


def test_no_target_gives_the_policys_words_and_when_support_opens() -> None:
    text = edit(
        "    reaction: {high: 4, low: 16}",
        "    first_response_text: We answer when we can.",
    )
    policy = load(text)
    due = first_response_due(policy, "basic", "low", at("2026-11-20 19:00"))  # a Friday
    assert due.at is None
    assert due.describe() == "We answer when we can."
    assert due.opens_at == at("2026-11-23 08:00")
    assert due.as_json() == {
        "first_response_due": None,
        "first_response_text": "We answer when we can.",
        "support_opens_at": "2026-11-23T08:00:00+01:00",
    }


def test_not_in_plan_where_no_plan_offers_it_reads_as_not_offered() -> None:
    text = edit(
        "    coverage: {default: included}\n    details: [description]",
        "    coverage: {default: not_in_plan}\n    details: [description]",
    )
    policy = load(text, problems_allowed=True)  # portal check reports it too
    result = coverage(policy, "question", Facts(plan="basic"))
    assert result.status == "unsupported"
    assert result.plans_covering == ()


@pytest.mark.parametrize(
    ("request_type", "status"),
    [("question", "included"), ("scripting", "paid")],
)
def test_the_note_comes_with_every_verdict(request_type: str, status: str) -> None:
    text = BASE.replace("    category: general\n", "    category: general\n    note: Mind this.\n")
    policy = load(text)
    result = coverage(policy, request_type, Facts(plan="basic"))
    assert (result.status, result.note, result.as_json()["note"]) == (
        status,
        "Mind this.",
        "Mind this.",
    )


def test_request_type_waivers_are_claimable_with_their_ids() -> None:
    text = BASE.replace("rates:\n", "waivers:\n  ours: the fault is ours\nrates:\n").replace(
        "    rate: hourly\n", "    rate: hourly\n    waivers: [ours]\n"
    )
    policy = load(text)
    result = coverage(policy, "scripting", Facts(plan="basic"))
    assert result.as_json()["waivers"] == [{"id": "ours", "text": "the fault is ours"}]
    assert "No charge if the fault is ours." in result.reason


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"error_message"}, []),
        ({"description", "occurred_at"}, []),
        ({"description"}, ["group-0"]),
        (set(), ["group-0"]),
    ],
)
def test_one_of_these_details_suffices(given: set[str], missing: list[str]) -> None:
    text = edit(
        "    details: [description]",
        "    details: [error_message, description, occurred_at]\n"
        "    detail_groups:\n      - options: [[error_message], [description, occurred_at]]",
    )
    rt = load(text).request_types["question"]
    problems = missing_details(rt, given)
    assert list(problems) == missing
    if missing:
        assert problems["group-0"] == (
            "Fill in “Exact error message”, or “Describe your request” and “When did it happen?”."
        )


def test_versions_without_a_minimum_block_nothing_and_newer_releases_are_current() -> None:
    text = (
        BASE + 'versions:\n  product: Panel\n  releases: ["1", "2", "3"]\n  free_bugfix_latest: 2\n'
    )
    policy = load(text)
    for version in ("X5", "Panel 3", "4", "3.1"):
        verdict = check_version(policy, version)
        assert verdict is not None and verdict.supported, version
        assert "upgrad" not in verdict.advice.lower()
    newer = check_version(policy, "4")
    assert newer is not None and newer.free_bugfix and "newer than the releases" in newer.advice
    old = check_version(policy, "1")
    assert old is not None and not old.free_bugfix
    with_minimum = load(text.replace('  releases: ["1"', '  minimum: "2"\n  releases: ["1"'))
    verdict = check_version(with_minimum, "X5")
    assert verdict is not None and not verdict.supported


def test_a_plan_that_does_not_say_what_happens_when_it_ends_leaves_no_plan() -> None:
    policy = load(BASE)
    ends = dt.date(2026, 10, 31)
    assert plan_in_force(policy, "basic", ends, at("2026-10-31 23:30")) == "basic"
    assert plan_in_force(policy, "basic", ends, at("2026-11-01 00:30")) is None
    assert plan_for_ticket(policy, "basic", None) is None  # nothing keeps the plan
    # the deprecated helper keeps its callers' fallback until they handle "no plan"
    assert plan_on(policy, "basic", ends, at("2026-11-01 00:30"), None) == "basic"
    result = coverage(policy, "question", Facts(plan=None))
    assert (result.status, result.quote_required) == ("paid", True)
    assert first_response_due(policy, None, "high", at("2026-11-01 10:00")).at is None


def test_a_fallback_plan_and_tickets_that_keep_their_plan() -> None:
    text = edit(
        "plans:\n",
        "plans:\n  - id: gold\n    name: Gold\n    price: {kind: included, text: Included}\n"
        "    calendar: office\n    when_ended: {plan: basic, tickets_keep_plan: true}\n",
    )
    policy = load(text)
    ends = dt.date(2026, 10, 31)
    assert plan_in_force(policy, "gold", ends, at("2026-11-02 10:00")) == "basic"
    assert plan_for_ticket(policy, "gold", "basic") == "gold"
    assert plan_for_ticket(policy, "basic", "gold") == "gold"  # basic says nothing


def test_emergency_handling_comes_only_from_the_policy() -> None:
    policy = load(BASE)
    text = emergency_handling(policy, "basic")
    assert text == "Within the plan's support hours: Mon–Fri 08:00–18:00 (Europe/Berlin)."
    assert "first" not in text
    table, _ = resolver(policy)("plans") or ("", False)
    assert "Handled first" not in table


def test_triage_times_an_emergency_type_on_the_emergency_calendar() -> None:
    text = (
        edit(
            "    reaction: {high: 4, low: 16}",
            "    reaction: {high: 4, low: 16}\n    emergency_calendar: always",
        )
        .replace(
            "calendars:\n",
            "calendars:\n  always:\n    hours: 24x7\n",
        )
        .replace(
            "    coverage: {default: included}\n    emergency: true",
            "    coverage: {default: included}\n    emergency: true\n    priorities: [high, low]\n"
            "    default_priority: high",
        )
    )
    policy = load(text)
    saturday = at("2026-11-21 03:00")
    assert triage_due(policy, "basic", "outage", saturday).at == at("2026-11-21 07:00")
    # "question" is no emergency: 16 office hours from Monday 08:00
    assert triage_due(policy, "basic", "question", saturday).at == at("2026-11-24 14:00")


def test_holidays_are_listed_as_dates_of_the_next_12_months() -> None:
    calendar = load(BASE).calendars["office"]
    ahead = holidays_between(calendar, dt.date(2026, 12, 1))
    assert [d.day for d in ahead][:2] == [dt.date(2026, 12, 25), dt.date(2026, 12, 26)]
    text = describe_holidays_ahead(calendar, dt.date(2026, 12, 1))
    assert text.startswith("Closed on Fri 25 Dec 2026 (Christmas Day)")
    ukraine = load(BASE.replace("country: DE", "country: UA")).calendars["office"]
    assert holidays_between(ukraine, dt.date(2026, 12, 1)) == []
    assert describe_holidays_ahead(ukraine, dt.date(2026, 12, 1)).startswith(
        "No holidays in the next 12 months"
    )


def test_an_account_without_a_plan_has_no_emergency_handling() -> None:
    decision = gate_emergency(
        load(BASE), "outage", None, "high", claimed=True, now=at("2026-11-21 03:00")
    )
    assert not decision.accepted and decision.outcome == EMERGENCY_NOT_ON_PLAN
    assert "no support plan" in decision.explanation
    assert not decision.counts_as_rejected
