"""Every staff action over HTTP and as a CLI verb, against SQLite and PostgreSQL, with
a real SMTP server: what the customer is mailed and sees on their status page (a
reply, never a note), the ticket's history, and a staff audit row for each."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import StaffAudit, Ticket, TicketEvent
from tests.support.apps import running_portal
from tests.support.databases import KINDS, new_database_url
from tests.support.mail import MailServer, body, link_in
from tests.support.staff import add_staff, file_ticket, sign_in, staff_post, staff_settings


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def mailserver(database_url: str) -> Iterator[MailServer]:
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(
    database_url: str,
    demo_build: Path,
    mailserver: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return staff_settings(
        database_url,
        tmp_path_factory.mktemp("staff"),
        demo_build,
        smtp_url=mailserver.url,
        mail_from="support@harbor.example",
        upstream_email="noc@upstream.example",
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings) as application:  # migrations, outbox worker, directory
        add_staff(application.state.db, settings, "sam@harbor.example", name="Sam Agent")
        add_staff(application.state.db, settings, "kim@harbor.example", name="Kim Other")
        yield application


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
def policy(app: Starlette) -> Policy:
    value: Policy = app.state.policy.get()
    return value


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        assert sign_in(c, "sam@harbor.example").status_code == 303
        yield c


def ticket(db: Database, number: str) -> Ticket:
    with db.session() as session:
        return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def events(db: Database, number: str) -> list[tuple[str, str]]:
    with db.session() as session:
        t = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        rows = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == t.id).order_by(TicketEvent.id)
        )
        return [(e.kind, e.note) for e in rows]


def audited(db: Database, number: str) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.scalars(
            select(StaffAudit).where(StaffAudit.ticket_number == number).order_by(StaffAudit.id)
        )
        return [(r.action, r.staff_email) for r in rows]


def mail_about(mailserver: MailServer, to: str, number: str, words: str) -> str:
    """The text of the mail to ``to`` about ticket ``number`` whose subject has ``words``."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for m in mailserver.inbox.to(to):
            if number in str(m["Subject"]) and words in str(m["Subject"]):
                return body(m)
        time.sleep(0.05)
    raise AssertionError(f"no mail '{words}' about {number}: {mailserver.inbox.summary()}")


def act(client: TestClient, number: str, action: str, **data: str) -> tuple[int, str]:
    r = staff_post(client, f"/staff/tickets/{number}/{action}", data)
    return r.status_code, r.headers.get("location", "") or r.text


def test_a_reply_reaches_the_customer_and_their_status_page_a_note_never(
    client: TestClient, db: Database, policy: Policy, settings: Settings, mailserver: MailServer
) -> None:
    t = file_ticket(db, policy, settings, email="dev@lindqvist.example")
    confirmation = mailserver.inbox.wait_for("dev@lindqvist.example")[0]
    status, where = act(client, t.number, "note", text="INTERNAL: customer is a reseller")
    assert status == 303
    status, where = act(
        client, t.number, "reply", text="Please check the MX record.", status="waiting_for_customer"
    )
    assert status == 303 and where == f"/staff/tickets/{t.number}?done=reply"
    mails = mailserver.inbox.wait_for("dev@lindqvist.example", 2)
    reply = next(m for m in mails if "Our answer" in str(m["Subject"]))
    text = body(reply)
    assert "Please check the MX record." in text and "Sam Agent" in text
    assert "Waiting for you" in text and "INTERNAL" not in text
    assert ticket(db, t.number).status == "waiting_for_customer"
    # the customer's status page (the link in their mail) shows the reply, not the note
    page = client.get(link_in(reply))
    assert page.status_code == 200
    assert "Please check the MX record." in page.text
    assert "INTERNAL" not in page.text and "reseller" not in page.text
    assert link_in(reply) == link_in(confirmation)  # the ticket's one status link
    # the staff page shows both, the note marked internal
    staff_page = client.get(f"/staff/tickets/{t.number}?done=reply")
    assert "Your reply was sent" in staff_page.text
    assert "INTERNAL: customer is a reseller" in staff_page.text
    assert staff_page.headers["cache-control"] == "no-store"
    assert audited(db, t.number) == [
        ("note", "sam@harbor.example"),
        ("reply", "sam@harbor.example"),
    ]
    # an empty reply says what to fix and changes nothing
    status, text_ = act(client, t.number, "reply", text="   ")
    assert status == 422 and "Write the reply first" in text_


