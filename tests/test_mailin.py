"""Mail in and staff notifications (#15 items 4-5), against a real Dovecot IMAP server
(tests/support/imap.py, started once), a real SMTP server (aiosmtpd), SQLite and
PostgreSQL: a customer's answer to a ticket mail, built from the mail the portal really
sent (its Reply-To and Message-ID), lands in the ticket's thread once; anything else
does not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.alerts import scan as alerts
from portal.alerts.due import DUE_SOON, OVERDUE, due_notices
from portal.app import create_app
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import (
    AuditEntry,
    InboundMail,
    Outbox,
    StaffUser,
    Ticket,
    TicketEvent,
    Upload,
)
from portal.mailin import imap, intake
from portal.mailin.internal import Author, internal_author
from portal.mailin.parse import parse, trim_reply
from portal.notify import addresses
from portal.staff import actions as staff_actions
from portal.staff.queries import queue_rows
from portal.tickets import updates
from portal.tickets.links import status_link
from portal.tickets.outbox import deliverer_for
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.forms import post
from tests.support.imap import Dovecot
from tests.support.mail import MailServer, body, link_in
from tests.support.paths import CONTENT
from tests.support.staff import CLI, add_staff, sign_in
from tests.support.staff import file_ticket as file_directly
from tests.support.wizard import png, prepare_request

ANNA = "anna@lindqvist.example"  # the demo's listed primary contact of HH-10234
REPLIES = "support@harbor.example"  # PORTAL_REPLY_ADDRESS
HELPDESK = "helpdesk@harbor.example"
AGENT = "agent@harbor.example"
UPSTREAM = "noc@upstream.example"  # PORTAL_UPSTREAM_EMAIL
NUMBER = re.compile(r"T-[0-9A-Z]{4}-[0-9A-Z]{4}")
SECRET = "inbound-secret"


# --- pure parts: tables of cases ---------------------------------------------------------

QUOTE = "On Tue, 1 Dec 2026 at 10:00, Harbor support <support@harbor.example> wrote:"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("It works now, thanks.", "It works now, thanks."),
        (f"Fixed.\n\n{QUOTE}\n> Your request T-1\n> is open", "Fixed."),
        # the attribution wrapped over two lines by the mail client
        (
            "Fixed.\n\nOn Tue, 1 Dec 2026 at 10:00, Harbor support\n<s@h.example> wrote:\n> x",
            "Fixed.",
        ),
        ("Fixed.\n\n-- \nAnna Lindqvist\nLindqvist AB", "Fixed."),
        ("Fixed.\n--\nAnna", "Fixed."),
        ("Fixed.\n\nSent from my iPhone", "Fixed."),
        ("Fixed.\n\n-----Original Message-----\nFrom: Harbor\nSent: today\n\nold", "Fixed."),
        ("Fixed.\n\nFrom: Harbor support <s@h.example>\nSent: Tuesday\nTo: Anna\n\nold", "Fixed."),
        ("Fixed.\n\nAm 1. Dez. 2026 um 10:00 schrieb Harbor <s@h.example>:\n> alt", "Fixed."),
        # interleaved answers keep the customer's lines, not the quoted ones
        ("> Which mailbox?\ninfo@\n> Since when?\nMonday", "info@\nMonday"),
        ("line one\r\n\r\n\r\n\r\nline two", "line one\n\nline two"),
        (f"\n\n{QUOTE}\n> only a quote", ""),
        # a "From:" line that is not a header block stays
        ("From: the office, it fails.\nThanks", "From: the office, it fails.\nThanks"),
    ],
)
def test_trim_reply(raw: str, expected: str) -> None:
    assert trim_reply(raw) == expected


DUE = dt.datetime(2026, 12, 3, 13, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "soon", "answered", "closed", "sent", "expected"),
    [
        (DUE - dt.timedelta(minutes=31), 30, False, False, (), []),
        (DUE - dt.timedelta(minutes=30), 30, False, False, (), [DUE_SOON]),
        (DUE - dt.timedelta(minutes=1), 30, False, False, (DUE_SOON,), []),
        (DUE, 30, False, False, (DUE_SOON,), [OVERDUE]),
        (DUE + dt.timedelta(days=3), 30, False, False, (), [OVERDUE]),  # found late: one
        (DUE + dt.timedelta(minutes=1), 30, False, False, (DUE_SOON, OVERDUE), []),
        (DUE - dt.timedelta(minutes=5), 0, False, False, (), []),  # 0: no due-soon mail
        (DUE + dt.timedelta(minutes=5), 30, True, False, (), []),  # answered
        (DUE + dt.timedelta(minutes=5), 30, False, True, (), []),  # closed
    ],
)
def test_due_notices(
    now: dt.datetime,
    soon: int,
    answered: bool,
    closed: bool,
    sent: tuple[str, ...],
    expected: list[str],
) -> None:
    assert (
        due_notices(DUE, now, soon_minutes=soon, answered=answered, closed=closed, sent=sent)
        == expected
    )
    assert due_notices(None, now, soon_minutes=soon, answered=False, closed=False) == []


STAFF = {"agent@harbor.example": 7}
OURS = frozenset({"agent@harbor.example", HELPDESK})


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        (UPSTREAM, Author("upstream", None, frozenset({UPSTREAM}))),
        ("NOC@Upstream.example", Author("upstream", None, frozenset({UPSTREAM}))),
        (HELPDESK, Author("staff", None, OURS)),
        ("agent@harbor.example", Author("staff", 7, OURS)),
        (" Agent@Harbor.example ", Author("staff", 7, OURS)),
        # anyone else, also a lookalike or a plus-address of ours: today's behaviour
        (ANNA, None),
        ("noc@upstream.example.evil", None),
        ("helpdesk+x@harbor.example", None),
        ("former@harbor.example", None),  # not an active staff member
        ("", None),
    ],
)
def test_who_writes_from_our_side(sender: str, expected: Author | None) -> None:
    assert internal_author(sender, upstream=UPSTREAM, helpdesk=HELPDESK, staff=STAFF) == expected
    # without PORTAL_UPSTREAM_EMAIL / PORTAL_HELPDESK_EMAIL nobody is taken for them
    assert internal_author(sender, upstream="", helpdesk="", staff={}) is None


def test_reply_addresses_are_signed_and_read_back() -> None:
    address = addresses.reply_address("k", REPLIES, "T-7KQ3-M9XD")
    assert re.fullmatch(r"support\+t-7kq3-m9xd-[a-z2-7]{10}@harbor\.example", address)
    assert addresses.read_reply_address("k", REPLIES, address) == addresses.ReplyTag(
        "T-7KQ3-M9XD", True
    )
    # mail systems may change the case of the local part
    assert addresses.read_reply_address("k", REPLIES, address.upper()) == addresses.ReplyTag(
        "T-7KQ3-M9XD", True
    )
    sig = address.split("-")[-1].split("@")[0]
    other = f"support+t-aaaa-bbbb-{sig}@harbor.example"  # another ticket, the same signature
    assert addresses.read_reply_address("k", REPLIES, other) == addresses.ReplyTag(
        "T-AAAA-BBBB", False
    )
    assert addresses.read_reply_address("other key", REPLIES, address).valid is False  # type: ignore[union-attr]
    assert addresses.read_reply_address("k", REPLIES, "support@harbor.example") is None
    assert addresses.read_reply_address("k", REPLIES, address.replace("harbor", "evil")) is None
    with pytest.raises(ValueError):
        addresses.reply_address("k", REPLIES, "T-1")


# --- the running parts: Dovecot, aiosmtpd, the portal ----------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot for the session, started once."""
    server = Dovecot().start()
    yield server
    server.remove()


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def mailserver(database_url: str) -> Iterator[MailServer]:
    """One inbox per database run."""
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(
    database_url: str,
    demo_build: Path,
    mailserver: MailServer,
    dovecot: Dovecot,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    var = tmp_path_factory.mktemp("mailin")
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=database_url,
        upload_dir=var / "uploads",
        secret_key="mailin-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
        smtp_url=mailserver.url,
        mail_from="noreply@harbor.example",
        helpdesk_email=HELPDESK,
        upstream_email=UPSTREAM,
        reply_address=REPLIES,
        imap_url=dovecot.url("support"),
        inbound_secret=SECRET,
        max_upload_bytes=1024 * 1024,
        rate_limit_address=(1000, 3600),
        rate_limit_client=(1000, 3600),
    )


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Starlette]:
    # no outbox worker: the tests deliver and poll themselves, at the moments they choose
    with running_portal(settings, run_outbox=False) as application:
        yield application


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


