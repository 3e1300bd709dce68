"""Filing tickets end to end, against SQLite and PostgreSQL, with a real SMTP server
and a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.app import create_app
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, Outbox, PendingRequest, Ticket
from portal.directory import importer as accounts
from portal.tickets import tokens, updates
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, kind_of, new_database_url
from tests.support.forms import post
from tests.support.mail import MailServer, body, link_in
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import free_port
from tests.support.webhooks import WebhookReceiver
from tests.support.wizard import png, prepare_request

NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def mailserver(database_url: str) -> Iterator[MailServer]:
    """One inbox per database run, so the two runs never see each other's mail."""
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


def number_in(page: str) -> str:
    match = NUMBER.search(page)
    assert match, page
    return match.group(0)


@pytest.fixture(scope="module")
def settings(
    database_url: str,
    demo_build: Path,
    mailserver: MailServer,
    webhook: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        secret_key="ticket-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
        smtp_url=mailserver.url,
        mail_from="support@harbor.example",
        helpdesk_email="helpdesk@harbor.example",
        helpdesk_webhook=webhook.url,
        webhook_secret="hook-secret",
        upstream_email="noc@upstream.example",
        rate_limit_address=(3, 3600),
        rate_limit_client=(1000, 3600),
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings) as application:  # migrations, outbox worker, directory
        yield application


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


@pytest.fixture
def own_db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """A database of this run's kind for one test alone, migrated."""
    with new_database_url(kind_of(database_url), tmp_path) as url:
        database = Database(url)
        database.upgrade()
        yield database
        database.dispose()


def test_listed_contact_files_exactly_once(
    client: TestClient, db: Database, mailserver: MailServer
) -> None:
    before = len(mailserver.inbox.to("anna@lindqvist.example"))
    tickets_before = count(db, Ticket)
    page = prepare_request(client)
    assert "Check your email" in page.text
    mail = mailserver.inbox.wait_for("anna@lindqvist.example", before + 1)[-1]
    assert "Confirm your support request" in str(mail["Subject"])
    link = link_in(mail)
    assert link.startswith("/request/confirm?token=")
    assert count(db, Ticket) == tickets_before  # nothing filed before the link is used
    confirm = client.get(link)
    assert confirm.status_code == 200 and "File my request" in confirm.text
    assert count(db, Ticket) == tickets_before  # GET files nothing (mail scanners)
    token = link.split("token=", 1)[1]
    filed = post(client, "/request/confirm", {"token": token})
    assert filed.status_code == 200
    number = number_in(filed.text)
    assert "Your request is filed" in filed.text
    assert "Included in your Standard plan" in filed.text
    assert "First response" in filed.text
    again = post(client, "/request/confirm", {"token": token})
    assert number in again.text and "Your request is filed" not in again.text
    assert count(db, Ticket) == tickets_before + 1
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.plan_snapshot["name"] == "Standard"
        assert ticket.priority == "high" and ticket.status == "open"
        assert ticket.due_at is not None
        assert ticket.details["Exact error message"] == "550 mailbox unavailable"
    confirmation = mailserver.inbox.wait_for("anna@lindqvist.example", before + 2)[-1]
    assert number in str(confirmation["Subject"])
    status_url = link_in(confirmation)
    status = client.get(status_url)
    assert status.status_code == 200 and number in status.text and "Filed" in status.text
    helpdesk = mailserver.inbox.wait_for("helpdesk@harbor.example")
    assert any(number in str(m["Subject"]) for m in helpdesk)


def test_unlisted_sender_gets_the_same_answer_and_nothing_else(
    client: TestClient, db: Database, mailserver: MailServer
) -> None:
    def strip(page: str) -> str:
        return re.sub(r"<strong>[^<]*</strong>|name=\"csrf_token\" value=\"[^\"]*\"", "", page)

    to_listed = Outbox.recipient == "dev@lindqvist.example"
    queued_before, listed_before = count(db, Outbox), count(db, Outbox, to_listed)
    listed = prepare_request(client, email="dev@lindqvist.example", role="authorised").text
    unlisted = prepare_request(client, email="mallory@evil.example").text
    assert strip(listed) == strip(unlisted)
    # every mail is queued in the outbox in the transaction of the request that sends
    # it: the listed contact's filing link is the one mail queued, none will reach mallory
    assert count(db, Outbox) == queued_before + 1
    assert count(db, Outbox, to_listed) == listed_before + 1
    assert count(db, Outbox, Outbox.recipient == "mallory@evil.example") == 0
    assert mailserver.inbox.to("mallory@evil.example") == []
    assert count(db, AuditEntry, AuditEntry.email == "mallory@evil.example") == 1


