"""Scheduled notices (#15 item 6): when each is due (pure, with a controlled clock), a
server's cancellation at the end of its billing period with the policy's warning,
staff setting any date, rescheduling and discarding, plan-ending notices, reminders
on tickets waiting for the customer; each sent exactly once: twice the scan, two
worker processes draining PostgreSQL at once, a worker killed with SIGKILL in the
middle of its transaction."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import time
import zoneinfo
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from kb.policy import Policy, parse_policy
from kb.policy.notices import (
    cancellation_at,
    cancellation_warning_at,
    plan_ending_at,
    waiting_reminder_at,
)
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import (
    Account,
    AuditEntry,
    Notice,
    Outbox,
    PendingRequest,
    Server,
    Ticket,
    TicketEvent,
)
from portal.directory import importer
from portal.incidents import store as incidents
from portal.notices import drain, scan, store
from portal.tickets import filing as tickets_filing
from portal.tickets import updates
from tests.support.databases import KINDS, new_database_url
from tests.support.paths import CONTENT, EXAMPLES, ROOT
from tests.support.staff import file_ticket

BERLIN = dt.timezone(dt.timedelta(hours=1))  # the demo provider's zone in winter
NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)
NOTICES = """
notices:
  cancellation_warning_days: 7
  cancellation_warnings: We warn you a week before a server is cancelled.
  plan_ending_days: 14
  waiting_reminder_days: 3
"""
ACCOUNTS = """
accounts:
  - id: HH-20417
    name: Okafor Logistics
    plan: priority
    plan_ends: 2027-01-31
    contacts:
      - {email: ops1@okafor.example, name: Maria Santos, role: authorised}
      - {email: it@okafor.example, name: Chidi Okafor, role: primary}
    servers:
      - {name: web-12, id: "4711", owner: own, billing_ends: 2026-12-31}
      - {name: db-3, id: "8802", owner: upstream}
