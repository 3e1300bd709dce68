"""The emergency rule of docs/policy.md, sentence by sentence, on real databases.

Each scenario files requests through the same functions the filing link uses
(``file_pending``), at chosen moments, for accounts of examples/accounts.yaml, and
checks what happened to each emergency claim (``tickets.emergency_outcome``).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy, parse_policy
from kb.policy.engine import first_response_due, gate_emergency
from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Account, Outbox, PendingRequest, Ticket, TicketEvent
from portal.directory import importer as accounts
from portal.incidents import store as incidents
from portal.tickets import updates
from portal.tickets.filing import file_pending
from portal.wizard.flow import Draft, check_details
from tests.support.databases import KINDS, new_database_url
from tests.support.forms import post
from tests.support.paths import CONTENT, EXAMPLES

BERLIN = dt.timezone(dt.timedelta(hours=1))
DAY0 = dt.datetime(2026, 11, 2, 10, 0, tzinfo=BERLIN)  # a Monday; Okafor's plan runs to 2027
OKAFOR = ("HH-20417", "it@okafor.example")  # Priority plan
LINDQVIST = ("HH-10234", "anna@lindqvist.example")  # Standard plan


def demo_policy() -> Policy:
    policy, problems = load_policy(CONTENT / "policy.yaml")
    assert policy is not None and not problems
    return policy


def priority_plan_only() -> Policy:
    """The demo policy with emergency handling only on the Priority plan."""
    text = (CONTENT / "policy.yaml").read_text("utf-8")
    text = text.replace("  priority: blocker\n", "  priority: blocker\n  plans: [priority]\n", 1)
    policy, problems = parse_policy(text)
    assert policy is not None and not problems, problems
    assert policy.emergency is not None and policy.emergency.plans == ("priority",)
    return policy


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with new_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.upgrade()
    report = accounts.import_file(database, demo_policy(), EXAMPLES / "accounts.yaml")
    assert not report.errors
    yield database
    database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        database_url=database_url,
        upload_dir=tmp_path / "uploads",
        secret_key="emergency-tests",
        base_url="https://support.harbor.example/",
        allowed_hosts=("testserver",),
    )


DETAILS = {
    "server-down": {"server": "web-12 (id 4711)", "occurred_at": "2026-11-02T09:40"},
    "web-server-down": {"server": "web-12 (id 4711)", "url": "https://okafor.example/"},
    "mail-server-down": {"server": "web-12 (id 4711)", "error_message": "timeout"},
    "email-not-working": {"mailbox": "info@okafor.example", "error_message": "550"},
}


def file(
    db: Database,
    policy: Policy,
    settings: Settings,
    who: tuple[str, str],
    request_type: str,
    at: dt.datetime,
    *,
    claimed: bool = True,
    priority: str = "high",
) -> Ticket:
    """A reviewed request from a listed contact, filed through its filing link at ``at``."""
    pending_id = secrets.token_urlsafe(16)
    data = {
        "text": "it is all broken",
        "request_type": request_type,
        "account": who[0],
        "email": who[1],
        "tz": "Europe/Berlin",
        "details": DETAILS[request_type],
        "priority": priority,
        "emergency_claimed": claimed,
    }
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=who[0],
                email=who[1],
                data=data,
                client="test",
                listed=True,
                created_at=at,
            )
        )
    filing = file_pending(db, policy, settings, pending_id, accepted_now=True, now=at)
    assert filing is not None and filing.ticket is not None, filing and filing.problem
    return filing.ticket


def outcome(db: Database, number: str) -> tuple[str, str]:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        return ticket.emergency_outcome, ticket.priority


# a step: (day, request type, staff reject it afterwards?, expected outcome, expected priority)
Step = tuple[float, str, bool, str, str]
UPGRADE = (-1.0, "upgrade to priority", False, "", "")
# staff post a known incident about mailboxes (portal.incidents), open from then on
INCIDENT = (-2.0, "incident: mailboxes", False, "", "")

SENTENCES = [
    pytest.param(
        OKAFOR,
        demo_policy,
        [
            (0, "server-down", True, "accepted", "blocker"),
            (1, "web-server-down", True, "accepted", "blocker"),
            (2, "mail-server-down", True, "accepted", "blocker"),
            (3, "server-down", False, "ignored_abuse", "high"),
            (4, "web-server-down", False, "ignored_abuse", "high"),
            # ignored until 30 days after the third claim (day 2): accepted again on day 33
            (31.9, "server-down", False, "ignored_abuse", "high"),
            (33, "server-down", False, "accepted", "blocker"),
        ],
        id="five-trivial-problems-filed-as-an-outage-and-rejected-by-staff-"
        "make-the-flag-ignored-for-30-days",
    ),
    pytest.param(
        OKAFOR,
        demo_policy,
        [
            (0, "email-not-working", False, "rejected_not_emergency", "high"),
            (1, "email-not-working", False, "rejected_not_emergency", "high"),
            (2, "email-not-working", False, "rejected_not_emergency", "high"),
            (10, "server-down", False, "ignored_abuse", "high"),
            (20, "email-not-working", False, "ignored_abuse", "high"),
            (30, "server-down", False, "ignored_abuse", "high"),
            # the claims of days 10, 20 and 30 were ignored, not found false: the period
            # still ends on day 32
            (33, "server-down", False, "accepted", "blocker"),
        ],
        id="a-claim-ignored-under-the-abuse-rule-does-not-extend-the-ignore-period",
    ),
    pytest.param(
        LINDQVIST,
        priority_plan_only,
        [
            (0, "server-down", False, "not_on_plan", "high"),
            (1, "web-server-down", False, "not_on_plan", "high"),
            (2, "server-down", False, "not_on_plan", "high"),
            (3, "mail-server-down", False, "not_on_plan", "high"),
            UPGRADE,
            (4, "server-down", False, "accepted", "blocker"),
        ],
        id="a-claim-on-a-plan-without-emergency-handling-does-not-count-"
        "so-an-upgraded-accounts-first-real-emergency-is-accepted",
    ),
    pytest.param(
        OKAFOR,
        demo_policy,
        [
            (0, "email-not-working", False, "rejected_not_emergency", "high"),
            (1, "email-not-working", False, "rejected_not_emergency", "high"),
            INCIDENT,
            (2, "email-not-working", False, "known_incident", "high"),
            (3, "email-not-working", False, "known_incident", "high"),
            # two claims found false, not three: the flag is not ignored
            (4, "server-down", False, "accepted", "blocker"),
        ],
        id="claims-during-a-matching-known-incident-are-attached-to-it-and-do-not-count",
    ),
]


@pytest.mark.parametrize(("who", "make_policy", "steps"), SENTENCES)
def test_the_abuse_rule(
    db: Database,
    settings: Settings,
    who: tuple[str, str],
    make_policy: Callable[[], Policy],
    steps: list[Step],
) -> None:
    policy = make_policy()
    for day, request_type, staff_rejects, expected, priority in steps:
        if (day, request_type) == UPGRADE[:2]:
            with db.session() as session:
                session.execute(update(Account).where(Account.id == who[0]).values(plan="priority"))
            continue
        if (day, request_type) == INCIDENT[:2]:
            incidents.add(
                db,
                title="Mailboxes do not receive mail",
                services=("mailbox",),
                author="t",
                now=DAY0,
            )
            continue
        at = DAY0 + dt.timedelta(days=day)
        ticket = file(db, policy, settings, who, request_type, at)
        assert outcome(db, ticket.number) == (expected, priority), (day, request_type)
        if staff_rejects:
            updates.reject_emergency(
                db,
                policy,
                settings,
                ticket.number,
                "One site was slow.",
                now=at + dt.timedelta(hours=1),
            )
            assert outcome(db, ticket.number) == ("rejected_by_staff", "high")


def test_staff_rejection_drops_the_priority_recomputes_the_due_time_and_tells_the_customer(
    db: Database, settings: Settings, database_url: str
) -> None:
    policy = demo_policy()
    filed_at = dt.datetime(2026, 11, 21, 3, 0, tzinfo=BERLIN)  # a Saturday night
    ticket = file(db, policy, settings, OKAFOR, "server-down", filed_at, priority="high")
    assert ticket.emergency_outcome == "accepted" and ticket.priority == "blocker"
    assert ticket.due_at == dt.datetime(2026, 11, 21, 4, 0, tzinfo=BERLIN)  # 1 h, 24x7
    env = {
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_SECRET_KEY": "emergency-tests",
        "PORTAL_BASE_URL": "https://support.harbor.example/",
    }
    verb = ["tickets", "reject-emergency", ticket.number, "--note"]
    result = CliRunner().invoke(main, [*verb, "Only one site was slow."], env=env)
    assert result.exit_code == 0, result.output
    # High on Priority: 3 hours of the extended calendar (07:00-22:00), counted from filing
    due = first_response_due(policy, "priority", "high", filed_at)
    assert due.at == dt.datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)
    with db.session() as session:
        stored = session.scalars(select(Ticket).where(Ticket.number == ticket.number)).one()
        assert (stored.priority, stored.emergency_outcome) == ("high", "rejected_by_staff")
        assert not stored.emergency_accepted and stored.due_at == due.at
        event = session.scalars(
            select(TicketEvent).where(
                TicketEvent.ticket_id == stored.id, TicketEvent.kind == "emergency_rejected"
            )
        ).one()
        assert event.author == "staff" and "Only one site was slow." in event.note
        mail = session.scalars(
            select(Outbox).where(
                Outbox.ticket_number == ticket.number, Outbox.purpose == "emergency-rejected"
            )
        ).one()
    assert mail.recipient == OKAFOR[1] and "Not an emergency" in mail.subject
    assert policy.emergency is not None and policy.emergency.definition in mail.body
    assert "Only one site was slow." in mail.body
    assert "handled at High priority" in mail.body
    # written for people in the customer's zone (the year only when it is not this year)
    assert re.search(r"due by Sat 21 Nov(?: 2026)?, 10:00 \(Europe/Berlin\)", mail.body), mail.body
    assert "the emergency mark is ignored for 30 days" in mail.body
    assert f"/tickets/{ticket.number}?token=" in mail.body
    again = CliRunner().invoke(main, [*verb, "twice"], env=env)
    assert again.exit_code != 0 and "not an accepted emergency" in again.output


# --- the emergency priority only through an accepted claim --------------------------------

PRIORITY_SENTENCES = [
    pytest.param(
        "server-down",
        "blocker",
        "",
        "Blocker is for emergencies: tick “This is an emergency”",
        id="the-emergency-priority-cannot-be-chosen-without-the-claim",
    ),
    pytest.param(
        "harborpanel-bug",
        "blocker",
        "",
        "Blocker is kept for emergencies, and “Report a HarborPanel bug” is not one",
        id="nor-on-a-request-type-that-is-never-an-emergency",
    ),
]


@pytest.mark.parametrize(("request_type", "priority", "emergency", "error"), PRIORITY_SENTENCES)
def test_the_emergency_priority_comes_only_with_the_claim(
    request_type: str, priority: str, emergency: str, error: str
) -> None:
    policy = demo_policy()
    draft = Draft(request_type=request_type, tz="Europe/Berlin", plan="priority")
    checked = check_details(policy, draft, {"priority": priority, "emergency": emergency}, now=DAY0)
    assert error in checked.errors.get("priority", "")
    # with the emergency mark the same priority is fine on a type that can be an emergency
    if policy.request_types[request_type].emergency:
        marked = check_details(policy, draft, {"priority": priority, "emergency": "yes"}, now=DAY0)
        assert "priority" not in marked.errors


GATE_SENTENCES = [
    pytest.param(
        "server-down", "blocker", False, 0, "high", id="filed-without-the-claim-it-is-not-blocker"
    ),
    pytest.param(
        "server-down",
        "blocker",
        True,
        3,
        "high",
        id="a-claim-ignored-under-the-abuse-rule-files-at-the-ordinary-priority",
    ),
    pytest.param(
        "harborpanel-bug",
        "blocker",
        True,
        0,
        "medium",
        id="a-claim-refused-by-definition-files-at-the-types-ordinary-default",
    ),
]


@pytest.mark.parametrize(
    ("request_type", "chosen", "claimed", "rejected", "filed_at"), GATE_SENTENCES
)
def test_without_an_accepted_claim_no_emergency_priority_and_no_emergency_calendar(
    request_type: str, chosen: str, claimed: bool, rejected: int, filed_at: str
) -> None:
    policy = demo_policy()
    now = dt.datetime(2026, 11, 21, 3, 0, tzinfo=BERLIN)
    claims = [now - dt.timedelta(days=d + 1) for d in range(rejected)]
    decision = gate_emergency(
        policy, request_type, "priority", chosen, claimed=claimed, rejected_claims=claims, now=now
    )
    assert not decision.accepted and decision.priority == filed_at
    due = first_response_due(
        policy, "priority", decision.priority, now, emergency=decision.accepted
    )
    assert due.calendar.id == "extended"  # not the 24x7 emergency calendar


# --- what the customer is told before filing ----------------------------------------------


@pytest.fixture
def app(settings: Settings, demo_build: Path, db: Database) -> Iterator[Starlette]:
    from dataclasses import replace

    application = create_app(replace(settings, build_dir=demo_build), run_outbox=False)
    with TestClient(application):
        yield application


def _review(app: Starlette, email: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    post(client, "/request", {"text": "the whole server is down"})
    post(
        client,
        "/request/choose",
        {
            "request_type": "server-down",
            "account": OKAFOR[0],
            "email": email,
            "plan": "priority",
            "role": "primary",
            "tz": "Europe/Berlin",
        },
    )
    post(client, "/request/coverage", {})
    details = client.get("/request/details").text
    assert 'value="blocker"' not in details  # not offered: it comes with the emergency mark
    r = post(
        client,
        "/request/details",
        {
            "detail_server": "web-12 (id 4711)",
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": "nothing",
            "priority": "high",
            "emergency": "yes",
        },
    )
    assert r.status_code == 303, r.text
    return client, client.get("/request/review").text


def test_the_review_says_what_filing_will_do_and_the_filing_link_shows_the_decision(
    app: Starlette, db: Database, settings: Settings
) -> None:
    policy = demo_policy()
    now = dt.datetime.now(dt.UTC)
    for days in (3, 2, 1):  # three claims refused by definition: the mark is now ignored
        file(db, policy, settings, OKAFOR, "email-not-working", now - dt.timedelta(days=days))
    client, review = _review(app, OKAFOR[1])
    # the anonymous review cannot know the account's history and must not reveal it:
    # it says the same as for an address that is not listed, and claims no acceptance
    _, stranger = _review(app, "mallory@evil.example")

    def strip(page: str) -> str:
        return re.sub(r'value="[^"]*"|mallory@evil\.example|it@okafor\.example', "", page)

    assert strip(review) == strip(stranger)
    assert "Accepted as an emergency" not in review
    assert "can be an emergency: it will be filed as one, at Blocker priority" in review
    assert "unless the account&#39;s emergency mark is being ignored" in review
    assert "Otherwise it is filed at High priority" in review
    assert "Blocker (emergency), or High if the emergency mark does not stand" in review
    sent = post(client, "/request/review", {})
    assert sent.status_code == 200
    with db.session() as session:
        mail = session.scalars(
            select(Outbox).where(Outbox.recipient == OKAFOR[1], Outbox.purpose == "verify")
        ).one()
    link = re.search(r"https://support\.harbor\.example(/request/confirm\?token=\S+)", mail.body)
    assert link
    confirm = client.get(link.group(1))
    assert confirm.status_code == 200
    # the verified contact learns the decision before filing; filing makes the same one
    assert "The emergency mark is ignored for this account until" in confirm.text
    assert "Priority</dt><dd>High" in confirm.text and "(emergency)" not in confirm.text
    token = link.group(1).split("token=", 1)[1]
    filed = post(client, "/request/confirm", {"token": token})
    number = re.search(r"(T-[0-9A-Z]{4}-[0-9A-Z]{4})", filed.text)
    assert number
    assert outcome(db, number.group(1)) == ("ignored_abuse", "high")
    assert "the account&#39;s emergency mark was being ignored" in filed.text


# --- the migration ------------------------------------------------------------------------

BACKFILL = [
    # (claimed, accepted, the filed event's note, expected outcome)
    (False, False, "", "none"),
    (True, True, "Accepted as an emergency.", "accepted"),
    (
        True,
        False,
        "“A mailbox is not working” is not an emergency. An emergency is …",
        "rejected_not_emergency",
    ),
    (
        True,
        False,
        "The emergency mark is ignored for this account until 20 Dec 2026: …",
        "ignored_abuse",
    ),
    (
        True,
        False,
        "Emergency handling is part of the Priority plan; your request is …",
        "not_on_plan",
    ),
    (
        True,
        False,
        "This provider has no emergency service; filed at normal priority.",
        "not_on_plan",
    ),
]


def test_the_migration_tells_the_outcomes_of_existing_claims_apart(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from portal.db.engine import MIGRATIONS

    database = Database(database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    moment = DAY0.astimezone(dt.UTC)
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, name, plan, created_at, updated_at) "
                "VALUES ('HH-1', 'A', 'priority', :at, :at)"
            ),
            {"at": moment},
        )
        for i, (claimed, accepted, note, _) in enumerate(BACKFILL):
            ticket_id = connection.execute(
                text(
                    "INSERT INTO tickets (number, pending_id, account_id, contact_email, "
                    "contact_name, contact_role, request_type, title, text, plan, "
                    "plan_snapshot, priority, emergency_claimed, emergency_accepted, "
                    "coverage_status, coverage_reason, details, routing, status, created_at, "
                    "updated_at) VALUES (:number, :number, 'HH-1', 'a@b.example', 'A', "
                    "'primary', 'server-down', 'T', 'x', 'priority', '{}', 'high', :claimed, "
                    ":accepted, 'included', 'ok', '{}', 'own', 'open', :at, :at) RETURNING id"
                ),
                {
                    "number": f"T-0000-000{i}",
                    "claimed": claimed,
                    "accepted": accepted,
                    "at": moment,
                },
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO ticket_events (ticket_id, at, kind, status, author, note) "
                    "VALUES (:id, :at, 'filed', 'open', 'customer', :note)"
                ),
                {"id": ticket_id, "at": moment, "note": note},
            )
    database.upgrade()
    with database.session() as session:
        rows = session.execute(
            select(Ticket.number, Ticket.emergency_outcome, Ticket.status_link_version).order_by(
                Ticket.number
            )
        ).all()
    database.dispose()
    assert [(r[1], r[2]) for r in rows] == [(b[3], 0) for b in BACKFILL]