def test_restricted_request_from_an_authorised_contact_is_refused(
    client: TestClient, db: Database, mailserver: MailServer
) -> None:
    refused = (AuditEntry.kind == "role_refused", AuditEntry.email == "ops1@okafor.example")
    refused_before = count(db, AuditEntry, *refused)
    page = prepare_request(
        client,
        email="ops1@okafor.example",
        account="HH-20417",
        plan="priority",
        role="primary",  # claims a role the directory does not give
        request_type="password-reset",
        details={"detail_description": "lost it"},
    )
    assert "Check your email" in page.text
    mail = mailserver.inbox.wait_for("ops1@okafor.example")[-1]
    assert "needs another contact" in str(mail["Subject"])
    assert "confirm?token" not in body(mail)
    assert count(db, AuditEntry, *refused) == refused_before + 1


def test_tokens_expire_are_purpose_bound_and_tamper_proof(
    client: TestClient, settings: Settings
) -> None:
    secret = settings.secret_key
    bad = client.get("/request/confirm?token=" + tokens.make(secret, tokens.TICKET_STATUS, "x"))
    assert bad.status_code == 400
    forged = tokens.make("another-secret", tokens.FILE_REQUEST, "x")
    assert client.get("/request/confirm?token=" + forged).status_code == 400
    real = tokens.make(secret, tokens.FILE_REQUEST, "does-not-exist")
    assert client.get("/request/confirm?token=" + real[:-2] + "xx").status_code == 400
    with pytest.raises(tokens.TokenError) as info:
        tokens.read(secret, tokens.FILE_REQUEST, real, max_age=-1)
    assert info.value.expired
    # a status link for one ticket does not open another
    status = tokens.make(secret, tokens.TICKET_STATUS, "T-AAAA-AAAA")
    assert client.get(f"/tickets/T-BBBB-BBBB?token={status}").status_code == 404


def test_expired_link_files_nothing(settings: Settings) -> None:
    from dataclasses import replace

    short = replace(settings, verify_max_age=1)
    expired_app = create_app(short, run_outbox=False)
    with TestClient(expired_app) as c:
        token = tokens.make(settings.secret_key, tokens.FILE_REQUEST, "whatever")
        time.sleep(2.1)
        response = c.get("/request/confirm?token=" + token)
        assert response.status_code == 410
        assert "expired" in response.text


def test_links_come_from_base_url_not_the_host_header(
    client: TestClient, mailserver: MailServer
) -> None:
    before = len(mailserver.inbox.to("anna.backup@mail.example"))
    client.headers["X-Forwarded-Host"] = "evil.example"
    try:
        prepare_request(client, email="anna.backup@mail.example", role="secondary")
    finally:
        del client.headers["X-Forwarded-Host"]
    mail = mailserver.inbox.wait_for("anna.backup@mail.example", before + 1)[-1]
    assert "https://support.harbor.example/request/confirm?token=" in body(mail)
    assert "evil.example" not in body(mail)


def test_verification_mail_is_rate_limited_per_address(
    client: TestClient, db: Database, mailserver: MailServer
) -> None:
    address = "it@okafor.example"
    verify = (Outbox.recipient == address, Outbox.purpose == "verify")
    queued_before = count(db, Outbox, *verify)
    received_before = len(mailserver.inbox.to(address))
    codes = [
        prepare_request(client, email=address, account="HH-20417", plan="priority").status_code
        for _ in range(4)
    ]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    assert count(db, Outbox, *verify) == queued_before + 3  # the throttled one queued none
    assert len(mailserver.inbox.wait_for(address, received_before + 3)) == received_before + 3


