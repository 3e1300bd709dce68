"""The customer's status page: the history in the customer's words (public events only,
"Your complaint", "Our answer"), a thank-you after sending, feedback only about a reply,
"First response by …" until staff answered, times in the customer's zone, and
``/tickets/<number>`` without a valid link offering a fresh one (never the KB's 404)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal import notify
from portal.alerts import scan as alerts
from portal.config import Settings
from portal.db.models import Outbox, StaffUser, Ticket
from portal.tickets.history import customer_history, first_answer, has_reply
from portal.tickets.states import EVENT_KINDS, PUBLIC_EVENTS, STATUS_LABELS
from tests.support.apps import running_portal
from tests.support.forms import post
from tests.support.paths import CONTENT
from tests.support.tickets import add_event, file_demo_ticket
from tests.support.wizard import png

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Ev:
    kind: str
    author: str = "staff"
    note: str = ""
    status: str | None = None
    at: dt.datetime = T0


@pytest.mark.parametrize(
    ("event", "label", "note"),
    [
        (Ev("filed", "customer", status="open"), "Filed", ""),
        (Ev("status", note="On it.", status="in_progress"), "Status: In progress", "On it."),
        (Ev("comment", "customer", "More logs"), "You added information", "More logs"),
        (Ev("feedback", "customer", "complaint: too slow"), "Your complaint", "too slow"),
        (Ev("feedback", "customer", "feedback: thanks"), "Your feedback", "thanks"),
        (Ev("feedback", "customer", "complaint:no space"), "Your feedback", "complaint:no space"),
        (
            Ev("reply", note="Restarted the mail server."),
            "Our answer",
            "Restarted the mail server.",
        ),
        (Ev("emergency_rejected", note="Not down."), "Not an emergency", "Not down."),
        (Ev("priority", note="Raised."), "Priority changed", "Raised."),
    ],
)
def test_public_events_in_the_customer_s_words(event: Ev, label: str, note: str) -> None:
    (entry,) = customer_history([event], STATUS_LABELS)
    assert (entry.label, entry.note) == (label, note)


@pytest.mark.parametrize("kind", sorted(set(EVENT_KINDS) - PUBLIC_EVENTS))
def test_internal_events_are_never_shown(kind: str) -> None:
    assert customer_history([Ev(kind, note="internal: do not show")], STATUS_LABELS) == []


@pytest.mark.parametrize(
    ("events", "answered", "reply"),
    [
        ([Ev("filed", "customer")], None, False),
        ([Ev("filed", "customer"), Ev("comment", "customer")], None, False),
        ([Ev("filed", "customer"), Ev("note"), Ev("assigned")], None, False),
        ([Ev("filed", "customer"), Ev("reply", at=T0 + dt.timedelta(hours=2))], 2, True),
        ([Ev("status", status="in_progress", at=T0 + dt.timedelta(hours=1))], 1, False),
        ([Ev("status", "customer", status="open")], None, False),
        (
            [
                Ev("status", status="in_progress", at=T0 + dt.timedelta(hours=1)),
                Ev("reply", at=T0 + dt.timedelta(hours=3)),
            ],
            1,
            True,
        ),
    ],
)
def test_when_staff_answered(events: list[Ev], answered: int | None, reply: bool) -> None:
    expected = None if answered is None else T0 + dt.timedelta(hours=answered)
    assert first_answer(events) == expected
    assert has_reply(events) is reply


@pytest.fixture(scope="module")
def settings(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("status-page")
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        secret_key="status-page-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings, run_outbox=False) as application:
        yield application


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def history_items(page: str) -> list[str]:
    items = re.findall(r"<li class=\"event-[a-z_]+\">(.*?)</li>", page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", i)).strip() for i in items]


def test_a_complaint_reads_as_your_complaint_with_a_thank_you(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(app, settings)
    page = post(
        client,
        f"/tickets/{filed.number}/complaint",
        {"token": filed.token, "text": "Nobody has answered yet."},
    )
    assert page.status_code == 200
    assert "Thank you: your complaint went to a supervisor" in page.text
    items = history_items(page.text)
    assert any("Your complaint Nobody has answered yet." in i for i in items), items
    assert "Your feedback" not in page.text
    assert "complaint: Nobody" not in page.text
    # once more, without sending: no thank-you
    again = client.get(filed.path).text
    assert "Thank you" not in again


def test_feedback_about_our_reply_only_once_there_is_one(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(app, settings)
    before = client.get(filed.path).text
    assert "Feedback about our reply" not in before
    assert "A complaint about how this request is handled" in before
    add_event(app, filed.number, "reply", note="We restarted the mail service.")
    add_event(app, filed.number, "note", note="internal: customer seems annoyed")
    after = client.get(filed.path).text
    assert "Feedback about our reply" in after
    items = history_items(after)
    assert any("Our answer We restarted the mail service." in i for i in items), items
    assert "internal" not in after
    sent = post(
        client, f"/tickets/{filed.number}/feedback", {"token": filed.token, "text": "Quick, thanks"}
    )
    assert "Thank you for your feedback" in sent.text
    assert any("Your feedback Quick, thanks" in i for i in history_items(sent.text))


def test_first_response_by_until_staff_answered(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(app, settings, tz="America/New_York")
    page = client.get(filed.path).text
    due = re.search(r"<dt>First response</dt><dd>by <time[^>]*>([^<]+)</time>", page)
    assert due, page
    assert due.group(1).endswith("(America/New_York)")
    answered = dt.datetime.now(dt.UTC).replace(microsecond=0)
    add_event(app, filed.number, "status", status="in_progress", note="Looking.", at=answered)
    page = client.get(filed.path).text
    assert "<dt>First response</dt><dd>by" not in page
    assert "<dt>First response</dt><dd>Answered" in page


def test_times_are_in_the_customer_s_zone_for_people(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(
        app,
        settings,
        tz="Asia/Tokyo",
        details={
            "mailbox": "info@lindqvist.example",
            "error_message": "550",
            "occurred_at": "2026-12-01T20:51",
            "doing": "x",
        },
    )
    add_event(
        app, filed.number, "reply", note="Done.", at=dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    )
    page = client.get(filed.path).text
    assert "Wed 2 Dec, 08:30 (Asia/Tokyo)" in page  # the reply, 23:30 UTC
    assert "Tue 1 Dec, 20:51 (Asia/Tokyo)" in page  # "When did it happen?", as typed
    assert "2026-12-01T20:51" not in page.replace('datetime="', "")
    assert "UTC" not in re.sub(r'datetime="[^"]+"', "", page)


@pytest.mark.parametrize(
    "path",
    ["/tickets/T-AAAA-BBBB", "/tickets/T-AAAA-BBBB?token=forged", "/tickets/not-a-number"],
)
def test_no_valid_link_offers_a_fresh_one_for_any_number(
    app: Starlette, settings: Settings, client: TestClient, path: str
) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert "This link does not open a ticket" in page.text
    assert "the article may have moved" not in page.text
    assert 'action="/tickets/link"' in page.text and "Mail me a new link" in page.text


def test_a_real_ticket_without_its_link_gets_the_same_page(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(app, settings)
    real = client.get(f"/tickets/{filed.number}")
    made_up = client.get("/tickets/T-ZZZZ-ZZZZ")
    assert real.status_code == made_up.status_code == 404
    assert real.text.replace(filed.number, "N") == made_up.text.replace("T-ZZZZ-ZZZZ", "N")
    assert "my mailbox does not receive mail" not in real.text


def test_a_status_link_holder_attaches_a_file_shown_in_the_thread(
    app: Starlette, settings: Settings, client: TestClient
) -> None:
    filed = file_demo_ticket(app, settings)
    form = client.get(filed.path).text
    assert 'enctype="multipart/form-data"' in form and 'name="file" type="file"' in form
    page = post(
        client,
        f"/tickets/{filed.number}/comment",
        {"token": filed.token, "text": "The error page:"},
        files={"file": ("error page.png", png(), "image/png")},
    )
    assert page.status_code == 200, page.text
    assert "Thank you: your information is added" in page.text
    assert any("The error page: Attached: error page.png" in i for i in history_items(page.text))
    assert re.search(
        r'<a href="/tickets/[^"]+/attachments/[^"]+\?token=[^"]+" download>error page.png',
        page.text,
    )
    # one file per addition; an empty form names what to do; both keep the text
    two = post(
        client,
        f"/tickets/{filed.number}/comment",
        {"token": filed.token, "text": "two files"},
        files=[("file", ("a.png", png(), "image/png")), ("file", ("b.png", png(), "image/png"))],  # type: ignore[arg-type]
    )
    assert two.status_code == 422 and "Attach one file at a time" in two.text
    assert ">two files</textarea>" in two.text
    empty = post(client, f"/tickets/{filed.number}/comment", {"token": filed.token, "text": " "})
    assert empty.status_code == 422 and "Write something or attach a file first" in empty.text


def test_staff_due_mails_give_the_due_time_in_the_customer_s_zone(
    app: Starlette, settings: Settings
) -> None:
    filed = file_demo_ticket(app, settings, tz="America/New_York")
    due = dt.datetime(2026, 12, 3, 19, 0, tzinfo=dt.UTC)  # 14:00 in New York
    with app.state.db.session() as session:
        session.add(StaffUser(email="times@harbor.example", name="Times", role="agent"))
        ticket = session.scalars(select(Ticket).where(Ticket.number == filed.number)).one()
        ticket.due_at = due
    alerts.run(app.state.db, settings, now=due - dt.timedelta(minutes=20))
    with app.state.db.session() as session:
        body = session.scalars(
            select(Outbox.body).where(
                Outbox.ticket_number == filed.number, Outbox.purpose == "staff-due-soon"
            )
        ).first()
    assert body is not None
    assert "is due at Thu 3 Dec, 14:00 (America/New_York), in 20 minutes" in body


def test_support_next_opens_is_written_for_people_in_the_customer_s_zone() -> None:
    ticket = Ticket(
        number="T-7KQ3-M9XD",
        account_id="HH-10234",
        contact_email="anna@lindqvist.example",
        contact_name="Anna Lindqvist",
        title="A question",
        text="?",
        plan="standard",
        plan_snapshot={"tz": "Europe/Berlin", "support_opens_at": "2026-11-30T08:00:00+00:00"},
        priority="normal",
        emergency_accepted=False,
        coverage_status="included",
        coverage_reason="Included.",
        due_at=None,
        details={},
        created_at=dt.datetime(2026, 11, 28, 22, 0, tzinfo=dt.UTC),
    )
    summary = notify.ticket_summary(ticket, "No response time is promised.")
    assert "Support next opens: Mon 30 Nov, 09:00 (Europe/Berlin)" in summary.splitlines()
    # with no zone stored on the ticket, the provider's
    ticket.plan_snapshot = {"support_opens_at": "2026-11-30T08:00:00+00:00"}
    summary = notify.ticket_summary(ticket, "", provider_zone="Asia/Tokyo")
    assert "Support next opens: Mon 30 Nov, 17:00 (Asia/Tokyo)" in summary.splitlines()


def test_a_staff_lock_mail_writes_the_time_for_people() -> None:
    until = dt.datetime(2026, 12, 3, 13, 10, tzinfo=dt.UTC)
    mail = notify.staff_locked("sam@harbor.example", name="Sam", until=until, failures=5)
    assert mail.subject.endswith("locked until Thu 3 Dec, 13:10 (UTC)")
    mail = notify.staff_locked(
        "s@h.example", name="S", until=until, failures=5, zone="Europe/Berlin"
    )
    assert "locked until Thu 3 Dec, 14:10 (Europe/Berlin)" in mail.body
