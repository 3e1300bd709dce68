"""Waivers (#12): on paid work the customer may claim a waiver ("bugs in the two latest
MOR versions are fixed free"); the claim is filed with the ticket but decides nothing
until staff confirm it with ``portal tickets waive``, which makes the ticket included,
records it and mails the customer. Mails state the coverage as the policy does."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from kb.policy.engine import coverage
from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.db.engine import MIGRATIONS, Database
from portal.db.models import Outbox, PendingRequest, Ticket, TicketEvent
from portal.directory import importer as accounts
from portal.tickets.filing import file_pending
from portal.tickets.waivers import WaiverError, confirm_waiver
from portal.wizard.flow import Draft, check_coverage, claimed_waivers, facts
from tests.support.databases import KINDS, new_database_url
from tests.support.forms import post
from tests.support.mail import BASE_URL, MailServer, body, link_in
from tests.support.packs import DURATION
from tests.support.paths import CONTENT, EXAMPLES

KOLMISOFT = EXAMPLES / "kolmisoft" / "policy.yaml"
WAIVER = "bug_in_latest_versions"
WAIVER_TEXT = "the problem is caused by a bug and you run one of the two latest MOR versions"
CUSTOMER = "ops@atlasvoice.example"  # KS-1002, PREMIUM (examples/kolmisoft/accounts.yaml)
# Saturday 28 November 2026, 12:00 UTC: support on working days is closed until Monday
SATURDAY = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
BUG_DETAILS = {
    "detail_product_version": "11",
    "detail_error_message": "segfault in the routing engine",
    "detail_occurred_at": "2026-11-20T10:00",
    "detail_doing": "routing a call to a new DID",
}


def _pack(name: str) -> Policy:
    path = EXAMPLES / name / "policy.yaml"
    if not path.exists():
        pytest.skip("example packs not present")
    loaded, problems = load_policy(path)
    assert loaded is not None and problems == []
    return loaded


# --- the claim in the wizard's rules (pure) ------------------------------------------


@pytest.mark.parametrize(
    ("plan", "request_type", "form", "expected"),
    [
        ("premium", "bug-report", {f"waiver_{WAIVER}": "yes"}, (WAIVER,)),
        ("premium", "bug-report", {}, ()),  # not ticked: no claim
        ("premium", "bug-report", {"waiver_on_our_side": "yes"}, ()),  # not this type's
        ("premium", "problem-help", {f"waiver_{WAIVER}": "yes"}, ()),  # included: nothing
        ("free", "problem-help", {f"waiver_{WAIVER}": "on"}, (WAIVER,)),  # paid on FREE
        ("premium", "linux-support", {f"waiver_{WAIVER}": "yes"}, ()),  # no waivers
    ],
)
def test_only_the_waivers_of_paid_work_can_be_claimed(
    plan: str, request_type: str, form: dict[str, str], expected: tuple[str, ...]
) -> None:
    policy = _pack("kolmisoft")
    draft = Draft(request_type=request_type, plan=plan)
    cov = coverage(policy, request_type, facts(draft))
    assert claimed_waivers(cov, form) == expected
    checked = check_coverage(policy, draft, {**form, "accept_charges": "yes"})
    assert checked.ok and checked.draft.waivers == expected
    # a claim is not a decision: the coverage is what it was
    assert coverage(policy, request_type, facts(checked.draft)).status == cov.status


def test_drafts_stored_before_claims_existed_still_load() -> None:
    assert Draft.from_json({"text": "old draft", "accepted": "x"}).waivers == ()
    assert Draft.from_json({"waivers": "bug"}).waivers == ()  # tampered: read as empty
    assert Draft.from_json({"waivers": [WAIVER, 3]}).waivers == (WAIVER,)
    assert Draft(waivers=(WAIVER,)).to_json()["waivers"] == [WAIVER]


# --- end to end: the wizard, filing, the verb, the mail ------------------------------


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
def env(
    database_url: str,
    demo_build: Path,
    mailserver: MailServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """The settings of the portal and of the ``portal`` command, as the environment."""
    return {
        "PORTAL_POLICY": str(KOLMISOFT),
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_BUILD_DIR": str(demo_build),
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        "PORTAL_SECRET_KEY": "waiver-tests",
        "PORTAL_BASE_URL": BASE_URL + "/",
        "PORTAL_SMTP_URL": mailserver.url,
        "PORTAL_HELPDESK_EMAIL": "helpdesk@kolmisoft.example",
    }


@pytest.fixture(scope="module")
def app(env: dict[str, str]) -> Iterator[Starlette]:
    if not KOLMISOFT.exists():
        pytest.skip("example packs not present")
    settings = Settings.from_env(
        policy_file=KOLMISOFT,
        content_dir=CONTENT,
        build_dir=Path(env["PORTAL_BUILD_DIR"]),
        database_url=env["PORTAL_DATABASE_URL"],
        upload_dir=Path(env["PORTAL_UPLOAD_DIR"]),
        secret_key=env["PORTAL_SECRET_KEY"],
        allowed_hosts=("testserver",),
        base_url=env["PORTAL_BASE_URL"],
        smtp_url=env["PORTAL_SMTP_URL"],
        helpdesk_email=env["PORTAL_HELPDESK_EMAIL"],
    )
    application = create_app(settings)
    with TestClient(application):
        policy = application.state.policy.get()
        report = accounts.import_file(
            application.state.db, policy, EXAMPLES / "kolmisoft" / "accounts.yaml"
        )
        assert not report.errors, report.errors
        yield application


def _portal(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return CliRunner().invoke(main, list(args))


def test_a_claim_is_filed_then_confirmed_and_the_customer_told(
    app: Starlette,
    env: dict[str, str],
    mailserver: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db: Database = app.state.db
    with TestClient(app) as client:
        post(client, "/request", {"text": "MOR crashes with a bug when routing calls"})
        chosen = post(
            client,
            "/request/choose",
            {
                "request_type": "bug-report",
                "account": "KS-1002",
                "email": CUSTOMER,
                "plan": "premium",
                "version": "11",
                "tz": "Europe/Vilnius",
            },
        )
        assert chosen.status_code == 303, chosen.text
        page = client.get("/request/coverage").text
        assert f'<label for="f-waiver_{WAIVER}">I believe this applies: {WAIVER_TEXT}</label>' in (
            page
        )
        assert 'type="checkbox" id="f-waiver_' in page  # a plain checkbox: no script needed
        # the charges not accepted: the error keeps the box the customer ticked
        missing = post(client, "/request/coverage", {f"waiver_{WAIVER}": "yes"})
        assert missing.status_code == 422
        assert re.search(rf'id="f-waiver_{WAIVER}"[^>]* checked', missing.text)
        accepted = post(
            client, "/request/coverage", {f"waiver_{WAIVER}": "yes", "accept_charges": "yes"}
        )
        assert accepted.status_code == 303, accepted.text
        details = post(client, "/request/details", {**BUG_DETAILS, "priority": "medium"})
        assert details.status_code == 303, details.text
        review = client.get("/request/review").text
        assert f"You claim: {WAIVER_TEXT} — staff will confirm" in review
        assert "until then the request is treated as paid work" in review
        before = len(mailserver.inbox.to(CUSTOMER))
        assert "Check your email" in post(client, "/request/review", {}).text
        link = link_in(mailserver.inbox.wait_for(CUSTOMER, before + 1)[-1])
        # the filing link's page shows the type's note and the claim, as the review did
        confirm_page = html.unescape(client.get(link).text)
        assert f"You claim: {WAIVER_TEXT} — staff will confirm" in confirm_page
        assert "until then the request is treated as paid work" in confirm_page
        note = app.state.policy.get().request_types["bug-report"].note
        assert note and note in confirm_page
        filed = post(client, "/request/confirm", {"token": link.split("token=", 1)[1]})
        assert filed.status_code == 200, filed.text
        number = re.findall(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}", filed.text)[0]

        with db.session() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
            assert ticket.waivers_claimed == [{"id": WAIVER, "text": WAIVER_TEXT}]
            assert ticket.coverage_status == "paid" and ticket.waiver_confirmed is None
            kinds = session.scalars(
                select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
            ).all()
            assert "waiver_claimed" in kinds
        confirmation = body(mailserver.inbox.wait_for(CUSTOMER, before + 2)[-1])
        assert "Coverage: paid" in confirmation.splitlines()
        assert "Accepted estimate: €100.00 per hour" in confirmation
        assert f"You claim: {WAIVER_TEXT} — staff will confirm" in confirmation
        status_link = link_in(mailserver.inbox.wait_for(CUSTOMER, before + 2)[-1])
        status = client.get(status_link).text
        assert f"You claim: {WAIVER_TEXT}" in status and "No charge applies" not in status

        shown = _portal(env, monkeypatch, "tickets", "show", number)
        assert shown.exit_code == 0, shown.output
        assert f"claimed:      {WAIVER}: {WAIVER_TEXT}" in shown.output
        waived = _portal(
            env, monkeypatch, "tickets", "waive", number, "--note", "Fixed in 11.2.", "--json"
        )
        assert waived.exit_code == 0, waived.output
        answer = json.loads(waived.output)
        assert answer["coverage"] == {
            "status": "included",
            "reason": f"included (waived: {WAIVER_TEXT})",
        }
        assert answer["estimate"] is None and answer["waiver"]["id"] == WAIVER
        again = _portal(env, monkeypatch, "tickets", "waive", number)
        assert again.exit_code == 1 and "already confirmed" in again.output

        as_json = json.loads(_portal(env, monkeypatch, "tickets", "show", number, "--json").output)
        assert as_json["waivers"]["claimed"] == [{"id": WAIVER, "text": WAIVER_TEXT}]
        assert as_json["waivers"]["confirmed"]["note"] == "Fixed in 11.2."
        assert as_json["coverage"]["estimate"] is None
        assert "waiver_confirmed" in [e["kind"] for e in as_json["events"]]
        with db.session() as session:
            queued = session.scalars(
                select(Outbox).where(Outbox.ticket_number == number, Outbox.purpose == "waiver")
            ).one()
            assert queued.recipient == CUSTOMER
        delivered = _portal(env, monkeypatch, "tickets", "outbox", "--deliver")
        assert delivered.exit_code == 0, delivered.output
        mail = mailserver.inbox.wait_for(CUSTOMER, before + 3)[-1]
        assert str(mail["Subject"]) == f"[{number}] No charge: Report a bug in MOR"
        text_of_mail = body(mail)
        assert WAIVER_TEXT in text_of_mail and "no charge applies" in text_of_mail
        assert "Fixed in 11.2." in text_of_mail
        status = client.get(status_link).text
        assert f"No charge applies: our staff confirmed that {WAIVER_TEXT}." in status
        assert f"included (waived: {WAIVER_TEXT})" in status


# --- what the mails say about coverage and time, per pack ----------------------------

MAIL_CASES = [
    pytest.param(
        "kolmisoft",
        "KS-1002",
        CUSTOMER,
        "bug-report",
        (WAIVER,),
        [
            "Coverage: paid",
            "Accepted estimate: €100.00 per hour; the total depends on the time the work takes",
            f"You claim: {WAIVER_TEXT} — staff will confirm; until then the request is "
            "treated as paid work.",
        ],
        ["priced on request"],
        id="kolmisoft-paid-with-rate-and-a-claim",
    ),
    pytest.param(
        "kolmisoft",
        "KS-1002",
        CUSTOMER,
        "linux-support",
        (WAIVER,),  # not a waiver of this type: nothing is claimed
        ["Coverage: priced on request: you get a quote before any work starts"],
        ["Accepted estimate", "You claim", "€"],
        id="kolmisoft-quote-required",
    ),
    pytest.param(
        "kolmisoft",
        "KS-1004",
        "tech@sunrisevoip.example",
        "problem-help",
        (),
        [
            "Coverage: paid",
            "Accepted estimate: €100.00 per hour; the total depends on the time the work takes",
        ],
        ["First response due", "You claim"],
        id="kolmisoft-free-plan-no-due-time",
    ),
    pytest.param(
        "hsphere",
        "HS-10021",
        "admin@bluefin-hosting.example",
        "general-support",
        (),
        ["Coverage: included"],
        ["First response due", "Accepted estimate", "You claim"],
        id="hsphere-regular-included-no-due-time",
    ),
    pytest.param(
        "hsphere",
        "HS-10021",
        "admin@bluefin-hosting.example",
        "server-recovery",
        (),
        ["Coverage: priced on request: you get a quote before any work starts"],
        ["Accepted estimate", "$", "USD"],
        id="hsphere-quote-required-no-due-time",
    ),
]


@pytest.mark.parametrize(
    ("pack", "account", "email", "request_type", "claims", "says", "never"), MAIL_CASES
)
def test_the_mails_state_coverage_and_time_as_the_policy_does(
    tmp_path: Path,
    pack: str,
    account: str,
    email: str,
    request_type: str,
    claims: tuple[str, ...],
    says: list[str],
    never: list[str],
) -> None:
    policy = _pack(pack)
    db = Database(f"sqlite:///{tmp_path}/portal.db")
    db.upgrade()
    report = accounts.import_file(db, policy, EXAMPLES / pack / "accounts.yaml")
    assert report.errors == []
    settings = Settings.from_env(
        content_dir=EXAMPLES / pack,
        policy_file=EXAMPLES / pack / "policy.yaml",
        build_dir=tmp_path / "build",
        database_url=db.url,
        secret_key="s",
        base_url="https://support.example/",
        helpdesk_email="helpdesk@example.com",
    )
    rt = policy.request_types[request_type]
    pending_id = secrets.token_urlsafe(16)
    with db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=account,
                email=email,
                data={
                    "text": "please help",
                    "request_type": request_type,
                    "account": account,
                    "email": email,
                    "tz": "Europe/Berlin",
                    "details": {},
                    "priority": rt.default_priority or rt.priorities[-1],
                    "waivers": list(claims),
                },
                client="test",
                listed=True,
                created_at=SATURDAY,
            )
        )
    filed = file_pending(db, policy, settings, pending_id, accepted_now=True, now=SATURDAY)
    assert filed is not None and filed.ticket is not None, filed and filed.problem
    assert filed.due is not None
    with db.session() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.ticket_number == filed.ticket.number)
        ).all()
    mails = {row.purpose: row.body for row in rows}
    db.dispose()
    summary = mails["helpdesk"]  # the summary alone (the customer's mail adds a link)
    assert summary in mails["confirmation"]
    lines = summary.splitlines()
    for line in says:
        assert line in lines, (line, summary)
    for words in never:
        assert words not in summary, (words, summary)
    if filed.due.at is None:  # the plan promises no time: its words and the next opening
        words = filed.due.describe()
        assert f"First response: {words}" in lines
        opens = filed.due.opens_at
        if opens is None:  # the policy publishes no hours (kolmisoft's "working hours")
            assert not any(line.startswith("Support next opens") for line in lines)
        else:
            assert opens > SATURDAY
            local = opens.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Berlin, November
            # people-readable (portal.timefmt): no year when it is the year of filing
            assert f"Support next opens: {local:%a %-d %b, %H:%M} (Europe/Berlin)" in lines
        # no duration other than the policy's own words
        assert not DURATION.search(summary.replace(words, "")), summary
    else:
        assert any(line.startswith("First response due: ") for line in lines)


def test_staff_can_confirm_only_what_can_be_waived(tmp_path: Path) -> None:
    policy = _pack("kolmisoft")
    db = Database(f"sqlite:///{tmp_path}/portal.db")
    db.upgrade()
    assert accounts.import_file(db, policy, EXAMPLES / "kolmisoft" / "accounts.yaml").errors == []
    settings = Settings.from_env(
        content_dir=EXAMPLES / "kolmisoft",
        policy_file=KOLMISOFT,
        build_dir=tmp_path / "build",
        database_url=db.url,
        secret_key="s",
        base_url="https://support.example/",
    )

    def file(request_type: str, waivers: list[str]) -> str:
        pending_id = secrets.token_urlsafe(16)
        with db.session() as session:
            session.add(
                PendingRequest(
                    id=pending_id,
                    account_id="KS-1002",
                    email=CUSTOMER,
                    data={
                        "text": "x",
                        "request_type": request_type,
                        "account": "KS-1002",
                        "email": CUSTOMER,
                        "details": {},
                        "priority": "medium",
                        "waivers": waivers,
                    },
                    client="test",
                    listed=True,
                    created_at=SATURDAY,
                )
            )
        filed = file_pending(db, policy, settings, pending_id, accepted_now=True, now=SATURDAY)
        assert filed is not None and filed.ticket is not None
        return filed.ticket.number

    included = file("problem-help", [WAIVER])
    with pytest.raises(WaiverError, match="not paid work"):
        confirm_waiver(db, policy, settings, included, now=SATURDAY)
    unclaimed = file("bug-report", [])
    with pytest.raises(WaiverError, match=f"claimed no waiver.*{WAIVER}"):
        confirm_waiver(db, policy, settings, unclaimed, now=SATURDAY)
    with pytest.raises(WaiverError, match="no waiver 'on_our_side'"):
        confirm_waiver(db, policy, settings, unclaimed, waiver_id="on_our_side", now=SATURDAY)
    with pytest.raises(LookupError):
        confirm_waiver(db, policy, settings, "T-0000-0000", now=SATURDAY)
    # staff may confirm a waiver of the type that the customer did not tick
    ticket = confirm_waiver(
        db, policy, settings, unclaimed, waiver_id=WAIVER, by="staff (eve)", now=SATURDAY
    )
    assert ticket.coverage_status == "included" and ticket.estimate is None
    assert ticket.waiver_confirmed_by == "staff (eve)"
    assert ticket.waiver_confirmed_at == SATURDAY
    db.dispose()


# --- the migration ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_migration_gives_existing_tickets_no_claim(kind: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    with new_database_url(kind, tmp_path) as url:
        database = Database(url)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0003")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, name, plan, created_at, updated_at) "
                    "VALUES ('KS-1', 'A', 'premium', :at, :at)"
                ),
                {"at": SATURDAY},
            )
            connection.execute(
                text(
                    "INSERT INTO tickets (number, pending_id, account_id, contact_email, "
                    "contact_name, contact_role, request_type, title, text, plan, "
                    "plan_snapshot, priority, emergency_claimed, emergency_accepted, "
                    "emergency_outcome, coverage_status, coverage_reason, details, routing, "
                    "status, created_at, updated_at, status_link_version) VALUES "
                    "('T-0000-0001', 'p', 'KS-1', 'a@b.example', 'A', 'contact', "
                    "'bug-report', 'T', 'x', 'premium', '{}', 'medium', false, false, 'none', "
                    "'paid', 'Billable work.', '{}', 'own', 'open', :at, :at, 0)"
                ),
                {"at": SATURDAY},
            )
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        with database.engine.begin() as connection:
            row = connection.execute(
                text(
                    "SELECT waivers_claimed, waiver_confirmed, waiver_confirmed_by, "
                    "waiver_confirmed_at, waiver_note FROM tickets"
                )
            ).one()
        database.dispose()
    claimed = row[0] if isinstance(row[0], list) else json.loads(row[0])
    assert claimed == [] and tuple(row[1:]) == (None, None, None, None)
