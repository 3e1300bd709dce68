"""The H-Sphere reseller example pack (examples/policies/hsphere-reseller.yaml).

Each scenario restates a fact from the reseller guide's chapter on dedicated-server
maintenance in our own words; hours and prices are the pack's own choices.
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
    VERSION_UNSUPPORTED,
    Facts,
    check_version,
    coverage,
    estimate,
    first_response_due,
    gate_emergency,
    plan_for_ticket,
)

PACK = Path(__file__).resolve().parents[2] / "examples" / "policies" / "hsphere-reseller.yaml"
NY = ZoneInfo("America/New_York")


def ny(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=NY)


@pytest.mark.parametrize(
    ("request_type", "role", "version", "status"),
    [
        pytest.param(
            "backup-schedule",
            "customer",
            None,
            "included",
            id="customers-request-regular-backups-from-their-panel",
        ),
        pytest.param("server-reboot", "customer", None, "included", id="remote-reboots-by-ticket"),
        pytest.param("extra-ip", "customer", None, "paid", id="extra-ip-addresses-by-ticket"),
        pytest.param("server-upgrade", None, None, "paid", id="server-upgrades-by-ticket"),
        pytest.param(
            "server-cancellation",
            "customer",
            None,
            "included",
            id="customer-may-cancel-at-the-end-of-the-billing-period",
        ),
        pytest.param(
            "cancellation-on-date",
            "customer",
            None,
            ROLE_NOT_ALLOWED,
            id="customer-cannot-pick-an-arbitrary-cancellation-date",
        ),
        pytest.param(
            "cancellation-on-date",
            "reseller-staff",
            None,
            "included",
            id="reseller-may-cancel-on-any-date",
        ),
        pytest.param(
            "cancellation-change",
            "customer",
            None,
            ROLE_NOT_ALLOWED,
            id="only-reseller-staff-reschedule-or-discard-any-cancellation",
        ),
        pytest.param(
            "cancellation-change",
            "reseller-staff",
            None,
            "included",
            id="reseller-updates-its-own-and-its-users-cancellations",
        ),
        pytest.param(
            "upstream-maintenance",
            "customer",
            None,
            "included",
            id="requests-for-provider-servers-are-accepted-and-forwarded",
        ),
        pytest.param(
            "upstream-cancellation",
            "customer",
            None,
            "included",
            id="cancelling-a-provider-server-goes-to-the-provider",
        ),
        pytest.param(
            "backup-schedule",
            None,
            "2.4",
            VERSION_UNSUPPORTED,
            id="the-guide-covers-h-sphere-2.5-and-up-only",
        ),
        pytest.param(
            "backup-schedule", None, "2.5", "included", id="h-sphere-2.5-has-the-backup-manager"
        ),
        pytest.param("server-reboot", None, "3.1", "included", id="later-versions-too"),
        pytest.param(
            "server-upgrade", "reseller-staff", "2.6", "paid", id="upgrade-is-paid-for-anyone"
        ),
    ],
)
def test_coverage(
    policy: Policy, request_type: str, role: str | None, version: str | None, status: str
) -> None:
    result = coverage(policy, request_type, Facts(plan="dedicated", version=version, role=role))
    assert result.status == status, result.reason


@pytest.mark.parametrize(
    ("request_type", "routing"),
    [
        pytest.param("upstream-maintenance", "upstream", id="forward-provider-server-requests"),
        pytest.param("upstream-cancellation", "upstream", id="provider-handles-its-cancellations"),
        pytest.param("server-reboot", "own", id="own-servers-are-rebooted-by-us"),
        pytest.param("server-cancellation", "own", id="own-servers-cancelled-by-us"),
        pytest.param("backup-schedule", "own", id="backups-are-ours"),
    ],
)
def test_routing(policy: Policy, request_type: str, routing: str) -> None:
    assert policy.request_types[request_type].routing == routing


def test_every_request_identifies_the_server(policy: Policy) -> None:
    # forwarded requests must carry the server's name and id; the ticket shows them too
    for rt in policy.request_types.values():
        assert "server" in rt.details, rt.id
    assert "name and id" in policy.request_types["upstream-maintenance"].description


def test_backup_tasks_end_with_a_notice_either_way(policy: Policy) -> None:
    text = policy.request_types["backup-schedule"].description
    assert "mark the task as done" in text
    assert "cancel the request" in text
    assert "notice either way" in text


def test_cancellation_warning_days(policy: Policy) -> None:
    assert "7 days before" in policy.request_types["server-cancellation"].description
    assert "refund" in policy.request_types["cancellation-on-date"].description


@pytest.mark.parametrize(
    ("request_type", "low", "high"),
    [
        # a quarter of an hour is raised to the 30-minute minimum: USD 30
        pytest.param("extra-ip", "30.00", "30.00", id="minimum-30-minutes"),
        pytest.param("server-upgrade", "30.00", "120.00", id="half-an-hour-to-two-hours"),
    ],
)
def test_estimates(policy: Policy, request_type: str, low: str, high: str) -> None:
    est = estimate(policy, policy.request_types[request_type])
    assert est is not None
    assert (est.low, est.high) == (Decimal(low), Decimal(high))
    assert est.currency == "USD"


@pytest.mark.parametrize(
    ("priority", "filed", "due"),
    [
        pytest.param(
            "urgent", "2026-02-06 16:30", "2026-02-09 10:30", id="office-closed-at-weekends"
        ),
        pytest.param(
            "urgent",
            "2026-01-16 16:30",
            "2026-01-20 10:30",
            id="weekend-plus-martin-luther-king-day",
        ),
        pytest.param(
            "urgent",
            "2026-07-02 16:00",
            "2026-07-06 10:00",
            id="independence-day-observed-on-friday-3-july",
        ),
        pytest.param("normal", "2026-03-06 13:00", "2026-03-09 13:00", id="one-office-day"),
    ],
)
def test_first_response_due(policy: Policy, priority: str, filed: str, due: str) -> None:
    assert first_response_due(policy, "dedicated", priority, ny(filed)).at == ny(due)


def test_there_is_no_emergency_service(policy: Policy) -> None:
    assert policy.emergency is None
    decision = gate_emergency(
        policy, "server-reboot", "dedicated", "urgent", claimed=True, now=ny("2026-02-06 10:00")
    )
    assert not decision.accepted
    assert decision.priority == "urgent"


def test_version_advice(policy: Policy) -> None:
    verdict = check_version(policy, "2.4")
    assert verdict is not None and not verdict.supported
    assert "2.5 or later" in verdict.advice


def test_single_plan(policy: Policy) -> None:
    assert list(policy.plans) == ["dedicated"]
    assert policy.plans["dedicated"].price.kind == "quote"
    assert plan_for_ticket(policy, "dedicated", "dedicated") == "dedicated"
