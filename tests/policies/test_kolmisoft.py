"""The Kolmisoft example pack (examples/policies/kolmisoft.yaml) through the engine.

Each scenario restates a fact from Kolmisoft's support-plan page in our own words.
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
    plan_on,
)

PACK = Path(__file__).resolve().parents[2] / "examples" / "policies" / "kolmisoft.yaml"
VILNIUS = ZoneInfo("Europe/Vilnius")


def lt(text: str) -> dt.datetime:
    """A wall-clock time in Lithuania."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=VILNIUS)


@pytest.mark.parametrize(
    ("request_type", "plan", "version", "status"),
    [
        pytest.param("problem-help", "basic", None, "included", id="basic-helps-solve-problems"),
        pytest.param(
            "problem-help", "premium", None, "included", id="premium-helps-solve-problems"
        ),
        pytest.param(
            "problem-help", "free", None, "paid", id="without-a-plan-tickets-cost-100-eur-an-hour"
        ),
        pytest.param(
            "licence-after-crash",
            "basic",
            None,
            "included",
            id="licence-activation-after-a-crash-is-included",
        ),
        pytest.param(
            "licence-after-migration",
            "premium",
            None,
            "included",
            id="licence-activation-after-moving-server-is-included",
        ),
        pytest.param(
            "licence-after-crash", "free", None, "paid", id="licence-activation-without-a-plan"
        ),
        pytest.param(
            "bug-report", "premium", "12", "included", id="bugs-in-the-latest-version-fixed-free"
        ),
        pytest.param(
            "bug-report", "basic", "11", "included", id="bugs-in-the-second-latest-version-free"
        ),
        pytest.param(
            "bug-report", "premium", "10", "paid", id="bugs-in-older-versions-are-paid-work"
        ),
        pytest.param("bug-report", "free", "12", "included", id="free-bug-fix-needs-no-plan"),
        pytest.param(
            "mor-reinstall", "basic", None, "paid", id="reinstalling-mor-after-a-crash-is-paid"
        ),
        pytest.param(
            "data-migration", "premium", None, "paid", id="moving-data-to-a-new-server-is-paid"
        ),
        pytest.param("heartbeat", "basic", None, "paid", id="heartbeat-setup-or-repair-is-paid"),
        pytest.param("replication", "premium", None, "paid", id="replication-setup-is-paid"),
        pytest.param(
            "mor-reinstall",
            "enterprise",
            None,
            "included",
            id="enterprise-full-service-covers-server-work",
        ),
        pytest.param(
            "mor-configuration",
            "premium",
            None,
            "not_in_plan",
            id="premium-only-checks-your-configurations",
        ),
        pytest.param(
            "mor-configuration",
            "enterprise",
            None,
            "included",
            id="enterprise-configures-mor-on-demand",
        ),
        pytest.param(
            "settings-testing",
            "basic",
            None,
            "not_in_plan",
            id="testing-customer-settings-is-not-in-basic",
        ),
        pytest.param(
            "custom-development",
            "enterprise",
            None,
            "paid",
            id="custom-development-is-ordered-separately-even-on-enterprise",
        ),
        pytest.param(
            "third-party-config",
            "enterprise",
            None,
            "not_in_plan",
            id="softphones-pbxes-and-gateways-are-not-included",
        ),
        pytest.param(
            "group-training", "premium", None, "included", id="online-group-training-included"
        ),
        pytest.param(
            "personal-training", "basic", None, "paid", id="personal-training-is-not-included"
        ),
        pytest.param(
            "partitions-storage",
            "enterprise",
            None,
            "unsupported",
            id="partitions-and-storage-are-never-done",
        ),
        pytest.param("snmp", "enterprise", None, "unsupported", id="snmp-is-never-done"),
        pytest.param("tdm-cards", "premium", None, "unsupported", id="tdm-pstn-cards-never-done"),
        pytest.param("zaptel-dahdi", "basic", None, "unsupported", id="zaptel-dahdi-never-done"),
        pytest.param("vpn", "enterprise", None, "unsupported", id="vpn-is-never-done"),
        pytest.param(
            "firewall-network", "enterprise", None, "unsupported", id="iptables-never-done"
        ),
    ],
)
def test_coverage(
    policy: Policy, request_type: str, plan: str, version: str | None, status: str
) -> None:
    result = coverage(policy, request_type, Facts(plan=plan, version=version))
    assert result.status == status, result.reason


def test_full_service_is_offered_as_an_upgrade(policy: Policy) -> None:
    result = coverage(policy, "mor-configuration", Facts(plan="basic"))
    assert result.plans_covering == ("enterprise",)
    assert "Enterprise plan" in result.reason


def test_free_bug_fix_reason(policy: Policy) -> None:
    result = coverage(policy, "bug-report", Facts(plan="premium", version="11"))
    assert result.rule == "versions.free_bugfix_latest"
    assert result.estimate is None


def test_partitioning_refusal_explains_the_risk(policy: Policy) -> None:
    result = coverage(policy, "partitions-storage", Facts(plan="premium"))
    assert "touch the machine" in result.reason


# --- paid work ---------------------------------------------------------------------------


def test_hourly_rate_is_100_eur(policy: Policy) -> None:
    for rate in policy.rates.values():
        assert (rate.amount, rate.currency) == (Decimal(100), "EUR")


@pytest.mark.parametrize(
    "request_type", ["mor-reinstall", "data-migration", "heartbeat", "replication"]
)
def test_paid_jobs_quote_at_least_one_hour(policy: Policy, request_type: str) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert est.low == Decimal("100.00")
    assert "€100.00 per hour" in est.text
    assert est.waivers == ()  # jobs are never free