def test_status_change_emails_the_customer_and_feedback_reaches_the_supervisor(
    client: TestClient, app: Starlette, db: Database, settings: Settings, mailserver: MailServer
) -> None:
    import datetime as dt

    prepare_request(
        client, email="ops2@okafor.example", account="HH-20417", plan="priority", role="authorised"
    )
    mail = mailserver.inbox.wait_for("ops2@okafor.example")[-1]
    token = link_in(mail).split("token=", 1)[1]
    filed = post(client, "/request/confirm", {"token": token})
    number = number_in(filed.text)
    policy = app.state.policy.get()
    updates.set_status(
        db,
        policy,
        settings,
        number,
        "waiting_for_customer",
        "Which mailbox?",
        now=dt.datetime.now(dt.UTC),
    )
    update = mailserver.inbox.wait_for("ops2@okafor.example", 3)[-1]
    assert "Waiting for you" in str(update["Subject"]) and "Which mailbox?" in body(update)
    status_url = link_in(update)
    page_token = status_url.split("token=", 1)[1]
    r = post(
        client,
        f"/tickets/{number}/comment",
        {"token": page_token, "text": "info@rivera.example <script>x</script>"},
    )
    assert r.status_code == 200
    assert "&lt;script&gt;" in r.text and "<script>x" not in r.text
    r = post(client, f"/tickets/{number}/complaint", {"token": page_token, "text": "Too slow"})
    assert r.status_code == 200
    supervisor = mailserver.inbox.wait_for("complaints@harbor.example")[-1]
    assert number in str(supervisor["Subject"]) and "Too slow" in body(supervisor)
    forged = post(client, f"/tickets/{number}/comment", {"token": "nope", "text": "x"})
    assert forged.status_code == 404


def test_webhook_is_signed_and_upstream_requests_are_forwarded(
    client: TestClient, mailserver: MailServer, webhook: WebhookReceiver
) -> None:
    prepare_request(
        client,
        email="chidi.okafor@mail.example",
        account="HH-20417",
        plan="priority",
        role="secondary",
        request_type="server-reboot",
        priority="medium",
        details={"detail_server": "db-3 (id 8802)", "detail_description": "stuck"},
    )
    mail = mailserver.inbox.wait_for("chidi.okafor@mail.example")[-1]
    filed = post(client, "/request/confirm", {"token": link_in(mail).split("token=", 1)[1]})
    number = number_in(filed.text)
    upstream = mailserver.inbox.wait_for("noc@upstream.example")[-1]
    assert "db-3" in str(upstream["Subject"]) and "8802" in body(upstream)
    headers, payload = webhook.wait_for(lambda delivery: number.encode() in delivery[1])
    expected = "sha256=" + hmac.new(b"hook-secret", payload, hashlib.sha256).hexdigest()
    assert headers["X-Portal-Signature"] == expected
    data = json.loads(payload)
    assert data["routing"] == {"kind": "upstream", "server": "db-3", "server_id": "8802"}


