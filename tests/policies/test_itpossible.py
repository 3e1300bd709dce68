"""The IT Possible example pack (examples/policies/itpossible.yaml) through the engine.

Each scenario restates a fact from the provider's support policy in our own words.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.engine import (
    ROLE_NOT_ALLOWED,
    Facts,
    check_version,
    coverage,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
    role_allowed,
)

PACK = Path(__file__).resolve().parents[2] / "examples" / "policies" / "itpossible.yaml"
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
            ROLE_NOT_ALLOWED,
            id="restricted-requests-only-from-primary-or-secondary",
        ),
        pytest.param("complaint", None, "included", id="complaints-reach-a-supervisor"),
    ],
)
def test_coverage(policy: Policy, request_type: str, role: str | None, status: str) -> None:
    result = coverage(policy, request_type, Facts(plan="standard", role=role))
    assert result.status == status, result.reason
    assert result.reason


def test_role_refusal_names_who_may_ask(policy: Policy) -> None:
    result = coverage(policy, "password-recovery", Facts(plan="standard", role="authorised"))
    assert "primary contact or secondary contact" in result.reason
    assert role_allowed(policy, "password-recovery", "primary")
    assert not role_allowed(policy, "password-recovery", "authorised")


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


def test_fault_reports_ask_for_the_required_details(policy: Policy) -> None:
    # the exact error message, a screenshot, what you were doing and when it happened
    for rt_id in ("login-problem", "upload-permissions", "email-not-working"):
        details = policy.request_types[rt_id].details
        assert {"error_message", "screenshot", "doing", "occurred_at"} <= set(details)


# --- the advanced rate ------------------------------------------------------------------


def test_advanced_rate_holds_one_value(policy: Policy) -> None:
    rate = policy.rates["advanced"]
    # the source says R380.00 in a heading and R340.00 in the text; the pack keeps 380
    assert (rate.amount, rate.currency) == (Decimal(380), "ZAR")
    assert (rate.unit_minutes, rate.minimum_minutes, rate.in_advance) == (15, 15, True)
    assert rate.waived_when == ("provider_settings",)


@pytest.mark.parametrize(
    ("request_type", "low", "high"),
    [
        pytest.param("user-code", "190.00", "760.00", id="half-an-hour-to-two-hours"),
        # 12 minutes are billed as one 15-minute unit, 36 minutes as three
        pytest.param("image-optimisation", "95.00", "285.00", id="rounding-to-15-minutes"),
        pytest.param("mailing-lists", "95.00", "380.00", id="a-quarter-to-one-hour"),
        # no effort range: the estimate shows the 15-minute minimum
        pytest.param("web-development", "95.00", "95.00", id="minimum-15-minutes"),
        pytest.param("account-cleanup", "112", "112", id="clean-up-fee-is-r112"),
    ],
)
def test_estimates(policy: Policy, request_type: str, low: str, high: str) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert (est.low, est.high) == (Decimal(low), Decimal(high))
    assert est.currency == "ZAR"


def test_fee_is_waived_when_our_settings_caused_the_error(policy: Policy) -> None:
    result = coverage(policy, "user-code", Facts(plan="standard"))
    assert result.needs_acceptance
    assert "No charge if the error turns out to come from wrong system settings" in result.reason
    assert "paid in advance" in result.reason


def test_waiver_reason_keeps_the_provider_name(policy: Policy) -> None:
    result = coverage(policy, "user-code", Facts(plan="standard"))
    assert "made by IT Possible" in result.reason


# --- response times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "filed", "due"),
    [
        pytest.param(
            "normal",
            "2026-01-17 23:00",
            "2026-01-18 02:00",
            id="tickets-are-answered-at-weekends-within-3-hours",
        ),
        pytest.param(
            "normal",
            "2026-12-25 10:00",
            "2026-12-25 13:00",
            id="tickets-are-answered-on-public-holidays",
        ),
        pytest.param(
            "low", "2026-03-27 22:30", "2026-03-28 01:30", id="paid-work-gets-a-first-answer-too"
        ),
        pytest.param(
            "emergency",
            "2026-01-01 00:10",
            "2026-01-01 01:10",
            id="emergency-voicemail-every-day-of-the-year",
        ),
    ],
)
def test_first_response_due(policy: Policy, priority: str, filed: str, due: str) -> None:
    result = first_response_due(policy, "standard", priority, jnb(filed))
    assert result.at == jnb(due)
    assert result.calendar.always_open


def test_response_time_counts_real_hours_from_any_time_zone(policy: Policy) -> None:
    # filed from Berlin in the night of the 2026 DST change: three real hours later
    filed = dt.datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    due = first_response_due(policy, "standard", "normal", filed).at
    assert due is not None
    assert due.astimezone(dt.UTC) - filed.astimezone(dt.UTC) == dt.timedelta(hours=3)
    assert policy.plans["standard"].reaction_text["normal"] == "1–3 h"


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
    assert "completely unreachable" in decision.explanation


def test_emergency_line_abuse_is_not_tolerated(policy: Policy) -> None:
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
    assert decision.flag_ignored
    assert decision.ignored_until == jnb("2026-05-20")


def test_emergency_instructions_mention_the_voicemail(policy: Policy) -> None:
    assert policy.emergency is not None
    assert "voicemail" in policy.emergency.instructions
    assert "other computers and networks" in policy.emergency.definition


# --- everything else ---------------------------------------------------------------------


def test_provider_addresses(policy: Policy) -> None:
    assert policy.provider.support_email == "support@itpossible.com"
    assert policy.provider.supervisor_email == "complaint@itpossible.com"
    assert policy.provider.currency == "ZAR"


def test_single_plan_without_versions_or_persistence(policy: Policy) -> None:
    assert list(policy.plans) == ["standard"]
    assert check_version(policy, "1.0") is None
    assert plan_for_ticket(policy, "standard", "standard") == "standard"
    assert "Dedicated servers are not covered" in policy.plans["standard"].description


def test_nothing_is_routed_upstream(policy: Policy) -> None:
    assert all(rt.routing == "own" for rt in policy.request_types.values())
