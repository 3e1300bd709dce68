"""Issue #10, round 2 hardening: database faults heal without a restart (item 6), the
wizard's session id rotates (7), no-store on personal pages and bidi-free attachment
names (10), and uploads cannot fill the disk (11). Real SQLite files on real
(read-only, full) mounts, a real PostgreSQL role made read-only, real uvicorn."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select, text, update
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.app import create_app
from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Draft, PendingRequest, Ticket, Upload
from portal.tickets import tokens
from portal.tickets.filing import file_pending
from portal.wizard import drafts, uploads
from tests.support.apps import running_portal
from tests.support.databases import PG_BASE as PG_ADMIN
from tests.support.databases import count, migrate
from tests.support.forms import TOKEN, csrf, post
from tests.support.paths import CONTENT
from tests.support.servers import start_server

COOKIE = "portal_session"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
DETAILS = {  # website-not-loading: url, error_message, occurred_at, doing, screenshot
    "detail_url": "https://example.com/",
    "detail_error_message": "500",
    "detail_occurred_at": "2026-01-05T09:40",
    "detail_doing": "opening the home page",
    "priority": "high",
}


def settings_for(base: Settings, **changes: Any) -> Settings:
    return Settings.from_env(**{**base.__dict__, **changes})


CHOICE = {
    "request_type": "website-not-loading",
    "account": "HH-10234",
    "email": "victim@lindqvist.example",
    "plan": "standard",
    "role": "primary",
    "tz": "Europe/Berlin",
}


def to_details(
    client: httpx.Client,
    *,
    text_: str = "the website shows an error",
    email: str = "victim@lindqvist.example",
    account: str = "HH-10234",
    request_type: str = "website-not-loading",
) -> None:
    assert post(client, "/request", {"text": text_}).status_code == 303
    choice = {**CHOICE, "request_type": request_type, "account": account, "email": email}
    chosen = post(client, "/request/choose", choice)
    assert chosen.status_code == 303, chosen.text
    assert post(client, "/request/coverage", {}).status_code == 303


def count_drafts(url: str) -> int:
    db = Database(url)
    try:
        return count(db, Draft)
    finally:
        db.dispose()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- item 6: database faults -------------------------------------------------------------


@contextlib.contextmanager
def read_only_mount(directory: Path) -> Iterator[Callable[[], None]]:
    """``directory`` bind-mounted on itself read-only: even root cannot write there (a
    chmod would not stop root, who runs these tests). Yields the function that makes it
    writable again, as an operator fixing the volume would."""
    directory.mkdir(parents=True, exist_ok=True)
    bound = subprocess.run(["mount", "--bind", str(directory), str(directory)], check=False)
    if bound.returncode != 0:
        pytest.skip("making a directory read-only for root needs mount (CAP_SYS_ADMIN)")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        with pytest.raises(OSError):
            (directory / "probe").write_text("x")

        def writable() -> None:
            subprocess.run(["mount", "-o", "remount,bind,rw", str(directory)], check=True)

        yield writable
    finally:
        if subprocess.run(["umount", str(directory)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(directory)], check=False)


def keep_open(path: Path) -> Callable[[], None]:
    """Another process (a CLI command, a second worker) holding the database open: its
    WAL files stay, so the portal opens the file read-only instead of failing. Returns
    the function that ends that process."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute('select count(*) from alembic_version').fetchall(); "
        "print('ready', flush=True); sys.stdin.read()"
    )
    keeper = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert keeper.stdout is not None and keeper.stdout.readline().strip() == "ready"

    def stop() -> None:
        keeper.communicate(timeout=10)  # closes stdin: the keeper exits

    return stop


def health(client: TestClient) -> tuple[int, dict[str, Any]]:
    r = client.get("/healthz")
    return r.status_code, r.json()


