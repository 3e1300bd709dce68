"""The H-Sphere example pack (examples/policies/hsphere.yaml) through the engine.

Each scenario restates a fact from the provider's support policy page in our own words.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.calendar import is_open
from kb.policy.engine import (
    Facts,
    check_version,
    coverage,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
)

PACK = Path(__file__).resolve().parents[2] / "examples" / "policies" / "hsphere.yaml"
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
            id="general-support-is-part-of-priority-too",
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
            "upgrade",
            "regular",
            "2.3",
            "paid",
            id="users-on-2.3-may-still-ask-us-to-upgrade-them",
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
            id="changing-external-ips-is-an-extra-service",
        ),
        pytest.param(
            "server-migration",
            "regular",
            None,
            "paid",
            id="moving-logical-servers-between-boxes-is-an-extra-service",
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
            "reverse-dns",
            "regular",
            None,
            "unsupported",
            id="reverse-dns-is-never-provided",
        ),
        pytest.param(
            "security-config",
            "priority",
            None,
            "unsupported",
            id="security-configuration-is-never-provided",
        ),
        pytest.param(
            "spam-fighting",
            "regular",
            None,
            "unsupported",
            id="fighting-spam-is-never-provided",
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


def test_unsupported_services_say_so_and_offer_a_pointer(policy: Policy) -> None:
    result = coverage(policy, "firewall-config", Facts(plan="priority"))
    assert not result.can_continue
    assert "any plan" in result.reason
    assert "preparation guide" in result.reason


def test_feature_change_note_warns_it_may_be_rejected(policy: Policy) -> None:
    rt = policy.request_types["feature-change"]
    assert "turn it down" in rt.note
    assert "later release" in rt.note


def test_apache_trouble_without_an_upgrade_waits_for_spare_time(policy: Policy) -> None:
    # only right after an upgrade does Apache/DNS trouble get immediate attention
    later = policy.request_types["apache-dns-trouble"]
    now = policy.request_types["post-upgrade-trouble"]
    assert later.priorities == ("low",)
    assert now.default_priority == "high"
    assert first_response_due(policy, "regular", "low", ny("2026-02-03 10:00")).at is None


# --- prices and estimates --------------------------------------------------------------


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
    ("request_type", "low", "high", "minutes"),
    [
        # 24 minutes round up to one 30-minute unit, then the 1-hour minimum applies;
        # 66 minutes round up to three units
        pytest.param("recompilation", "100.00", "150.00", (60, 90), id="recompile-rounding"),
        pytest.param("third-party-install", "100.00", "200.00", (60, 120), id="third-party"),
    ],
)
def test_estimates_round_up_to_units_and_minimum(
    policy: Policy, request_type: str, low: str, high: str, minutes: tuple[int, int]
) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert (est.low, est.high) == (Decimal(low), Decimal(high))
    assert (est.minutes_low, est.minutes_high) == minutes
    assert est.currency == "USD"


def test_services_without_an_effort_range_quote_the_rate(policy: Policy) -> None:
    est = estimate(policy, policy.request_types["server-recovery"])
    assert est is not None
    assert "depends on the time" in est.text
    assert "$100.00 per hour" in est.text


# --- support hours and first response --------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "priority", "filed", "due"),
    [
        pytest.param(
            "regular",
            "emergency",
            "2026-01-16 15:00",
            "2026-01-19 05:00",
            id="regular-is-closed-at-weekends-so-friday-afternoon-runs-into-monday",
        ),
        pytest.param(
            "regular",
            "emergency",
            "2021-08-20 14:00",
            "2021-08-25 04:00",
            id="regular-closes-on-ukrainian-holidays-independence-day-2021",
        ),
        pytest.param(
            "regular",
            "normal",
            "2021-08-20 15:00",
            "2021-08-26 15:00",
            id="two-support-days-skip-the-weekend-and-both-holidays",
        ),
        pytest.param(
            "regular",
            "emergency",
            "2026-02-03 00:30",
            "2026-02-03 06:00",
            id="regular-opens-at-2am-new-york-time",
        ),
        pytest.param(
            "regular",
            "emergency",
            "2026-03-06 15:00",
            "2026-03-09 05:00",
            id="weekday-hours-follow-the-wall-clock-across-the-march-dst-change",
        ),
        pytest.param(
            "priority",
            "normal",
            "2026-01-17 15:00",
            "2026-01-18 06:00",
            id="priority-works-weekends-from-3am-to-4pm",
        ),
        pytest.param(
            "priority",
            "normal",
            "2021-08-23 15:00",
            "2021-08-24 06:00",
            id="priority-keeps-weekend-hours-on-ukrainian-holidays",
        ),
        pytest.param(
            "priority",
            "emergency",
            "2026-03-04 23:00",
            "2026-03-05 00:00",
            id="priority-is-open-around-the-clock-on-weekdays",
        ),
        pytest.param(
            "priority",
            "low",
            "2026-01-16 20:00",
            "2026-01-17 07:00",
            id="priority-friday-evening-continues-into-saturday-morning",
        ),
    ],
)
def test_first_response_due(policy: Policy, plan: str, priority: str, filed: str, due: str) -> None:
    result = first_response_due(policy, plan, priority, ny(filed))
    assert result.at == ny(due)


def test_priority_customers_come_first(policy: Policy) -> None:
    regular, priority = policy.plans["regular"].reaction, policy.plans["priority"].reaction
    for level in ("emergency", "high", "normal"):
        assert priority[level] is not None and regular[level] is not None
        assert priority[level] < regular[level]


def test_ukrainian_holidays_after_2021_are_not_in_the_holidays_package(
    policy: Policy,
) -> None:
    # martial law: the package lists no Ukrainian public holidays from 2022 on, so
    # 24 August is a normal working day for the calendar in 2026 (a Monday)
    calendar = policy.calendars["regular"]
    assert not is_open(calendar, ny("2021-08-24 10:00"))
    assert is_open(calendar, ny("2026-08-24 10:00"))


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
    if accepted:
        assert decision.priority == "emergency"
    else:
        assert decision.priority == "normal"


@pytest.mark.parametrize(
    ("rejected_days", "ignored"),
    [
        pytest.param((1, 10, 20), True, id="three-false-alarms-in-30-days-make-the-flag-ignored"),
        pytest.param((1, 10), False, id="two-false-alarms-are-tolerated"),
        pytest.param((1, 20, 40), False, id="false-alarms-spread-over-more-than-30-days"),
    ],
)
def test_habitual_emergency_marking_is_ignored(
    policy: Policy, rejected_days: tuple[int, ...], ignored: bool
) -> None:
    claims = [ny("2026-01-01 12:00") + dt.timedelta(days=d) for d in rejected_days]
    now = ny("2026-02-12 12:00")
    decision = gate_emergency(
        policy,
        "server-down",
        "priority",
        "emergency",
        claimed=True,
        rejected_claims=claims,
        now=now,
    )
    assert decision.flag_ignored is ignored
    assert decision.accepted is not ignored


def test_ignored_flag_expires_after_30_days(policy: Policy) -> None:
    claims = [ny("2026-01-01 12:00"), ny("2026-01-05 12:00"), ny("2026-01-10 12:00")]
    during = gate_emergency(
        policy,
        "server-down",
        "regular",
        "emergency",
        claimed=True,
        rejected_claims=claims,
        now=ny("2026-02-08 12:00"),
    )
    assert during.flag_ignored
    assert during.ignored_until == ny("2026-02-09 12:00")
    after = gate_emergency(
        policy,
        "server-down",
        "regular",
        "emergency",
        claimed=True,
        rejected_claims=claims,
        now=ny("2026-02-10 12:00"),
    )
    assert after.accepted


@pytest.mark.parametrize(
    ("request_type", "plan", "chosen", "claimed", "rejected_days", "filed_at"),
    [
        pytest.param(
            "server-down",
            "regular",
            "emergency",
            False,
            (),
            "high",
            id="the-emergency-priority-cannot-be-had-without-the-emergency-mark",
        ),
        pytest.param(
            "web-server-down",
            "priority",
            "emergency",
            True,
            (1, 10, 20),
            "high",
            id="a-habitual-emergency-mark-that-is-ignored-gets-no-emergency-priority-either",
        ),
    ],
)
def test_emergency_priority_only_through_an_accepted_claim(
    policy: Policy,
    request_type: str,
    plan: str,
    chosen: str,
    claimed: bool,
    rejected_days: tuple[int, ...],
    filed_at: str,
) -> None:
    claims = [ny("2026-01-01 12:00") + dt.timedelta(days=d) for d in rejected_days]
    now = ny("2026-01-22 12:00")
    decision = gate_emergency(
        policy, request_type, plan, chosen, claimed=claimed, rejected_claims=claims, now=now
    )
    assert not decision.accepted
    assert decision.priority == filed_at
    due = first_response_due(policy, plan, decision.priority, now, emergency=decision.accepted)
    assert due.hours == policy.plans[plan].reaction[filed_at]  # not the emergency target


# --- versions, contacts, persistence, routing ------------------------------------------


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
        assert "upgrade" in verdict.advice.lower()


def test_plan_ends_means_the_ticket_follows_the_current_plan(policy: Policy) -> None:
    # the page says nothing about keeping priority after the plan ends
    assert not policy.priority_persists
    assert plan_for_ticket(policy, "priority", "regular") == "regular"


def test_no_request_is_passed_upstream(policy: Policy) -> None:
    assert {rt.routing for rt in policy.request_types.values()} == {"own"}


def test_supervisor_address_is_blank_like_in_the_source(policy: Policy) -> None:
    assert policy.provider.supervisor_email == ""
    assert "supervisor" in policy.request_types["response-complaint"].description
