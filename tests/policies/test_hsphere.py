"""The H-Sphere example pack (examples/hsphere/policy.yaml) through the engine.

Each scenario restates a fact from the provider's support policy page in our own words.
The page publishes no hourly rate, no response time and no abuse limits: the pack says
so, and these tests fail on any of them coming back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.answers import triage_answer
from kb.policy.calendar import holidays_between, is_open
from kb.policy.details import missing_details
from kb.policy.directives import resolver
from kb.policy.engine import (
    ACCEPT_QUOTE,
    Facts,
    check_version,
    coverage,
    emergency_handling,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    plan_in_force,
    plan_price,
    precedence_text,
    queue_order,
    support_opens_at,
)
from kb.policy.pages import coverage_cell, plan_view

PACK = Path(__file__).resolve().parents[2] / "examples" / "hsphere" / "policy.yaml"
NY = ZoneInfo("America/New_York")


def ny(text: str) -> dt.datetime:
    """A wall-clock time in New York (the pack's zone for the page's 'EST')."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


# --- coverage per plan -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "plan", "version", "status"),
    [
        pytest.param(
            "general-support",
            "regular",
            None,
            "included",
            id="h-sphere-not-working-as-advertised-is-a-support-issue-on-regular",
        ),
        pytest.param(
            "general-support",
            "priority",
            None,
            "included",
            id="priority-is-read-as-including-general-support-like-regular",
        ),
        pytest.param(
            "general-support",
            "regular",
            "2.3",
            "version_unsupported",
            id="only-2.4-and-later-are-supported-so-2.3-is-refused",
        ),
        pytest.param(
            "general-support",
            "priority",
            "2.4",
            "included",
            id="2.4-is-the-oldest-supported-release",
        ),
        pytest.param(
            "general-support",
            "regular",
            "2.10",
            "included",
            id="versions-compare-numerically-2.10-is-newer-than-2.4",
        ),
        pytest.param(
            "upgrade", "regular", "2.3", "paid", id="users-on-2.3-may-still-ask-us-to-upgrade-them"
        ),
        pytest.param(
            "server-recovery",
            "regular",
            None,
            "paid",
            id="recovering-a-crashed-or-hacked-server-is-bought-separately",
        ),
        pytest.param(
            "ip-migration",
            "priority",
            None,
            "paid",
            id="changing-external-ips-is-bought-separately",
        ),
        pytest.param(
            "server-migration",
            "regular",
            None,
            "paid",
            id="moving-logical-servers-between-boxes-is-bought-separately",
        ),
        pytest.param(
            "installation",
            "priority",
            None,
            "paid",
            id="installing-or-reinstalling-h-sphere-is-an-additional-service",
        ),
        pytest.param(
            "third-party-install",
            "regular",
            None,
            "paid",
            id="installing-postgresql-java-or-apache-is-an-additional-service",
        ),
        pytest.param(
            "recompilation",
            "priority",
            None,
            "paid",
            id="recompiling-integrated-packages-is-an-additional-service",
        ),
        pytest.param(
            "firewall-config",
            "priority",
            None,
            "unsupported",
            id="firewall-configuration-is-never-provided",
        ),
        pytest.param(
            "reverse-dns", "regular", None, "unsupported", id="reverse-dns-is-never-provided"
        ),
        pytest.param(
            "security-config",
            "priority",
            None,
            "unsupported",
            id="security-configuration-is-never-provided",
        ),
        pytest.param(
            "spam-fighting", "regular", None, "unsupported", id="fighting-spam-is-never-provided"
        ),
        pytest.param(
            "feature-change",
            "priority",
            None,
            "paid",
            id="disliking-how-something-works-is-a-paid-project-not-support",
        ),
        pytest.param(
            "post-upgrade-trouble",
            "regular",
            None,
            "included",
            id="apache-or-dns-trouble-right-after-an-upgrade-is-handled",
        ),
        pytest.param(
            "apache-dns-trouble",
            "regular",
            None,
            "included",
            id="apache-or-dns-trouble-without-an-upgrade-is-looked-at-when-there-is-time",
        ),
        pytest.param(
            "response-complaint",
            "regular",
            None,
            "included",
            id="feedback-on-a-bad-answer-is-welcome",
        ),
    ],
)
def test_coverage(
    policy: Policy, request_type: str, plan: str, version: str | None, status: str
) -> None:
    result = coverage(policy, request_type, Facts(plan=plan, version=version))
    assert result.status == status, result.reason
    assert result.reason