def test_api_requests(client: TestClient, mailserver: MailServer) -> None:
    before = len(mailserver.inbox.to("dev@lindqvist.example"))
    payload = {
        "text": "site shows an error",
        "request_type": "website-not-loading",
        "account": "HH-10234",
        "email": "dev@lindqvist.example",
        "plan": "standard",
        "role": "authorised",
        "priority": "high",
        "details": {
            "url": "https://lindqvist.example/",
            "error_message": "500",
            "occurred_at": "2026-01-05T09:40",
            "doing": "opening it",
        },
    }
    r = client.post("/api/requests", json=payload)
    assert r.status_code == 202, r.text
    assert "If this address is listed" in r.json()["message"]
    mailserver.inbox.wait_for("dev@lindqvist.example", before + 1)
    bad = client.post("/api/requests", json={**payload, "details": {}, "priority": "blocker"})
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"url", "error_message", "occurred_at", "doing", "priority"}
    paid = client.post("/api/requests", json={**payload, "request_type": "script-help"})
    assert paid.status_code == 422 and "accept_charges" in paid.json()["fields"]
    assert (
        client.post(
            "/api/requests", content=b"x", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )


def test_pending_requests_store_no_raw_client_address(db: Database) -> None:
    with db.session() as session:
        clients = session.scalars(select(PendingRequest.client)).all()
    assert clients and all(re.fullmatch(r"[0-9a-f]{32}", c) for c in clients)


def test_outbox_retries_until_the_mail_server_accepts(own_db: Database) -> None:
    import datetime as dt

    from portal.notify.transport import SmtpMailer
    from portal.tickets import outbox

    port = free_port()
    with own_db.session() as session:
        outbox.enqueue_email(session, "retry@example.com", "Hello", "Body", purpose="test")
    deliverer = outbox.Deliverer(
        own_db,
        SmtpMailer(f"smtp://127.0.0.1:{port}", timeout=2),
        sender="s@example.com",
        webhook_secret="x",
    )
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    first = deliverer.deliver_due(now)
    assert (first.failed, first.delivered) == (1, 0)
    with own_db.session() as session:
        row = session.scalars(select(Outbox).where(Outbox.recipient == "retry@example.com")).one()
        assert row.attempts == 1 and row.delivered_at is None and row.last_error
        assert row.next_attempt_at > now
    server = MailServer(port).start()
    try:
        later = now + dt.timedelta(seconds=outbox.BASE_DELAY + 1)
        second = deliverer.deliver_due(later)
        assert (second.failed, second.delivered) == (0, 1)
        assert server.inbox.wait_for("retry@example.com")
    finally:
        server.stop()


def test_accounts_import_rejects_bad_files_whole(
    app: Starlette, db: Database, tmp_path: Path
) -> None:
    policy = app.state.policy.get()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "account_id,account_name,plan,plan_ends,product_version,contact_email,contact_name,contact_role,servers\n"
        "HH-90001,New Co,standard,,,a@new.example,A,primary,\n"
        "HH-90001,New Co,standard,,,b@new.example,B,primary,\n"
        "HH-90002,Other,gold,,,not-an-email,C,king,\n"
    )
    report = accounts.import_file(db, policy, bad)
    joined = "\n".join(report.errors)
    assert "line 2: 2 primary contacts; at most 1 allowed" in joined
    assert "line 4: unknown plan 'gold'" in joined
    assert "line 4: 'not-an-email' is not an email address" in joined
    assert "line 4: unknown role 'king'" in joined
    assert accounts.find_sender(db, "HH-90001", "a@new.example") is None  # nothing imported
    again = accounts.import_file(db, policy, EXAMPLES / "accounts.yaml")
    assert (again.created, again.updated) == ([], [])
    assert len(again.unchanged) == 3
    csv_report = accounts.import_file(db, policy, EXAMPLES / "accounts.csv")
    assert csv_report.errors == []
    assert csv_report.updated == ["HH-20417"]  # the CSV lists fewer contacts for it
    accounts.import_file(db, policy, EXAMPLES / "accounts.yaml")


def test_directory_facts_win_at_filing(client: TestClient, mailserver: MailServer) -> None:
    """The customer said 'software' plan; the directory says version 5.1, unsupported."""
    prepare_request(client, email="luis@rivera.example", account="HH-30991", plan="software")
    mail = mailserver.inbox.wait_for("luis@rivera.example")[-1]
    page = client.get(link_in(mail))
    assert "This request can't be filed" in page.text
    assert "HarborPanel 5.1 is not supported" in page.text
    assert "File my request" not in page.text


def test_attachment_is_a_sandboxed_download(client: TestClient, mailserver: MailServer) -> None:
    post(client, "/request", {"text": "site shows an error"})
    post(
        client,
        "/request/choose",
        {
            "request_type": "website-not-loading",
            "account": "HH-10234",
            "email": "anna@lindqvist.example",
            "plan": "standard",
            "role": "primary",
            "tz": "Europe/Berlin",
        },
    )
    post(client, "/request/coverage", {})
    fields = {
        "detail_url": "https://x.example/",
        "detail_error_message": "500",
        "detail_occurred_at": "2026-01-05T09:40",
        "detail_doing": "x",
        "priority": "high",
    }
    r = post(
        client,
        "/request/details",
        fields,
        files={"detail_screenshot": ("shot.html", png() + b"<script>x</script>", "text/html")},
    )
    assert r.status_code == 303, r.text
    before = len(mailserver.inbox.to("anna@lindqvist.example"))
    post(client, "/request/review", {})
    mail = mailserver.inbox.wait_for("anna@lindqvist.example", before + 1)[-1]
    filed = post(client, "/request/confirm", {"token": link_in(mail).split("token=", 1)[1]})
    link = re.search(r'href="(/tickets/[^"]+/attachments/[^"]+)"', filed.text)
    assert link, filed.text
    download = client.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"] == "attachment; filename*=UTF-8''shot.png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"].startswith("sandbox")
