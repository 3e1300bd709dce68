"""The Kolmisoft example pack (examples/kolmisoft/policy.yaml) through the engine.

Each scenario restates a fact from Kolmisoft's support-plan page in our own words. The
page publishes no working hours, billing unit, plan prices or MOR version numbers: the
pack says so, and these tests fail on any of them coming back.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.answers import triage_answer
from kb.policy.calendar import is_open
from kb.policy.engine import (
    Facts,
    check_version,
    coverage,
    describe_rate,
    emergency_handling,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    plan_in_force,
    precedence_text,
    queue_order,
    triage_due,
)
from kb.policy.pages import coverage_cell, plan_view

PACK = Path(__file__).resolve().parents[2] / "examples" / "kolmisoft" / "policy.yaml"
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
            "bug-report",
            "premium",
            "12",
            "paid",
            id="a-bug-in-the-two-latest-versions-is-a-waiver-to-claim-no-versions-are-named",
        ),
        pytest.param(
            "bug-report", "free", "MOR 12", "paid", id="mor-12-is-read-as-a-version-not-blocked"
        ),
        pytest.param(
            "bug-report", "basic", "X5", "paid", id="text-that-is-no-version-blocks-nothing"
        ),
        pytest.param(
            "problem-help", "basic", "13", "included", id="a-new-release-is-never-told-to-upgrade"
        ),
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
            "paid",
            id="the-page-names-reinstalls-as-paid-and-is-silent-on-enterprise",
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
            id="custom-development-can-be-ordered-separately-even-on-enterprise",
        ),
        pytest.param(
            "third-party-config",
            "enterprise",
            None,
            "unsupported",
            id="softphones-pbxes-and-gateways-are-not-offered-by-any-plan",
        ),
        pytest.param(
            "reports-documentation",
            "basic",
            None,
            "unsupported",
            id="hand-made-reports-are-not-offered-by-any-plan",
        ),
        pytest.param("purchasing", "premium", None, "unsupported", id="buying-dids-is-not-offered"),
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


def test_not_in_this_plan_only_when_another_plan_includes_it(policy: Policy) -> None:
    for rt in policy.request_types.values():
        for plan in policy.plans:
            cell = coverage_cell(policy, rt.id, plan)
            if cell.status == "not_in_plan":
                offered = {coverage_cell(policy, rt.id, p).status for p in policy.plans}
                assert offered & {"included", "paid"}, rt.id


@pytest.mark.parametrize(
    "plan", ["enterprise", "premium", "basic", "free"], ids=lambda plan: f"bug-on-{plan}"
)
def test_a_bug_in_one_of_the_two_latest_versions_is_fixed_for_free(
    policy: Policy, plan: str
) -> None:
    # /coverage and the wizard say the same: paid, with the waiver the customer claims
    result = coverage(policy, "bug-report", Facts(plan=plan, version="12"))
    assert result.status == "paid"
    assert [w.id for w in result.waivers] == ["bug_in_latest_versions"]
    assert "two latest MOR versions" in result.reason
    cell = coverage_cell(policy, "bug-report", plan)
    assert cell.label == "Paid" and "two latest MOR versions" in cell.waivers[0]


def test_partitioning_refusal_explains_the_risk(policy: Policy) -> None:
    result = coverage(policy, "partitions-storage", Facts(plan="premium"))
    assert "physical access" in result.note
    assert "re-partitioning among paid work" in result.note  # the contradiction, said
    # the reason given for partitions is not borrowed for network configuration
    assert policy.request_types["firewall-network"].note == ""


# --- paid work ---------------------------------------------------------------------------


def test_the_hourly_rate_is_100_eur_with_no_unit_or_minimum(policy: Policy) -> None:
    rate = policy.rates["hourly"]
    assert (rate.amount, rate.currency) == (Decimal(100), "EUR")
    assert (rate.unit_minutes, rate.minimum_minutes, rate.in_advance) == (None, 0, False)
    assert describe_rate(policy, rate) == "€100.00 per hour"


@pytest.mark.parametrize(
    "request_type", ["mor-reinstall", "data-migration", "heartbeat", "replication"]
)
def test_the_named_paid_services_cost_100_eur_per_hour(policy: Policy, request_type: str) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert est.text == "€100.00 per hour; the total depends on the time the work takes"
    assert "unit" not in est.text and "minimum" not in est.text
    assert est.waivers == ()  # jobs are never free
    assert "does not say whether Enterprise" in policy.request_types[request_type].note


@pytest.mark.parametrize(
    "request_type",
    [
        "custom-development",
        "asterisk-changes",
        "linux-support",
        "extra-server-config",
        "database-repair",
        "personal-training",
    ],
)
def test_work_with_no_stated_price_is_priced_on_request(policy: Policy, request_type: str) -> None:
    result = coverage(policy, request_type, Facts(plan="basic"))
    assert (result.status, result.quote_required, result.estimate) == ("paid", True, None)
    assert result.as_json()["rate"] is None


def test_troubleshooting_is_free_when_a_recent_release_has_a_bug(policy: Policy) -> None:
    result = coverage(policy, "problem-help", Facts(plan="free"))
    assert result.status == "paid"
    assert "two latest MOR versions" in result.reason


# --- versions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    ["12", "12.0.3", "MOR 12", "13", "9", "X5"],
)
def test_no_version_is_blocked_or_told_to_upgrade(policy: Policy, version: str) -> None:
    verdict = check_version(policy, version)
    assert verdict is not None
    assert verdict.supported  # the page sets no minimum version
    assert not verdict.free_bugfix  # the page names no versions: the waiver decides
    assert "upgrad" not in verdict.advice.lower()
    assert policy.versions is not None and policy.versions.releases == ()


# --- reaction times and hours ------------------------------------------------------------


@pytest.mark.parametrize(
    ("plan", "priority", "words"),
    [
        pytest.param("enterprise", "medium", "0–1 h", id="enterprise-0-1h-in-working-hours"),
        pytest.param("premium", "low", "0–3 h", id="premium-0-3h-in-working-hours"),
        pytest.param("basic", "high", "0–12 h", id="basic-0-12h-in-working-hours"),
    ],
)
def test_working_hours_are_not_published_so_no_due_time_is_given(
    policy: Policy, plan: str, priority: str, words: str
) -> None:
    due = first_response_due(policy, plan, priority, lt("2026-01-16 17:30"))
    assert (due.at, due.opens_at) == (None, None)
    assert words in due.describe()
    assert "does not publish its working hours" in due.describe()


@pytest.mark.parametrize(
    ("plan", "filed", "due"),
    [
        pytest.param(
            "enterprise",
            "2026-01-17 03:00",
            "2026-01-17 04:00",
            id="enterprise-blocker-on-saturday-night-0-1h-around-the-clock",
        ),
        pytest.param(
            "premium",
            "2026-01-17 03:00",
            "2026-01-17 06:00",
            id="premium-emergencies-run-24x7-even-on-saturday-night",
        ),
        pytest.param(
            "basic",
            "2026-01-17 03:00",
            "2026-01-17 15:00",
            id="basic-emergency-0-12h-around-the-clock",
        ),
        pytest.param(
            "enterprise",
            "2026-03-29 02:30",
            "2026-03-29 04:30",
            id="emergency-hour-is-a-real-hour-across-the-dst-change",
        ),
    ],
)
def test_emergency_support_is_available_24x7(
    policy: Policy, plan: str, filed: str, due: str
) -> None:
    result = first_response_due(policy, plan, "blocker", lt(filed), emergency=True)
    assert result.at == lt(due)
    assert result.emergency
    # triage uses the emergency calendar too: a Blocker on a Saturday is not due on Monday
    assert triage_due(policy, plan, "system-down", lt(filed)).at == lt(due)
    answer = triage_answer(policy, [("system-down", 1.0)], Facts(plan=plan), lt(filed))
    assert answer["first_response_due"] == lt(due).isoformat()


def test_free_plan_has_no_reaction_time(policy: Policy) -> None:
    result = first_response_due(policy, "free", "blocker", lt("2026-01-14 10:00"))
    assert result.at is None
    assert result.describe() == (
        "No reaction time is given without a plan; tickets are served with the lowest priority."
    )
    assert triage_due(policy, "free", "system-down", lt("2026-01-17 03:00")).at is None


@pytest.mark.parametrize(
    ("plan", "place", "text"),
    [
        ("enterprise", 1, "Highest priority"),
        ("premium", 2, "High priority"),
        ("basic", 3, "Normal priority"),
        ("free", 4, "Lowest priority"),
    ],
)
def test_plans_are_served_in_priority_order(
    policy: Policy, plan: str, place: int, text: str
) -> None:
    assert policy.plans[plan].precedence == place
    assert precedence_text(policy, plan) == text
    assert [p for _, p in queue_order(policy)] == ["enterprise", "premium", "basic", "free"]


@pytest.mark.parametrize(
    ("plan", "text"),
    [("enterprise", "0–1 h"), ("premium", "0–3 h"), ("basic", "0–12 h")],
)
def test_reaction_text_shows_the_range(policy: Policy, plan: str, text: str) -> None:
    assert set(policy.plans[plan].reaction_text.values()) == {text}
    view = plan_view(policy, plan)
    assert {t for _, t in view.responses} == {text}
    assert "does not publish its working hours" in view.response
    assert view.hours == "Not published"


@pytest.mark.parametrize(
    ("plan", "channels"),
    [
        ("enterprise", {"forum", "support-system", "skype", "full-service"}),
        ("premium", {"forum", "support-system", "skype"}),
        ("basic", {"forum", "support-system"}),
        # users without a plan can create paid tickets in the support system
        ("free", {"forum", "support-system"}),
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
    skype = policy.calendars["skype"]
    assert is_open(skype, lt(moment)) is open_
    assert "GMT+3 in summer" in skype.note


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
    assert "handled first" not in decision.explanation


def test_the_blocker_definition_is_the_pages(policy: Policy) -> None:
    blocker = policy.priorities["blocker"].definition
    assert "severely degraded" in blocker and "critically impacted" in blocker
    e = policy.emergency
    assert e is not None and "high-priority tickets" in e.definition
    assert "reads that as a Blocker" in e.definition  # the reading is said


@pytest.mark.parametrize(
    ("plan", "words"),
    [
        ("enterprise", "Around the clock"),
        ("basic", "around the clock"),
        ("free", "does not say that users without a plan get emergency support"),
    ],
)
def test_emergency_handling_per_plan_says_only_what_the_policy_says(
    policy: Policy, plan: str, words: str
) -> None:
    assert words in emergency_handling(policy, plan)


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


# --- priority does not expire ------------------------------------------------------------


@pytest.mark.parametrize("plan", ["enterprise", "premium", "basic"])
def test_priority_does_not_expire(policy: Policy, plan: str) -> None:
    ends = dt.date(2026, 3, 31)
    at_filing = plan_in_force(policy, plan, ends, lt("2026-03-30 10:00"))
    now = plan_in_force(policy, plan, ends, lt("2026-04-02 10:00"))
    assert (at_filing, now) == (plan, "free")  # afterwards: a user without a plan
    # a ticket created while the plan ran is solved as under it, even after it ended
    assert plan_for_ticket(policy, at_filing, now) == plan
    # ... while a ticket filed after the plan ended gets FREE treatment
    later = plan_in_force(policy, plan, ends, lt("2026-04-01 10:00"))
    assert plan_for_ticket(policy, later, now) == "free"
    ended = policy.plans[plan].when_ended
    assert ended is not None and "does not expire" in ended.text


def test_the_last_day_counts_in_lithuanian_time(policy: Policy) -> None:
    ends = dt.date(2026, 9, 30)
    late = dt.datetime(2026, 9, 30, 22, 30, tzinfo=dt.UTC)  # 1 October, 01:30 in Vilnius
    assert plan_in_force(policy, "basic", ends, late) == "free"