# --- the services bought separately are priced on request --------------------------------


@pytest.mark.parametrize(
    "request_type",
    [
        pytest.param("server-recovery", id="recovery-price-is-not-published"),
        pytest.param("ip-migration", id="ip-migration-price-is-not-published"),
        pytest.param("server-migration", id="server-migration-price-is-not-published"),
        pytest.param("installation", id="installation-price-is-not-published"),
        pytest.param("upgrade", id="upgrade-price-is-not-published"),
        pytest.param("third-party-install", id="third-party-price-is-not-published"),
        pytest.param("recompilation", id="recompilation-price-is-not-published"),
        pytest.param("feature-change", id="a-project-is-priced-when-it-is-taken-on"),
    ],
)
def test_for_prices_see_the_service_so_you_get_a_quote_before_any_work(
    policy: Policy, request_type: str
) -> None:
    result = coverage(policy, request_type, Facts(plan="regular"))
    assert (result.status, result.quote_required, result.estimate) == ("paid", True, None)
    assert "quote before any work" in result.reason
    assert result.acceptance_text == ACCEPT_QUOTE  # "I want a quote", never "I accept"
    assert "accept the charges" not in result.acceptance_text
    assert estimate(policy, policy.request_types[request_type]) is None
    data = result.as_json()
    assert (data["rate"], data["estimate"], data["quote_required"]) == (None, None, True)
    assert data["acceptance_text"] == ACCEPT_QUOTE
    assert "$" not in result.reason  # no amount is named anywhere


def test_no_hourly_rate_unit_minimum_or_effort_range_is_invented(policy: Policy) -> None:
    (rate,) = policy.rates.values()
    assert (rate.amount, rate.unit_minutes, rate.minimum_minutes) == (None, None, 0)
    assert all(rt.effort_hours is None for rt in policy.request_types.values())
    assert resolver(policy)("rate.services") == (
        "priced on request: you get a quote before any work starts",
        False,
    )
    assert resolver(policy)("rate.services.amount") is None  # nothing to quote
    assert coverage_cell(policy, "installation", "priority").price == "priced on request"


# --- notes reach the customer on every status ----------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "plan", "status", "words"),
    [
        pytest.param(
            "feature-change",
            "regular",
            "paid",
            "release the change as part of a later version",
            id="we-might-reject-the-project-or-release-it-in-the-next-version",
        ),
        pytest.param(
            "upgrade",
            "priority",
            "paid",
            "Only registered customers",
            id="the-upgrade-form-is-for-registered-customers-only",
        ),
        pytest.param(
            "apache-dns-trouble",
            "regular",
            "included",
            "do not expect immediate attention",
            id="without-priority-support-do-not-expect-immediate-attention",
        ),
        pytest.param(
            "post-upgrade-trouble",
            "priority",
            "included",
            "looked at right away",
            id="just-after-an-upgrade-apache-or-dns-is-looked-at-right-away",
        ),
        pytest.param(
            "account-problem",
            "regular",
            "included",
            "ignored",
            id="an-emergency-label-on-a-single-account-is-ignored",
        ),
        pytest.param(
            "firewall-config",
            "priority",
            "unsupported",
            "Preparing Servers",
            id="unsupported-services-point-to-the-guide",
        ),
        pytest.param(
            "response-complaint",
            "regular",
            "included",
            "address for this feedback blank",
            id="the-complaints-address-is-blank-in-the-source",
        ),
        pytest.param(
            "server-recovery",
            "regular",
            "paid",
            "plans include only general support",
            id="recovery-is-read-as-bought-separately",
        ),
    ],
)
def test_the_request_type_note_is_shown_with_the_verdict(
    policy: Policy, request_type: str, plan: str, status: str, words: str
) -> None:
    result = coverage(policy, request_type, Facts(plan=plan))
    assert result.status == status
    assert words in result.note
    assert result.as_json()["note"] == result.note


