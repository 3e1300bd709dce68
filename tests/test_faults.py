"""Faults: kill -9 during a burst of filings, index swaps under search load, a corrupted
index at start, a mail server that refuses. Real processes on 127.0.0.1, bounded."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import re
import shutil
import sqlite3
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kb import layout
from kb.build import build
from kb.search import Searcher
from portal.config import Settings
from portal.db.engine import Database
from portal.directory import importer as accounts
from portal.kb.building import build_options
from portal.tickets import tokens
from portal.tickets.filing import submit
from tests.support.factories import reviewed_draft
from tests.support.paths import CONTENT, EXAMPLES
from tests.support.servers import LiveServer, free_port, start_server

SECRET = "fault-tests"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NUMBER = re.compile(r"(T-[0-9A-Z]{4}-[0-9A-Z]{4})")


class Browser:
    """A tiny cookie-keeping HTTP client (urllib), one per simulated customer."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=20) as r:
            return str(r.read().decode())

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=20) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def start(env: dict[str, str], port: int) -> LiveServer:
    return start_server(env, timeout=60, port=port)


@pytest.fixture
def world(tmp_path: Path, demo_build: Path) -> dict[str, Any]:
    settings = Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=f"sqlite:///{tmp_path}/portal.db",
        secret_key=SECRET,
        allowed_hosts=("127.0.0.1",),
        rate_limit_address=(10_000, 3600),
        rate_limit_client=(10_000, 3600),
    )
    db = Database(settings.database_url)
    db.upgrade()
    from kb.policy import load_policy

    policy, _ = load_policy(CONTENT / "policy.yaml")
    assert policy is not None
    assert not accounts.import_file(db, policy, EXAMPLES / "accounts.yaml").errors
    env = {
        "PORTAL_DATABASE_URL": settings.database_url,
        "PORTAL_BUILD_DIR": str(demo_build),
        "PORTAL_CONTENT_DIR": str(CONTENT),
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_RATE_LIMITS": "10000/3600,10000/3600",
    }
    return {"settings": settings, "db": db, "policy": policy, "env": env, "tmp": tmp_path}


def pending_ids(world: dict[str, Any], count: int) -> list[str]:
    """Reviewed requests waiting for their link, made the way the wizard makes them."""
    data = reviewed_draft().to_json()
    now = dt.datetime.now(dt.UTC)
    for _ in range(count):
        submit(world["db"], world["policy"], world["settings"], data, client="t", now=now)
    from sqlalchemy import select

    from portal.db.models import PendingRequest

    with world["db"].session() as session:
        return list(session.scalars(select(PendingRequest.id).where(PendingRequest.listed)))


