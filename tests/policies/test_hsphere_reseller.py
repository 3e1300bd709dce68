"""The H-Sphere reseller example pack (examples/hsphere-reseller/policy.yaml).

Each scenario restates a fact from the reseller guide's chapter on dedicated-server
maintenance in our own words. The guide states no prices, hours, priorities or response
times: the pack says they are not published, and these tests fail on any coming back.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kb.policy import Policy
from kb.policy.answers import triage_answer
from kb.policy.calendar import next_open
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
    precedence_text,
)
from kb.policy.pages import plan_view

PACK = Path(__file__).resolve().parents[2] / "examples" / "hsphere-reseller" / "policy.yaml"
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
            "paid",
            id="customers-request-regular-backups-whether-charged-is-not-published",
        ),
        pytest.param("server-reboot", "customer", None, "paid", id="remote-reboots-by-ticket"),
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
            "included",
            id="customer-asks-staff-to-cancel-on-another-date",
        ),
        pytest.param(
            "cancellation-change",
            "customer",
            None,
            "included",
            id="customer-asks-staff-to-reschedule-or-discard-a-cancellation",
        ),
        pytest.param(
            "upstream-maintenance",
            "customer",
            None,
            "paid",
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
            "customer",
            "2.4",
            "paid",
            id="version-2.5-and-up-is-the-resellers-h-sphere-not-the-customers",
        ),
        pytest.param(
            "server-reboot", "customer", "anything", "paid", id="no-version-is-asked-or-checked"
        ),
    ],
)
def test_coverage(
    policy: Policy, request_type: str, role: str | None, version: str | None, status: str
) -> None:
    result = coverage(policy, request_type, Facts(plan="dedicated", version=version, role=role))
    assert result.status == status, result.reason


@pytest.mark.parametrize(
    "request_type",
    ["backup-schedule", "server-reboot", "extra-ip", "server-upgrade", "upstream-maintenance"],
)
def test_no_price_is_published_so_staff_confirm_with_any_price_before_the_work(
    policy: Policy, request_type: str
) -> None:
    result = coverage(policy, request_type, Facts(plan="dedicated", role="customer"))
    assert (result.quote_required, result.estimate) == (True, None)
    assert result.acceptance_text == ACCEPT_QUOTE
    assert "No prices have been published" in result.reason
    assert estimate(policy, policy.request_types[request_type]) is None
    # no invented notes about separate prices for addresses, hardware or the provider
    assert "separate" not in result.note and "charges may apply" not in result.note


def test_no_rate_hours_priorities_or_response_times_are_invented(policy: Policy) -> None:
    (rate,) = policy.rates.values()
    assert rate.amount is None and rate.unit_minutes is None
    assert all(rt.effort_hours is None for rt in policy.request_types.values())
    (calendar,) = policy.calendars.values()
    assert not calendar.published and calendar.describe() == "not published"
    assert next_open(calendar, ny("2026-02-06 10:00")) is None
    assert list(policy.priorities) == ["standard"]
    plan = policy.plans["dedicated"]
    assert plan.reaction == {} and plan.price.kind == "unpublished"
    assert precedence_text(policy, "dedicated") == ""
    assert emergency_handling(policy, "dedicated") == "No emergency service."
    view = plan_view(policy, "dedicated")
    assert view.hours == "Not published" and "No response time" in view.response


@pytest.mark.parametrize(
    "filed",
    [
        pytest.param("2026-02-06 16:30", id="friday-evening"),
        pytest.param("2026-01-17 10:00", id="saturday"),
        pytest.param("2026-07-03 12:00", id="us-independence-day-observed"),
    ],
)
def test_no_response_time_has_been_published(policy: Policy, filed: str) -> None:
    due = first_response_due(policy, "dedicated", "standard", ny(filed))
    assert (due.at, due.opens_at) == (None, None)
    assert due.describe() == (
        "No response time has been published; staff answer in the request's ticket."
    )


@pytest.mark.parametrize(
    ("request_type", "routing"),
    [
        pytest.param("server-reboot", "upstream", id="reboot-of-a-provider-server-is-forwarded"),
        pytest.param("extra-ip", "upstream", id="extra-ips-for-a-provider-server-are-forwarded"),
        pytest.param("server-upgrade", "upstream", id="upgrade-of-a-provider-server-forwarded"),
        pytest.param(
            "server-cancellation", "upstream", id="cancellation-of-a-provider-server-forwarded"
        ),
        pytest.param("upstream-maintenance", "upstream", id="forward-provider-server-requests"),
        pytest.param("upstream-cancellation", "upstream", id="provider-handles-its-cancellations"),
        pytest.param("backup-schedule", "own", id="the-backup-manager-is-the-resellers"),
    ],
)
def test_forward_requests_about_the_providers_servers(
    policy: Policy, request_type: str, routing: str
) -> None:
    assert policy.request_types[request_type].routing == routing


def test_every_request_identifies_the_server(policy: Policy) -> None:
    # forwarded requests must carry the server's name and id; the ticket shows them too
    for rt in policy.request_types.values():
        assert "server" in rt.details, rt.id
        assert "product_version" not in rt.details, rt.id
    assert "name and id" in policy.request_types["upstream-maintenance"].description


def test_backup_tasks_end_with_a_notice_either_way(policy: Policy) -> None:
    text = policy.request_types["backup-schedule"].description
    assert "mark the task as completed" in text
    assert "cancel the request" in text
    assert "notified either way" in text


def test_cancellation_warnings_are_optional_and_their_number_of_days_unpublished(
    policy: Policy,
) -> None:
    rt = policy.request_types["server-cancellation"]
    assert "7 days" not in rt.description
    assert "has not been published" in rt.note
    refund = policy.request_types["cancellation-on-date"].note
    assert "refund formula" in refund and "not been published" in refund


def test_there_is_no_emergency_service(policy: Policy) -> None:
    assert policy.emergency is None
    decision = gate_emergency(
        policy, "server-reboot", "dedicated", "standard", claimed=True, now=ny("2026-02-06 10:00")
    )
    assert not decision.accepted
    assert decision.priority == "standard"


def test_no_version_checks(policy: Policy) -> None:
    assert policy.versions is None
    assert check_version(policy, "2.4") is None


def test_single_plan(policy: Policy) -> None:
    assert list(policy.plans) == ["dedicated"]
    assert policy.plans["dedicated"].when_ended is None
    assert plan_for_ticket(policy, "dedicated", "dedicated") == "dedicated"


def test_triage_says_nothing_is_promised_and_no_opening_is_known(policy: Policy) -> None:
    answer = triage_answer(
        policy, [("server-reboot", 1.0)], Facts(plan="dedicated"), ny("2026-02-06 10:00")
    )
    assert (answer["first_response_due"], answer["support_opens_at"]) == (None, None)
    assert "No response time has been published" in str(answer["first_response_text"])
    assert answer["request_types"][0]["coverage"]["quote_required"] is True
