"""One status link per ticket: issued at filing, expiring after PORTAL_STATUS_MAX_AGE,
never minted again by viewing; a new one only by mail to a listed contact, replacing the
older ones. SQLite and PostgreSQL, a real SMTP server, the outbox worker delivering."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, Outbox, PendingRequest
from portal.tickets import updates
from portal.tickets.filing import file_pending
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.forms import TOKEN, post
from tests.support.mail import MailServer, body
from tests.support.paths import CONTENT

STATUS = re.compile(
    r"https://support\.harbor\.example(/tickets/(T-[0-9A-Z]{4}-[0-9A-Z]{4})\?token=(\S+))"
)
NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")
ANNA = "anna@lindqvist.example"  # primary contact of HH-10234, files the tickets here


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
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        secret_key="status-link-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
        smtp_url=mailserver.url,
        mail_from="support@harbor.example",
        rate_limit_address=(1000, 3600),
        rate_limit_client=(1000, 3600),
        status_max_age=3600,
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings) as application:  # migrations, outbox worker, directory
        yield application


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def file_ticket(app: Starlette, settings: Settings, *, at: dt.datetime | None = None) -> str:
    """A request from Anna filed through its filing link (at ``at``, default now)."""
    pending_id = secrets.token_urlsafe(16)
    data = {
        "text": "my mailbox does not receive mail",
        "request_type": "email-not-working",
        "account": "HH-10234",
        "email": ANNA,
        "tz": "Europe/Berlin",
        "details": {"mailbox": "info@lindqvist.example", "error_message": "550"},
        "priority": "high",
        "emergency_claimed": False,
    }
    now = at or dt.datetime.now(dt.UTC)
    with app.state.db.session() as session:
        session.add(
            PendingRequest(
                id=pending_id,
                account_id="HH-10234",
                email=ANNA,
                data=data,
                client="test",
                listed=True,
                created_at=now,
            )
        )
    policy = app.state.policy.get()
    filing = file_pending(app.state.db, policy, settings, pending_id, accepted_now=False, now=now)
    assert filing is not None and filing.ticket is not None
    app.state.outbox_wake.set()
    return filing.ticket.number


def mail_link(mailserver: MailServer, number: str, subject: str) -> str:
    """The status link in the newest mail to Anna about ``number`` with ``subject``."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in reversed(mailserver.inbox.to(ANNA)):
            if number in str(message["Subject"]) and subject in str(message["Subject"]):
                match = STATUS.search(body(message))
                assert match, body(message)
                return match.group(1)
        time.sleep(0.05)
    raise AssertionError(f"no mail '{subject}' about {number}: {mailserver.inbox.summary()}")


def tokens_in(page: str) -> set[str]:
    return set(re.findall(r'name="token" value="([^"]+)"', page)) | set(
        re.findall(r"\?token=([^\"&\s]+)", page)
    )


def test_the_status_link_expires(
    app: Starlette, settings: Settings, mailserver: MailServer
) -> None:
    issued = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=settings.status_max_age + 60)
    number = file_ticket(app, settings, at=issued)
    link = mail_link(mailserver, number, "A mailbox is not working")
    with TestClient(app) as c:
        page = c.get(link)
    assert page.status_code == 410
    assert "This link has expired." in page.text
    assert f'name="number" type="text" value="{number}"' in page.text  # the form, filled in
    assert "my mailbox does not receive mail" not in page.text


def test_viewing_the_ticket_mints_no_new_token(
    app: Starlette, settings: Settings, mailserver: MailServer, client: TestClient
) -> None:
    post(client, "/request", {"text": "my mailbox does not receive mail"})
    post(
        client,
        "/request/choose",
        {
            "request_type": "email-not-working",
            "account": "HH-10234",
            "email": ANNA,
            "plan": "standard",
            "role": "primary",
            "tz": "Europe/Berlin",
        },
    )
    post(client, "/request/coverage", {})
    r = post(
        client,
        "/request/details",
        {
            "detail_mailbox": "info@lindqvist.example",
            "detail_error_message": "550 mailbox unavailable",
            "detail_occurred_at": "2026-01-05T09:40",
            "detail_doing": "sending a test",
            "priority": "high",
        },
    )
    assert r.status_code == 303, r.text
    before = len(mailserver.inbox.to(ANNA))
    post(client, "/request/review", {})
    verify = mailserver.inbox.wait_for(ANNA, before + 1)[-1]
    filing_link = re.search(r"https://support\.harbor\.example(/\S+)", body(verify))
    assert filing_link and "/request/confirm?token=" in filing_link.group(1)
    filing_token = filing_link.group(1).split("token=", 1)[1]
    filed = post(client, "/request/confirm", {"token": filing_token})
    number_match = NUMBER.search(filed.text)
    assert number_match
    number = number_match.group(0)
    link = mail_link(mailserver, number, "A mailbox is not working")
    issued = link.split("token=", 1)[1]
    assert tokens_in(filed.text) == {issued}  # the page right after filing: the same token
    time.sleep(1.1)  # a token made now would carry another timestamp
    page = client.get(link)
    assert page.status_code == 200 and number in page.text
    assert tokens_in(page.text) == {issued}
    comment = post(client, f"/tickets/{number}/comment", {"token": issued, "text": "more"})
    assert comment.status_code == 200 and tokens_in(comment.text) == {issued}
    # the filing link, opened again or clicked again, shows the ticket but no status token
    for again in (
        client.get(filing_link.group(1)),
        post(client, "/request/confirm", {"token": filing_token}),
    ):
        assert again.status_code == 200 and number in again.text
        assert tokens_in(again.text) == set()
        assert "Mail me a new link" in again.text
    # a mail about the ticket repeats the link issued at filing
    policy = app.state.policy.get()
    updates.set_status(
        app.state.db,
        policy,
        settings,
        number,
        "in_progress",
        "Looking at it.",
        now=dt.datetime.now(dt.UTC),
    )
    app.state.outbox_wake.set()
    assert mail_link(mailserver, number, "In progress") == link