@pytest.mark.parametrize("state", ["missing", "closed", "open-elsewhere"])
def test_sqlite_read_only_at_start_works_on_the_next_request_once_writable(
    demo_settings: Settings, tmp_path: Path, state: str
) -> None:
    """The database directory is a read-only mount at start: the portal starts anyway,
    /healthz says the database is down (503) while the index is fine, writes answer 503;
    once the mount is writable the very next request that writes succeeds, no restart."""
    directory = tmp_path / "db"
    directory.mkdir()
    path = directory / "portal.db"
    if state != "missing":
        migrate(f"sqlite:///{path}")
    settings = settings_for(
        demo_settings, database_url=f"sqlite:///{path}", upload_dir=tmp_path / "uploads"
    )
    with contextlib.ExitStack() as stack:
        stop_keeper = keep_open(path) if state == "open-elsewhere" else None
        writable = stack.enter_context(read_only_mount(directory))
        if stop_keeper is not None:
            stack.callback(stop_keeper)  # before the unmount
        app = create_app(settings, run_outbox=False)
        with TestClient(app) as client:
            status, body = health(client)
            assert status == 503
            assert body["status"] == "degraded" and body["index"] == "ok"
            # a file another process holds open is opened read-only; otherwise not at all
            opened = "read-only" if state == "open-elsewhere" else "cannot open the database file"
            assert body["database"] == opened
            page = client.get("/request")  # records an analytics event: a write
            assert page.status_code == 503 and "nothing was saved" in page.text
            # a request that only reads: works when the file could be opened at all,
            # and leaves its (read-only) connection behind
            reading = client.get("/request/choose", follow_redirects=False).status_code
            assert reading == (303 if state == "open-elsewhere" else 503)
            writable()
            page = client.get("/request")  # the next request after the fix
            assert page.status_code == 200
            token = TOKEN.search(page.text)
            assert token
            saved = client.post(
                "/request",
                data={"text": "my mail is broken", "csrf_token": token.group(1)},
                follow_redirects=False,
            )
            assert saved.status_code == 303
            assert health(client) == (
                200,
                {"status": "ok", "database": "ok", "index": "ok", "articles": body["articles"]},
            )
        assert count_drafts(settings.database_url) == 1


@pytest.fixture
def pg_role() -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A PostgreSQL role and schema of its own; yields the portal's URL and a switch for
    ``default_transaction_read_only`` on the role (new sessions only, as in production
    when a primary is demoted or an operator sets the database read-only)."""
    name = "ro_" + secrets.token_hex(5)
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")

    def read_only(on: bool) -> None:
        with admin.connect() as conn:
            if on:
                conn.execute(text(f"ALTER ROLE {name} SET default_transaction_read_only = on"))
            else:
                conn.execute(text(f"ALTER ROLE {name} RESET default_transaction_read_only"))

    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {name} LOGIN"))
            conn.execute(text(f"CREATE SCHEMA {name} AUTHORIZATION {name}"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield (
            f"postgresql+psycopg://{name}@127.0.0.1:5432/test?options=-csearch_path%3D{name}",
            read_only,
        )
    finally:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"),
                {"n": name},
            )
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
            conn.execute(text(f"DROP ROLE IF EXISTS {name}"))
        admin.dispose()


@pytest.mark.parametrize("migrated", [False, True])
def test_postgresql_read_only_at_start_works_on_the_next_request_once_writable(
    demo_settings: Settings,
    tmp_path: Path,
    pg_role: tuple[str, Callable[[bool], None]],
    migrated: bool,
) -> None:
    url, read_only = pg_role
    if migrated:
        migrate(url)
    read_only(True)
    settings = settings_for(demo_settings, database_url=url, upload_dir=tmp_path / "uploads")
    app = create_app(settings, run_outbox=False)
    with TestClient(app) as client:
        status, body = health(client)
        assert (status, body["database"], body["index"]) == (503, "read-only", "ok")
        page = client.get("/request")
        assert page.status_code == 503  # not a 500: a read-only transaction is "down"
        reading = client.get("/request/choose", follow_redirects=False).status_code
        assert reading == (303 if migrated else 503)  # reads work once the tables exist
        read_only(False)
        page = client.get("/request")  # pooled sessions were read-only: reconnected
        assert page.status_code == 200
        token = TOKEN.search(page.text)
        assert token
        saved = client.post(
            "/request",
            data={"text": "my mail is broken", "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert health(client)[0] == 200


def test_healthz_reports_a_full_disk(demo_settings: Settings, tmp_path: Path) -> None:
    """A small real filesystem (tmpfs) for the database, filled up: /healthz says "disk
    full" with 503 although the index is fine; freeing space makes it ok again."""
    directory = tmp_path / "small"
    directory.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(directory)], check=False
    )
    if mounted.returncode != 0:
        pytest.skip("a small filesystem needs mount (CAP_SYS_ADMIN)")
    try:
        settings = settings_for(
            demo_settings,
            database_url=f"sqlite:///{directory}/portal.db",
            upload_dir=tmp_path / "uploads",
        )
        app = create_app(settings, run_outbox=False)
        with TestClient(app) as client:
            assert health(client)[0] == 200
            filler = directory / "filler"
            with filler.open("wb") as out, contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            status, body = health(client)
            assert (status, body["database"], body["index"]) == (503, "disk full", "ok")
            filler.unlink()
            assert health(client)[0] == 200
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def test_healthz_reports_a_missing_index_and_an_unreachable_database_apart(
    demo_settings: Settings, tmp_path: Path
) -> None:
    settings = settings_for(
        demo_settings,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1",
        build_dir=tmp_path / "no-build",
    )
    app = create_app(settings, build_if_missing=False, run_outbox=False)
    with TestClient(app) as client:  # starts although the database is unreachable
        status, body = health(client)
        assert status == 503
        assert body == {
            "status": "degraded",
            "database": "unreachable",
            "index": "missing",
            "articles": 0,
        }


