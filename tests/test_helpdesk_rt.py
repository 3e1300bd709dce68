"""Delivering into a real Request Tracker 5 (``portal.helpdesk.rt``) and reading its
changes back (``portal.helpdesk.sync``): one throw-away RT for the session
(tests/support/rt.py), the portal on SQLite, filing through ``file_pending``."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from kb.policy import Policy, load_policy
from portal.app import create_app
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Outbox, PendingRequest, Ticket, TicketEvent, Upload
from portal.directory import importer as accounts
from portal.helpdesk.rt import ADDITION_SUBJECT, RTHelpdesk, parse_rt_time, rt_priority
from portal.mailin import intake
from portal.tickets import helpdesk_sync as sync
from portal.tickets import history as ticket_history
from portal.tickets import links, outbox, updates
from portal.tickets.filing import file_pending
from portal.tickets.states import EMERGENCY_LABELS, PUBLIC_EVENTS
from portal.wizard import uploads
from tests.support.apps import running_portal
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.rt import (
    PORTAL_PASSWORD,
    PORTAL_USER,
    SUPPORT_QUEUE,
    CuttingProxy,
    RTServer,
    rt_server,
    scrip_code,
)
from tests.support.servers import free_port, start_server
from tests.support.wizard import png

__all__ = ["rt_server"]  # the session's RT (a fixture)

OKAFOR = ("HH-20417", "it@okafor.example")  # plan priority, servers web-12 and db-3


@pytest.fixture(scope="module")
def policy() -> Policy:
    loaded, problems = load_policy(CONTENT / "policy.yaml")
    assert loaded is not None and problems == []
    return loaded


def settings_for(directory: Path, url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "content_dir": CONTENT,
        "policy_file": CONTENT / "policy.yaml",
        "database_url": f"sqlite:///{directory}/portal.db",
        "upload_dir": directory / "uploads",
        "secret_key": "rt-tests",
        "base_url": "https://support.harbor.example/",
        "helpdesk": f"rt+{url}/?queue={SUPPORT_QUEUE}&queue.billing=Billing",
        "helpdesk_token": f"{PORTAL_USER}:{PORTAL_PASSWORD}",
        **overrides,
    }
    return Settings.from_env({}, **values)


@pytest.fixture(scope="module")
def world(
    rt_server: RTServer, policy: Policy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("rt-portal")
    settings = settings_for(directory, rt_server.url)
    db = Database(settings.database_url)
    db.upgrade()
    report = accounts.import_file(db, policy, EXAMPLES / "accounts.yaml")
    assert not report.errors
    yield {"settings": settings, "db": db, "dir": directory}
    db.dispose()


def file_ticket(
    db: Database, policy: Policy, settings: Settings, *, attach: bytes | None = None
) -> Ticket:
    """A mail-server outage of Okafor's web-12, claimed as an emergency, filed now."""
    now = dt.datetime.now(dt.UTC)
    pending_id = secrets.token_urlsafe(16)
    data: dict[str, Any] = {
        "text": "Nobody can send mail since this morning.",
        "request_type": "mail-server-down",
        "account": OKAFOR[0],
        "email": OKAFOR[1],
        "tz": "Europe/Berlin",
        "details": {
            "server": "web-12 (4711)",
            "error_message": "421 service not available",
            "occurred_at": "2026-11-30T09:40",
        },
        "priority": "blocker",
        "emergency_claimed": True,
    }
    with db.session() as session:
        if attach is not None:
            stored = uploads.store(settings.upload_dir, "smtp.png", attach, max_bytes=1 << 20)
            session.add(
                Upload(
                    id=stored.id,
                    filename=stored.filename,
                    content_type=stored.content_type,
                    size=stored.size,
                    sha256=stored.sha256,
                    created_at=now,
                )
            )
            data["attachments"] = {
                "screenshot": {"id": stored.id, "filename": stored.filename, "size": stored.size}
            }
        session.add(
            PendingRequest(
                id=pending_id,
                account_id=OKAFOR[0],
                email=OKAFOR[1],
                data=data,
                client="test",
                listed=True,
                created_at=now,
            )
        )
    filing = file_pending(db, policy, settings, pending_id, accepted_now=True, now=now)
    assert filing is not None and filing.ticket is not None, filing and filing.problem
    return filing.ticket