# --- plans: prices, queue, emergencies, end --------------------------------------------------


def test_plan_prices(policy: Policy) -> None:
    regular = policy.plans["regular"].price
    assert regular.kind == "licence_share"
    assert regular.licence_share_percent == Decimal(20)
    assert regular.first_year_free
    priority = policy.plans["priority"].price
    assert (priority.amount, priority.included_servers, priority.per_extra_server) == (
        Decimal(300),
        4,
        Decimal(50),
    )
    assert priority.minimum_months == 3
    assert priority.currency == "USD"
    assert "presales" in policy.plans["priority"].channels


@pytest.mark.parametrize(
    ("servers", "per_month", "minimum"),
    [
        pytest.param(1, "300", "900", id="up-to-4-servers-cost-300-a-month"),
        pytest.param(4, "300", "900", id="four-servers-are-still-the-base-price"),
        pytest.param(6, "400", "1200", id="50-for-each-additional-server-6-servers-400"),
        pytest.param(10, "600", "1800", id="ten-servers-600-a-month-3-months-minimum"),
    ],
)
def test_priority_is_300_a_month_for_4_servers_50_per_extra_server_3_months_minimum(
    policy: Policy, servers: int, per_month: str, minimum: str
) -> None:
    price = plan_price(policy, "priority", servers)
    assert price is not None
    assert (price.amount, price.minimum_total, price.period) == (
        Decimal(per_month),
        Decimal(minimum),
        "month",
    )
    assert f"{servers} server" in price.text and "at least 3 months" in price.text
    assert plan_price(policy, "regular", servers) is None  # a licence share, not per server


def test_ordering_priority_asks_how_many_servers(policy: Policy) -> None:
    rt = policy.request_types["priority-signup"]
    assert "server_count" in rt.details
    assert missing_details(rt, set()) == {"server_count": "Fill in “Number of servers”."}
    assert missing_details(rt, {"server_count"}) == {}


@pytest.mark.parametrize(
    ("plan", "place", "text", "emergencies"),
    [
        pytest.param(
            "priority",
            1,
            "Served first",
            "Priority customers come first",
            id="priority-support-customers-come-first",
        ),
        pytest.param(
            "regular",
            2,
            "Served after Priority",
            "as soon as possible",
            id="if-it-is-an-emergency-we-try-asap-yet-priority-customers-come-first",
        ),
    ],
)
def test_priority_customers_still_come_first(
    policy: Policy, plan: str, place: int, text: str, emergencies: str
) -> None:
    assert policy.plans[plan].precedence == place
    assert precedence_text(policy, plan) == text
    assert emergencies in emergency_handling(policy, plan)
    # no page says "handled first" where the policy does not
    assert "Handled first" not in emergency_handling(policy, plan)
    assert queue_order(policy) == [(1, "priority"), (2, "regular")]


@pytest.mark.parametrize(
    ("plan", "ends", "moment", "in_force"),
    [
        pytest.param(
            "priority", "2027-05-31", "2027-05-31 23:00", "priority", id="last-day-of-the-plan"
        ),
        pytest.param(
            "priority",
            "2027-05-31",
            "2027-06-01 09:00",
            None,
            id="an-expired-priority-plan-no-longer-gives-priority",
        ),
        pytest.param(
            "regular", "2027-05-31", "2027-06-01 09:00", None, id="an-expired-regular-plan-too"
        ),
        pytest.param("priority", None, "2030-01-01 09:00", "priority", id="open-ended-plan"),
    ],
)
def test_the_policy_does_not_say_what_happens_when_a_plan_ends(
    policy: Policy, plan: str, ends: str | None, moment: str, in_force: str | None
) -> None:
    last = dt.date.fromisoformat(ends) if ends else None
    assert plan_in_force(policy, plan, last, ny(moment)) == in_force
    if in_force is None:
        # no plan: services are bought separately, priced on request; no time is promised
        result = coverage(policy, "general-support", Facts(plan=None))
        assert (result.status, result.quote_required) == ("paid", True)
        assert "no support plan" in result.reason
        assert first_response_due(policy, None, "normal", ny(moment)).at is None
        # tickets filed during the plan do not keep it: nothing says priority persists
        assert plan_for_ticket(policy, plan, None) is None


