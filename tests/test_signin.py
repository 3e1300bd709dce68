"""Sign-in by e-mailed code (#13): the same answer for every address, codes limited,
single use and expiring, bound to the browser that asked, session ids rotated, several
accounts picked from, sign out here or everywhere. SQLite and PostgreSQL, the real
app with its migrations; the code is read from the outbox table."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.accounts import signin
from portal.config import Settings
from portal.db.engine import Database
from portal.db.models import AuditEntry, CustomerSession, Outbox, SigninRequest
from portal.directory import customer_sessions, importer
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.forms import TOKEN, post
from tests.support.paths import CONTENT
from tests.support.signin import ACCOUNTS_YAML, ask, code_for, link_for, sign_in

ANNA = "anna@lindqvist.example"  # primary contact of HH-10234


@pytest.fixture(params=KINDS, scope="module")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with new_database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def settings(
    database_url: str, demo_build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=database_url,
        upload_dir=tmp_path_factory.mktemp("uploads"),
        secret_key="signin-tests",
        allowed_hosts=("testserver",),
        base_url="https://support.harbor.example/",
        rate_limit_address=(5, 3600),
        rate_limit_client=(20, 3600),
    )


@pytest.fixture(scope="module")
def app(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    with running_portal(settings, run_outbox=False) as application:
        extra = tmp_path_factory.mktemp("accounts") / "accounts.yaml"
        extra.write_text(ACCOUNTS_YAML)
        report = importer.import_file(application.state.db, application.state.policy.get(), extra)
        assert not report.errors, report.errors
        yield application


@pytest.fixture
def db(app: Starlette) -> Database:
    database: Database = app.state.db
    return database


_clients = iter(range(1, 10_000))


def browser(app: Starlette) -> TestClient:
    """A new browser on a client address of its own (the per-client limits)."""
    return TestClient(app, client=(f"10.0.0.{next(_clients)}", 50000))


def _shape(response: httpx.Response, email: str) -> tuple[int, list[str], str]:
    """What an observer sees of an answer: status, header names (with the cookie
    names), and the page with the address, CSRF token and cookie values taken out."""
    headers = sorted(
        f"{k}:{v.split('=', 1)[0]}" if k == "set-cookie" else k
        for k, v in response.headers.multi_items()
        if k not in ("content-length", "date")
    )
    text = TOKEN.sub("csrf", response.text).replace(email, "EMAIL")
    return response.status_code, headers, text


def test_the_answer_is_the_same_for_listed_unlisted_and_unknown(
    app: Starlette, db: Database
) -> None:
    cases = [
        (ANNA, "HH-10234"),  # listed
        ("nobody@lindqvist.example", "HH-10234"),  # not listed on that account
        ("ghost@nowhere.example", "ZZ-99999"),  # no such account
        (ANNA, ""),  # listed, no account given
        ("ghost@nowhere.example", ""),
    ]
    shapes = []
    for email, account in cases:
        before = count(db, SigninRequest)
        with browser(app) as client:
            shapes.append(_shape(ask(client, email, account), email))
        # the same work: a pending sign-in row for every address
        assert count(db, SigninRequest) == before + 1
    assert all(shape == shapes[0] for shape in shapes), [s[:2] for s in shapes]
    assert shapes[0][0] == 200
    # only the listed contact was mailed; the unlisted ones are in the audit log
    assert count(db, Outbox, Outbox.purpose == "signin", Outbox.recipient == ANNA) == 2
    assert count(db, Outbox, Outbox.recipient == "ghost@nowhere.example") == 0
    assert count(db, AuditEntry, AuditEntry.kind == "signin_unlisted") == 3


def test_codes_and_links_are_stored_hashed(app: Starlette, db: Database) -> None:
    with browser(app) as client:
        ask(client, "again@test.example")
    code = code_for(db, "again@test.example")
    token = link_for(db, "again@test.example").split("token=", 1)[1]
    with db.session() as session:
        row = session.scalars(
            select(SigninRequest).where(SigninRequest.email == "again@test.example")
        ).one()
        stored = " ".join(str(v) for v in vars(row).values())
    assert code not in stored and token not in stored


def test_signing_in_rotates_the_session_and_sets_a_fresh_cookie(
    app: Starlette, db: Database, settings: Settings
) -> None:
    with browser(app) as client:
        client.get("/request")
        before = client.cookies.get("portal_session")
        assert client.get("/api/me").status_code == 401
        r = sign_in(client, db, ANNA, "HH-10234")
        assert r.status_code == 303 and r.headers["location"] == "/requests"
        after = client.cookies.get("portal_session")
        token = client.cookies.get(customer_sessions.SESSION_COOKIE)
        assert before and after and before != after  # the anonymous session id rotated
        assert token
        assert "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=lax" in r.headers["set-cookie"].lower()
        me = client.get("/api/me").json()
        assert me["account"] == {"id": "HH-10234", "name": "Lindqvist Webdesign"}
        assert me["role"] == "primary" and me["contact"]["name"] == "Anna Lindqvist"
        # the row holds a hash of the cookie, never the cookie
        assert count(db, CustomerSession, CustomerSession.id == token) == 0
        page = client.get("/requests")
        assert page.status_code == 200 and "Anna Lindqvist" in page.text
        assert "Sign out" in page.text and "My requests" in page.text
        # signing in again gives a new token and ends the one before
        again = post(client, "/signin", {"email": "anna.backup@mail.example", "account": ""})
        assert again.status_code == 200
        code = code_for(db, "anna.backup@mail.example")
        post(client, "/signin/code", {"email": "anna.backup@mail.example", "code": code})
        newer = client.cookies.get(customer_sessions.SESSION_COOKIE)
        assert newer and newer != token
        assert customer_sessions.find(db, settings, token, dt.datetime.now(dt.UTC)) is None
        assert client.get("/api/me").json()["role"] == "secondary"
    with browser(app) as stranger:  # the old anonymous cookie signs nobody in
        stranger.cookies.set("portal_session", before)
        assert stranger.get("/api/me").status_code == 401
        assert "Sign in" in stranger.get("/plans").text


def test_wrong_codes_are_limited_per_address_and_per_pending_sign_in(
    app: Starlette, db: Database, settings: Settings
) -> None:
    email = "brute@test.example"
    with browser(app) as client:
        ask(client, email)
        right = code_for(db, email)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        answers = [post(client, "/signin/code", {"email": email, "code": wrong}) for _ in range(5)]
        assert [a.status_code for a in answers] == [422] * 5
        assert "That code did not work" in answers[0].text
        # the per-address limit (5 an hour) is used up: even the right code is refused
        r = post(client, "/signin/code", {"email": email, "code": right})
        assert r.status_code == 429
        assert client.get("/api/me").status_code == 401
    # the pending sign-in is void after MAX_FAILURES wrong codes, whatever the limits
    now = dt.datetime.now(dt.UTC)
    with browser(app) as client:
        started = signin.start(
            db,
            app.state.policy.get(),
            settings,
            "late@test.example",
            "",
            browser_token="b" * 43,
            client="10.9.9.9",
            now=now,
        )
        assert started.message == signin.SENT
        right = code_for(db, "late@test.example")
        relaxed = replace(settings, rate_limit_address=(1000, 3600))
        for _ in range(signin.MAX_FAILURES):
            result = signin.verify_code(
                db,
                relaxed,
                "late@test.example",
                "000000" if right != "000000" else "111111",
                browser_token="b" * 43,
                client="10.9.9.9",
                now=now,
            )
            assert not result.ok and not result.throttled
        result = signin.verify_code(
            db,
            relaxed,
            "late@test.example",
            right,
            browser_token="b" * 43,
            client="10.9.9.9",
            now=now,
        )
        assert not result.ok and result.problem.startswith("That code did not work")


def test_many_addresses_from_one_client_are_limited_too(app: Starlette) -> None:
    with browser(app) as client:
        answers = [ask(client, f"probe{i}@nowhere.example").status_code for i in range(21)]
    assert answers[:20] == [200] * 20 and answers[20] == 429


def test_expired_and_reused_codes_do_not_sign_in(
    app: Starlette, db: Database, settings: Settings
) -> None:
    policy = app.state.policy.get()
    now = dt.datetime.now(dt.UTC)
    signin.start(
        db,
        policy,
        settings,
        "away@test.example",
        "",
        browser_token="e" * 43,
        client="10.8.8.8",
        now=now,
    )
    code = code_for(db, "away@test.example")
    late = now + dt.timedelta(minutes=signin.CODE_MINUTES, seconds=1)
    expired = signin.verify_code(
        db, settings, "away@test.example", code, browser_token="e" * 43, client="10.8.8.8", now=late
    )
    assert not expired.ok and expired.problem == signin.WRONG.format(minutes=signin.CODE_MINUTES)
    # within the ten minutes it works, once
    first = signin.verify_code(
        db, settings, "away@test.example", code, browser_token="e" * 43, client="10.8.8.8", now=now
    )
    assert first.ok
    again = signin.verify_code(
        db, settings, "away@test.example", code, browser_token="e" * 43, client="10.8.8.8", now=now
    )
    assert not again.ok and again.problem == expired.problem
    # over HTTP: a used code and its link are refused
    with browser(app) as client:
        r = sign_in(client, db, "other@test.example")
        assert r.status_code == 303
        link = link_for(db, "other@test.example")
        code = code_for(db, "other@test.example")
        post(client, "/signout", {})
        reused = post(client, "/signin/code", {"email": "other@test.example", "code": code})
        assert reused.status_code == 422
        assert client.get(link, follow_redirects=False).status_code == 410
        assert client.get("/api/me").status_code == 401


def test_the_link_signs_in_only_in_the_browser_that_asked(app: Starlette, db: Database) -> None:
    email = "dev@lindqvist.example"  # authorised contact of HH-10234
    with browser(app) as asking, browser(app) as other:
        assert ask(asking, email).status_code == 200
        link = link_for(db, email)
        refused = other.get(link, follow_redirects=False)
        assert refused.status_code == 403
        assert "only in the browser where you asked" in refused.text
        assert other.get("/api/me").status_code == 401
        # the code is bound too: typed in the other browser it does not work
        code = code_for(db, email)
        assert post(other, "/signin/code", {"email": email, "code": code}).status_code == 422
        # where it belongs the link still works, once
        ok = asking.get(link, follow_redirects=False)
        assert ok.status_code == 303 and ok.headers["location"] == "/requests"
        assert asking.get("/api/me").json()["contact"]["email"] == email
        assert asking.get(link, follow_redirects=False).status_code == 410


def test_a_contact_of_several_accounts_picks_one(app: Starlette, db: Database) -> None:
    with browser(app) as client:
        ask(client, "multi@test.example")
        r = post(
            client,
            "/signin/code",
            {"email": "multi@test.example", "code": code_for(db, "multi@test.example")},
        )
        assert r.status_code == 200 and "Which account?" in r.text
        assert "Test One" in r.text and "Test Two" in r.text
        assert client.get("/api/me").status_code == 401  # not yet signed in
        picked = post(client, "/signin/pick", {"email": "multi@test.example", "account": "TS-1002"})
        assert picked.status_code == 303
        me = client.get("/api/me").json()
        assert me["account"]["id"] == "TS-1002" and me["role"] == "authorised"
        assert me["plan"]["id"] == "priority"
    # naming the account when asking signs in to it directly (normalised id)
    with browser(app) as client:
        r = sign_in(client, db, "multi@test.example", "ts 1001")
        assert r.status_code == 303
        assert client.get("/api/me").json()["account"]["id"] == "TS-1001"


def test_sign_out_here_or_everywhere(app: Starlette, db: Database, settings: Settings) -> None:
    with browser(app) as one, browser(app) as two, browser(app) as three:
        for client in (one, two, three):
            assert sign_in(client, db, "it@okafor.example").status_code == 303
        assert post(one, "/signout", {}).status_code == 200
        assert one.get("/api/me").status_code == 401
        assert two.get("/api/me").status_code == 200  # only that browser
        page = two.get("/requests")
        assert "Sign out everywhere (2 browsers)" in page.text
        assert post(two, "/signout/everywhere", {}).status_code == 200
        assert two.get("/api/me").status_code == 401
        assert three.get("/api/me").status_code == 401
    assert count(db, CustomerSession, CustomerSession.email == "it@okafor.example") == 0


def test_a_session_lasts_signin_days_and_only_while_the_contact_is_listed(
    app: Starlette, db: Database, settings: Settings
) -> None:
    now = dt.datetime.now(dt.UTC)
    with db.session() as session:
        token = customer_sessions.create(
            session, settings, account_id="HH-30991", email="luis@rivera.example", now=now
        )
    days = dt.timedelta(days=settings.signin_days)
    assert customer_sessions.find(db, settings, token, now + days - dt.timedelta(minutes=1))
    assert customer_sessions.find(db, settings, token, now + days) is None
    # a contact no longer listed signs nobody in
    with db.session() as session:
        token = customer_sessions.create(
            session, settings, account_id="HH-30991", email="gone@rivera.example", now=now
        )
    assert customer_sessions.find(db, settings, token, now) is None


def test_the_form_keeps_what_was_typed_and_says_what_to_fix(app: Starlette) -> None:
    with browser(app) as client:
        r = post(client, "/signin", {"email": "not an address", "account": "HH 10234"})
        assert r.status_code == 422
        assert "Enter the email address listed as a contact" in r.text
        assert 'value="not an address"' in r.text and 'value="HH 10234"' in r.text
        page = client.get("/signin")
        assert re.search(r'<label for="f-email">', page.text)
        assert re.search(r'<label for="f-account">', page.text)