def test_status_priority_and_assignment(
    client: TestClient, db: Database, policy: Policy, settings: Settings, mailserver: MailServer
) -> None:
    t = file_ticket(db, policy, settings, priority="high")
    before = ticket(db, t.number).due_at
    status, page = act(client, t.number, "priority", priority="low", reason="")
    assert status == 422 and "reason" in page
    assert act(client, t.number, "priority", priority="low", reason="One mailbox only.")[0] == 303
    after = ticket(db, t.number)
    assert after.priority == "low" and before is not None and after.due_at is not None
    assert after.due_at > before  # low has a longer target, counted from filing
    assert ("priority", "Now Low priority. One mailbox only.") in events(db, t.number)
    assert act(client, t.number, "assign", to="kim@harbor.example")[0] == 303
    assert ticket(db, t.number).assigned_to is not None
    mine = client.get("/staff?assigned=none&status=all")
    assert t.number not in mine.text
    # htmx asks for the results alone (the partial), the same filters
    partial = client.get("/staff?assigned=none&status=all", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="queue-results"')
    assert "<html" not in partial.text and t.number not in partial.text
    assert partial.headers["cache-control"] == "no-store"
    assert act(client, t.number, "assign", to="nobody@harbor.example")[0] == 422
    assert act(client, t.number, "status", status="in_progress", note="Looking into it.")[0] == 303
    assert ticket(db, t.number).status == "in_progress"
    assert "Looking into it." in mail_about(
        mailserver, "anna@lindqvist.example", t.number, "In progress"
    )
    assert [a for a, _ in audited(db, t.number)] == ["priority", "assign", "status"]


def test_rejecting_a_false_emergency(
    client: TestClient, db: Database, policy: Policy, settings: Settings, mailserver: MailServer
) -> None:
    t = file_ticket(
        db,
        policy,
        settings,
        request_type="server-down",
        priority="blocker",
        emergency=True,
        account="HH-20417",
        email="it@okafor.example",
    )
    assert ticket(db, t.number).emergency_outcome == "accepted"
    queue = client.get("/staff?emergency=accepted")
    assert t.number in queue.text
    assert (
        act(client, t.number, "reject_emergency", note="The server answers; one site is slow.")[0]
        == 303
    )
    after = ticket(db, t.number)
    assert after.emergency_outcome == "rejected_by_staff" and after.priority != "blocker"
    text = mail_about(mailserver, "it@okafor.example", t.number, "emergency")
    assert policy.emergency is not None and policy.emergency.definition in text
    assert "one site is slow" in text
    # a second rejection says why it cannot be done
    status, page = act(client, t.number, "reject_emergency", note="again")
    assert status == 422 and "not an accepted emergency" in page


def test_confirming_a_waiver_and_forwarding_upstream(
    client: TestClient, db: Database, policy: Policy, settings: Settings, mailserver: MailServer
) -> None:
    paid = file_ticket(
        db,
        policy,
        settings,
        request_type="extra-ip",
        priority="low",
        waivers=["provider_fault"],
        account="HH-20417",
        email="it@okafor.example",
    )
    assert ticket(db, paid.number).coverage_status == "paid"
    page = client.get(f"/staff/tickets/{paid.number}")
    assert "Waivers claimed" in page.text and "web-12 (id 4711)" in page.text
    assert (
        act(client, paid.number, "confirm_waiver", waiver="provider_fault", note="Our router.")[0]
        == 303
    )
    assert ticket(db, paid.number).coverage_status == "included"
    status, again = act(client, paid.number, "confirm_waiver", waiver="provider_fault")
    assert status == 422 and "already confirmed" in again
    reboot = file_ticket(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="medium",
        account="HH-20417",
        email="it@okafor.example",
    )
    assert act(client, reboot.number, "forward", note="Please reboot tonight.")[0] == 303
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        texts = [body(m) for m in mailserver.inbox.to("noc@upstream.example")]
        forwarded = [x for x in texts if reboot.number in x and "Please reboot tonight." in x]
        if forwarded:
            break
        time.sleep(0.05)
    assert forwarded, mailserver.inbox.summary()
    assert "Server name: db-3" in forwarded[0] and "Server id: 8802" in forwarded[0]
    kinds = [k for k, _ in events(db, reboot.number)]
    assert "forwarded" in kinds


def test_maintenance_tasks_complete_and_cancel(
    client: TestClient, db: Database, policy: Policy, settings: Settings, mailserver: MailServer
) -> None:
    done = file_ticket(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="low",
        account="HH-20417",
        email="it@okafor.example",
    )
    dropped = file_ticket(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="low",
        account="HH-20417",
        email="it@okafor.example",
    )
    assert act(client, done.number, "complete", note="Rebooted at 02:00.")[0] == 303
    assert ticket(db, done.number).status == "completed"
    status, page = act(client, dropped.number, "cancel", note="")
    assert status == 422 and "note for the customer" in page
    assert act(client, dropped.number, "cancel", note="The server was replaced instead.")[0] == 303
    assert ticket(db, dropped.number).status == "cancelled"
    completed = mail_about(mailserver, "it@okafor.example", done.number, "Task completed")
    assert "is completed" in completed and "Rebooted at 02:00." in completed
    cancelled = mail_about(mailserver, "it@okafor.example", dropped.number, "Task cancelled")
    assert "was cancelled" in cancelled and "replaced instead" in cancelled
    # not a task: says what to do instead
    other = file_ticket(db, policy, settings)
    status, page = act(client, other.number, "complete")
    assert status == 422 and "not a maintenance task" in page


def test_merging_a_duplicate_only_within_the_account(
    client: TestClient, db: Database, policy: Policy, settings: Settings
) -> None:
    keep = file_ticket(db, policy, settings)
    dup = file_ticket(db, policy, settings, email="anna.backup@mail.example")
    elsewhere = file_ticket(
        db,
        policy,
        settings,
        request_type="server-down",
        priority="high",
        account="HH-20417",
        email="it@okafor.example",
    )
    status, page = act(client, dup.number, "merge", into=elsewhere.number)
    assert status == 422 and "another account" in page
    status, where = act(client, dup.number, "merge", into=keep.number, note="Same problem.")
    assert status == 303 and where.startswith(f"/staff/tickets/{keep.number}")
    merged = ticket(db, dup.number)
    assert merged.merged_into == keep.number and merged.status == "cancelled"
    assert any(k == "merged" and dup.number in n for k, n in events(db, keep.number))


def test_every_action_as_a_cli_verb_with_pure_json(
    app: Starlette, db: Database, policy: Policy, settings: Settings
) -> None:
    runner = CliRunner()
    env = settings.to_environ()

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(main, ["tickets", *args, "--json"], env=env)
        data = json.loads(result.output)  # the whole output is one JSON object
        assert isinstance(data, dict)
        data["exit"] = result.exit_code
        return data

    t = file_ticket(db, policy, settings)
    assert run("reply", t.number, "--text", "Fixed it.", "--status", "completed")["exit"] == 0
    out = run("note", t.number, "--text", "cli note", "--as", "kim@harbor.example")
    assert out["exit"] == 0 and out["action"] == "note"
    assert run("priority", t.number, "medium", "--reason", "Customer asked.")["exit"] == 0
    assigned = run("assign", t.number, "sam@harbor.example")
    assert assigned["exit"] == 0 and assigned["ticket"]["number"] == t.number  # type: ignore[index]
    assert run("assign", t.number)["exit"] == 0
    assert ticket(db, t.number).assigned_to is None
    failed = run("complete", t.number)
    assert failed["exit"] == 1 and "not a maintenance task" in str(failed["error"])
    task = file_ticket(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="low",
        account="HH-20417",
        email="it@okafor.example",
    )
    assert run("forward", task.number, "--note", "tonight")["exit"] == 0
    assert run("complete", task.number, "--note", "done")["exit"] == 0
    task2 = file_ticket(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="low",
        account="HH-20417",
        email="it@okafor.example",
    )
    assert run("cancel", task2.number, "--note", "not needed")["exit"] == 0
    a = file_ticket(db, policy, settings)
    b = file_ticket(db, policy, settings)
    merged = run("merge", b.number, "--into", a.number)
    assert merged["exit"] == 0 and merged["ticket"]["number"] == a.number  # type: ignore[index]
    missing = run("note", "T-0000-0000", "--text", "x")
    assert missing["exit"] == 1 and "no ticket" in str(missing["error"])
    actors = dict(audited(db, t.number))
    assert actors["note"] == "kim@harbor.example" and actors["reply"].startswith("cli:")
    assert [a for a, _ in audited(db, t.number)] == [
        "reply",
        "note",
        "priority",
        "assign",
        "assign",
    ]
    status = runner.invoke(main, ["tickets", "set-status", t.number, "open"], env=env)
    assert status.exit_code == 0
    assert audited(db, t.number)[-1][0] == "status"  # the existing verbs are audited too


def test_every_other_staff_verb_prints_pure_json_and_is_audited(
    app: Starlette, db: Database, policy: Policy, settings: Settings
) -> None:
    runner = CliRunner()
    env = settings.to_environ()

    def run(*args: str) -> dict[str, object]:
        result = runner.invoke(main, ["tickets", *args, "--json"], env=env)
        data = json.loads(result.output)  # the whole output is one JSON object
        assert isinstance(data, dict), result.output
        data["exit"] = result.exit_code
        return data

    t = file_ticket(db, policy, settings)
    status = run(
        "set-status", t.number, "in_progress", "--note", "On it.", "--as", "kim@harbor.example"
    )
    assert status["exit"] == 0 and status["ticket"]["status"] == "in_progress"  # type: ignore[index]
    bad = run("set-status", t.number, "no-such-status")
    assert bad["exit"] == 1 and "error" in bad
    urgent = file_ticket(
        db,
        policy,
        settings,
        request_type="server-down",
        priority="blocker",
        emergency=True,
        account="HH-20417",
        email="it@okafor.example",
    )
    rejected = run("reject-emergency", urgent.number, "--note", "One page is slow.")
    assert rejected["exit"] == 0
    assert rejected["ticket"]["emergency_outcome"] == "rejected_by_staff"  # type: ignore[index]
    paid = file_ticket(
        db,
        policy,
        settings,
        request_type="extra-ip",
        priority="low",
        waivers=["provider_fault"],
        account="HH-20417",
        email="it@okafor.example",
    )
    waived = run("waive", paid.number, "--note", "Our router.")
    assert waived["exit"] == 0 and waived["coverage"]["status"] == "included"  # type: ignore[index]
    again = run("waive", paid.number)
    assert again["exit"] == 1 and "already confirmed" in str(again["error"])
    assert audited(db, t.number)[0] == ("status", "kim@harbor.example")
    assert [a for a, _ in audited(db, urgent.number)] == ["reject_emergency"]
    assert [a for a, _ in audited(db, paid.number)] == ["confirm_waiver"]  # the CLI too
    # without --json: one line, as before
    plain = runner.invoke(main, ["tickets", "set-status", t.number, "open"], env=env)
    assert plain.exit_code == 0 and plain.output == f"{t.number}: open\n"


def test_staff_output_gives_the_customer_s_zone(
    client: TestClient, app: Starlette, db: Database, policy: Policy, settings: Settings
) -> None:
    t = file_ticket(db, policy, settings, tz="America/New_York")
    act(client, t.number, "note", text="zone check")
    page = client.get(f"/staff/tickets/{t.number}").text
    assert 'data-zone="America/New_York">America/New_York · their time now: ' in page
    times = re.findall(r"<time datetime=[^>]*>([^<]*)</time>", page)
    assert len(times) >= 2 and all(x.endswith("(America/New_York)") for x in times), times
    runner = CliRunner()
    env = settings.to_environ()
    text = runner.invoke(main, ["tickets", "show", t.number], env=env)
    assert text.exit_code == 0 and "time zone:    America/New_York" in text.output
    shown = json.loads(runner.invoke(main, ["tickets", "show", t.number, "--json"], env=env).output)
    assert shown["timezone"] == "America/New_York"
    noted = runner.invoke(main, ["tickets", "note", t.number, "--text", "x", "--json"], env=env)
    assert json.loads(noted.output)["ticket"]["timezone"] == "America/New_York"
