"""The demo provider's policy (content/policy.yaml) through the engine: a table of cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
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
from kb.policy.suggest import suggest
from tests.support.paths import CONTENT

BERLIN = ZoneInfo("Europe/Berlin")
PACK = CONTENT / "policy.yaml"  # the `policy` fixture (tests/conftest.py) loads it


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("request_type", "plan", "version", "role", "status"),
    [
        ("email-not-working", "standard", None, None, "included"),
        ("website-not-loading", "priority", None, "authorised", "included"),
        ("script-help", "standard", None, None, "paid"),
        ("migration", "priority", None, "primary", "paid"),
        ("migration", "priority", None, "authorised", "role_not_allowed"),
        ("password-reset", "standard", None, "secondary", "included"),
        ("password-reset", "standard", None, "authorised", "role_not_allowed"),
        ("firewall-config", "priority", None, None, "unsupported"),
        ("cgi-perl", "standard", None, None, "unsupported"),
        ("license-activation", "standard", None, None, "not_in_plan"),
        ("license-activation", "software", None, None, "included"),
        ("harborpanel-bug", "software", "5.5", None, "included"),  # latest two: free
        ("harborpanel-bug", "software", "5.3", None, "paid"),  # supported, but not free
        ("harborpanel-bug", "software", "5.1", None, "version_unsupported"),
        ("upgrade-service", "software", "5.0", None, "paid"),  # upgrades work on any version
        ("account-cleanup", "standard", None, "primary", "paid"),
    ],
)
def test_coverage_table(
    policy: Policy, request_type: str, plan: str, version: str | None, role: str | None, status: str
) -> None:
    result = coverage(policy, request_type, Facts(plan=plan, version=version, role=role))
    assert result.status == status, result.reason
    assert result.reason
    assert result.rule


def test_not_in_plan_names_the_plans_that_cover_it(policy: Policy) -> None:
    result = coverage(policy, "license-activation", Facts(plan="standard"))
    assert result.plans_covering == ("software", "priority")
    assert "Software Care or Priority" in result.reason


def test_unsupported_points_to_the_alternative_article(policy: Policy) -> None:
    result = coverage(policy, "firewall-config", Facts(plan="standard"))
    assert result.alternative == "unsupported-services"
    assert not result.can_continue


@pytest.mark.parametrize(
    ("request_type", "low", "high"),
    [
        ("script-help", "50.00", "200.00"),  # 0.5-2 h at EUR 100/h
        ("extra-ip", "25.00", "100.00"),  # 15 min minimum
        ("server-recovery", "200.00", "800.00"),
        ("account-cleanup", "25.00", "25.00"),  # fixed fee
    ],
)
def test_estimates(policy: Policy, request_type: str, low: str, high: str) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert (est.low, est.high) == (Decimal(low), Decimal(high))
    assert "€" in est.text


def test_paid_reason_names_rate_and_waivers(policy: Policy) -> None:
    reason = coverage(policy, "script-help", Facts(plan="standard")).reason
    assert "€100.00 per hour, billed in 15-minute units, minimum 15 minutes" in reason
    assert "No charge if the cause turns out to be on our side" in reason


@pytest.mark.parametrize(
    ("plan", "priority", "filed", "due", "emergency"),
    [
        # Friday 17:30, 4 business hours on office hours -> Monday 11:30
        ("standard", "blocker", "2026-11-20T17:30", "2026-11-23T11:30", False),
        # filed on Saturday: the clock starts Monday 08:00
        ("standard", "high", "2026-11-21T10:00", "2026-11-23T16:00", False),
        # 24 Dec (office closed), 25/26 Dec (German holidays), weekend -> Mon 28 Dec
        ("standard", "blocker", "2026-12-23T17:00", "2026-12-28T11:00", False),
        # Priority: every day 07:00-22:00, holidays included
        ("priority", "high", "2026-12-25T21:00", "2026-12-26T09:00", False),
        # Priority emergencies run around the clock
        ("priority", "blocker", "2026-11-21T03:00", "2026-11-21T04:00", True),
        # Standard has no emergency calendar: emergencies wait for office hours
        ("standard", "blocker", "2026-11-21T03:00", "2026-11-23T12:00", True),
    ],
)
def test_first_response_due(
    policy: Policy, plan: str, priority: str, filed: str, due: str, emergency: bool
) -> None:
    result = first_response_due(policy, plan, priority, at(filed), emergency=emergency)
    assert result.at == at(due)


def test_due_describes_support_hours(policy: Policy) -> None:
    text = first_response_due(policy, "standard", "blocker", at("2026-11-20T17:30")).describe()
    assert text == "4 business hours; support hours are Mon–Fri 08:00–18:00 (Europe/Berlin)"


def test_emergency_gating(policy: Policy) -> None:
    now = at("2026-11-20T10:00")
    accepted = gate_emergency(policy, "mail-server-down", "priority", "high", claimed=True, now=now)
    assert accepted.accepted and accepted.priority == "blocker"
    assert "highest" in accepted.explanation
    refused = gate_emergency(policy, "email-not-working", "priority", "high", claimed=True, now=now)
    assert not refused.accepted and refused.priority == "high" and refused.counts_as_rejected
    assert "is not an emergency" in refused.explanation
    # three rejected claims within 30 days: the flag is ignored for 30 days
    claims = [now - dt.timedelta(days=d) for d in (20, 10, 1)]
    ignored = gate_emergency(
        policy, "server-down", "priority", "blocker", claimed=True, rejected_claims=claims, now=now
    )
    assert ignored.flag_ignored and not ignored.accepted
    assert ignored.ignored_until == claims[-1] + dt.timedelta(days=30)
    later = gate_emergency(
        policy,
        "server-down",
        "priority",
        "blocker",
        claimed=True,
        rejected_claims=claims,
        now=now + dt.timedelta(days=31),
    )
    assert later.accepted
    spread = [now - dt.timedelta(days=d) for d in (80, 40, 1)]  # never 3 within 30 days
    assert gate_emergency(
        policy, "server-down", "standard", "blocker", claimed=True, rejected_claims=spread, now=now
    ).accepted


def test_versions(policy: Policy) -> None:
    v = check_version(policy, "5.1")
    assert v is not None and v.supported is False
    v = check_version(policy, "5.4.2")
    assert v is not None and v.supported and v.free_bugfix
    v = check_version(policy, "5.2")
    assert v is not None and v.supported and not v.free_bugfix
    v = check_version(policy, "banana")
    assert v is not None and v.supported is False


def test_plan_snapshots(policy: Policy) -> None:
    ended_priority = policy.plans["priority"].when_ended
    assert ended_priority is not None and ended_priority.tickets_keep_plan
    assert plan_for_ticket(policy, "priority", "standard") == "priority"
    ended = dt.date(2026, 10, 31)
    assert plan_on(policy, "priority", ended, at("2026-10-31T12:00"), "standard") == "priority"
    assert plan_on(policy, "priority", ended, at("2026-11-01T12:00"), "standard") == "standard"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my mailbox does not receive mail", "email-not-working"),
        ("the whole server is down", "server-down"),
        ("pasword forgoten", "password-reset"),
        ("please install wordpress", "cms-install"),
        ("open a port in iptables", "firewall-config"),
        ("licence stopped working after moving server", "license-activation"),
        ("reboot my server", "server-reboot"),
        ("my php script has a bug", "script-help"),
    ],
)
def test_suggestions(policy: Policy, text: str, expected: str) -> None:
    assert suggest(policy, text)[0].request_type.id == expected


def test_suggestions_use_synonyms(policy: Policy) -> None:
    assert suggest(policy, "kaboot my box") == []
    with_synonyms = suggest(
        policy, "kaboot my box", synonyms=(("reboot", "kaboot"), ("server", "box"))
    )
    assert with_synonyms[0].request_type.id == "server-reboot"


def test_no_match_no_suggestion(policy: Policy) -> None:
    assert suggest(policy, "") == []
    assert suggest(policy, "the and of") == []


def test_groups_without_categories(policy: Policy) -> None:
    import dataclasses

    bare = dataclasses.replace(policy, categories={})
    groups = bare.request_type_groups()
    assert sum(len(types) for _, types in groups) == len(policy.request_types)
    assert ("Outage", groups[0][1]) == groups[0]