def test_services_no_plan_offers_stay_not_offered_without_a_plan(policy: Policy) -> None:
    assert coverage(policy, "spam-fighting", Facts(plan=None)).status == "unsupported"


# --- support hours, holidays and first response ------------------------------------------


@pytest.mark.parametrize(
    ("plan", "priority", "filed", "opens", "words"),
    [
        pytest.param(
            "regular",
            "emergency",
            "2026-01-16 16:30",
            "2026-01-19 02:00",
            "an answer takes time",
            id="regular-no-time-promised-closed-at-weekends-opens-monday-2am",
        ),
        pytest.param(
            "regular",
            "normal",
            "2021-08-20 16:30",
            "2021-08-25 02:00",
            "Priority customers come first",
            id="regular-closed-on-ukrainian-national-holidays-2021",
        ),
        pytest.param(
            "regular",
            "normal",
            "2026-02-03 00:30",
            "2026-02-03 02:00",
            "support days and hours",
            id="regular-opens-at-2am-new-york-time",
        ),
        pytest.param(
            "regular",
            "normal",
            "2026-03-06 16:30",
            "2026-03-09 02:00",
            "an answer takes time",
            id="weekday-hours-follow-the-wall-clock-across-the-march-dst-change",
        ),
        pytest.param(
            "priority",
            "normal",
            "2026-01-17 16:30",
            "2026-01-18 03:00",
            "No response time is published",
            id="priority-works-weekends-from-3am-to-4pm",
        ),
        pytest.param(
            "priority",
            "normal",
            "2021-08-24 02:00",
            "2021-08-24 03:00",
            "Priority customers come first",
            id="priority-keeps-weekend-hours-on-ukrainian-holidays",
        ),
        pytest.param(
            "priority",
            "emergency",
            "2026-03-04 23:00",
            "2026-03-04 23:00",
            "Priority customers come first",
            id="priority-is-open-around-the-clock-on-weekdays",
        ),
    ],
)
def test_no_response_time_is_promised_only_when_support_is_next_open(
    policy: Policy, plan: str, priority: str, filed: str, opens: str, words: str
) -> None:
    due = first_response_due(policy, plan, priority, ny(filed))
    assert due.at is None and due.hours is None
    assert words in due.describe()
    assert due.opens_at == ny(opens)
    assert support_opens_at(policy, plan, ny(filed)) == ny(opens)
    data = due.as_json()
    assert data["first_response_due"] is None
    assert data["support_opens_at"] == ny(opens).isoformat()


def test_no_reaction_target_on_either_plan(policy: Policy) -> None:
    for plan in policy.plans.values():
        assert all(hours is None for hours in plan.reaction.values())
        assert plan_view(policy, plan.id).responses == ()
        assert "No response time" in plan_view(policy, plan.id).response


@pytest.mark.parametrize(
    ("calendar", "today", "dates", "hours"),
    [
        pytest.param(
            "regular", "2026-12-01", 0, "closed", id="no-ukrainian-holidays-under-martial-law"
        ),
        pytest.param(
            "priority", "2026-12-01", 0, "03:00–16:00", id="priority-holiday-hours-3am-to-4pm"
        ),
        pytest.param("regular", "2021-01-01", 19, "closed", id="2021-still-had-holidays"),
    ],
)
def test_ukrainian_national_holidays(
    policy: Policy, calendar: str, today: str, dates: int, hours: str
) -> None:
    cal = policy.calendars[calendar]
    ahead = holidays_between(cal, dt.date.fromisoformat(today))
    assert len(ahead) == dates
    view = plan_view(policy, calendar, dt.date.fromisoformat(today))  # plan ids = calendar ids
    assert view.holiday_hours == hours
    if not dates:
        assert "No holidays in the next 12 months" in view.holidays
        assert "Closed on public holidays in Ukraine" not in view.holidays


def test_ukrainian_holidays_after_2021_are_not_in_the_holidays_package(
    policy: Policy,
) -> None:
    # martial law: the package lists no Ukrainian public holidays from 2022 on, so
    # 24 August is a normal working day for the calendar in 2026 (a Monday)
    calendar = policy.calendars["regular"]
    assert not is_open(calendar, ny("2021-08-24 10:00"))
    assert is_open(calendar, ny("2026-08-24 10:00"))