"""


def policy_with(extra: str = NOTICES) -> Policy:
    policy, problems = parse_policy((CONTENT / "policy.yaml").read_text("utf-8") + extra)
    assert policy is not None and problems == [], problems
    return policy


# --- when (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "last_day", "cancel", "warn", "plan_notice"),
    [
        # Berlin in winter is UTC+1: a day ends at 23:00 UTC
        (
            NOTICES,
            dt.date(2026, 12, 31),
            dt.datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN),
            dt.datetime(2026, 12, 25, 0, 0, tzinfo=BERLIN),
            dt.datetime(2026, 12, 17, 0, 0, tzinfo=BERLIN),
        ),
        # summer time: UTC+2
        (
            NOTICES,
            dt.date(2027, 6, 30),
            dt.datetime(2027, 6, 30, 22, 0, tzinfo=dt.UTC),
            dt.datetime(2027, 6, 23, 22, 0, tzinfo=dt.UTC),
            dt.datetime(2027, 6, 15, 22, 0, tzinfo=dt.UTC),
        ),
        # the policy gives no number: no warning, no notice (never a number of ours)
        ("", dt.date(2026, 12, 31), dt.datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN), None, None),
    ],
)
def test_when_notices_are_due(
    extra: str,
    last_day: dt.date,
    cancel: dt.datetime,
    warn: dt.datetime | None,
    plan_notice: dt.datetime | None,
) -> None:
    policy = policy_with(extra)
    assert cancellation_at(policy, last_day) == cancel
    assert cancellation_warning_at(policy, last_day) == warn
    assert plan_ending_at(policy, last_day) == plan_notice
    expected_reminder = NOW + dt.timedelta(days=3) if extra else None
    assert waiting_reminder_at(policy, NOW) == expected_reminder


def test_the_reseller_pack_says_what_its_source_says() -> None:
    from kb.policy import load_policy

    policy, problems = load_policy(EXAMPLES / "hsphere-reseller" / "policy.yaml")
    assert policy is not None and problems == []
    assert policy.notices.cancellation_warning_days is None  # the guide gives no number
    assert "a set number of days" in policy.notices.cancellation_warnings
    assert "end of its billing period" in policy.notices.cancellation_warnings


# --- the directory ---------------------------------------------------------------------------


def test_the_directory_gives_each_server_its_billing_period_end() -> None:
    rows, errors = importer.parse_yaml(ACCOUNTS)
    assert errors == []
    assert [(s.name, s.billing_ends) for s in rows[0].servers] == [
        ("web-12", dt.date(2026, 12, 31)),
        ("db-3", None),
    ]
    header = ",".join(importer.CSV_COLUMNS)
    csv = f"{header}\nHH-1,A,standard,,,a@a.example,A,primary,web-1:1:own:2027-03-31;db:2\n"
    rows, errors = importer.parse_csv(csv)
    assert errors == [] and [s.billing_ends for s in rows[0].servers] == [
        dt.date(2027, 3, 31),
        None,
    ]
    _, errors = importer.parse_csv(
        f"{header}\nHH-1,A,standard,,,a@a.example,A,primary,w:1:own:soon\n"
    )
    assert errors == ["line 2: billing_ends 'soon' must be a date (YYYY-MM-DD)"]
    _, errors = importer.parse_yaml(ACCOUNTS.replace("billing_ends: 2026-12-31", "ends: 1"))
    assert errors == ["line 11: unknown server key(s): ends"]


# --- on SQLite and PostgreSQL --------------------------------------------------------------


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with new_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        database_url=database_url,
        upload_dir=tmp_path / "uploads",
        secret_key="notice-tests",
        base_url="https://support.harbor.example/",
    )


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    policy = policy_with()
    assert not importer.import_file(database, policy, EXAMPLES / "accounts.yaml").errors
    path = tmp_path / "okafor.yaml"
    path.write_text(ACCOUNTS, "utf-8")
    report = importer.import_file(database, policy, path)
    assert report.errors == [] and report.updated == ["HH-20417"]
    yield database
    database.dispose()


def sent(db: Database, purpose: str) -> list[Outbox]:
    with db.session() as session:
        query = select(Outbox).where(Outbox.purpose == purpose).order_by(Outbox.id)
        return list(session.scalars(query))


def test_a_cancellation_at_the_end_of_the_billing_period_with_its_warning(
    db: Database, settings: Settings
) -> None:
    policy = policy_with()
    done = store.schedule_cancellation(db, policy, "HH-20417", "web-12", now=NOW)
    warn_at = dt.datetime(2026, 12, 25, 0, 0, tzinfo=BERLIN)
    assert done.warning_at == warn_at
    assert done.cancellation.due_at == dt.datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN)
    with pytest.raises(store.NoticeError, match="already has a cancellation scheduled"):
        store.schedule_cancellation(db, policy, "HH-20417", "4711", now=NOW)
    with pytest.raises(store.NoticeError, match="no billing period end for db-3"):
        store.schedule_cancellation(db, policy, "HH-20417", "db-3", now=NOW)
    # the controlled clock: nothing before the warning is due, the warning once then
    minute = dt.timedelta(minutes=1)
    assert drain.drain_all(db, policy, settings, now=warn_at - minute).sent == 0
    assert drain.drain_all(db, policy, settings, now=warn_at).sent == 1
    assert drain.drain_all(db, policy, settings, now=warn_at + minute).sent == 0
    [warning] = sent(db, "notice-cancellation_warning")
    assert warning.recipient == "it@okafor.example"  # the primary contact, not the first
    assert "web-12 (id 4711)" in warning.body and "Thu 31 Dec 2026" in warning.body
    assert "the end of its billing period" in warning.body
    assert "We warn you a week before a server is cancelled." in warning.body
    cancel_at = done.cancellation.due_at
    assert drain.drain_all(db, policy, settings, now=cancel_at - minute).sent == 0
    assert drain.drain_all(db, policy, settings, now=cancel_at).sent == 1
    [cancelled] = sent(db, "notice-server_cancellation")
    assert cancelled.subject == "Your server web-12 has been cancelled"


def test_staff_set_any_date_reschedule_and_discard(db: Database, settings: Settings) -> None:
    policy = policy_with()
    done = store.schedule_cancellation(
        db, policy, "HH-20417", "db-3", on=dt.date(2026, 12, 20), now=NOW
    )
    cancellation = done.cancellation
    assert cancellation.data["end_of_billing_period"] is False
    # moved: the warning moves with it, the old one is discarded
    moved = store.reschedule(db, policy, cancellation.id, dt.date(2027, 2, 10), now=NOW)
    assert moved.due_at == dt.datetime(2027, 2, 11, 0, 0, tzinfo=BERLIN)
    warnings = store.listing(db, kind="cancellation_warning")
    assert [w.due_at for w in warnings] == [dt.datetime(2027, 2, 4, 0, 0, tzinfo=BERLIN)]
    assert (
        drain.drain_all(db, policy, settings, now=dt.datetime(2026, 12, 14, tzinfo=dt.UTC)).sent
        == 0
    )
    # discarded: with its warning; a discarded notice cannot be moved again
    assert sorted(store.cancel(db, cancellation.id, now=NOW)) == sorted(
        [cancellation.id, warnings[0].id]
    )
    assert store.listing(db) == []
    with pytest.raises(store.NoticeError, match="is cancelled, not scheduled"):
        store.reschedule(db, policy, cancellation.id, dt.date(2027, 3, 1), now=NOW)
    later = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    assert drain.drain_all(db, policy, settings, now=later).sent == 0
    # too late to warn 7 days ahead: only the cancellation itself is scheduled
    soon = store.schedule_cancellation(
        db, policy, "HH-20417", "db-3", on=dt.date(2026, 12, 4), now=NOW
    )
    assert soon.warning_at is not None and soon.warning_at < NOW
    assert [n.kind for n in store.listing(db)] == ["server_cancellation"]


def test_without_a_number_in_the_policy_no_warning_is_scheduled(
    db: Database, settings: Settings
) -> None:
    policy = policy_with("")
    done = store.schedule_cancellation(db, policy, "HH-20417", "web-12", now=NOW)
    assert done.warning_at is None
    assert [n.kind for n in store.listing(db)] == ["server_cancellation"]
    assert scan.run(db, policy, now=NOW).scheduled == 0  # no plan notices, no reminders


def test_plan_ending_and_waiting_reminders_once_each(db: Database, settings: Settings) -> None:
    policy = policy_with()
    ticket = file_ticket(db, policy, settings, email="anna@lindqvist.example", at=NOW)
    waiting_at = NOW + dt.timedelta(hours=1)
    updates.set_status(
        db,
        policy,
        settings,
        ticket.number,
        "waiting_for_customer",
        "Which mailbox?",
        now=waiting_at,
    )
    first = scan.run(db, policy, now=NOW + dt.timedelta(hours=2))
    assert first.scheduled == 2  # Okafor's plan (ends 31 Jan 2027), the waiting ticket
    assert scan.run(db, policy, now=NOW + dt.timedelta(hours=3)).scheduled == 0  # once
    kinds = Counter(n.kind for n in store.listing(db))
    assert kinds == {"waiting_reminder": 1, "plan_ending": 1}
    # the reminder: three days after the ticket began waiting, to the contact who filed it
    remind_at = waiting_at + dt.timedelta(days=3)
    assert drain.drain_all(db, policy, settings, now=remind_at - dt.timedelta(seconds=1)).sent == 0
    assert drain.drain_all(db, policy, settings, now=remind_at).sent == 1
    [reminder] = sent(db, "notice-waiting_reminder")
    assert reminder.recipient == "anna@lindqvist.example" and ticket.number in reminder.subject
    assert f"https://support.harbor.example/tickets/{ticket.number}?token=" in reminder.body
    # waiting again later: a new reminder; answered before it is due: void, not sent
    updates.set_status(db, policy, settings, ticket.number, "in_progress", "", now=remind_at)
    again = remind_at + dt.timedelta(hours=1)
    updates.set_status(
        db, policy, settings, ticket.number, "waiting_for_customer", "And the error?", now=again
    )
    assert scan.run(db, policy, now=again).scheduled == 1
    updates.set_status(db, policy, settings, ticket.number, "in_progress", "", now=again)
    report = drain.drain_all(db, policy, settings, now=again + dt.timedelta(days=3))
    assert (report.sent, report.void) == (0, 1)
    # the plan's end: 14 days before its last day, to the primary contact
    plan_at = dt.datetime(2027, 1, 17, 0, 0, tzinfo=BERLIN)
    report = drain.drain_all(db, policy, settings, now=plan_at)
    assert report.sent == 1
    [plan] = sent(db, "notice-plan_ending")
    assert plan.recipient == "it@okafor.example"
    assert plan.subject == "Your Priority support plan ends on Sun 31 Jan 2027"
    # the plan was extended: a notice for its new end
    with db.session() as session:
        session.execute(
            update(Account).where(Account.id == "HH-20417").values(plan_ends=dt.date(2027, 9, 30))
        )
    assert scan.run(db, policy, now=plan_at).scheduled == 1
    assert scan.run(db, policy, now=plan_at).scheduled == 0


def test_a_plan_notice_whose_end_moved_before_it_was_due_is_void(
    db: Database, settings: Settings
) -> None:
    policy = policy_with()
    assert scan.run(db, policy, now=NOW).scheduled == 1
    with db.session() as session:
        session.execute(
            update(Account).where(Account.id == "HH-20417").values(plan_ends=dt.date(2027, 3, 31))
        )
    report = drain.drain_all(db, policy, settings, now=dt.datetime(2027, 1, 20, tzinfo=dt.UTC))
    assert (report.sent, report.void) == (0, 1)
    assert scan.run(db, policy, now=dt.datetime(2027, 1, 20, tzinfo=dt.UTC)).scheduled == 1
    assert (
        drain.drain_all(db, policy, settings, now=dt.datetime(2027, 3, 17, tzinfo=dt.UTC)).sent == 1
    )
    [plan] = sent(db, "notice-plan_ending")
    assert "ends on Wed 31 Mar 2027" in plan.subject


# --- exactly once across processes ---------------------------------------------------------

WORKER = [sys.executable, "-m", "tests.support.notice_worker"]


def _resolved_notices(db: Database, n: int) -> list[str]:
    """An incident resolved with ``n`` subscribers (listed contacts of HH-20417 are
    only four, so the rows are scheduled directly): ``n`` notices due at NOW."""
    view = incidents.add(db, title="Mail is slow", services=("email",), author="t", now=NOW)
    recipients = [f"c{i}@okafor.example" for i in range(n)]
    with db.session() as session:
        for email in recipients:
            assert incidents.schedule(
                session,
                key=f"resolved:{view.id}:{email}",
                kind="incident_resolved",
                recipient=email,
                account_id="HH-20417",
                incident_id=view.id,
                now=NOW,
            )
    incidents.resolve(db, view.id, author="t", now=NOW)
    return recipients


def _start(
    database_url: str, policy_file: Path, directory: Path, name: str, *flags: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*WORKER, database_url, str(policy_file), NOW.isoformat(), str(directory), name, *flags],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the worker exited with {process.returncode}"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.02)


def _claimed(directory: Path, name: str) -> list[int]:
    path = directory / f"{name}.claimed"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def _policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text((CONTENT / "policy.yaml").read_text("utf-8") + NOTICES, "utf-8")
    return path


def _each_sent_once(db: Database, recipients: list[str]) -> None:
    with db.session() as session:
        states = Counter(session.scalars(select(Notice.state)))
        mails = Counter(
            session.scalars(
                select(Outbox.recipient).where(Outbox.purpose == "notice-incident_resolved")
            )
        )
    assert states == {"sent": len(recipients)}
    assert mails == dict.fromkeys(recipients, 1)


def test_two_worker_processes_claim_concurrently_and_send_each_notice_once(
    tmp_path: Path,
) -> None:
    with new_database_url("postgresql", tmp_path) as url:
        db = Database(url)
        db.upgrade()
        assert not importer.import_file(db, policy_with(), EXAMPLES / "accounts.yaml").errors
        recipients = _resolved_notices(db, 24)
        policy_file = _policy_file(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        workers = {
            name: _start(url, policy_file, work, name, "--delay", "0.05") for name in ("a", "b")
        }
        for name, process in workers.items():
            _wait_for(work / f"{name}.ready", process)
        (work / "go").touch()
        for process in workers.values():
            assert process.wait(timeout=120) == 0
        a, b = _claimed(work, "a"), _claimed(work, "b")
        # SKIP LOCKED: both worked at once, and no row was held by both
        assert a and b and not set(a) & set(b)
        assert sorted(a + b) == sorted(set(a + b)) and len(a + b) == len(recipients)
        _each_sent_once(db, recipients)
        db.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_a_worker_killed_in_the_middle_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, kind: str
) -> None:
    with new_database_url(kind, tmp_path) as url:
        db = Database(url)
        db.upgrade()
        assert not importer.import_file(db, policy_with(), EXAMPLES / "accounts.yaml").errors
        recipients = _resolved_notices(db, 5)
        policy_file = _policy_file(tmp_path)
        work = tmp_path / "work"
        work.mkdir()
        (work / "go").touch()
        doomed = _start(url, policy_file, work, "doomed", "--hang")
        _wait_for(work / "doomed.hanging", doomed)
        [held] = _claimed(work, "doomed")
        doomed.send_signal(signal.SIGKILL)  # kill -9, its transaction open
        assert doomed.wait(timeout=30) == -signal.SIGKILL
        with db.session() as session:
            assert session.get(Notice, held).state == "scheduled"  # type: ignore[union-attr]
        assert sent(db, "notice-incident_resolved") == []
        # after the restart: everything sent, the killed worker's notice too, each once
        again = _start(url, policy_file, work, "again")
        assert again.wait(timeout=120) == 0
        assert held in _claimed(work, "again")
        _each_sent_once(db, recipients)
        db.dispose()


# --- the command line --------------------------------------------------------------------


def test_notices_by_cli(db: Database, settings: Settings, tmp_path: Path) -> None:
    policy_file = _policy_file(tmp_path)
    env = {
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_POLICY": str(policy_file),
        "PORTAL_SECRET_KEY": "notice-tests",
    }
    runner = CliRunner()
    r = runner.invoke(main, ["notices", "schedule-cancellation", "HH-20417", "web-12"], env=env)
    assert r.exit_code == 0, r.output
    assert (
        "web-12 cancelled after 2026-12-31" in r.output
        and "warning due 2026-12-24 23:00 UTC" in r.output
    )
    listed = runner.invoke(main, ["notices", "list"], env=env).output.splitlines()
    assert [line.split()[5] for line in listed] == ["cancellation_warning", "server_cancellation"]
    cancellation_id = listed[1].split()[0]
    r = runner.invoke(main, ["notices", "reschedule", cancellation_id, "2027-01-31"], env=env)
    assert r.exit_code == 0 and "due 2027-01-31 23:00 UTC" in r.output
    r = runner.invoke(main, ["notices", "cancel", cancellation_id], env=env)
    assert r.exit_code == 0 and r.output.startswith("cancelled ")
    assert runner.invoke(main, ["notices", "list"], env=env).output.strip() == "no notices"
    assert "cancelled" in runner.invoke(main, ["notices", "list", "--all"], env=env).output
    r = runner.invoke(main, ["notices", "cancel", cancellation_id], env=env)
    assert r.exit_code == 1 and "not scheduled" in r.output
    r = runner.invoke(main, ["notices", "schedule-cancellation", "HH-20417", "nope"], env=env)
    assert r.exit_code == 1 and "has no server nope" in r.output
    r = runner.invoke(main, ["notices", "send"], env=env)
    assert r.exit_code == 0 and r.output.strip().endswith("sent, 0 void")
    with db.session() as session:
        assert session.scalar(
            select(Server.billing_ends).where(Server.name == "web-12")
        ) == dt.date(2026, 12, 31)


def test_the_running_portal_sends_due_notices_from_its_outbox_loop(
    settings: Settings, demo_build: Path
) -> None:
    import dataclasses

    from tests.support.apps import running_portal

    with running_portal(dataclasses.replace(settings, build_dir=demo_build)) as app:
        db: Database = app.state.db
        now = dt.datetime.now(dt.UTC)
        view = incidents.add(db, title="Mail is slow", services=("email",), author="t", now=now)
        assert incidents.subscribe(
            db, view.id, account="HH-10234", email="anna@lindqvist.example", now=now
        )
        incidents.resolve(db, view.id, author="t", now=now)
        deadline = time.monotonic() + 30
        while True:
            mails = sent(db, "notice-incident_resolved")
            if mails and mails[0].delivered_at is not None:
                break
            assert time.monotonic() < deadline, "the outbox loop sent nothing"
            time.sleep(0.1)
        assert [m.recipient for m in mails] == ["anna@lindqvist.example"]


# --- a customer's cancellation request schedules it (schedules: cancellation) ------------

RESELLER = EXAMPLES / "hsphere-reseller"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")  # the reseller's zone


def reseller_policy(warning_days: int | None) -> Policy:
    text = (RESELLER / "policy.yaml").read_text("utf-8")
    if warning_days is not None:
        text = text.replace(
            "notices:\n", f"notices:\n  cancellation_warning_days: {warning_days}\n", 1
        )
    policy, problems = parse_policy(text)
    assert policy is not None and problems == [], problems
    return policy


def file_cancellation(
    db: Database,
    policy: Policy,
    settings: Settings,
    account: str,
    email: str,
    server: str,
    *,
    pick: str | None = None,
) -> Ticket:
    """The reseller's server-cancellation request, filed through its filing link."""
    pending_id = secrets.token_urlsafe(16)
    data = {
        "text": "please cancel it",
        "request_type": "server-cancellation",
        "account": account,
        "email": email,
        "tz": "Europe/Paris",
        "details": {"server": server},
        "priority": "standard",
    }
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account,
                email=email,
                data=data,
                client="test",
                listed=True,
                created_at=NOW,
            )
        )
    filing = tickets_filing.file_pending(
        db, policy, settings, pending_id, accepted_now=True, now=NOW, server_pick=pick
    )
    assert filing is not None and filing.ticket is not None, filing and filing.problem
    return filing.ticket


