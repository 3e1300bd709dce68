"""Every e-mail renders from its templates, says what it must, and has no leftovers of
template syntax; the one-line rule holds for subjects."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kb.policy import Policy, load_policy
from portal import notify
from portal.db.models import Ticket
from portal.notify.text import one_line

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def policy() -> Policy:
    loaded, problems = load_policy(ROOT / "content" / "policy.yaml")
    assert problems == [] and loaded is not None
    return loaded


def ticket() -> Ticket:
    return Ticket(
        number="T-7KQ3-M9XD",
        account_id="HH-10234",
        contact_email="anna@lindqvist.example",
        contact_name="Anna Lindqvist",
        contact_role="primary",
        request_type="email-not-working",
        title="Email is not working",
        text="My mailbox\nreceives nothing.",
        plan="standard",
        plan_snapshot={"name": "Standard"},
        priority="high",
        emergency_accepted=False,
        coverage_status="included",
        coverage_reason="Included in your Standard plan at no extra cost.",
        estimate="€50.00 fixed fee",
        due_at=dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.UTC),
        details={"Mailbox": "info@lindqvist.example", "Error message": "550"},
        status="open",
    )


def messages(policy: Policy) -> dict[str, notify.Message]:
    t = ticket()
    summary = notify.ticket_summary(t, "4 business hours")
    return {
        "verify": notify.verify(
            policy,
            to="anna@lindqvist.example",
            name="Anna",
            account="HH-10234",
            title="Email is not working",
            text="line one\nline two " + "x" * 400,
            link="https://support.example/request/confirm?token=abc",
            minutes=60,
        ),
        "signin": notify.signin(
            policy,
            to="anna@lindqvist.example",
            name="Anna",
            code="042917",
            link="https://support.example/signin/link?token=abc",
            minutes=10,
        ),
        "role_refused": notify.role_refused(
            policy,
            to="anna@lindqvist.example",
            name="Anna",
            account="HH-10234",
            title="Remote access",
            roles="primary contact",
        ),
        "filed": notify.filed(policy, t, summary=summary, link="https://support.example/t"),
        "helpdesk_filed": notify.helpdesk_filed("desk@example.com", t, summary=summary),
        "upstream": notify.upstream(
            "noc@example.com", t, server="web-1", server_id="1", summary=summary
        ),
        "status_changed": notify.status_changed(
            policy, t, label="Completed", note="Fixed the MX record.", link="https://s/t"
        ),
        "helpdesk_reply": notify.helpdesk_reply(
            policy, t, text="We restarted the mail service.", link="https://s/t"
        ),
        "emergency_rejected": notify.emergency_rejected(
            policy,
            t,
            note="One mailbox is not an outage.",
            status_label="Open",
            priority="High",
            when="The first response is due by Thu 3 Dec 2026, 14:00 (Europe/Berlin).",
            rule="Please mark only emergencies.",
            link="https://s/t",
        ),
        "status_link": notify.status_link(
            policy,
            t,
            to="anna@lindqvist.example",
            name="Anna",
            link="https://s/t",
            lifetime="90 days",
        ),
        "customer_comment": notify.customer_comment("desk@example.com", t, text="More info."),
        "feedback": notify.feedback("boss@example.com", t, kind="complaint", text="Too slow."),
        "mailin_refused": notify.mailin_refused(
            "someone@elsewhere.example", "T-7KQ3-M9XD", provider="Harbor Hosting"
        ),
        "mailin_closed": notify.mailin_closed(
            t,
            to="anna@lindqvist.example",
            name="Anna",
            status="Completed",
            link="https://s/request",
            provider="Harbor Hosting",
        ),
        "mailin_attachments": notify.mailin_attachments(
            t,
            to="anna@lindqvist.example",
            name="Anna",
            refused=[("setup.exe", "Only PNG, JPEG or WebP images can be attached.")],
            limit="5 MB",
            provider="Harbor Hosting",
        ),
        "staff_due": notify.staff_due(
            "desk@example.com",
            t,
            overdue=False,
            due="Thu 3 Dec 2026, 13:00 UTC",
            minutes=30,
            summary=summary,
        ),
        "staff_locked": notify.staff_locked(
            "sam@harbor.example",
            name="Sam Agent",
            until=dt.datetime(2026, 12, 3, 13, 10, tzinfo=dt.UTC),
            failures=5,
        ),
        "waiver_confirmed": notify.waiver_confirmed(
            policy,
            t,
            waiver="the cause is on our side",
            estimate="€50.00 fixed fee",
            note="The fault was in our mail relay.",
            link="https://s/t",
        ),
        "staff_reply": notify.staff_reply(
            policy,
            t,
            text="Please check the MX record.",
            author="Sam Agent",
            status_label="Waiting for you",
            link="https://s/t",
        ),
        "task_done": notify.task_done(
            policy, t, done=False, note="The server was replaced.", link="https://s/t"
        ),
        "ticket_merged": notify.ticket_merged(
            policy, t, into="T-AAAA-BBBB", note="Same problem.", link="https://s/t"
        ),
    }


def test_every_message_has_a_function_and_templates(policy: Policy) -> None:
    rendered = messages(policy)
    assert set(rendered) == set(notify.NAMES)
    for name in notify.NAMES:
        assert (notify.TEMPLATES / f"{name}.subject.txt").is_file()
        assert (notify.TEMPLATES / f"{name}.body.txt").is_file()


@pytest.mark.parametrize("name", notify.NAMES)
def test_each_message_renders_whole(policy: Policy, name: str) -> None:
    message = messages(policy)[name]
    assert message.subject and message.body.strip()
    assert "\n" not in message.subject and "\r" not in message.subject
    for leftover in ("{{", "}}", "{%", "%}", "None"):
        assert leftover not in message.subject + message.body, (name, leftover)


def test_what_the_messages_say(policy: Policy) -> None:
    m = messages(policy)
    provider = f"{policy.provider.name} support"
    assert "https://support.example/request/confirm?token=abc" in m["verify"].body
    assert "within 60 minutes" in m["verify"].body
    # the quoted description is one line, cut with an ellipsis
    quoted = next(line for line in m["verify"].body.splitlines() if line.startswith("  “"))
    assert "line one line two" in quoted and quoted.endswith("…”") and len(quoted) < 320
    assert m["verify"].body.rstrip().endswith(provider)
    assert "Only the account's primary contact may ask for this" in m["role_refused"].body
    assert m["filed"].subject == "[T-7KQ3-M9XD] Email is not working"
    for line in (
        "Ticket: T-7KQ3-M9XD",
        "Plan: Standard",
        "Accepted estimate: €50.00 fixed fee",
        "Mailbox: info@lindqvist.example",
    ):
        assert line in m["filed"].body.splitlines()
        assert line in m["helpdesk_filed"].body.splitlines()
    # for people, in the customer's zone (none stored on this ticket: the zone given);
    # the year only when it is not this year's
    due = re.compile(r"First response due: Thu 3 Dec( 2026)?, 13:00 \(UTC\) \(4 business hours\)")
    assert any(due.fullmatch(line) for line in m["filed"].body.splitlines()), m["filed"].body
    assert "Server name: web-1" in m["upstream"].body and "(id 1)" in m["upstream"].subject
    assert "is now: Completed." in m["status_changed"].body
    assert "Fixed the MX record." in m["status_changed"].body
    assert policy.emergency is not None
    assert policy.emergency.definition in m["emergency_rejected"].body
    assert "handled at High priority" in m["emergency_rejected"].body
    assert "It works for 90 days." in m["status_link"].body
    assert m["feedback"].subject == "[T-7KQ3-M9XD] Complaint from Anna Lindqvist"
    assert m["waiver_confirmed"].subject == "[T-7KQ3-M9XD] No charge: Email is not working"
    waived = m["waiver_confirmed"].body
    assert "  the cause is on our side" in waived.splitlines()
    assert "the estimate you accepted (€50.00 fixed fee) no longer does" in waived
    assert "The fault was in our mail relay." in waived
    assert "someone@elsewhere.example is not a listed contact" in m["mailin_refused"].body
    assert "https://s/request" in m["mailin_closed"].body
    assert "- setup.exe: Only PNG" in m["mailin_attachments"].body
    assert m["staff_due"].subject == (
        "[T-7KQ3-M9XD] First response due in 30 minutes: Email is not working"
    )
    assert "042917" in m["signin"].body and "042917" not in m["signin"].subject
    assert "https://support.example/signin/link?token=abc" in m["signin"].body
    assert "only in the browser where you asked" in m["signin"].body
    assert {k: v.purpose for k, v in m.items()} == {
        "signin": "signin",
        "verify": "verify",
        "role_refused": "role-refused",
        "filed": "confirmation",
        "helpdesk_filed": "helpdesk",
        "upstream": "upstream",
        "status_changed": "status",
        "helpdesk_reply": "reply",
        "emergency_rejected": "emergency-rejected",
        "status_link": "status-link",
        "customer_comment": "comment",
        "feedback": "complaint",
        "mailin_refused": "mailin-refused",
        "mailin_closed": "mailin-closed",
        "mailin_attachments": "mailin-attachments",
        "staff_due": "staff-due-soon",
        "staff_locked": "staff-locked",
        "waiver_confirmed": "waiver",
        "staff_reply": "reply",
        "task_done": "task-cancelled",
        "ticket_merged": "merged",
    }
    assert "Sam Agent answered your request T-7KQ3-M9XD" in m["staff_reply"].body
    assert "Please check the MX record." in m["staff_reply"].body
    assert m["task_done"].subject == "[T-7KQ3-M9XD] Task cancelled: Email is not working"
    assert "The server was replaced." in m["task_done"].body
    assert "we answer in T-AAAA-BBBB" in m["ticket_merged"].body
    assert m["staff_locked"].subject == (
        "Your staff sign-in is locked until Thu 3 Dec, 13:10 (UTC)"
    )
    assert "After 5 failed sign-ins in a row" in m["staff_locked"].body


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("a\r\nBcc: x@y", 200, "a Bcc: x@y"),
        ("  many   spaces\t", 200, "many spaces"),
        ("abcdef", 4, "abc…"),
        ("\x1b[31mred", 200, "[31mred"),
    ],
)
def test_one_line(text: str, limit: int, expected: str) -> None:
    assert one_line(text, limit) == expected