# --- item 7: session fixation ------------------------------------------------------------


def test_a_planted_session_cookie_does_not_show_the_victims_draft(
    portal: tuple[Starlette, Settings],
) -> None:
    """The attacker gets a session cookie and plants it in the victim's browser. Once
    the victim has entered an e-mail address and account, the attacker's cookie shows
    nothing of the draft; after sending, the victim's own earlier cookie is dead too."""
    app, _ = portal
    with TestClient(app) as attacker, TestClient(app) as victim:
        attacker.get("/request")
        planted = attacker.cookies[COOKIE]
        victim.cookies.set(COOKIE, planted, domain="testserver.local")
        to_details(victim, text_="our shop secret-project-x is down")
        assert victim.cookies[COOKIE] != planted  # rotated at the choose step
        shot = post(
            victim,
            "/request/details",
            DETAILS,
            files={"detail_screenshot": ("payroll-2026.png", PNG, "image/png")},
        )
        assert shot.status_code == 303
        assert "victim@lindqvist.example" in victim.get("/request/review").text
        for url in ("/request", "/request/choose", "/request/details", "/request/review"):
            page = attacker.get(url)
            for secret in ("secret-project-x", "victim@lindqvist.example", "payroll-2026"):
                assert secret not in page.text, (url, secret)
        before_sending = victim.cookies[COOKIE]
        sent = post(victim, "/request/review", {})
        assert sent.status_code == 200 and "Check your email" in sent.text
        assert victim.cookies[COOKIE] != before_sending  # rotated after sending
        assert "set-cookie" in sent.headers


def test_rotation_keeps_the_draft_and_changes_the_csrf_token(
    portal: tuple[Starlette, Settings],
) -> None:
    app, _ = portal
    with TestClient(app) as client:
        assert post(client, "/request", {"text": "the website shows an error"}).status_code == 303
        old_cookie, old_csrf = client.cookies[COOKIE], csrf(client, "/request/choose")
        to_details(client)
        assert client.cookies[COOKIE] != old_cookie
        assert csrf(client, "/request/details") != old_csrf
        page = client.get("/request/details")
        assert page.status_code == 200  # the draft came along to the new id
        assert "the website shows an error" in client.get("/request/choose").text
        # choosing again for the same person keeps the id; another address rotates it
        same = client.cookies[COOKIE]
        assert post(client, "/request/choose", CHOICE).status_code == 303
        assert client.cookies[COOKIE] == same
        other = {**CHOICE, "email": "someone.else@lindqvist.example"}
        assert post(client, "/request/choose", other).status_code == 303
        assert client.cookies[COOKIE] != same
        assert client.get("/request/coverage").status_code == 200


# --- item 10: no-store on personal pages; bidi controls out of names ----------------------


