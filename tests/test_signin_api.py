"""The sign-in JSON API (#13), as documented in OpenAPI: POST /api/signin (202 always),
POST /api/signin/verify (200 and the cookie, 401 generic), GET /api/me,
GET /api/me/requests, POST /api/requests while signed in (201, filed at once),
POST /api/signout; JSON bodies only, like POST /api/requests. And the migration 0005
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal.config import Settings
from portal.db.engine import MIGRATIONS, Database
from portal.db.models import Outbox, SigninRequest
from tests.support.apps import running_portal
from tests.support.databases import KINDS, count, new_database_url
from tests.support.paths import CONTENT
from tests.support.signin import code_for

CHIDI = "it@okafor.example"
REQUEST = {
    "text": "a mailbox does not receive mail",
    "request_type": "email-not-working",
    "tz": "Europe/Berlin",
    "priority": "high",
    "details": {
        "mailbox": "info@okafor.example",
        "error_message": "550 mailbox unavailable",
        "occurred_at": "2026-01-05T09:40",
        "doing": "sending a test",
    },
}


@pytest.fixture(scope="module")
def app(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Starlette]:
    var = tmp_path_factory.mktemp("api")
    settings = Settings.from_env(
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        secret_key="signin-api-tests",
        allowed_hosts=("testserver",),
        rate_limit_address=(1000, 3600),
        rate_limit_client=(1000, 3600),
    )
    with running_portal(settings, run_outbox=False) as application:
        yield application


def test_signin_answers_202_for_every_address(app: Starlette) -> None:
    answers = []
    for email in (CHIDI, "nobody@okafor.example", "ghost@nowhere.example"):
        with TestClient(app) as client:
            before = count(app.state.db, SigninRequest)
            r = client.post("/api/signin", json={"email": email, "account": "hh 20417"})
            assert count(app.state.db, SigninRequest) == before + 1
            answers.append(
                (
                    r.status_code,
                    r.json(),
                    sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie")),
                )
            )
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202 and "6-digit code" in answers[0][1]["message"]


def test_sign_in_file_list_and_sign_out(app: Starlette) -> None:
    db = app.state.db
    with TestClient(app) as client:
        assert client.get("/api/me").status_code == 401
        assert client.post("/api/signin", json={"email": CHIDI}).status_code == 202
        wrong = client.post("/api/signin/verify", json={"email": CHIDI, "code": "12345x"})
        unknown = client.post(
            "/api/signin/verify", json={"email": "ghost@nowhere.example", "code": "123456"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()  # generic
        r = client.post("/api/signin/verify", json={"email": CHIDI, "code": code_for(db, CHIDI)})
        assert r.status_code == 200, r.text
        assert "portal_account=" in r.headers["set-cookie"]
        me = client.get("/api/me").json()
        assert me == {
            "contact": {"email": CHIDI, "name": "Chidi Okafor"},
            "account": {"id": "HH-20417", "name": "Okafor Logistics"},
            "plan": {
                "id": "priority",
                "name": "Priority",
                "ends": "2027-06-30",
                "in_force": "priority",
            },
            "role": "primary",
            "version": "5.4",
            "servers": [
                {"name": "web-12", "id": "4711", "owner": "own"},
                {"name": "db-3", "id": "8802", "owner": "upstream"},
            ],
        }
        before = count(db, Outbox, Outbox.purpose == "verify")
        filed = client.post(
            "/api/requests", json={**REQUEST, "plan": "standard", "role": "authorised"}
        )
        assert filed.status_code == 201, filed.text
        number = filed.json()["number"]
        assert filed.json()["url"] == f"/tickets/{number}"
        assert count(db, Outbox, Outbox.purpose == "verify") == before  # no e-mailed link
        rows = client.get("/api/me/requests").json()["requests"]
        assert [r["number"] for r in rows] == [number]
        assert rows[0]["status"] == "open" and rows[0]["first_response_due"]
        # JSON only (the CSRF rule of POST /api/requests): a form body is refused
        form = client.post("/api/signout", data={"everywhere": "true"})
        assert form.status_code == 415
        assert client.post("/api/signout", json={}).status_code == 200
        assert client.get("/api/me").status_code == 401
        assert client.get("/api/me/requests").status_code == 401
    with TestClient(app) as anonymous:  # the anonymous flow is unchanged
        r = anonymous.post(
            "/api/requests",
            json={
                **REQUEST,
                "account": "HH-20417",
                "email": CHIDI,
                "plan": "priority",
                "role": "primary",
            },
        )
        assert r.status_code == 202


def test_an_authorised_contact_is_refused_a_restricted_type(app: Starlette) -> None:
    db = app.state.db
    email = "ops1@okafor.example"
    with TestClient(app) as client:
        client.post("/api/signin", json={"email": email})
        r = client.post("/api/signin/verify", json={"email": email, "code": code_for(db, email)})
        assert r.status_code == 200
        refused = client.post(
            "/api/requests",
            json={**REQUEST, "request_type": "contact-change", "details": {"description": "x"}},
        )
        assert refused.status_code == 422
        assert "Chidi Okafor (primary contact)" in refused.json()["fields"]["request_type"]


def test_the_operations_are_in_openapi(app: Starlette) -> None:
    with TestClient(app) as client:
        paths = client.get("/api/openapi.json").json()["paths"]
    assert (
        set(paths["/api/signin"]) == {"post"} and "202" in paths["/api/signin"]["post"]["responses"]
    )
    verify = paths["/api/signin/verify"]["post"]["responses"]
    assert {"200", "401", "409"} <= set(verify)
    assert "get" in paths["/api/me"] and "get" in paths["/api/me/requests"]
    assert "post" in paths["/api/signout"]
    assert "201" in paths["/api/requests"]["post"]["responses"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_migration_adds_and_removes_the_tables(kind: str, tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    with new_database_url(kind, tmp_path) as url:
        database = Database(url)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))

        def run(step: str, target: str) -> set[str]:
            with database.engine.begin() as connection:
                config.attributes["connection"] = connection
                getattr(command, step)(config, target)
            return set(inspect(database.engine).get_table_names())

        before = run("upgrade", "0004")
        assert "signin_requests" not in before and "customer_sessions" not in before
        after = run("upgrade", "0005")
        assert {"signin_requests", "customer_sessions"} <= after
        columns = {c["name"] for c in inspect(database.engine).get_columns("signin_requests")}
        assert {"code_hash", "link_hash", "browser", "failures", "expires_at"} <= columns
        assert run("downgrade", "0004") == before
        database.upgrade()  # and on to the head
        assert {"signin_requests", "customer_sessions"} <= set(
            inspect(database.engine).get_table_names()
        )
        database.dispose()