def deliver(app: Starlette, settings: Settings) -> None:
    deliverer_for(app.state.db, settings, app.state.policy.get()).deliver_due(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    )


def poll(db: Database, settings: Settings) -> imap.PollReport:
    return imap.poll(db, settings, provider="Harbor Hosting")


def file_ticket(
    client: TestClient, app: Starlette, settings: Settings, mails: MailServer
) -> tuple[str, EmailMessage]:
    """File a request as Anna through the wizard; the ticket's number and the
    confirmation mail the portal sent her (through the real SMTP server)."""
    before = len(mails.inbox.to(ANNA))
    prepare_request(client)
    deliver(app, settings)
    verify = mails.inbox.wait_for(ANNA, before + 1)[-1]
    token = link_in(verify).split("token=", 1)[1]
    filed = post(client, "/request/confirm", {"token": token})
    match = NUMBER.search(filed.text)
    assert filed.status_code == 200 and match, filed.text
    deliver(app, settings)
    confirmation = mails.inbox.wait_for(ANNA, before + 2)[-1]
    assert match.group(0) in str(confirmation["Subject"])
    return match.group(0), confirmation


def answer(
    mail: EmailMessage,
    text: str,
    *,
    sender: str = ANNA,
    to: str | None = None,
    references: bool = True,
    attachments: tuple[tuple[str, bytes, str], ...] = (),
) -> bytes:
    """The customer's answer to ``mail`` as a mail client writes it: to its Reply-To
    (unless ``to``), with In-Reply-To / References, the original quoted below an
    attribution line, and a signature."""
    reply = EmailMessage(policy=SMTP)
    reply["From"] = f"Anna Lindqvist <{sender}>"
    reply["To"] = to or str(mail["Reply-To"])
    reply["Subject"] = "Re: " + str(mail["Subject"])
    reply["Message-ID"] = make_msgid(domain="lindqvist.example")
    if references:
        reply["In-Reply-To"] = str(mail["Message-ID"])
        reply["References"] = str(mail["Message-ID"])
    quoted = "\n".join("> " + line for line in body(mail).splitlines())
    reply.set_content(
        f"{text}\n\n-- \nAnna Lindqvist\nLindqvist AB, +46 8 123 45\n\n"
        f"On Tue, 1 Dec 2026 at 10:00, Harbor Hosting support <{mail['From']}> wrote:\n{quoted}\n"
    )
    for name, data, kind in attachments:
        maintype, subtype = kind.split("/")
        reply.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return reply.as_bytes()