def test_every_page_with_personal_data_is_no_store(portal: tuple[Starlette, Settings]) -> None:
    app, settings = portal
    with TestClient(app) as client:
        to_details(client, email="anna@lindqvist.example")
        for url in ("/request", "/request/choose", "/request/coverage", "/request/details"):
            r = client.get(url)
            assert r.status_code == 200 and r.headers["cache-control"] == "no-store", url
        refused = post(client, "/request/choose", {"email": "not an address"})  # POST answer
        assert refused.status_code == 422 and refused.headers["cache-control"] == "no-store"
        assert post(client, "/request/details", DETAILS).status_code == 303
        review = client.get("/request/review")
        assert review.headers["cache-control"] == "no-store"
        sent = post(client, "/request/review", {})
        assert sent.status_code == 200 and sent.headers["cache-control"] == "no-store"
        with app.state.db.session() as session:
            pending = session.scalars(
                select(PendingRequest).order_by(PendingRequest.created_at.desc())
            ).first()
            assert pending is not None
            pending_id = pending.id
        token = tokens.make(settings.secret_key, tokens.FILE_REQUEST, pending_id)
        confirm = client.get(f"/request/confirm?token={token}")
        assert confirm.status_code == 200 and confirm.headers["cache-control"] == "no-store"
        filed = client.post(
            "/request/confirm",
            data={"token": token, "csrf_token": TOKEN.findall(confirm.text)[0]},
        )
        assert filed.status_code == 200 and "T-" in filed.text
        assert filed.headers["cache-control"] == "no-store"  # the status page, just filed
        status_token = re.search(r'name="token" value="([^"]+)"', filed.text)
        number = re.search(r"(T-[0-9A-Z]{4}-[0-9A-Z]{4})", filed.text)
        assert status_token and number
        status = client.get(f"/tickets/{number.group(1)}?token={status_token.group(1)}")
        assert status.status_code == 200 and status.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("invoice\u202efdp.png", "invoicefdp.png"),  # RIGHT-TO-LEFT OVERRIDE
        ("a\u202ab\u202bc\u202cd\u202de.png", "abcde.png"),  # embeddings, pop, LRO
        ("\u2066x\u2067y\u2068z\u2069.png", "xyz.png"),  # isolates
        ("l\u200em\u200fn\u061c.png", "lmn.png"),  # LRM, RLM, ARABIC LETTER MARK
        ("c1\x85\x9b.png", "c1.png"),  # C1 controls (NEL, CSI)
    ],
)
def test_bidi_and_c1_controls_are_stripped_from_display_names(raw: str, shown: str) -> None:
    assert uploads.safe_filename(raw) == shown


def test_an_uploaded_name_with_an_override_is_shown_plainly(
    portal: tuple[Starlette, Settings],
) -> None:
    app, _ = portal
    with TestClient(app) as client:
        to_details(client)
        r = post(
            client,
            "/request/details",
            DETAILS,
            files={"detail_screenshot": ("invoice\u202efdp.png", PNG, "image/png")},
        )
        assert r.status_code == 303
        review = client.get("/request/review").text
        assert "invoicefdp.png" in review and "\u202e" not in review


# --- item 11: uploads cannot fill the disk ----------------------------------------------


def draft_uploads(app: Starlette) -> int:
    return count(app.state.db, Upload)