def test_troubleshooting_is_free_when_a_recent_release_has_a_bug(policy: Policy) -> None:
    result = coverage(policy, "problem-help", Facts(plan="free"))
    assert result.status == "paid"
    assert "two newest MOR releases" in result.reason


# --- versions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "free"),
    [("12", True), ("12.0.3", True), ("11", True), ("10", False), ("9", False)],
)
def test_free_bug_fixes_only_on_the_two_latest_versions(
    policy: Policy, version: str, free: bool
) -> None:
    verdict = check_version(policy, version)
    assert verdict is not None
    assert verdict.supported  # the page sets no minimum version
    assert verdict.free_bugfix is free
    if not free:
        assert "11 and 12" in verdict.advice


# --- reaction times and hours ------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "priority", "filed", "due", "emergency"),
    [
        pytest.param(
            "enterprise",
            "medium",
            "2026-01-16 17:30",
            "2026-01-19 09:30",
            False,
            id="enterprise-answers-within-1-working-hour-across-the-weekend",
        ),
        pytest.param(
            "premium",
            "low",
            "2026-02-13 17:00",
            "2026-02-17 11:00",
            False,
            id="premium-3-working-hours-skip-the-16-february-holiday",
        ),
        pytest.param(
            "basic",
            "high",
            "2026-03-10 12:00",
            "2026-03-12 15:00",
            False,
            id="basic-12-working-hours-skip-11-march-restoration-of-independence",
        ),
        pytest.param(
            "premium",
            "blocker",
            "2026-01-17 03:00",
            "2026-01-17 06:00",
            True,
            id="emergencies-run-24x7-even-on-saturday-night",
        ),
        pytest.param(
            "enterprise",
            "blocker",
            "2026-03-29 02:30",
            "2026-03-29 04:30",
            True,
            id="emergency-hour-is-a-real-hour-across-the-dst-change",
        ),
    ],
)
def test_first_response_due(
    policy: Policy, plan: str, priority: str, filed: str, due: str, emergency: bool
) -> None:
    result = first_response_due(policy, plan, priority, lt(filed), emergency=emergency)
    assert result.at == lt(due)
    assert result.emergency is emergency


def test_free_plan_has_no_reaction_time(policy: Policy) -> None:
    result = first_response_due(policy, "free", "blocker", lt("2026-01-14 10:00"))
    assert result.at is None
    assert result.describe() == "No guaranteed response time on this plan."


@pytest.mark.parametrize(
    ("plan", "text"),
    [("enterprise", "0–1 h"), ("premium", "0–3 h"), ("basic", "0–12 h")],
)
def test_reaction_text_shows_the_range(policy: Policy, plan: str, text: str) -> None:
    assert set(policy.plans[plan].reaction_text.values()) == {text}


@pytest.mark.parametrize(
    ("plan", "channels"),
    [
        ("enterprise", {"forum", "support-system", "skype", "full-service"}),
        ("premium", {"forum", "support-system", "skype"}),
        ("basic", {"forum", "support-system"}),
        ("free", {"forum"}),
    ],
)
def test_channels_per_plan(policy: Policy, plan: str, channels: set[str]) -> None:
    assert set(policy.plans[plan].channels) == channels


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        ("2026-01-18 19:30", True),  # Sunday evening: Skype runs every day
        ("2026-01-18 20:30", False),
        ("2026-07-05 08:00", True),  # summer time: still 8 AM on the Lithuanian clock
        ("2026-07-05 07:59", False),
    ],
)
def test_skype_hours(policy: Policy, moment: str, open_: bool) -> None:
    assert is_open(policy.calendars["skype"], lt(moment)) is open_


# --- emergencies -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_type", "plan", "accepted", "rejected"),
    [
        pytest.param("system-down", "premium", True, False, id="blocker-on-premium"),
        pytest.param("system-down", "basic", True, False, id="blocker-on-basic"),
        pytest.param("system-down", "free", False, False, id="no-emergency-support-without-plan"),
        pytest.param("problem-help", "enterprise", False, True, id="a-question-is-no-emergency"),
    ],
)
def test_emergency_gate(
    policy: Policy, request_type: str, plan: str, accepted: bool, rejected: bool
) -> None:
    decision = gate_emergency(
        policy, request_type, plan, "medium", claimed=True, now=lt("2026-01-17 03:00")
    )
    assert decision.accepted is accepted
    assert decision.counts_as_rejected is rejected
    if accepted:
        assert decision.priority == "blocker"


def test_no_abuse_rule_means_the_flag_is_never_ignored(policy: Policy) -> None:
    claims = [lt("2026-01-10 10:00") + dt.timedelta(hours=h) for h in range(10)]
    decision = gate_emergency(
        policy,
        "system-down",
        "enterprise",
        "blocker",
        claimed=True,
        rejected_claims=claims,
        now=lt("2026-01-11 10:00"),
    )
    assert decision.accepted
    assert not decision.flag_ignored


# --- priority persists -----------------------------------------------------------------


def test_ticket_keeps_its_plan_after_the_plan_ends(policy: Policy) -> None:
    assert policy.priority_persists
    ends = dt.date(2026, 3, 31)
    filed = lt("2026-03-30 10:00")
    answered = lt("2026-04-02 10:00")
    at_filing = plan_on(policy, "premium", ends, filed, "free")
    now = plan_on(policy, "premium", ends, answered, "free")
    assert (at_filing, now) == ("premium", "free")
    assert plan_for_ticket(policy, at_filing, now) == "premium"
    # ... while a ticket filed after the plan ended gets FREE treatment
    later = plan_on(policy, "premium", ends, lt("2026-04-01 10:00"), "free")
    assert plan_for_ticket(policy, later, now) == "free"