def helpdesk_rows(db: Database, number: str) -> list[Outbox]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Outbox)
                .where(Outbox.ticket_number == number, Outbox.kind == "helpdesk")
                .order_by(Outbox.id)
            )
        )


def reload(db: Database, number: str) -> Ticket:
    with db.session() as session:
        return session.scalars(select(Ticket).where(Ticket.number == number)).one()


def events(db: Database, ticket_id: int) -> list[TicketEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id)
                .order_by(TicketEvent.id)
            )
        )


def rt_tickets_with(rt: RTServer, number: str) -> list[str]:
    with rt.admin() as admin:
        found = admin.get("tickets", params={"query": f"Subject LIKE '[{number}]'"}).json()
    return [str(item["id"]) for item in found["items"]]


def later(seconds: float = 4000) -> dt.datetime:
    """A moment past any backoff, so every queued row is due."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def test_filed_ticket_becomes_an_rt_ticket(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db, settings = world["db"], world["settings"]
    picture = png()
    ticket = file_ticket(db, policy, settings, attach=picture)
    [row] = helpdesk_rows(db, ticket.number)
    assert row.recipient == "rt" and row.delivered_at is None  # queued with the ticket
    result = outbox.deliverer_for(db, settings, policy).deliver_due(later())
    assert result.failed == 0, helpdesk_rows(db, ticket.number)[0].last_error
    ticket = reload(db, ticket.number)
    assert ticket.helpdesk_id and helpdesk_rows(db, ticket.number)[0].delivered_at
    with rt_server.admin() as admin:
        made = admin.get(f"ticket/{ticket.helpdesk_id}").json()
        queue = admin.get(made["Queue"]["_url"].split("/REST/2.0/")[1]).json()
        listed = admin.get(
            f"ticket/{ticket.helpdesk_id}/attachments",
            params={"fields": "Filename,ContentType", "per_page": 50},
        ).json()["items"]
        history = [
            {**a, "Content": admin.get(f"attachment/{a['id']}").json()["Content"]} for a in listed
        ]
    assert queue["Name"] == SUPPORT_QUEUE
    assert made["Subject"] == f"[{ticket.number}] {ticket.title}"
    assert [r["id"] for r in made["Requestor"]] == [OKAFOR[1]]
    assert int(made["Priority"]) == rt_priority(
        policy.priorities, ticket.priority, emergency=ticket.emergency_accepted
    )
    assert ticket.due_at is not None
    due = dt.datetime.fromisoformat(made["Due"].replace("Z", "+00:00"))
    assert due == ticket.due_at.replace(microsecond=0)
    fields = {f["name"]: f["values"] for f in made["CustomFields"]}
    assert fields["Portal ticket"] == [ticket.number]
    assert fields["Plan"] == [ticket.plan_snapshot["name"]]
    assert fields["Request type"] == ["mail-server-down"]
    assert fields["Coverage"] == [ticket.coverage_status]
    assert fields["Server"] == ["web-12"]
    assert ticket.emergency_claimed and ticket.emergency_outcome in EMERGENCY_LABELS
    assert fields["Emergency claim"] == [ticket.emergency_outcome]
    assert "Server ID" not in fields  # not on this queue: left out, not an error
    content = next(
        base64.b64decode(a["Content"]).decode()
        for a in history
        if a["ContentType"] == "text/plain" and not a["Filename"]
    )
    for line in (
        ticket.number,
        "Nobody can send mail since this morning.",
        "421 service not available",
        "web-12 (4711)",
    ):
        assert line in content
    [image] = [a for a in history if a["Filename"]]
    assert image["Filename"].endswith(".png") and image["ContentType"] == "image/png"
    assert base64.b64decode(image["Content"]) == picture


def test_retry_after_a_lost_answer_finds_the_ticket_instead_of_a_second(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    """RT creates the ticket but its answer never arrives (the connection is cut, as a
    timeout leaves it): the retry looks the ticket up by its number and stores it."""
    db = world["db"]
    with CuttingProxy(rt_server.port) as proxy:
        settings = settings_for(world["dir"], f"http://127.0.0.1:{proxy.port}")
        ticket = file_ticket(db, policy, settings)
        deliverer = outbox.deliverer_for(db, settings, policy)
        proxy.cut_creates = True
        first = deliverer.deliver_due(later())
        assert first.failed == 1 and proxy.cut == 1  # (the customer's mail went out)
        [row] = helpdesk_rows(db, ticket.number)
        assert row.delivered_at is None and row.attempts == 1 and row.last_error
        assert reload(db, ticket.number).helpdesk_id is None
        assert len(rt_tickets_with(rt_server, ticket.number)) == 1  # RT did create it
        proxy.cut_creates = False
        second = deliverer.deliver_due(later(8000))
        assert (second.delivered, second.failed) == (1, 0)
    [created] = rt_tickets_with(rt_server, ticket.number)  # still one
    assert reload(db, ticket.number).helpdesk_id == created


def test_rt_down_keeps_the_ticket_queued_until_it_answers(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db = world["db"]
    down = settings_for(world["dir"], f"http://127.0.0.1:{free_port()}")  # nothing listens
    ticket = file_ticket(db, policy, down)
    first = outbox.deliverer_for(db, down, policy).deliver_due(later())
    assert first.failed >= 1
    [row] = helpdesk_rows(db, ticket.number)
    assert row.delivered_at is None and "Connect" in row.last_error
    assert rt_tickets_with(rt_server, ticket.number) == []
    up = world["settings"]  # RT answers again (the row names the helpdesk, not its URL)
    assert outbox.deliverer_for(db, up, policy).deliver_due(later(8000)).failed == 0
    [row] = helpdesk_rows(db, ticket.number)
    assert row.delivered_at is not None and row.attempts == 2
    assert rt_tickets_with(rt_server, ticket.number) == [reload(db, ticket.number).helpdesk_id]


def delivered(world: dict[str, Any], policy: Policy) -> tuple[Ticket, RTHelpdesk]:
    db, settings = world["db"], world["settings"]
    ticket = file_ticket(db, policy, settings)
    deliverer = outbox.deliverer_for(db, settings, policy)
    assert deliverer.deliver_due(later()).failed == 0
    helpdesk = deliverer.connectors["rt"]
    assert isinstance(helpdesk, RTHelpdesk)
    return reload(db, ticket.number), helpdesk


def customer_mail(db: Database, number: str, purpose: str) -> list[Outbox]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Outbox).where(
                    Outbox.ticket_number == number,
                    Outbox.purpose == purpose,
                    Outbox.recipient == OKAFOR[1],
                )
            )
        )


def test_status_and_replies_come_back_and_comments_stay_internal(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db, settings = world["db"], world["settings"]
    ticket, helpdesk = delivered(world, policy)
    sync.poll(db, policy, settings, helpdesk)  # up to date before staff act
    with rt_server.admin() as admin:
        rt_id = ticket.helpdesk_id
        reply = {"Content": "We restarted Postfix on web-12.", "ContentType": "text/plain"}
        assert admin.post(f"ticket/{rt_id}/correspond", json=reply).status_code == 201
        note = {"Content": "Internal: the disk was full again.", "ContentType": "text/plain"}
        assert admin.post(f"ticket/{rt_id}/comment", json=note).status_code == 201
        assert admin.put(f"ticket/{rt_id}", json={"Status": "resolved"}).status_code == 200
    report = sync.poll(db, policy, settings, helpdesk)
    assert report.replies == 1 and report.statuses == 2  # new → open → resolved
    assert reload(db, ticket.number).status == "completed"
    history = events(db, ticket.id)
    replies = [e for e in history if e.kind == "reply"]
    assert [e.note for e in replies] == ["We restarted Postfix on web-12."]
    assert "reply" in PUBLIC_EVENTS and replies[0].author == "staff"
    statuses = [e.status for e in history if e.kind == "status"]
    assert statuses == ["in_progress", "completed"]
    assert not any("disk was full" in e.note for e in history)  # the comment stays in RT
    [mailed] = customer_mail(db, ticket.number, "reply")
    assert "We restarted Postfix on web-12." in mailed.body
    assert "disk was full" not in mailed.body
    assert len(customer_mail(db, ticket.number, "status")) == 2
    again = sync.poll(db, policy, settings, helpdesk)  # each change is applied once
    assert (again.replies, again.statuses) == (0, 0)
    assert len(events(db, ticket.id)) == len(history)


def test_customer_addition_reaches_rt_as_correspondence_once(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db, settings = world["db"], world["settings"]
    ticket, helpdesk = delivered(world, policy)
    sync.poll(db, policy, settings, helpdesk)
    text = "Webmail shows the same error."
    updates.add_comment(db, settings, ticket.number, text, now=dt.datetime.now(dt.UTC))
    rows = helpdesk_rows(db, ticket.number)
    assert [r.purpose for r in rows] == ["helpdesk", "comment"]
    assert outbox.deliverer_for(db, settings, policy).deliver_due(later()).failed == 0

    def additions() -> list[str]:
        with rt_server.admin() as admin:
            items = admin.get(
                f"ticket/{ticket.helpdesk_id}/history", params={"fields": "Type,Data"}
            ).json()["items"]
        return [
            helpdesk.transaction_text(str(i["id"])).strip()
            for i in items
            if i["Type"] == "Correspond" and i["Data"].strip() == ADDITION_SUBJECT
        ]

    assert additions() == [text]
    # a retry of a delivery whose answer was lost adds nothing twice
    helpdesk.add_correspondence(str(ticket.helpdesk_id), text, retry=True)
    assert additions() == [text]
    # the customer's own words do not come back as a reply from RT
    report = sync.poll(db, policy, settings, helpdesk)
    assert report.replies == 0 and report.statuses == 1  # RT opened it: new → open
    assert not [e for e in events(db, ticket.id) if e.kind == "reply"]


def test_a_mailed_answer_reaches_rt_as_correspondence(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db, settings = world["db"], world["settings"]
    ticket, helpdesk = delivered(world, policy)
    with db.session() as session:
        sent = session.scalars(
            select(Outbox).where(
                Outbox.ticket_number == ticket.number, Outbox.recipient == OKAFOR[1]
            )
        ).first()
        assert sent is not None and sent.message_id
        ours = sent.message_id
    text = "The error is back since 10:15, see the log line below."
    picture = png()
    raw = (
        f"From: Okafor IT <{OKAFOR[1]}>\r\nTo: support@harbor.example\r\n"
        f"Subject: Re: {ticket.title}\r\nMessage-ID: <{secrets.token_hex(8)}@okafor.example>\r\n"
        f"In-Reply-To: {ours}\r\nReferences: {ours}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{text}\r\n\r\nOn Mon, Harbor Hosting wrote:\r\n> earlier mail\r\n"
        "--b1\r\nContent-Type: image/png\r\n"
        'Content-Disposition: attachment; filename="log.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.b64encode(picture).decode()}\r\n--b1--\r\n"
    ).encode()
    outcome = intake.receive(db, settings, raw, provider="test", now=dt.datetime.now(dt.UTC))
    assert outcome.number == ticket.number
    assert "comment" in [r.purpose for r in helpdesk_rows(db, ticket.number)]
    assert outbox.deliverer_for(db, settings, policy).deliver_due(later()).failed == 0
    with rt_server.admin() as admin:
        items = admin.get(
            f"ticket/{ticket.helpdesk_id}/history", params={"fields": "Type,Data"}
        ).json()["items"]
    [added] = [
        str(i["id"])
        for i in items
        if i["Type"] == "Correspond" and i["Data"].strip() == ADDITION_SUBJECT
    ]
    assert helpdesk.transaction_text(added).strip() == f"{text}\n\nAttached: log.png"
    assert transaction_files(rt_server, added) == {"log.png": picture}  # the file with it


def rt_history(rt: RTServer, rt_id: str | None) -> list[dict[str, Any]]:
    with rt.admin() as admin:
        found = admin.get(
            f"ticket/{rt_id}/history", params={"fields": "Type,Data", "per_page": 100}
        ).json()
    return list(found["items"])


def transaction_files(rt: RTServer, transaction: str) -> dict[str, bytes]:
    """The files RT keeps with one transaction, by name."""
    with rt.admin() as admin:
        parts = admin.get(
            f"transaction/{transaction}/attachments", params={"fields": "Filename"}
        ).json()["items"]
        return {
            p["Filename"]: base64.b64decode(admin.get(f"attachment/{p['id']}").json()["Content"])
            for p in parts
            if p["Filename"]
        }


def test_an_addition_s_file_goes_to_rt_with_its_correspondence_once(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    """A file added on the status page before the ticket reached RT goes with the
    addition (not also with the new ticket); a retry whose answer was lost adds
    nothing twice."""
    db, settings = world["db"], world["settings"]
    ticket = file_ticket(db, policy, settings)
    picture = png()
    stored = uploads.store(settings.upload_dir, "webmail.png", picture, max_bytes=1 << 20)
    now = dt.datetime.now(dt.UTC)
    updates.add_comment(db, settings, ticket.number, "Webmail too:", now=now, files=[stored])
    deliverer = outbox.deliverer_for(db, settings, policy)
    assert deliverer.deliver_due(later()).failed == 0
    rt_id = reload(db, ticket.number).helpdesk_id
    assert rt_id
    [created] = [str(i["id"]) for i in rt_history(rt_server, rt_id) if i["Type"] == "Create"]
    assert transaction_files(rt_server, created) == {}

    def additions() -> list[dict[str, bytes]]:
        return [
            transaction_files(rt_server, str(i["id"]))
            for i in rt_history(rt_server, rt_id)
            if i["Type"] == "Correspond" and i["Data"].strip() == ADDITION_SUBJECT
        ]

    assert additions() == [{"webmail.png": picture}]
    helpdesk = deliverer.connectors["rt"]
    assert isinstance(helpdesk, RTHelpdesk)
    text = "Webmail too:\n\nAttached: webmail.png"
    helpdesk.add_correspondence(rt_id, text, retry=True, files=[stored.id])
    assert additions() == [{"webmail.png": picture}]


def test_an_rt_reply_s_files_come_back_once_beside_the_reply(
    world: dict[str, Any], policy: Policy, rt_server: RTServer, demo_build: Path
) -> None:
    """The files of RT's public correspondence are checked like uploads (type by content,
    size), stored once however often RT is read, named in the reply and linked beside
    it on the status page; the refused ones are named with why."""
    db = world["db"]
    settings = dataclasses.replace(world["settings"], max_upload_bytes=1024, build_dir=demo_build)
    ticket, _ = delivered(world, policy)
    helpdesk = outbox.deliverer_for(db, settings, policy).connectors["rt"]
    assert isinstance(helpdesk, RTHelpdesk)
    sync.poll(db, policy, settings, helpdesk)
    picture = png()

    def part(name: str, kind: str, data: bytes) -> dict[str, str]:
        content = base64.b64encode(data).decode()
        return {"FileName": name, "FileType": kind, "FileContent": content}

    files = [
        part("queue.png", "image/png", picture),
        part("notes.pdf", "image/png", b"%PDF-1.4 not an image"),  # typed by its content
        part("full.png", "image/png", picture + b"\0" * 2048),  # over the limit
    ]
    reply = {"Content": "The queue, as it was.", "ContentType": "text/plain", "Attachments": files}
    with rt_server.admin() as admin:
        assert admin.post(f"ticket/{ticket.helpdesk_id}/correspond", json=reply).status_code == 201
    assert sync.poll(db, policy, settings, helpdesk).replies == 1
    assert sync.poll(db, policy, settings, helpdesk).replies == 0
    [answer] = [e for e in events(db, ticket.id) if e.kind == "reply"]
    lines = answer.note.split("\n\n")
    assert lines[:2] == ["The queue, as it was.", "Attached: queue.png"]
    assert lines[2].startswith("Not attached: notes.pdf (Only PNG, JPEG or WebP images")
    assert "; full.png (The file is " in lines[2]
    with db.session() as session:
        [upload] = session.scalars(select(Upload).where(Upload.ticket_id == ticket.id)).all()
    assert upload.created_at == answer.at and upload.filename == "queue.png"
    [mailed] = customer_mail(db, ticket.number, "reply")
    assert "Attached: queue.png" in mailed.body
    app = create_app(dataclasses.replace(settings, allowed_hosts=("testserver",)), run_outbox=False)
    token = links.status_token(settings, reload(db, ticket.number))
    with TestClient(app) as client:
        page = client.get(f"/tickets/{ticket.number}", params={"token": token}).text
        found = re.search(r'<li class="event-reply">.*?</li>', page, re.S)
        assert found, page
        link = re.search(r'href="([^"]+)" download>queue.png</a>', found.group(0))
        assert link and page.count("download>queue.png<") == 1  # beside the reply only
        assert client.get(html.unescape(link.group(1))).content == picture


@pytest.mark.parametrize(
    ("kind", "note", "moment", "linked"),
    [
        ("reply", "Here.\n\nAttached: a.png", 0, True),
        ("comment", "Attached: a.png", 0, True),
        ("reply", "Attached: b.png", 0, False),  # another file of that moment
        ("reply", "Attached: a.png", 1, False),  # a file of another moment
        ("status", "Attached: a.png", 0, False),  # not an event that brings files
        ("reply", "Not attached: a.png (too big)", 0, False),
    ],
)
def test_files_are_put_beside_the_event_they_came_with(
    kind: str, note: str, moment: int, linked: bool
) -> None:
    at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    entry = ticket_history.Entry(at + dt.timedelta(seconds=moment), kind, "", note)
    file = dataclasses.make_dataclass("File", ["filename", "created_at"])("a.png", at)
    assert ticket_history.files_by_entry([entry], [file]) == [[file] if linked else []]


def wait_for(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s")


def test_the_running_portal_delivers_and_reads_rt_by_itself(
    world: dict[str, Any], policy: Policy, rt_server: RTServer, demo_build: Path
) -> None:
    """The outbox loop of the app delivers to RT and polls it every
    PORTAL_HELPDESK_POLL seconds."""
    settings = settings_for(world["dir"], rt_server.url, build_dir=demo_build, helpdesk_poll=0.5)
    with running_portal(settings) as app:
        db: Database = app.state.db
        ticket = file_ticket(db, policy, settings)
        app.state.outbox_wake.set()
        rt_id = wait_for(lambda: reload(db, ticket.number).helpdesk_id)
        with rt_server.admin() as admin:
            answer = {"Content": "Mail flows again.", "ContentType": "text/plain"}
            assert admin.post(f"ticket/{rt_id}/correspond", json=answer).status_code == 201
        wait_for(lambda: [e for e in events(db, ticket.id) if e.kind == "reply"])
        wait_for(lambda: reload(db, ticket.number).status == "in_progress")


def test_two_workers_delivering_one_ticket_make_one_rt_ticket(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    """Two portal workers share the outbox: one claims the ticket's "filed" row while the
    other claims the customer's addition of the same ticket. Their look-ups before
    creating are made to meet at RT (the proxy holds the first until the second comes),
    so without an order between the rows both would find nothing and create a ticket
    each. The addition waits for its ticket instead: one RT ticket, the addition on it
    once."""
    db = world["db"]
    with CuttingProxy(rt_server.port, hold_lookups=2, hold_seconds=3) as proxy:
        settings = settings_for(world["dir"], f"http://127.0.0.1:{proxy.port}")
        ticket = file_ticket(db, policy, settings)
        text = "It also fails from the office network."
        updates.add_comment(db, settings, ticket.number, text, now=dt.datetime.now(dt.UTC))
        workers = [outbox.deliverer_for(db, settings, policy) for _ in range(2)]

        def drain(deliverer: outbox.Deliverer) -> None:
            while sum(vars(deliverer.deliver_due(later(), limit=1)).values()):
                pass

        threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        # the addition that had to wait goes out at its retry
        workers[0].deliver_due(later(8000))
        workers[1].deliver_due(later(8000))
    rows = helpdesk_rows(db, ticket.number)
    assert [r.delivered_at is not None for r in rows] == [True, True], [r.last_error for r in rows]
    [created] = rt_tickets_with(rt_server, ticket.number)
    assert reload(db, ticket.number).helpdesk_id == created
    helpdesk = outbox.deliverer_for(db, world["settings"], policy).connectors["rt"]
    assert isinstance(helpdesk, RTHelpdesk)  # straight to RT (the proxy is closed)
    with rt_server.admin() as admin:
        items = admin.get(f"ticket/{created}/history", params={"fields": "Type,Data"}).json()
    added = [
        helpdesk.transaction_text(str(i["id"])).strip()
        for i in items["items"]
        if i["Type"] == "Correspond" and i["Data"].strip() == ADDITION_SUBJECT
    ]
    assert added == [text]


def test_an_rt_auth_token_a_queue_without_fields_and_no_promised_time(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    """PORTAL_HELPDESK_TOKEN as an RT auth token (RT 5's own, made for the portal user);
    a queue that has none of the custom fields still gets the ticket (without them);
    a plan that promises no response time gives no Due."""
    db = world["db"]
    token = rt_server.auth_token(PORTAL_USER)
    assert ":" not in token  # a token, not user:password
    settings = settings_for(
        world["dir"],
        rt_server.url,
        helpdesk=f"rt+{rt_server.url}/?queue={SUPPORT_QUEUE}&queue.mail-server-down=Billing",
        helpdesk_token=token,
    )
    ticket = file_ticket(db, policy, settings)
    with db.session() as session:  # as filing leaves it when the plan promises no time
        stored = session.scalars(select(Ticket).where(Ticket.number == ticket.number)).one()
        stored.due_at = None
    assert outbox.deliverer_for(db, settings, policy).deliver_due(later()).failed == 0
    rt_id = reload(db, ticket.number).helpdesk_id
    assert rt_id
    with rt_server.admin() as admin:
        made = admin.get(f"ticket/{rt_id}").json()
        queue = admin.get(made["Queue"]["_url"].split("/REST/2.0/")[1]).json()
        creator = admin.get(made["Creator"]["_url"].split("/REST/2.0/")[1]).json()
    assert queue["Name"] == "Billing"
    assert creator["Name"] == PORTAL_USER  # authenticated by the token
    assert made["CustomFields"] == []
    assert parse_rt_time(made["Due"]) is None  # RT's "not set"
    # a wrong token is refused, and the row is kept for a retry
    bad = settings_for(world["dir"], rt_server.url, helpdesk_token="1-1-0123456789abcdef")
    again = file_ticket(db, policy, bad)
    assert outbox.deliverer_for(db, bad, policy).deliver_due(later()).failed >= 1
    [row] = helpdesk_rows(db, again.number)
    assert row.delivered_at is None and "401" in row.last_error


def test_two_workers_polling_at_once_apply_each_change_once(
    world: dict[str, Any], policy: Policy, rt_server: RTServer
) -> None:
    db, settings = world["db"], world["settings"]
    ticket, helpdesk = delivered(world, policy)
    sync.poll(db, policy, settings, helpdesk)
    with rt_server.admin() as admin:
        for text in ("First answer.", "Second answer."):
            reply = {"Content": text, "ContentType": "text/plain"}
            assert admin.post(f"ticket/{ticket.helpdesk_id}/correspond", json=reply).status_code
    pollers = [outbox.deliverer_for(db, settings, policy).connectors["rt"] for _ in range(2)]
    reports: list[sync.SyncReport] = []
    start = threading.Barrier(2)

    def run(poller: Any) -> None:
        start.wait(10)
        reports.append(sync.poll(db, policy, settings, poller))

    threads = [threading.Thread(target=run, args=(p,)) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(r.replies for r in reports) == 2 and len(reports) == 2
    replies = [e.note for e in events(db, ticket.id) if e.kind == "reply"]
    assert replies == ["First answer.", "Second answer."]
    assert len(customer_mail(db, ticket.number, "reply")) == 2


def test_an_rt_scrip_makes_the_portal_read_rt_now(
    policy: Policy, rt_server: RTServer, demo_build: Path, tmp_path: Path
) -> None:
    """docs/helpdesks.md's scrip, installed in the real RT, POSTs to a real portal
    (uvicorn) that would otherwise read RT only once an hour: the reply reaches the
    ticket at once. Unsigned or wrongly signed: 401; without the secret: 404."""
    secret = "scrip-secret"
    port = free_port()
    settings = settings_for(tmp_path, rt_server.url, build_dir=demo_build)
    db = Database(settings.database_url)
    db.upgrade()
    assert not accounts.import_file(db, policy, EXAMPLES / "accounts.yaml").errors
    env = {
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_UPLOAD_DIR": str(settings.upload_dir),
        "PORTAL_BUILD_DIR": str(demo_build),
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_POLICY_FILE": str(CONTENT / "policy.yaml"),
        "PORTAL_SECRET_KEY": settings.secret_key,
        "PORTAL_HELPDESK": settings.helpdesk,
        "PORTAL_HELPDESK_TOKEN": settings.helpdesk_token,
        "PORTAL_HELPDESK_POLL": "3600",
        "PORTAL_HELPDESK_SECRET": secret,
    }
    rt_server.add_scrip(SUPPORT_QUEUE, scrip_code(f"http://127.0.0.1:{port}", secret))
    try:
        with start_server(env, port=port, timeout=60) as portal:
            ticket = file_ticket(db, policy, settings)
            rt_id = wait_for(lambda: reload(db, ticket.number).helpdesk_id, timeout=60)
            with rt_server.admin() as admin:
                answer = {"Content": "Fixed, as the scrip told you.", "ContentType": "text/plain"}
                assert admin.post(f"ticket/{rt_id}/correspond", json=answer).status_code == 201
            wait_for(lambda: [e for e in events(db, ticket.id) if e.kind == "reply"])
            body = b'{"ticket": 1}'
            good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            with httpx.Client(base_url=portal.url, trust_env=False) as client:
                for headers in ({}, {"X-Portal-Signature": good[:-1] + "0"}):
                    refused = client.post("/api/helpdesk/rt", content=body, headers=headers)
                    assert refused.status_code == 401
                    assert "X-Portal-Signature" in refused.json()["error"]
                accepted = client.post(
                    "/api/helpdesk/rt", content=body, headers={"X-Portal-Signature": good}
                )
                assert accepted.status_code == 202 and accepted.json() == {"poll": "queued"}
    finally:
        rt_server.disable_scrips()
    replies = [e.note for e in events(db, ticket.id) if e.kind == "reply"]
    assert replies == ["Fixed, as the scrip told you."]  # once
    db.dispose()
    off = create_app(dataclasses.replace(settings, allowed_hosts=("testserver",)), run_outbox=False)
    headers = {"X-Portal-Signature": good}
    assert (
        TestClient(off).post("/api/helpdesk/rt", content=body, headers=headers).status_code == 404
    )