def test_twenty_uploads_in_one_session_keep_one_file(
    demo_settings: Settings, tmp_path: Path
) -> None:
    """The request type has one file detail: twenty uploads leave one file and one row;
    removing it, changing the request type and starting over leave none."""
    settings = settings_for(
        demo_settings,
        database_url=f"sqlite:///{tmp_path}/portal.db",
        upload_dir=tmp_path / "uploads",
    )
    app = create_app(settings, run_outbox=False)
    with TestClient(app) as client:
        to_details(client)
        for i in range(20):
            r = post(
                client,
                "/request/details",
                DETAILS,
                files={"detail_screenshot": (f"shot{i}.png", PNG + bytes([i]), "image/png")},
            )
            assert r.status_code == 303
        assert len(files_in(settings.upload_dir)) == 1 and draft_uploads(app) == 1
        assert "shot19.png" in client.get("/request/review").text
        removed = post(client, "/request/details", {**DETAILS, "remove_screenshot": "1"})
        assert removed.status_code == 303
        assert files_in(settings.upload_dir) == [] and draft_uploads(app) == 0
        post(client, "/request/details", DETAILS, files={"detail_screenshot": ("a.png", PNG)})
        assert len(files_in(settings.upload_dir)) == 1
        # a request type without a screenshot detail
        other = post(client, "/request/choose", {**CHOICE, "request_type": "email-not-working"})
        assert other.status_code == 303
        assert files_in(settings.upload_dir) == [] and draft_uploads(app) == 0
        to_details(client, text_="the website is down again")
        post(client, "/request/details", DETAILS, files={"detail_screenshot": ("b.png", PNG)})
        assert len(files_in(settings.upload_dir)) == 1
        assert post(client, "/request/restart", {}).status_code == 303
        assert files_in(settings.upload_dir) == [] and draft_uploads(app) == 0


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_twenty_concurrent_uploads_keep_one_file(
    demo_build: Path, tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    """Twenty 1 MB uploads at once from one session against a real uvicorn: one file
    (the one the draft shows) stays on disk."""
    if database == "sqlite":
        url = f"sqlite:///{tmp_path}/portal.db"
    else:
        url = request.getfixturevalue("pg_role")[0]
    upload_dir = tmp_path / "uploads"
    with start_server(
        {
            "PORTAL_DATABASE_URL": url,
            "PORTAL_UPLOAD_DIR": str(upload_dir),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "robust-live",
        }
    ) as server:
        with httpx.Client(base_url=server.url, timeout=30) as first:
            to_details(first)
            cookie = first.cookies[COOKIE]
            token = TOKEN.search(first.get("/request/details").text)
            assert token
        payload = PNG + b"\0" * (1024 * 1024)
        statuses: list[int] = []

        def upload(i: int) -> None:
            with httpx.Client(base_url=server.url, timeout=60, cookies={COOKIE: cookie}) as c:
                r = c.post(
                    "/request/details",
                    data={**DETAILS, "csrf_token": token.group(1)},
                    files={"detail_screenshot": (f"burst{i}.png", payload, "image/png")},
                )
                statuses.append(r.status_code)

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(statuses) == 20 and set(statuses) <= {200, 303}, statuses
        stored = files_in(upload_dir)
        assert len(stored) == 1, stored
        with httpx.Client(base_url=server.url, timeout=30, cookies={COOKIE: cookie}) as c:
            review = c.get("/request/review").text
        db = Database(url)
        with db.session() as session:
            rows = list(session.scalars(select(Upload)))
        db.dispose()
        assert [r.id for r in rows] == stored
        assert rows[0].filename in review


@contextlib.contextmanager
def own_portal(base: Settings, var: Path) -> Iterator[tuple[Starlette, Settings]]:
    """A portal with a database and upload directory of its own, accounts imported."""
    settings = settings_for(
        base,
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        secret_key="robust-tests",
    )
    with running_portal(settings, run_outbox=False) as app:
        yield app, settings


@pytest.fixture(scope="module")
def portal(
    demo_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Starlette, Settings]]:
    with own_portal(demo_settings, tmp_path_factory.mktemp("robust")) as running:
        yield running


def test_prune_removes_orphans_and_keeps_ticket_attachments(
    demo_settings: Settings, tmp_path: Path
) -> None:
    with own_portal(demo_settings, tmp_path) as (app, settings):
        prune_scenario(app, settings)


