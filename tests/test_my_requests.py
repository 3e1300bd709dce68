"""Signed in (#13): the wizard takes plan, role, version, servers and name from the
directory, says who may ask before any detail is typed, files at once and shows the
ticket without a token; "my requests" lists the contact's own requests, or the
account's for the roles that see them all, with information added from there; the
e-mailed status links keep working. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Account, Outbox, Ticket, TicketEvent, Upload
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.forms import post
from tests.support.paths import CONTENT
from tests.support.signin import sign_in
from tests.support.wizard import MAILBOX_DETAILS, png

NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")
ANNA = "anna@lindqvist.example"  # HH-10234, primary
JONAS = "dev@lindqvist.example"  # HH-10234, authorised
CHIDI = "it@okafor.example"  # HH-20417, primary, Priority plan, version 5.4, two servers


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def app(
    database_url: str, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Starlette]:
    settings = Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        secret_key="my-requests-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
        rate_limit_address=(1000, 3600),
        rate_limit_client=(1000, 3600),
    )
    with running_portal(settings, run_outbox=False) as application:
        yield application


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


def signed_in(app: Starlette, db: Database, email: str) -> TestClient:
    client = TestClient(app)
    assert sign_in(client, db, email).status_code == 303
    return client


def file_mailbox_request(client: httpx.Client) -> str:
    """The signed-in wizard for "a mailbox is not working"; returns the ticket number."""
    post(client, "/request", {"text": "my mailbox does not receive mail"})
    r = post(
        client, "/request/choose", {"request_type": "email-not-working", "tz": "Europe/Berlin"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/request/coverage", r.text
    assert post(client, "/request/coverage", {}).status_code == 303
    r = post(client, "/request/details", {**MAILBOX_DETAILS, "priority": "high"})
    assert r.status_code == 303, r.text
    r = post(client, "/request/review", {})
    assert r.status_code == 303, r.text
    match = re.fullmatch(r"/tickets/(T-[0-9A-Z]{4}-[0-9A-Z]{4})\?filed=1", r.headers["location"])
    assert match, r.headers["location"]
    return match.group(1)


def test_the_signed_in_wizard_takes_who_is_asking_from_the_directory(
    app: Starlette, db: Database
) -> None:
    with signed_in(app, db, CHIDI) as client:
        post(client, "/request", {"text": "our web server does not answer at all"})
        choose = client.get("/request/choose")
        for question in ('name="plan"', 'name="role"', 'name="account"', 'name="email"'):
            assert question not in choose.text
        assert "Chidi Okafor" in choose.text and "HH-20417" in choose.text
        assert "until 30 Jun 2027" in choose.text  # the plan and its end
        # whatever a tampered form says, the directory's facts are used
        r = post(
            client,
            "/request/choose",
            {
                "request_type": "server-down",
                "tz": "Europe/Berlin",
                "plan": "standard",
                "role": "authorised",
            },
        )
        assert r.status_code == 303
        coverage = client.get("/request/coverage")
        assert "Covered by your Priority plan" in coverage.text
        assert post(client, "/request/coverage", {}).status_code == 303
        details = client.get("/request/details")
        # the account's servers as a picker
        assert '<select id="f-server" name="detail_server"' in details.text
        assert "<option>web-12 (id 4711)</option>" in details.text
        r = post(
            client,
            "/request/details",
            {
                "detail_server": "db-3 (id 8802)",
                "detail_occurred_at": "2026-01-05T09:40",
                "detail_doing": "nothing answers",
                "priority": "high",
            },
        )
        assert r.status_code == 303, r.text
        review = client.get("/request/review")
        assert "File my request" in review.text and "Priority" in review.text
        before_verify = count(db, Outbox, Outbox.purpose == "verify")
        r = post(client, "/request/review", {})
        assert r.status_code == 303
        number = NUMBER.search(r.headers["location"])
        assert number and r.headers["location"].startswith("/tickets/")
        page = client.get(r.headers["location"])
        assert page.status_code == 200 and "Your request is filed" in page.text
        assert "Add information to this request" in page.text
    assert count(db, Outbox, Outbox.purpose == "verify") == before_verify  # no round trip
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number.group(0))).one()
        assert (ticket.account_id, ticket.contact_email, ticket.contact_role, ticket.plan) == (
            "HH-20417",
            CHIDI,
            "primary",
            "priority",
        )
        assert ticket.routing == "upstream"  # db-3 is the upstream provider's server
    confirmation = count(db, Outbox, Outbox.purpose == "confirmation", Outbox.recipient == CHIDI)
    assert confirmation >= 1


def test_a_role_restricted_type_stops_at_choose_saying_who_may_ask(
    app: Starlette, db: Database
) -> None:
    with signed_in(app, db, JONAS) as client:
        post(client, "/request", {"text": "please add a contact to our account"})
        page = html.unescape(client.get("/request/choose").text)
        who = "Only the account's primary contact or secondary contact may ask for"
        assert who in page  # next to the type, before anything is chosen
        r = post(
            client, "/request/choose", {"request_type": "contact-change", "tz": "Europe/Berlin"}
        )
        assert r.status_code == 422
        text = html.unescape(r.text)
        assert who in text and "Anna Lindqvist (primary contact)" in text
        # nothing moved on: the coverage step is not reachable
        assert client.get("/request/coverage", follow_redirects=False).status_code == 303


def test_my_requests_shows_own_requests_or_the_whole_account(app: Starlette, db: Database) -> None:
    with signed_in(app, db, JONAS) as jonas:
        mine = file_mailbox_request(jonas)
    with signed_in(app, db, ANNA) as anna:
        annas = file_mailbox_request(anna)
        page = anna.get("/requests")
        assert mine in page.text and annas in page.text  # the primary contact sees all
        assert "you see every request of the account" in page.text
        row = re.search(rf'<tr id="t-{annas}">(.*?)</tr>', page.text, re.S)
        assert row and "A mailbox is not working" in row.group(1)
        assert "Open" in row.group(1) and "High" in row.group(1) and "due by" in row.group(1)
        listed = {r["number"] for r in anna.get("/api/me/requests").json()["requests"]}
        assert {mine, annas} <= listed
    with signed_in(app, db, JONAS) as jonas:
        page = jonas.get("/requests")
        assert mine in page.text and annas not in page.text  # only his own
        assert "You see the requests you filed" in page.text
        # the ticket pages follow the same rule, without a token
        assert "Add information to this request" in jonas.get(f"/tickets/{mine}").text
        other = jonas.get(f"/tickets/{annas}")
        assert other.status_code == 404 and "A mailbox is not working" not in other.text
    with signed_in(app, db, CHIDI) as chidi:  # another account sees neither
        page = chidi.get("/requests")
        assert mine not in page.text and annas not in page.text
        assert chidi.get(f"/tickets/{mine}").status_code == 404


def test_information_added_from_my_requests(app: Starlette, db: Database) -> None:
    with signed_in(app, db, "ops1@okafor.example") as client:
        number = file_mailbox_request(client)
        r = post(
            client,
            f"/tickets/{number}/comment",
            {"text": "It works again since 10:00.", "back": "requests"},
        )
        assert r.status_code == 303
        assert r.headers["location"] == f"/requests?sent=comment#t-{number}"
        assert "your information is added" in client.get(r.headers["location"]).text
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        notes = session.scalars(
            select(TicketEvent.note).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "comment"
            )
        )
        assert "It works again since 10:00." in list(notes)
    with TestClient(app) as stranger:  # not signed in: refused, nothing added
        r = post(stranger, f"/tickets/{number}/comment", {"text": "spoofed"})
        assert r.status_code == 404


def test_information_and_a_file_added_from_my_requests_and_the_ticket_page(
    app: Starlette, db: Database
) -> None:
    with signed_in(app, db, "chidi.okafor@mail.example") as client:
        number = file_mailbox_request(client)
        page = client.get("/requests")
        assert 'enctype="multipart/form-data"' in page.text and 'name="file"' in page.text
        r = post(
            client,
            f"/tickets/{number}/comment",
            {"text": "The bounce message:", "back": "requests"},
            files={"file": ("bounce.png", png(), "image/png")},
        )
        assert r.status_code == 303, r.text
        # a file alone is enough; a refused one keeps what was typed and names the problem
        r = post(client, f"/tickets/{number}/comment", {}, files={"file": ("b.png", png())})
        assert r.status_code == 200, r.text
        refused = post(
            client,
            f"/tickets/{number}/comment",
            {"text": "my notes <kept>"},
            files={"file": ("notes.pdf", b"%PDF-1.4 not an image")},
        )
        assert refused.status_code == 422
        assert "Only PNG, JPEG or WebP images" in refused.text
        assert "my notes &lt;kept&gt;</textarea>" in refused.text
        ticket_page = client.get(f"/tickets/{number}")
        assert "Attached: bounce.png" in ticket_page.text  # in the thread
        links = re.findall(
            rf'href="/tickets/{number}/attachments/([^"?]+)\?token=', ticket_page.text
        )
        assert len(links) == 2
        download = client.get(f"/tickets/{number}/attachments/{links[0]}")
        assert download.status_code == 200 and download.content == png()
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        names = sorted(
            session.scalars(select(Upload.filename).where(Upload.ticket_id == ticket.id))
        )
        assert names == ["b.png", "bounce.png"]  # the refused file left nothing


def test_emailed_status_links_keep_working(app: Starlette, db: Database) -> None:
    with signed_in(app, db, "ops2@okafor.example") as client:
        number = file_mailbox_request(client)
    with db.session() as session:
        mail = session.scalars(
            select(Outbox).where(Outbox.ticket_number == number, Outbox.purpose == "confirmation")
        ).first()
        assert mail is not None
    link = re.search(r"https://support\.harbor\.example(/tickets/\S+)", mail.body)
    assert link
    with TestClient(app) as other_browser:  # not signed in
        page = other_browser.get(link.group(1))
        assert page.status_code == 200 and number in page.text
        assert "Add information to this request" in page.text


def test_the_anonymous_wizard_offers_to_sign_in(app: Starlette) -> None:
    with TestClient(app) as client:
        post(client, "/request", {"text": "my mailbox does not receive mail"})
        choose = client.get("/request/choose")
        assert 'name="plan"' in choose.text and "/signin?next=" in choose.text
        assert "Sign in" in choose.text


def test_after_the_plan_ended_choose_shows_the_plan_in_force(app: Starlette, db: Database) -> None:
    """Priority ends into Standard (the demo's when_ended): choose says so, and coverage
    is Standard's."""
    with db.session() as session:
        account = session.get(Account, "HH-20417")
        assert account is not None
        kept, account.plan_ends = account.plan_ends, dt.date.today() - dt.timedelta(days=2)
    try:
        with signed_in(app, db, CHIDI) as client:
            post(client, "/request", {"text": "my mailbox does not receive mail"})
            page = html.unescape(client.get("/request/choose").text)
            assert re.search(r"<dt>Plan</dt><dd>Standard \(your Priority plan ended on ", page)
    finally:
        with db.session() as session:
            account = session.get(Account, "HH-20417")
            assert account is not None
            account.plan_ends = kept