def test_est_is_read_as_us_eastern_time_and_customers_are_told(policy: Policy) -> None:
    for calendar in policy.calendars.values():
        assert calendar.timezone == "America/New_York"
        assert "EST" in calendar.note and "EDT" in calendar.note


# --- emergencies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "plan", "accepted", "highest", "rejected"),
    [
        pytest.param(
            "server-down", "regular", True, False, False, id="server-down-is-an-emergency"
        ),
        pytest.param(
            "mail-server-down", "regular", True, True, False, id="mail-server-down-is-top-level"
        ),
        pytest.param(
            "web-server-down", "priority", True, True, False, id="web-server-down-is-top-level"
        ),
        pytest.param(
            "account-problem",
            "priority",
            False,
            False,
            True,
            id="emergency-on-a-single-account-issue-is-ignored",
        ),
    ],
)
def test_emergency_gate(
    policy: Policy, request_type: str, plan: str, accepted: bool, highest: bool, rejected: bool
) -> None:
    decision = gate_emergency(
        policy, request_type, plan, "normal", claimed=True, now=ny("2026-02-03 10:00")
    )
    assert decision.accepted is accepted
    assert decision.counts_as_rejected is rejected
    assert ("highest emergencies" in decision.explanation) is highest
    assert decision.priority == ("emergency" if accepted else "normal")


def test_the_page_gives_no_numbers_for_emergency_abuse(policy: Policy) -> None:
    e = policy.emergency
    assert e is not None
    assert (e.max_rejected, e.window_days, e.ignore_days) == (0, 0, 0)
    assert "no numbers" in e.abuse_text
    assert resolver(policy)("emergency.abuse") == (e.abuse_text.replace('"', "&quot;"), False)
    # so ten false claims in a week change nothing automatically
    claims = [ny("2026-01-01 12:00") + dt.timedelta(hours=h) for h in range(10)]
    decision = gate_emergency(
        policy,
        "server-down",
        "regular",
        "emergency",
        claimed=True,
        rejected_claims=claims,
        now=ny("2026-01-02 12:00"),
    )
    assert decision.accepted and not decision.flag_ignored


def test_the_emergency_priority_cannot_be_had_without_the_emergency_mark(policy: Policy) -> None:
    decision = gate_emergency(
        policy, "server-down", "regular", "emergency", claimed=False, now=ny("2026-01-22 12:00")
    )
    assert not decision.accepted
    assert decision.priority == "normal"


def test_only_emergencies_and_everything_else(policy: Policy) -> None:
    # the page defines no priority levels beyond "emergency"
    assert list(policy.priorities) == ["emergency", "normal"]


# --- triage ------------------------------------------------------------------------------


def test_triage_gives_no_due_time_and_says_when_support_opens(policy: Policy) -> None:
    answer = triage_answer(
        policy,
        [("server-down", 2.0), ("installation", 1.0)],
        Facts(plan="regular"),
        ny("2026-01-17 10:00"),
    )
    assert answer["first_response_due"] is None
    assert "an answer takes time" in str(answer["first_response_text"])
    assert answer["support_opens_at"] == ny("2026-01-19 02:00").isoformat()
    paid = answer["request_types"][1]["coverage"]
    assert (paid["rate"], paid["quote_required"], paid["estimate"]) == (None, True, None)


# --- versions, routing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "supported"),
    [("2.3", False), ("2.2.5", False), ("2.4", True), ("2.4.1", True), ("3.0", True)],
)
def test_supported_versions(policy: Policy, version: str, supported: bool) -> None:
    verdict = check_version(policy, version)
    assert verdict is not None
    assert verdict.supported is supported
    assert not verdict.free_bugfix
    if not supported:
        assert "contact support or to upgrade" in verdict.advice


def test_no_request_is_passed_upstream_or_to_a_supervisor(policy: Policy) -> None:
    assert {rt.routing for rt in policy.request_types.values()} == {"own"}
    assert policy.provider.supervisor_email == ""