def prune_scenario(app: Starlette, settings: Settings) -> None:
    db: Database = app.state.db
    policy = app.state.policy.get()
    directory = settings.upload_dir
    now = dt.datetime.now(dt.UTC)
    with TestClient(app) as filer, TestClient(app) as live, TestClient(app) as waiting:
        # a ticket with an attachment
        to_details(filer, email="anna@lindqvist.example")
        post(filer, "/request/details", DETAILS, files={"detail_screenshot": ("t.png", PNG)})
        assert post(filer, "/request/review", {}).status_code == 200
        with db.session() as session:
            pending = session.scalars(
                select(PendingRequest).order_by(PendingRequest.created_at.desc())
            ).first()
            assert pending is not None
            ticket_pending = pending.id
        filing = file_pending(db, policy, settings, ticket_pending, accepted_now=False, now=now)
        assert filing is not None and filing.ticket is not None
        # a request sent but not yet filed: its attachment must stay for the link
        to_details(waiting, email="anna@lindqvist.example")
        post(waiting, "/request/details", DETAILS, files={"detail_screenshot": ("w.png", PNG)})
        assert post(waiting, "/request/review", {}).status_code == 200
        # a draft in progress
        to_details(live)
        post(live, "/request/details", DETAILS, files={"detail_screenshot": ("l.png", PNG)})
    with db.session() as session:
        kept = {u.filename: u.id for u in session.scalars(select(Upload))}
        ticket_ids = set(session.scalars(select(Upload.id).where(Upload.ticket_id.is_not(None))))
    assert {"t.png", "w.png", "l.png"} <= set(kept)
    # orphans: a draft discarded without its uploads (a crash between the two), a stale
    # draft, a file with no row, an interrupted upload
    stale = uploads.store(directory, "stale.png", PNG, max_bytes=10_000)
    with db.session() as session:
        session.add(Draft(id="s" * 40, session_id="gone" * 10, data={}))
    attached, _ = drafts.attach(db, "gone" * 10, "s" * 40, "screenshot", stale)
    assert attached
    with db.session() as session:
        session.execute(
            update(Draft).where(Draft.id == "s" * 40).values(updated_at=now - dt.timedelta(days=2))
        )
    lost = uploads.store(directory, "lost.png", PNG, max_bytes=10_000)
    with db.session() as session:
        session.add(
            Upload(
                id=lost.id,
                draft_id=None,
                filename=lost.filename,
                content_type=lost.content_type,
                size=lost.size,
                sha256=lost.sha256,
            )
        )
    stray = directory / ("x" * 32)
    stray.write_bytes(PNG)
    tmp = directory / f".{'y' * 32}.tmp"
    tmp.write_bytes(PNG)
    fresh = directory / ("z" * 32)  # stored a moment ago, its row not yet written
    fresh.write_bytes(PNG)
    hour_ago = (now - dt.timedelta(hours=1)).timestamp()
    for path in (stray, tmp):
        os.utime(path, (hour_ago, hour_ago))
    report = uploads.prune(
        db,
        directory,
        older_than=dt.timedelta(hours=24),
        verify_max_age=settings.verify_max_age,
        now=now,
    )
    assert (report.drafts, report.uploads, report.files) == (1, 2, 2)
    remaining = set(files_in(directory))
    assert set(kept.values()) <= remaining  # ticket, waiting request and live draft
    assert ticket_ids and ticket_ids <= remaining
    assert not {stale.id, lost.id, stray.name, tmp.name} & remaining
    assert fresh.name in remaining
    fresh.unlink()
    # once the filing link has expired, the unfiled request's attachment goes too;
    # the ticket's stays whatever the age
    later = now + dt.timedelta(seconds=settings.verify_max_age) + dt.timedelta(hours=1)
    report = uploads.prune(
        db,
        directory,
        older_than=dt.timedelta(days=30),
        verify_max_age=settings.verify_max_age,
        now=later,
    )
    assert report.uploads == 1 and kept["w.png"] not in set(files_in(directory))
    assert ticket_ids <= set(files_in(directory))
    assert count(db, Ticket) == 1  # the database of this test alone: the one filed above


def test_prune_cli_and_the_outbox_loop_prune(
    demo_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/portal.db"
    directory = tmp_path / "uploads"
    directory.mkdir()
    migrate(url)
    long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).timestamp()

    def stray(name: str) -> Path:
        path = directory / name
        path.write_bytes(PNG)
        os.utime(path, (long_ago, long_ago))
        return path

    first = stray("a" * 32)
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    monkeypatch.setenv("PORTAL_UPLOAD_DIR", str(directory))
    monkeypatch.setenv("PORTAL_SECRET_KEY", "robust-cli")
    result = CliRunner().invoke(main, ["uploads", "prune", "--older-than", "1"])
    assert result.exit_code == 0, result.output
    assert "1 stray files removed" in result.output and not first.exists()
    # the running portal prunes at start and then every hour
    second = stray("b" * 32)
    settings = settings_for(demo_settings, database_url=url, upload_dir=directory)
    app = create_app(settings)
    with TestClient(app):
        for _ in range(100):
            if not second.exists():
                break
            time.sleep(0.1)
    assert not second.exists()