def filed_note(db: Database, ticket: Ticket) -> str:
    with db.session() as session:
        return str(
            session.scalar(
                select(TicketEvent.note).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "filed"
                )
            )
        )


def confirmation(db: Database, ticket: Ticket) -> str:
    [mail] = [m for m in sent(db, "confirmation") if m.ticket_number == ticket.number]
    return mail.body


def audit_rows(db: Database) -> list[str]:
    with db.session() as session:
        query = select(AuditEntry.detail).where(AuditEntry.kind == "cancellation_not_scheduled")
        return list(session.scalars(query.order_by(AuditEntry.id)))


@pytest.mark.parametrize("warning_days", [7, None])
def test_filing_the_resellers_cancellation_request_schedules_it_once(
    database_url: str, settings: Settings, warning_days: int | None
) -> None:
    policy = reseller_policy(warning_days)
    assert policy.request_types["server-cancellation"].schedules == "cancellation"
    db = Database(database_url)
    db.upgrade()
    try:
        assert not importer.import_file(db, policy, RESELLER / "accounts.yaml").errors
        ticket = file_cancellation(
            db, policy, settings, "DS-3002", "ops@larkspur.example", "web-12 (id 4711)"
        )
        # web-12's billing period ends on 15 Jan 2027: cancelled when that day ends in
        # the reseller's zone, warned as many days before as the policy says (if any)
        [cancellation] = store.listing(db, kind="server_cancellation")
        assert cancellation.due_at == dt.datetime(2027, 1, 16, 0, 0, tzinfo=NEW_YORK)
        assert (cancellation.account_id, cancellation.server_id) == ("DS-3002", "4711")
        assert cancellation.ticket_number == ticket.number
        assert cancellation.data["last_day"] == "2027-01-15"
        warnings = store.listing(db, kind="cancellation_warning")
        expected = [] if warning_days is None else [dt.datetime(2027, 1, 9, tzinfo=NEW_YORK)]
        assert [w.due_at for w in warnings] == expected
        # the customer is told the day: in the ticket's history and the confirmation
        said = (
            "web-12 (id 4711) is scheduled to be cancelled automatically: "
            "its last day is Fri 15 Jan 2027"
        )
        assert said in filed_note(db, ticket)
        assert said in confirmation(db, ticket)
        assert ("warned by e-mail on Sat 9 Jan 2027" in filed_note(db, ticket)) == bool(
            warning_days
        )
        assert audit_rows(db) == []
        # a second request about the same server schedules nothing more, and says so
        again = file_cancellation(db, policy, settings, "DS-3002", "dev@larkspur.example", "4711")
        assert [n.id for n in store.listing(db, kind="server_cancellation")] == [cancellation.id]
        assert len(store.listing(db, kind="cancellation_warning")) == len(expected)
        assert "already has a cancellation scheduled: its last day is Fri 15 Jan 2027" in (
            filed_note(db, again)
        )
        assert [f"ticket {again.number}" in row for row in audit_rows(db)] == [True]
        # no server of the account named ("none of these"), or one without a billing
        # period end: nothing scheduled, the customer told, staff see an audit row
        unnamed = file_cancellation(
            db, policy, settings, "DS-3001", "it@kestrel-analytics.example", "ds-999", pick="none"
        )
        assert "No cancellation was scheduled automatically" in confirmation(db, unnamed)
        no_end = file_cancellation(
            db, policy, settings, "DS-3003", "admin@harrowfinch.example", "ds-204"
        )
        assert "no end of the billing period on record for ds-204 (id 2204)" in filed_note(
            db, no_end
        )
        assert len(store.listing(db, kind="server_cancellation")) == 1
        rows = audit_rows(db)
        assert len(rows) == 3
        assert f"ticket {unnamed.number}" in rows[1] and "names none" in rows[1]
        assert f"ticket {no_end.number}" in rows[2] and "billing period end" in rows[2]
    finally:
        db.dispose()
