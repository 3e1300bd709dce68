"""Staff accounts and sign-in against a real SQLite database: one-time set-password
links, argon2 hashes, throttling per account and per client, lockout, TOTP for
admins, sessions rotated at sign-in with an idle timeout, CSRF, no-store pages, and
an audit row for each."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.cli import main
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import Outbox, StaffAudit, StaffSession, StaffUser
from portal.staff import accounts, auth
from portal.tickets import tokens
from tests.support.apps import running_portal
from tests.support.databases import count
from tests.support.staff import (
    CLI,
    PASSWORD,
    add_staff,
    csrf_of,
    link_token,
    sign_in,
    staff_settings,
)

T0 = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings(tmp_path: Path, demo_build: Path) -> Settings:
    return staff_settings(f"sqlite:///{tmp_path}/portal.db", tmp_path, demo_build)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings) -> Iterator[Starlette]:
    with running_portal(settings, run_outbox=False) as application:
        yield application


def actions_of(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(StaffAudit.action).order_by(StaffAudit.id)))


# --- accounts and passwords -------------------------------------------------------------


def test_a_set_password_link_works_once_and_stores_an_argon2_hash(
    db: Database, settings: Settings
) -> None:
    issued = accounts.add(
        db, settings, "Sam@Harbor.example", name="Sam", role="agent", actor=CLI, now=T0
    )
    assert issued.link.startswith("https://support.harbor.example/staff/password?token=")
    token = link_token(issued.link)
    assert accounts.set_password(db, settings, token, "short", "short", now=T0) == {
        "password": "Use at least 12 characters."
    }
    assert "repeat" in accounts.set_password(db, settings, token, PASSWORD, PASSWORD + "x", now=T0)
    assert accounts.set_password(db, settings, token, PASSWORD, PASSWORD, now=T0) == {}
    staff = accounts.by_id(db, issued.staff.id)
    assert staff is not None and staff.email == "sam@harbor.example"
    assert staff.password_hash is not None and staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    with pytest.raises(tokens.TokenError, match="already used"):
        accounts.set_password(db, settings, token, PASSWORD, PASSWORD, now=T0)
    # a newer link replaces an older one
    first = link_token(accounts.reset(db, settings, "sam@harbor.example", actor=CLI, now=T0).link)
    second = link_token(accounts.reset(db, settings, "sam@harbor.example", actor=CLI, now=T0).link)
    with pytest.raises(tokens.TokenError):
        accounts.check_link(db, settings, first)
    assert accounts.check_link(db, settings, second).staff.id == staff.id
    # and a link expires
    old = dataclasses.replace(settings, staff_link_max_age=-1)
    with pytest.raises(tokens.TokenError):
        accounts.check_link(db, old, second)
    assert actions_of(db) == ["staff_added", "password_set", "password_link", "password_link"]


def test_staff_commands_add_list_disable_audit(db: Database, settings: Settings) -> None:
    runner = CliRunner()
    env = settings.to_environ()
    added = runner.invoke(
        main,
        ["staff", "add", "ana@harbor.example", "--name", "Ana Admin", "--role", "admin"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    link = added.output.strip().splitlines()[-1]
    assert "/staff/password?token=" in link
    again = runner.invoke(main, ["staff", "add", "ana@harbor.example", "--name", "Ana"], env=env)
    assert again.exit_code == 1 and "already a staff member" in again.output
    listed = runner.invoke(main, ["staff", "list", "--json"], env=env)
    assert listed.exit_code == 0
    import json

    [row] = json.loads(listed.output)
    assert row["email"] == "ana@harbor.example" and row["role"] == "admin"
    assert row["password_set"] is False
    accounts.set_password(db, settings, link_token(link), PASSWORD, PASSWORD, now=T0)
    token = auth.login(db, settings, "ana@harbor.example", PASSWORD, client="c", now=T0).token
    assert auth.current(db, settings, token, now=T0) is not None
    disabled = runner.invoke(main, ["staff", "disable", "ana@harbor.example"], env=env)
    assert disabled.exit_code == 0, disabled.output
    assert auth.current(db, settings, token, now=T0) is None  # the session ended with it
    assert not auth.login(db, settings, "ana@harbor.example", PASSWORD, client="c", now=T0).token
    audit = runner.invoke(main, ["staff", "audit", "--json"], env=env)
    kinds = [r["action"] for r in json.loads(audit.output)]
    assert kinds[:3] == ["login_failed", "staff_disabled", "login"]
    assert "staff_added" in kinds and "password_set" in kinds
    text = runner.invoke(main, ["staff", "audit"], env=env)
    assert "staff_disabled" in text.output


# --- sign-in: throttle, lockout, TOTP, sessions -----------------------------------------


def test_sign_in_is_throttled_per_account_and_per_client(db: Database, settings: Settings) -> None:
    tight = dataclasses.replace(settings, staff_login_account=(3, 900), staff_login_client=(5, 900))
    add_staff(db, tight, "sam@harbor.example", now=T0)
    for _ in range(3):  # wrong passwords, from different clients: the account's limit
        assert (
            auth.login(
                db, tight, "sam@harbor.example", "wrong password!", client="a", now=T0
            ).status
            == 401
        )
    refused = auth.login(db, tight, "sam@harbor.example", PASSWORD, client="b", now=T0)
    assert refused.token is None and refused.status == 429
    # the window passes: the right password works again
    later = T0 + dt.timedelta(seconds=901)
    assert auth.login(db, tight, "sam@harbor.example", PASSWORD, client="b", now=later).token
    # one client trying many addresses is stopped by the client's limit
    for i in range(5):
        auth.login(db, tight, f"x{i}@harbor.example", "guess guess guess", client="z", now=later)
    assert (
        auth.login(db, tight, "sam@harbor.example", PASSWORD, client="z", now=later).status == 429
    )
    assert "login_throttled" in actions_of(db)


def test_failed_sign_ins_lock_the_account_for_a_while(db: Database, settings: Settings) -> None:
    locking = dataclasses.replace(settings, staff_lockout=(3, 600))
    add_staff(db, locking, "sam@harbor.example", now=T0)
    for _ in range(2):
        assert (
            auth.login(
                db, locking, "sam@harbor.example", "nope nope nope", client="c", now=T0
            ).status
            == 401
        )
    assert auth.login(
        db, locking, "sam@harbor.example", PASSWORD, client="c", now=T0
    ).token  # resets
    for _ in range(3):
        auth.login(db, locking, "sam@harbor.example", "nope nope nope", client="c", now=T0)
    locked = auth.login(db, locking, "sam@harbor.example", PASSWORD, client="c", now=T0)
    # locked, even the right password answers like a wrong one (no staff-address oracle);
    # the owner is told by mail, once
    assert locked.token is None and locked.status == 401 and locked.error == auth.WRONG
    with db.session() as session:
        mails = session.scalars(select(Outbox).where(Outbox.purpose == "staff-locked")).all()
        assert [m.recipient for m in mails] == ["sam@harbor.example"]
        assert "locked until" in mails[0].subject
    after = T0 + dt.timedelta(seconds=601)
    assert auth.login(db, locking, "sam@harbor.example", PASSWORD, client="c", now=after).token
    assert actions_of(db).count("locked") == 1 and "login_locked" in actions_of(db)
    # an unknown address answers like a wrong password
    unknown = auth.login(db, locking, "nobody@harbor.example", PASSWORD, client="c", now=after)
    assert unknown.error == auth.WRONG and unknown.status == 401


def test_admins_need_a_totp_code_when_required(db: Database, settings: Settings) -> None:
    totp = dataclasses.replace(settings, staff_totp=True)
    issued = accounts.add(
        db, totp, "ana@harbor.example", name="Ana", role="admin", actor=CLI, now=T0
    )
    check = accounts.check_link(db, totp, link_token(issued.link))
    assert check.totp_secret and "otpauth://totp/" in check.totp_uri("Harbor")
    code = pyotp.TOTP(check.totp_secret).at(T0)
    token = link_token(issued.link)
    assert "code" in accounts.set_password(
        db, totp, token, PASSWORD, PASSWORD, code="000000", now=T0
    )
    assert accounts.set_password(db, totp, token, PASSWORD, PASSWORD, code=code, now=T0) == {}
    later = T0 + dt.timedelta(minutes=5)
    asked = auth.login(db, totp, "ana@harbor.example", PASSWORD, client="c", now=later)
    assert asked.token is None and asked.needs_code and not asked.error
    wrong = auth.login(
        db, totp, "ana@harbor.example", PASSWORD, code="123456", client="c", now=later
    )
    assert wrong.token is None and wrong.status == 401
    now_code = pyotp.TOTP(check.totp_secret).at(later)
    assert auth.login(
        db, totp, "ana@harbor.example", PASSWORD, code=now_code, client="c", now=later
    ).token
    # the same code does not work twice
    replay = auth.login(
        db, totp, "ana@harbor.example", PASSWORD, code=now_code, client="c", now=later
    )
    assert replay.token is None
    # agents need no code; without the setting admins need none either
    add_staff(db, totp, "sam@harbor.example", now=T0)
    assert auth.login(db, totp, "sam@harbor.example", PASSWORD, client="c", now=later).token
    assert auth.login(db, settings, "ana@harbor.example", PASSWORD, client="c", now=later).token


def test_sessions_rotate_at_sign_in_and_end_when_idle(db: Database, settings: Settings) -> None:
    add_staff(db, settings, "sam@harbor.example", now=T0)
    first = auth.login(db, settings, "sam@harbor.example", PASSWORD, client="c", now=T0).token
    assert first and auth.current(db, settings, first, now=T0) is not None
    second = auth.login(
        db, settings, "sam@harbor.example", PASSWORD, client="c", old_token=first, now=T0
    ).token
    assert second and second != first
    assert auth.current(db, settings, first, now=T0) is None  # rotated away
    # activity keeps it alive; idleness ends it
    idle = dt.timedelta(minutes=settings.staff_idle_minutes)
    step = T0 + idle - dt.timedelta(minutes=1)
    assert auth.current(db, settings, second, now=step) is not None
    assert auth.current(db, settings, second, now=step + idle - dt.timedelta(minutes=1)) is not None
    assert auth.current(db, settings, second, now=step + 2 * idle) is None
    assert count(db, StaffSession) == 0  # the ended session is gone
    # and no session outlives MAX_SESSION_HOURS, however active
    third = auth.login(db, settings, "sam@harbor.example", PASSWORD, client="c", now=T0).token
    moment = T0
    while moment < T0 + dt.timedelta(hours=auth.MAX_SESSION_HOURS - 1):
        moment += dt.timedelta(minutes=20)
        assert auth.current(db, settings, third, now=moment) is not None
    assert (
        auth.current(db, settings, third, now=T0 + dt.timedelta(hours=auth.MAX_SESSION_HOURS))
        is None
    )


# --- over HTTP ------------------------------------------------------------------------------


def test_the_console_needs_a_session_csrf_and_is_never_cached(app: Starlette) -> None:
    db: Database = app.state.db
    settings: Settings = app.state.settings
    add_staff(db, settings, "sam@harbor.example")
    with TestClient(app) as client:
        anonymous = client.get("/staff", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/staff/login?next=")
        login_page = client.get("/staff/login")
        assert login_page.headers["cache-control"] == "no-store"
        # no CSRF token: refused before anything is checked
        forged = client.post(
            "/staff/login",
            data={"email": "sam@harbor.example", "password": PASSWORD},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        before = client.cookies.get("portal_session")
        wrong = sign_in(client, "sam@harbor.example", "not the password")
        assert wrong.status_code == 401 and "not right" in wrong.text
        assert 'value="sam@harbor.example"' in wrong.text  # what was typed stays
        ok = sign_in(client, "sam@harbor.example")
        assert ok.status_code == 303 and ok.headers["location"] == "/staff"
        cookie = ok.headers.get_list("set-cookie")
        staff_cookie = next(c for c in cookie if c.startswith("portal_staff="))
        assert "HttpOnly" in staff_cookie and "Path=/staff" in staff_cookie
        assert "samesite=strict" in staff_cookie.lower()
        assert client.cookies.get("portal_session") != before  # rotated with the sign-in
        for path in ("/staff", "/staff/login"):
            page = client.get(path)
            assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        # a form without the token is refused even when signed in
        page = client.get("/staff")
        out = client.post("/staff/logout", data={}, follow_redirects=False)
        assert out.status_code == 403
        out = client.post(
            "/staff/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
        )
        assert out.status_code == 303
        assert client.get("/staff", follow_redirects=False).status_code == 303
    assert actions_of(db)[-3:] == ["login_failed", "login", "logout"]


def test_the_set_password_page_over_http(app: Starlette) -> None:
    db: Database = app.state.db
    settings: Settings = app.state.settings
    issued = accounts.add(
        db,
        settings,
        "new@harbor.example",
        name="New Person",
        role="agent",
        actor=CLI,
        now=dt.datetime.now(dt.UTC),
    )
    path = "/" + issued.link.split("/", 3)[3]
    with TestClient(app) as client:
        page = client.get(path)
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "New Person" in page.text
        data = {"csrf_token": csrf_of(page.text), "token": link_token(issued.link)}
        short = client.post("/staff/password", data={**data, "password": "x", "repeat": "x"})
        assert short.status_code == 422 and "at least 12" in short.text
        done = client.post(
            "/staff/password", data={**data, "password": PASSWORD, "repeat": PASSWORD}
        )
        assert done.status_code == 200 and "Your password is set" in done.text
        assert client.get(path).status_code == 410  # used up
        assert sign_in(client, "new@harbor.example").status_code == 303
    with db.session() as session:
        staff = session.scalars(
            select(StaffUser).where(StaffUser.email == "new@harbor.example")
        ).one()
        assert staff.last_login_at is not None


def test_an_ended_session_keeps_what_was_typed(app: Starlette) -> None:
    db: Database = app.state.db
    settings: Settings = app.state.settings
    add_staff(db, settings, "sam@harbor.example")
    with TestClient(app) as client:
        sign_in(client, "sam@harbor.example")
        page = client.get("/staff")
        with db.session() as session:  # the session ends (idle, or signed out elsewhere)
            for row in session.scalars(select(StaffSession)):
                session.delete(row)
        sent = client.post(
            "/staff/tickets/T-AAAA-BBBB/note",
            data={"csrf_token": csrf_of(page.text), "text": "my long careful note"},
            follow_redirects=False,
        )
        assert sent.status_code == 401
        assert "my long careful note" in sent.text and "nothing was changed" in sent.text