def _ask(client: TestClient, number: str, email: str) -> httpx.Response:
    return post(client, "/tickets/link", {"number": number, "email": email})


def _answer(response: httpx.Response) -> str:
    text = response.text.split("<main", 1)[-1]
    return TOKEN.sub("", text)


def test_a_new_link_replaces_the_older_ones(
    app: Starlette, settings: Settings, mailserver: MailServer, client: TestClient
) -> None:
    number = file_ticket(app, settings)
    first = mail_link(mailserver, number, "A mailbox is not working")
    assert client.get(first).status_code == 200
    forged = client.post("/tickets/link", data={"number": number, "email": ANNA})
    assert forged.status_code == 403  # no CSRF token: nothing counted, nothing sent
    db: Database = app.state.db
    mails_before = len(mailserver.inbox.messages)
    with db.session() as session:
        last_queued = session.scalar(select(func.max(Outbox.id))) or 0
    audit_before = count(db, AuditEntry, AuditEntry.kind == "status_link_refused")
    # the same answer for a stranger, a contact who neither filed it nor administers the
    # account, another account's contact, and a ticket that does not exist
    answers = {
        _answer(_ask(client, number, "mallory@evil.example")),
        _answer(_ask(client, number, "dev@lindqvist.example")),
        _answer(_ask(client, number, "it@okafor.example")),
        _answer(_ask(client, "T-0000-0000", ANNA)).replace("T-0000-0000", number),
    }
    assert count(db, AuditEntry, AuditEntry.kind == "status_link_refused") == audit_before + 4
    asked = _ask(client, number, ANNA.upper())
    assert asked.status_code == 200
    assert answers == {_answer(asked)}
    assert "we have sent it a new link" in asked.text
    second = mail_link(mailserver, number, "A new link to your request")
    assert second != first
    with db.session() as session:  # every mail goes through the outbox: one was queued
        queued = session.scalars(select(Outbox.recipient).where(Outbox.id > last_queued))
        assert list(queued) == [ANNA]
    sent = mailserver.inbox.messages[mails_before:]
    assert [str(m["To"]) for m in sent] == [ANNA]
    old = client.get(first)
    assert old.status_code == 410 and "This link was replaced by a newer one." in old.text
    assert client.get(second).status_code == 200
    token = first.split("token=", 1)[1]
    refused = post(client, f"/tickets/{number}/comment", {"token": token, "text": "x"})
    assert refused.status_code == 404
    # the account's secondary contact may ask too; that link replaces Anna's
    with TestClient(app) as other:
        _ask(other, number, "anna.backup@mail.example")
    backup = mailserver.inbox.wait_for("anna.backup@mail.example")[-1]
    third = STATUS.search(body(backup))
    assert third and third.group(2) == number
    assert client.get(second).status_code == 410
    assert client.get(third.group(1)).status_code == 200


def test_asking_for_links_is_rate_limited_the_same_for_everyone(settings: Settings) -> None:
    # another key: the attempts of the tests above (keyed hashes) do not count here
    limited = replace(settings, rate_limit_address=(2, 3600), secret_key="rate-limit-tests")
    with running_portal(limited) as application:
        number = file_ticket(application, limited)
        with TestClient(application) as c:
            for email in (ANNA, "mallory@evil.example"):
                statuses = [_ask(c, number, email).status_code for _ in range(3)]
                assert statuses == [200, 200, 429], email
            bad = _ask(c, "not a number", "nobody")
            assert bad.status_code == 422
            assert "Enter the ticket number" in bad.text and 'value="nobody"' in bad.text