def comments(db: Database, number: str) -> list[TicketEvent]:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        return list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "comment")
                .order_by(TicketEvent.id)
            )
        )


def outbox_to(db: Database, address: str, purpose: str) -> list[Outbox]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Outbox).where(Outbox.recipient == address, Outbox.purpose == purpose)
            )
        )


def audits(db: Database, kind: str) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.kind == kind)))


def test_an_answer_to_the_ticket_mail_lands_in_its_thread_trimmed(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    # the mail we sent: a Message-ID recorded on its outbox row, a signed Reply-To
    reply_to = str(confirmation["Reply-To"])
    assert addresses.read_reply_address(settings.secret_key, REPLIES, reply_to) == (
        addresses.ReplyTag(number, True)
    )
    with db.session() as session:
        recorded = session.scalars(
            select(Outbox.message_id).where(
                Outbox.ticket_number == number, Outbox.purpose == "confirmation"
            )
        ).one()
    assert recorded == str(confirmation["Message-ID"]) and "@harbor.example>" in recorded
    helpdesk_before = len(mailserver.inbox.to(HELPDESK))
    dovecot.append(
        "support",
        answer(confirmation, "The mailbox is info@lindqvist.example.\nIt fails since Monday."),
    )
    report = poll(db, settings)
    assert report.outcomes == {"added": 1}
    [event] = comments(db, number)
    assert event.author == "customer"
    assert event.note == "The mailbox is info@lindqvist.example.\nIt fails since Monday."
    # the message is marked seen: the next poll reads nothing
    assert "\\Seen" in dovecot.flags("support")[-1]
    assert poll(db, settings).seen == 0
    # the helpdesk hears of it as of any addition, and the customer's status page shows it
    deliver(app, settings)
    helpdesk = mailserver.inbox.wait_for(HELPDESK, helpdesk_before + 1)[-1]
    assert "It fails since Monday." in body(helpdesk)
    page = client.get(link_in(confirmation))
    assert "It fails since Monday." in page.text and "Lindqvist AB" not in page.text


def test_an_answer_found_by_its_references_alone(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    # the client dropped the Reply-To and wrote to the plain mailbox
    raw = answer(confirmation, "Found by references.", to=REPLIES)
    dovecot.append("support", raw)
    assert poll(db, settings).outcomes == {"added": 1}
    assert [e.note for e in comments(db, number)] == ["Found by references."]
    with db.session() as session:
        assert (
            session.scalars(
                select(InboundMail.ticket_number).where(InboundMail.key == parse(raw).key)
            ).one()
            == number
        )
    # neither an address nor references: nothing to go by
    stray = answer(confirmation, "Lost.", to=REPLIES, references=False)
    dovecot.append("support", stray)
    assert poll(db, settings).outcomes == {"unmatched": 1}
    assert len(comments(db, number)) == 1
    assert any(a.email == ANNA for a in audits(db, "mailin_unmatched"))


def test_an_unlisted_sender_gets_a_polite_answer_and_nothing_reaches_the_thread(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    stranger = "someone@elsewhere.example"
    dovecot.append("support", answer(confirmation, "Let me in.", sender=stranger))
    assert poll(db, settings).outcomes == {"refused": 1}
    assert comments(db, number) == []
    [audit] = [a for a in audits(db, "mailin_unlisted") if number in a.detail]
    assert audit.email == stranger and audit.account_id == "HH-10234"
    deliver(app, settings)
    [polite] = mailserver.inbox.wait_for(stranger)
    assert "not a listed contact" in body(polite) and "Let me in." not in body(polite)
    assert polite["Auto-Submitted"] == "auto-replied"  # robots must not answer it
    # an automatic answer (a vacation reply from the stranger) is not answered again
    vacation = EmailMessage(policy=SMTP)
    vacation["From"] = stranger
    vacation["To"] = str(polite["Reply-To"])
    vacation["Auto-Submitted"] = "auto-replied"
    vacation["Message-ID"] = make_msgid(domain="elsewhere.example")
    vacation.set_content("I am away.")
    dovecot.append("support", vacation.as_bytes())
    assert poll(db, settings).outcomes == {"ignored": 1}
    assert len(outbox_to(db, stranger, "mailin-refused")) == 1


def test_a_forged_reply_address_names_no_ticket(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    other, _ = file_ticket(client, app, settings, mailserver)
    real = str(confirmation["Reply-To"])
    signature = real.split("@")[0].rsplit("-", 1)[1]
    forged = [
        real.replace(signature, "a" * len(signature)),  # edited signature
        f"support+{other.lower()}-{signature}@harbor.example",  # another ticket, this signature
    ]
    for address in forged:
        dovecot.append("support", answer(confirmation, "Forged.", to=address, references=False))
    assert poll(db, settings).outcomes == {"unmatched": 2}
    assert comments(db, number) == [] and comments(db, other) == []
    found = {a.detail.split(" ")[2].rstrip(":") for a in audits(db, "mailin_forged_address")}
    assert set(forged) <= found
    assert outbox_to(db, ANNA, "mailin-refused") == []  # nobody is answered


def test_attachments_are_checked_like_uploads(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    big = png() + b"\x00" * settings.max_upload_bytes
    raw = answer(
        confirmation,
        "Screenshots attached.",
        attachments=(
            ("error.png", png(), "image/png"),
            ("huge.png", big, "image/png"),
            ("setup.exe", b"MZ\x90\x00 not an image", "application/octet-stream"),
        ),
    )
    dovecot.append("support", raw)
    assert poll(db, settings).outcomes == {"added": 1}
    [event] = comments(db, number)
    assert event.note.startswith("Screenshots attached.\n\nAttached: error.png")
    assert "huge.png (The file is 1.0 MB; the limit is 1 MB.)" in event.note
    assert "setup.exe (Only PNG, JPEG or WebP images can be attached.)" in event.note
    with db.session() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        stored = list(session.scalars(select(Upload).where(Upload.ticket_id == ticket_id)))
    assert [(u.filename, u.content_type) for u in stored] == [("error.png", "image/png")]
    assert (settings.upload_dir / stored[0].id).read_bytes() == png()
    deliver(app, settings)
    note = [m for m in mailserver.inbox.to(ANNA) if "were not added" in str(m["Subject"])]
    assert len(note) == 1 and "setup.exe: Only PNG" in body(note[0])


def test_the_same_message_read_twice_is_one_addition(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    raw = answer(confirmation, "Only once, please.")
    # applied, then the portal stopped before it could mark the message seen
    assert (
        intake.receive(db, settings, raw, provider="Harbor", now=dt.datetime.now(dt.UTC)).outcome
        == "added"
    )
    dovecot.append("support", raw)
    dovecot.append("support", raw)  # delivered twice by the mail system, too
    assert poll(db, settings).outcomes == {"duplicate": 2}
    assert [e.note for e in comments(db, number)] == ["Only once, please."]
    assert poll(db, settings).seen == 0  # both are seen now


def test_inbound_endpoint_needs_the_signature(
    client: TestClient, app: Starlette, settings: Settings, mailserver: MailServer, db: Database
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    raw = answer(confirmation, "Posted by the mail service.")
    good = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    for headers in (
        {},
        {"X-Portal-Signature": "sha256=" + "0" * 64},
        {"X-Portal-Signature": good[:-1] + "x"},
    ):
        refused = client.post("/api/inbound", content=raw, headers=headers)
        assert refused.status_code == 401 and "X-Portal-Signature" in refused.json()["error"]
    assert comments(db, number) == []
    headers = {"X-Portal-Signature": good, "Content-Type": "message/rfc822"}
    accepted = client.post("/api/inbound", content=raw, headers=headers)
    assert accepted.status_code == 202 and accepted.json() == {"outcome": "added", "ticket": number}
    again = client.post("/api/inbound", content=raw, headers=headers)
    assert again.json() == {"outcome": "duplicate", "ticket": None}
    assert [e.note for e in comments(db, number)] == ["Posted by the mail service."]
    # without PORTAL_INBOUND_SECRET the endpoint is off
    off = create_app(dataclasses.replace(settings, inbound_secret=""), run_outbox=False)
    assert TestClient(off).post("/api/inbound", content=raw, headers=headers).status_code == 404


def test_staff_notifications_are_sent_exactly_once(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    start = dt.datetime.now(dt.UTC)
    alerts.run(db, settings, now=start)  # whatever earlier tests left
    with db.session() as session:
        session.add(StaffUser(email=AGENT, name="Agent", role="agent", active=True))
        session.add(StaffUser(email="gone@harbor.example", name="Gone", role="agent", active=False))
    number, confirmation = file_ticket(client, app, settings, mailserver)
    due = start + dt.timedelta(hours=2)
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        ticket.due_at = due  # a controlled clock: the due time is fixed, "now" is chosen
    alerts.run(db, settings, now=start)
    assert [r.ticket_number for r in outbox_to(db, AGENT, "staff-new")][-1] == number
    dovecot.append("support", answer(confirmation, "Any news?"))
    poll(db, settings)
    for moment in (
        due - dt.timedelta(minutes=31),
        due - dt.timedelta(minutes=29),
        due - dt.timedelta(minutes=1),
    ):
        alerts.run(db, settings, now=moment)
    for moment in (due, due + dt.timedelta(minutes=1), due + dt.timedelta(hours=5)):
        alerts.run(db, settings, now=moment)

    def mine(address: str, purpose: str) -> int:
        return len([r for r in outbox_to(db, address, purpose) if r.ticket_number == number])

    assert mine(AGENT, "staff-new") == 1  # new ticket
    assert mine(AGENT, "staff-replied") == 1  # the customer replied (by mail)
    assert mine(HELPDESK, "helpdesk") == 1  # at filing, as before
    for address in (AGENT, HELPDESK):
        assert mine(address, "staff-due-soon") == 1
        assert mine(address, "staff-overdue") == 1
    assert mine("gone@harbor.example", "staff-new") == 0  # inactive staff hear nothing
    deliver(app, settings)
    subjects = [
        str(m["Subject"]).strip()  # a long subject is folded after "Subject:"
        for m in mailserver.inbox.to(AGENT)
        if number in str(m["Subject"])
    ]
    title = confirmation["Subject"].split("] ", 1)[1]
    assert f"[{number}] First response due in 29 minutes: {title}" in subjects
    assert f"[{number}] First response overdue: {title}" in subjects
    # a ticket answered by staff before its due time is not overdue
    answered, _ = file_ticket(client, app, settings, mailserver)
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == answered)).one()
        ticket.due_at = due
        session.add(TicketEvent(ticket_id=ticket.id, kind="reply", author="staff", note="On it."))
    alerts.run(db, settings, now=due + dt.timedelta(minutes=1))
    assert (
        count(db, Outbox, Outbox.ticket_number == answered, Outbox.purpose == "staff-overdue") == 0
    )
    # an assigned ticket: its assignee hears of it, the other staff do not
    assigned, _ = file_ticket(client, app, settings, mailserver)
    with db.session() as session:
        other = StaffUser(email="second@harbor.example", name="Second", role="agent")
        session.add(other)
        session.flush()
        ticket = session.scalars(select(Ticket).where(Ticket.number == assigned)).one()
        ticket.due_at, ticket.assigned_to = due, other.id
    alerts.run(db, settings, now=due + dt.timedelta(minutes=1))
    overdue = [
        r.recipient
        for r in outbox_to(db, "second@harbor.example", "staff-overdue")
        + outbox_to(db, AGENT, "staff-overdue")
        + outbox_to(db, HELPDESK, "staff-overdue")
        if r.ticket_number == assigned
    ]
    assert sorted(overdue) == [HELPDESK, "second@harbor.example"]


def test_an_answer_to_a_staff_reply_lands_in_the_thread(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    """The console's reply carries the ticket's signed Reply-To and a recorded
    Message-ID like every ticket mail: the customer's answer to it threads, by its
    address or by its references alone, and the queue shows "customer replied"."""
    number, _confirmation = file_ticket(client, app, settings, mailserver)
    policy = app.state.policy.get()
    now = dt.datetime.now(dt.UTC)
    before = len(mailserver.inbox.to(ANNA))
    staff_actions.reply(
        db,
        policy,
        settings,
        CLI,
        number,
        "Which mailbox fails?",
        status="waiting_for_customer",
        now=now,
    )
    deliver(app, settings)
    reply = mailserver.inbox.wait_for(ANNA, before + 1)[-1]
    assert number in str(reply["Subject"]) and "Which mailbox fails?" in body(reply)
    assert addresses.read_reply_address(
        settings.secret_key, REPLIES, str(reply["Reply-To"])
    ) == addresses.ReplyTag(number, True)
    assert "reply to this mail" in body(reply).lower()  # the customer is told they may
    with db.session() as session:
        recorded = session.scalars(
            select(Outbox.message_id).where(
                Outbox.ticket_number == number, Outbox.purpose == "reply"
            )
        ).one()
    assert recorded == str(reply["Message-ID"])
    dovecot.append("support", answer(reply, "info@lindqvist.example fails."))
    assert poll(db, settings).outcomes == {"added": 1}
    assert [e.note for e in comments(db, number)] == ["info@lindqvist.example fails."]
    [row] = [r for r in queue_rows(db, policy, now=now) if r.number == number]
    assert row.customer_replied and row.status == "open"  # no longer waiting for them
    # the client dropped the Reply-To: found by the staff reply's Message-ID
    dovecot.append("support", answer(reply, "Since Monday.", to=REPLIES))
    assert poll(db, settings).outcomes == {"added": 1}
    assert [e.note for e in comments(db, number)][-1] == "Since Monday."


def test_an_answer_to_a_closed_ticket_is_not_added(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    number, confirmation = file_ticket(client, app, settings, mailserver)
    updates.set_status(
        db,
        app.state.policy.get(),
        settings,
        number,
        "completed",
        "Done.",
        now=dt.datetime.now(dt.UTC),
    )
    dovecot.append("support", answer(confirmation, "One more thing."))
    assert poll(db, settings).outcomes == {"closed": 1}
    assert comments(db, number) == []
    [closed] = outbox_to(db, ANNA, "mailin-closed")
    assert (
        closed.ticket_number == number and "https://support.harbor.example/request" in closed.body
    )


def test_the_running_portal_reads_the_mailbox(
    settings: Settings, mailserver: MailServer, dovecot: Dovecot, tmp_path: Path
) -> None:
    """PORTAL_IMAP_URL is read by the outbox loop every PORTAL_IMAP_POLL seconds."""
    own = dataclasses.replace(
        settings,
        database_url=f"sqlite:///{tmp_path}/loop.db",
        upload_dir=tmp_path / "uploads",
        imap_url=dovecot.url("loop"),
        imap_poll=1,
    )
    with running_portal(own) as loop_app:  # its lifespan runs the outbox loop once
        loop_client = TestClient(loop_app)  # (no second lifespan: not used as a context)
        number, confirmation = file_ticket(loop_client, loop_app, own, mailserver)
        dovecot.append("loop", answer(confirmation, "Read by the running portal."))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not comments(loop_app.state.db, number):
            time.sleep(0.2)
        assert [e.note for e in comments(loop_app.state.db, number)] == [
            "Read by the running portal."
        ]


def test_processed_mail_can_be_moved_to_a_folder(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    """``?move=FOLDER``: each processed message leaves the folder that is read."""
    number, confirmation = file_ticket(client, app, settings, mailserver)
    user = f"moved-{number.lower()}"  # a mailbox of this test's own
    moving = dataclasses.replace(settings, imap_url=dovecot.url(user, query="move=Processed"))
    dovecot.append(user, answer(confirmation, "Moved afterwards."))
    assert poll(db, moving).outcomes == {"added": 1}
    assert dovecot.flags(user) == []
    assert len(dovecot.flags(user, "Processed")) == 1
    assert [e.note for e in comments(db, number)] == ["Moved afterwards."]


# --- answers from our own side: the upstream provider and staff ---------------------------


def events(db: Database, number: str) -> list[TicketEvent]:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        return list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        )


def customer_page(client: TestClient, db: Database, settings: Settings, number: str) -> str:
    with db.session() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        link = status_link(settings, ticket)
    page = client.get(link.removeprefix(settings.base_url.rstrip("/")))  # the path
    assert page.status_code == 200 and number in page.text
    return page.text


def inbound(client: TestClient, raw: bytes) -> dict[str, str | None]:
    signed = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    r = client.post("/api/inbound", content=raw, headers={"X-Portal-Signature": signed})
    assert r.status_code == 202, r.text
    answer: dict[str, str | None] = r.json()
    return answer


def test_the_upstream_providers_answer_is_an_internal_note(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    db: Database,
) -> None:
    """The upstream provider answers the forward: an internal note by "upstream" on the
    ticket, the queue shows "upstream answered", the customer's page does not show it,
    and nobody is mailed; from the same address about a ticket never forwarded to it,
    nothing is added."""
    policy = app.state.policy.get()
    now = dt.datetime.now(dt.UTC)
    ticket = file_directly(
        db,
        policy,
        settings,
        request_type="server-reboot",
        priority="medium",
        account="HH-20417",
        email="it@okafor.example",
    )
    number = ticket.number
    before = len(mailserver.inbox.to(UPSTREAM))
    staff_actions.forward(db, policy, settings, CLI, number, "Please reboot db-3.", now=now)
    deliver(app, settings)
    forward = mailserver.inbox.wait_for(UPSTREAM, before + 1)[-1]
    assert number in str(forward["Subject"]) and "8802" in body(forward)
    outbox_before = count(db, Outbox)
    raw = answer(forward, "Rebooted db-3 at 14:05; it is back.", sender=UPSTREAM)
    assert inbound(client, raw) == {"outcome": "noted", "ticket": number}
    [note] = [e for e in events(db, number) if e.kind == "note"]
    assert (note.author, note.staff_id) == ("upstream", None)
    assert note.note == f"By mail from {UPSTREAM}:\n\nRebooted db-3 at 14:05; it is back."
    assert [e for e in events(db, number) if e.kind == "comment"] == []
    assert count(db, Outbox) == outbox_before  # no answer, no copy to the helpdesk
    # the staff see it: the queue marks the ticket, the page shows the note as internal
    [row] = [r for r in queue_rows(db, policy, now=now) if r.number == number]
    assert row.noted == "upstream" and row.upstream_answered and not row.customer_replied
    add_staff(db, settings, "queue-reader@harbor.example", name="Queue Reader")
    staff = TestClient(app)  # a second browser (no second lifespan: not a context)
    assert sign_in(staff, "queue-reader@harbor.example").status_code == 303
    queue_page = staff.get("/staff", params={"upstream": "1"}).text
    mine = queue_page.split(f'data-number="{number}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="tag">upstream answered</span>' in mine
    assert "Rebooted db-3 at 14:05" in staff.get(f"/staff/tickets/{number}").text
    # the customer's status page does not show it
    assert "Rebooted db-3" not in customer_page(client, db, settings, number)
    # once a staff member has answered the customer, the mark goes
    staff_actions.reply(db, policy, settings, CLI, number, "db-3 is back.", now=now)
    [row] = [r for r in queue_rows(db, policy, now=now) if r.number == number]
    assert row.noted == ""
    # the upstream address answering a mail it never got (the customer's confirmation of
    # a ticket never forwarded): not a note, not a comment, not answered
    other, confirmation = file_ticket(client, app, settings, mailserver)
    forged = answer(confirmation, "Upstream here: close it.", sender=UPSTREAM)
    assert inbound(client, forged) == {"outcome": "refused", "ticket": other}
    assert [e.kind for e in events(db, other) if e.kind in ("note", "comment")] == []
    assert any(other in a.detail for a in audits(db, "mailin_internal_unproven"))
    assert outbox_to(db, UPSTREAM, "mailin-refused") == []


def test_a_staff_answer_to_a_staff_mail_is_an_internal_note(
    client: TestClient,
    app: Starlette,
    settings: Settings,
    mailserver: MailServer,
    dovecot: Dovecot,
    db: Database,
) -> None:
    """Staff answer the helpdesk's copy (PORTAL_HELPDESK_EMAIL) or their own
    notification: internal notes by "staff" (with the staff member when known), never
    on the customer's page, nobody mailed. A stranger, a former staff member and a
    forged helpdesk sender are not taken for staff."""
    with db.session() as session:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == AGENT)) is None:
            session.add(StaffUser(email=AGENT, name="Agent", role="agent", active=True))
        session.add(StaffUser(email="former@harbor.example", name="F", role="agent", active=False))
    with db.session() as session:
        agent_id = session.scalars(select(StaffUser.id).where(StaffUser.email == AGENT)).one()
    helpdesk_before = len(mailserver.inbox.to(HELPDESK))
    agent_before = len(mailserver.inbox.to(AGENT))
    number, confirmation = file_ticket(client, app, settings, mailserver)
    alerts.run(db, settings, now=dt.datetime.now(dt.UTC))  # "new ticket" to the staff
    deliver(app, settings)
    copies = mailserver.inbox.wait_for(HELPDESK, helpdesk_before + 1)[helpdesk_before:]
    [copy] = [m for m in copies if number in str(m["Subject"])]
    alerted = mailserver.inbox.wait_for(AGENT, agent_before + 1)[agent_before:]
    [notice] = [m for m in alerted if number in str(m["Subject"])]
    outbox_before = count(db, Outbox)
    dovecot.append("support", answer(copy, "Looks like the relay again.", sender=HELPDESK))
    dovecot.append("support", answer(notice, "I take this one.", sender=AGENT.upper()))
    assert poll(db, settings).outcomes == {"noted": 2}
    notes = [(e.author, e.staff_id, e.note) for e in events(db, number) if e.kind == "note"]
    assert notes == [
        ("staff", None, f"By mail from {HELPDESK}:\n\nLooks like the relay again."),
        ("staff", agent_id, f"By mail from {AGENT}:\n\nI take this one."),
    ]
    assert comments(db, number) == []
    assert count(db, Outbox) == outbox_before  # nobody is mailed
    rows = queue_rows(db, app.state.policy.get(), now=dt.datetime.now(dt.UTC))
    [row] = [r for r in rows if r.number == number]
    assert row.noted == "staff"
    page = customer_page(client, db, settings, number)
    assert "relay again" not in page and "I take this one" not in page
    # a stranger and a former staff member answering the helpdesk's copy: as before,
    # refused with a polite answer
    for stranger in ("someone@elsewhere.example", "former@harbor.example"):
        polite = len(outbox_to(db, stranger, "mailin-refused"))
        dovecot.append("support", answer(copy, "Let me in.", sender=stranger))
        assert poll(db, settings).outcomes == {"refused": 1}
        assert len(outbox_to(db, stranger, "mailin-refused")) == polite + 1
    # the customer knows the reply address and the confirmation's Message-ID, not the
    # staff mails': a forged helpdesk sender adds nothing and is not answered
    dovecot.append("support", answer(confirmation, "Staff: refund me.", sender=HELPDESK))
    assert poll(db, settings).outcomes == {"refused": 1}
    assert len([e for e in events(db, number) if e.kind == "note"]) == 2
    assert outbox_to(db, HELPDESK, "mailin-refused") == []
