"""The IT Possible example pack (examples/itpossible/policy.yaml) through the engine.

Each scenario restates a fact from the provider's support policy in our own words.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.answers import triage_answer
from kb.policy.details import missing_details
from kb.policy.directives import resolver
from kb.policy.engine import (
    ACCEPT_CHARGES,
    ROLE_NOT_ALLOWED,
    Facts,
    Waiver,
    check_version,
    coverage,
    describe_rate,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    role_allowed,
)

PACK = Path(__file__).resolve().parents[2] / "examples" / "itpossible" / "policy.yaml"
JNB = ZoneInfo("Africa/Johannesburg")


def jnb(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=JNB)


# --- coverage: general (free), advanced (paid), unsupported, roles ----------------------


@pytest.mark.parametrize(
    ("request_type", "role", "status"),
    [
        pytest.param("login-problem", None, "included", id="login-trouble-is-free"),
        pytest.param(
            "login-problem",
            "authorised",
            "included",
            id="any-listed-contact-may-report-a-fault",
        ),
        pytest.param(
            "upload-permissions", None, "included", id="uploads-failing-on-server-permissions"
        ),
        pytest.param(
            "provider-config-problem", None, "included", id="configuration-we-broke-is-free"
        ),
        pytest.param("site-error-our-side", None, "included", id="site-down-due-to-our-error"),
        pytest.param("email-not-working", None, "included", id="mailboxes-not-working"),
        pytest.param("server-service-error", None, "included", id="ftp-smtp-pop-mysql-errors"),
        pytest.param("control-panel-help", None, "included", id="basic-control-panel-help"),
        pytest.param("service-paths", None, "included", id="paths-and-available-services"),
        pytest.param("dns-change", None, "included", id="name-server-changes-are-free"),
        pytest.param("cms-install", None, "included", id="installing-an-included-cms"),
        pytest.param("feature-settings-check", None, "included", id="we-verify-our-settings"),
        pytest.param("feature-setup-help", None, "paid", id="setting-up-your-own-files-is-paid"),
        pytest.param("user-code", None, "paid", id="debugging-your-asp-net-or-php-is-paid"),
        pytest.param("web-development", None, "paid", id="web-development-is-advanced"),
        pytest.param("html-recoding", None, "paid", id="shrinking-html-is-advanced"),
        pytest.param("image-optimisation", None, "paid", id="shrinking-images-is-advanced"),
        pytest.param("mailing-lists", None, "paid", id="mailing-lists-are-advanced"),
        pytest.param("isp-troubleshooting", None, "paid", id="your-isp-problems-are-advanced"),
        pytest.param("repeat-assistance", None, "paid", id="same-issue-again-is-advanced"),
        pytest.param("email-client-repeat", None, "paid", id="repeated-email-client-setup"),
        pytest.param("cgi-perl", None, "unsupported", id="no-cgi-or-perl-support-at-all"),
        pytest.param("account-cleanup", "primary", "paid", id="clean-up-costs-a-fixed-fee"),
        pytest.param(
            "account-cleanup",
            "authorised",
            ROLE_NOT_ALLOWED,
            id="authorised-contacts-cannot-wipe-the-account",
        ),
        pytest.param(
            "password-recovery",
            "secondary",
            "included",
            id="secondary-off-server-contact-may-recover-the-password",
        ),
        pytest.param(
            "password-recovery",
            "authorised",
            "included",
            id="a-password-request-from-any-listed-address-is-accepted",
        ),
        pytest.param("complaint", None, "included", id="complaints-reach-a-supervisor"),
    ],
)
def test_coverage(policy: Policy, request_type: str, role: str | None, status: str) -> None:
    result = coverage(policy, request_type, Facts(plan="standard", role=role))
    assert result.status == status, result.reason
    assert result.reason


def test_role_refusal_names_who_may_ask(policy: Policy) -> None:
    result = coverage(policy, "account-cleanup", Facts(plan="standard", role="authorised"))
    assert result.status == ROLE_NOT_ALLOWED
    assert "primary contact or secondary contact" in result.reason
    assert "treats a clean-up as one of them" in result.note  # the portal's choice, said
    assert role_allowed(policy, "account-cleanup", "primary")
    assert not role_allowed(policy, "account-cleanup", "authorised")
    # the policy asks only for a listed address for a password request
    assert role_allowed(policy, "password-recovery", "authorised")


def test_contacts(policy: Policy) -> None:
    contacts = policy.contacts
    assert contacts.max_total == 5
    assert [(r.id, r.max) for r in contacts.roles] == [
        ("primary", 1),
        ("secondary", 1),
        ("authorised", 3),
    ]
    assert contacts.restricted_roles == ("primary", "secondary")
    secondary = contacts.role("secondary")
    assert secondary is not None and "off-server" in secondary.description
    assert "closed automatically" in contacts.unlisted_text
    assert resolver(policy)("contacts.unlisted") is not None


# --- what to include: the error message, or a description with the time ------------------


FAULT_REPORTS = [
    "site-or-server-down",
    "login-problem",
    "upload-permissions",
    "provider-config-problem",
    "site-error-our-side",
    "email-not-working",
    "server-service-error",
]


@pytest.mark.parametrize(
    ("given", "complete"),
    [
        pytest.param({"error_message"}, True, id="the-exact-error-message-will-do"),
        pytest.param(
            {"description", "occurred_at"},
            True,
            id="without-an-error-message-a-complete-description-with-the-time-will-suffice",
        ),
        pytest.param({"description"}, False, id="a-description-needs-the-time-of-occurrence"),
        pytest.param({"screenshot", "doing"}, False, id="a-screenshot-alone-is-not-enough"),
        pytest.param(set(), False, id="nothing-given"),
    ],
)
def test_exact_error_message_or_a_complete_description_with_the_time(
    policy: Policy, given: set[str], complete: bool
) -> None:
    for rt_id in FAULT_REPORTS:
        rt = policy.request_types[rt_id]
        extra = {d for d in rt.details if d in ("url", "mailbox")}  # the type's own detail
        missing = missing_details(rt, given | extra)
        assert (missing == {}) is complete, (rt_id, missing)
        if not complete:
            assert "exact error message" in missing["group-0"]
        # a screenshot and what you were doing help, but are not required
        assert {"screenshot", "doing"} <= set(rt.details)
        assert "doing" in rt.optional_details


# --- the advanced rate ------------------------------------------------------------------


def test_advanced_rate_holds_one_value_and_says_which(policy: Policy) -> None:
    rate = policy.rates["advanced"]
    # the source says R380.00 in a heading and R340.00 in the text; the pack keeps 380
    assert (rate.amount, rate.currency) == (Decimal(380), "ZAR")
    assert "R380.00" in rate.description and "R340.00" in rate.description
    # "billed a minimum of 15 minutes in advance": a minimum, no billing unit
    assert (rate.unit_minutes, rate.minimum_minutes, rate.in_advance) == (None, 15, True)
    assert describe_rate(policy, rate) == "R380.00 per hour, minimum 15 minutes, paid in advance"
    assert "unit" not in describe_rate(policy, rate)
    assert rate.waived_when == ("provider_settings",)


@pytest.mark.parametrize(
    ("request_type", "low", "high"),
    [
        # no effort range is published: the estimate is the 15-minute minimum, R95.00
        pytest.param("user-code", "95.00", "95.00", id="own-code-help-minimum-15-minutes"),
        pytest.param("image-optimisation", "95.00", "95.00", id="no-invented-effort-range"),
        pytest.param("mailing-lists", "95.00", "95.00", id="no-invented-15-minute-units"),
        pytest.param("web-development", "95.00", "95.00", id="minimum-15-minutes"),
        pytest.param("account-cleanup", "112", "112", id="clean-up-fee-is-r112"),
    ],
)
def test_estimates(policy: Policy, request_type: str, low: str, high: str) -> None:
    rt = policy.request_types[request_type]
    assert rt.effort_hours is None  # the time frame depends on the complexity
    est = estimate(policy, rt)
    assert est is not None
    assert (est.low, est.high) == (Decimal(low), Decimal(high))
    assert est.currency == "ZAR"
    if est.rate is not None:
        assert "the total depends on the time the work takes" in est.text


def test_fee_is_waived_when_our_settings_caused_the_error(policy: Policy) -> None:
    result = coverage(policy, "user-code", Facts(plan="standard"))
    assert result.needs_acceptance and not result.quote_required
    assert result.acceptance_text == ACCEPT_CHARGES
    assert "No charge if the error turns out to come from wrong system settings" in result.reason
    assert "made by IT Possible" in result.reason
    assert "paid in advance" in result.reason
    assert "R340.00" in result.reason  # the customer is told about the two figures
    assert result.waivers == (
        Waiver(
            "provider_settings",
            "the error turns out to come from wrong system settings made by IT Possible",
        ),
    )
    assert result.as_json()["waivers"] == [
        {"id": "provider_settings", "text": result.waivers[0].text}
    ]


def test_amounts_are_written_like_the_policy_writes_them(policy: Policy) -> None:
    assert resolver(policy)("rate.advanced.amount") == ("R380.00", False)
    assert resolver(policy)("fee.account_cleanup") == ("R112.00", False)


def test_installing_an_included_cms_does_not_include_customising_it(policy: Policy) -> None:
    result = coverage(policy, "cms-install", Facts(plan="standard"))
    assert result.status == "included"
    assert "customising" in result.note


# --- response times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "filed", "due"),
    [
        pytest.param(
            "normal",
            "2026-01-17 23:00",
            "2026-01-18 02:00",
            id="tickets-are-answered-at-weekends-within-1-to-3-hours",
        ),
        pytest.param(
            "normal",
            "2026-12-25 10:00",
            "2026-12-25 13:00",
            id="tickets-are-answered-on-public-holidays",
        ),
        pytest.param(
            "emergency",
            "2026-01-01 00:10",
            "2026-01-01 03:10",
            id="no-separate-emergency-response-time-the-1-to-3-hours-apply",
        ),
    ],
)
def test_first_response_due(policy: Policy, priority: str, filed: str, due: str) -> None:
    result = first_response_due(policy, "standard", priority, jnb(filed))
    assert result.at == jnb(due)
    assert result.calendar.always_open
    assert result.describe().startswith("1–3 hours")  # the policy's own range
    assert result.opens_at == jnb(filed)  # tickets: 24 hours, 7 days a week


def test_response_time_counts_real_hours_from_any_time_zone(policy: Policy) -> None:
    # filed from Berlin in the night of the 2026 DST change: three real hours later
    filed = dt.datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    due = first_response_due(policy, "standard", "normal", filed).at
    assert due is not None
    assert due.astimezone(dt.UTC) - filed.astimezone(dt.UTC) == dt.timedelta(hours=3)
    assert policy.plans["standard"].reaction_text["normal"] == "1–3 hours"
    assert "does not take responsibility" in policy.plans["standard"].description


def test_one_queue_first_come_first_served(policy: Policy) -> None:
    # the policy has emergencies and one queue for everything else: no invented levels
    assert list(policy.priorities) == ["emergency", "normal"]
    assert {p for rt in policy.request_types.values() for p in rt.priorities} == {
        "emergency",
        "normal",
    }


# --- emergencies -----------------------------------------------------------------------


def test_site_or_server_down_is_an_emergency(policy: Policy) -> None:
    decision = gate_emergency(
        policy, "site-or-server-down", "standard", "normal", claimed=True, now=jnb("2026-05-01")
    )
    assert decision.accepted
    assert decision.priority == "emergency"


def test_a_broken_mailbox_is_not_an_emergency(policy: Policy) -> None:
    decision = gate_emergency(
        policy, "email-not-working", "standard", "normal", claimed=True, now=jnb("2026-05-01")
    )
    assert not decision.accepted
    assert decision.counts_as_rejected
    assert "actively down" in decision.explanation


def test_abuse_will_not_be_tolerated_but_no_rule_is_published(policy: Policy) -> None:
    e = policy.emergency
    assert e is not None and e.max_rejected == 0
    assert "not tolerated" in e.abuse_text and "no rule" in e.abuse_text
    claims = [jnb("2026-04-01"), jnb("2026-04-10"), jnb("2026-04-20")]
    decision = gate_emergency(
        policy,
        "site-or-server-down",
        "standard",
        "emergency",
        claimed=True,
        rejected_claims=claims,
        now=jnb("2026-05-01"),
    )
    assert decision.accepted and not decision.flag_ignored


def test_emergency_instructions_mention_the_voicemail(policy: Policy) -> None:
    assert policy.emergency is not None
    assert "voicemail" in policy.emergency.instructions
    assert "other computers and networks" in policy.emergency.definition


# --- everything else ---------------------------------------------------------------------


def test_provider_addresses(policy: Policy) -> None:
    assert policy.provider.support_email == "support@itpossible.com"
    assert policy.provider.supervisor_email == "complaint@itpossible.com"
    assert policy.provider.currency == "ZAR"
    email = next(c for c in policy.provider.channels if c.id == "email")
    assert email.address == "support@itpossible.com"
    assert "lost password" in email.description and "charged" in email.description


def test_single_plan_without_versions_or_persistence(policy: Policy) -> None:
    assert list(policy.plans) == ["standard"]
    assert check_version(policy, "1.0") is None
    assert policy.plans["standard"].when_ended is None
    assert plan_for_ticket(policy, "standard", "standard") == "standard"
    assert "Dedicated servers are not covered" in policy.plans["standard"].description


def test_complaints_reach_a_supervisor_directly(policy: Policy) -> None:
    assert policy.request_types["complaint"].routing == "supervisor"
    others = {rt.routing for rt in policy.request_types.values() if rt.id != "complaint"}
    assert others == {"own"}


def test_triage_answer_carries_the_contract(policy: Policy) -> None:
    answer = triage_answer(
        policy, [("user-code", 1.0)], Facts(plan="standard"), jnb("2026-05-01 10:00")
    )
    cov = answer["request_types"][0]["coverage"]
    assert cov["rate"] == {
        "amount": "380",
        "currency": "ZAR",
        "unit_minutes": None,
        "minimum_minutes": 15,
    }
    assert cov["quote_required"] is False and cov["estimate"]["low"] == "95.00"
    assert answer["first_response_due"] == jnb("2026-05-01 13:00").isoformat()
    assert answer["support_opens_at"] == jnb("2026-05-01 10:00").isoformat()