def test_kill_9_during_a_burst_loses_no_acknowledged_ticket(world: dict[str, Any]) -> None:
    ids = pending_ids(world, 40)
    server = start(world["env"], free_port())
    acknowledged: list[str] = []
    lock = threading.Lock()

    def customer(pending: list[str]) -> None:
        browser = Browser(server.url)
        try:
            form = CSRF.search(browser.get("/request"))
        except OSError:
            return
        assert form
        csrf = form.group(1)
        for pid in pending:
            token = tokens.make(SECRET, tokens.FILE_REQUEST, pid)
            try:
                status, page = browser.post(
                    "/request/confirm", {"csrf_token": csrf, "token": token}
                )
            except OSError:
                return  # the server died under us: this one was never acknowledged
            if status == 200 and (m := NUMBER.search(page)):
                with lock:
                    acknowledged.append(m.group(1))

    threads = [threading.Thread(target=customer, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with lock:
            if len(acknowledged) >= 10:
                break
        time.sleep(0.01)
    server.kill()  # SIGKILL mid-burst, no shutdown of any kind
    for t in threads:
        t.join(timeout=30)
    assert len(acknowledged) >= 10
    db_path = str(world["tmp"] / "portal.db")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT number FROM tickets")}
        events = conn.execute("SELECT count(*) FROM ticket_events WHERE kind = 'filed'").fetchone()[
            0
        ]
        outbox = conn.execute(
            "SELECT count(*) FROM outbox WHERE purpose = 'confirmation'"
        ).fetchone()[0]
    assert set(acknowledged) <= stored  # every acknowledged ticket survived
    assert events == len(stored) == outbox  # and nothing was half-written
    # the server comes back on the same database and port
    with start(world["env"], server.port) as restarted:
        assert Browser(restarted.url).get("/healthz")


def test_index_swaps_under_search_load(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    settings = Settings.from_env(content_dir=content, build_dir=tmp_path / "build")
    build(build_options(settings))
    searcher = Searcher(lambda: layout.index_dir(settings.build_dir), check_every=0)
    errors: list[str] = []
    empty: list[str] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                result = searcher.search("password")
            except Exception as exc:  # what this test looks for
                errors.append(repr(exc))
                continue
            if result.total == 0:
                empty.append("password")

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    article = content / "articles/accounts-and-access/lost-admin-password.md"
    original = article.read_text()
    try:
        for i in range(8):  # bounded: eight rebuilds, each swapped in while searching
            article.write_text(original + f"\nRevision {i}.\n")
            build(build_options(settings))
            if i % 3 == 2:
                build(build_options(settings, clean=True))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    assert empty == []


def test_corrupted_or_missing_index_is_rebuilt_at_start(
    world: dict[str, Any], tmp_path: Path
) -> None:
    build_dir = tmp_path / "own-build"
    settings = Settings.from_env(content_dir=CONTENT, build_dir=build_dir)
    build(build_options(settings))
    index = layout.index_dir(build_dir)
    assert index is not None
    for segment in index.glob("*.seg"):
        segment.write_bytes(b"garbage")  # corrupt it
    for toc in index.glob("*.toc"):
        toc.write_bytes(b"garbage")
    env = {**world["env"], "PORTAL_BUILD_DIR": str(build_dir)}
    with (
        start(env, free_port()) as server,
        urllib.request.urlopen(server.url + "/api/search?q=password", timeout=10) as r,
    ):
        assert b"lost-admin-password" in r.read()
    generation = layout.current_generation(build_dir)
    assert generation is not None
    shutil.rmtree(generation / "index")
    with (
        start(env, server.port) as server,
        urllib.request.urlopen(server.url + "/healthz", timeout=10) as r,
    ):
        assert b'"ok"' in r.read()


def test_mail_server_that_refuses_keeps_the_mail_queued(world: dict[str, Any]) -> None:
    from aiosmtpd.controller import Controller

    from portal.notify.transport import SmtpMailer
    from portal.tickets import outbox

    class Refuse:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            return "550 mailbox unavailable"

    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with world["db"].session() as session:
            outbox.enqueue_email(session, "x@example.com", "s", "b", purpose="refused")
        deliverer = outbox.Deliverer(
            world["db"],
            SmtpMailer(f"smtp://127.0.0.1:{port}", timeout=3),
            sender="s@example.com",
            webhook_secret="k",
        )
        result = deliverer.deliver_due(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        assert (result.failed, result.delivered) == (1, 0)  # this test's database: one mail
        rows = outbox.pending(world["db"])
        refused = [r for r in rows if r.purpose == "refused"]
        assert refused and "550" in refused[0].last_error and refused[0].delivered_at is None
    finally:
        controller.stop()


def test_slow_mail_server_times_out_and_retries(world: dict[str, Any]) -> None:
    import asyncio

    from aiosmtpd.controller import Controller

    from portal.notify.transport import SmtpMailer
    from portal.tickets import outbox

    class Slow:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(3)
            return "250 OK"

    port = free_port()
    controller = Controller(Slow(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with world["db"].session() as session:
            outbox.enqueue_email(session, "slow@example.com", "s", "b", purpose="slow")
        deliverer = outbox.Deliverer(
            world["db"],
            SmtpMailer(f"smtp://127.0.0.1:{port}", timeout=1),
            sender="s@example.com",
            webhook_secret="k",
        )
        result = deliverer.deliver_due(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
        assert (result.failed, result.delivered) == (1, 0)
        slow = [r for r in outbox.pending(world["db"]) if r.purpose == "slow"]
        assert slow and slow[0].attempts == 1 and slow[0].delivered_at is None
        assert "timed out" in slow[0].last_error  # the 1 s timeout, not the 3 s answer
    finally:
        controller.stop()
